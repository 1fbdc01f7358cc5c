//! Peregrine's video pipeline: everything between a camera's RTSP stream and
//! a stream of detections, with no UI and no SQL.
//!
//! Stages, one file each, wired in [`pipeline`]:
//! [`ingest`] (one tokio task per camera: RTSP via retina, reconnect with
//! backoff, `media_time` on every access unit) → [`decode`] (one OS thread per
//! camera: ffmpeg, sampled at the camera's detect fps) → [`detect`] (one
//! shared ONNX Runtime session on its own OS thread behind a bounded,
//! drop-oldest queue).
//!
//! Out flow [`EngineEvent`]s (camera state changes, detections) on a
//! broadcast channel, and every detection once more on an mpsc channel that
//! the store's writer drains, so a slow UI never costs a database row.
//! Nothing here blocks the async runtime: decode and inference run on their
//! own threads.

pub mod camera;
pub mod clock;
pub mod decode;
pub mod detect;
pub mod error;
pub mod fmp4;
pub mod ingest;
pub mod pipeline;
pub mod redact;

pub use camera::{CameraId, CameraSpec, CameraState, CameraStatus, Credentials};
pub use detect::{
    BoundingBox, Detection, DetectionFilter, DetectorConfig, DetectorStats, FrameDetections,
};
pub use error::{EngineError, ErrorKind};
pub use pipeline::{Engine, EngineEvent};
pub use redact::redact_url;
