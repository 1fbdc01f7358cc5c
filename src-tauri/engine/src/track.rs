//! Track: per camera, turns each frame's boxes into objects with stable ids.
//!
//! ByteTrack-style association: boxes at or above the camera's minimum score
//! are matched first to every live track (greedy, by IoU against the track's
//! box moved on by its velocity); weaker boxes (down to the detector's
//! floor) may then only continue a track that lost its strong match, which
//! keeps ids through partial occlusion without starting tracks from noise.
//! A track gets its id after `CONFIRM_HITS` matches and ends after
//! `MAX_MISSED` analysed frames without one. Greedy matching is enough at a
//! few dozen boxes per frame; a Kalman filter did not pay at 5 fps.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};

use serde::Serialize;

use crate::clock::MediaTime;
use crate::detect::{BoundingBox, Detection};

pub type TrackId = i64;

/// Matches a track needs before it gets an id (one-frame noise gets none).
const CONFIRM_HITS: u32 = 2;
/// Analysed frames without a match before a track ends.
const MAX_MISSED: u32 = 5;
/// A track unseen this long ends even when few frames were analysed
/// (a camera whose frames the motion gate skips).
const MAX_UNSEEN_US: i64 = 10_000_000;
/// The least overlap (IoU) that continues a track.
const MATCH_IOU: f32 = 0.3;
/// A box of another class continues a track only when it overlaps this much.
const CROSS_CLASS_IOU: f32 = 0.6;

/// Track ids are unique across cameras and restarts: the server seeds this
/// from the database at start.
static NEXT_ID: AtomicI64 = AtomicI64::new(1);

/// Ids from `first` on (never lowers the counter).
pub fn seed_track_ids(first: TrackId) {
    NEXT_ID.fetch_max(first, Ordering::Relaxed);
}

fn next_id() -> TrackId {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// A point in 0..1 of the frame.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

/// Where an object stands: the bottom centre of its box.
pub fn foot(b: &BoundingBox) -> Point {
    Point {
        x: b.x + b.w / 2.0,
        y: b.y + b.h,
    }
}

/// One object followed over frames.
#[derive(Clone, Debug)]
pub struct Track {
    /// 0 until confirmed.
    pub id: TrackId,
    pub bbox: BoundingBox,
    pub score: f32,
    /// Box motion in frame widths/heights per second.
    pub velocity: (f32, f32),
    pub first_seen: MediaTime,
    pub last_seen: MediaTime,
    /// Where it stood on the previous match (line crossing looks at the step).
    pub previous_foot: Point,
    /// Where it stood when first seen.
    pub first_foot: Point,
    pub best_score: f32,
    pub best_bbox: BoundingBox,
    pub best_time: MediaTime,
    /// Distance its foot travelled, in frame units.
    pub path_length: f32,
    votes: HashMap<&'static str, f32>,
    hits: u32,
    missed: u32,
    matched_now: bool,
}

impl Track {
    fn new(d: &Detection, t: MediaTime) -> Self {
        let mut votes = HashMap::new();
        votes.insert(d.class, d.score);
        Self {
            id: 0,
            bbox: d.bbox,
            score: d.score,
            velocity: (0.0, 0.0),
            first_seen: t,
            last_seen: t,
            previous_foot: foot(&d.bbox),
            first_foot: foot(&d.bbox),
            best_score: d.score,
            best_bbox: d.bbox,
            best_time: t,
            path_length: 0.0,
            votes,
            hits: 1,
            missed: 0,
            matched_now: true,
        }
    }

    /// A track as rules see it, for tests of rules on scripted paths.
    #[cfg(test)]
    pub(crate) fn scripted(
        id: TrackId,
        class: &'static str,
        from: Point,
        to: Point,
        first_seen: MediaTime,
    ) -> Self {
        // A zero-size box: its foot is exactly `to`.
        let bbox = BoundingBox {
            x: to.x,
            y: to.y,
            w: 0.0,
            h: 0.0,
        };
        let d = Detection {
            class,
            score: 0.8,
            bbox,
            track_id: None,
        };
        let mut track = Self::new(&d, first_seen);
        track.id = id;
        track.previous_foot = from;
        track
    }

    /// The class most of its boxes (weighted by score) said.
    pub fn class(&self) -> &'static str {
        self.votes
            .iter()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(c, _)| *c)
            .unwrap_or("object")
    }

    pub fn confirmed(&self) -> bool {
        self.id != 0
    }

    /// Matched on the frame just analysed.
    pub fn seen_now(&self) -> bool {
        self.matched_now
    }

    pub fn foot(&self) -> Point {
        foot(&self.bbox)
    }

    /// Seconds since first seen, as of `t`.
    pub fn age_s(&self, t: MediaTime) -> f32 {
        (t - self.first_seen) as f32 / 1e6
    }

    /// Its box moved on to `t` at its current velocity.
    fn predicted(&self, t: MediaTime) -> BoundingBox {
        let dt = ((t - self.last_seen) as f32 / 1e6).clamp(0.0, 1.0);
        BoundingBox {
            x: self.bbox.x + self.velocity.0 * dt,
            y: self.bbox.y + self.velocity.1 * dt,
            ..self.bbox
        }
    }

    fn update(&mut self, d: &Detection, t: MediaTime) {
        let dt = (t - self.last_seen) as f32 / 1e6;
        if dt > 0.0 {
            let v = ((d.bbox.x - self.bbox.x) / dt, (d.bbox.y - self.bbox.y) / dt);
            // Smoothed: one jittery box should not fling the prediction.
            self.velocity = (
                self.velocity.0 * 0.5 + v.0 * 0.5,
                self.velocity.1 * 0.5 + v.1 * 0.5,
            );
        }
        self.previous_foot = self.foot();
        let step = foot(&d.bbox);
        self.path_length += ((step.x - self.previous_foot.x).powi(2)
            + (step.y - self.previous_foot.y).powi(2))
        .sqrt();
        self.bbox = d.bbox;
        self.score = d.score;
        self.last_seen = t;
        *self.votes.entry(d.class).or_insert(0.0) += d.score;
        if d.score > self.best_score {
            self.best_score = d.score;
            self.best_bbox = d.bbox;
            self.best_time = t;
        }
        self.hits += 1;
        self.missed = 0;
        self.matched_now = true;
        if self.id == 0 && self.hits >= CONFIRM_HITS {
            self.id = next_id();
        }
    }
}

