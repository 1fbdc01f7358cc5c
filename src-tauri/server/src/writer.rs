//! The one task that writes detections: drains the engine's channel and
//! inserts what has queued up in one short transaction per batch.

use std::sync::Arc;

use peregrine_engine::FrameDetections;
use peregrine_store::{NewDetection, Store};
use tokio::sync::mpsc;
use tracing::error;

/// Frames with detections that may wait for the database.
pub const QUEUE: usize = 1024;
const MAX_BATCH: usize = 512;

pub async fn run(store: Store, mut frames: mpsc::Receiver<Arc<FrameDetections>>) {
    let mut batch = Vec::new();
    while let Some(first) = frames.recv().await {
        batch.clear();
        push_rows(&mut batch, &first);
        while batch.len() < MAX_BATCH {
            match frames.try_recv() {
                Ok(more) => push_rows(&mut batch, &more),
                Err(_) => break,
            }
        }
        if let Err(e) = store.insert_detections(&batch).await {
            error!(error = %e, rows = batch.len(), "cannot store detections");
        }
    }
}

fn push_rows(batch: &mut Vec<NewDetection>, frame: &FrameDetections) {
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
