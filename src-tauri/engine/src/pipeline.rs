//! Wiring: per camera an ingest task and a decode thread, one shared
//! detector, and the status each camera reports. The [`Engine`] is the only
//! thing the server holds.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle as ThreadHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, mpsc, Notify};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::analyse::{Analysis, Record};
use crate::camera::{CameraId, CameraSpec, CameraState, CameraStatus, StreamHealth};
use crate::decode::{self, DecodeOutputs, LatestFrame, RgbFrame};
use crate::detect::{self, DetectorConfig, DetectorQueue, FrameDetections};
use crate::ingest::{self, FromKeyframe, Publisher};
use crate::record::{self, RecordMode, RecorderOutputs, RecordingHealth, SharedHealth};
use crate::rules::{Rule, Zone};

/// Access units buffered per camera for slow consumers before they lag.
const UNIT_BUFFER: usize = 64;
const EVENT_BUFFER: usize = 1024;
/// Window over which fps and bitrate are measured.
const STATS_WINDOW: Duration = Duration::from_secs(2);
/// How long a stop waits for each stage's thread before leaving it behind.
const STAGE_STOP: Duration = Duration::from_secs(10);

/// What the engine tells the outside world.
#[derive(Clone, Debug)]
pub enum EngineEvent {
    Camera { id: CameraId, status: CameraStatus },
    Detections(Arc<FrameDetections>),
}

pub struct Engine {
    events: broadcast::Sender<EngineEvent>,
    detector: Option<DetectorQueue>,
    /// Taken at shutdown, so the analysis thread (and the writer after it) can end.
    analysis: Mutex<Option<Analysis>>,
    /// The detector's and the analysis' threads, joined at shutdown.
    stage_threads: Mutex<Option<StageThreads>>,
    detector_error: Option<String>,
    cameras: Mutex<HashMap<CameraId, CameraRuntime>>,
    /// Where recorders tell the index about their segments. Taken at
    /// shutdown, so the writer can end once it has written everything.
    index: Mutex<Option<mpsc::Sender<Record>>>,
    space_needed: Arc<Notify>,
}

struct StageThreads {
    detector: ThreadHandle<()>,
    analysis: ThreadHandle<()>,
}

/// What an orderly stop ([`Engine::shutdown`]) did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineStop {
    /// Detections (one database row each) shown and handed to the store since start.
    pub detections_emitted: u64,
    /// Recording segments the stop closed (one per camera that was recording).
    pub segments_closed: usize,
}

struct CameraRuntime {
    status: StatusHandle,
    latest: LatestFrame,
    units: Publisher,
    ingest: JoinHandle<()>,
    sub_ingest: Option<JoinHandle<()>>,
    recording: SharedHealth,
    /// Returns whether it closed a segment when the camera stopped.
    recorder: Option<ThreadHandle<bool>>,
}

impl Engine {
    /// Starts the shared detector (if configured), the analysis stage after
    /// it, and an engine with no cameras. What the store keeps (detections,
    /// tracks, alerts) goes to `persist`, so storage never depends on a UI
    /// keeping up. Must be called inside a tokio runtime.
    pub fn start(detector: Option<DetectorConfig>, persist: mpsc::Sender<Record>) -> Self {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let (queue, analysis, threads, detector_error) = match detector {
            None => (None, None, None, Some("no detector configured".to_owned())),
            Some(config) => match start_detection(&config, &events, persist.clone()) {
                Ok((queue, analysis, threads)) => {
                    (Some(queue), Some(analysis), Some(threads), None)
                }
                Err(e) => {
                    error!(error = %e, "detector unavailable; cameras will run without detection");
                    (None, None, None, Some(e))
                }
            },
        };
        Self {
            events,
            detector: queue,
            analysis: Mutex::new(analysis),
            stage_threads: Mutex::new(threads),
            detector_error,
            cameras: Mutex::new(HashMap::new()),
            index: Mutex::new(Some(persist)),
            space_needed: Arc::new(Notify::new()),
        }
    }

    /// Woken when a recorder runs out of disk space.
    pub fn space_needed(&self) -> Arc<Notify> {
        self.space_needed.clone()
    }

    /// How a camera's recording is doing.
    pub fn recording_health(&self, id: CameraId) -> Option<RecordingHealth> {
        let cameras = self.cameras.lock().ok()?;
        let health = cameras.get(&id)?.recording.lock().ok()?;
        Some(health.clone())
    }

    /// The false alarms learnt for a camera (see [`crate::learn`]).
    pub fn set_exclusions(&self, camera: CameraId, exclusions: Vec<crate::learn::Exclusion>) {
        if let Some(analysis) = self.analysis.lock().ok().and_then(|a| a.clone()) {
            analysis.set_exclusions(camera, exclusions);
        }
    }

