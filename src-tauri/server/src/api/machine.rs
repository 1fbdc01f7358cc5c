//! "Measure this machine": `POST /api/v1/machine/measure[?seconds=N]` decodes the
//! bundled footage and runs the detector for about 30 s, then recommends
//! detector threads, a detection rate and how many cameras this
//! workstation handles; `GET /api/v1/machine` gives the last result (and a
//! warning when more cameras are configured than it handles).

use std::time::Duration;

use axum::extract::{Query, State};
use axum::Json;
use peregrine_engine::measure::{measure_machine, MachineSpeed};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::error::ApiError;
use super::{rfc3339_micros, AppState};
use crate::assets;

const SETTINGS_KEY: &str = "machine";
const DEFAULT_SECONDS: u64 = 30;
/// Frames per second a camera's detection stream is taken to send.
const CAMERA_FPS: f64 = 10.0;
/// Share of the cores the pipeline may use (the UI, recording and the OS
/// need the rest).
const USABLE_SHARE: f64 = 0.8;
/// Detector work left after the motion gate on a busy scene (measured:
/// 21 % fewer detector calls on the demo's busy plaza).
const AFTER_GATE: f64 = 0.8;
const RATES: [f64; 5] = [10.0, 5.0, 3.0, 2.0, 1.0];
/// The cameras a small site has: the rate is lowered until this many fit.
const HANDFUL: usize = 4;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MeasureRequest {
    /// How long to measure (3–60 s; 30 by default).
    #[serde(default)]
    seconds: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub detector_threads: usize,
    pub detect_fps: f64,
    /// Cameras this machine serves at `detect_fps`.
    pub max_cameras: usize,
    /// Cameras served at each detection rate.
    pub cameras_at_fps: Vec<(f64, usize)>,
    pub summary: String,
}

