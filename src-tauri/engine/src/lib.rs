//! Peregrine's video pipeline: everything between a camera's RTSP stream and
//! a stream of detections, with no UI and no SQL.
//!
//! Stages, one file each, wired in [`pipeline`]:
//! [`ingest`] (one tokio task per camera: RTSP via retina, reconnect with
//! backoff, `media_time` on every access unit) → [`decode`] (one OS thread per
//! camera: ffmpeg, sampled at the camera's detect fps, with the [`motion`]
//! gate) → [`detect`] (one shared ONNX Runtime session on its own OS thread
//! behind a bounded, drop-oldest queue) → [`analyse`] (its own thread:
//! masks, [`track`], [`rules`], [`colour`], snapshots).
//!
//! Out flow [`EngineEvent`]s (camera state changes, detections) on a
//! broadcast channel, and every [`Record`] (detections, ended tracks,
//! alerts) on an mpsc channel that the store's writer drains, so a slow UI
//! never costs a database row.
//! Nothing here blocks the async runtime: decode and inference run on their
//! own threads.

pub mod analyse;
pub mod camera;
pub mod clock;
pub mod colour;
pub mod decode;
pub mod detect;
pub mod embed;
pub mod error;
pub mod fmp4;
pub mod ingest;
pub mod learn;
pub mod measure;
pub mod motion;
pub mod pipeline;
pub mod record;
pub mod redact;
pub mod rules;
pub mod track;

pub use analyse::{AlertDraft, Record, TrackSummary};
pub use camera::{CameraId, CameraSpec, CameraState, CameraStatus, Credentials};
pub use detect::{
    BoundingBox, Detection, DetectionFilter, DetectorConfig, DetectorStats, FrameDetections,
};
pub use error::{EngineError, ErrorKind};
pub use pipeline::{Engine, EngineEvent, EngineStop};
pub use redact::redact_url;