/// One camera's tracker.
#[derive(Debug, Default)]
pub struct Tracker {
    tracks: Vec<Track>,
}

impl Tracker {
    /// Associates one analysed frame's boxes (every box at or above the
    /// detector's floor) with tracks. Boxes below `min_score` that continue
    /// no track are dropped; the others get their track id. Returns the
    /// confirmed tracks that ended.
    pub fn update(
        &mut self,
        t: MediaTime,
        detections: &mut Vec<Detection>,
        min_score: f32,
    ) -> Vec<Track> {
        for track in &mut self.tracks {
            track.matched_now = false;
        }
        let (strong, weak): (Vec<usize>, Vec<usize>) =
            (0..detections.len()).partition(|&i| detections[i].score >= min_score);
        let mut assigned: Vec<Option<usize>> = vec![None; detections.len()];
        self.associate(t, detections, &strong, &mut assigned);
        self.associate(t, detections, &weak, &mut assigned);
        for &i in &strong {
            if assigned[i].is_none() {
                self.tracks.push(Track::new(&detections[i], t));
                assigned[i] = Some(self.tracks.len() - 1);
            }
        }
        for (d, slot) in detections.iter_mut().zip(&assigned) {
            d.track_id = slot.map(|k| self.tracks[k].id).filter(|id| *id != 0);
        }
        let mut keep = assigned.iter().map(Option::is_some);
        detections.retain(|_| keep.next().unwrap_or(false));
        self.expire(t)
    }

