//! The alarm queue: `/api/v1/alerts` (filter by state, camera, priority),
//! `/api/v1/alerts/{id}` (with its history; PATCH acknowledges, closes,
//! notes, marks a false alarm), `/api/v1/alerts/{id}/snapshot.jpg`.
//! Every stored alert and every change is also pushed on `WS /api/v1/events`.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use peregrine_engine::learn::Exclusion;
use peregrine_engine::BoundingBox;
use peregrine_store::{AlertChange, AlertHistoryRow, AlertQuery, AlertRow, ExclusionRow};
use serde::{Deserialize, Serialize};

use super::cameras::now_us;
use super::error::{ApiError, ApiJson};
use super::tracks::names;
use super::{parse_id, rfc3339_micros, AppState};

const STATES: [&str; 3] = ["new", "acknowledged", "closed"];
const PRIORITIES: [&str; 3] = ["low", "medium", "high"];
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;
const MAX_NOTE: usize = 2000;
/// Who changed an alert. One operator per workstation until user accounts exist.
const ACTOR: &str = "operator";

/// An alert as it is pushed to subscribers (events socket, desktop shell,
/// webhooks): just raised, or changed by an operator.
#[derive(Clone, Debug)]
pub enum AlertNotice {
    Raised(AlertRow),
    Changed(AlertRow),
}

impl AlertNotice {
    pub fn alert(&self) -> &AlertRow {
        match self {
            AlertNotice::Raised(a) | AlertNotice::Changed(a) => a,
        }
    }
}

#[derive(Clone, Serialize)]
pub struct AlertView {
    id: i64,
    camera_id: i64,
    rule_id: Option<i64>,
    rule_name: String,
    priority: String,
    media_time: String,
    media_time_us: i64,
    track_id: Option<i64>,
    class: String,
    score: f64,
    zone: String,
    #[serde(rename = "box")]
    bbox: Option<BoxView>,
    explanation: String,
    state: String,
    false_alarm: bool,
    note: String,
    updated_at: String,
    snapshot_url: Option<String>,
}

