//! Decode: one OS thread per camera turns access units into pictures with
//! FFmpeg, off the async runtime. Every frame is decoded (H.264 needs its
//! references), but only frames due at the camera's detect fps are
//! converted: to RGB at full size for snapshots, and to the detector's
//! input (BGR, plain resize) for the shared detector queue.

use std::path::Path;
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use ffmpeg::format::Pixel;
use ffmpeg::software::scaling;
use ffmpeg_next as ffmpeg;
use tokio::sync::broadcast;
use tracing::{debug, info, warn};

use crate::camera::CameraId;
use crate::clock::MediaTime;
use crate::detect::{DetectJob, DetectionFilter, DetectorQueue, INPUT_SIZE};
use crate::error::EngineError;
use crate::ingest::{AccessUnit, VideoParams};
use crate::motion::MotionGate;

/// A decoded picture, packed RGB24.
#[derive(Debug)]
pub struct RgbFrame {
    pub media_time: MediaTime,
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl RgbFrame {
    /// Encodes the picture as a baseline JPEG (for snapshots).
    pub fn to_jpeg(&self, quality: u8) -> Result<Vec<u8>, String> {
        let size = |v: u32| {
            u16::try_from(v).map_err(|_| format!("a {v}-pixel side is too large for JPEG"))
        };
        let mut out = Vec::with_capacity(self.rgb.len() / 8);
        jpeg_encoder::Encoder::new(&mut out, quality)
            .encode(
                &self.rgb,
                size(self.width)?,
                size(self.height)?,
                jpeg_encoder::ColorType::Rgb,
            )
            .map_err(|e| e.to_string())?;
        Ok(out)
    }
}

/// Whether an RFC 6381 codec string names H.265 (`hvc1…` / `hev1…`).
pub fn is_h265(rfc6381: &str) -> bool {
    rfc6381.starts_with("hvc1") || rfc6381.starts_with("hev1")
}

/// The latest picture of a camera, shared with the API for snapshots.
pub type LatestFrame = Arc<Mutex<Option<Arc<RgbFrame>>>>;

/// Where decoded frames go.
pub struct DecodeOutputs {
    pub camera: CameraId,
    pub filter: Arc<DetectionFilter>,
    pub latest: LatestFrame,
    pub detector: Option<DetectorQueue>,
    /// Skip the detector on frames where nothing moved (see [`crate::motion`]).
    pub motion_gate: bool,
    /// Where the camera's tracked objects are (the gate predicts motion on them).
    pub tracked: crate::motion::TrackedAreas,
}

/// Spawns the decode thread. It ends when the ingest side drops its sender.
pub fn spawn(
    detect_fps: f32,
    units: broadcast::Receiver<Arc<AccessUnit>>,
    outputs: DecodeOutputs,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("decode-{}", outputs.camera))
        .spawn(move || run(detect_fps, units, outputs))
}

fn run(detect_fps: f32, mut units: broadcast::Receiver<Arc<AccessUnit>>, outputs: DecodeOutputs) {
    let camera = outputs.camera;
    let interval_us = (1_000_000.0 / f64::from(detect_fps.max(0.1))) as i64;
    let mut sampler = Sampler::new(interval_us);
    let mut decoder: Option<VideoDecoder> = None;
    let mut need_keyframe = true;
    loop {
        let unit = match units.blocking_recv() {
            Ok(unit) => unit,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                debug!(
                    camera,
                    skipped = n,
                    "decoder fell behind; waiting for a keyframe"
                );
                need_keyframe = true;
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => break,
        };
        if need_keyframe && !unit.random_access {
            continue;
        }
        need_keyframe = false;
        if decoder.as_ref().is_none_or(|d| d.params != unit.params) {
            match VideoDecoder::new(unit.params.clone()) {
                Ok(d) => decoder = Some(d),
                Err(e) => {
                    warn!(camera, error = %e, "cannot open decoder");
                    need_keyframe = true;
                    continue;
                }
            }
        }
        let Some(dec) = decoder.as_mut() else {
            continue;
        };
        let wanted = sampler.due(unit.media_time);
        if let Err(e) = dec.decode(&unit, wanted, &outputs) {
            debug!(camera, error = %e, "decode error; waiting for the next keyframe");
            need_keyframe = true;
        }
    }
    info!(camera, "decoder stopped");
}

/// Picks frames at the detect rate from a stream of media times.
struct Sampler {
    interval_us: i64,
    next_due: Option<MediaTime>,
}

impl Sampler {
    fn new(interval_us: i64) -> Self {
        Self {
            interval_us,
            next_due: None,
        }
    }

    fn due(&mut self, t: MediaTime) -> bool {
        match self.next_due {
            // A backwards jump (re-anchored clock) restarts the schedule.
            Some(next) if t < next && next - t <= self.interval_us => false,
            _ => {
                // Allow 10% early so a 10 fps source sampled at 5 fps keeps every other frame.
                self.next_due = Some(t + self.interval_us * 9 / 10);
                true
            }
        }
    }
}

