//! The HTTP API, versioned under `/api/v1`, and the UI's static files.
//! Every route passes through [`crate::auth::guard`].

pub mod alerts;
pub mod cameras;
pub mod detections;
pub mod error;
pub mod events;
pub mod live;
pub mod machine;
pub mod onvif;
pub mod recordings;
pub mod rules;
pub mod search;
pub mod settings;
pub mod tracks;
pub mod ui;
pub mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::State;
use axum::http::Request;
use axum::routing::{delete, get, patch, post};
use axum::{middleware, Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use peregrine_engine::{DetectorStats, Engine};
use peregrine_store::Store;
use serde::Serialize;
use tokio::sync::broadcast;
use tower_http::trace::TraceLayer;

use crate::auth::{self, Guard};
use crate::recording::RecordingOptions;
use crate::secrets::SecretBox;
use error::ApiError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub engine: Arc<Engine>,
    pub secrets: Arc<SecretBox>,
    /// Alerts as they are stored or changed (for `WS /api/v1/events`).
    pub alerts: broadcast::Sender<alerts::AlertNotice>,
    /// The MQTT publisher's settings and status.
    pub mqtt: Arc<crate::mqtt::Mqtt>,
    pub data_dir: Arc<PathBuf>,
    pub recordings: Arc<RecordingOptions>,
    /// Exports running or finished since start.
    pub exports: crate::evidence::Exports,
    /// Search's guesses for words in no table.
    pub semantic: Option<Arc<crate::semantic::SemanticTerms>>,
    /// Whether this is the recording service, which records with no
    /// window open, or a console that records while it runs.
    pub service: bool,
}

impl AppState {
    pub fn new(
        store: Store,
        engine: Arc<Engine>,
        secrets: Arc<SecretBox>,
        alerts: broadcast::Sender<alerts::AlertNotice>,
        mqtt: Arc<crate::mqtt::Mqtt>,
        paths: (&Path, RecordingOptions),
    ) -> Self {
        crate::boot_instant();
        Self {
            store,
            engine,
            secrets,
            alerts,
            mqtt,
            data_dir: Arc::new(paths.0.to_owned()),
            recordings: Arc::new(paths.1),
            exports: Default::default(),
            semantic: None,
            service: false,
        }
    }
}

