//! `/api/v1/cameras`: create, read, update, delete, and the latest picture.
//! Passwords go in, are encrypted at once, and never come back out.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use peregrine_engine::detect::{class_named, MIN_SCORE_FLOOR};
use peregrine_engine::record::{RecordMode, RecordingHealth};
use peregrine_engine::{CameraSpec, CameraStatus, Credentials, DetectionFilter};
use peregrine_store::{CameraFields, CameraRow};
use serde::{Deserialize, Deserializer, Serialize};
use tracing::warn;
use url::Url;

use super::error::{ApiError, ApiJson};
use super::{parse_id, AppState};

const MIN_FPS: f64 = 0.1;
const MAX_FPS: f64 = 30.0;
const DEFAULT_FPS: f64 = 5.0;
const DEFAULT_MIN_SCORE: f64 = 0.5;
const DEFAULT_PRE_ROLL_S: f64 = 5.0;
const DEFAULT_POST_ROLL_S: f64 = 10.0;

/// A camera as the API shows it: never its password.
#[derive(Serialize)]
pub struct CameraView {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub sub_url: Option<String>,
    pub username: Option<String>,
    pub has_password: bool,
    pub detect_fps: f64,
    /// Classes kept for this camera; `null` keeps all.
    pub classes: Option<Vec<String>>,
    pub min_score: f64,
    pub enabled: bool,
    /// `off`, `continuous` or `events` (around detections).
    pub record_mode: String,
    pub pre_roll_s: f64,
    pub post_roll_s: f64,
    /// Days of video kept; `null`: the installation's setting.
    pub retain_days: Option<f64>,
    /// This camera's cap on disk; `null`: none of its own.
    pub max_bytes: Option<i64>,
    #[serde(flatten)]
    pub status: CameraStatus,
    /// How recording is going (absent while the camera is off).
    pub recording: Option<RecordingHealth>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraCreate {
    name: String,
    url: String,
    #[serde(default)]
    sub_url: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    detect_fps: Option<f64>,
    #[serde(default)]
    classes: Option<Vec<String>>,
    #[serde(default)]
    min_score: Option<f64>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    record_mode: Option<String>,
    #[serde(default)]
    pre_roll_s: Option<f64>,
    #[serde(default)]
    post_roll_s: Option<f64>,
    #[serde(default)]
    retain_days: Option<f64>,
    #[serde(default)]
    max_bytes: Option<i64>,
}

/// Absent fields stay as they are; `null` clears the optional ones.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraPatch {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default, deserialize_with = "present")]
    sub_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    username: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    password: Option<Option<String>>,
    #[serde(default)]
    detect_fps: Option<f64>,
    #[serde(default, deserialize_with = "present")]
    classes: Option<Option<Vec<String>>>,
    #[serde(default)]
    min_score: Option<f64>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    record_mode: Option<String>,
    #[serde(default)]
    pre_roll_s: Option<f64>,
    #[serde(default)]
    post_roll_s: Option<f64>,
    #[serde(default, deserialize_with = "present")]
    retain_days: Option<Option<f64>>,
    #[serde(default, deserialize_with = "present")]
    max_bytes: Option<Option<i64>>,
}

