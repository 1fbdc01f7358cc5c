//! Detect: one NanoDet-m session (ONNX Runtime) shared by every camera, on
//! its own OS thread (`Session::run` needs `&mut`), fed by a bounded
//! drop-oldest queue so a slow detector lowers the detection rate instead of
//! building latency. Boxes leave here normalised to 0..1 of the frame.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use ort::session::Session;
use ort::value::TensorRef;
use serde::Serialize;
use tracing::{info, warn};

use crate::camera::CameraId;
use crate::clock::MediaTime;
use crate::error::EngineError;

/// The model's square input, in pixels.
pub const INPUT_SIZE: usize = 416;
const INPUT_NAME: &str = "input_1:0";
/// (class scores, box distributions, stride) per output level.
const LEVELS: [(&str, &str, usize); 3] = [
    ("Identity:0", "Identity_3:0", 8),
    ("Identity_1:0", "Identity_4:0", 16),
    ("Identity_2:0", "Identity_5:0", 32),
];
/// Distance bins per box side (NanoDet's reg_max + 1).
const BINS: usize = 11;
const MEAN_BGR: [f32; 3] = [103.53, 116.28, 123.675];
const STD_BGR: [f32; 3] = [57.375, 57.12, 58.395];

/// The lowest score a camera may keep; weaker candidates are never decoded.
pub const MIN_SCORE_FLOOR: f32 = 0.3;

/// Which detections a camera keeps.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectionFilter {
    /// `None` keeps every class.
    pub classes: Option<Vec<&'static str>>,
    pub min_score: f32,
}

impl Default for DetectionFilter {
    fn default() -> Self {
        Self {
            classes: None,
            min_score: 0.5,
        }
    }
}

impl DetectionFilter {
    /// From class names; `Err` names the first one the model does not know.
    pub fn new(classes: Option<&[String]>, min_score: f32) -> Result<Self, String> {
        let classes = classes
            .map(|names| {
                names
                    .iter()
                    .map(|n| class_named(n).ok_or_else(|| n.clone()))
                    .collect()
            })
            .transpose()?;
        Ok(Self { classes, min_score })
    }

    pub fn keeps(&self, d: &Detection) -> bool {
        d.score >= self.min_score && self.keeps_class(d)
    }

    /// The class test alone: boxes under `min_score` still help the tracker.
    pub fn keeps_class(&self, d: &Detection) -> bool {
        self.classes.as_ref().is_none_or(|c| c.contains(&d.class))
    }
}

/// The model's own spelling of a class name.
pub fn class_named(name: &str) -> Option<&'static str> {
    let name = name.trim().to_lowercase();
    COCO_CLASSES.iter().copied().find(|c| *c == name)
}

/// The 80 COCO classes, in the model's output order.
pub const COCO_CLASSES: [&str; 80] = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
];

#[derive(Clone, Debug)]
pub struct DetectorConfig {
    pub model_path: PathBuf,
    /// The ONNX Runtime shared library (`libonnxruntime.so.1.31.1`).
    pub ort_library: PathBuf,
    /// Threads inside one inference; 1 leaves the other core to decoding.
    pub intra_threads: usize,
    pub score_threshold: f32,
    pub nms_iou: f32,
    /// How many frames may wait for the detector before the oldest is dropped.
    pub queue_capacity: usize,
}

impl DetectorConfig {
    pub fn new(model_path: PathBuf, ort_library: PathBuf) -> Self {
        Self {
            model_path,
            ort_library,
            intra_threads: 1,
            // The floor for every camera's own `min_score`.
            score_threshold: MIN_SCORE_FLOOR,
            nms_iou: 0.5,
            queue_capacity: 4,
        }
    }
}

/// A box in 0..1 of the frame, top-left origin.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BoundingBox {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

#[derive(Clone, Debug, Serialize)]
pub struct Detection {
    pub class: &'static str,
    pub score: f32,
    #[serde(rename = "box")]
    pub bbox: BoundingBox,
    pub track_id: Option<i64>,
}

/// Everything the detector found on one frame.
#[derive(Clone, Debug, Serialize)]
pub struct FrameDetections {
    pub camera_id: CameraId,
    pub media_time: MediaTime,
    pub frame_width: u32,
    pub frame_height: u32,
    pub detections: Vec<Detection>,
}

