//! Ingest: one tokio task per camera stream. Opens exactly one RTSP session
//! with retina (TCP interleaved), stamps every access unit with
//! `media_time`, publishes it once on a broadcast channel, and reconnects
//! with capped exponential backoff. Every wait for the next frame has a
//! timeout, since a hung camera keeps its socket open and simply stops.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use retina::client::{
    PlayOptions, Session, SessionOptions, SetupOptions, TcpTransportOptions, Transport,
};
use retina::codec::{CodecItem, FrameFormat, ParametersRef};
use tokio::sync::broadcast;
use tokio::time::timeout;
use tracing::{info, warn};

use crate::camera::{CameraSpec, CameraState, Credentials};
use crate::clock::{MediaClock, MediaTime};
use crate::error::{EngineError, ErrorKind};
use crate::pipeline::StatusHandle;
use crate::redact::redact_url;

/// No frame for this long: the picture is stale.
pub const STALE_AFTER: Duration = Duration::from_secs(2);
/// No frame for this long: the session is considered dead and reopened.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for a camera to answer DESCRIBE/SETUP/PLAY.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const BACKOFF_START: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// During the first minute of an outage retries stay this quick (a camera
/// that comes back is live again within about a second).
const FAST_RETRY_MAX: Duration = Duration::from_secs(1);
const FAST_RETRY_WINDOW: Duration = Duration::from_secs(60);
/// A session that stayed up this long resets the backoff.
const HEALTHY_RUN: Duration = Duration::from_secs(30);
/// "Test connection" reads this many frames, or for at most this long.
const PROBE_FRAMES: usize = 11;
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The stream's decoding parameters: what a decoder or an MP4 writer needs.
#[derive(Debug, PartialEq, Eq)]
pub struct VideoParams {
    /// RFC 6381 codec string, e.g. `avc1.4D401E`.
    pub rfc6381_codec: String,
    /// The AVCDecoderConfigurationRecord (avcC).
    pub extra_data: Vec<u8>,
    /// The MP4 sample entry (`avc1` box with its avcC) for fMP4 and MP4 files.
    pub sample_entry: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// One H.264 access unit as the camera sent it: length-prefixed NALs.
#[derive(Debug)]
pub struct AccessUnit {
    pub media_time: MediaTime,
    pub random_access: bool,
    /// The clock re-anchored at this frame (reconnect or timestamp jump).
    pub discontinuity: bool,
    pub data: Vec<u8>,
    pub params: Arc<VideoParams>,
}

/// Where ingest publishes access units: once, to every subscriber, and to
/// the cache of the current GOP that lets a new viewer start at once.
#[derive(Clone)]
pub struct Publisher {
    units: broadcast::Sender<Arc<AccessUnit>>,
    gop: Arc<Mutex<Vec<Arc<AccessUnit>>>>,
}

/// The access units since the latest keyframe, and a subscription to the rest.
pub type FromKeyframe = (Vec<Arc<AccessUnit>>, broadcast::Receiver<Arc<AccessUnit>>);

/// A GOP longer than this (a camera with a very long keyframe interval) is
/// not cached in full; a new viewer then waits for the next keyframe.
const MAX_CACHED_UNITS: usize = 250;

impl Publisher {
    pub fn new(capacity: usize) -> Self {
        let (units, _) = broadcast::channel(capacity);
        Self {
            units,
            gop: Arc::new(Mutex::new(Vec::new())),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<AccessUnit>> {
        self.units.subscribe()
    }

    /// The access units since the latest keyframe, then everything after
    /// them: a viewer that starts here shows a picture at once.
    pub fn subscribe_from_keyframe(
        &self,
    ) -> (Vec<Arc<AccessUnit>>, broadcast::Receiver<Arc<AccessUnit>>) {
        let rx = self.units.subscribe();
        let cached = self.gop.lock().map(|g| g.clone()).unwrap_or_default();
        (cached, rx)
    }

    fn publish(&self, unit: AccessUnit) {
        let unit = Arc::new(unit);
        if let Ok(mut gop) = self.gop.lock() {
            if unit.random_access || unit.discontinuity {
                gop.clear();
            }
            if unit.random_access || (!gop.is_empty() && gop.len() < MAX_CACHED_UNITS) {
                gop.push(unit.clone());
            }
        }
        // No receiver (nobody decoding right now) is fine.
        let _ = self.units.send(unit);
    }
}

/// Runs one camera stream until the task is aborted.
pub async fn run(spec: CameraSpec, units: Publisher, status: StatusHandle) {
    let mut backoff = BACKOFF_START;
    let mut outage_since: Option<Instant> = None;
    loop {
        let started = Instant::now();
        let err = match run_once(&spec, &units, &status).await {
            Ok(()) => EngineError::ConnectionLost {
                reason: "the camera closed it".to_owned(),
            },
            Err(e) => e,
        };
        if started.elapsed() >= HEALTHY_RUN {
            backoff = BACKOFF_START;
            outage_since = None;
        }
        let outage = *outage_since.get_or_insert_with(Instant::now);
        warn!(camera = spec.id, error = %err, retry_in_s = backoff.as_secs(), "stream failed");
        // A camera that worked and dropped out is reconnecting; one that never
        // worked, or needs someone to fix something, is in error.
        let was_live = status.get().last_frame_at.is_some();
        let state = match err.kind() {
            ErrorKind::Unavailable if was_live => CameraState::Reconnecting,
            _ => CameraState::Error,
        };
        let retry_at = chrono::Utc::now() + chrono::Duration::from_std(backoff).unwrap_or_default();
        status.set_retrying(state, err.to_string(), retry_at);
        tokio::time::sleep(backoff).await;
        // Quick retries through a short glitch; gentle on a camera that is really gone.
        let cap = if outage.elapsed() < FAST_RETRY_WINDOW {
            FAST_RETRY_MAX
        } else {
            BACKOFF_MAX
        };
        backoff = (backoff * 2).min(cap);
    }
}

/// Waits for the next item, marking the camera stale after `STALE_AFTER` and
/// giving up after `STALL_TIMEOUT`: a hung camera keeps its socket open and
/// simply stops sending.
async fn next_item<S>(
    demuxed: &mut S,
    status: &StatusHandle,
) -> Result<Option<S::Item>, EngineError>
where
    S: futures::Stream + Unpin,
{
    if let Ok(item) = timeout(STALE_AFTER, demuxed.next()).await {
        return Ok(item);
    }
    status.set_state(
        CameraState::Stale,
        format!("No new video for {} s.", STALE_AFTER.as_secs()),
    );
    timeout(STALL_TIMEOUT - STALE_AFTER, demuxed.next())
        .await
        .map_err(|_| EngineError::Stalled {
            seconds: STALL_TIMEOUT.as_secs(),
        })
}

/// An RTSP session playing a camera's H.264 video track.
struct Opened {
    demuxed: retina::client::Demuxed,
    /// The camera also offers audio (never played or recorded here).
    has_audio: bool,
}

/// DESCRIBE, SETUP (TCP interleaved, MP4 framing) and PLAY, each with a timeout.
async fn open(url: &url::Url, credentials: Option<&Credentials>) -> Result<Opened, EngineError> {
    let creds = credentials.map(|c| retina::client::Credentials {
        username: c.username.clone(),
        password: c.password.clone(),
    });
    let options = SessionOptions::default()
        .creds(creds)
        .user_agent(format!("Peregrine/{}", env!("CARGO_PKG_VERSION")));
    let mut session = within_connect_timeout(url, Session::describe(url.clone(), options)).await?;
    let has_audio = session.streams().iter().any(|s| s.media() == "audio");
    let (stream_i, stream) = session
        .streams()
        .iter()
        .enumerate()
        .find(|(_, s)| s.media() == "video")
        .ok_or_else(|| EngineError::NoVideoTrack {
            url: redact_url(url.as_str()),
        })?;
    if !matches!(stream.encoding_name(), "h264" | "h265") {
        return Err(EngineError::UnsupportedCodec {
            codec: codec_name(stream.encoding_name()),
        });
    }
    let setup = SetupOptions::default()
        .transport(Transport::Tcp(TcpTransportOptions::default()))
        .frame_format(FrameFormat::MP4);
    within_connect_timeout(url, session.setup(stream_i, setup)).await?;
    let playing = within_connect_timeout(url, session.play(PlayOptions::default())).await?;
    let demuxed = playing.demuxed().map_err(|e| classify(&e, url))?;
    Ok(Opened { demuxed, has_audio })
}

/// "h265" → "H.265", as people write it.
fn codec_name(encoding: &str) -> String {
    match encoding {
        "h264" => "H.264".to_owned(),
        "h265" => "H.265".to_owned(),
        "jpeg" => "MJPEG".to_owned(),
        other => other.to_uppercase(),
    }
}

/// What "Test connection" found on a stream.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StreamInfo {
    pub codec: String,
    pub profile: Option<String>,
    pub rfc6381_codec: String,
    pub width: u32,
    pub height: u32,
    pub fps: Option<f32>,
    pub audio: bool,
}

/// Connects like a camera's ingest would and reports what the stream holds,
/// from its first frames (at most `PROBE_TIMEOUT`).
pub async fn probe(
    url: &url::Url,
    credentials: Option<&Credentials>,
) -> Result<StreamInfo, EngineError> {
    let Opened {
        mut demuxed,
        has_audio,
    } = open(url, credentials).await?;
    let mut params = None;
    let mut times = Vec::new();
    let deadline = tokio::time::Instant::now() + PROBE_TIMEOUT;
    while times.len() < PROBE_FRAMES {
        let item = match tokio::time::timeout_at(deadline, demuxed.next()).await {
            Err(_) | Ok(None) => break,
            Ok(Some(item)) => item.map_err(|e| classify(&e, url))?,
        };
        if let CodecItem::VideoFrame(frame) = item {
            let t = frame.timestamp().elapsed_secs();
            if times.last().is_some_and(|&last| t < last && last - t < 1.0) {
                return Err(EngineError::BFrames);
            }
            times.push(t);
            if params.is_none() || frame.has_new_parameters() {
                params = video_params(demuxed.streams()[frame.stream_id()].parameters());
            }
        }
    }
    let params = params.ok_or(EngineError::Stalled {
        seconds: PROBE_TIMEOUT.as_secs(),
    })?;
    let span = times
        .last()
        .zip(times.first())
        .map(|(l, f)| l - f)
        .unwrap_or(0.0);
    let h265 = crate::decode::is_h265(&params.rfc6381_codec);
    Ok(StreamInfo {
        codec: if h265 { "H.265" } else { "H.264" }.to_owned(),
        profile: if h265 {
            h265_profile(&params.rfc6381_codec)
        } else {
            h264_profile(&params.rfc6381_codec)
        }
        .map(str::to_owned),
        rfc6381_codec: params.rfc6381_codec.clone(),
        width: params.width,
        height: params.height,
        fps: (span > 0.0).then(|| ((times.len() - 1) as f64 / span) as f32),
        audio: has_audio,
    })
}

/// The profile named by an `avc1.PPCCLL` codec string.
fn h264_profile(rfc6381: &str) -> Option<&'static str> {
    let hex = rfc6381.strip_prefix("avc1.")?.get(0..2)?;
    Some(match u8::from_str_radix(hex, 16).ok()? {
        66 => "Baseline",
        77 => "Main",
        88 => "Extended",
        100 => "High",
        110 => "High 10",
        122 => "High 4:2:2",
        244 => "High 4:4:4",
        _ => return None,
    })
}

/// The profile named by an `hvc1.P.…` codec string (general_profile_idc).
fn h265_profile(rfc6381: &str) -> Option<&'static str> {
    let rest = rfc6381
        .strip_prefix("hvc1.")
        .or_else(|| rfc6381.strip_prefix("hev1."))?;
    let idc = rest.split('.').next()?.trim_start_matches(['A', 'B', 'C']);
    Some(match idc.parse::<u8>().ok()? {
        1 => "Main",
        2 => "Main 10",
        3 => "Main Still Picture",
        4 => "Range Extensions",
        _ => return None,
    })
}