/// Tells "absent" (outer `None`) from "null" (`Some(None)`).
pub(crate) fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl AppState {
    /// Starts every enabled camera in the database.
    pub async fn start_cameras(&self) -> anyhow::Result<usize> {
        let rows = self.store.cameras().await?;
        let mut started = 0;
        for row in &rows {
            self.apply_rules(row.id).await.map_err(|e| {
                anyhow::anyhow!("cannot load the rules of camera {}: {e:?}", row.id)
            })?;
        }
        for row in rows.iter().filter(|r| r.enabled) {
            if let Some(spec) = self.spec(row) {
                self.engine.add_camera(spec);
                started += 1;
            }
        }
        Ok(started)
    }

    /// The engine's view of a stored camera, with its password decrypted.
    fn spec(&self, row: &CameraRow) -> Option<CameraSpec> {
        let url = Url::parse(&row.url).ok()?;
        let sub_url = row.sub_url.as_deref().and_then(|u| Url::parse(u).ok());
        let password = match &row.password_enc {
            None => String::new(),
            Some(sealed) => self.secrets.decrypt(sealed).unwrap_or_else(|e| {
                warn!(camera = row.id, error = %e, "cannot use the stored password");
                String::new()
            }),
        };
        let classes = split_classes(row.classes.as_deref());
        let filter = DetectionFilter::new(classes.as_deref(), row.min_score as f32).unwrap_or_else(|unknown| {
            warn!(camera = row.id, class = %unknown, "unknown class in the camera's settings; keeping all classes");
            DetectionFilter::default()
        });
        let credentials = row
            .username
            .clone()
            .map(|username| Credentials { username, password });
        Some(CameraSpec {
            id: row.id,
            name: row.name.clone(),
            url,
            sub_url,
            credentials,
            detect_fps: row.detect_fps as f32,
            filter,
            recording: Some(self.recordings.config_for(row)),
        })
    }

    /// Applies a stored camera to the engine: (re)start or stop it.
    pub fn apply(&self, row: &CameraRow) {
        match self.spec(row).filter(|_| row.enabled) {
            Some(spec) => self.engine.add_camera(spec),
            None => self.engine.remove_camera(row.id),
        }
    }

    pub fn view(&self, row: CameraRow) -> CameraView {
        let status = if row.enabled {
            self.engine.status(row.id).unwrap_or_default()
        } else {
            CameraStatus::disabled()
        };
        CameraView {
            id: row.id,
            name: row.name,
            url: row.url,
            sub_url: row.sub_url,
            username: row.username,
            has_password: row.password_enc.is_some(),
            detect_fps: row.detect_fps,
            classes: split_classes(row.classes.as_deref()),
            min_score: row.min_score,
            enabled: row.enabled,
            recording: self.engine.recording_health(row.id),
            record_mode: row.record_mode,
            pre_roll_s: row.pre_roll_s,
            post_roll_s: row.post_roll_s,
            retain_days: row.retain_days,
            max_bytes: row.max_bytes,
            status,
        }
    }

    /// Inserts a camera, or updates the one with the same name (demo set-up).
    pub async fn upsert_camera_by_name(&self, fields: CameraFields) -> anyhow::Result<CameraRow> {
        let existing = self
            .store
            .cameras()
            .await?
            .into_iter()
            .find(|c| c.name == fields.name);
        // Already running as asked: leave its session alone.
        if let Some(row) = existing.as_ref().filter(|r| r.fields() == fields) {
            if self.engine.status(row.id).is_some() {
                return Ok(row.clone());
            }
        }
        let row = match existing {
            Some(row) => self
                .store
                .update_camera(row.id, &fields)
                .await?
                .unwrap_or(row),
            None => self.store.insert_camera(&fields, now_us()).await?,
        };
        self.apply(&row);
        Ok(row)
    }
}

pub async fn list(State(s): State<AppState>) -> Result<Json<Vec<CameraView>>, ApiError> {
    let rows = s.store.cameras().await?;
    Ok(Json(rows.into_iter().map(|r| s.view(r)).collect()))
}