/// One frame waiting for the detector: BGR24, `INPUT_SIZE`² pixels.
pub struct DetectJob {
    pub camera: CameraId,
    pub filter: Arc<DetectionFilter>,
    pub media_time: MediaTime,
    pub frame_width: u32,
    pub frame_height: u32,
    pub bgr: Vec<u8>,
    /// The same frame at full size (alert snapshots, track thumbnails).
    pub picture: Option<Arc<crate::decode::RgbFrame>>,
}

/// Bounded, drop-oldest queue in front of the detector thread.
#[derive(Clone)]
pub struct DetectorQueue(Arc<(Mutex<QueueState>, Condvar)>);

struct QueueState {
    jobs: VecDeque<DetectJob>,
    capacity: usize,
    closed: bool,
    dropped: u64,
    gated: u64,
    inferences: u64,
    inference_us: u64,
}

/// How the shared detector is keeping up.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct DetectorStats {
    /// Frames run through the model since start.
    pub inferences: u64,
    /// Frames dropped unseen because the detector was busy.
    pub dropped: u64,
    /// Sampled frames the motion gate kept from the detector (nothing moved).
    pub gated: u64,
    /// Mean time per inference, pre- and post-processing included.
    pub mean_inference_ms: f64,
}

impl DetectorQueue {
    pub fn new(capacity: usize) -> Self {
        Self(Arc::new((
            Mutex::new(QueueState {
                jobs: VecDeque::with_capacity(capacity),
                capacity: capacity.max(1),
                closed: false,
                dropped: 0,
                gated: 0,
                inferences: 0,
                inference_us: 0,
            }),
            Condvar::new(),
        )))
    }

    /// Queues a frame, dropping the oldest waiting one when full.
    pub fn push(&self, job: DetectJob) {
        let (lock, ready) = &*self.0;
        let Ok(mut state) = lock.lock() else { return };
        if state.closed {
            return;
        }
        if state.jobs.len() >= state.capacity {
            state.jobs.pop_front();
            state.dropped += 1;
        }
        state.jobs.push_back(job);
        ready.notify_one();
    }

    /// Waits for the next frame; `None` once the queue is closed.
    fn pop(&self) -> Option<DetectJob> {
        let (lock, ready) = &*self.0;
        let mut state = lock.lock().ok()?;
        loop {
            if state.closed {
                return None;
            }
            if let Some(job) = state.jobs.pop_front() {
                return Some(job);
            }
            state = ready.wait(state).ok()?;
        }
    }

    /// Frames dropped so far because the detector was busy.
    pub fn dropped(&self) -> u64 {
        self.stats().dropped
    }

    pub fn stats(&self) -> DetectorStats {
        self.0
             .0
            .lock()
            .map(|s| DetectorStats {
                inferences: s.inferences,
                dropped: s.dropped,
                gated: s.gated,
                mean_inference_ms: if s.inferences == 0 {
                    0.0
                } else {
                    s.inference_us as f64 / s.inferences as f64 / 1000.0
                },
            })
            .unwrap_or_default()
    }

    /// A sampled frame the motion gate kept from the detector.
    pub fn record_gated(&self) {
        if let Ok(mut s) = self.0 .0.lock() {
            s.gated += 1;
        }
    }

    fn record_inference(&self, took: std::time::Duration) {
        if let Ok(mut s) = self.0 .0.lock() {
            s.inferences += 1;
            s.inference_us += took.as_micros() as u64;
        }
    }

    pub fn close(&self) {
        let (lock, ready) = &*self.0;
        if let Ok(mut state) = lock.lock() {
            state.closed = true;
        }
        ready.notify_all();
    }
}

/// The loaded model.
pub struct NanoDet {
    session: Session,
    score_threshold: f32,
    nms_iou: f32,
    input: Vec<f32>,
}