    /// A camera's zones and rules (applied from its next analysed frame).
    pub fn set_rules(&self, camera: CameraId, zones: Vec<Zone>, rules: Vec<Rule>) {
        if let Some(analysis) = self.analysis.lock().ok().and_then(|a| a.clone()) {
            analysis.set_rules(camera, zones, rules);
        }
    }

    /// How the shared detector keeps up; `None` when it is not running.
    pub fn detector_stats(&self) -> Option<detect::DetectorStats> {
        self.detector.as_ref().map(DetectorQueue::stats)
    }

    /// Why detection is not running, if it is not.
    pub fn detector_error(&self) -> Option<&str> {
        self.detector_error.as_deref()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.events.subscribe()
    }

    /// Starts (or restarts, with new settings) a camera: one RTSP session on
    /// the main stream (live view, and recording to come) and, when the
    /// camera has a sub stream, a second one that feeds detection.
    pub fn add_camera(&self, spec: CameraSpec) {
        self.remove_camera(spec.id);
        let stopping = self.index.lock().map(|i| i.is_none()).unwrap_or(true);
        if stopping {
            warn!(
                camera = spec.id,
                "the engine is stopping; the camera was not started"
            );
            return;
        }
        let id = spec.id;
        let status = StatusHandle::new(id, self.events.clone());
        let latest: LatestFrame = Arc::new(Mutex::new(None));
        let main = Publisher::new(UNIT_BUFFER);
        let (detect_units, sub_ingest) = match &spec.sub_url {
            None => (main.subscribe(), None),
            Some(sub_url) => {
                let sub = Publisher::new(UNIT_BUFFER);
                let detect_units = sub.subscribe();
                let sub_spec = CameraSpec {
                    url: sub_url.clone(),
                    sub_url: None,
                    recording: None,
                    ..spec.clone()
                };
                // The sub stream's health travels inside the camera's own status.
                let sub_status = StatusHandle::for_detect_stream(&status);
                let task = tokio::spawn(ingest::run(sub_spec, sub, sub_status));
                (detect_units, Some(task))
            }
        };
        let outputs = DecodeOutputs {
            camera: id,
            filter: Arc::new(spec.filter.clone()),
            latest: latest.clone(),
            detector: self.detector.clone(),
            motion_gate: motion_gate_enabled(),
            tracked: self
                .analysis
                .lock()
                .ok()
                .and_then(|a| a.as_ref().map(|a| a.tracked_areas(id)))
                .unwrap_or_default(),
        };
        if let Err(e) = decode::spawn(spec.detect_fps, detect_units, outputs) {
            error!(camera = id, error = %e, "cannot start the decode thread");
        }
        let (recording, recorder) = self.start_recorder(&spec, &main);
        info!(camera = id, name = %spec.name, sub_stream = spec.sub_url.is_some(), "camera starting");
        let ingest = tokio::spawn(ingest::run(spec, main.clone(), status.clone()));
        if let Ok(mut cameras) = self.cameras.lock() {
            cameras.insert(
                id,
                CameraRuntime {
                    status,
                    latest,
                    units: main,
                    ingest,
                    sub_ingest,
                    recording,
                    recorder,
                },
            );
        }
    }

    /// The camera's recorder thread, fed by its main stream.
    fn start_recorder(
        &self,
        spec: &CameraSpec,
        main: &Publisher,
    ) -> (SharedHealth, Option<ThreadHandle<bool>>) {
        let config = spec.recording.clone();
        let mode = config.as_ref().map_or(RecordMode::Off, |c| c.mode);
        let health = RecordingHealth::new(mode);
        let Some(config) = config.filter(|c| c.mode != RecordMode::Off) else {
            return (health, None);
        };
        let Some(index) = self.index.lock().ok().and_then(|i| i.clone()) else {
            return (health, None);
        };
        let outputs = RecorderOutputs {
            camera: spec.id,
            index,
            health: health.clone(),
            space_needed: self.space_needed.clone(),
        };
        let events = self.events.subscribe();
        match record::spawn(config, main.subscribe_from_keyframe(), events, outputs) {
            Ok(thread) => (health, Some(thread)),
            Err(e) => {
                error!(camera = spec.id, error = %e, "cannot start the recorder thread");
                (health, None)
            }
        }
    }

    /// Stops a camera; its decode thread ends when ingest drops its sender.
    pub fn remove_camera(&self, id: CameraId) {
        let removed = self.cameras.lock().ok().and_then(|mut c| c.remove(&id));
        if let Some(runtime) = removed {
            runtime.ingest.abort();
            if let Some(sub) = runtime.sub_ingest {
                sub.abort();
            }
            if let Some(analysis) = self.analysis.lock().ok().and_then(|a| a.clone()) {
                analysis.camera_stopped(id);
            }
            info!(camera = id, "camera stopped");
        }
    }

