//! The built-in camera simulator: a small RTSP server inside the binary
//! that serves the bundled footage (an H.264 MP4), looped in real time, as
//! N live cameras at `rtsp://127.0.0.1:PORT/cam1` … `/camN`. The demo thus
//! runs the same RTSP path as a real site, from an installed package with
//! no Python and no GStreamer.
//!
//! The design is scripts/camsim.py's, which tests rely on:
//! - the MP4 is demuxed once into memory ([`Clip`]): access units as NAL
//!   units, timed in 90 kHz, SPS/PPS from the avcC record;
//! - every camera has a producer that runs whether or not anyone watches:
//!   it paces the clip in real time, loops it with continuous RTP time and
//!   sequence numbers, packetizes each access unit once (RFC 6184) and
//!   broadcasts it. Camera i starts (i-1)/N of the way into the clip, so
//!   the cameras show different scenes;
//! - every client connection is one task: RTSP requests, then RTP
//!   interleaved on the same TCP connection. A client joins at the next
//!   keyframe and, when it falls behind, skips to the next keyframe; one
//!   that stops reading is cut off. None of them ever holds up a producer.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{timeout, Instant};
use tracing::{debug, info, warn};

/// RTP clock of H.264 video.
const CLOCK_RATE: u64 = 90_000;
const PAYLOAD_TYPE: u8 = 96;
/// RTP payload bytes per packet: a packet fits an Ethernet frame, as
/// rtph264pay's default MTU makes it.
const MAX_PAYLOAD: usize = 1400;
/// Access units a camera holds for a client that is behind (about 6 s at
/// 10 fps) before that client skips ahead.
const QUEUE_UNITS: usize = 64;
/// A client that takes this long to take one write has stopped reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// What the Session header announces; clients send keepalives within it.
const SESSION_TIMEOUT_S: u64 = 60;
/// A connection that is not playing and sends nothing for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(SESSION_TIMEOUT_S + 15);
/// PLAY waits this long at most for the camera's next keyframe.
const KEYFRAME_WAIT: Duration = Duration::from_secs(10);
/// A request head or body larger than this is not a client we serve.
const MAX_REQUEST: usize = 16 * 1024;
/// A producer this far behind its schedule (the process was stopped or
/// starved) starts a new schedule rather than bursting to catch up.
const MAX_LATE: Duration = Duration::from_secs(1);
const SERVER: &str = concat!("Peregrine-camsim/", env!("CARGO_PKG_VERSION"));
const PUBLIC: &str =
    "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER";
/// The one track's control URL, relative to the camera's.
const TRACK: &str = "trackID=0";

#[derive(Clone, Debug)]
pub struct CamSimOptions {
    pub footage: PathBuf,
    pub cameras: usize,
    /// 0 picks a free port.
    pub port: u16,
}

#[derive(Debug, thiserror::Error)]
pub enum CamSimError {
    #[error("demo footage not found at {}: run `npm run setup` (or set PEREGRINE_FOOTAGE)", .0.display())]
    FootageMissing(PathBuf),
    #[error(
        "cannot read the demo footage {}: {reason}; run `npm run setup` to fetch it again \
         (or set PEREGRINE_FOOTAGE to an H.264 MP4)",
        path.display()
    )]
    FootageUnreadable { path: PathBuf, reason: String },
    #[error(
        "footage {} is not H.264 (found {found}): the simulator serves H.264 MP4s only; \
         re-encode it (`ffmpeg -i IN -c:v libx264 -bf 0 OUT.mp4`) or set PEREGRINE_FOOTAGE to another",
        path.display()
    )]
    NotH264 { path: PathBuf, found: String },
    #[error("the camera simulator needs at least one camera")]
    NoCameras,
    #[error(
        "port {0} is in use: stop whatever listens there, or pick another with --rtsp-port (0 picks a free one)"
    )]
    PortInUse(u16),
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Listen { port: u16, source: std::io::Error },
}

/// The running simulator. [`CamSim::stop`] ends it in order; dropping it
/// aborts its tasks.
pub struct CamSim {
    port: u16,
    shutdown: watch::Sender<bool>,
    /// The listener, which owns every client session.
    server: Option<JoinHandle<()>>,
    producers: JoinSet<()>,
}

