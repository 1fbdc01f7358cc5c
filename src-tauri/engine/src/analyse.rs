//! Analyse: the stage after the detector. Per camera it masks, tracks and
//! evaluates rules, names colours and keeps each track's best thumbnail, on
//! its own OS thread behind a bounded queue (the detector never waits for
//! it). Out come detections with track ids (to the UI and the store), track
//! summaries when tracks end, and alerts with a snapshot that has the box
//! drawn on it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::{broadcast, mpsc};
use tracing::{info, warn};

use crate::camera::CameraId;
use crate::clock::MediaTime;
use crate::colour;
use crate::decode::RgbFrame;
use crate::detect::{BoundingBox, DetectJob, FrameDetections};
use crate::learn::Exclusion;
use crate::motion::TrackedAreas;
use crate::pipeline::EngineEvent;
use crate::rules::{self, CameraRules, Firing, Rule, Zone};
use crate::track::{self, Track, TrackId, Tracker};

/// Detected frames that may wait for analysis before the newest is dropped.
const QUEUE: usize = 32;
/// Thumbnails are cropped with this much margin around the box.
const THUMB_MARGIN: f32 = 0.15;
/// Net movement (in frame units) under which a track counts as stationary.
const STATIONARY: f32 = 0.05;

/// What the store keeps; sent on the persist channel in the order it happened.
#[derive(Debug)]
pub enum Record {
    Detections(Arc<FrameDetections>),
    TrackEnded(Box<TrackSummary>),
    Alert(Box<AlertDraft>),
    /// A firing that repeated a false alarm, kept quiet by this exclusion.
    Suppressed {
        exclusion_id: i64,
        camera_id: CameraId,
        firing: Box<Firing>,
    },
    /// A recording segment opened, grew or closed (see [`crate::record`]).
    Segment(crate::record::SegmentEvent),
}

/// One object's life, written when its track ends.
#[derive(Clone, Debug)]
pub struct TrackSummary {
    pub camera_id: CameraId,
    pub id: TrackId,
    pub class: &'static str,
    pub first_seen: MediaTime,
    pub last_seen: MediaTime,
    pub best_score: f32,
    pub best_box: BoundingBox,
    /// Where it went on screen: left, right, up, down, or stationary.
    pub direction: &'static str,
    /// Frame widths per second along its path.
    pub speed: f32,
    /// Seconds in each zone it entered.
    pub dwell: Vec<(String, f32)>,
    pub colours: Vec<&'static str>,
    /// People only.
    pub upper_colours: Vec<&'static str>,
    pub lower_colours: Vec<&'static str>,
    /// JPEG of its best view.
    pub thumbnail: Option<Vec<u8>>,
}

/// A rule that fired, with the frame it fired on.
#[derive(Clone, Debug)]
pub struct AlertDraft {
    pub camera_id: CameraId,
    pub firing: Firing,
    /// The object's colour names when it fired (its look, for learning).
    pub colours: Vec<&'static str>,
    /// JPEG of the frame with the object's box drawn.
    pub snapshot: Option<Vec<u8>>,
}

/// The best view of a track so far.
#[derive(Default)]
struct BestView {
    thumbnail: Option<Vec<u8>>,
    colours: Vec<&'static str>,
    upper: Vec<&'static str>,
    lower: Vec<&'static str>,
}

#[derive(Default)]
struct CameraAnalysis {
    tracker: Tracker,
    rules: CameraRules,
    exclusions: Vec<Exclusion>,
    best: HashMap<TrackId, BestView>,
    /// The tracked objects' boxes, for the camera's motion gate.
    tracked: TrackedAreas,
}

enum Job {
    Frame(FrameDetections, DetectJob),
    CameraStopped(CameraId),
}

/// Shared between the engine (which changes zones and rules) and the
/// detector thread (which hands frames over). The thread ends, after the
/// jobs already queued, when every clone is gone.
#[derive(Clone)]
pub struct Analysis {
    cameras: Arc<Mutex<HashMap<CameraId, CameraAnalysis>>>,
    jobs: SyncSender<Job>,
    emitted: Arc<AtomicU64>,
}

impl Analysis {
    /// Starts the analysis thread; join it to know that everything it
    /// analysed has been handed to `persist`.
    pub fn spawn(
        events: broadcast::Sender<EngineEvent>,
        persist: mpsc::Sender<Record>,
    ) -> std::io::Result<(Self, JoinHandle<()>)> {
        let (jobs, rx) = sync_channel(QUEUE);
        let analysis = Self {
            cameras: Arc::default(),
            jobs,
            emitted: Arc::default(),
        };
        let cameras = analysis.cameras.clone();
        let emitted = analysis.emitted.clone();
        let thread = std::thread::Builder::new()
            .name("analyse".to_owned())
            .spawn(move || run(&cameras, rx, &events, &persist, &emitted))?;
        Ok((analysis, thread))
    }