    /// Greedy matching of `candidates` to tracks not yet matched this frame.
    fn associate(
        &mut self,
        t: MediaTime,
        detections: &[Detection],
        candidates: &[usize],
        assigned: &mut [Option<usize>],
    ) {
        let mut pairs = Vec::new();
        for (k, track) in self.tracks.iter().enumerate() {
            if track.matched_now {
                continue;
            }
            let predicted = track.predicted(t);
            for &i in candidates {
                let d = &detections[i];
                // Where it should be by now, or where it was last seen: an
                // object that stopped while unseen is still itself.
                let overlap = crate::detect::iou(&predicted, &d.bbox)
                    .max(crate::detect::iou(&track.bbox, &d.bbox));
                let needed = if d.class == track.class() {
                    MATCH_IOU
                } else {
                    CROSS_CLASS_IOU
                };
                if overlap >= needed {
                    pairs.push((overlap, k, i));
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (_, k, i) in pairs {
            if assigned[i].is_none() && !self.tracks[k].matched_now {
                self.tracks[k].update(&detections[i], t);
                assigned[i] = Some(k);
            }
        }
    }

    fn expire(&mut self, t: MediaTime) -> Vec<Track> {
        let mut ended = Vec::new();
        let mut i = 0;
        while i < self.tracks.len() {
            let track = &mut self.tracks[i];
            if !track.matched_now {
                track.missed += 1;
            }
            if track.missed > MAX_MISSED || t - track.last_seen > MAX_UNSEEN_US {
                let gone = self.tracks.swap_remove(i);
                if gone.confirmed() {
                    ended.push(gone);
                }
            } else {
                i += 1;
            }
        }
        ended
    }

    /// Confirmed tracks still followed.
    pub fn active(&self) -> impl Iterator<Item = &Track> {
        self.tracks.iter().filter(|t| t.confirmed())
    }

    /// Ends every track (the camera stopped).
    pub fn clear(&mut self) -> Vec<Track> {
        self.tracks.drain(..).filter(Track::confirmed).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(x: f32, y: f32, score: f32) -> Detection {
        Detection {
            class: "person",
            score,
            bbox: BoundingBox {
                x,
                y,
                w: 0.1,
                h: 0.3,
            },
            track_id: None,
        }
    }

    const FRAME_US: i64 = 200_000;

    fn run(tracker: &mut Tracker, frames: &[Vec<Detection>]) -> Vec<Vec<Option<TrackId>>> {
        frames
            .iter()
            .enumerate()
            .map(|(n, boxes)| {
                let mut boxes = boxes.clone();
                tracker.update(n as i64 * FRAME_US, &mut boxes, 0.5);
                boxes.iter().map(|d| d.track_id).collect()
            })
            .collect()
    }

    #[test]
    fn one_walker_keeps_one_id_after_confirmation() {
        let mut tracker = Tracker::default();
        let frames: Vec<_> = (0..10)
            .map(|n| vec![person(0.1 + n as f32 * 0.02, 0.5, 0.8)])
            .collect();
        let ids = run(&mut tracker, &frames);
        assert_eq!(ids[0], vec![None], "not confirmed on its first box");
        let id = ids[1][0].expect("confirmed on the second");
        assert!(ids[1..].iter().all(|f| f == &vec![Some(id)]));
    }

    #[test]
    fn id_survives_a_dropped_detection_and_a_weak_box() {
        let mut tracker = Tracker::default();
        let mut frames: Vec<_> = (0..8)
            .map(|n| vec![person(0.1 + n as f32 * 0.02, 0.5, 0.8)])
            .collect();
        frames[3].clear(); // missed by the detector
        frames[5][0].score = 0.35; // partly hidden: below min_score, still continues the track
        let ids = run(&mut tracker, &frames);
        let id = ids[1][0].unwrap();
        for (n, f) in ids.iter().enumerate().skip(1) {
            if n != 3 {
                assert_eq!(f, &vec![Some(id)], "frame {n}");
            }
        }
    }

    #[test]
    fn weak_boxes_alone_start_nothing() {
        let mut tracker = Tracker::default();
        let frames: Vec<_> = (0..5).map(|_| vec![person(0.5, 0.5, 0.35)]).collect();
        let ids = run(&mut tracker, &frames);
        assert!(ids.iter().all(Vec::is_empty), "{ids:?}");
    }

    #[test]
    fn two_walkers_crossing_do_not_swap_ids() {
        // A walks right along y = 0.3, B walks left along y = 0.4; their boxes
        // overlap in the middle frames.
        let mut tracker = Tracker::default();
        let frames: Vec<_> = (0..15)
            .map(|n| {
                let s = n as f32 * 0.05;
                vec![person(0.05 + s, 0.30, 0.8), person(0.75 - s, 0.40, 0.8)]
            })
            .collect();
        let ids = run(&mut tracker, &frames);
        let (a, b) = (ids[1][0].unwrap(), ids[1][1].unwrap());
        assert_ne!(a, b);
        for (n, f) in ids.iter().enumerate().skip(1) {
            assert_eq!(f, &vec![Some(a), Some(b)], "frame {n}");
        }
    }

    #[test]
    fn a_track_ends_after_missed_frames_and_reports_its_life() {
        let mut tracker = Tracker::default();
        let mut t = 0;
        for n in 0..4 {
            tracker.update(t, &mut vec![person(0.1 + n as f32 * 0.05, 0.5, 0.8)], 0.5);
            t += FRAME_US;
        }
        let mut ended = Vec::new();
        for _ in 0..=MAX_MISSED {
            ended.extend(tracker.update(t, &mut Vec::new(), 0.5));
            t += FRAME_US;
        }
        assert_eq!(ended.len(), 1);
        let track = &ended[0];
        assert_eq!(track.class(), "person");
        assert_eq!(track.first_seen, 0);
        assert_eq!(track.last_seen, 3 * FRAME_US);
        assert!(
            (track.path_length - 0.15).abs() < 1e-4,
            "{}",
            track.path_length
        );
        assert_eq!(tracker.active().count(), 0);
    }

    proptest::proptest! {
        /// Walkers on separate rows, any speed, boxes dropped or weak at
        /// random (never on the first two frames): each keeps one id, and
        /// no two share one.
        #[test]
        fn ids_are_stable_under_dropped_and_weak_boxes(
            walkers in proptest::collection::vec((0.05f32..0.6, -0.02f32..0.02), 1..=3),
            frames in proptest::collection::vec(proptest::collection::vec((proptest::bool::weighted(0.25), 0.35f32..0.95), 3), 3..40),
        ) {
            let mut tracker = Tracker::default();
            let mut ids: Vec<Vec<TrackId>> = vec![Vec::new(); walkers.len()];
            // At most three misses in a row: more may end a track by design.
            let mut misses = vec![0; walkers.len()];
            for (n, frame) in frames.iter().enumerate() {
                let mut boxes = Vec::new();
                for (w, ((x0, vx), (dropped, score))) in walkers.iter().zip(frame).enumerate() {
                    if n >= 2 && *dropped && misses[w] < 3 {
                        misses[w] += 1;
                        continue;
                    }
                    misses[w] = 0;
                    let x = (x0 + vx * n as f32).clamp(0.0, 0.9);
                    boxes.push(person(x, 0.05 + 0.32 * w as f32, if n < 2 { 0.8 } else { *score }));
                }
                tracker.update(n as i64 * FRAME_US, &mut boxes, 0.5);
                for d in &boxes {
                    // Each walker has its own row.
                    let w = ((d.bbox.y - 0.05) / 0.32).round() as usize;
                    if let Some(id) = d.track_id {
                        ids[w].push(id);
                    }
                }
            }
            for (w, seen) in ids.iter().enumerate() {
                proptest::prop_assert!(seen.windows(2).all(|p| p[0] == p[1]), "walker {} changed id: {:?}", w, seen);
            }
            let firsts: Vec<TrackId> = ids.iter().filter_map(|s| s.first().copied()).collect();
            let mut unique = firsts.clone();
            unique.sort_unstable();
            unique.dedup();
            proptest::prop_assert_eq!(unique.len(), firsts.len(), "two walkers shared an id: {:?}", ids);
        }

        /// Any boxes at all: no panic, and no id twice on one frame.
        #[test]
        fn never_panics_nor_repeats_an_id_on_a_frame(
            frames in proptest::collection::vec(proptest::collection::vec((0f32..1.0, 0f32..1.0, 0f32..0.5, 0f32..0.5, 0.3f32..1.0), 0..12), 1..30),
        ) {
            let mut tracker = Tracker::default();
            for (n, frame) in frames.iter().enumerate() {
                let mut boxes: Vec<Detection> = frame
                    .iter()
                    .map(|&(x, y, w, h, score)| Detection { class: "person", score, bbox: BoundingBox { x, y, w, h }, track_id: None })
                    .collect();
                tracker.update(n as i64 * FRAME_US, &mut boxes, 0.5);
                let mut ids: Vec<TrackId> = boxes.iter().filter_map(|d| d.track_id).collect();
                let total = ids.len();
                ids.sort_unstable();
                ids.dedup();
                proptest::prop_assert_eq!(ids.len(), total);
            }
        }
    }

    #[test]
    fn class_is_the_weighted_vote() {
        let mut tracker = Tracker::default();
        let mut frames: Vec<_> = (0..5).map(|_| vec![person(0.4, 0.4, 0.8)]).collect();
        frames[2][0].class = "dog";
        frames[2][0].score = 0.9; // overlaps fully: continues the track despite the class
        run(&mut tracker, &frames);
        assert_eq!(tracker.active().next().map(Track::class), Some("person"));
    }
}