impl CamSim {
    /// Reads the footage, binds 127.0.0.1:port, starts one producer per
    /// camera; returns when it serves.
    pub async fn start(opts: &CamSimOptions) -> Result<CamSim, CamSimError> {
        if opts.cameras == 0 {
            return Err(CamSimError::NoCameras);
        }
        if !opts.footage.is_file() {
            return Err(CamSimError::FootageMissing(opts.footage.clone()));
        }
        let path = opts.footage.clone();
        let clip = tokio::task::spawn_blocking(move || Clip::load(&path))
            .await
            .map_err(|e| CamSimError::FootageUnreadable {
                path: opts.footage.clone(),
                reason: e.to_string(),
            })??;
        let clip = Arc::new(clip);
        let listener = bind(opts.port).await?;
        let port = listener
            .local_addr()
            .map_err(|source| CamSimError::Listen {
                port: opts.port,
                source,
            })?
            .port();

        let cameras: Arc<[Camera]> = (1..=opts.cameras)
            .map(|n| Camera::new(format!("cam{n}"), &clip))
            .collect();
        let mut producers = JoinSet::new();
        for (i, camera) in cameras.iter().enumerate() {
            let start = clip.start_frame(i, opts.cameras);
            producers.spawn(produce(clip.clone(), camera.feed(), start));
        }
        let (shutdown, shutdown_rx) = watch::channel(false);
        let server = tokio::spawn(serve(listener, cameras, shutdown_rx));
        info!(
            target: "camsim",
            port,
            cameras = opts.cameras,
            footage = %opts.footage.display(),
            "serving {}x{} H.264 at {} fps, a {:.1} s loop, at rtsp://127.0.0.1:{port}/cam1..cam{}",
            clip.width,
            clip.height,
            format_rate(clip.frame_rate),
            clip.duration as f64 / CLOCK_RATE as f64,
            opts.cameras
        );
        Ok(CamSim {
            port,
            shutdown,
            server: Some(server),
            producers,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `rtsp://127.0.0.1:{port}/cam{camera}`, 1-based.
    pub fn url(&self, camera: usize) -> String {
        format!("rtsp://127.0.0.1:{}/cam{camera}", self.port)
    }

    /// Stops accepting, closes every session, ends the producers; returns
    /// when all tasks ended.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.producers.shutdown().await;
        info!(target: "camsim", port = self.port, "stopped");
    }
}

impl Drop for CamSim {
    fn drop(&mut self) {
        // The producers' JoinSet aborts them as it drops; the server's
        // sessions go with its JoinSet when it is aborted.
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

async fn bind(port: u16) -> Result<TcpListener, CamSimError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AddrInUse => CamSimError::PortInUse(port),
            _ => CamSimError::Listen { port, source },
        })
}

// ---------------------------------------------------------------- the clip

/// The footage in memory: what every camera plays.
struct Clip {
    frames: Vec<Frame>,
    /// Parameter sets from the avcC record, for the SDP.
    sps: Vec<Vec<u8>>,
    pps: Vec<Vec<u8>>,
    /// One loop in 90 kHz ticks: the sum of the frame durations, so the
    /// first frame of the next loop comes exactly one frame step after the
    /// last one of this loop.
    duration: u64,
    frame_rate: f64,
    width: u32,
    height: u32,
}

/// One access unit of the clip, in decode order.
#[derive(Debug)]
struct Frame {
    /// 90 kHz ticks from the clip's first frame: when it is sent.
    dts: u64,
    /// How much later it is shown (B-frames); its RTP time is dts + this.
    pts_offset: u64,
    keyframe: bool,
    /// NAL units without start codes or length prefixes; a keyframe's
    /// start with SPS and PPS (as config-interval=1 sends them).
    nals: Vec<Vec<u8>>,
}

/// A demuxed video packet, timed in 90 kHz.
struct Sample {
    dts: i64,
    pts: i64,
    duration: i64,
    keyframe: bool,
    data: Vec<u8>,
}

/// What the AVCDecoderConfigurationRecord (ISO 14496-15) holds for us.
#[derive(Debug, PartialEq)]
struct AvcConfig {
    /// Bytes in each NAL unit's length prefix.
    length_size: usize,
    sps: Vec<Vec<u8>>,
    pps: Vec<Vec<u8>>,
}

impl Clip {
    /// Demuxes the footage's video track (blocking: run it off the runtime).
    fn load(path: &Path) -> Result<Clip, CamSimError> {
        let unreadable = |reason: String| CamSimError::FootageUnreadable {
            path: path.to_owned(),
            reason,
        };
        ffmpeg_next::init().map_err(|e| unreadable(e.to_string()))?;
        let mut input = ffmpeg_next::format::input(path).map_err(|e| unreadable(e.to_string()))?;
        let stream = input
            .streams()
            .best(ffmpeg_next::media::Type::Video)
            .ok_or_else(|| unreadable("it has no video track".to_owned()))?;
        let params = stream.parameters();
        if params.id() != ffmpeg_next::codec::Id::H264 {
            return Err(CamSimError::NotH264 {
                path: path.to_owned(),
                found: format!("{:?}", params.id()).to_lowercase(),
            });
        }
        let (extradata, width, height) = raw_parameters(&params);
        let config = AvcConfig::parse(&extradata)
            .ok_or_else(|| unreadable("its H.264 track has no valid avcC record".to_owned()))?;
        let index = stream.index();
        let time_base = stream.time_base();
        let rate = stream.avg_frame_rate();
        let frame_rate = (rate.numerator() > 0 && rate.denominator() > 0).then(|| f64::from(rate));
        let samples = read_samples(&mut input, index, time_base);
        let mut clip = Clip::build(config, samples, frame_rate).map_err(unreadable)?;
        (clip.width, clip.height) = (width, height);
        Ok(clip)
    }

    /// Assembles the clip from the demuxed samples, in decode order.
    fn build(
        config: AvcConfig,
        samples: Vec<Sample>,
        frame_rate: Option<f64>,
    ) -> Result<Clip, String> {
        let first = samples.first().ok_or("its video track has no frames")?;
        if !first.keyframe {
            return Err("its video does not start with a keyframe".to_owned());
        }
        let origin = first.dts;
        let mut frames = Vec::with_capacity(samples.len());
        let mut step = 0;
        for (i, sample) in samples.iter().enumerate() {
            let dts = sample.dts - origin;
            if let Some(next) = samples.get(i + 1) {
                step = next.dts - sample.dts;
                if step <= 0 {
                    return Err(format!("its timestamps do not increase (frame {i})"));
                }
            } else if sample.duration > 0 {
                step = sample.duration;
            }
            let mut nals = split_avcc(&sample.data, config.length_size)
                .ok_or_else(|| format!("frame {i} is damaged"))?;
            let has_sps = nals.iter().any(|n| nal_type(n) == 7);
            if sample.keyframe && !has_sps {
                let sets = config.sps.iter().chain(&config.pps).cloned();
                nals.splice(0..0, sets);
            }
            frames.push(Frame {
                dts: dts as u64,
                pts_offset: (sample.pts - sample.dts).max(0) as u64,
                keyframe: sample.keyframe,
                nals,
            });
        }
        let last = frames.last().map_or(0, |f| f.dts);
        // A one-frame clip has no step: show that frame at 1 fps.
        let duration = last + if step > 0 { step as u64 } else { CLOCK_RATE };
        let frame_rate =
            frame_rate.unwrap_or(frames.len() as f64 * CLOCK_RATE as f64 / duration as f64);
        Ok(Clip {
            frames,
            sps: config.sps,
            pps: config.pps,
            duration,
            frame_rate,
            width: 0,
            height: 0,
        })
    }

    /// Where camera `i` (0-based, of `cameras`) starts: i/cameras of the
    /// way into the clip, back to the keyframe at or before that point.
    fn start_frame(&self, i: usize, cameras: usize) -> usize {
        let target = self.duration * i as u64 / cameras.max(1) as u64;
        self.frames
            .iter()
            .rposition(|f| f.keyframe && f.dts <= target)
            .unwrap_or(0)
    }

    /// The frame after `at`: the first loop starts at the camera's start
    /// frame, every later one at frame 0.
    fn next(&self, at: Cursor) -> Cursor {
        if at.index + 1 < self.frames.len() {
            Cursor {
                index: at.index + 1,
                ..at
            }
        } else {
            Cursor {
                lap: at.lap + 1,
                index: 0,
            }
        }
    }

    /// 90 kHz ticks from the camera's first frame (`start`, lap 0) to `at`:
    /// every lap adds the clip's duration, so time never jumps back.
    fn elapsed(&self, start: usize, at: Cursor) -> u64 {
        at.lap * self.duration + self.frames[at.index].dts - self.frames[start].dts
    }

    /// The RTP timestamp of the frame at `at` for a camera whose first
    /// frame had `base`: continuous across laps (modulo 2^32, as RTP is).
    fn rtp_time(&self, base: u32, start: usize, at: Cursor) -> u32 {
        let ticks = self.elapsed(start, at) + self.frames[at.index].pts_offset;
        base.wrapping_add(ticks as u32)
    }
}

/// A producer's place in the clip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cursor {
    lap: u64,
    index: usize,
}