    /// Counts the detections (one database row each) shown and sent to the store.
    pub(crate) fn emitted_counter(&self) -> Arc<AtomicU64> {
        self.emitted.clone()
    }

    /// Hands a detected frame over; drops it (with a warning) when the stage is behind.
    pub fn submit(&self, found: FrameDetections, job: DetectJob) {
        match self.jobs.try_send(Job::Frame(found, job)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => warn!("analysis is behind; a detected frame was dropped"),
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// New zones and rules for a camera (its tracks carry on).
    pub fn set_rules(&self, camera: CameraId, zones: Vec<Zone>, rules: Vec<Rule>) {
        if let Ok(mut cameras) = self.cameras.lock() {
            cameras
                .entry(camera)
                .or_default()
                .rules
                .replace(zones, rules);
        }
    }

    /// Where a camera's tracked objects are, kept up to date for its motion gate.
    pub fn tracked_areas(&self, camera: CameraId) -> TrackedAreas {
        self.cameras
            .lock()
            .map(|mut c| c.entry(camera).or_default().tracked.clone())
            .unwrap_or_default()
    }

    /// The false alarms learnt for a camera.
    pub fn set_exclusions(&self, camera: CameraId, exclusions: Vec<Exclusion>) {
        if let Ok(mut cameras) = self.cameras.lock() {
            cameras.entry(camera).or_default().exclusions = exclusions;
        }
    }

    /// The camera stopped: its tracks end (and are stored), after the frames
    /// already queued.
    pub fn camera_stopped(&self, camera: CameraId) {
        let _ = self.jobs.send(Job::CameraStopped(camera));
    }
}

fn run(
    cameras: &Mutex<HashMap<CameraId, CameraAnalysis>>,
    rx: Receiver<Job>,
    events: &broadcast::Sender<EngineEvent>,
    persist: &mpsc::Sender<Record>,
    emitted: &AtomicU64,
) {
    while let Ok(job) = rx.recv() {
        let Ok(mut cameras) = cameras.lock() else {
            break;
        };
        let records = match job {
            Job::Frame(found, job) => cameras
                .entry(found.camera_id)
                .or_default()
                .analyse(found, &job),
            Job::CameraStopped(id) => cameras.get_mut(&id).map(|c| c.stop(id)).unwrap_or_default(),
        };
        drop(cameras);
        for record in records {
            if let Record::Detections(found) = &record {
                let _ = events.send(EngineEvent::Detections(found.clone()));
                if found.detections.is_empty() {
                    continue;
                }
                emitted.fetch_add(found.detections.len() as u64, Ordering::Relaxed);
            }
            // What the console was shown must be stored: when the writer is
            // behind, wait for it. Detected frames then wait in this stage's
            // queue (and the newest drop there, unshown), never a shown row.
            if persist.blocking_send(record).is_err() {
                warn!("analysis not stored: the database writer has stopped");
            }
        }
    }
    info!("analysis stopped");
}

impl CameraAnalysis {
    fn analyse(&mut self, mut found: FrameDetections, job: &DetectJob) -> Vec<Record> {
        let t = found.media_time;
        found
            .detections
            .retain(|d| !self.rules.masked(track::foot(&d.bbox)));
        // Everything the detector saw (weak boxes too: distant people) is
        // known motion for the gate; so are the tracks it did not see now.
        let seen: Vec<BoundingBox> = found.detections.iter().map(|d| d.bbox).collect();
        let min_score = job.filter.min_score;
        let ended = self.tracker.update(t, &mut found.detections, min_score);
        // Weak boxes kept a track going; the camera's minimum score still
        // decides what is shown and stored.
        found.detections.retain(|d| d.score >= min_score);
        let privacy = self.rules.privacy_areas();
        let blanked = job
            .picture
            .as_deref()
            .filter(|p| p.media_time == t)
            .map(|p| {
                if privacy.is_empty() {
                    None
                } else {
                    Some(blank_out(p, &privacy))
                }
            });
        let picture = match &blanked {
            Some(Some(own)) => Some(own),
            Some(None) => job.picture.as_deref(),
            None => None,
        };
        if let Some(picture) = picture {
            self.refresh_best_views(t, picture);
        }
        let active: Vec<&Track> = self.tracker.active().collect();
        if let Ok(mut tracked) = self.tracked.lock() {
            *tracked = seen;
            tracked.extend(active.iter().filter(|t| !t.seen_now()).map(|t| t.bbox));
        }
        let firings = self
            .rules
            .evaluate(t, rules::local_time(t), &active, &ended);
        let mut records = vec![Record::Detections(Arc::new(found))];
        for firing in firings {
            let colours = firing
                .track_id
                .and_then(|id| self.best.get(&id))
                .map(|b| b.colours.clone())
                .unwrap_or_default();
            if let Some(ex) = self
                .exclusions
                .iter()
                .find(|e| e.matches(&firing, &colours))
            {
                records.push(Record::Suppressed {
                    exclusion_id: ex.id,
                    camera_id: job.camera,
                    firing: Box::new(firing),
                });
                continue;
            }
            let snapshot = picture.and_then(|p| snapshot_with_box(p, firing.bbox.as_ref()));
            records.push(Record::Alert(Box::new(AlertDraft {
                camera_id: job.camera,
                firing,
                colours,
                snapshot,
            })));
        }
        for track in &ended {
            records.push(Record::TrackEnded(Box::new(
                self.summarise(job.camera, track),
            )));
        }
        records
    }

    fn stop(&mut self, camera: CameraId) -> Vec<Record> {
        if let Ok(mut tracked) = self.tracked.lock() {
            tracked.clear();
        }
        let ended = self.tracker.clear();
        ended
            .iter()
            .map(|t| Record::TrackEnded(Box::new(self.summarise(camera, t))))
            .collect()
    }

    /// Tracks whose best score improved on this frame get a new thumbnail and
    /// colours; a track just confirmed gets its first (its best box may
    /// date from before it had an id).
    fn refresh_best_views(&mut self, t: MediaTime, picture: &RgbFrame) {
        for track in self.tracker.active() {
            let improved = track.best_time == t;
            let first = !self.best.contains_key(&track.id);
            if !track.seen_now() || !(improved || first) {
                continue;
            }
            let b = if improved {
                track.best_bbox
            } else {
                track.bbox
            };
            let view = self.best.entry(track.id).or_default();
            view.thumbnail = crop_jpeg(picture, &b);
            view.colours = colour::dominant(picture, &b);
            if track.class() == "person" {
                let (upper, lower) = colour::body_regions(&b);
                view.upper = colour::dominant(picture, &upper);
                view.lower = colour::dominant(picture, &lower);
            }
        }
    }

    fn summarise(&mut self, camera: CameraId, track: &Track) -> TrackSummary {
        let best = self.best.remove(&track.id).unwrap_or_default();
        let (from, to) = (track.first_foot, track.foot());
        let (dx, dy) = (to.x - from.x, to.y - from.y);
        let direction = if dx.hypot(dy) < STATIONARY {
            "stationary"
        } else if dx.abs() >= dy.abs() {
            if dx > 0.0 {
                "right"
            } else {
                "left"
            }
        } else if dy > 0.0 {
            "down"
        } else {
            "up"
        };
        let seconds = track.age_s(track.last_seen).max(1e-3);
        TrackSummary {
            camera_id: camera,
            id: track.id,
            class: track.class(),
            first_seen: track.first_seen,
            last_seen: track.last_seen,
            best_score: track.best_score,
            best_box: track.best_bbox,
            direction,
            speed: track.path_length / seconds,
            dwell: self.rules.dwell_of(track.id),
            colours: best.colours,
            upper_colours: best.upper,
            lower_colours: best.lower,
            thumbnail: best.thumbnail,
        }
    }
}

/// A copy of `picture` with the privacy areas filled black.
pub fn blank_out(picture: &RgbFrame, areas: &[Vec<crate::track::Point>]) -> RgbFrame {
    let mut out = RgbFrame {
        media_time: picture.media_time,
        width: picture.width,
        height: picture.height,
        rgb: picture.rgb.clone(),
    };
    fill_areas(&mut out, areas);
    out
}

/// Fills each polygon (0..1 of the frame) black, pixel centres inside.
pub fn fill_areas(picture: &mut RgbFrame, areas: &[Vec<crate::track::Point>]) {
    let (w, h) = (picture.width as usize, picture.height as usize);
    for area in areas {
        let ys = area.iter().map(|p| p.y);
        let (top, bottom) = (ys.clone().fold(1.0f32, f32::min), ys.fold(0.0f32, f32::max));
        let (y0, y1) = (
            ((top * h as f32) as usize).min(h),
            ((bottom * h as f32).ceil() as usize).min(h),
        );
        for y in y0..y1 {
            for x in 0..w {
                let p = crate::track::Point {
                    x: (x as f32 + 0.5) / w as f32,
                    y: (y as f32 + 0.5) / h as f32,
                };
                if rules::contains(area, p) {
                    let i = (y * w + x) * 3;
                    picture.rgb[i..i + 3].fill(0);
                }
            }
        }
    }
}

/// Pixel bounds of a box in a `w`×`h` picture, grown by `margin` of its size.
fn pixel_bounds(
    b: &BoundingBox,
    w: u32,
    h: u32,
    margin: f32,
) -> Option<(usize, usize, usize, usize)> {
    let (w, h) = (w as f32, h as f32);
    let x0 = ((b.x - b.w * margin).max(0.0) * w) as usize;
    let y0 = ((b.y - b.h * margin).max(0.0) * h) as usize;
    let x1 = ((b.x + b.w * (1.0 + margin)).min(1.0) * w) as usize;
    let y1 = ((b.y + b.h * (1.0 + margin)).min(1.0) * h) as usize;
    (x1 > x0 + 1 && y1 > y0 + 1).then_some((x0, y0, x1, y1))
}

/// The object with a margin around it, as a JPEG.
fn crop_jpeg(picture: &RgbFrame, b: &BoundingBox) -> Option<Vec<u8>> {
    let (x0, y0, x1, y1) = pixel_bounds(b, picture.width, picture.height, THUMB_MARGIN)?;
    let stride = picture.width as usize * 3;
    let mut rgb = Vec::with_capacity((x1 - x0) * (y1 - y0) * 3);
    for y in y0..y1 {
        rgb.extend_from_slice(picture.rgb.get(y * stride + x0 * 3..y * stride + x1 * 3)?);
    }
    let crop = RgbFrame {
        media_time: picture.media_time,
        width: (x1 - x0) as u32,
        height: (y1 - y0) as u32,
        rgb,
    };
    crop.to_jpeg(80).ok()
}

/// The whole frame with the object's box drawn, as a JPEG.
pub fn snapshot_with_box(picture: &RgbFrame, b: Option<&BoundingBox>) -> Option<Vec<u8>> {
    let mut marked = RgbFrame {
        media_time: picture.media_time,
        width: picture.width,
        height: picture.height,
        rgb: picture.rgb.clone(),
    };
    if let Some((x0, y0, x1, y1)) =
        b.and_then(|b| pixel_bounds(b, picture.width, picture.height, 0.0))
    {
        draw_rect(&mut marked, (x0, y0, x1 - 1, y1 - 1), [255, 64, 32], 3);
    }
    marked.to_jpeg(80).ok()
}

fn draw_rect(
    p: &mut RgbFrame,
    (x0, y0, x1, y1): (usize, usize, usize, usize),
    colour: [u8; 3],
    thickness: usize,
) {
    let (w, h) = (p.width as usize, p.height as usize);
    let mut put = |x: usize, y: usize| {
        if x < w && y < h {
            let i = (y * w + x) * 3;
            p.rgb[i..i + 3].copy_from_slice(&colour);
        }
    };
    for k in 0..thickness {
        for x in x0..=x1 {
            put(x, y0 + k);
            put(x, y1.saturating_sub(k));
        }
        for y in y0..=y1 {
            put(x0 + k, y);
            put(x1.saturating_sub(k), y);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_has_the_box_drawn() {
        let picture = RgbFrame {
            media_time: 0,
            width: 40,
            height: 20,
            rgb: vec![0; 40 * 20 * 3],
        };
        let b = BoundingBox {
            x: 0.25,
            y: 0.25,
            w: 0.5,
            h: 0.5,
        };
        let mut marked = RgbFrame {
            rgb: picture.rgb.clone(),
            ..picture
        };
        draw_rect(
            &mut marked,
            pixel_bounds(&b, 40, 20, 0.0)
                .map(|(a, b, c, d)| (a, b, c - 1, d - 1))
                .unwrap(),
            [255, 0, 0],
            1,
        );
        let red = |x: usize, y: usize| marked.rgb[(y * 40 + x) * 3] == 255;
        assert!(
            red(10, 5) && red(29, 14) && red(10, 14) && red(29, 5),
            "corners"
        );
        assert!(!red(20, 10), "inside stays untouched");
        assert!(!red(9, 5), "outside stays untouched");
        let jpeg = snapshot_with_box(&marked, Some(&b)).expect("encodes");
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
        assert!(crop_jpeg(&marked, &b).is_some());
    }
}
