//! `/api/v1/tracks`: objects followed over frames (class, time span, best
//! box, direction, speed, dwell per zone, colours), newest first, and each
//! one's best thumbnail. Search builds on these.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use peregrine_store::TrackRow;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::{parse_id, rfc3339_micros, AppState};

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    #[serde(default)]
    camera: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
}

#[derive(Serialize)]
pub struct TrackView {
    id: i64,
    camera_id: i64,
    class: String,
    first_seen: String,
    last_seen: String,
    duration_s: f64,
    best_score: f64,
    #[serde(rename = "box")]
    bbox: [f64; 4],
    direction: String,
    speed: f64,
    dwell: serde_json::Value,
    colours: Vec<String>,
    upper_colours: Vec<String>,
    lower_colours: Vec<String>,
    thumbnail_url: String,
}

/// A stored comma-separated list of colour names.
pub(crate) fn names(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

impl From<&TrackRow> for TrackView {
    fn from(t: &TrackRow) -> Self {
        Self {
            id: t.id,
            camera_id: t.camera_id,
            class: t.class.clone(),
            first_seen: rfc3339_micros(t.first_seen),
            last_seen: rfc3339_micros(t.last_seen),
            duration_s: (t.last_seen - t.first_seen) as f64 / 1e6,
            best_score: t.best_score,
            bbox: [t.x, t.y, t.w, t.h],
            direction: t.direction.clone(),
            speed: t.speed,
            dwell: serde_json::from_str(&t.dwell).unwrap_or_default(),
            colours: names(&t.colours),
            upper_colours: names(&t.upper_colours),
            lower_colours: names(&t.lower_colours),
            thumbnail_url: format!("/api/v1/tracks/{}/thumbnail.jpg", t.id),
        }
    }
}

pub async fn list(
    State(s): State<AppState>,
    Query(p): Query<ListParams>,
) -> Result<Json<Vec<TrackView>>, ApiError> {
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let rows = s.store.tracks(p.camera, limit).await?;
    Ok(Json(rows.iter().map(TrackView::from).collect()))
}

pub async fn thumbnail(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let jpeg = s
        .store
        .track_thumbnail(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no thumbnail for track {id}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "private, max-age=86400"),
        ],
        jpeg,
    )
        .into_response())
}
