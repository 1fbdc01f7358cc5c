//! The web UI's files. An installed binary carries `ui/dist` inside it (a
//! release build embeds the folder; a debug build reads the same folder at
//! run time), so nothing points back to a source tree. While working on the
//! UI, `PEREGRINE_UI_DIR` serves another folder instead.

use std::path::Path;

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::Router;
use tower_http::services::ServeDir;

#[derive(rust_embed::Embed)]
#[folder = "$CARGO_MANIFEST_DIR/../../ui/dist"]
#[allow_missing = true]
struct Bundled;

/// Serves the UI after every API route: from `dir` when given, else from
/// the files built into the binary.
pub fn serve<S: Clone + Send + Sync + 'static>(api: Router<S>, dir: Option<&Path>) -> Router<S> {
    match dir {
        Some(dir) if dir.join("index.html").is_file() => {
            api.fallback_service(ServeDir::new(dir).append_index_html_on_directories(true))
        }
        Some(_) => api.fallback(ui_missing),
        None if Bundled::get("index.html").is_some() => api.fallback(bundled),
        None => api.fallback(ui_missing),
    }
}

/// Whether this binary carries a built UI.
pub fn bundled_ui() -> bool {
    Bundled::get("index.html").is_some()
}

async fn bundled(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let path = match uri.path().trim_start_matches('/') {
        "" => "index.html",
        path => path,
    };
    let Some(file) = Bundled::get(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    // Vite names what is under assets/ by content: cache it for good. The
    // page itself is checked every time, so an upgrade shows at once.
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let head = [
        (CONTENT_TYPE, file.metadata.mimetype().to_owned()),
        (CACHE_CONTROL, cache.to_owned()),
        (ETAG, etag.clone()),
    ];
    if headers.get(IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return (StatusCode::NOT_MODIFIED, head).into_response();
    }
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(file.data.into_owned())
    };
    (head, body).into_response()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn ui_missing() -> impl IntoResponse {
    Html(
        "<!doctype html><meta charset=utf-8><title>Peregrine</title>\
         <p>The web UI is not built yet: run <code>npm run setup</code> and reload.</p>",
    )
}