pub async fn measure(
    State(s): State<AppState>,
    Query(request): Query<MeasureRequest>,
) -> Result<Json<Value>, ApiError> {
    let seconds = request.seconds.unwrap_or(DEFAULT_SECONDS);
    if !(3..=60).contains(&seconds) {
        return Err(ApiError::invalid("seconds", "must be 3 to 60"));
    }
    let detector =
        peregrine_engine::DetectorConfig::new(assets::model_path(), assets::ort_library());
    let footage = assets::footage();
    let speed = tokio::task::spawn_blocking(move || {
        measure_machine(&footage, &detector, Duration::from_secs(seconds))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| ApiError::unavailable(format!("cannot measure this machine: {e}")))?;
    let result = json!({
        "measured_at": rfc3339_micros(chrono::Utc::now().timestamp_micros()),
        "speed": speed,
        "recommendation": recommend(&speed),
    });
    s.store
        .set_setting(SETTINGS_KEY, &result.to_string())
        .await?;
    with_warning(&s, result).await.map(Json)
}

/// The last measurement, or `{"measured": false}`.
pub async fn last(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let stored = s.store.setting(SETTINGS_KEY).await?;
    match stored.and_then(|text| serde_json::from_str::<Value>(&text).ok()) {
        Some(result) => with_warning(&s, result).await.map(Json),
        None => Ok(Json(json!({"measured": false}))),
    }
}

/// Adds `measured: true` and a warning when more cameras are enabled than
/// the recommendation serves.
async fn with_warning(s: &AppState, mut result: Value) -> Result<Value, ApiError> {
    let enabled = s
        .store
        .cameras()
        .await?
        .iter()
        .filter(|c| c.enabled)
        .count();
    let max = result["recommendation"]["max_cameras"]
        .as_u64()
        .unwrap_or(0) as usize;
    result["measured"] = json!(true);
    result["cameras_enabled"] = json!(enabled);
    result["warning"] = if enabled > max {
        json!(format!(
            "{enabled} cameras are enabled but this machine handles about {max} at the recommended detection rate: lower the cameras' detection fps, give them a sub stream, or expect detection to skip frames."
        ))
    } else {
        Value::Null
    };
    Ok(result)
}

/// Cameras served at `fps` with the detector on `threads` threads taking
/// `inference_ms`: limited by the cores (decode + inference work) and by
/// the one shared detector session, which runs inferences one at a time.
fn cameras_at(speed: &MachineSpeed, threads: usize, inference_ms: f64, fps: f64) -> usize {
    let usable = speed.cores as f64 * USABLE_SHARE;
    let inferences = fps * AFTER_GATE;
    let per_camera = CAMERA_FPS / speed.decode_fps.max(1.0)
        + inferences * inference_ms / 1000.0 * threads as f64;
    let by_cores = usable / per_camera;
    let by_detector = 1000.0 / inference_ms.max(1e-3) / inferences;
    by_cores.min(by_detector).floor().max(0.0) as usize
}

/// What this machine can do, from its measured speeds.
pub fn recommend(speed: &MachineSpeed) -> Recommendation {
    let mut options = vec![(1, speed.inference_ms_1_thread)];
    if let Some(two) = speed.inference_ms_2_threads {
        options.push((2, two));
    }
    let (threads, inference_ms) = options
        .into_iter()
        .max_by_key(|(t, ms)| (cameras_at(speed, *t, *ms, 5.0), usize::MAX - t))
        .unwrap_or((1, speed.inference_ms_1_thread));
    let at = |fps: f64| cameras_at(speed, threads, inference_ms, fps);
    let cameras_at_fps: Vec<(f64, usize)> = RATES.iter().map(|f| (*f, at(*f))).collect();
    // 5 fps follows people walking; a slower machine keeps a handful of
    // cameras at a lower rate rather than one camera at a higher one.
    let detect_fps = [5.0, 3.0, 2.0]
        .into_iter()
        .find(|f| at(*f) >= HANDFUL)
        .unwrap_or(1.0);
    let max_cameras = at(detect_fps);
    let summary = format!(
        "This machine ({} cores) decodes {:.0} frames/s of {}×{} per core and runs the detector in {:.0} ms with {threads} thread{}: about {max_cameras} camera{} at {detect_fps} detection fps ({} at 2 fps).",
        speed.cores,
        speed.decode_fps,
        speed.width,
        speed.height,
        inference_ms,
        if threads == 1 { "" } else { "s" },
        if max_cameras == 1 { "" } else { "s" },
        at(2.0)
    );
    Recommendation {
        detector_threads: threads,
        detect_fps,
        max_cameras,
        cameras_at_fps,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speed(cores: usize, decode_fps: f64, one: f64, two: Option<f64>) -> MachineSpeed {
        MachineSpeed {
            cores,
            decode_fps,
            width: 768,
            height: 576,
            inference_ms_1_thread: one,
            inference_ms_2_threads: two,
        }
    }

    #[test]
    fn this_kind_of_machine_gets_a_handful_of_cameras_at_five_fps() {
        // The figures measured on the 2-core development machine.
        let r = recommend(&speed(2, 600.0, 41.4, Some(24.0)));
        assert_eq!(r.detector_threads, 2, "{r:?}");
        assert_eq!(r.detect_fps, 5.0);
        assert!((5..=12).contains(&r.max_cameras), "{r:?}");
        // One thread: the serial detector caps it at 24 inferences/s.
        assert_eq!(cameras_at(&speed(2, 600.0, 41.4, None), 1, 41.4, 5.0), 6);
        assert!(
            r.summary.contains("cameras at 5 detection fps"),
            "{}",
            r.summary
        );
    }

    #[test]
    fn a_slow_machine_is_told_to_detect_less_often() {
        let r = recommend(&speed(1, 120.0, 400.0, None));
        assert!(r.detect_fps < 5.0, "{r:?}");
        let at_five = r.cameras_at_fps.iter().find(|(f, _)| *f == 5.0).unwrap().1;
        assert!(
            r.max_cameras > at_five,
            "a lower rate serves more cameras: {r:?}"
        );
        let fast = recommend(&speed(16, 900.0, 10.0, Some(6.0)));
        assert_eq!(fast.detector_threads, 2);
        assert!(fast.max_cameras >= 40, "{fast:?}");
    }
}
