//! `/api/v1/webhooks`: where new alerts are POSTed (JSON), and the log of
//! every delivery attempt. `POST /api/v1/webhooks/{id}/test` sends a test
//! alert right away.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use peregrine_engine::redact_url;
use peregrine_store::{DeliveryRow, WebhookRow};
use serde::{Deserialize, Serialize};
use url::Url;

use super::cameras::{check_name, now_us};
use super::error::{ApiError, ApiJson};
use super::{parse_id, rfc3339_micros, AppState};

const LOG_LIMIT: i64 = 100;

#[derive(Serialize)]
pub struct WebhookView {
    id: i64,
    name: String,
    /// Shown without any password it may carry.
    url: String,
    enabled: bool,
    created_at: String,
}

impl From<&WebhookRow> for WebhookView {
    fn from(w: &WebhookRow) -> Self {
        Self {
            id: w.id,
            name: w.name.clone(),
            url: redact_url(&w.url),
            enabled: w.enabled,
            created_at: rfc3339_micros(w.created_at),
        }
    }
}

#[derive(Serialize)]
pub struct DeliveryView {
    alert_id: Option<i64>,
    attempt: i64,
    at: String,
    ok: bool,
    status: Option<i64>,
    error: String,
}

impl From<&DeliveryRow> for DeliveryView {
    fn from(d: &DeliveryRow) -> Self {
        Self {
            alert_id: d.alert_id,
            attempt: d.attempt,
            at: rfc3339_micros(d.at),
            ok: d.ok,
            status: d.status,
            error: d.error.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
}

pub async fn list(State(s): State<AppState>) -> Result<Json<Vec<WebhookView>>, ApiError> {
    Ok(Json(
        s.store
            .webhooks()
            .await?
            .iter()
            .map(WebhookView::from)
            .collect(),
    ))
}

pub async fn create(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<WebhookInput>,
) -> Result<(StatusCode, Json<WebhookView>), ApiError> {
    let name = check_name(body.name.as_deref().unwrap_or_default())?;
    let url = check_url(body.url.as_deref().unwrap_or_default())?;
    let row = s
        .store
        .insert_webhook(&name, &url, body.enabled.unwrap_or(true), now_us())
        .await?;
    Ok((StatusCode::CREATED, Json(WebhookView::from(&row))))
}

pub async fn update(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<WebhookInput>,
) -> Result<Json<WebhookView>, ApiError> {
    let row = find(&s, &id).await?;
    let name = body
        .name
        .map(|n| check_name(&n))
        .transpose()?
        .unwrap_or(row.name);
    let url = body
        .url
        .map(|u| check_url(&u))
        .transpose()?
        .unwrap_or(row.url);
    let updated = s
        .store
        .update_webhook(row.id, &name, &url, body.enabled.unwrap_or(row.enabled))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no webhook with id {}", row.id)))?;
    Ok(Json(WebhookView::from(&updated)))
}

pub async fn remove(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let row = find(&s, &id).await?;
    s.store.delete_webhook(row.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn deliveries(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    let row = find(&s, &id).await?;
    Ok(Json(
        s.store
            .deliveries(row.id, LOG_LIMIT)
            .await?
            .iter()
            .map(DeliveryView::from)
            .collect(),
    ))
}

/// Sends a test alert now (one attempt, logged like any other) and says how it went.
pub async fn send_test(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DeliveryView>, ApiError> {
    let row = find(&s, &id).await?;
    let body = serde_json::json!({"type": "test", "message": "A test from Peregrine: this webhook works."});
    let attempt = crate::delivery::attempt(&s, &row, None, 1, &body).await;
    Ok(Json(DeliveryView::from(&attempt)))
}

/// http(s) only, and no password in the URL (it would be shown and logged).
fn check_url(raw: &str) -> Result<String, ApiError> {
    let url = Url::parse(raw.trim()).map_err(|_| {
        ApiError::invalid(
            "url",
            "must be a full URL like http://192.168.1.5:8123/hook",
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ApiError::invalid(
            "url",
            "must start with http:// or https:// and name a host",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ApiError::invalid(
            "url",
            "must not carry a username or password: put a token in the path or query instead",
        ));
    }
    Ok(url.to_string())
}

async fn find(s: &AppState, raw: &str) -> Result<WebhookRow, ApiError> {
    let id = parse_id(raw)?;
    s.store
        .webhook(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no webhook with id {id}")))
}