pub(crate) fn environment(
    ort_library: &Path,
) -> Result<&'static ort::environment::Environment, EngineError> {
    static ENV: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        if !ort_library.is_file() {
            return Err(format!(
                "ONNX Runtime library not found at {}: run `npm run setup` (or set ORT_DYLIB_PATH).",
                ort_library.display()
            ));
        }
        ort::init_from(ort_library)
            .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", ort_library.display()))?
            .with_name("peregrine")
            .build()
            .map_err(|e| format!("cannot start ONNX Runtime: {e}"))
    })
    .as_ref()
    .map_err(|message| EngineError::Detector {
        message: message.clone(),
    })
}

impl NanoDet {
    pub fn load(config: &DetectorConfig) -> Result<Self, EngineError> {
        let env = environment(&config.ort_library)?;
        if !config.model_path.is_file() {
            return Err(EngineError::Detector {
                message: format!(
                    "model not found at {}: run `npm run setup` (or set PEREGRINE_MODEL).",
                    config.model_path.display()
                ),
            });
        }
        let err = |e: String| EngineError::Detector { message: e };
        let session = Session::builder(env)
            .map_err(|e| err(e.to_string()))?
            .with_intra_threads(config.intra_threads.max(1))
            .map_err(|e| err(e.to_string()))?
            .with_inter_threads(1)
            .map_err(|e| err(e.to_string()))?
            .with_intra_op_spinning(false)
            .map_err(|e| err(e.to_string()))?
            .commit_from_file(&config.model_path)
            .map_err(|e| err(format!("cannot load {}: {e}", config.model_path.display())))?;
        Ok(Self {
            session,
            score_threshold: config.score_threshold,
            nms_iou: config.nms_iou,
            input: vec![0.0; 3 * INPUT_SIZE * INPUT_SIZE],
        })
    }

    /// Detects objects on a BGR24 `INPUT_SIZE`² picture.
    pub fn detect(&mut self, bgr: &[u8]) -> Result<Vec<Detection>, EngineError> {
        preprocess(bgr, &mut self.input);
        let err = |e: ort::Error| EngineError::Detector {
            message: e.to_string(),
        };
        let shape = [1usize, 3, INPUT_SIZE, INPUT_SIZE];
        let tensor = TensorRef::from_array_view((shape, self.input.as_slice())).map_err(err)?;
        let outputs = self
            .session
            .run(ort::inputs![INPUT_NAME => tensor])
            .map_err(err)?;
        let mut levels = Vec::with_capacity(LEVELS.len());
        for (scores_name, dists_name, stride) in LEVELS {
            let tensor = |name: &str| -> Result<&[f32], EngineError> {
                let value = outputs.get(name).ok_or_else(|| EngineError::Detector {
                    message: format!("the model has no output {name}: is it NanoDet-m?"),
                })?;
                Ok(value.try_extract_tensor::<f32>().map_err(err)?.1)
            };
            levels.push(Level {
                stride,
                scores: tensor(scores_name)?,
                dists: tensor(dists_name)?,
            });
        }
        Ok(decode(&levels, self.score_threshold, self.nms_iou))
    }
}

/// BGR24 pixels → normalised planar float input.
fn preprocess(bgr: &[u8], input: &mut [f32]) {
    let plane = INPUT_SIZE * INPUT_SIZE;
    for (i, px) in bgr.chunks_exact(3).take(plane).enumerate() {
        for c in 0..3 {
            input[c * plane + i] = (f32::from(px[c]) - MEAN_BGR[c]) / STD_BGR[c];
        }
    }
}

/// One output level of the model.
pub struct Level<'a> {
    pub stride: usize,
    /// cells × classes, sigmoid already applied.
    pub scores: &'a [f32],
    /// cells × 4 sides × `BINS`, raw logits.
    pub dists: &'a [f32],
}