/// The extradata, width and height of a video stream, which ffmpeg-next
/// does not expose.
fn raw_parameters(params: &ffmpeg_next::codec::Parameters) -> (Vec<u8>, u32, u32) {
    // SAFETY: the parameters belong to a stream of an open input, which
    // outlives this call; FFmpeg keeps `extradata` valid for
    // `extradata_size` bytes (or null), and it is only read here.
    unsafe {
        let p = params.as_ptr();
        let size = usize::try_from((*p).extradata_size).unwrap_or(0);
        let extradata = if (*p).extradata.is_null() || size == 0 {
            Vec::new()
        } else {
            std::slice::from_raw_parts((*p).extradata, size).to_vec()
        };
        let dim = |v: i32| u32::try_from(v).unwrap_or(0);
        (extradata, dim((*p).width), dim((*p).height))
    }
}

/// Every packet of stream `index`, timed in 90 kHz. A packet without a
/// timestamp follows the one before it.
fn read_samples(
    input: &mut ffmpeg_next::format::context::Input,
    index: usize,
    time_base: ffmpeg_next::Rational,
) -> Vec<Sample> {
    use ffmpeg_next::Rescale;
    let to_90k = |ts: i64| ts.rescale(time_base, ffmpeg_next::Rational(1, CLOCK_RATE as i32));
    let mut samples: Vec<Sample> = Vec::new();
    for (stream, packet) in input.packets() {
        if stream.index() != index {
            continue;
        }
        let Some(data) = packet.data() else { continue };
        let guess = samples.last().map_or(0, |s| s.dts + s.duration.max(1));
        let dts = packet.dts().or(packet.pts()).map_or(guess, to_90k);
        let pts = packet.pts().map_or(dts, to_90k);
        samples.push(Sample {
            dts,
            pts,
            duration: to_90k(packet.duration()),
            keyframe: packet.is_key(),
            data: data.to_vec(),
        });
    }
    samples
}

impl AvcConfig {
    fn parse(record: &[u8]) -> Option<AvcConfig> {
        if record.len() < 7 || record[0] != 1 {
            return None;
        }
        let length_size = usize::from(record[4] & 0x03) + 1;
        let mut rest = &record[5..];
        let sps = read_sets(&mut rest, 0x1f)?;
        let pps = read_sets(&mut rest, 0xff)?;
        (!sps.is_empty() && !pps.is_empty()).then_some(AvcConfig {
            length_size,
            sps,
            pps,
        })
    }
}

/// A count byte (masked), then that many 16-bit-length-prefixed NAL units.
fn read_sets(rest: &mut &[u8], count_mask: u8) -> Option<Vec<Vec<u8>>> {
    let (&count, tail) = rest.split_first()?;
    *rest = tail;
    (0..count & count_mask)
        .map(|_| {
            let len = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
            let nal = rest.get(2..2 + len)?.to_vec();
            *rest = &rest[2 + len..];
            Some(nal)
        })
        .collect()
}

/// The NAL units of an MP4 sample: each prefixed by its length in
/// `length_size` big-endian bytes. `None` if the sample is cut short.
fn split_avcc(mut data: &[u8], length_size: usize) -> Option<Vec<Vec<u8>>> {
    let mut nals = Vec::new();
    while !data.is_empty() {
        let prefix = data.get(..length_size)?;
        let len = prefix
            .iter()
            .fold(0usize, |n, &b| (n << 8) | usize::from(b));
        let nal = data.get(length_size..length_size + len)?;
        if !nal.is_empty() {
            nals.push(nal.to_vec());
        }
        data = &data[length_size + len..];
    }
    Some(nals)
}

fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| b & 0x1f)
}

// ---------------------------------------------------------------- RTP

/// One access unit, packetized: what a camera broadcasts.
#[derive(Debug)]
struct Unit {
    keyframe: bool,
    rtp_time: u32,
    /// The sequence number of its first packet.
    first_seq: u16,
    /// Whole RTP packets (header and payload).
    packets: Vec<Vec<u8>>,
}

/// The RTP packets (RFC 6184) of one access unit, numbered on from
/// `*seq`: one packet per small NAL unit, FU-A fragments of a large one,
/// the marker bit on the unit's last packet.
fn packetize(nals: &[Vec<u8>], rtp_time: u32, ssrc: u32, seq: &mut u16) -> Vec<Vec<u8>> {
    let payloads: Vec<Vec<u8>> = nals
        .iter()
        .flat_map(|nal| payloads(nal, MAX_PAYLOAD))
        .collect();
    let last = payloads.len().saturating_sub(1);
    payloads
        .iter()
        .enumerate()
        .map(|(i, payload)| {
            let packet = rtp_packet(payload, i == last, *seq, rtp_time, ssrc);
            *seq = seq.wrapping_add(1);
            packet
        })
        .collect()
}

/// The RTP payloads carrying one NAL unit: the unit itself when it fits,
/// else FU-A fragments (indicator: the unit's F and NRI bits with type 28;
/// header: start/end bits and the unit's type).
fn payloads(nal: &[u8], max: usize) -> Vec<Vec<u8>> {
    if nal.len() <= max {
        return vec![nal.to_vec()];
    }
    let indicator = (nal[0] & 0xe0) | 28;
    let kind = nal[0] & 0x1f;
    let chunks: Vec<&[u8]> = nal[1..].chunks(max - 2).collect();
    let last = chunks.len() - 1;
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let start = if i == 0 { 0x80 } else { 0 };
            let end = if i == last { 0x40 } else { 0 };
            let mut payload = Vec::with_capacity(chunk.len() + 2);
            payload.extend_from_slice(&[indicator, start | end | kind]);
            payload.extend_from_slice(chunk);
            payload
        })
        .collect()
}

fn rtp_packet(payload: &[u8], marker: bool, seq: u16, rtp_time: u32, ssrc: u32) -> Vec<u8> {
    let mut packet = Vec::with_capacity(12 + payload.len());
    packet.push(0x80); // version 2, no padding, extension or CSRCs
    packet.push(if marker { 0x80 } else { 0 } | PAYLOAD_TYPE);
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(&rtp_time.to_be_bytes());
    packet.extend_from_slice(&ssrc.to_be_bytes());
    packet.extend_from_slice(payload);
    packet
}

// ---------------------------------------------------------------- cameras

/// One simulated camera, as client sessions see it.
struct Camera {
    name: String,
    ssrc: u32,
    sdp: String,
    units: broadcast::Sender<Arc<Unit>>,
}

/// What a producer needs of its camera.
struct Feed {
    ssrc: u32,
    units: broadcast::Sender<Arc<Unit>>,
}

