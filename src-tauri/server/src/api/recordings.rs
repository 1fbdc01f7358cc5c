//! Recordings and evidence: the segment index and its files
//! (`/api/v1/cameras/{id}/recordings`, `/api/v1/recordings/{id}/video.mp4`),
//! the timeline (`/api/v1/cameras/{id}/timeline`), bookmarks, evidence
//! locks, exports with progress and cancel, verification, and the
//! installation's retention settings. Times are UTC µs (`media_time`).

use std::path::PathBuf;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use peregrine_store::{BookmarkRow, DetectionQuery, LockRow, RecordingRow};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::cameras::{find, now_us};
use super::error::{ApiError, ApiJson};
use super::{parse_id, rfc3339_micros, AppState};
use crate::evidence::{self, ExportPlan, ExportRequest, ExportState, SegmentSource};
use crate::recording::{self, RetentionSettings};

const ACTOR: &str = "operator";
/// The longest range one request may cover (a timeline of a month).
const MAX_RANGE_US: i64 = 31 * 86_400_000_000;
const MAX_BUCKETS: i64 = 2000;
const MAX_NOTE: usize = 2000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    from_us: Option<i64>,
    to_us: Option<i64>,
    #[serde(default)]
    buckets: Option<i64>,
    #[serde(default)]
    camera_id: Option<i64>,
}

impl Range {
    /// `[from, to)`, by default the last hour; bounded.
    fn bounds(&self) -> Result<(i64, i64), ApiError> {
        let to = self.to_us.unwrap_or_else(now_us);
        let from = self.from_us.unwrap_or(to - 3_600_000_000);
        check_range(from, to)?;
        Ok((from, to))
    }
}

fn check_range(from: i64, to: i64) -> Result<(), ApiError> {
    if from >= to {
        return Err(ApiError::invalid("from_us", "must be before to_us"));
    }
    if to - from > MAX_RANGE_US {
        return Err(ApiError::invalid(
            "to_us",
            "a range may cover at most 31 days",
        ));
    }
    Ok(())
}

#[derive(Serialize)]
pub struct RecordingView {
    id: i64,
    camera_id: i64,
    start_us: i64,
    end_us: i64,
    start: String,
    end: String,
    bytes: i64,
    codec: String,
    width: i64,
    height: i64,
    /// Still being written.
    open: bool,
    url: String,
}

impl From<RecordingRow> for RecordingView {
    fn from(r: RecordingRow) -> Self {
        Self {
            url: format!("/api/v1/recordings/{}/video.mp4", r.id),
            start: rfc3339_micros(r.start_us),
            end: rfc3339_micros(r.end_us),
            id: r.id,
            camera_id: r.camera_id,
            start_us: r.start_us,
            end_us: r.end_us,
            bytes: r.bytes,
            codec: r.codec,
            width: r.width,
            height: r.height,
            open: r.open,
        }
    }
}

pub async fn list(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(range): Query<Range>,
) -> Result<Json<Value>, ApiError> {
    let camera = find(&s, &id).await?;
    let (from, to) = range.bounds()?;
    let rows = s.store.recordings(camera.id, from, to).await?;
    let views: Vec<RecordingView> = rows.into_iter().map(Into::into).collect();
    Ok(Json(json!({ "recordings": views })))
}