async fn run_once(
    spec: &CameraSpec,
    units: &Publisher,
    status: &StatusHandle,
) -> Result<(), EngineError> {
    let url = spec.url.clone();
    let Opened { mut demuxed, .. } = open(&url, spec.credentials.as_ref()).await?;
    info!(camera = spec.id, url = %redact_url(url.as_str()), "session playing");

    let mut clock: Option<MediaClock> = None;
    let mut params: Option<Arc<VideoParams>> = None;
    loop {
        let item = match next_item(&mut demuxed, status).await? {
            None => return Ok(()),
            Some(Err(e)) => return Err(classify(&e, &url)),
            Some(Ok(item)) => item,
        };
        let CodecItem::VideoFrame(frame) = item else {
            continue;
        };
        if params.is_none() || frame.has_new_parameters() {
            params = video_params(demuxed.streams()[frame.stream_id()].parameters());
            if let Some(p) = &params {
                info!(camera = spec.id, codec = %p.rfc6381_codec, width = p.width, height = p.height, "video parameters");
            }
        }
        let Some(params) = params.clone() else {
            continue;
        };
        let timestamp = frame.timestamp();
        let clock = clock.get_or_insert_with(|| MediaClock::new(timestamp.clock_rate().get()));
        let stamp = clock.stamp(timestamp.elapsed(), now_us());
        if stamp.reordered {
            // Live view and recording need presentation order: say so rather than play it wrong.
            return Err(EngineError::BFrames);
        }
        if stamp.discontinuity {
            info!(
                camera = spec.id,
                "timestamp discontinuity: media_time re-anchored to the wall clock"
            );
        }
        status.frame_received(frame.data().len(), params.width, params.height);
        let unit = AccessUnit {
            media_time: stamp.media_time,
            random_access: frame.is_random_access_point(),
            discontinuity: stamp.discontinuity,
            data: frame.into_data(),
            params,
        };
        units.publish(unit);
    }
}