#[derive(Clone, Copy, Serialize)]
struct BoxView {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl From<&AlertRow> for AlertView {
    fn from(a: &AlertRow) -> Self {
        let bbox = match (a.x, a.y, a.w, a.h) {
            (Some(x), Some(y), Some(w), Some(h)) => Some(BoxView { x, y, w, h }),
            _ => None,
        };
        Self {
            id: a.id,
            camera_id: a.camera_id,
            rule_id: a.rule_id,
            rule_name: a.rule_name.clone(),
            priority: a.priority.clone(),
            media_time: rfc3339_micros(a.media_time),
            media_time_us: a.media_time,
            track_id: a.track_id,
            class: a.class.clone(),
            score: a.score,
            zone: a.zone.clone(),
            bbox,
            explanation: a.explanation.clone(),
            state: a.state.clone(),
            false_alarm: a.false_alarm,
            note: a.note.clone(),
            updated_at: rfc3339_micros(a.updated_at),
            snapshot_url: a
                .has_snapshot
                .then(|| format!("/api/v1/alerts/{}/snapshot.jpg", a.id)),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Comma-separated states; all when absent.
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    camera: Option<i64>,
    #[serde(default)]
    priority: Option<String>,
    /// Alerts older than this id (the next page).
    #[serde(default)]
    before: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
}

#[derive(Serialize)]
pub struct AlertList {
    alerts: Vec<AlertView>,
    counts: Counts,
}

#[derive(Serialize)]
struct Counts {
    new: i64,
    acknowledged: i64,
}

#[derive(Serialize)]
pub struct AlertDetail {
    #[serde(flatten)]
    alert: AlertView,
    history: Vec<HistoryView>,
}

#[derive(Serialize)]
struct HistoryView {
    at: String,
    actor: String,
    state: String,
    false_alarm: bool,
    note: String,
}

impl From<&AlertHistoryRow> for HistoryView {
    fn from(h: &AlertHistoryRow) -> Self {
        Self {
            at: rfc3339_micros(h.at),
            actor: h.actor.clone(),
            state: h.state.clone(),
            false_alarm: h.false_alarm,
            note: h.note.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertPatch {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    false_alarm: Option<bool>,
}

pub async fn list(
    State(s): State<AppState>,
    Query(p): Query<ListParams>,
) -> Result<Json<AlertList>, ApiError> {
    let states: Vec<String> = p
        .state
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| one_of("state", v, &STATES))
        .collect::<Result<_, _>>()?;
    let priority = p
        .priority
        .as_deref()
        .map(|v| one_of("priority", v, &PRIORITIES))
        .transpose()?;
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let rows = s
        .store
        .alerts(&AlertQuery {
            camera: p.camera,
            states,
            priority,
            before: p.before,
            limit,
        })
        .await?;
    let (new, acknowledged) = s.store.open_alert_counts().await?;
    Ok(Json(AlertList {
        alerts: rows.iter().map(AlertView::from).collect(),
        counts: Counts { new, acknowledged },
    }))
}

pub async fn get_one(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<AlertDetail>, ApiError> {
    let row = find(&s, &id).await?;
    Ok(Json(detail(&s, &row).await?))
}

/// An alert with its history.
async fn detail(s: &AppState, row: &AlertRow) -> Result<AlertDetail, ApiError> {
    let history = s.store.alert_history(row.id).await?;
    Ok(AlertDetail {
        alert: AlertView::from(row),
        history: history.iter().map(HistoryView::from).collect(),
    })
}

pub async fn update(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<AlertPatch>,
) -> Result<Json<AlertDetail>, ApiError> {
    let row = find(&s, &id).await?;
    let state = patch
        .state
        .as_deref()
        .map(|v| one_of("state", v, &STATES))
        .transpose()?;
    if let Some(note) = &patch.note {
        if note.chars().count() > MAX_NOTE || note.chars().any(|c| c.is_control() && c != '\n') {
            return Err(ApiError::invalid(
                "note",
                format!("must be at most {MAX_NOTE} printable characters"),
            ));
        }
    }
    let change = AlertChange {
        state,
        note: patch.note.map(|n| n.trim().to_owned()),
        false_alarm: patch.false_alarm,
    };
    let updated = s
        .store
        .update_alert(row.id, &change, ACTOR, now_us())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no alert with id {}", row.id)))?;
    learn(&s, &row, &updated).await?;
    let _ = s.alerts.send(AlertNotice::Changed(updated.clone()));
    Ok(Json(detail(&s, &updated).await?))
}

pub async fn snapshot(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = find(&s, &id).await?;
    let jpeg = s
        .store
        .alert_snapshot(row.id)
        .await?
        .ok_or_else(|| ApiError::not_found("this alert has no snapshot"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "private, max-age=86400"),
        ],
        jpeg,
    )
        .into_response())
}

/// Marking a false alarm teaches the camera to keep its repeats quiet;
/// taking the mark back forgets it.
async fn learn(s: &AppState, before: &AlertRow, after: &AlertRow) -> Result<(), ApiError> {
    if after.false_alarm && !before.false_alarm {
        s.store.learn_false_alarm(after, now_us()).await?;
    } else if before.false_alarm && !after.false_alarm {
        s.store.unlearn_alert(after.id).await?;
    } else {
        return Ok(());
    }
    s.apply_rules(after.camera_id).await
}

/// A learnt false alarm as the engine matches it.
pub fn engine_exclusion(e: &ExclusionRow) -> Exclusion {
    Exclusion {
        id: e.id,
        rule_id: e.rule_id,
        class: e.class.clone(),
        bbox: BoundingBox {
            x: e.x as f32,
            y: e.y as f32,
            w: e.w as f32,
            h: e.h as f32,
        },
        colours: names(&e.colours),
    }
}

#[derive(Serialize)]
pub struct ExclusionView {
    id: i64,
    camera_id: i64,
    alert_id: Option<i64>,
    rule_id: Option<i64>,
    class: String,
    #[serde(rename = "box")]
    bbox: BoxView,
    colours: Vec<String>,
    created_at: String,
    /// Firings it kept quiet so far.
    suppressed: i64,
    last_suppressed_at: Option<String>,
}

impl From<&ExclusionRow> for ExclusionView {
    fn from(e: &ExclusionRow) -> Self {
        Self {
            id: e.id,
            camera_id: e.camera_id,
            alert_id: e.alert_id,
            rule_id: e.rule_id,
            class: e.class.clone(),
            bbox: BoxView {
                x: e.x,
                y: e.y,
                w: e.w,
                h: e.h,
            },
            colours: names(&e.colours),
            created_at: rfc3339_micros(e.created_at),
            suppressed: e.suppressed,
            last_suppressed_at: e.last_suppressed_at.map(rfc3339_micros),
        }
    }
}

/// `GET /api/v1/cameras/{id}/exclusions`: the false alarms this camera learnt.
pub async fn exclusions_of_camera(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<ExclusionView>>, ApiError> {
    let camera = super::cameras::find(&s, &id).await?;
    let rows = s.store.exclusions(Some(camera.id)).await?;
    Ok(Json(rows.iter().map(ExclusionView::from).collect()))
}

/// `DELETE /api/v1/exclusions/{id}`: undoes a learnt false alarm.
pub async fn delete_exclusion(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    let row = s
        .store
        .exclusion(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no exclusion with id {id}")))?;
    s.store.delete_exclusion(id).await?;
    s.apply_rules(row.camera_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn find(s: &AppState, raw: &str) -> Result<AlertRow, ApiError> {
    let id = parse_id(raw)?;
    s.store
        .alert(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no alert with id {id}")))
}

fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<String, ApiError> {
    allowed
        .iter()
        .find(|a| **a == value)
        .map(|a| (*a).to_owned())
        .ok_or_else(|| ApiError::invalid(field, format!("must be one of {}", allowed.join(", "))))
}
