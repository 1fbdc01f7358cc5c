//! Learning from the operator, on the device: an alert marked "false alarm"
//! becomes an exclusion, and later firings of the same kind (same camera,
//! rule and class, in the same place, of the same look) are suppressed
//! instead of raised. Exclusions are listed and can be undone; each counts
//! what it suppressed, so the owner sees what it is doing.

use serde::Serialize;

use crate::detect::BoundingBox;
use crate::rules::Firing;
use crate::track::foot;

/// How far (in frame widths/heights) a repeat may stand from the original.
/// Measured on the looping demo: at 0.1 (with any colour in common) nine
/// marks silenced 166 firings of other people at the same spot.
const SAME_PLACE: f32 = 0.05;
/// How much bigger or smaller (box height) a repeat may be.
const SAME_SIZE: f32 = 1.4;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Exclusion {
    pub id: i64,
    /// `None`: whatever rule fires.
    pub rule_id: Option<i64>,
    pub class: String,
    #[serde(rename = "box")]
    pub bbox: BoundingBox,
    /// The look of the original object; empty when it was not known.
    pub colours: Vec<String>,
}

impl Exclusion {
    /// Whether `firing` (whose object has `colours`) repeats this false alarm.
    pub fn matches(&self, firing: &Firing, colours: &[&str]) -> bool {
        let Some(b) = firing.bbox.as_ref() else {
            return false;
        };
        if firing.class != self.class || self.rule_id.is_some_and(|r| r != firing.rule_id) {
            return false;
        }
        let (here, there) = (foot(b), foot(&self.bbox));
        let near = (here.x - there.x).hypot(here.y - there.y) <= SAME_PLACE;
        let ratio = b.h.max(1e-4) / self.bbox.h.max(1e-4);
        let same_size = (1.0 / SAME_SIZE..=SAME_SIZE).contains(&ratio);
        // Every colour the original showed, shown again.
        let same_look = self.colours.is_empty()
            || colours.is_empty()
            || self.colours.iter().all(|e| colours.contains(&e.as_str()));
        near && same_size && same_look
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Priority;

    fn firing(x: f32, h: f32, class: &str, rule_id: i64) -> Firing {
        Firing {
            rule_id,
            rule_name: "r".into(),
            priority: Priority::Medium,
            media_time: 0,
            track_id: Some(1),
            class: class.into(),
            score: 0.8,
            bbox: Some(BoundingBox {
                x,
                y: 0.5,
                w: 0.05,
                h,
            }),
            zone: "z".into(),
            explanation: String::new(),
        }
    }

    #[test]
    fn repeats_match_and_other_objects_do_not() {
        let flag = Exclusion {
            id: 1,
            rule_id: Some(3),
            class: "person".into(),
            bbox: BoundingBox {
                x: 0.40,
                y: 0.5,
                w: 0.05,
                h: 0.2,
            },
            colours: vec!["red".into()],
        };
        let cases = [
            (
                firing(0.42, 0.2, "person", 3),
                vec!["red", "black"],
                true,
                "same place, size, look",
            ),
            (firing(0.42, 0.2, "person", 3), vec![], true, "look unknown"),
            (
                firing(0.42, 0.2, "person", 3),
                vec!["blue"],
                false,
                "another look",
            ),
            (
                firing(0.70, 0.2, "person", 3),
                vec!["red"],
                false,
                "another place",
            ),
            (
                firing(0.42, 0.5, "person", 3),
                vec!["red"],
                false,
                "much bigger",
            ),
            (
                firing(0.42, 0.2, "car", 3),
                vec!["red"],
                false,
                "another class",
            ),
            (
                firing(0.42, 0.2, "person", 4),
                vec!["red"],
                false,
                "another rule",
            ),
        ];
        for (f, colours, expected, what) in cases {
            assert_eq!(flag.matches(&f, &colours), expected, "{what}");
        }
    }
}
