//! Recording: the camera's own video, never re-encoded, written through
//! [`crate::fmp4`] into segment files that start on a keyframe (`ftyp` +
//! `moov`, then fragments of at most [`FRAGMENT_US`]). Each fragment is
//! written and fsynced before the index hears of it, so a crash loses at
//! most the fragment being gathered; [`crate::fmp4::scan`] trims a torn tail
//! at the next start.
//!
//! One OS thread per camera (file writes and fsync never block the async
//! runtime), fed by the camera's access-unit broadcast like the live view,
//! so recording runs whatever the detector or the UI does. In events mode a
//! ring of whole GOPs gives the pre-roll and detections extend the post-roll.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, mpsc, Notify};
use tracing::{info, warn};

use crate::analyse::Record;
use crate::camera::CameraId;
use crate::clock::MediaTime;
use crate::fmp4::{self, Sample};
use crate::ingest::{AccessUnit, FromKeyframe, VideoParams};
use crate::pipeline::EngineEvent;

/// The longest fragment: what a crash can cost, and how often we fsync.
pub const FRAGMENT_US: i64 = 1_000_000;
/// No frame for this long closes the segment: the recording has a gap.
const STALL: Duration = Duration::from_secs(2);
/// After a write error, wait this long before trying a new file.
const ERROR_PAUSE: Duration = Duration::from_secs(1);
/// A frame's duration when the next frame does not tell it.
const DEFAULT_FRAME_US: i64 = 100_000;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordMode {
    Off,
    #[default]
    Continuous,
    /// Only around detections, with pre-roll and post-roll.
    Events,
}

impl RecordMode {
    pub fn parse(s: &str) -> Option<Self> {
        [RecordMode::Off, RecordMode::Continuous, RecordMode::Events]
            .into_iter()
            .find(|m| m.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RecordMode::Off => "off",
            RecordMode::Continuous => "continuous",
            RecordMode::Events => "events",
        }
    }
}

/// How one camera records.
#[derive(Clone, Debug)]
pub struct RecordingConfig {
    /// The recordings folder; segments go under `<camera>/<UTC date>/`.
    pub root: PathBuf,
    pub mode: RecordMode,
    /// A new segment starts at the first keyframe after this long.
    pub segment: Duration,
    pub pre_roll: Duration,
    pub post_roll: Duration,
}