    /// The camera's access units from its latest keyframe on (live view,
    /// recording): the cached GOP, then a subscription that ends when the
    /// camera is stopped or restarted. The two may overlap by a few units.
    pub fn subscribe_units(&self, id: CameraId) -> Option<FromKeyframe> {
        let cameras = self.cameras.lock().ok()?;
        cameras.get(&id).map(|c| c.units.subscribe_from_keyframe())
    }

    pub fn status(&self, id: CameraId) -> Option<CameraStatus> {
        let cameras = self.cameras.lock().ok()?;
        cameras.get(&id).map(|c| c.status.get())
    }

    /// The camera's latest decoded picture.
    pub fn latest_frame(&self, id: CameraId) -> Option<Arc<RgbFrame>> {
        let cameras = self.cameras.lock().ok()?;
        let latest = cameras.get(&id)?.latest.lock().ok()?;
        latest.clone()
    }

    /// Stops in order, losing nothing the engine accepted: the cameras stop
    /// producing; the detector finishes the frame in hand (frames still
    /// queued for it are dropped unseen); analysis finishes what it holds
    /// and ends every camera's tracks; each recorder writes, fsyncs and
    /// closes its segment. Then the engine lets go of the store's channel,
    /// so the writer ends once it has written everything sent to it.
    ///
    /// Blocks until done (call it from a blocking thread, not the async
    /// runtime, which must keep running). Later calls do nothing.
    pub fn shutdown(&self) -> EngineStop {
        let cameras = self.stop_producing();
        let deadline = Instant::now() + STAGE_STOP;
        let threads = self.stage_threads.lock().ok().and_then(|mut t| t.take());
        if let Some(threads) = &threads {
            join_by("detector", &threads.detector, deadline);
        }
        let analysis = self.analysis.lock().ok().and_then(|mut a| a.take());
        let emitted = analysis.as_ref().map(|a| a.emitted_counter());
        if let Some(analysis) = analysis {
            for id in cameras.keys() {
                analysis.camera_stopped(*id);
            }
        }
        if let Some(threads) = &threads {
            join_by("analysis", &threads.analysis, deadline);
        }
        let mut segments_closed = 0;
        for (id, runtime) in cameras {
            // The recorder's feed closes with the camera's last publisher.
            let CameraRuntime {
                units, recorder, ..
            } = runtime;
            drop(units);
            if let Some(recorder) = recorder {
                if join_by(&format!("recorder of camera {id}"), &recorder, deadline)
                    && recorder.join().unwrap_or(false)
                {
                    segments_closed += 1;
                }
            }
        }
        if let Ok(mut index) = self.index.lock() {
            index.take();
        }
        EngineStop {
            detections_emitted: emitted.map_or(0, |e| e.load(Ordering::Relaxed)),
            segments_closed,
        }
    }

    /// Stops every camera's ingest and closes the detector's queue, without
    /// waiting for anything; the stopped cameras are returned.
    fn stop_producing(&self) -> HashMap<CameraId, CameraRuntime> {
        let cameras = self
            .cameras
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default();
        for runtime in cameras.values() {
            runtime.ingest.abort();
            if let Some(sub) = &runtime.sub_ingest {
                sub.abort();
            }
        }
        if let Some(queue) = &self.detector {
            queue.close();
        }
        cameras
    }
}

