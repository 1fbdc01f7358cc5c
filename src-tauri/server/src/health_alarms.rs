//! Health alarms: a camera that sends no new picture (lost, failing, or
//! frozen with its socket open) for longer than its "camera offline" rule
//! allows raises an alert in the same queue as everything else, once per
//! outage, with the engine's sentence for the cause and the last picture.
//! A camera whose recording keeps failing (a full disk retention cannot
//! clear) raises one too.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use peregrine_engine::record::RecordingState;
use peregrine_engine::rules::{Rule, Trigger};
use peregrine_engine::{CameraState, EngineEvent};
use peregrine_store::NewAlert;
use tokio::sync::broadcast::error::RecvError;
use tracing::{error, info};

use crate::api::alerts::AlertNotice;
use crate::AppState;

const CHECK_EVERY: Duration = Duration::from_secs(1);
/// A recording error that lasts this long is an alarm (a full disk that
/// retention clears at once is only logged and shown on the tile).
const RECORDING_GRACE: Duration = Duration::from_secs(5);
/// At most one recording alarm per camera in this long.
const RECORDING_REPEAT: Duration = Duration::from_secs(600);

/// A camera that is down: since when, why, and the rules already raised for it.
struct Outage {
    since: Instant,
    since_us: i64,
    message: String,
    raised: Vec<i64>,
}

pub async fn run(state: AppState) {
    let mut events = state.engine.subscribe();
    let mut outages: HashMap<i64, Outage> = HashMap::new();
    let mut recording = RecordingWatch::default();
    let mut tick = tokio::time::interval(CHECK_EVERY);
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(EngineEvent::Camera { id, status }) => match status.state {
                    CameraState::Stale | CameraState::Reconnecting | CameraState::Error => {
                        let outage = outages.entry(id).or_insert_with(|| Outage {
                            since: Instant::now(),
                            since_us: chrono::Utc::now().timestamp_micros(),
                            message: String::new(),
                            raised: Vec::new(),
                        });
                        if !status.message.is_empty() {
                            outage.message = status.message;
                        }
                    }
                    _ => {
                        outages.remove(&id);
                    }
                },
                Ok(EngineEvent::Detections(_)) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            },
            _ = tick.tick() => {
                for (camera, outage) in &mut outages {
                    raise_due(&state, *camera, outage).await;
                }
                recording.check(&state).await;
            }
        }
    }
}

/// Cameras whose recording is failing: since when, and when last raised.
#[derive(Default)]
struct RecordingWatch {
    failing_since: HashMap<i64, Instant>,
    raised_at: HashMap<i64, Instant>,
}

impl RecordingWatch {
    async fn check(&mut self, state: &AppState) {
        let Ok(cameras) = state.store.cameras().await else {
            return;
        };
        for camera in cameras {
            let health = state.engine.recording_health(camera.id);
            let Some(health) = health.filter(|h| h.state == RecordingState::Error) else {
                self.failing_since.remove(&camera.id);
                continue;
            };
            let since = *self
                .failing_since
                .entry(camera.id)
                .or_insert_with(Instant::now);
            let recently = self
                .raised_at
                .get(&camera.id)
                .is_some_and(|t| t.elapsed() < RECORDING_REPEAT);
            if since.elapsed() < RECORDING_GRACE || recently {
                continue;
            }
            self.raised_at.insert(camera.id, Instant::now());
            let explanation = format!(
                "“{}” is not being recorded: {}",
                camera.name,
                health.message.trim_end_matches('.')
            );
            let alert = NewAlert {
                camera_id: camera.id,
                rule_id: None,
                rule_name: "Recording failed".to_owned(),
                priority: "high".to_owned(),
                media_time: chrono::Utc::now().timestamp_micros(),
                track_id: None,
                class: "recording".to_owned(),
                score: 1.0,
                zone: String::new(),
                bbox: None,
                explanation,
                colours: String::new(),
                snapshot: None,
                created_at: chrono::Utc::now().timestamp_micros(),
            };
            match state.store.insert_alert(&alert).await {
                Ok(row) => {
                    info!(
                        camera = camera.id,
                        alert = row.id,
                        "recording failure alarm raised"
                    );
                    let _ = state.alerts.send(AlertNotice::Raised(row));
                }
                Err(e) => error!(camera = camera.id, error = %e, "cannot store a recording alarm"),
            }
        }
    }
}

async fn raise_due(state: &AppState, camera: i64, outage: &mut Outage) {
    let Ok(rules) = state.store.rules(Some(camera)).await else {
        return;
    };
    let down_s = outage.since.elapsed().as_secs();
    for row in &rules {
        if !row.enabled || outage.raised.contains(&row.id) {
            continue;
        }
        let Ok(rule) = serde_json::from_str::<Rule>(&row.definition) else {
            continue;
        };
        let Trigger::Offline { seconds } = rule.trigger else {
            continue;
        };
        if down_s < u64::from(seconds) {
            continue;
        }
        outage.raised.push(row.id);
        raise(state, camera, row.id, &row.name, &rule, outage, down_s).await;
    }
}

async fn raise(
    state: &AppState,
    camera: i64,
    rule_id: i64,
    rule_name: &str,
    rule: &Rule,
    outage: &Outage,
    down_s: u64,
) {
    let name = match state.store.camera(camera).await {
        Ok(Some(row)) => row.name,
        _ => format!("camera {camera}"),
    };
    let cause = if outage.message.is_empty() {
        "it stopped sending pictures".to_owned()
    } else {
        outage.message.trim_end_matches('.').to_owned()
    };
    let explanation =
        format!("“{name}” has shown no new picture for {down_s} s: {cause}: rule “{rule_name}”");
    // The last picture it sent (a frozen camera shows what it froze on).
    let privacy = state.privacy_areas(camera).await.unwrap_or_default();
    let snapshot = match state.engine.latest_frame(camera) {
        Some(frame) => tokio::task::spawn_blocking(move || {
            peregrine_engine::analyse::blank_out(&frame, &privacy)
                .to_jpeg(80)
                .ok()
        })
        .await
        .ok()
        .flatten(),
        None => None,
    };
    let alert = NewAlert {
        camera_id: camera,
        rule_id: Some(rule_id),
        rule_name: rule_name.to_owned(),
        priority: serde_json::to_value(rule.priority)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        media_time: outage.since_us,
        track_id: None,
        class: "camera".to_owned(),
        score: 1.0,
        zone: String::new(),
        bbox: None,
        explanation,
        colours: String::new(),
        snapshot,
        created_at: chrono::Utc::now().timestamp_micros(),
    };
    match state.store.insert_alert(&alert).await {
        Ok(row) => {
            info!(
                camera,
                alert = row.id,
                down_s,
                "camera offline alarm raised"
            );
            let _ = state.alerts.send(AlertNotice::Raised(row));
        }
        Err(e) => error!(camera, error = %e, "cannot store a camera offline alarm"),
    }
}
