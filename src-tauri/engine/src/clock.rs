//! The one clock: every access unit gets a `media_time` in UTC microseconds.
//!
//! `media_time` = wall clock at the anchor + the unwrapped RTP delta since the
//! anchor. The clock re-anchors to the wall clock on the first frame and
//! whenever RTP time jumps backwards or forwards by more than
//! [`MAX_FORWARD_JUMP_SECS`], which real cameras do on reboots and clock
//! changes and a looped file does at every loop.

/// A forward RTP jump larger than this between two frames is a discontinuity.
pub const MAX_FORWARD_JUMP_SECS: i64 = 2;

/// UTC microseconds since the Unix epoch.
pub type MediaTime = i64;

#[derive(Debug)]
pub struct MediaClock {
    clock_rate: i64,
    anchor: Option<Anchor>,
    last_ticks: i64,
}

#[derive(Debug, Clone, Copy)]
struct Anchor {
    wall_us: i64,
    ticks: i64,
}

/// The media time of one frame, and whether the clock had to re-anchor for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub media_time: MediaTime,
    pub discontinuity: bool,
    /// Earlier than the frame before it (B-frames arrive in decode order).
    pub reordered: bool,
}

impl MediaClock {
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate: i64::from(clock_rate.max(1)),
            anchor: None,
            last_ticks: 0,
        }
    }

    /// Stamps a frame whose unwrapped RTP time is `ticks`, received at `now_us`.
    pub fn stamp(&mut self, ticks: i64, now_us: i64) -> Stamp {
        let anchored = self.anchor.is_some();
        let delta = ticks - self.last_ticks;
        // A step back of less than a second is frame reordering (B-frames), not a jump.
        let reordered = anchored && delta < 0 && -delta < self.clock_rate;
        let discontinuity = anchored
            && !reordered
            && (delta < 0 || delta > MAX_FORWARD_JUMP_SECS * self.clock_rate);
        let anchor = match self.anchor {
            Some(anchor) if !discontinuity => anchor,
            _ => {
                let fresh = Anchor {
                    wall_us: now_us,
                    ticks,
                };
                self.anchor = Some(fresh);
                fresh
            }
        };
        if !reordered {
            self.last_ticks = ticks;
        }
        Stamp {
            media_time: anchor.wall_us + (ticks - anchor.ticks) * 1_000_000 / self.clock_rate,
            discontinuity,
            reordered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 90_000;

    #[test]
    fn follows_rtp_time_from_the_first_wall_clock() {
        let mut clock = MediaClock::new(RATE);
        let t0 = 1_700_000_000_000_000;
        assert_eq!(clock.stamp(1000, t0).media_time, t0);
        // 9000 ticks = 100 ms later in RTP time, whatever the arrival jitter.
        let s = clock.stamp(10_000, t0 + 130_000);
        assert_eq!(s.media_time, t0 + 100_000);
        assert!(!s.discontinuity);
    }

    #[test]
    fn reanchors_on_backward_jump() {
        let mut clock = MediaClock::new(RATE);
        let t0 = 1_000_000_000;
        clock.stamp(900_000, t0);
        let s = clock.stamp(0, t0 + 10_000_000);
        assert!(s.discontinuity);
        assert_eq!(s.media_time, t0 + 10_000_000);
        // And continues smoothly from the new anchor.
        assert_eq!(
            clock.stamp(9000, t0 + 10_200_000).media_time,
            t0 + 10_100_000
        );
    }

    #[test]
    fn tells_b_frame_reordering_from_a_jump() {
        let mut clock = MediaClock::new(RATE);
        let t0 = 1_000_000;
        // Decode order I0 P3 B1 B2 at 10 fps.
        let stamps: Vec<_> = [0, 27_000, 9_000, 18_000]
            .iter()
            .map(|&t| clock.stamp(t, t0))
            .collect();
        assert!(stamps.iter().all(|s| !s.discontinuity));
        assert_eq!(
            stamps.iter().map(|s| s.reordered).collect::<Vec<_>>(),
            [false, false, true, true]
        );
        assert_eq!(
            stamps[2].media_time,
            t0 + 100_000,
            "a B-frame keeps its presentation time"
        );
    }

    #[test]
    fn reanchors_on_large_forward_jump_only() {
        let mut clock = MediaClock::new(RATE);
        let t0 = 5_000_000;
        clock.stamp(0, t0);
        let small = clock.stamp(2 * 90_000, t0 + 2_000_000);
        assert!(!small.discontinuity, "exactly 2 s is not a jump");
        let big = clock.stamp(2 * 90_000 + 90_001 * 3, t0 + 2_100_000);
        assert!(big.discontinuity);
        assert_eq!(big.media_time, t0 + 2_100_000);
    }
}