pub async fn get_one(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CameraView>, ApiError> {
    let row = find(&s, &id).await?;
    Ok(Json(s.view(row)))
}

pub async fn create(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<CameraCreate>,
) -> Result<(StatusCode, Json<CameraView>), ApiError> {
    let (url, url_creds) = check_url("url", &body.url)?;
    let sub_url = body
        .sub_url
        .as_deref()
        .map(|u| check_url("sub_url", u))
        .transpose()?;
    let (username, password) = merge_credentials(body.username, body.password, url_creds)?;
    let fields = CameraFields {
        name: check_name(&body.name)?,
        url,
        sub_url: sub_url.map(|(u, _)| u),
        username,
        password_enc: seal(&s, password)?,
        detect_fps: check_fps(body.detect_fps.unwrap_or(DEFAULT_FPS))?,
        enabled: body.enabled.unwrap_or(true),
        classes: check_classes(body.classes)?,
        min_score: check_min_score(body.min_score.unwrap_or(DEFAULT_MIN_SCORE))?,
        record_mode: "continuous".to_owned(),
        pre_roll_s: DEFAULT_PRE_ROLL_S,
        post_roll_s: DEFAULT_POST_ROLL_S,
        retain_days: None,
        max_bytes: None,
    };
    let mut fields = fields;
    apply_recording(
        &mut fields,
        RecordingChange {
            mode: body.record_mode,
            pre_roll_s: body.pre_roll_s,
            post_roll_s: body.post_roll_s,
            retain_days: body.retain_days.map(Some),
            max_bytes: body.max_bytes.map(Some),
        },
    )?;
    let row = s.store.insert_camera(&fields, now_us()).await?;
    s.apply(&row);
    Ok((StatusCode::CREATED, Json(s.view(row))))
}

pub async fn update(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<CameraPatch>,
) -> Result<Json<CameraView>, ApiError> {
    let row = find(&s, &id).await?;
    let mut fields = row.fields();
    if let Some(name) = patch.name {
        fields.name = check_name(&name)?;
    }
    if let Some(raw) = patch.url {
        let (url, creds) = check_url("url", &raw)?;
        fields.url = url;
        if let Some((user, pass)) = creds {
            fields.username = Some(user);
            fields.password_enc = seal(&s, Some(pass))?;
        }
    }
    if let Some(sub_url) = patch.sub_url {
        fields.sub_url = sub_url
            .map(|u| check_url("sub_url", &u).map(|(u, _)| u))
            .transpose()?;
    }
    if let Some(username) = patch.username {
        fields.username = username.map(|u| check_username(&u)).transpose()?;
    }
    if let Some(password) = patch.password {
        fields.password_enc = seal(&s, password.map(|p| check_password(&p)).transpose()?)?;
    }
    if let Some(fps) = patch.detect_fps {
        fields.detect_fps = check_fps(fps)?;
    }
    if let Some(enabled) = patch.enabled {
        fields.enabled = enabled;
    }
    if let Some(classes) = patch.classes {
        fields.classes = check_classes(classes)?;
    }
    if let Some(min_score) = patch.min_score {
        fields.min_score = check_min_score(min_score)?;
    }
    apply_recording(
        &mut fields,
        RecordingChange {
            mode: patch.record_mode,
            pre_roll_s: patch.pre_roll_s,
            post_roll_s: patch.post_roll_s,
            retain_days: patch.retain_days,
            max_bytes: patch.max_bytes,
        },
    )?;
    let row = s
        .store
        .update_camera(row.id, &fields)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no camera with id {}", row.id)))?;
    s.apply(&row);
    Ok(Json(s.view(row)))
}

pub async fn remove(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    s.engine.remove_camera(id);
    if s.store.delete_camera(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no camera with id {id}")))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionTest {
    url: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    /// Use this camera's stored password when none is given (testing an edit).
    #[serde(default)]
    camera_id: Option<i64>,
}

#[derive(Serialize)]
pub struct ConnectionReport {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<peregrine_engine::ingest::StreamInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<peregrine_engine::ErrorKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// `POST /api/v1/cameras/test`: connects as the camera's ingest would and
/// reports what the stream holds (codec, profile, size, fps, audio) or,
/// as a sentence, what is wrong. Nothing is stored.
pub async fn test_connection(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<ConnectionTest>,
) -> Result<Json<ConnectionReport>, ApiError> {
    let (url, url_creds) = check_url("url", &body.url)?;
    let (username, mut password) = merge_credentials(body.username, body.password, url_creds)?;
    if password.is_none() {
        if let Some(id) = body.camera_id {
            let stored = s.store.camera(id).await?.and_then(|c| c.password_enc);
            password = stored
                .map(|sealed| s.secrets.decrypt(&sealed))
                .transpose()
                .map_err(ApiError::internal)?;
        }
    }
    let credentials = username.map(|username| Credentials {
        username,
        password: password.unwrap_or_default(),
    });
    let url = Url::parse(&url).map_err(|_| ApiError::invalid("url", "must be an rtsp:// URL"))?;
    let report = match peregrine_engine::ingest::probe(&url, credentials.as_ref()).await {
        Ok(stream) => ConnectionReport {
            ok: true,
            stream: Some(stream),
            code: None,
            message: None,
        },
        Err(e) => ConnectionReport {
            ok: false,
            stream: None,
            code: Some(e.kind()),
            message: Some(e.to_string()),
        },
    };
    Ok(Json(report))
}

/// `GET /api/v1/cameras/{id}/snapshot.jpg`: the latest decoded picture.
pub async fn snapshot(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = find(&s, &id).await?;
    let frame = s
        .engine
        .latest_frame(row.id)
        .ok_or_else(|| ApiError::unavailable("no picture from this camera yet"))?;
    let privacy = s.privacy_areas(row.id).await?;
    let jpeg = tokio::task::spawn_blocking(move || {
        if privacy.is_empty() {
            frame.to_jpeg(80)
        } else {
            peregrine_engine::analyse::blank_out(&frame, &privacy).to_jpeg(80)
        }
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        jpeg,
    )
        .into_response())
}

/// Recording settings from a create or a patch; `None` leaves a field be.
struct RecordingChange {
    mode: Option<String>,
    pre_roll_s: Option<f64>,
    post_roll_s: Option<f64>,
    retain_days: Option<Option<f64>>,
    max_bytes: Option<Option<i64>>,
}

fn apply_recording(fields: &mut CameraFields, change: RecordingChange) -> Result<(), ApiError> {
    if let Some(mode) = change.mode {
        let mode = RecordMode::parse(mode.trim()).ok_or_else(|| {
            ApiError::invalid(
                "record_mode",
                "must be \"off\", \"continuous\" or \"events\"",
            )
        })?;
        fields.record_mode = mode.as_str().to_owned();
    }
    if let Some(pre) = change.pre_roll_s {
        if !(0.0..=60.0).contains(&pre) {
            return Err(ApiError::invalid("pre_roll_s", "must be 0 to 60 seconds"));
        }
        fields.pre_roll_s = pre;
    }
    if let Some(post) = change.post_roll_s {
        if !(0.0..=600.0).contains(&post) {
            return Err(ApiError::invalid("post_roll_s", "must be 0 to 600 seconds"));
        }
        fields.post_roll_s = post;
    }
    if let Some(days) = change.retain_days {
        if days.is_some_and(|d| !(d > 0.0 && d <= 3650.0)) {
            return Err(ApiError::invalid(
                "retain_days",
                "must be more than 0 and at most 3650 days, or null",
            ));
        }
        fields.retain_days = days;
    }
    if let Some(max) = change.max_bytes {
        if max.is_some_and(|b| b < 100_000_000) {
            return Err(ApiError::invalid(
                "max_bytes",
                "must be at least 100 MB (100000000), or null",
            ));
        }
        fields.max_bytes = max;
    }
    Ok(())
}

pub(crate) async fn find(s: &AppState, raw_id: &str) -> Result<CameraRow, ApiError> {
    let id = parse_id(raw_id)?;
    s.store
        .camera(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no camera with id {id}")))
}

fn seal(s: &AppState, password: Option<String>) -> Result<Option<Vec<u8>>, ApiError> {
    password
        .filter(|p| !p.is_empty())
        .map(|p| s.secrets.encrypt(&p).map_err(ApiError::internal))
        .transpose()
}

pub(crate) fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "name",
            "must be 1 to 100 printable characters",
        ));
    }
    Ok(name.to_owned())
}