/// What the index (the store's writer) is told about a segment file. Paths
/// are relative to the recordings folder.
#[derive(Clone, Debug)]
pub enum SegmentEvent {
    Opened {
        camera_id: CameraId,
        path: String,
        start_us: MediaTime,
        codec: String,
        width: u32,
        height: u32,
    },
    /// A fragment is on disk: the segment now reaches `end_us`.
    Grew {
        path: String,
        end_us: MediaTime,
        bytes: u64,
    },
    Closed {
        path: String,
        end_us: MediaTime,
        bytes: u64,
    },
    /// Closed before any video reached it; the file is gone.
    Discarded { path: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingState {
    Off,
    /// Waiting for the camera's first keyframe.
    Starting,
    Recording,
    /// Events mode with nothing happening: the pre-roll is kept in memory.
    Waiting,
    Error,
}

/// How a camera's recording is doing, for the camera's status.
#[derive(Clone, Debug, Serialize)]
pub struct RecordingHealth {
    pub state: RecordingState,
    /// A sentence when something is wrong, empty otherwise.
    pub message: String,
    pub last_written_at: Option<DateTime<Utc>>,
}

pub type SharedHealth = Arc<Mutex<RecordingHealth>>;

impl RecordingHealth {
    pub fn new(mode: RecordMode) -> SharedHealth {
        Arc::new(Mutex::new(Self {
            state: if mode == RecordMode::Off {
                RecordingState::Off
            } else {
                RecordingState::Starting
            },
            message: String::new(),
            last_written_at: None,
        }))
    }
}

/// Where a recorder reports.
pub struct RecorderOutputs {
    pub camera: CameraId,
    pub index: mpsc::Sender<Record>,
    pub health: SharedHealth,
    /// Woken when a write fails for lack of space, so retention prunes now.
    pub space_needed: Arc<Notify>,
}

/// Starts a camera's recorder thread; it ends when the camera's broadcast
/// closes, after closing its segment (written, fsynced, and the index told).
/// The thread returns whether that closed a segment holding video.
pub fn spawn(
    config: RecordingConfig,
    (cached, units): FromKeyframe,
    events: broadcast::Receiver<EngineEvent>,
    outputs: RecorderOutputs,
) -> io::Result<std::thread::JoinHandle<bool>> {
    let runtime = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name(format!("record-{}", outputs.camera))
        .spawn(move || {
            let mut recorder = Recorder::new(config, outputs, events);
            run(&runtime, &mut recorder, cached, units);
            let holds_video = recorder
                .segment
                .as_ref()
                .is_some_and(|s| s.sequence > 0 || !s.pending.is_empty());
            recorder.close_segment(None);
            holds_video
        })
}

fn run(
    runtime: &tokio::runtime::Handle,
    recorder: &mut Recorder,
    cached: Vec<Arc<AccessUnit>>,
    mut units: broadcast::Receiver<Arc<AccessUnit>>,
) {
    for unit in &cached {
        recorder.push(unit.clone());
    }
    let mut overlapping = !cached.is_empty();
    loop {
        match runtime.block_on(async { tokio::time::timeout(STALL, units.recv()).await }) {
            Ok(Ok(unit)) if overlapping && cached.iter().any(|c| Arc::ptr_eq(c, &unit)) => {}
            Ok(Ok(unit)) => {
                overlapping = false;
                recorder.push(unit);
            }
            Ok(Err(RecvError::Lagged(missed))) => {
                warn!(
                    camera = recorder.out.camera,
                    missed, "recorder fell behind; the recording has a gap"
                );
                recorder.close_segment(None);
            }
            Ok(Err(RecvError::Closed)) => return,
            Err(_stalled) => recorder.close_segment(None),
        }
    }
}

struct Segment {
    file: File,
    path: String,
    params: Arc<VideoParams>,
    start_us: MediaTime,
    end_us: MediaTime,
    bytes: u64,
    sequence: u32,
    /// Frames gathered for the next fragment.
    pending: Vec<Arc<AccessUnit>>,
    last_duration: i64,
}

struct Recorder {
    config: RecordingConfig,
    out: RecorderOutputs,
    events: broadcast::Receiver<EngineEvent>,
    segment: Option<Segment>,
    /// Events mode: whole GOPs covering at least the pre-roll.
    ring: VecDeque<Arc<AccessUnit>>,
    /// Events mode: record until this media time.
    active_until: MediaTime,
    paused_until: Option<Instant>,
}

impl Recorder {
    fn new(
        config: RecordingConfig,
        out: RecorderOutputs,
        events: broadcast::Receiver<EngineEvent>,
    ) -> Self {
        Self {
            config,
            out,
            events,
            segment: None,
            ring: VecDeque::new(),
            active_until: i64::MIN,
            paused_until: None,
        }
    }

    fn push(&mut self, unit: Arc<AccessUnit>) {
        match self.config.mode {
            RecordMode::Off => {}
            RecordMode::Continuous => self.record(unit),
            RecordMode::Events => self.record_events(unit),
        }
    }

    fn record_events(&mut self, unit: Arc<AccessUnit>) {
        self.note_detections();
        let active = unit.media_time <= self.active_until;
        if self.segment.is_none() {
            self.keep_pre_roll(unit.clone());
            if !active {
                self.set_health(RecordingState::Waiting, String::new());
                return;
            }
            // Start at the ring's first keyframe: the pre-roll.
            let ring: Vec<_> = self.ring.drain(..).collect();
            for earlier in ring {
                self.record(earlier);
            }
            return;
        }
        if !active && unit.random_access {
            self.close_segment(Some(unit.media_time));
            self.keep_pre_roll(unit);
            return;
        }
        self.record(unit);
    }

    /// Detections on this camera extend the post-roll.
    fn note_detections(&mut self) {
        loop {
            match self.events.try_recv() {
                Ok(EngineEvent::Detections(found))
                    if found.camera_id == self.out.camera && !found.detections.is_empty() =>
                {
                    let until = found.media_time + self.config.post_roll.as_micros() as i64;
                    self.active_until = self.active_until.max(until);
                }
                Ok(_) | Err(TryRecvError::Lagged(_)) => {}
                Err(_) => return,
            }
        }
    }

    fn keep_pre_roll(&mut self, unit: Arc<AccessUnit>) {
        if unit.discontinuity {
            self.ring.clear();
        }
        if self.ring.is_empty() && !unit.random_access {
            return;
        }
        let newest = unit.media_time;
        self.ring.push_back(unit);
        let pre_roll = self.config.pre_roll.as_micros() as i64;
        // Drop a leading GOP while the next one still covers the pre-roll.
        while let Some(next_gop) = self
            .ring
            .iter()
            .skip(1)
            .position(|u| u.random_access)
            .map(|i| i + 1)
        {
            if newest - self.ring[next_gop].media_time < pre_roll {
                break;
            }
            self.ring.drain(..next_gop);
        }
    }

    fn record(&mut self, unit: Arc<AccessUnit>) {
        let starts_new = match &self.segment {
            None => true,
            Some(s) => {
                s.params != unit.params
                    || unit.discontinuity
                    || (unit.random_access
                        && unit.media_time - s.start_us >= self.config.segment.as_micros() as i64)
            }
        };
        if starts_new {
            if self.segment.is_some() {
                self.close_segment(Some(unit.media_time));
            }
            if !unit.random_access || self.paused_until.is_some_and(|t| Instant::now() < t) {
                return;
            }
            if let Err(e) = self.open_segment(&unit) {
                self.write_failed(&e);
                return;
            }
        }
        let Some(segment) = &mut self.segment else {
            return;
        };
        let flush = segment.pending.first().is_some_and(|first| {
            unit.random_access || unit.media_time - first.media_time >= FRAGMENT_US
        });
        if flush {
            if let Err(e) = self.flush(Some(unit.media_time)) {
                self.write_failed(&e);
                return;
            }
        }
        if let Some(segment) = &mut self.segment {
            segment.pending.push(unit);
        }
    }

    fn open_segment(&mut self, unit: &AccessUnit) -> io::Result<()> {
        let date = DateTime::<Utc>::from_timestamp_micros(unit.media_time)
            .unwrap_or_default()
            .format("%Y-%m-%d");
        let relative = format!("{}/{date}/{}.mp4", self.out.camera, unit.media_time);
        let full = self.config.root.join(&relative);
        if let Some(dir) = full.parent() {
            fs::create_dir_all(dir)?;
        }
        let mut file = File::options().write(true).create_new(true).open(&full)?;
        let init = fmp4::init_segment(&unit.params);
        file.write_all(&init)?;
        self.send(SegmentEvent::Opened {
            camera_id: self.out.camera,
            path: relative.clone(),
            start_us: unit.media_time,
            codec: unit.params.rfc6381_codec.clone(),
            width: unit.params.width,
            height: unit.params.height,
        });
        self.segment = Some(Segment {
            file,
            path: relative,
            params: unit.params.clone(),
            start_us: unit.media_time,
            end_us: unit.media_time,
            bytes: init.len() as u64,
            sequence: 0,
            pending: Vec::new(),
            last_duration: DEFAULT_FRAME_US,
        });
        self.paused_until = None;
        self.set_health(RecordingState::Recording, String::new());
        Ok(())
    }

    /// Writes the gathered frames as one fragment, fsyncs, tells the index.
    /// `next_time` (the following frame) gives the last frame its duration.
    fn flush(&mut self, next_time: Option<MediaTime>) -> io::Result<()> {
        let Some(segment) = &mut self.segment else {
            return Ok(());
        };
        if segment.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut segment.pending);
        let mut samples = Vec::with_capacity(pending.len());
        for (i, unit) in pending.iter().enumerate() {
            let next = pending.get(i + 1).map(|u| u.media_time).or(next_time);
            let duration = next
                .map(|t| t - unit.media_time)
                .filter(|d| (1..=FRAGMENT_US).contains(d))
                .unwrap_or(segment.last_duration);
            segment.last_duration = duration;
            samples.push(Sample {
                duration_us: duration as u32,
                sync: unit.random_access,
                data: &unit.data,
            });
        }
        segment.sequence += 1;
        let start = pending[0].media_time;
        let fragment = fmp4::fragment(segment.sequence, start, &samples);
        let end = samples
            .iter()
            .fold(start, |t, s| t + i64::from(s.duration_us));
        segment.file.write_all(&fragment)?;
        segment.file.sync_data()?;
        segment.bytes += fragment.len() as u64;
        segment.end_us = end;
        let event = SegmentEvent::Grew {
            path: segment.path.clone(),
            end_us: end,
            bytes: segment.bytes,
        };
        // Growth is repeated every second; a full queue may skip one.
        let _ = self.out.index.try_send(Record::Segment(event));
        if let Ok(mut health) = self.out.health.lock() {
            health.last_written_at = Some(Utc::now());
        }
        Ok(())
    }

    fn close_segment(&mut self, next_time: Option<MediaTime>) {
        if let Err(e) = self.flush(next_time) {
            self.write_failed(&e);
        }
        let Some(segment) = self.segment.take() else {
            return;
        };
        self.finish(segment);
        if self.config.mode == RecordMode::Events {
            self.set_health(RecordingState::Waiting, String::new());
        }
    }

    /// Keeps what is on disk, drops the frames in hand, and waits a moment
    /// (and for a keyframe) before a new file. Out of space, retention is
    /// woken to prune.
    fn write_failed(&mut self, error: &io::Error) {
        let full = is_disk_full(error);
        let folder = self.config.root.display();
        let message = if full {
            format!("The disk holding {folder} is full: deleting the oldest recordings to make room; video is being lost until then.")
        } else {
            format!("Cannot write recordings to {folder}: {error}. Check that the folder exists and this program may write to it.")
        };
        warn!(camera = self.out.camera, error = %error, disk_full = full, "recording write failed");
        if full {
            self.out.space_needed.notify_one();
        }
        if let Some(segment) = self.segment.take() {
            // Cut back to the last whole fragment.
            let _ = segment.file.set_len(segment.bytes);
            self.finish(segment);
        }
        self.paused_until = Some(Instant::now() + ERROR_PAUSE);
        self.set_health(RecordingState::Error, message);
    }

    /// Tells the index a segment ended: closed, or discarded (file removed)
    /// when no video reached it.
    fn finish(&self, segment: Segment) {
        let event = if segment.sequence == 0 {
            let _ = fs::remove_file(self.config.root.join(&segment.path));
            SegmentEvent::Discarded { path: segment.path }
        } else {
            SegmentEvent::Closed {
                path: segment.path,
                end_us: segment.end_us,
                bytes: segment.bytes,
            }
        };
        self.send(event);
    }

    /// Opened/closed must reach the index: wait for room in the queue.
    fn send(&self, event: SegmentEvent) {
        if self
            .out
            .index
            .blocking_send(Record::Segment(event))
            .is_err()
        {
            info!(camera = self.out.camera, "recording index closed");
        }
    }

    fn set_health(&self, state: RecordingState, message: String) {
        if let Ok(mut health) = self.out.health.lock() {
            if health.state != state || health.message != message {
                if state != RecordingState::Error && health.state == RecordingState::Error {
                    info!(camera = self.out.camera, "recording resumed");
                }
                health.state = state;
                health.message = message;
            }
        }
    }
}

fn is_disk_full(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::StorageFull || error.raw_os_error() == Some(28)
}

#[cfg(test)]
mod tests;
