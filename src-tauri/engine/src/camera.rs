//! What a camera is to the engine: how to reach it, and how it is doing.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::fmt;

pub type CameraId = i64;

/// Everything the engine needs to run one camera.
#[derive(Clone, Debug)]
pub struct CameraSpec {
    pub id: CameraId,
    pub name: String,
    /// Main stream, without credentials.
    pub url: url::Url,
    /// Optional lower-resolution stream for detection (its own RTSP session).
    pub sub_url: Option<url::Url>,
    pub credentials: Option<Credentials>,
    /// Frames per second handed to the detector.
    pub detect_fps: f32,
    /// Which detections this camera keeps.
    pub filter: crate::detect::DetectionFilter,
    /// How the main stream is recorded; `None` does not record.
    pub recording: Option<crate::record::RecordingConfig>,
}

/// A camera login. `Debug` never prints the password.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CameraState {
    /// First connection attempt since the camera was started.
    Connecting,
    Live,
    /// Connected, but no new frame for a moment: the picture is old.
    Stale,
    /// Lost, and retrying; `message` says why, `retry_at` when.
    Reconnecting,
    /// Failing for a reason someone must fix (credentials, path, codec); still retried.
    Error,
    /// Turned off by the user; nothing is running.
    Disabled,
}

/// A camera's health as a guard sees it. `message` is a sentence, empty when live.
#[derive(Clone, Debug, Serialize)]
pub struct CameraStatus {
    pub state: CameraState,
    pub message: String,
    pub fps: f32,
    pub bitrate_kbps: f32,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub last_frame_at: Option<DateTime<Utc>>,
    /// When the next connection attempt is due, while reconnecting or in error.
    pub retry_at: Option<DateTime<Utc>>,
    /// The sub stream detection runs on, for cameras that have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detect_stream: Option<StreamHealth>,
}

/// How a camera's second stream (the one detection runs on) is doing.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StreamHealth {
    pub state: CameraState,
    pub message: String,
    pub fps: f32,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

impl CameraStatus {
    /// This status as the health of a detection stream.
    pub fn health(&self) -> StreamHealth {
        StreamHealth {
            state: self.state,
            message: self.message.clone(),
            fps: self.fps,
            width: self.width,
            height: self.height,
        }
    }

    pub fn disabled() -> Self {
        Self {
            state: CameraState::Disabled,
            message: "Disabled: enable the camera to connect.".to_owned(),
            ..Self::default()
        }
    }
}

impl Default for CameraStatus {
    fn default() -> Self {
        Self {
            state: CameraState::Connecting,
            message: "Connecting…".to_owned(),
            fps: 0.0,
            bitrate_kbps: 0.0,
            width: None,
            height: None,
            last_frame_at: None,
            retry_at: None,
            detect_stream: None,
        }
    }
}