pub fn router(state: AppState, guard: Guard, ui_dir: Option<&Path>) -> Router {
    let api = Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/cameras", get(cameras::list).post(cameras::create))
        .route("/api/v1/cameras/test", post(cameras::test_connection))
        .route("/api/v1/onvif/probe", post(onvif::probe))
        .route("/api/v1/onvif/discover", post(onvif::discover))
        .route(
            "/api/v1/cameras/{id}",
            get(cameras::get_one)
                .patch(cameras::update)
                .delete(cameras::remove),
        )
        .route("/api/v1/cameras/{id}/snapshot.jpg", get(cameras::snapshot))
        .route("/api/v1/cameras/{id}/live", get(live::subscribe))
        .route("/api/v1/cameras/{id}/recordings", get(recordings::list))
        .route("/api/v1/cameras/{id}/timeline", get(recordings::timeline))
        .route("/api/v1/recordings/{id}/video.mp4", get(recordings::video))
        .route(
            "/api/v1/bookmarks",
            get(recordings::list_bookmarks).post(recordings::create_bookmark),
        )
        .route(
            "/api/v1/bookmarks/{id}",
            delete(recordings::delete_bookmark),
        )
        .route(
            "/api/v1/evidence-locks",
            get(recordings::list_locks).post(recordings::create_lock),
        )
        .route(
            "/api/v1/evidence-locks/{id}",
            delete(recordings::delete_lock),
        )
        .route(
            "/api/v1/exports",
            get(recordings::list_exports).post(recordings::create_export),
        )
        .route(
            "/api/v1/exports/{id}",
            get(recordings::get_export).delete(recordings::cancel_export),
        )
        .route("/api/v1/exports/verify", post(recordings::verify))
        .route("/api/v1/evidence/key", get(recordings::signing_key))
        .route(
            "/api/v1/settings/recording",
            get(recordings::get_settings).put(recordings::put_settings),
        )
        .route(
            "/api/v1/cameras/{id}/zones",
            get(rules::zones_of_camera).post(rules::create_zone),
        )
        .route(
            "/api/v1/cameras/{id}/rules",
            get(rules::rules_of_camera).post(rules::create_rule),
        )
        .route(
            "/api/v1/zones/{id}",
            patch(rules::update_zone).delete(rules::delete_zone),
        )
        .route(
            "/api/v1/rules/{id}",
            patch(rules::update_rule).delete(rules::delete_rule),
        )
        .route("/api/v1/rule-templates", get(rules::templates_list))
        .route(
            "/api/v1/cameras/{id}/exclusions",
            get(alerts::exclusions_of_camera),
        )
        .route("/api/v1/exclusions/{id}", delete(alerts::delete_exclusion))
        .route("/api/v1/alerts", get(alerts::list))
        .route(
            "/api/v1/alerts/{id}",
            get(alerts::get_one).patch(alerts::update),
        )
        .route("/api/v1/alerts/{id}/snapshot.jpg", get(alerts::snapshot))
        .route(
            "/api/v1/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/api/v1/webhooks/{id}",
            patch(webhooks::update).delete(webhooks::remove),
        )
        .route(
            "/api/v1/webhooks/{id}/deliveries",
            get(webhooks::deliveries),
        )
        .route("/api/v1/webhooks/{id}/test", post(webhooks::send_test))
        .route(
            "/api/v1/settings/mqtt",
            get(settings::get_mqtt).put(settings::put_mqtt),
        )
        .route("/api/v1/tracks", get(tracks::list))
        .route("/api/v1/tracks/{id}/thumbnail.jpg", get(tracks::thumbnail))
        .route("/api/v1/detections", get(detections::list))
        .route("/api/v1/events", get(events::subscribe))
        .route(
            "/api/v1/search",
            get(search::search_get).post(search::search_post),
        )
        .route("/api/v1/search/parse", get(search::parse_only))
        .route("/api/v1/search/audit", get(search::audit))
        .route("/api/v1/machine", get(machine::last))
        .route("/api/v1/machine/measure", post(machine::measure))
        .route("/api/{*rest}", get(no_such_endpoint).post(no_such_endpoint))
        .with_state(state);
    ui::serve(api, ui_dir)
        .layer(middleware::from_fn_with_state(guard, auth::guard))
        // Spans carry the path only: query strings may hold secrets.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            tracing::debug_span!("http", method = %req.method(), path = %req.uri().path())
        }))
}

#[derive(Serialize)]
struct Health {
    version: &'static str,
    uptime_s: f64,
    cameras: usize,
    detector: DetectorHealth,
    /// Desktop window only: whether native notifications could be shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    notifications: Option<serde_json::Value>,
    /// `service`: the recording service, which records with no window
    /// open; `standalone`: a console that records while it runs.
    mode: &'static str,
}

#[derive(Serialize)]
struct DetectorHealth {
    ready: bool,
    message: Option<String>,
    #[serde(flatten)]
    stats: DetectorStats,
}

async fn health(State(s): State<AppState>) -> Result<Json<Health>, ApiError> {
    let cameras = s.store.cameras().await?.len();
    let notifications = s
        .store
        .setting("desktop_notifications")
        .await?
        .and_then(|v| serde_json::from_str(&v).ok());
    Ok(Json(Health {
        version: env!("CARGO_PKG_VERSION"),
        uptime_s: crate::boot_instant().elapsed().as_secs_f64(),
        cameras,
        detector: DetectorHealth {
            ready: s.engine.detector_error().is_none(),
            message: s.engine.detector_error().map(str::to_owned),
            stats: s.engine.detector_stats().unwrap_or_default(),
        },
        notifications,
        mode: if s.service { "service" } else { "standalone" },
    }))
}

async fn no_such_endpoint() -> ApiError {
    ApiError::not_found("no such API endpoint: see the README for the /api/v1 routes")
}

/// UTC microseconds → RFC 3339 with microseconds.
pub fn rfc3339_micros(us: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(us)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses a path id, naming it in the error.
pub fn parse_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::invalid("id", "must be a positive whole number"))
}
