//! Motion gate: decides which sampled frames go to the detector. Frame
//! differencing on the detector's own small picture (already converted, so
//! the gate costs one pass over it): the picture is averaged into 4×4-pixel
//! cells of luma, and a frame "moves" when enough cells changed since the
//! last frame the gate looked at. Frames without motion skip the detector,
//! except for a periodic scan so that still objects (a parked car, someone
//! standing) are still seen and their tracks kept.

use crate::clock::MediaTime;

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
}

impl MotionGate {
    /// Whether the frame (`size`² packed BGR) at `t` should be detected.
    pub fn wants(&mut self, bgr: &[u8], size: usize, t: MediaTime) -> bool {
        let cells = luma_cells(bgr, size);
        let changed = if self.previous.len() == cells.len() {
            self.previous
                .iter()
                .zip(&cells)
                .filter(|(a, b)| (i16::from(**a) - i16::from(**b)).abs() > CELL_DELTA)
                .count()
        } else {
            usize::MAX
        };
        self.previous = cells;
        let scan_due = self
            .last_detected
            .is_none_or(|last| t < last || t - last >= SCAN_INTERVAL_US);
        let wanted = changed >= MIN_CHANGED_CELLS || scan_due;
        if wanted {
            self.last_detected = Some(t);
        }
        wanted
    }
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

    #[test]
    fn still_frames_skip_the_detector_until_the_periodic_scan() {
        let mut gate = MotionGate::default();
        let still = picture(Some((10, 10)));
        assert!(
            gate.wants(&still, SIZE, 0),
            "the first frame is always detected"
        );
        assert!(!gate.wants(&still, SIZE, 200_000));
        assert!(!gate.wants(&still, SIZE, 1_800_000));
        assert!(gate.wants(&still, SIZE, SCAN_INTERVAL_US), "periodic scan");
        assert!(!gate.wants(&still, SIZE, SCAN_INTERVAL_US + 200_000));
    }

    #[test]
    fn a_moving_object_opens_the_gate() {
        let mut gate = MotionGate::default();
        assert!(gate.wants(&picture(Some((10, 10))), SIZE, 0));
        assert!(
            gate.wants(&picture(Some((18, 10))), SIZE, 200_000),
            "moved 8 px"
        );
        assert!(
            !gate.wants(&picture(Some((18, 10))), SIZE, 400_000),
            "stopped"
        );
    }

    #[test]
    fn faint_noise_does_not_open_the_gate() {
        let mut gate = MotionGate::default();
        let base = picture(None);
        assert!(gate.wants(&base, SIZE, 0));
        let mut noisy = base.clone();
        for (i, v) in noisy.iter_mut().enumerate() {
            *v = v.wrapping_add((i % 7) as u8); // ±6 levels of "sensor noise"
        }
        assert!(!gate.wants(&noisy, SIZE, 200_000));
    }

    #[test]
    fn a_clock_jump_back_restarts_the_scan_schedule() {
        let mut gate = MotionGate::default();
        let still = picture(None);
        assert!(gate.wants(&still, SIZE, 10_000_000));
        assert!(gate.wants(&still, SIZE, 1_000_000), "re-anchored clock");
    }
}