/// A segment file, with range requests (the player seeks inside it).
pub async fn video(
    State(s): State<AppState>,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let row = s
        .store
        .recording(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no recording with id {id}")))?;
    let path = s.recordings.dir.join(&row.path);
    let served = ServeFile::new_with_mime(&path, &"video/mp4".parse().map_err(ApiError::internal)?)
        .oneshot(request)
        .await
        .map_err(ApiError::internal)?;
    if served.status() == StatusCode::NOT_FOUND {
        return Err(ApiError::not_found(
            "this recording's file is gone (deleted by retention or by hand)",
        ));
    }
    Ok(served.map(Body::new).into_response())
}

/// Everything the timeline draws for one camera over a range.
pub async fn timeline(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(range): Query<Range>,
) -> Result<Json<Value>, ApiError> {
    let camera = find(&s, &id).await?;
    let (from, to) = range.bounds()?;
    let buckets = range.buckets.unwrap_or(200).clamp(1, MAX_BUCKETS);
    let bucket_us = ((to - from) / buckets).max(1);
    let recordings: Vec<[i64; 2]> = s
        .store
        .recordings(camera.id, from, to)
        .await?
        .iter()
        .map(|r| [r.start_us, r.end_us])
        .collect();
    let density: Vec<[i64; 2]> = s
        .store
        .detection_density(camera.id, from, to, bucket_us)
        .await?
        .into_iter()
        .map(|(t, n)| [t, n])
        .collect();
    let alerts: Vec<Value> = s
        .store
        .alerts_between(camera.id, from, to)
        .await?
        .into_iter()
        .map(|a| {
            json!({
                "id": a.id, "media_time": a.media_time, "priority": a.priority,
                "rule_name": a.rule_name, "state": a.state,
            })
        })
        .collect();
    let bookmarks = s.store.bookmarks(Some(camera.id), from, to).await?;
    let locks = s.store.locks(Some(camera.id), from, to).await?;
    Ok(Json(json!({
        "camera_id": camera.id,
        "from_us": from,
        "to_us": to,
        "bucket_us": bucket_us,
        "recordings": recordings,
        "density": density,
        "alerts": alerts,
        "bookmarks": bookmarks,
        "locks": locks,
        "recording": s.engine.recording_health(camera.id),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookmarkCreate {
    camera_id: i64,
    media_time: i64,
    #[serde(default)]
    note: String,
}

pub async fn create_bookmark(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<BookmarkCreate>,
) -> Result<(StatusCode, Json<BookmarkRow>), ApiError> {
    find(&s, &body.camera_id.to_string()).await?;
    let note = check_text("note", &body.note)?;
    let row = s
        .store
        .insert_bookmark(body.camera_id, body.media_time, &note, ACTOR, now_us())
        .await?;
    Ok((StatusCode::CREATED, Json(row)))
}

pub async fn list_bookmarks(
    State(s): State<AppState>,
    Query(range): Query<Range>,
) -> Result<Json<Vec<BookmarkRow>>, ApiError> {
    let (from, to) = range.bounds()?;
    Ok(Json(s.store.bookmarks(range.camera_id, from, to).await?))
}

pub async fn delete_bookmark(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    deleted(s.store.delete_bookmark(id).await?, "bookmark", id)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockCreate {
    camera_id: i64,
    start_us: i64,
    end_us: i64,
    reason: String,
    #[serde(default)]
    until_us: Option<i64>,
}

pub async fn create_lock(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<LockCreate>,
) -> Result<(StatusCode, Json<LockRow>), ApiError> {
    find(&s, &body.camera_id.to_string()).await?;
    check_range(body.start_us, body.end_us)
        .map_err(|_| ApiError::invalid("end_us", "must be after start_us, at most 31 days on"))?;
    let reason = check_text("reason", &body.reason)?;
    if reason.is_empty() {
        return Err(ApiError::invalid(
            "reason",
            "say why this is evidence (an incident number, a name)",
        ));
    }
    let now = now_us();
    if body.until_us.is_some_and(|u| u <= now) {
        return Err(ApiError::invalid(
            "until_us",
            "must be in the future (or null: until unlocked)",
        ));
    }
    let row = s
        .store
        .insert_lock(
            body.camera_id,
            body.start_us,
            body.end_us,
            &reason,
            body.until_us,
            ACTOR,
            now,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(row)))
}

pub async fn list_locks(
    State(s): State<AppState>,
    Query(range): Query<Range>,
) -> Result<Json<Vec<LockRow>>, ApiError> {
    let to = range.to_us.unwrap_or(i64::MAX);
    let from = range.from_us.unwrap_or(0);
    Ok(Json(s.store.locks(range.camera_id, from, to).await?))
}

pub async fn delete_lock(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    deleted(s.store.delete_lock(id).await?, "evidence lock", id)
}

/// 204 when something was deleted, else a 404 naming it.
fn deleted(found: bool, what: &str, id: i64) -> Result<StatusCode, ApiError> {
    if found {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no {what} with id {id}")))
    }
}

/// Starts an export; poll `GET /api/v1/exports/{id}` for progress.
pub async fn create_export(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<ExportRequest>,
) -> Result<(StatusCode, Json<evidence::ExportStatus>), ApiError> {
    check_range(body.from_us, body.to_us)?;
    if body.cameras.is_empty() || body.cameras.len() > 64 {
        return Err(ApiError::invalid("cameras", "name one or more camera ids"));
    }
    let note = check_text("note", &body.note)?;
    let plan = plan_export(&s, &body, &note).await?;
    if plan.segments.is_empty() {
        return Err(ApiError::not_found(
            "nothing was recorded on these cameras in that time range",
        ));
    }
    let key = evidence::signing_key(&s.data_dir).map_err(ApiError::internal)?;
    let (id, cancel) = s.exports.begin(&plan.folder);
    let exports = s.exports.clone();
    let zip = body.zip;
    tokio::task::spawn_blocking(move || {
        let result = evidence::write_export(&plan, &key, &cancel, |done, total| {
            exports.update(id, |st| {
                st.progress = if total == 0 {
                    1.0
                } else {
                    done as f64 / total as f64
                };
                st.message = format!(
                    "Copying video: {} of {} MB",
                    done / 1_000_000,
                    total / 1_000_000
                );
            })
        })
        .and_then(|done| {
            if zip {
                let packed = evidence::zip_folder(&plan.folder)?;
                exports.update(id, |st| st.path = packed.display().to_string());
            }
            Ok(done)
        });
        exports.update(id, |st| match result {
            Ok((files, bytes)) => {
                st.state = ExportState::Done;
                st.progress = 1.0;
                st.files = files;
                st.bytes = bytes;
                st.message = format!(
                    "Exported {files} files, signed. Check them with: peregrine verify {}",
                    st.path
                );
            }
            Err(_) if cancel.load(std::sync::atomic::Ordering::Relaxed) => {
                st.state = ExportState::Cancelled;
                st.message = "Cancelled; the partial export was removed.".to_owned();
            }
            Err(e) => {
                tracing::warn!(error = %e, "export failed");
                st.state = ExportState::Failed;
                st.message = format!("The export failed: {e:#}");
            }
        });
    });
    let status = s
        .exports
        .get(id)
        .ok_or_else(|| ApiError::internal("export vanished"))?;
    Ok((StatusCode::ACCEPTED, Json(status)))
}

/// Gathers the segments and the sidecar from the database.
async fn plan_export(
    s: &AppState,
    body: &ExportRequest,
    note: &str,
) -> Result<ExportPlan, ApiError> {
    let mut segments = Vec::new();
    let mut cameras = Vec::new();
    for camera_id in &body.cameras {
        let camera = find(s, &camera_id.to_string()).await?;
        for row in s
            .store
            .recordings(camera.id, body.from_us, body.to_us)
            .await?
        {
            segments.push(SegmentSource {
                camera_id: camera.id,
                camera_name: camera.name.clone(),
                file: s.recordings.dir.join(&row.path),
                start_us: row.start_us,
                end_us: row.end_us,
            });
        }
        let detections = s
            .store
            .detections(&DetectionQuery {
                camera: Some(camera.id),
                class: None,
                from: Some(body.from_us),
                to: Some(body.to_us),
                limit: 100_000,
            })
            .await?;
        let alerts = s
            .store
            .alerts_between(camera.id, body.from_us, body.to_us)
            .await?;
        let bookmarks = s
            .store
            .bookmarks(Some(camera.id), body.from_us, body.to_us)
            .await?;
        cameras.push(json!({
            "id": camera.id,
            "name": camera.name,
            "detections": detections.iter().map(|d| json!({
                "time": rfc3339_micros(d.media_time), "media_time": d.media_time,
                "class": d.class, "score": d.score, "box": [d.x, d.y, d.w, d.h], "track_id": d.track_id,
            })).collect::<Vec<_>>(),
            "alerts": alerts.iter().map(|a| json!({
                "id": a.id, "time": rfc3339_micros(a.media_time), "media_time": a.media_time,
                "rule": a.rule_name, "priority": a.priority, "explanation": a.explanation,
                "state": a.state, "note": a.note, "false_alarm": a.false_alarm,
            })).collect::<Vec<_>>(),
            "bookmarks": bookmarks,
        }));
    }
    let names: Vec<String> = cameras
        .iter()
        .filter_map(|c| c["name"].as_str().map(evidence::slug))
        .collect();
    let parent = match &body.folder {
        Some(folder) if !folder.trim().is_empty() => PathBuf::from(folder.trim()),
        _ => s.data_dir.join("exports"),
    };
    let folder = parent.join(format!(
        "{}_{}_{}",
        evidence::file_time(body.from_us),
        names.join("+").chars().take(80).collect::<String>(),
        evidence::file_time(now_us())
    ));
    if folder.exists() {
        return Err(ApiError::invalid(
            "folder",
            "an export of that name already exists there: try again in a second",
        ));
    }
    let sidecar = json!({
        "format": "peregrine-export/1",
        "exported_at": rfc3339_micros(now_us()),
        "from": rfc3339_micros(body.from_us),
        "to": rfc3339_micros(body.to_us),
        "from_us": body.from_us,
        "to_us": body.to_us,
        "note": note,
        "cameras": cameras,
    });
    Ok(ExportPlan {
        folder,
        from_us: body.from_us,
        to_us: body.to_us,
        segments,
        sidecar,
    })
}

pub async fn list_exports(State(s): State<AppState>) -> Json<Vec<evidence::ExportStatus>> {
    Json(s.exports.list())
}

pub async fn get_export(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<evidence::ExportStatus>, ApiError> {
    let id = parse_id(&id)? as u64;
    s.exports
        .get(id)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no export with id {id}")))
}

pub async fn cancel_export(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<evidence::ExportStatus>, ApiError> {
    let id = parse_id(&id)? as u64;
    if !s.exports.cancel(id) {
        return Err(ApiError::not_found(format!("no export with id {id}")));
    }
    get_export(State(s), Path(id.to_string())).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    path: String,
    /// Base64 public key the export must be signed with.
    #[serde(default)]
    public_key: Option<String>,
}

pub async fn verify(
    ApiJson(body): ApiJson<VerifyRequest>,
) -> Result<Json<evidence::VerifyReport>, ApiError> {
    let folder = PathBuf::from(body.path.trim());
    let report =
        tokio::task::spawn_blocking(move || evidence::verify(&folder, body.public_key.as_deref()))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| ApiError::invalid("path", format!("{e:#}")))?;
    Ok(Json(report))
}

pub async fn signing_key(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let key = evidence::signing_key(&s.data_dir).map_err(ApiError::internal)?;
    Ok(Json(
        json!({ "public_key": evidence::public_key_text(&key.verifying_key()) }),
    ))
}

#[derive(Serialize)]
pub struct RecordingSettingsView {
    #[serde(flatten)]
    settings: RetentionSettings,
    folder: String,
    used_bytes: i64,
    free_bytes: Option<u64>,
}

pub async fn get_settings(
    State(s): State<AppState>,
) -> Result<Json<RecordingSettingsView>, ApiError> {
    let settings = recording::load_settings(&s.store).await;
    let used_bytes = s
        .store
        .recording_usage()
        .await?
        .iter()
        .map(|(_, b)| b)
        .sum();
    Ok(Json(RecordingSettingsView {
        settings,
        folder: s.recordings.dir.display().to_string(),
        used_bytes,
        free_bytes: recording::free_space(&s.recordings.dir),
    }))
}

pub async fn put_settings(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<RetentionSettings>,
) -> Result<Json<RecordingSettingsView>, ApiError> {
    if !(body.retain_days > 0.0 && body.retain_days <= 3650.0) {
        return Err(ApiError::invalid(
            "retain_days",
            "must be between 0 and 3650 days",
        ));
    }
    if body.max_total_bytes.is_some_and(|b| b < 100_000_000) {
        return Err(ApiError::invalid(
            "max_total_bytes",
            "must be at least 100 MB (100000000), or null",
        ));
    }
    if body.min_free_bytes < 0 {
        return Err(ApiError::invalid("min_free_bytes", "must be 0 or more"));
    }
    recording::save_settings(&s.store, &body)
        .await
        .map_err(ApiError::internal)?;
    s.engine.space_needed().notify_one();
    get_settings(State(s)).await
}

fn check_text(field: &str, text: &str) -> Result<String, ApiError> {
    let text = text.trim();
    if text.chars().count() > MAX_NOTE {
        return Err(ApiError::invalid(
            field,
            format!("at most {MAX_NOTE} characters"),
        ));
    }
    Ok(text.to_owned())
}