struct VideoDecoder {
    params: Arc<VideoParams>,
    decoder: ffmpeg::decoder::Video,
    to_rgb: Option<Scaler>,
    to_detector: Option<Scaler>,
    gate: MotionGate,
}

struct Scaler {
    context: scaling::Context,
    key: (Pixel, u32, u32),
}

fn init_ffmpeg() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if let Err(e) = ffmpeg::init() {
            warn!(error = %e, "ffmpeg init failed");
        }
        ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Error);
    });
}

impl VideoDecoder {
    fn new(params: Arc<VideoParams>) -> Result<Self, EngineError> {
        init_ffmpeg();
        let err = |e: ffmpeg::Error| EngineError::Decode {
            message: e.to_string(),
        };
        let (id, name) = if is_h265(&params.rfc6381_codec) {
            (ffmpeg::codec::Id::HEVC, "H.265")
        } else {
            (ffmpeg::codec::Id::H264, "H.264")
        };
        let codec = ffmpeg::decoder::find(id).ok_or(EngineError::Decode {
            message: format!("this FFmpeg has no {name} decoder"),
        })?;
        let mut context = ffmpeg::codec::Context::new_with_codec(codec);
        set_extradata(&mut context, &params.extra_data);
        // One thread per stream: frame threading gains nothing on 2 cores and adds latency.
        context.set_threading(ffmpeg::threading::Config {
            count: 1,
            ..Default::default()
        });
        let decoder = context.decoder().video().map_err(err)?;
        Ok(Self {
            params,
            decoder,
            to_rgb: None,
            to_detector: None,
            gate: MotionGate::default(),
        })
    }

    fn decode(
        &mut self,
        unit: &AccessUnit,
        wanted: bool,
        outputs: &DecodeOutputs,
    ) -> Result<(), ffmpeg::Error> {
        let mut packet = ffmpeg::Packet::copy(&unit.data);
        packet.set_pts(Some(unit.media_time));
        if unit.random_access {
            packet.set_flags(ffmpeg::codec::packet::Flags::KEY);
        }
        self.decoder.send_packet(&packet)?;
        let mut frame = ffmpeg::frame::Video::empty();
        while self.decoder.receive_frame(&mut frame).is_ok() {
            if wanted {
                self.publish(&frame, unit.media_time, outputs)?;
            }
        }
        Ok(())
    }

    fn publish(
        &mut self,
        frame: &ffmpeg::frame::Video,
        media_time: MediaTime,
        outputs: &DecodeOutputs,
    ) -> Result<(), ffmpeg::Error> {
        let (w, h) = (frame.width(), frame.height());
        let rgb = Scaler::convert(&mut self.to_rgb, frame, Pixel::RGB24, w, h)?;
        let snapshot = Arc::new(RgbFrame {
            media_time,
            width: w,
            height: h,
            rgb,
        });
        if let Ok(mut latest) = outputs.latest.lock() {
            *latest = Some(snapshot.clone());
        }
        if let Some(queue) = &outputs.detector {
            let size = INPUT_SIZE as u32;
            let bgr = Scaler::convert(&mut self.to_detector, frame, Pixel::BGR24, size, size)?;
            let tracked = outputs
                .tracked
                .lock()
                .map(|t| t.clone())
                .unwrap_or_default();
            if outputs.motion_gate && !self.gate.wants(&bgr, INPUT_SIZE, media_time, &tracked) {
                queue.record_gated();
                return Ok(());
            }
            queue.push(DetectJob {
                camera: outputs.camera,
                filter: outputs.filter.clone(),
                media_time,
                frame_width: w,
                frame_height: h,
                bgr,
                picture: Some(snapshot),
            });
        }
        Ok(())
    }
}

impl Scaler {
    /// Converts `frame` to a packed `format` picture of `w`×`h`, reusing the
    /// scaling context while the input stays the same.
    fn convert(
        slot: &mut Option<Scaler>,
        frame: &ffmpeg::frame::Video,
        format: Pixel,
        w: u32,
        h: u32,
    ) -> Result<Vec<u8>, ffmpeg::Error> {
        let key = (frame.format(), frame.width(), frame.height());
        if slot.as_ref().is_none_or(|s| s.key != key) {
            let context =
                scaling::Context::get(key.0, key.1, key.2, format, w, h, scaling::Flags::BILINEAR)?;
            *slot = Some(Scaler { context, key });
        }
        let Some(scaler) = slot.as_mut() else {
            return Err(ffmpeg::Error::Bug);
        };
        let mut out = ffmpeg::frame::Video::empty();
        scaler.context.run(frame, &mut out)?;
        Ok(pack(&out, w as usize * 3, h as usize))
    }
}

/// Copies plane 0 of `frame` into a tightly packed buffer.
fn pack(frame: &ffmpeg::frame::Video, row_bytes: usize, rows: usize) -> Vec<u8> {
    let stride = frame.stride(0);
    let data = frame.data(0);
    let mut packed = Vec::with_capacity(row_bytes * rows);
    for row in 0..rows {
        let start = row * stride;
        packed.extend_from_slice(&data[start..start + row_bytes]);
    }
    packed
}