/// Turns raw model output into boxes: threshold, distance decoding, per-class NMS.
pub fn decode(levels: &[Level<'_>], score_threshold: f32, nms_iou: f32) -> Vec<Detection> {
    let classes = COCO_CLASSES.len();
    let size = INPUT_SIZE as f32;
    let mut candidates = Vec::new();
    for level in levels {
        let grid = INPUT_SIZE / level.stride;
        let cells = (level.scores.len() / classes).min(level.dists.len() / (4 * BINS));
        for cell in 0..cells.min(grid * grid) {
            let scores = &level.scores[cell * classes..(cell + 1) * classes];
            let Some((class, &score)) = scores.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))
            else {
                continue;
            };
            if score < score_threshold {
                continue;
            }
            let stride = level.stride as f32;
            let cx = ((cell % grid) as f32 + 0.5) * stride;
            let cy = ((cell / grid) as f32 + 0.5) * stride;
            let d = &level.dists[cell * 4 * BINS..(cell + 1) * 4 * BINS];
            let side = |i: usize| expected_bin(&d[i * BINS..(i + 1) * BINS]) * stride;
            let (x0, y0) = ((cx - side(0)).max(0.0), (cy - side(1)).max(0.0));
            let (x1, y1) = ((cx + side(2)).min(size), (cy + side(3)).min(size));
            if x1 <= x0 || y1 <= y0 {
                continue;
            }
            candidates.push(Detection {
                class: COCO_CLASSES[class],
                score,
                bbox: BoundingBox {
                    x: x0 / size,
                    y: y0 / size,
                    w: (x1 - x0) / size,
                    h: (y1 - y0) / size,
                },
                track_id: None,
            });
        }
    }
    non_max_suppression(candidates, nms_iou)
}

/// Softmax over the bins, then the expected bin index.
fn expected_bin(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let (mut sum, mut weighted) = (0.0f32, 0.0f32);
    for (i, &l) in logits.iter().enumerate() {
        let e = (l - max).exp();
        sum += e;
        weighted += e * i as f32;
    }
    if sum > 0.0 {
        weighted / sum
    } else {
        0.0
    }
}

fn non_max_suppression(mut candidates: Vec<Detection>, iou_threshold: f32) -> Vec<Detection> {
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for c in candidates {
        let overlaps = kept
            .iter()
            .any(|k| k.class == c.class && iou(&k.bbox, &c.bbox) > iou_threshold);
        if !overlaps {
            kept.push(c);
        }
    }
    kept
}