impl Camera {
    fn new(name: String, clip: &Clip) -> Camera {
        let ssrc = rand::random();
        let (units, _) = broadcast::channel(QUEUE_UNITS);
        Camera {
            sdp: sdp(&name, ssrc, clip),
            name,
            ssrc,
            units,
        }
    }

    fn feed(&self) -> Feed {
        Feed {
            ssrc: self.ssrc,
            units: self.units.clone(),
        }
    }
}

/// The camera: plays the clip in real time from frame `start`, forever,
/// whether or not anyone watches. Frames are due on one schedule from the
/// first, so pacing does not drift.
async fn produce(clip: Arc<Clip>, feed: Feed, start: usize) {
    let rtp_base: u32 = rand::random();
    let mut seq: u16 = rand::random();
    let mut epoch = Instant::now();
    let mut at = Cursor {
        lap: 0,
        index: start,
    };
    loop {
        let due = epoch + ticks_to_duration(clip.elapsed(start, at));
        let now = Instant::now();
        if now > due + MAX_LATE {
            epoch += now - due;
        } else {
            tokio::time::sleep_until(due).await;
        }
        let frame = &clip.frames[at.index];
        let rtp_time = clip.rtp_time(rtp_base, start, at);
        let first_seq = seq;
        let packets = packetize(&frame.nals, rtp_time, feed.ssrc, &mut seq);
        let unit = Unit {
            keyframe: frame.keyframe,
            rtp_time,
            first_seq,
            packets,
        };
        // Nobody watching is fine: a camera runs anyway.
        let _ = feed.units.send(Arc::new(unit));
        at = clip.next(at);
    }
}

fn ticks_to_duration(ticks: u64) -> Duration {
    let nanos = (ticks % CLOCK_RATE) * 1_000_000_000 / CLOCK_RATE;
    Duration::from_secs(ticks / CLOCK_RATE) + Duration::from_nanos(nanos)
}

/// The session description of a camera: one H.264 track, live.
fn sdp(name: &str, session_id: u32, clip: &Clip) -> String {
    let b64 = |nal: &Vec<u8>| base64::engine::general_purpose::STANDARD.encode(nal);
    let sets: Vec<String> = clip.sps.iter().chain(&clip.pps).map(b64).collect();
    let profile_level_id: String = clip.sps[0]
        .get(1..4)
        .unwrap_or_default()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    format!(
        "v=0\r\n\
         o=- {session_id} 1 IN IP4 127.0.0.1\r\n\
         s=Peregrine demo {name}\r\n\
         c=IN IP4 127.0.0.1\r\n\
         t=0 0\r\n\
         a=tool:{SERVER}\r\n\
         a=type:broadcast\r\n\
         a=control:*\r\n\
         a=range:npt=now-\r\n\
         m=video 0 RTP/AVP {PAYLOAD_TYPE}\r\n\
         a=rtpmap:{PAYLOAD_TYPE} H264/{CLOCK_RATE}\r\n\
         a=fmtp:{PAYLOAD_TYPE} packetization-mode=1;profile-level-id={profile_level_id};sprop-parameter-sets={}\r\n\
         a=framerate:{}\r\n\
         a=control:{TRACK}\r\n",
        sets.join(","),
        format_rate(clip.frame_rate),
    )
}

/// 10 → "10", 29.97002997 → "29.97".
fn format_rate(rate: f64) -> String {
    let text = format!("{rate:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

// ---------------------------------------------------------------- RTSP parsing

/// What a client sent: one RTSP request, or one interleaved binary frame
/// (an RTCP receiver report, say), which is read and ignored.
#[derive(Debug, PartialEq)]
enum Message {
    Request(Request),
    Interleaved { channel: u8, len: usize },
}

#[derive(Debug, PartialEq)]
struct Request {
    method: String,
    uri: String,
    version: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The session id a request names, without `;timeout=…`.
    fn session(&self) -> Option<&str> {
        let value = self.header("Session")?;
        Some(value.split(';').next().unwrap_or(value).trim())
    }
}

/// The first message in `buf`, with how many bytes it took; `None` while
/// it is still incomplete (clients may pipeline several in one read, or
/// split one across reads).
fn parse_message(buf: &[u8]) -> Result<Option<(Message, usize)>, &'static str> {
    // Some clients end a request with an extra line break.
    let skipped = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let buf = &buf[skipped..];
    if buf.first() == Some(&b'$') {
        let Some(header) = buf.get(..4) else {
            return Ok(None);
        };
        let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
        if buf.len() < 4 + len {
            return Ok(None);
        }
        let frame = Message::Interleaved {
            channel: header[1],
            len,
        };
        return Ok(Some((frame, skipped + 4 + len)));
    }
    let Some(head_len) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > MAX_REQUEST {
            Err("request head too large")
        } else {
            Ok(None)
        };
    };
    let head = std::str::from_utf8(&buf[..head_len]).map_err(|_| "request is not text")?;
    let request = parse_head(head)?;
    let body = match request.header("Content-Length") {
        Some(v) => v
            .trim()
            .parse::<usize>()
            .map_err(|_| "bad Content-Length")?,
        None => 0,
    };
    if body > MAX_REQUEST {
        return Err("request body too large");
    }
    let total = head_len + 4 + body;
    if buf.len() < total {
        return Ok(None);
    }
    Ok(Some((Message::Request(request), skipped + total)))
}

/// The request line and headers.
fn parse_head(head: &str) -> Result<Request, &'static str> {
    let mut lines = head.split("\r\n");
    let mut line = lines.next().unwrap_or_default().split_whitespace();
    let (Some(method), Some(uri), Some(version), None) =
        (line.next(), line.next(), line.next(), line.next())
    else {
        return Err("bad request line");
    };
    let headers = lines
        .map(|l| {
            let (name, value) = l.split_once(':').ok_or("bad header line")?;
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect::<Result<_, &'static str>>()?;
    Ok(Request {
        method: method.to_owned(),
        uri: uri.to_owned(),
        version: version.to_owned(),
        headers,
    })
}

/// What a request URL names: a camera (0-based), or its one track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Camera(usize),
    Track(usize),
}

/// `rtsp://host:port/cam2`, `/cam2/` or `…/cam2/trackID=0`, for cameras
/// 1..=`cameras`; `None` for anything else.
fn parse_target(uri: &str, cameras: usize) -> Option<Target> {
    let path = match uri.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("rtsp://") => {
            let rest = &uri[7..];
            &rest[rest.find('/').unwrap_or(rest.len())..]
        }
        _ => uri,
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    let number = segments.next()?.strip_prefix("cam")?;
    if number.starts_with('0') || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: usize = number.parse().ok()?;
    if !(1..=cameras).contains(&n) {
        return None;
    }
    match (segments.next(), segments.next()) {
        (None, _) => Some(Target::Camera(n - 1)),
        (Some(TRACK), None) => Some(Target::Track(n - 1)),
        _ => None,
    }
}

