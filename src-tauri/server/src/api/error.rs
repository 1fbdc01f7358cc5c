//! The one place errors become HTTP responses: `{code, message, field?}`.
//! Internal details are logged here once and never sent.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, OptionalFromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use tracing::error;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    field: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// A bad value in `field`; the message says what is expected.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            format!("{field}: {}", message.into()),
        );
        e.field = Some(field.to_owned());
        e
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "missing or wrong access token: send `Authorization: Bearer <token>` (the token is in the data directory's api-token file) or open the link Peregrine printed at start",
        )
    }

    /// Logs the cause once; the client gets a generic sentence.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong inside Peregrine; the log has the details",
        )
    }

    fn from_json(rejection: JsonRejection) -> Self {
        let text = rejection.body_text();
        let detail = text
            .rsplit_once("target type: ")
            .map(|(_, d)| d)
            .unwrap_or(&text);
        let field = quoted_field(detail).or_else(|| path_field(detail));
        match field {
            Some(field) => Self::invalid(&field, detail.to_owned()),
            None => Self::invalid("body", format!("must be a JSON object ({detail})")),
        }
    }
}

/// serde's "missing field `url`" / "unknown field `foo`".
fn quoted_field(detail: &str) -> Option<String> {
    let start = detail.find("field `")? + "field `".len();
    let len = detail[start..].find('`')?;
    Some(detail[start..start + len].to_owned())
}

/// serde_path_to_error's "detect_fps: invalid type …".
fn path_field(detail: &str) -> Option<String> {
    let (path, _) = detail.split_once(": ")?;
    let ok = !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    ok.then(|| path.to_owned())
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            code: self.code,
            message: &self.message,
            field: self.field.as_deref(),
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<peregrine_store::StoreError> for ApiError {
    fn from(e: peregrine_store::StoreError) -> Self {
        Self::internal(e)
    }
}

/// `Json` whose rejections are `ApiError`s naming the field.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::from_json(rejection)),
        }
    }
}

/// An optional body: none when the request has no JSON content type.
impl<S, T> OptionalFromRequest<S> for ApiJson<T>
where
    Json<T>: OptionalFromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        match <Json<T> as OptionalFromRequest<S>>::from_request(req, state).await {
            Ok(value) => Ok(value.map(|Json(v)| Self(v))),
            Err(rejection) => Err(ApiError::from_json(rejection)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_field_in_serde_messages() {
        assert_eq!(
            quoted_field("missing field `url` at line 1 column 2").as_deref(),
            Some("url")
        );
        assert_eq!(
            path_field("detect_fps: invalid type: string").as_deref(),
            Some("detect_fps")
        );
        assert_eq!(path_field("expected value at line 1 column 1"), None);
    }
}