pub(crate) fn iou(a: &BoundingBox, b: &BoundingBox) -> f32 {
    let x0 = a.x.max(b.x);
    let y0 = a.y.max(b.y);
    let x1 = (a.x + a.w).min(b.x + b.w);
    let y1 = (a.y + a.h).min(b.y + b.h);
    let inter = (x1 - x0).max(0.0) * (y1 - y0).max(0.0);
    let union = a.w * a.h + b.w * b.h - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// Loads the model, warms it up, and starts the detector thread. Results go
/// to `on_result` with the job they came from, every box of a wanted class
/// at or above the floor (the tracker applies the camera's `min_score`);
/// the thread ends when `queue` is closed.
pub fn spawn(
    config: &DetectorConfig,
    queue: DetectorQueue,
    mut on_result: impl FnMut(FrameDetections, DetectJob) + Send + 'static,
) -> Result<std::thread::JoinHandle<()>, EngineError> {
    let mut model = NanoDet::load(config)?;
    // Warm-up: the first run allocates and optimises; do it before any camera counts on it.
    let started = std::time::Instant::now();
    model.detect(&vec![0u8; INPUT_SIZE * INPUT_SIZE * 3])?;
    info!(model = %config.model_path.display(), warmup_ms = started.elapsed().as_millis() as u64, "detector ready");
    std::thread::Builder::new()
        .name("detector".to_owned())
        .spawn(move || {
            while let Some(job) = queue.pop() {
                let started = std::time::Instant::now();
                let result = model.detect(&job.bgr);
                queue.record_inference(started.elapsed());
                match result {
                    Ok(mut detections) => {
                        detections.retain(|d| job.filter.keeps_class(d));
                        let found = FrameDetections {
                            camera_id: job.camera,
                            media_time: job.media_time,
                            frame_width: job.frame_width,
                            frame_height: job.frame_height,
                            detections,
                        };
                        on_result(found, job)
                    }
                    Err(e) => warn!(camera = job.camera, error = %e, "detection failed"),
                }
            }
            info!("detector stopped");
        })
        .map_err(|e| EngineError::Detector {
            message: format!("cannot start the detector thread: {e}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made output: one confident person at one stride-32 cell, and a
    /// weaker overlapping duplicate at stride 16 that NMS must remove.
    #[test]
    fn decodes_a_hand_made_output() {
        let classes = COCO_CLASSES.len();
        let mut scores8 = vec![0.0f32; 2704 * classes];
        let dists8 = vec![0.0f32; 2704 * 44];
        let mut scores16 = vec![0.0f32; 676 * classes];
        let mut dists16 = vec![0.0f32; 676 * 44];
        let mut scores32 = vec![0.0f32; 169 * classes];
        let mut dists32 = vec![0.0f32; 169 * 44];
        // Stride 32, row 6, col 6: centre (208, 208). Every side peaks at bin 2 → 64 px.
        let cell = 6 * 13 + 6;
        scores32[cell * classes] = 0.9;
        for side in 0..4 {
            dists32[cell * 44 + side * BINS + 2] = 50.0;
        }
        // Stride 16, row 12, col 12: centre (200, 200); sides at bin 4 → 64 px.
        let cell16 = 12 * 26 + 12;
        scores16[cell16 * classes] = 0.7;
        for side in 0..4 {
            dists16[cell16 * 44 + side * BINS + 4] = 50.0;
        }
        // A below-threshold car elsewhere.
        scores8[100 * classes + 2] = 0.3;
        let levels = [
            Level {
                stride: 8,
                scores: &scores8,
                dists: &dists8,
            },
            Level {
                stride: 16,
                scores: &scores16,
                dists: &dists16,
            },
            Level {
                stride: 32,
                scores: &scores32,
                dists: &dists32,
            },
        ];
        let found = decode(&levels, 0.5, 0.5);
        assert_eq!(found.len(), 1, "{found:?}");
        let d = &found[0];
        assert_eq!(d.class, "person");
        assert!((d.score - 0.9).abs() < 1e-6);
        let px = |v: f32| v * INPUT_SIZE as f32;
        assert!((px(d.bbox.x) - 144.0).abs() < 0.01, "{:?}", d.bbox);
        assert!((px(d.bbox.y) - 144.0).abs() < 0.01);
        assert!((px(d.bbox.w) - 128.0).abs() < 0.01);
        assert!((px(d.bbox.h) - 128.0).abs() < 0.01);
    }

    #[test]
    fn clamps_boxes_to_the_frame() {
        let classes = COCO_CLASSES.len();
        let mut scores = vec![0.0f32; 169 * classes];
        let mut dists = vec![0.0f32; 169 * 44];
        scores[0] = 0.8; // cell (0,0), person
        for side in 0..4 {
            dists[side * BINS + 10] = 50.0; // 320 px each way
        }
        let found = decode(
            &[Level {
                stride: 32,
                scores: &scores,
                dists: &dists,
            }],
            0.5,
            0.5,
        );
        let b = found[0].bbox;
        assert!(b.x >= 0.0 && b.y >= 0.0 && b.x + b.w <= 1.0 + 1e-6 && b.y + b.h <= 1.0 + 1e-6);
    }

    #[test]
    fn filters_by_class_and_score() {
        let filter =
            DetectionFilter::new(Some(&["Person".to_owned(), "car".to_owned()]), 0.6).unwrap();
        let d = |class: &'static str, score: f32| Detection {
            class,
            score,
            bbox: BoundingBox {
                x: 0.0,
                y: 0.0,
                w: 0.1,
                h: 0.1,
            },
            track_id: None,
        };
        assert!(filter.keeps(&d("person", 0.7)));
        assert!(!filter.keeps(&d("person", 0.5)));
        assert!(!filter.keeps(&d("truck", 0.9)));
        assert_eq!(
            DetectionFilter::new(Some(&["persn".to_owned()]), 0.5),
            Err("persn".to_owned())
        );
    }

    #[test]
    fn queue_drops_the_oldest() {
        let queue = DetectorQueue::new(2);
        for t in 0..5 {
            queue.push(DetectJob {
                camera: 1,
                filter: Arc::default(),
                media_time: t,
                frame_width: 1,
                frame_height: 1,
                bgr: Vec::new(),
                picture: None,
            });
        }
        assert_eq!(queue.dropped(), 3);
        assert_eq!(queue.pop().map(|j| j.media_time), Some(3));
        assert_eq!(queue.pop().map(|j| j.media_time), Some(4));
        queue.close();
        assert!(queue.pop().is_none());
    }
}
