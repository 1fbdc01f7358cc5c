//! The engine's error type. Every variant renders as a sentence a guard can
//! act on; [`ErrorKind`] is what supervisors use for policy.

use thiserror::Error;

/// Coarse classification used for retry policy and API status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Bad configuration or input: retrying will not help until someone fixes it.
    InvalidArgument,
    /// Credentials were refused.
    PermissionDenied,
    /// The thing asked for does not exist.
    NotFound,
    /// Temporarily unavailable: retry with backoff.
    Unavailable,
    /// The camera sends something we cannot handle.
    Unsupported,
    /// A bug or an unexpected failure of a library.
    Internal,
}

#[derive(Debug, Error)]
pub enum EngineError {
    #[error("Cannot reach {host}: {reason}. Check the camera's address and that it is powered and on the network.")]
    Unreachable { host: String, reason: String },

    #[error("Wrong username or password (401): check the camera's credentials.")]
    WrongCredentials,

    #[error("Stream path not found (404) at {url}: check the path in the camera URL.")]
    PathNotFound { url: String },

    #[error("Unsupported codec {codec}: set the camera's stream to H.264.")]
    UnsupportedCodec { codec: String },

    #[error("The camera sends B-frames, which Peregrine cannot play yet: turn them off in the camera's video encoder settings (often \"B-frames: 0\" or a GOP structure of I and P frames only).")]
    BFrames,

    #[error("The camera offers no video track at {url}.")]
    NoVideoTrack { url: String },

    #[error("The connection to the camera was lost: {reason}.")]
    ConnectionLost { reason: String },

    #[error("The camera stopped sending video (nothing for {seconds} s).")]
    Stalled { seconds: u64 },

    #[error("The camera refused the request: {message}")]
    Rtsp { message: String },

    #[error("Cannot decode the camera's video: {message}")]
    Decode { message: String },

    #[error("Detector unavailable: {message}")]
    Detector { message: String },

    #[error("Invalid {field}: {message}")]
    InvalidArgument {
        field: &'static str,
        message: String,
    },
}

impl EngineError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Unreachable { .. }
            | Self::ConnectionLost { .. }
            | Self::Stalled { .. }
            | Self::Rtsp { .. } => ErrorKind::Unavailable,
            Self::WrongCredentials => ErrorKind::PermissionDenied,
            Self::PathNotFound { .. } | Self::NoVideoTrack { .. } => ErrorKind::NotFound,
            Self::UnsupportedCodec { .. } | Self::BFrames | Self::Decode { .. } => {
                ErrorKind::Unsupported
            }
            Self::Detector { .. } => ErrorKind::Internal,
            Self::InvalidArgument { .. } => ErrorKind::InvalidArgument,
        }
    }
}