async fn within_connect_timeout<T>(
    url: &url::Url,
    fut: impl std::future::Future<Output = Result<T, retina::Error>>,
) -> Result<T, EngineError> {
    match timeout(CONNECT_TIMEOUT, fut).await {
        Ok(result) => result.map_err(|e| classify(&e, url)),
        Err(_) => Err(EngineError::Unreachable {
            host: host_of(url),
            reason: format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
        }),
    }
}

fn video_params(params: Option<ParametersRef<'_>>) -> Option<Arc<VideoParams>> {
    match params? {
        ParametersRef::Video(v) => {
            let (width, height) = v.pixel_dimensions();
            Some(Arc::new(VideoParams {
                rfc6381_codec: v.rfc6381_codec().to_owned(),
                extra_data: v.extra_data().to_vec(),
                sample_entry: v.mp4_sample_entry().build().ok()?,
                width,
                height,
            }))
        }
        _ => None,
    }
}

fn host_of(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or("the camera");
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// Turns retina's error into a sentence a guard understands.
pub fn classify(err: &retina::Error, url: &url::Url) -> EngineError {
    match err.status_code() {
        Some(401) | Some(403) => return EngineError::WrongCredentials,
        Some(404) => {
            return EngineError::PathNotFound {
                url: redact_url(url.as_str()),
            }
        }
        _ => {}
    }
    let text = err.to_string();
    let lower = text.to_lowercase();
    let unreachable = |reason: &str| EngineError::Unreachable {
        host: host_of(url),
        reason: reason.to_owned(),
    };
    if lower.contains("connection refused") {
        unreachable("connection refused")
    } else if lower.contains("timed out") {
        unreachable("connection timed out")
    } else if lower.contains("no route to host") || lower.contains("network is unreachable") {
        unreachable("no route to the host")
    } else if lower.contains("lookup") || lower.contains("name or service not known") {
        unreachable("the host name is not known")
    } else if lower.contains("connection reset")
        || lower.contains("broken pipe")
        || lower.contains("eof")
    {
        EngineError::ConnectionLost {
            reason: "the camera closed it".to_owned(),
        }
    } else {
        // retina's messages carry addresses and packet context, never credentials;
        // the first line is the part a person can read.
        EngineError::Rtsp {
            message: text.lines().next().unwrap_or("unknown error").to_owned(),
        }
    }
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_h264_profiles() {
        assert_eq!(h264_profile("avc1.4D401E"), Some("Main"));
        assert_eq!(h264_profile("avc1.640028"), Some("High"));
        assert_eq!(h264_profile("avc1.42E01F"), Some("Baseline"));
        assert_eq!(h264_profile("hvc1.1.6.L93"), None);
        assert_eq!(h265_profile("hvc1.1.6.L93.B0"), Some("Main"));
        assert_eq!(h265_profile("hev1.2.4.L120.B0"), Some("Main 10"));
        assert_eq!(h265_profile("avc1.4D401E"), None);
    }
}
