use std::fs::File;
use std::sync::Arc;

use super::*;
use crate::detect::{BoundingBox, Detection, FrameDetections};
use crate::fmp4::{scan, ScannedFile};

const T0: i64 = 1_796_000_000_000_000;
const FRAME_US: i64 = 100_000;

fn params() -> Arc<VideoParams> {
    Arc::new(VideoParams {
        rfc6381_codec: "avc1.4D401E".to_owned(),
        extra_data: vec![],
        sample_entry: b"\0\0\0\x08avc1".to_vec(),
        width: 768,
        height: 576,
    })
}

/// 10 fps, a keyframe every second.
fn unit(params: &Arc<VideoParams>, n: i64) -> Arc<AccessUnit> {
    Arc::new(AccessUnit {
        media_time: T0 + n * FRAME_US,
        random_access: n % 10 == 0,
        discontinuity: false,
        data: vec![0, 0, 0, 2, 0x65, n as u8],
        params: params.clone(),
    })
}

struct Harness {
    dir: tempfile::TempDir,
    recorder: Recorder,
    index: mpsc::Receiver<Record>,
    events: broadcast::Sender<EngineEvent>,
}

fn harness(mode: RecordMode) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let (index_tx, index) = mpsc::channel(10_000);
    let (events, events_rx) = broadcast::channel(64);
    let config = RecordingConfig {
        root: dir.path().to_owned(),
        mode,
        segment: Duration::from_secs(10),
        pre_roll: Duration::from_secs(5),
        post_roll: Duration::from_secs(5),
    };
    let outputs = RecorderOutputs {
        camera: 3,
        index: index_tx,
        health: RecordingHealth::new(mode),
        space_needed: Arc::new(Notify::new()),
    };
    Harness {
        recorder: Recorder::new(config, outputs, events_rx),
        dir,
        index,
        events,
    }
}

impl Harness {
    fn segments(&mut self) -> Vec<SegmentEvent> {
        let mut out = Vec::new();
        while let Ok(Record::Segment(event)) = self.index.try_recv() {
            out.push(event);
        }
        out
    }

    fn scan(&self, path: &str) -> ScannedFile {
        scan(&mut File::open(self.dir.path().join(path)).unwrap()).unwrap()
    }
}

fn closed(events: &[SegmentEvent]) -> Vec<(String, i64, u64)> {
    events
        .iter()
        .filter_map(|e| match e {
            SegmentEvent::Closed {
                path,
                end_us,
                bytes,
            } => Some((path.clone(), *end_us, *bytes)),
            _ => None,
        })
        .collect()
}

#[test]
fn continuous_recording_has_no_gaps_and_starts_segments_on_keyframes() {
    let mut h = harness(RecordMode::Continuous);
    let p = params();
    // Start mid-GOP: frames before the first keyframe cannot be played.
    for n in 5..255 {
        h.recorder.push(unit(&p, n));
    }
    h.recorder.close_segment(None);
    let events = h.segments();
    let closed = closed(&events);
    assert_eq!(closed.len(), 3, "{events:?}");
    let mut expected_start = T0 + 10 * FRAME_US;
    for (path, end_us, bytes) in &closed {
        let scanned = h.scan(path);
        assert_eq!(scanned.valid_len, *bytes, "the index knows every byte");
        assert_eq!(scanned.file_len, *bytes);
        assert_eq!(scanned.start_us(), Some(expected_start), "{path}");
        assert_eq!(scanned.end_us(), Some(*end_us));
        assert!(scanned.fragments[0].sync);
        for pair in scanned.fragments.windows(2) {
            assert_eq!(pair[0].start_us + pair[0].duration_us, pair[1].start_us);
        }
        assert!(scanned
            .fragments
            .iter()
            .all(|f| f.duration_us <= FRAGMENT_US));
        expected_start = *end_us;
    }
    assert_eq!(expected_start, T0 + 255 * FRAME_US);
    assert!(
        matches!(&events[0], SegmentEvent::Opened { camera_id: 3, start_us, width: 768, .. } if *start_us == T0 + 10 * FRAME_US)
    );
}

#[test]
fn events_mode_keeps_the_pre_roll_and_the_post_roll() {
    let mut h = harness(RecordMode::Events);
    let p = params();
    for n in 0..300 {
        if n == 150 {
            let found = FrameDetections {
                camera_id: 3,
                media_time: T0 + 150 * FRAME_US,
                frame_width: 768,
                frame_height: 576,
                detections: vec![Detection {
                    class: "person",
                    score: 0.8,
                    bbox: BoundingBox {
                        x: 0.1,
                        y: 0.1,
                        w: 0.2,
                        h: 0.5,
                    },
                    track_id: None,
                }],
            };
            h.events
                .send(EngineEvent::Detections(Arc::new(found)))
                .unwrap();
        }
        h.recorder.push(unit(&p, n));
    }
    h.recorder.close_segment(None);
    let closed = closed(&h.segments());
    // 10 s segments: the event spans two, back to back.
    assert_eq!(closed.len(), 2, "{closed:?}");
    let first = h.scan(&closed[0].0);
    let last = h.scan(&closed[1].0);
    assert_eq!(first.end_us(), last.start_us());
    let start = first.start_us().unwrap();
    let end = last.end_us().unwrap();
    // The detection at 15 s: at least 5 s before it, at least 5 s after.
    assert!(start <= T0 + 10_000_000, "pre-roll starts {start}");
    assert!(
        start >= T0 + 9_000_000,
        "pre-roll is whole GOPs, not all history"
    );
    assert!(end >= T0 + 20_000_000, "post-roll ends {end}");
    assert!(
        end <= T0 + 21_100_000,
        "stops at the keyframe after the post-roll"
    );
    assert_eq!(
        h.recorder.out.health.lock().unwrap().state,
        RecordingState::Waiting
    );
}

#[test]
fn an_unwritable_folder_is_an_error_the_recorder_survives() {
    let mut h = harness(RecordMode::Continuous);
    let blocked = h.dir.path().join("not-a-folder");
    std::fs::write(&blocked, b"x").unwrap();
    h.recorder.config.root = blocked;
    let p = params();
    for n in 0..30 {
        h.recorder.push(unit(&p, n));
    }
    let health = h.recorder.out.health.lock().unwrap().clone();
    assert_eq!(health.state, RecordingState::Error);
    assert!(
        health.message.contains("Cannot write recordings"),
        "{}",
        health.message
    );
    // Once the folder is fixed, recording resumes at a keyframe.
    h.recorder.config.root = h.dir.path().to_owned();
    h.recorder.paused_until = None;
    for n in 30..50 {
        h.recorder.push(unit(&p, n));
    }
    assert_eq!(
        h.recorder.out.health.lock().unwrap().state,
        RecordingState::Recording
    );
}