/// The first interleaved channel a SETUP's Transport header asks for, if
/// it offers RTP over the RTSP connection; `None` when it offers only UDP.
fn tcp_channel(transport: &str) -> Option<u8> {
    transport.split(',').find_map(|spec| {
        let mut params = spec.split(';').map(str::trim);
        if !params.next()?.eq_ignore_ascii_case("RTP/AVP/TCP") {
            return None;
        }
        let channel = match params.find_map(|p| p.strip_prefix("interleaved=")) {
            Some(range) => range.split('-').next()?.trim().parse::<u8>().ok()?,
            None => 0,
        };
        // RTCP takes the channel after it.
        channel.checked_add(1).map(|_| channel)
    })
}

// ---------------------------------------------------------------- RTSP replies

struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    content_type: &'static str,
    body: String,
}

impl Reply {
    fn new(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            content_type: "",
            body: String::new(),
        }
    }

    /// An error with a sentence saying what to do.
    fn error(status: u16, message: &str) -> Reply {
        let mut reply = Reply::new(status);
        reply.content_type = "text/plain";
        reply.body = format!("{message}\r\n");
        reply
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    fn encode(&self, cseq: Option<&str>) -> Vec<u8> {
        let mut text = format!("RTSP/1.0 {} {}\r\n", self.status, reason(self.status));
        if let Some(cseq) = cseq {
            text += &format!("CSeq: {cseq}\r\n");
        }
        text += &format!("Server: {SERVER}\r\n");
        for (name, value) in &self.headers {
            text += &format!("{name}: {value}\r\n");
        }
        if !self.body.is_empty() {
            text += &format!(
                "Content-Type: {}\r\nContent-Length: {}\r\n",
                self.content_type,
                self.body.len()
            );
        }
        text += "\r\n";
        text += &self.body;
        text.into_bytes()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        454 => "Session Not Found",
        455 => "Method Not Valid in This State",
        459 => "Aggregate Operation Not Allowed",
        461 => "Unsupported Transport",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "RTSP Version Not Supported",
        _ => "Error",
    }
}

// ---------------------------------------------------------------- sessions

/// Accepts clients until told to stop, then closes every session.
async fn serve(listener: TcpListener, cameras: Arc<[Camera]>, mut shutdown: watch::Receiver<bool>) {
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    sessions.spawn(serve_connection(stream, peer, cameras.clone()));
                }
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    warn!(target: "camsim", error = %e, "cannot accept a client");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(done) = sessions.join_next(), if !sessions.is_empty() => {
                if let Err(e) = done {
                    warn!(target: "camsim", error = %e, "a client session failed");
                }
            }
        }
    }
    drop(listener);
    sessions.shutdown().await;
}

/// One client connection: the session it set up, if any.
struct Connection {
    cameras: Arc<[Camera]>,
    peer: SocketAddr,
    session: Option<Session>,
}

struct Session {
    id: String,
    camera: usize,
    /// The track URL as the client sent it at SETUP (RTP-Info names it).
    track_url: String,
    channel: u8,
    playing: Option<Playing>,
    played_since: Option<Instant>,
}

/// A playing session's place in its camera's broadcast.
struct Playing {
    units: broadcast::Receiver<Arc<Unit>>,
    /// It fell behind and lost units: send nothing until the next keyframe,
    /// since the frames in between cannot be decoded.
    skipping: bool,
}