/// What [`decode_file`] did: frames decoded, and in how long.
pub struct FileDecode {
    pub frames: u64,
    pub seconds: f64,
    pub width: u32,
    pub height: u32,
    /// The first sampled picture as the detector takes it (416² BGR24).
    pub detector_input: Vec<u8>,
}

/// Decodes a video file as a camera's decode thread would (FFmpeg, one
/// thread; every `sample_every`-th frame converted for the detector, none
/// when 0): one pass, then more passes while `budget` lasts. Measures this
/// machine's decode speed.
pub fn decode_file(
    path: &Path,
    budget: Duration,
    sample_every: u64,
) -> Result<FileDecode, EngineError> {
    init_ffmpeg();
    let started = Instant::now();
    let mut out = FileDecode {
        frames: 0,
        seconds: 0.0,
        width: 0,
        height: 0,
        detector_input: Vec::new(),
    };
    let mut to_detector = None;
    loop {
        let before = out.frames;
        decode_pass(path, sample_every, &mut to_detector, &mut out, || {
            !budget.is_zero() && started.elapsed() >= budget
        })?;
        if out.frames == before || started.elapsed() >= budget {
            break;
        }
    }
    out.seconds = started.elapsed().as_secs_f64();
    Ok(out)
}

fn decode_pass(
    path: &Path,
    sample_every: u64,
    to_detector: &mut Option<Scaler>,
    out: &mut FileDecode,
    out_of_time: impl Fn() -> bool,
) -> Result<(), EngineError> {
    let err = |e: ffmpeg::Error| EngineError::Decode {
        message: format!("{}: {e}", path.display()),
    };
    let mut input = ffmpeg::format::input(path).map_err(err)?;
    let stream = input
        .streams()
        .best(ffmpeg::media::Type::Video)
        .ok_or_else(|| EngineError::Decode {
            message: format!("{} has no video", path.display()),
        })?;
    let index = stream.index();
    let mut context = ffmpeg::codec::Context::from_parameters(stream.parameters()).map_err(err)?;
    context.set_threading(ffmpeg::threading::Config {
        count: 1,
        ..Default::default()
    });
    let mut decoder = context.decoder().video().map_err(err)?;
    let mut frame = ffmpeg::frame::Video::empty();
    let size = INPUT_SIZE as u32;
    let mut receive = |decoder: &mut ffmpeg::decoder::Video| -> Result<(), ffmpeg::Error> {
        while decoder.receive_frame(&mut frame).is_ok() {
            out.frames += 1;
            (out.width, out.height) = (frame.width(), frame.height());
            if sample_every > 0 && out.frames.is_multiple_of(sample_every) {
                let bgr = Scaler::convert(to_detector, &frame, Pixel::BGR24, size, size)?;
                if out.detector_input.is_empty() {
                    out.detector_input = bgr;
                }
            }
        }
        Ok(())
    };
    for (stream, packet) in input.packets() {
        if stream.index() != index {
            continue;
        }
        decoder.send_packet(&packet).map_err(err)?;
        receive(&mut decoder).map_err(err)?;
        if out_of_time() {
            break;
        }
    }
    let _ = decoder.send_eof();
    receive(&mut decoder).map_err(err)?;
    Ok(())
}

/// Hands the avcC record to the decoder, as an MP4 demuxer would.
fn set_extradata(context: &mut ffmpeg::codec::Context, extra: &[u8]) {
    if extra.is_empty() {
        return;
    }
    let padding = ffmpeg::ffi::AV_INPUT_BUFFER_PADDING_SIZE as usize;
    // SAFETY: the buffer is allocated with av_mallocz (as FFmpeg requires, since
    // it frees extradata itself), sized with FFmpeg's padding, and fully written
    // before the context sees it.
    unsafe {
        let buf = ffmpeg::ffi::av_mallocz(extra.len() + padding) as *mut u8;
        if buf.is_null() {
            return;
        }
        std::ptr::copy_nonoverlapping(extra.as_ptr(), buf, extra.len());
        let ctx = context.as_mut_ptr();
        (*ctx).extradata = buf;
        (*ctx).extradata_size = extra.len() as i32;
    }
}

#[cfg(test)]
mod tests {
    use super::Sampler;

    #[test]
    fn samples_ten_fps_down_to_five() {
        let mut sampler = Sampler::new(200_000);
        let kept = (0..20).filter(|i| sampler.due(i * 100_000)).count();
        assert_eq!(kept, 10);
    }

    #[test]
    fn restarts_after_a_backwards_jump() {
        let mut sampler = Sampler::new(200_000);
        assert!(sampler.due(10_000_000));
        assert!(
            sampler.due(1_000_000),
            "a clock re-anchor must not stall sampling"
        );
    }
}
