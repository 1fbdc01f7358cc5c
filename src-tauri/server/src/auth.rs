//! The one access layer every route passes through.
//!
//! The API answers only on 127.0.0.1 and only to requests that carry this
//! launch's secret: `Authorization: Bearer <token>` (scripts) or the session
//! cookie (browsers and the window). A browser arrives with `?t=<token>`
//! once; that is traded for an HttpOnly SameSite=Strict cookie and a
//! redirect to the same path without the token, so it never stays in the
//! address bar, history or logs. Requests naming another Host (DNS
//! rebinding) or coming from another Origin are refused.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use rand::RngCore;

use crate::api::error::ApiError;

const COOKIE: &str = "peregrine_session";
pub const TOKEN_FILE: &str = "api-token";

#[derive(Clone)]
pub struct Guard(Arc<GuardInner>);

struct GuardInner {
    token: String,
    session: String,
    hosts: [String; 2],
    origins: [String; 2],
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Comparison whose time does not depend on where the inputs differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Guard {
    pub fn new(port: u16) -> Self {
        Self(Arc::new(GuardInner {
            token: random_hex(),
            session: random_hex(),
            hosts: [format!("127.0.0.1:{port}"), format!("localhost:{port}")],
            origins: [
                format!("http://127.0.0.1:{port}"),
                format!("http://localhost:{port}"),
            ],
        }))
    }

    pub fn token(&self) -> &str {
        &self.0.token
    }

    fn host_allowed(&self, headers: &HeaderMap) -> bool {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        host.is_some_and(|h| self.0.hosts.iter().any(|allowed| allowed == h))
    }

    fn origin_allowed(&self, headers: &HeaderMap) -> bool {
        match headers.get(header::ORIGIN).map(|o| o.to_str()) {
            None => true,
            Some(Ok(origin)) => self.0.origins.iter().any(|allowed| allowed == origin),
            Some(Err(_)) => false,
        }
    }

    fn authenticated(&self, headers: &HeaderMap) -> bool {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if bearer.is_some_and(|t| same_secret(t.trim(), &self.0.token)) {
            return true;
        }
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(name, value)| name == COOKIE && same_secret(value, &self.0.session))
    }
}

/// The middleware.
pub async fn guard(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    if !guard.host_allowed(headers) {
        return ApiError::forbidden(
            "this Host is not allowed: open Peregrine at the 127.0.0.1 address it printed",
        )
        .into_response();
    }
    if !guard.origin_allowed(headers) {
        return ApiError::forbidden("requests from other web sites are not allowed")
            .into_response();
    }
    let query = request.uri().query().unwrap_or("");
    if let Some(token) = login_token(query) {
        return login(&guard, request.uri().path(), query, token);
    }
    if guard.authenticated(request.headers()) {
        return next.run(request).await;
    }
    if request.uri().path().starts_with("/api/") {
        ApiError::unauthenticated().into_response()
    } else {
        (StatusCode::UNAUTHORIZED, Html(LOGIN_HELP)).into_response()
    }
}

fn login_token(query: &str) -> Option<&str> {
    query.split('&').find_map(|pair| pair.strip_prefix("t="))
}

/// Trades `?t=` for the session cookie and redirects to the token-free URL.
fn login(guard: &Guard, path: &str, query: &str, token: &str) -> Response {
    if !same_secret(token, &guard.0.token) {
        return (StatusCode::UNAUTHORIZED, Html(LOGIN_HELP)).into_response();
    }
    let rest: Vec<&str> = query
        .split('&')
        .filter(|p| !p.starts_with("t=") && !p.is_empty())
        .collect();
    let location = if rest.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", rest.join("&"))
    };
    let cookie = format!(
        "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
        guard.0.session
    );
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SEE_OTHER;
    let headers = response.headers_mut();
    if let (Ok(location), Ok(cookie)) = (
        HeaderValue::from_str(&location),
        HeaderValue::from_str(&cookie),
    ) {
        headers.insert(header::LOCATION, location);
        headers.insert(header::SET_COOKIE, cookie);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

const LOGIN_HELP: &str = "<!doctype html><meta charset=utf-8><title>Peregrine</title>\
<body style=\"font:16px system-ui;background:#0b1220;color:#e2e8f0;padding:3em\">\
<h1>Peregrine</h1><p>This page needs this launch's access link. Open Peregrine from the \
link it printed when it started (it ends in <code>?t=…</code>), or from the desktop app.</p>";

/// Writes the token where scripts on this machine can read it: its owner
/// only, or, for the recording service, also the service's group, which the
/// desktop window's users join.
pub fn write_token_file(data_dir: &Path, token: &str, group_readable: bool) -> anyhow::Result<()> {
    let path = data_dir.join(TOKEN_FILE);
    let _ = std::fs::remove_file(&path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(
        &mut options,
        if group_readable { 0o640 } else { 0o600 },
    );
    let mut file = options.open(&path)?;
    file.write_all(token.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }

    #[test]
    fn finds_the_token_among_other_parameters() {
        assert_eq!(login_token("a=1&t=xyz&b=2"), Some("xyz"));
        assert_eq!(login_token("at=1"), None);
    }
}
