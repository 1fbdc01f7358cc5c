//! Motion gate: decides which sampled frames go to the detector. Frame
//! differencing on the detector's own small picture (already converted, so
//! the gate costs one pass over it): the picture is averaged into 4×4-pixel
//! cells of luma, and a frame "moves" when enough cells changed since the
//! last frame the gate looked at. Frames without motion skip the detector,
//! except for a periodic scan so that still objects (a parked car, someone
//! standing) are still seen and their tracks kept.
//!
//! On a busy scene something always moves, so the gate also skips a frame
//! whose motion lies on objects the detector already saw (their boxes from
//! the last analysed frame, grown by a margin; outside them, no more change
//! than counts as motion), at most one frame in a row: a newcomer moves
//! outside every box and is detected at once.

use std::sync::{Arc, Mutex};

use crate::clock::MediaTime;
use crate::detect::BoundingBox;

/// The boxes of a camera's tracked objects, written by the analysis stage.
pub type TrackedAreas = Arc<Mutex<Vec<BoundingBox>>>;

/// A tracked object's box is grown by this share of its size on each side.
const TRACK_MARGIN: f32 = 0.35;
/// Frames in a row that motion on tracked objects alone may keep from the detector.
const MAX_PREDICTED_RUN: u32 = 1;

/// Cell size in pixels of the detector's picture.
const CELL: usize = 4;
/// A cell changed when its mean luma moved by more than this (0..255).
const CELL_DELTA: i16 = 8;
/// This many changed cells make a frame move (a walking person far away
/// changes a few dozen; sensor and compression noise a handful at most).
const MIN_CHANGED_CELLS: usize = 6;
/// Without motion, a frame is still detected this often.
pub const SCAN_INTERVAL_US: i64 = 2_000_000;

#[derive(Debug, Default)]
pub struct MotionGate {
    previous: Vec<u8>,
    last_detected: Option<MediaTime>,
    predicted_run: u32,
}

impl MotionGate {
    /// Whether the frame (`size`² packed BGR) at `t` should be detected,
    /// given the boxes of the objects tracked so far.
    pub fn wants(
        &mut self,
        bgr: &[u8],
        size: usize,
        t: MediaTime,
        tracked: &[BoundingBox],
    ) -> bool {
        let cells = luma_cells(bgr, size);
        let per_side = size / CELL;
        let changed: Option<Vec<usize>> = (self.previous.len() == cells.len()).then(|| {
            self.previous
                .iter()
                .zip(&cells)
                .enumerate()
                .filter(|(_, (a, b))| (i16::from(**a) - i16::from(**b)).abs() > CELL_DELTA)
                .map(|(i, _)| i)
                .collect()
        });
        self.previous = cells;
        let since_last = self
            .last_detected
            .filter(|last| t >= *last)
            .map(|last| t - last);
        let scan_due = since_last.is_none_or(|d| d >= SCAN_INTERVAL_US);
        let wanted = match changed {
            None => true,
            Some(_) if scan_due => true,
            Some(cells) if cells.len() < MIN_CHANGED_CELLS => false,
            // Moving, but only where tracked objects are: predicted this once.
            Some(cells) => {
                // Outside the known boxes, no more change than a still scene's.
                let outside = cells
                    .iter()
                    .filter(|&&i| !on_tracked(i, per_side, tracked))
                    .count();
                let predicted = self.predicted_run < MAX_PREDICTED_RUN
                    && !tracked.is_empty()
                    && outside < MIN_CHANGED_CELLS;
                if predicted {
                    self.predicted_run += 1;
                }
                !predicted
            }
        };
        if wanted {
            self.last_detected = Some(t);
            self.predicted_run = 0;
        }
        wanted
    }
}

/// Whether cell `i` (row-major, `per_side` per row) lies on a tracked box.
fn on_tracked(i: usize, per_side: usize, tracked: &[BoundingBox]) -> bool {
    let x = ((i % per_side) as f32 + 0.5) / per_side as f32;
    let y = ((i / per_side) as f32 + 0.5) / per_side as f32;
    tracked.iter().any(|b| {
        let (mx, my) = (b.w * TRACK_MARGIN, b.h * TRACK_MARGIN);
        x >= b.x - mx && x <= b.x + b.w + mx && y >= b.y - my && y <= b.y + b.h + my
    })
}

