//! Colour names for an object, from its crop: each pixel is put in one of
//! eleven basic colour names (by hue, saturation and value), and the names
//! covering a good share of the crop win. People get their upper and lower
//! body named separately ("red top, blue trousers"), since that is how a
//! guard describes someone.

use crate::decode::RgbFrame;
use crate::detect::BoundingBox;

/// The palette, in the order search shows it.
pub const NAMES: [&str; 11] = [
    "black", "white", "grey", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown",
];

/// A name must cover this share of the region's pixels to be reported.
const MIN_SHARE: f32 = 0.2;
/// At most this many names per region.
const MAX_NAMES: usize = 2;

/// The basic colour name of one RGB pixel.
pub fn name_of(r: u8, g: u8, b: u8) -> &'static str {
    let (r, g, b) = (
        f32::from(r) / 255.0,
        f32::from(g) / 255.0,
        f32::from(b) / 255.0,
    );
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let value = max;
    let chroma = max - min;
    let saturation = if max > 0.0 { chroma / max } else { 0.0 };
    if value < 0.2 {
        return "black";
    }
    if saturation < 0.2 || chroma < 0.08 {
        return match value {
            v if v > 0.8 => "white",
            v if v < 0.3 => "black",
            _ => "grey",
        };
    }
    let hue = if max == r {
        60.0 * ((g - b) / chroma).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((b - r) / chroma + 2.0)
    } else {
        60.0 * ((r - g) / chroma + 4.0)
    };
    match hue {
        h if !(15.0..345.0).contains(&h) => {
            if value > 0.75 && saturation < 0.5 {
                "pink"
            } else {
                "red"
            }
        }
        h if h < 45.0 => {
            if value < 0.6 {
                "brown"
            } else {
                "orange"
            }
        }
        h if h < 70.0 => {
            if value < 0.5 {
                "brown"
            } else {
                "yellow"
            }
        }
        h if h < 170.0 => "green",
        h if h < 260.0 => "blue",
        h if h < 290.0 => "purple",
        _ => "pink",
    }
}

/// The dominant names of a region of `frame` (box in 0..1 of the frame).
pub fn dominant(frame: &RgbFrame, region: &BoundingBox) -> Vec<&'static str> {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let x0 = ((region.x.max(0.0) * w as f32) as usize).min(w);
    let y0 = ((region.y.max(0.0) * h as f32) as usize).min(h);
    let x1 = (((region.x + region.w).min(1.0) * w as f32) as usize).min(w);
    let y1 = (((region.y + region.h).min(1.0) * h as f32) as usize).min(h);
    let mut counts = [0u32; NAMES.len()];
    let mut total = 0u32;
    // Every other pixel each way: plenty for a histogram, a quarter of the work.
    for y in (y0..y1).step_by(2) {
        for x in (x0..x1).step_by(2) {
            let i = (y * w + x) * 3;
            let Some(px) = frame.rgb.get(i..i + 3) else {
                continue;
            };
            let name = name_of(px[0], px[1], px[2]);
            if let Some(k) = NAMES.iter().position(|n| *n == name) {
                counts[k] += 1;
                total += 1;
            }
        }
    }
    if total == 0 {
        return Vec::new();
    }
    let mut ranked: Vec<(usize, u32)> = counts.iter().copied().enumerate().collect();
    ranked.sort_by_key(|r| std::cmp::Reverse(r.1));
    ranked
        .into_iter()
        .take(MAX_NAMES)
        .filter(|(_, n)| *n as f32 / total as f32 >= MIN_SHARE)
        .map(|(k, _)| NAMES[k])
        .collect()
}

/// A person's upper and lower body, inside the box: the torso band and the
/// legs band (head and feet left out, and the sides trimmed of background).
pub fn body_regions(b: &BoundingBox) -> (BoundingBox, BoundingBox) {
    let band = |from: f32, to: f32| BoundingBox {
        x: b.x + b.w * 0.2,
        y: b.y + b.h * from,
        w: b.w * 0.6,
        h: b.h * (to - from),
    };
    (band(0.18, 0.5), band(0.55, 0.9))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_basic_colours() {
        let cases = [
            ((0, 0, 0), "black"),
            ((250, 250, 250), "white"),
            ((128, 128, 128), "grey"),
            ((200, 20, 30), "red"),
            ((128, 0, 0), "red"), // maroon
            ((240, 140, 20), "orange"),
            ((240, 230, 40), "yellow"),
            ((30, 160, 60), "green"),
            ((20, 40, 200), "blue"),
            ((0, 0, 128), "blue"), // navy
            ((120, 40, 180), "purple"),
            ((250, 160, 190), "pink"),
            ((110, 70, 30), "brown"),
        ];
        for ((r, g, b), name) in cases {
            assert_eq!(name_of(r, g, b), name, "rgb({r}, {g}, {b})");
        }
    }

    #[test]
    fn dominant_names_of_a_two_colour_person() {
        // 10×20 picture: red top half, blue bottom half.
        let (w, h) = (10u32, 20u32);
        let mut rgb = Vec::new();
        for y in 0..h {
            for _ in 0..w {
                rgb.extend_from_slice(if y < h / 2 {
                    &[200, 20, 30]
                } else {
                    &[20, 40, 200]
                });
            }
        }
        let frame = RgbFrame {
            media_time: 0,
            width: w,
            height: h,
            rgb,
        };
        let whole = BoundingBox {
            x: 0.0,
            y: 0.0,
            w: 1.0,
            h: 1.0,
        };
        let (upper, lower) = body_regions(&whole);
        assert_eq!(dominant(&frame, &upper), vec!["red"]);
        assert_eq!(dominant(&frame, &lower), vec!["blue"]);
        let mut both = dominant(&frame, &whole);
        both.sort_unstable();
        assert_eq!(both, vec!["blue", "red"]);
    }
}
