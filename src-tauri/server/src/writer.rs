//! The one task that writes what the engine found: detections in batches
//! (one short transaction per batch), ended tracks, the recording index, and alerts, which are
//! announced to the UI once stored (they need their id to be acknowledged).
//! It ends when every sender is gone and the queue is empty, so a stop that
//! awaits it loses nothing that was queued.

use std::sync::Arc;

use peregrine_engine::record::SegmentEvent;
use peregrine_engine::{AlertDraft, FrameDetections, Record, TrackSummary};
use peregrine_store::{NewAlert, NewDetection, NewRecording, NewTrack, Store, TrackRow};
use tokio::sync::{broadcast, mpsc};
use tracing::{error, info};

use crate::api::alerts::AlertNotice;

/// Records that may wait for the database.
pub const QUEUE: usize = 1024;
const MAX_BATCH: usize = 512;

/// What the writer wrote, told when it ends.
#[derive(Clone, Copy, Debug, Default)]
pub struct Written {
    /// Detection rows stored.
    pub detections: u64,
    /// Detection rows a database error kept out.
    pub detections_failed: u64,
}

pub async fn run(
    store: Store,
    mut records: mpsc::Receiver<Record>,
    alerts: broadcast::Sender<AlertNotice>,
) -> Written {
    let mut written = Written::default();
    let mut batch = Vec::new();
    let mut others = Vec::new();
    while let Some(first) = records.recv().await {
        batch.clear();
        sort(first, &mut batch, &mut others);
        while batch.len() < MAX_BATCH {
            match records.try_recv() {
                Ok(more) => sort(more, &mut batch, &mut others),
                Err(_) => break,
            }
        }
        match store.insert_detections(&batch).await {
            Ok(()) => written.detections += batch.len() as u64,
            Err(e) => {
                written.detections_failed += batch.len() as u64;
                error!(error = %e, rows = batch.len(), "cannot store detections");
            }
        }
        for record in others.drain(..) {
            match record {
                Record::TrackEnded(track) => {
                    if let Err(e) = store.insert_track(&new_track(&track)).await {
                        error!(error = %e, track = track.id, "cannot store a track");
                    }
                }
                Record::Alert(draft) => match store.insert_alert(&new_alert(&draft)).await {
                    Ok(row) => {
                        let _ = alerts.send(AlertNotice::Raised(row));
                    }
                    Err(e) => {
                        error!(error = %e, rule = %draft.firing.rule_name, "cannot store an alert")
                    }
                },
                Record::Suppressed {
                    exclusion_id,
                    camera_id,
                    firing,
                } => {
                    info!(
                        camera = camera_id,
                        exclusion = exclusion_id,
                        rule = firing.rule_id,
                        media_time_us = firing.media_time,
                        explanation = %firing.explanation,
                        "alert suppressed: it repeats a false alarm"
                    );
                    if let Err(e) = store
                        .count_suppressed(exclusion_id, firing.media_time)
                        .await
                    {
                        error!(error = %e, exclusion = exclusion_id, "cannot count a suppressed alert");
                    }
                }
                Record::Segment(event) => index_segment(&store, event).await,
                Record::Detections(_) => {}
            }
        }
    }
    written
}

fn sort(record: Record, batch: &mut Vec<NewDetection>, others: &mut Vec<Record>) {
    match record {
        Record::Detections(frame) => push_rows(batch, &frame),
        other => others.push(other),
    }
}

/// Keeps the recording index in step with the files on disk.
async fn index_segment(store: &Store, event: SegmentEvent) {
    let result = match &event {
        SegmentEvent::Opened {
            camera_id,
            path,
            start_us,
            codec,
            width,
            height,
        } => {
            let row = NewRecording {
                camera_id: *camera_id,
                path: path.clone(),
                start_us: *start_us,
                codec: codec.clone(),
                width: i64::from(*width),
                height: i64::from(*height),
            };
            store.open_recording(&row).await
        }
        SegmentEvent::Grew {
            path,
            end_us,
            bytes,
        } => {
            store
                .grow_recording(path, *end_us, *bytes as i64, true)
                .await
        }
        SegmentEvent::Closed {
            path,
            end_us,
            bytes,
        } => {
            store
                .grow_recording(path, *end_us, *bytes as i64, false)
                .await
        }
        SegmentEvent::Discarded { path } => store.delete_recording_path(path).await,
    };
    if let Err(e) = result {
        error!(error = %e, ?event, "cannot update the recording index");
    }
}

fn push_rows(batch: &mut Vec<NewDetection>, frame: &Arc<FrameDetections>) {
    batch.extend(frame.detections.iter().map(|d| NewDetection {
        camera_id: frame.camera_id,
        media_time: frame.media_time,
        class: d.class.to_owned(),
        score: f64::from(d.score),
        x: f64::from(d.bbox.x),
        y: f64::from(d.bbox.y),
        w: f64::from(d.bbox.w),
        h: f64::from(d.bbox.h),
        track_id: d.track_id,
    }));
}

fn new_track(t: &TrackSummary) -> NewTrack {
    let dwell: serde_json::Map<String, serde_json::Value> = t
        .dwell
        .iter()
        .map(|(zone, s)| (zone.clone(), serde_json::json!((*s * 10.0).round() / 10.0)))
        .collect();
    NewTrack {
        row: TrackRow {
            id: t.id,
            camera_id: t.camera_id,
            class: t.class.to_owned(),
            first_seen: t.first_seen,
            last_seen: t.last_seen,
            best_score: f64::from(t.best_score),
            x: f64::from(t.best_box.x),
            y: f64::from(t.best_box.y),
            w: f64::from(t.best_box.w),
            h: f64::from(t.best_box.h),
            direction: t.direction.to_owned(),
            speed: f64::from(t.speed),
            dwell: serde_json::Value::Object(dwell).to_string(),
            colours: t.colours.join(","),
            upper_colours: t.upper_colours.join(","),
            lower_colours: t.lower_colours.join(","),
        },
        thumbnail: t.thumbnail.clone(),
    }
}

pub fn new_alert(a: &AlertDraft) -> NewAlert {
    let f = &a.firing;
    NewAlert {
        camera_id: a.camera_id,
        rule_id: Some(f.rule_id),
        rule_name: f.rule_name.clone(),
        priority: serde_json::to_value(f.priority)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        media_time: f.media_time,
        track_id: f.track_id,
        class: f.class.clone(),
        score: f64::from(f.score),
        zone: f.zone.clone(),
        bbox: f.bbox.map(|b| [b.x, b.y, b.w, b.h].map(f64::from)),
        explanation: f.explanation.clone(),
        colours: a.colours.join(","),
        snapshot: a.snapshot.clone(),
        created_at: chrono::Utc::now().timestamp_micros(),
    }
}