fn check_fps(fps: f64) -> Result<f64, ApiError> {
    if fps.is_finite() && (MIN_FPS..=MAX_FPS).contains(&fps) {
        Ok(fps)
    } else {
        Err(ApiError::invalid(
            "detect_fps",
            format!("must be between {MIN_FPS} and {MAX_FPS} frames per second"),
        ))
    }
}

/// Validates class names against the model's and stores them comma-separated.
fn check_classes(classes: Option<Vec<String>>) -> Result<Option<String>, ApiError> {
    let Some(classes) = classes else {
        return Ok(None);
    };
    let mut known = Vec::with_capacity(classes.len());
    for name in &classes {
        let class = class_named(name).ok_or_else(|| {
            ApiError::invalid("classes", format!("the model does not know {name:?}: use COCO names such as person, car, truck, bicycle"))
        })?;
        if !known.contains(&class) {
            known.push(class);
        }
    }
    if known.is_empty() {
        return Err(ApiError::invalid(
            "classes",
            "must name at least one class, or be null for all",
        ));
    }
    Ok(Some(known.join(",")))
}

fn split_classes(stored: Option<&str>) -> Option<Vec<String>> {
    stored.map(|s| s.split(',').map(str::to_owned).collect())
}

fn check_min_score(score: f64) -> Result<f64, ApiError> {
    let floor = f64::from(MIN_SCORE_FLOOR);
    if score.is_finite() && (floor..=0.95).contains(&score) {
        Ok(score)
    } else {
        Err(ApiError::invalid(
            "min_score",
            format!("must be between {floor} and 0.95"),
        ))
    }
}