/// Mean luma of each `CELL`² block of a packed BGR picture.
fn luma_cells(bgr: &[u8], size: usize) -> Vec<u8> {
    let per_side = size / CELL;
    let mut sums = vec![0u32; per_side * per_side];
    for y in 0..per_side * CELL {
        let row = &bgr[y * size * 3..(y * size + per_side * CELL) * 3];
        let cell_row = (y / CELL) * per_side;
        for (x, px) in row.chunks_exact(3).enumerate() {
            // BT.601 luma, integer weights summing to 256.
            let luma = 29 * u32::from(px[0]) + 150 * u32::from(px[1]) + 77 * u32::from(px[2]);
            sums[cell_row + x / CELL] += luma;
        }
    }
    let divisor = (CELL * CELL) as u32 * 256;
    sums.into_iter().map(|s| (s / divisor) as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZE: usize = 64;

    fn picture(square_at: Option<(usize, usize)>) -> Vec<u8> {
        let mut bgr = vec![90u8; SIZE * SIZE * 3];
        if let Some((sx, sy)) = square_at {
            for y in sy..sy + 12 {
                for x in sx..sx + 8 {
                    bgr[(y * SIZE + x) * 3..(y * SIZE + x) * 3 + 3]
                        .copy_from_slice(&[220, 220, 220]);
                }
            }
        }
        bgr
    }

    const NONE: &[BoundingBox] = &[];

    #[test]
    fn still_frames_skip_the_detector_until_the_periodic_scan() {
        let mut gate = MotionGate::default();
        let still = picture(Some((10, 10)));
        assert!(
            gate.wants(&still, SIZE, 0, NONE),
            "the first frame is always detected"
        );
        assert!(!gate.wants(&still, SIZE, 200_000, NONE));
        assert!(!gate.wants(&still, SIZE, 1_800_000, NONE));
        assert!(
            gate.wants(&still, SIZE, SCAN_INTERVAL_US, NONE),
            "periodic scan"
        );
        assert!(!gate.wants(&still, SIZE, SCAN_INTERVAL_US + 200_000, NONE));
    }

    #[test]
    fn a_moving_object_opens_the_gate() {
        let mut gate = MotionGate::default();
        assert!(gate.wants(&picture(Some((10, 10))), SIZE, 0, NONE));
        assert!(
            gate.wants(&picture(Some((18, 10))), SIZE, 200_000, NONE),
            "moved 8 px"
        );
        assert!(
            !gate.wants(&picture(Some((18, 10))), SIZE, 400_000, NONE),
            "stopped"
        );
    }

    #[test]
    fn motion_on_a_tracked_object_is_predicted_one_frame_in_two() {
        // The square is tracked where it was (10..18 × 10..22 of 64 px).
        let tracked = [BoundingBox {
            x: 10.0 / 64.0,
            y: 10.0 / 64.0,
            w: 8.0 / 64.0,
            h: 12.0 / 64.0,
        }];
        let mut gate = MotionGate::default();
        assert!(gate.wants(&picture(Some((10, 10))), SIZE, 0, &tracked));
        assert!(
            !gate.wants(&picture(Some((12, 10))), SIZE, 200_000, &tracked),
            "moving on its own box: predicted"
        );
        assert!(
            gate.wants(&picture(Some((14, 10))), SIZE, 400_000, &tracked),
            "never two in a row"
        );
        // Something moving where nothing is tracked is detected at once.
        assert!(gate.wants(&picture(Some((40, 40))), SIZE, 600_000, &tracked));
    }

    #[test]
    fn faint_noise_does_not_open_the_gate() {
        let mut gate = MotionGate::default();
        let base = picture(None);
        assert!(gate.wants(&base, SIZE, 0, NONE));
        let mut noisy = base.clone();
        for (i, v) in noisy.iter_mut().enumerate() {
            *v = v.wrapping_add((i % 7) as u8); // ±6 levels of "sensor noise"
        }
        assert!(!gate.wants(&noisy, SIZE, 200_000, NONE));
    }

    #[test]
    fn a_clock_jump_back_restarts_the_scan_schedule() {
        let mut gate = MotionGate::default();
        let still = picture(None);
        assert!(gate.wants(&still, SIZE, 10_000_000, NONE));
        assert!(
            gate.wants(&still, SIZE, 1_000_000, NONE),
            "re-anchored clock"
        );
    }
}