/// Waits for a stage's thread until `deadline`; `false` (with a warning)
/// when it is still running then.
fn join_by<T>(what: &str, thread: &ThreadHandle<T>, deadline: Instant) -> bool {
    while !thread.is_finished() {
        if Instant::now() >= deadline {
            warn!("the {what} did not stop in time; what it held may be lost");
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

/// The motion gate is on unless `PEREGRINE_MOTION_GATE=off` (benchmarks
/// compare both).
fn motion_gate_enabled() -> bool {
    std::env::var("PEREGRINE_MOTION_GATE").map_or(true, |v| v != "off" && v != "0")
}

/// The detector thread, handing its results to the analysis thread.
fn start_detection(
    config: &DetectorConfig,
    events: &broadcast::Sender<EngineEvent>,
    persist: mpsc::Sender<Record>,
) -> Result<(DetectorQueue, Analysis, StageThreads), String> {
    let queue = DetectorQueue::new(config.queue_capacity);
    let (analysis, analysis_thread) = Analysis::spawn(events.clone(), persist)
        .map_err(|e| format!("cannot start the analysis thread: {e}"))?;
    let input = analysis.clone();
    let detector = detect::spawn(config, queue.clone(), move |found, job| {
        input.submit(found, job)
    })
    .map_err(|e| e.to_string())?;
    let threads = StageThreads {
        detector,
        analysis: analysis_thread,
    };
    Ok((queue, analysis, threads))
}

impl Drop for Engine {
    /// Without an orderly [`Engine::shutdown`], at least stop the cameras
    /// and the detector (without waiting: this may run on the async runtime).
    fn drop(&mut self) {
        drop(self.stop_producing());
    }
}

/// A camera's status, shared between its ingest task and the API.
#[derive(Clone)]
pub struct StatusHandle(Arc<StatusInner>);

struct StatusInner {
    camera: CameraId,
    events: broadcast::Sender<EngineEvent>,
    state: Mutex<StatusState>,
    /// Set for a sub stream: its health goes into this camera status instead.
    parent: Option<StatusHandle>,
}

struct StatusState {
    status: CameraStatus,
    window: VecDeque<(Instant, usize)>,
    last_published: Instant,
}

impl StatusHandle {
    fn new(camera: CameraId, events: broadcast::Sender<EngineEvent>) -> Self {
        Self::with_parent(camera, events, None)
    }

    /// The status of a camera's detection stream, reported through `camera`'s.
    fn for_detect_stream(camera: &StatusHandle) -> Self {
        let handle = Self::with_parent(
            camera.0.camera,
            camera.0.events.clone(),
            Some(camera.clone()),
        );
        camera.set_detect_stream(handle.get().health());
        handle
    }

    fn with_parent(
        camera: CameraId,
        events: broadcast::Sender<EngineEvent>,
        parent: Option<StatusHandle>,
    ) -> Self {
        Self(Arc::new(StatusInner {
            camera,
            events,
            state: Mutex::new(StatusState {
                status: CameraStatus::default(),
                window: VecDeque::new(),
                last_published: Instant::now(),
            }),
            parent,
        }))
    }

    /// Updates the detection stream's health; publishes when a guard would see a change.
    fn set_detect_stream(&self, health: StreamHealth) {
        let Ok(mut s) = self.0.state.lock() else {
            return;
        };
        let old = s.status.detect_stream.replace(health.clone());
        let changed = old
            .as_ref()
            .is_none_or(|o| o.state != health.state || o.message != health.message);
        if changed {
            self.publish(&mut s);
        }
    }

    pub fn get(&self) -> CameraStatus {
        self.0
            .state
            .lock()
            .map(|s| s.status.clone())
            .unwrap_or_default()
    }

    /// Changes state; publishes an event when something a guard sees changed.
    pub fn set_state(&self, state: CameraState, message: String) {
        self.update(state, message, None);
    }

    /// A failed attempt: `retry_at` says when the next one starts.
    pub fn set_retrying(&self, state: CameraState, message: String, retry_at: DateTime<Utc>) {
        self.update(state, message, Some(retry_at));
    }

    fn update(&self, state: CameraState, message: String, retry_at: Option<DateTime<Utc>>) {
        let Ok(mut s) = self.0.state.lock() else {
            return;
        };
        if s.status.state == state && s.status.message == message && s.status.retry_at == retry_at {
            return;
        }
        s.status.state = state;
        s.status.message = message;
        s.status.retry_at = retry_at;
        if state != CameraState::Live {
            s.window.clear();
            s.status.fps = 0.0;
            s.status.bitrate_kbps = 0.0;
        }
        self.publish(&mut s);
    }

    /// Records one received access unit; the first one makes the camera live.
    pub fn frame_received(&self, bytes: usize, width: u32, height: u32) {
        let Ok(mut s) = self.0.state.lock() else {
            return;
        };
        let now = Instant::now();
        s.window.push_back((now, bytes));
        while s
            .window
            .front()
            .is_some_and(|(t, _)| now - *t > STATS_WINDOW)
        {
            s.window.pop_front();
        }
        let span = s
            .window
            .front()
            .map(|(t, _)| (now - *t).as_secs_f32())
            .unwrap_or(0.0);
        if span > 0.5 {
            let total: usize = s.window.iter().map(|(_, b)| b).sum();
            s.status.fps = (s.window.len() - 1) as f32 / span;
            s.status.bitrate_kbps = total as f32 * 8.0 / 1000.0 / span;
        }
        s.status.width = Some(width);
        s.status.height = Some(height);
        s.status.last_frame_at = Some(Utc::now());
        let became_live = s.status.state != CameraState::Live;
        if became_live {
            s.status.state = CameraState::Live;
            s.status.message.clear();
            s.status.retry_at = None;
        }
        if became_live || now - s.last_published >= STATS_WINDOW {
            self.publish(&mut s);
        }
    }

    fn publish(&self, s: &mut StatusState) {
        s.last_published = Instant::now();
        if let Some(parent) = &self.0.parent {
            parent.set_detect_stream(s.status.health());
            return;
        }
        let _ = self.0.events.send(EngineEvent::Camera {
            id: self.0.camera,
            status: s.status.clone(),
        });
    }
}