fn check_username(u: &str) -> Result<String, ApiError> {
    if u.is_empty() || u.len() > 128 || u.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "username",
            "must be 1 to 128 printable characters",
        ));
    }
    Ok(u.to_owned())
}

fn check_password(p: &str) -> Result<String, ApiError> {
    if p.len() > 256 {
        return Err(ApiError::invalid(
            "password",
            "must be at most 256 characters",
        ));
    }
    Ok(p.to_owned())
}

/// Explicit fields win over credentials pasted into the URL.
fn merge_credentials(
    username: Option<String>,
    password: Option<String>,
    from_url: Option<(String, String)>,
) -> Result<(Option<String>, Option<String>), ApiError> {
    let (url_user, url_pass) = match from_url {
        Some((u, p)) => (Some(u), Some(p)),
        None => (None, None),
    };
    let username = username
        .or(url_user)
        .map(|u| check_username(&u))
        .transpose()?;
    let password = password
        .or(url_pass)
        .map(|p| check_password(&p))
        .transpose()?;
    Ok((username, password))
}

/// Validates an RTSP URL and splits off any credentials pasted into it. The
/// URL itself is never echoed in an error: it may hold a password.
fn check_url(field: &str, raw: &str) -> Result<(String, Option<(String, String)>), ApiError> {
    const EXAMPLE: &str = "such as rtsp://192.168.1.20:554/stream1";
    if raw.len() > 2048 {
        return Err(ApiError::invalid(
            field,
            "is too long (2048 characters at most)",
        ));
    }
    let mut url = Url::parse(raw.trim())
        .map_err(|_| ApiError::invalid(field, format!("must be an rtsp:// URL {EXAMPLE}")))?;
    if !matches!(url.scheme(), "rtsp" | "rtsps") {
        return Err(ApiError::invalid(
            field,
            format!(
                "must start with rtsp:// (not {}://), {EXAMPLE}",
                url.scheme()
            ),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ApiError::invalid(field, format!("has no host: {EXAMPLE}")));
    }
    let creds = if url.username().is_empty() {
        None
    } else {
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        let user = decode(url.username()).unwrap_or_default();
        let pass = decode(url.password().unwrap_or("")).unwrap_or_default();
        let _ = url.set_username("");
        let _ = url.set_password(None);
        Some((user, pass))
    };
    Ok((url.to_string(), creds))
}

pub(crate) fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_pasted_credentials_off_the_url() {
        let (url, creds) = check_url("url", "rtsp://admin:p%40ss@10.0.0.5:554/stream1").unwrap();
        assert_eq!(url, "rtsp://10.0.0.5:554/stream1");
        assert_eq!(creds, Some(("admin".to_owned(), "p@ss".to_owned())));
    }

    #[test]
    fn rejects_bad_urls_without_echoing_them() {
        for bad in ["http://admin:secret@cam/x", "not a url secret", "rtsp://"] {
            let err = format!("{:?}", check_url("url", bad).unwrap_err());
            assert!(err.contains("url"), "{err}");
            assert!(!err.contains("secret"), "{err}");
        }
    }
}