impl Playing {
    async fn next(&mut self) -> Option<Arc<Unit>> {
        loop {
            match self.units.recv().await {
                Ok(unit) if self.skipping && !unit.keyframe => {}
                Ok(unit) => {
                    self.skipping = false;
                    return Some(unit);
                }
                Err(RecvError::Lagged(missed)) => {
                    debug!(target: "camsim", missed, "a client fell behind: skipping to the next keyframe");
                    self.skipping = true;
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

/// Serves one client until it leaves, fails, or stops reading.
async fn serve_connection(stream: TcpStream, peer: SocketAddr, cameras: Arc<[Camera]>) {
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let mut conn = Connection {
        cameras,
        peer,
        session: None,
    };
    let mut inbox = Vec::with_capacity(4096);
    let ended = loop {
        if let Err(reason) = conn.answer_all(&mut inbox, &mut writer).await {
            break reason;
        }
        let playing = conn.is_playing();
        tokio::select! {
            read = reader.read_buf(&mut inbox) => match read {
                Ok(0) => break "the client closed the connection".to_owned(),
                Ok(_) => {}
                Err(e) => break format!("read failed: {e}"),
            },
            unit = conn.next_unit() => match unit {
                Some(unit) => {
                    if let Err(reason) = conn.send_unit(&mut writer, &unit).await {
                        break reason;
                    }
                }
                None => break "the camera stopped".to_owned(),
            },
            () = tokio::time::sleep(IDLE_TIMEOUT), if !playing => {
                break format!("no request for {} s", IDLE_TIMEOUT.as_secs());
            }
        }
    };
    conn.end_session(&ended);
    debug!(target: "camsim", client = %peer, "connection closed: {ended}");
}

impl Connection {
    fn is_playing(&self) -> bool {
        self.session.as_ref().is_some_and(|s| s.playing.is_some())
    }

    /// The next unit to send; never ready while not playing.
    async fn next_unit(&mut self) -> Option<Arc<Unit>> {
        match self.session.as_mut().and_then(|s| s.playing.as_mut()) {
            Some(playing) => playing.next().await,
            None => std::future::pending().await,
        }
    }

    /// Answers every complete request in `inbox`, in order, and drops the
    /// interleaved frames between them. `Err` closes the connection.
    async fn answer_all(
        &mut self,
        inbox: &mut Vec<u8>,
        writer: &mut OwnedWriteHalf,
    ) -> Result<(), String> {
        loop {
            let (message, used) = match parse_message(inbox) {
                Ok(Some(parsed)) => parsed,
                Ok(None) => return Ok(()),
                Err(why) => {
                    let reply = Reply::error(400, why).encode(None);
                    let _ = timeout(WRITE_TIMEOUT, writer.write_all(&reply)).await;
                    return Err(format!("bad request: {why}"));
                }
            };
            inbox.drain(..used);
            let Message::Request(request) = message else {
                continue;
            };
            let (reply, first) = self.answer(&request).await;
            write(writer, &reply.encode(request.header("CSeq"))).await?;
            if let Some(unit) = first {
                self.send_unit(writer, &unit).await?;
            }
        }
    }

    /// The reply to one request, and for PLAY the first unit to send after it.
    async fn answer(&mut self, request: &Request) -> (Reply, Option<Arc<Unit>>) {
        if request.header("CSeq").is_none() {
            return (Reply::error(400, "every request needs a CSeq header"), None);
        }
        if !request.version.starts_with("RTSP/1.") {
            return (Reply::error(505, "this server speaks RTSP/1.0"), None);
        }
        if let (Some(asked), Some(session)) = (request.session(), &self.session) {
            if asked != session.id {
                return (
                    Reply::error(454, "no such session on this connection"),
                    None,
                );
            }
        }
        let reply = match request.method.as_str() {
            "OPTIONS" => Reply::new(200).header("Public", PUBLIC),
            "DESCRIBE" => self.describe(request),
            "SETUP" => self.setup(request),
            "PLAY" => return self.play().await,
            "PAUSE" => self.pause(),
            "TEARDOWN" => self.teardown(),
            "GET_PARAMETER" | "SET_PARAMETER" => Reply::new(200),
            _ => Reply::error(501, "method not supported").header("Public", PUBLIC),
        };
        (self.with_session(reply), None)
    }

    fn describe(&self, request: &Request) -> Reply {
        let Some(Target::Camera(camera)) = parse_target(&request.uri, self.cameras.len()) else {
            return self.not_found(&request.uri);
        };
        let mut reply = Reply::new(200).header(
            "Content-Base",
            format!("{}/", request.uri.trim_end_matches('/')),
        );
        reply.content_type = "application/sdp";
        reply.body = self.cameras[camera].sdp.clone();
        reply
    }

    fn setup(&mut self, request: &Request) -> Reply {
        let (Some(Target::Camera(camera)) | Some(Target::Track(camera))) =
            parse_target(&request.uri, self.cameras.len())
        else {
            return self.not_found(&request.uri);
        };
        let Some(channel) = request.header("Transport").and_then(tcp_channel) else {
            return Reply::error(
                461,
                "only RTP over the RTSP connection is served (RTP/AVP/TCP;interleaved): \
                 ask for TCP transport (ffmpeg: -rtsp_transport tcp)",
            );
        };
        if let Some(session) = &self.session {
            if session.camera != camera {
                return Reply::error(459, "one camera per connection: open another connection");
            }
            if session.playing.is_some() {
                return Reply::error(455, "already playing: TEARDOWN first");
            }
        }
        let session = self.session.get_or_insert_with(|| Session {
            id: format!("{:016X}", rand::random::<u64>()),
            camera,
            track_url: String::new(),
            channel: 0,
            playing: None,
            played_since: None,
        });
        session.track_url = request.uri.clone();
        session.channel = channel;
        let transport = format!(
            "RTP/AVP/TCP;unicast;interleaved={channel}-{};ssrc={:08X};mode=\"PLAY\"",
            channel + 1,
            self.cameras[camera].ssrc
        );
        Reply::new(200).header("Transport", transport)
    }

    /// Starts sending at the camera's next keyframe, which the reply's
    /// RTP-Info announces.
    async fn play(&mut self) -> (Reply, Option<Arc<Unit>>) {
        let Some(session) = self.session.as_mut() else {
            return (Reply::error(455, "SETUP first"), None);
        };
        if session.playing.is_some() {
            let reply = Reply::new(200).header("Range", "npt=now-");
            return (self.with_session(reply), None);
        }
        let camera = &self.cameras[session.camera];
        let mut units = camera.units.subscribe();
        let Ok(Some(first)) = timeout(KEYFRAME_WAIT, next_keyframe(&mut units)).await else {
            return (Reply::error(503, "the camera sends no keyframe"), None);
        };
        let rtp_info = format!(
            "url={};seq={};rtptime={}",
            session.track_url, first.first_seq, first.rtp_time
        );
        session.playing = Some(Playing {
            units,
            skipping: false,
        });
        if session.played_since.is_none() {
            session.played_since = Some(Instant::now());
            info!(
                target: "camsim",
                camera = %camera.name,
                client = %self.peer,
                session = %session.id,
                "client started playing"
            );
        }
        let reply = Reply::new(200)
            .header("Range", "npt=now-")
            .header("RTP-Info", rtp_info);
        (self.with_session(reply), Some(first))
    }

    fn pause(&mut self) -> Reply {
        match self.session.as_mut() {
            Some(session) => {
                session.playing = None;
                Reply::new(200)
            }
            None => Reply::error(455, "SETUP first"),
        }
    }

    fn teardown(&mut self) -> Reply {
        if self.session.is_none() {
            return Reply::error(454, "no session to tear down");
        }
        self.end_session("teardown");
        Reply::new(200)
    }

    /// Logs the end of a session that played.
    fn end_session(&mut self, why: &str) {
        let Some(session) = self.session.take() else {
            return;
        };
        if let Some(since) = session.played_since {
            info!(
                target: "camsim",
                camera = %self.cameras[session.camera].name,
                client = %self.peer,
                session = %session.id,
                "client left after {:.1} s: {why}",
                since.elapsed().as_secs_f64()
            );
        }
    }

    fn with_session(&self, reply: Reply) -> Reply {
        match &self.session {
            Some(s) => reply.header("Session", format!("{};timeout={SESSION_TIMEOUT_S}", s.id)),
            None => reply,
        }
    }

    fn not_found(&self, uri: &str) -> Reply {
        debug!(target: "camsim", client = %self.peer, uri, "unknown path");
        Reply::error(
            404,
            &format!(
                "no such camera: the paths are /cam1 to /cam{}",
                self.cameras.len()
            ),
        )
    }

    /// Writes one unit's packets, each framed for the session's channel.
    async fn send_unit(&self, writer: &mut OwnedWriteHalf, unit: &Unit) -> Result<(), String> {
        let Some(session) = &self.session else {
            return Ok(());
        };
        let size = unit.packets.iter().map(|p| p.len() + 4).sum();
        let mut framed = Vec::with_capacity(size);
        for packet in &unit.packets {
            framed.extend_from_slice(&[b'$', session.channel]);
            framed.extend_from_slice(&(packet.len() as u16).to_be_bytes());
            framed.extend_from_slice(packet);
        }
        write(writer, &framed).await
    }
}

/// Waits for the next keyframe, dropping what comes before it.
async fn next_keyframe(units: &mut broadcast::Receiver<Arc<Unit>>) -> Option<Arc<Unit>> {
    loop {
        match units.recv().await {
            Ok(unit) if unit.keyframe => return Some(unit),
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return None,
        }
    }
}

/// Writes all of `bytes`, or fails when the client has stopped reading.
async fn write(writer: &mut OwnedWriteHalf, bytes: &[u8]) -> Result<(), String> {
    match timeout(WRITE_TIMEOUT, writer.write_all(bytes)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("write failed: {e}")),
        Err(_) => Err(format!(
            "the client stopped reading for {} s",
            WRITE_TIMEOUT.as_secs()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str) -> (Message, usize) {
        parse_message(text.as_bytes()).unwrap().unwrap()
    }

    #[test]
    fn parses_one_request() {
        let text =
            "OPTIONS rtsp://127.0.0.1:8554/cam1 RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: x\r\n\r\n";
        let (Message::Request(req), used) = request(text) else {
            panic!("not a request")
        };
        assert_eq!(used, text.len());
        assert_eq!(req.method, "OPTIONS");
        assert_eq!(req.uri, "rtsp://127.0.0.1:8554/cam1");
        assert_eq!(req.version, "RTSP/1.0");
        assert_eq!(req.header("cseq"), Some("1"));
        assert_eq!(req.header("Session"), None);
    }

    #[test]
    fn waits_for_the_rest_of_a_request() {
        let text =
            "SET_PARAMETER rtsp://h/cam1 RTSP/1.0\r\nCSeq: 5\r\nContent-Length: 10\r\n\r\nab";
        assert_eq!(parse_message(text.as_bytes()), Ok(None));
        assert_eq!(
            parse_message(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n"),
            Ok(None)
        );
        assert_eq!(parse_message(b"$\x01\x00"), Ok(None));
        assert_eq!(parse_message(b"$\x01\x00\x08abc"), Ok(None));
        let whole = format!("{text}cdefghij");
        let (_, used) = request(&whole);
        assert_eq!(used, whole.len());
    }

    #[test]
    fn parses_pipelined_requests_and_interleaved_frames() {
        let mut buf = Vec::new();
        buf.extend_from_slice(
            b"GET_PARAMETER rtsp://h/cam1/ RTSP/1.0\r\nCSeq: 7\r\nSession: ABC;timeout=60\r\n\r\n",
        );
        buf.extend_from_slice(b"$\x01\x00\x04\x80\xc9\x00\x01");
        buf.extend_from_slice(b"\r\nTEARDOWN rtsp://h/cam1/ RTSP/1.0\r\nCSeq: 8\r\n\r\nOPTI");
        let mut seen = Vec::new();
        while let Some((message, used)) = parse_message(&buf).unwrap() {
            seen.push(message);
            buf.drain(..used);
        }
        assert_eq!(buf, b"OPTI");
        assert_eq!(seen.len(), 3);
        let Message::Request(first) = &seen[0] else {
            panic!("{:?}", seen[0])
        };
        assert_eq!(
            (first.method.as_str(), first.session()),
            ("GET_PARAMETER", Some("ABC"))
        );
        assert_eq!(seen[1], Message::Interleaved { channel: 1, len: 4 });
        let Message::Request(third) = &seen[2] else {
            panic!("{:?}", seen[2])
        };
        assert_eq!(
            (third.method.as_str(), third.header("CSeq")),
            ("TEARDOWN", Some("8"))
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_message(b"hello\r\n\r\n").is_err());
        assert!(parse_message(b"OPTIONS * RTSP/1.0\r\nno colon\r\n\r\n").is_err());
        assert!(parse_message(b"OPTIONS * RTSP/1.0\r\nContent-Length: x\r\n\r\n").is_err());
        assert!(parse_message(b"OPTIONS * RTSP/1.0\r\n\xff: x\r\n\r\n").is_err());
        assert!(parse_message(&vec![b'A'; MAX_REQUEST + 1]).is_err());
    }

    #[test]
    fn resolves_paths() {
        use Target::*;
        assert_eq!(
            parse_target("rtsp://127.0.0.1:8554/cam1", 2),
            Some(Camera(0))
        );
        assert_eq!(parse_target("RTSP://localhost/cam2/", 2), Some(Camera(1)));
        assert_eq!(parse_target("rtsp://h:1/cam2/trackID=0", 2), Some(Track(1)));
        assert_eq!(parse_target("/cam1?x=1", 2), Some(Camera(0)));
        assert_eq!(parse_target("rtsp://h/cam3", 2), None);
        assert_eq!(parse_target("rtsp://h/cam0", 2), None);
        assert_eq!(parse_target("rtsp://h/cam01", 2), None);
        assert_eq!(parse_target("rtsp://h/cam+1", 2), None);
        assert_eq!(parse_target("rtsp://h/nope", 2), None);
        assert_eq!(parse_target("rtsp://h/cam1/trackID=1", 2), None);
        assert_eq!(parse_target("rtsp://h/cam1/trackID=0/x", 2), None);
        assert_eq!(parse_target("rtsp://h", 2), None);
        assert_eq!(parse_target("*", 2), None);
    }

    #[test]
    fn accepts_only_tcp_transport() {
        assert_eq!(tcp_channel("RTP/AVP/TCP;unicast;interleaved=0-1"), Some(0));
        assert_eq!(
            tcp_channel("RTP/AVP/TCP;unicast;interleaved=2-3;mode=play"),
            Some(2)
        );
        assert_eq!(tcp_channel("RTP/AVP/TCP;unicast"), Some(0));
        assert_eq!(
            tcp_channel("RTP/AVP;unicast;client_port=5000-5001,RTP/AVP/TCP;interleaved=4-5"),
            Some(4)
        );
        assert_eq!(tcp_channel("RTP/AVP;unicast;client_port=5000-5001"), None);
        assert_eq!(
            tcp_channel("RTP/AVP/UDP;unicast;client_port=5000-5001"),
            None
        );
        assert_eq!(tcp_channel("RTP/AVP/TCP;interleaved=255"), None);
        assert_eq!(tcp_channel("RTP/AVP/TCP;interleaved=x-1"), None);
    }

    #[test]
    fn sends_small_nal_units_whole() {
        let nal = vec![0x65; 1400];
        assert_eq!(payloads(&nal, 1400), vec![nal]);
    }

    #[test]
    fn fragments_large_nal_units_with_fu_a() {
        let mut nal = vec![0x65]; // nal_ref_idc 3, type 5 (IDR)
        nal.extend((0..3000u32).map(|i| i as u8));
        let parts = payloads(&nal, 1400);
        assert_eq!(parts.len(), 3); // 3000 bytes in 1398-byte pieces
        for (i, part) in parts.iter().enumerate() {
            assert!(part.len() <= 1400);
            assert_eq!(part[0], 0x60 | 28, "FU indicator keeps F and NRI");
            assert_eq!(part[1] & 0x1f, 5, "FU header keeps the type");
            assert_eq!(part[1] & 0x80 != 0, i == 0, "start bit");
            assert_eq!(part[1] & 0x40 != 0, i == parts.len() - 1, "end bit");
        }
        // Reassembly gives the unit back.
        let mut again = vec![(parts[0][0] & 0xe0) | (parts[0][1] & 0x1f)];
        for part in &parts {
            again.extend_from_slice(&part[2..]);
        }
        assert_eq!(again, nal);
    }

    #[test]
    fn numbers_packets_and_marks_the_last_of_a_unit() {
        let nals = vec![vec![0x67, 1, 2], vec![0x68, 3], vec![0x65; 2000]];
        let mut seq = u16::MAX;
        let packets = packetize(&nals, 0x0102_0304, 0xAABB_CCDD, &mut seq);
        assert_eq!(packets.len(), 4);
        assert_eq!(seq, 3);
        for (i, p) in packets.iter().enumerate() {
            assert_eq!(p[0], 0x80);
            assert_eq!(p[1] & 0x7f, PAYLOAD_TYPE);
            assert_eq!(p[1] & 0x80 != 0, i == 3, "marker on the last packet only");
            assert_eq!(
                u16::from_be_bytes([p[2], p[3]]),
                u16::MAX.wrapping_add(i as u16)
            );
            assert_eq!(&p[4..8], &[1, 2, 3, 4]);
            assert_eq!(&p[8..12], &[0xAA, 0xBB, 0xCC, 0xDD]);
        }
        assert_eq!(&packets[0][12..], &[0x67, 1, 2]);
    }

    fn avcc_record() -> Vec<u8> {
        let sps = [0x67, 0x4d, 0x40, 0x1f, 0xaa];
        let pps = [0x68, 0xee, 0x3c, 0x80];
        let mut record = vec![1, 0x4d, 0x40, 0x1f, 0xff, 0xe1, 0, sps.len() as u8];
        record.extend_from_slice(&sps);
        record.extend_from_slice(&[1, 0, pps.len() as u8]);
        record.extend_from_slice(&pps);
        record
    }

    /// `n` frames 9000 ticks apart (10 fps), a keyframe every `gop`.
    fn clip(n: usize, gop: usize) -> Clip {
        let config = AvcConfig::parse(&avcc_record()).unwrap();
        let samples = (0..n)
            .map(|i| Sample {
                dts: 1000 + i as i64 * 9000,
                pts: 1000 + i as i64 * 9000,
                duration: 9000,
                keyframe: i % gop == 0,
                data: if i % gop == 0 {
                    vec![0, 0, 0, 2, 0x65, i as u8]
                } else {
                    vec![0, 0, 0, 2, 0x41, i as u8]
                },
            })
            .collect();
        Clip::build(config, samples, Some(10.0)).unwrap()
    }

    #[test]
    fn reads_the_avcc_record_and_sample_nal_units() {
        let config = AvcConfig::parse(&avcc_record()).unwrap();
        assert_eq!(config.length_size, 4);
        assert_eq!(config.sps, vec![vec![0x67, 0x4d, 0x40, 0x1f, 0xaa]]);
        assert_eq!(config.pps, vec![vec![0x68, 0xee, 0x3c, 0x80]]);
        assert_eq!(AvcConfig::parse(&avcc_record()[..10]), None);
        assert_eq!(AvcConfig::parse(&[0; 7]), None);
        let sample = [0, 0, 0, 2, 0x06, 1, 0, 0, 0, 3, 0x65, 2, 3];
        assert_eq!(
            split_avcc(&sample, 4),
            Some(vec![vec![0x06, 1], vec![0x65, 2, 3]])
        );
        assert_eq!(split_avcc(&sample[..12], 4), None);
    }

    #[test]
    fn keyframes_carry_sps_and_pps() {
        let clip = clip(20, 10);
        assert_eq!(clip.duration, 180_000);
        let types = |f: &Frame| f.nals.iter().map(|n| nal_type(n)).collect::<Vec<_>>();
        assert_eq!(types(&clip.frames[0]), vec![7, 8, 5]);
        assert_eq!(types(&clip.frames[1]), vec![1]);
        assert_eq!(types(&clip.frames[10]), vec![7, 8, 5]);
    }

    #[test]
    fn writes_the_session_description() {
        let sdp = sdp("cam1", 42, &clip(20, 10));
        for line in [
            "v=0",
            "o=- 42 1 IN IP4 127.0.0.1",
            "a=control:*",
            "a=range:npt=now-",
            "m=video 0 RTP/AVP 96",
            "a=rtpmap:96 H264/90000",
            "a=fmtp:96 packetization-mode=1;profile-level-id=4D401F;sprop-parameter-sets=Z01AH6o=,aO48gA==",
            "a=framerate:10",
            "a=control:trackID=0",
        ] {
            assert!(sdp.split("\r\n").any(|l| l == line), "{line:?} not in\n{sdp}");
        }
        assert!(sdp.ends_with("\r\n"));
        assert_eq!(format_rate(30000.0 / 1001.0), "29.97");
        assert_eq!(format_rate(12.5), "12.5");
    }

    #[test]
    fn cameras_start_at_keyframes_spread_over_the_clip() {
        let clip = clip(80, 10); // 8 s
        let starts: Vec<usize> = (0..4).map(|i| clip.start_frame(i, 4)).collect();
        assert_eq!(starts, vec![0, 20, 40, 60]);
        let starts: Vec<usize> = (0..3).map(|i| clip.start_frame(i, 3)).collect();
        assert_eq!(starts, vec![0, 20, 50]); // 2.67 s and 5.33 s snap back
    }

    #[test]
    fn rtp_time_is_continuous_across_loops() {
        let clip = clip(20, 10);
        // Start mid-clip, near the 32-bit wrap, and play three laps.
        let (start, base) = (10, u32::MAX - 50_000);
        let mut at = Cursor {
            lap: 0,
            index: start,
        };
        let mut times = vec![clip.rtp_time(base, start, at)];
        let mut elapsed = vec![clip.elapsed(start, at)];
        for _ in 0..50 {
            at = clip.next(at);
            times.push(clip.rtp_time(base, start, at));
            elapsed.push(clip.elapsed(start, at));
        }
        assert_eq!(at, Cursor { lap: 3, index: 0 });
        assert_eq!(times[0], base);
        for pair in times.windows(2) {
            assert_eq!(pair[1].wrapping_sub(pair[0]), 9000, "{times:?}");
        }
        for pair in elapsed.windows(2) {
            assert_eq!(pair[1] - pair[0], 9000);
        }
        assert_eq!(ticks_to_duration(elapsed[50]), Duration::from_secs(50) / 10);
    }

    #[test]
    fn replies_echo_cseq_and_carry_a_body_length() {
        let text =
            String::from_utf8(Reply::error(404, "no such camera").encode(Some("3"))).unwrap();
        assert!(
            text.starts_with("RTSP/1.0 404 Not Found\r\nCSeq: 3\r\n"),
            "{text}"
        );
        assert!(text.contains("Content-Length: 16\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\nno such camera\r\n"), "{text}");
    }
}
