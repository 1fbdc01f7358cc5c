//! Rules: zones, lines and masks drawn on a camera, and the rules that turn
//! tracks into alerts (enter, exit, loiter, line crossed in a direction,
//! count in a zone; armed by a schedule; a cooldown; a priority).
//!
//! Pure and synchronous: [`CameraRules::evaluate`] takes the tracks of one
//! analysed frame and the local wall-clock time, and returns what fired, so
//! every rule is testable on synthetic tracks. Objects are placed by their
//! foot (bottom centre of the box), in 0..1 of the frame.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use chrono::{Datelike, NaiveDateTime, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};

use crate::clock::MediaTime;
use crate::detect::BoundingBox;
use crate::track::{Point, Track, TrackId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneKind {
    /// An area rules watch.
    Zone,
    /// A tripwire from the first point to the second.
    Line,
    /// An area whose detections are ignored (a flag, a tree, a road).
    Mask,
    /// An area nobody may see (a neighbour's window): ignored like a mask,
    /// and blacked out in snapshots, thumbnails and the live view.
    Privacy,
}

/// Which way across a line counts. `In`: from the left of the line (walking
/// from its first point to its second) to its right; the UI draws the arrow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrossDirection {
    In,
    Out,
    Both,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Zone {
    pub id: i64,
    pub name: String,
    pub kind: ZoneKind,
    pub points: Vec<Point>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Medium,
    High,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Trigger {
    /// An object comes into the zone (or appears in it).
    Enter { zone_id: i64 },
    /// An object that was in the zone leaves it.
    Exit { zone_id: i64 },
    /// An object stays in the zone longer than `seconds`.
    Loiter { zone_id: i64, seconds: f32 },
    /// An object's foot crosses the line in `direction`.
    Cross {
        line_id: i64,
        direction: CrossDirection,
    },
    /// At least `at_least` objects are in the zone at once.
    Count { zone_id: i64, at_least: u32 },
    /// The camera has sent no new picture for `seconds` (lost, failing or
    /// frozen): a health alarm, raised by the server from camera states.
    Offline { seconds: u32 },
}

impl Trigger {
    /// The zone or line it watches; `None` for the whole camera.
    pub fn zone_id(&self) -> Option<i64> {
        match *self {
            Trigger::Enter { zone_id }
            | Trigger::Exit { zone_id }
            | Trigger::Loiter { zone_id, .. }
            | Trigger::Count { zone_id, .. } => Some(zone_id),
            Trigger::Cross { line_id, .. } => Some(line_id),
            Trigger::Offline { .. } => None,
        }
    }
}

/// Armed hours in local time on the given days; `end` before `start`
/// crosses midnight (the night belongs to the day it started on).
/// In JSON: `{"days": ["mon", …], "start": "22:00", "end": "06:00"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    #[serde(with = "day_names")]
    pub days: Vec<Weekday>,
    #[serde(with = "hh_mm")]
    pub start: NaiveTime,
    #[serde(with = "hh_mm")]
    pub end: NaiveTime,
}

/// Times of day as "HH:MM".
mod hh_mm {
    use chrono::NaiveTime;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&t.format("%H:%M"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let text = String::deserialize(d)?;
        NaiveTime::parse_from_str(&text, "%H:%M")
            .map_err(|_| D::Error::custom(format!("“{text}” is not a time of day like 22:00")))
    }
}

/// Days as "mon" … "sun".
mod day_names {
    use chrono::Weekday;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(days: &[Weekday], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(days.iter().map(|d| d.to_string().to_lowercase()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Weekday>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|day| {
                day.parse()
                    .map_err(|_| D::Error::custom(format!("“{day}” is not a day: use mon … sun")))
            })
            .collect()
    }
}

impl Schedule {
    pub fn armed(&self, local: NaiveDateTime) -> bool {
        let (day, time) = (local.weekday(), local.time());
        if self.start <= self.end {
            self.days.contains(&day) && time >= self.start && time < self.end
        } else {
            (self.days.contains(&day) && time >= self.start)
                || (self.days.contains(&day.pred()) && time < self.end)
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    pub priority: Priority,
    /// Empty: any class.
    pub classes: Vec<String>,
    pub trigger: Trigger,
    /// `None`: always armed.
    pub schedule: Option<Schedule>,
    /// After firing, the rule stays quiet this long.
    pub cooldown_s: u32,
}

impl Rule {
    fn watches(&self, class: &str) -> bool {
        self.classes.is_empty() || self.classes.iter().any(|c| c == class)
    }
}

/// A rule that fired, with everything an operator needs to judge it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Firing {
    pub rule_id: i64,
    pub rule_name: String,
    pub priority: Priority,
    pub media_time: MediaTime,
    pub track_id: Option<TrackId>,
    pub class: String,
    pub score: f32,
    #[serde(rename = "box")]
    pub bbox: Option<BoundingBox>,
    pub zone: String,
    pub explanation: String,
}

/// Per track: since when it is in each zone, and what it already fired.
#[derive(Debug, Default)]
struct TrackState {
    inside_since: HashMap<i64, MediaTime>,
    dwell_s: HashMap<i64, f32>,
    loitered: HashSet<i64>,
}

/// A camera's zones and rules, and what they remember between frames.
#[derive(Debug, Default)]
pub struct CameraRules {
    zones: Vec<Zone>,
    rules: Vec<Rule>,
    tracks: HashMap<TrackId, TrackState>,
    last_fired: HashMap<i64, MediaTime>,
    crowded: HashSet<i64>,
}

impl CameraRules {
    pub fn new(zones: Vec<Zone>, rules: Vec<Rule>) -> Self {
        Self {
            zones,
            rules,
            ..Self::default()
        }
    }

    /// New zones and rules; what tracks are inside is worked out afresh.
    pub fn replace(&mut self, zones: Vec<Zone>, rules: Vec<Rule>) {
        *self = Self::new(zones, rules);
    }

    /// Whether a detection standing at `p` falls in a mask or a privacy area.
    pub fn masked(&self, p: Point) -> bool {
        self.zones
            .iter()
            .any(|z| matches!(z.kind, ZoneKind::Mask | ZoneKind::Privacy) && contains(&z.points, p))
    }

    /// The areas to black out in every picture of this camera.
    pub fn privacy_areas(&self) -> Vec<Vec<Point>> {
        self.zones
            .iter()
            .filter(|z| z.kind == ZoneKind::Privacy)
            .map(|z| z.points.clone())
            .collect()
    }

    /// Evaluates every rule on one analysed frame. `tracks`: the camera's
    /// confirmed tracks; `ended`: those that just ended; `local`: the wall
    /// clock in the site's time zone (schedules).
    pub fn evaluate(
        &mut self,
        t: MediaTime,
        local: NaiveDateTime,
        tracks: &[&Track],
        ended: &[Track],
    ) -> Vec<Firing> {
        let mut fired = Vec::new();
        for track in tracks {
            self.follow(t, local, track, &mut fired);
        }
        for track in ended {
            self.tracks.remove(&track.id);
        }
        self.count(t, local, tracks, &mut fired);
        fired
    }

    /// Seconds the track spent in each zone (by zone name), for its summary.
    pub fn dwell_of(&self, track: TrackId) -> Vec<(String, f32)> {
        let Some(state) = self.tracks.get(&track) else {
            return Vec::new();
        };
        self.zones
            .iter()
            .filter_map(|z| state.dwell_s.get(&z.id).map(|s| (z.name.clone(), *s)))
            .collect()
    }

    fn follow(
        &mut self,
        t: MediaTime,
        local: NaiveDateTime,
        track: &Track,
        fired: &mut Vec<Firing>,
    ) {
        let foot = track.foot();
        let state = self.tracks.entry(track.id).or_default();
        let mut entered = Vec::new();
        let mut exited = Vec::new();
        for zone in self.zones.iter().filter(|z| z.kind == ZoneKind::Zone) {
            let now_inside = contains(&zone.points, foot);
            match (state.inside_since.get(&zone.id).copied(), now_inside) {
                (None, true) => {
                    state.inside_since.insert(zone.id, t);
                    entered.push(zone.id);
                }
                (Some(_), false) if track.seen_now() => {
                    state.inside_since.remove(&zone.id);
                    exited.push(zone.id);
                }
                (Some(since), _) => {
                    state.dwell_s.insert(zone.id, (t - since) as f32 / 1e6);
                }
                (None, false) => {}
            }
        }
        let crossings: Vec<(i64, CrossDirection)> = if track.seen_now() {
            self.zones
                .iter()
                .filter(|z| z.kind == ZoneKind::Line)
                .filter_map(|z| crossing(&z.points, track.previous_foot, foot).map(|d| (z.id, d)))
                .collect()
        } else {
            Vec::new()
        };
        let state = self.tracks.get(&track.id);
        let mut hits = Vec::new();
        for rule in self
            .rules
            .iter()
            .filter(|r| r.enabled && r.watches(track.class()))
        {
            let loiter = matches!(rule.trigger, Trigger::Loiter { .. });
            let what = match rule.trigger {
                Trigger::Enter { zone_id } if entered.contains(&zone_id) => "entered",
                Trigger::Exit { zone_id } if exited.contains(&zone_id) => "left",
                Trigger::Loiter { zone_id, seconds } => {
                    let dwell = state
                        .and_then(|s| s.dwell_s.get(&zone_id))
                        .copied()
                        .unwrap_or(0.0);
                    let done = state.is_some_and(|s| s.loitered.contains(&rule.id));
                    if dwell < seconds || done {
                        continue;
                    }
                    "stayed in"
                }
                Trigger::Cross { line_id, direction } => {
                    match crossings.iter().find(|(id, _)| *id == line_id) {
                        Some((_, d)) if direction == CrossDirection::Both || direction == *d => {
                            match d {
                                CrossDirection::In => "crossed inbound",
                                _ => "crossed outbound",
                            }
                        }
                        _ => continue,
                    }
                }
                _ => continue,
            };
            hits.push((rule.id, what, loiter));
        }
        for (rule_id, what, loiter) in hits {
            // A loiterer fires once per rule, not on every frame it stays.
            if loiter {
                if let Some(s) = self.tracks.get_mut(&track.id) {
                    s.loitered.insert(rule_id);
                }
            }
            if let Some(f) = self.fire(rule_id, t, local, Some(track), what, 1) {
                fired.push(f);
            }
        }
    }

    /// Count rules fire when the number in the zone reaches the threshold,
    /// and again only after it has dropped below.
    fn count(
        &mut self,
        t: MediaTime,
        local: NaiveDateTime,
        tracks: &[&Track],
        fired: &mut Vec<Firing>,
    ) {
        let mut hits = Vec::new();
        for rule in self.rules.iter().filter(|r| r.enabled) {
            let Trigger::Count { zone_id, at_least } = rule.trigger else {
                continue;
            };
            let inside: Vec<&Track> = tracks
                .iter()
                .copied()
                .filter(|tr| rule.watches(tr.class()))
                .filter(|tr| {
                    self.tracks
                        .get(&tr.id)
                        .is_some_and(|s| s.inside_since.contains_key(&zone_id))
                })
                .collect();
            let n = inside.len() as u32;
            if n >= at_least.max(1) {
                if self.crowded.insert(rule.id) {
                    let best = inside
                        .iter()
                        .max_by(|a, b| a.score.total_cmp(&b.score))
                        .copied();
                    hits.push((rule.id, best, n));
                }
            } else {
                self.crowded.remove(&rule.id);
            }
        }
        for (rule_id, best, n) in hits {
            if let Some(f) = self.fire(rule_id, t, local, best, "are in", n) {
                fired.push(f);
            }
        }
    }

    fn rule(&self, id: i64) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Applies schedule and cooldown, and writes the explanation.
    fn fire(
        &mut self,
        rule_id: i64,
        t: MediaTime,
        local: NaiveDateTime,
        track: Option<&Track>,
        what: &str,
        count: u32,
    ) -> Option<Firing> {
        let rule = self.rule(rule_id)?;
        if rule.schedule.as_ref().is_some_and(|s| !s.armed(local)) {
            return None;
        }
        let cooling = self
            .last_fired
            .get(&rule_id)
            .is_some_and(|last| t - last < i64::from(rule.cooldown_s) * 1_000_000);
        if cooling {
            return None;
        }
        let zone = self
            .zones
            .iter()
            .find(|z| Some(z.id) == rule.trigger.zone_id())
            .map(|z| z.name.clone())
            .unwrap_or_default();
        let class = track.map(Track::class).unwrap_or("object");
        let mut explanation = if count > 1 {
            format!("{count} {class}s {what} “{zone}”")
        } else {
            format!("{} {what} “{zone}”", capitalised(class))
        };
        if let (Trigger::Loiter { .. }, Some(tr)) = (&rule.trigger, track) {
            let zone_id = rule.trigger.zone_id();
            let dwell = self
                .tracks
                .get(&tr.id)
                .and_then(|s| zone_id.and_then(|z| s.dwell_s.get(&z)));
            let _ = write!(explanation, " for {:.0} s", dwell.copied().unwrap_or(0.0));
        }
        if let Some(tr) = track {
            let _ = write!(explanation, " (score {:.2}, track {})", tr.score, tr.id);
        }
        let _ = write!(explanation, ": rule “{}”", rule.name);
        if let Some(s) = &rule.schedule {
            let _ = write!(
                explanation,
                ", armed {}–{}",
                s.start.format("%H:%M"),
                s.end.format("%H:%M")
            );
        }
        let firing = Firing {
            rule_id,
            rule_name: rule.name.clone(),
            priority: rule.priority,
            media_time: t,
            track_id: track.map(|tr| tr.id),
            class: class.to_owned(),
            score: track.map(|tr| tr.score).unwrap_or(0.0),
            bbox: track.map(|tr| tr.bbox),
            zone,
            explanation,
        };
        self.last_fired.insert(rule_id, t);
        Some(firing)
    }
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Even-odd rule; a polygon needs three points.
pub fn contains(polygon: &[Point], p: Point) -> bool {
    if polygon.len() < 3 {
        return false;
    }
    let mut inside = false;
    let mut j = polygon.len() - 1;
    for i in 0..polygon.len() {
        let (a, b) = (polygon[i], polygon[j]);
        if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// Which side of the line a→b the point is on: > 0 right (y grows downwards).
fn side(a: Point, b: Point, p: Point) -> f32 {
    (b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x)
}

/// The direction in which the step `from`→`to` crosses the line (its first
/// two points), if it does.
pub fn crossing(line: &[Point], from: Point, to: Point) -> Option<CrossDirection> {
    let (&a, &b) = (line.first()?, line.get(1)?);
    let (s0, s1) = (side(a, b, from), side(a, b, to));
    // Touching the line is not crossing it; leaving it the other way is.
    if s0 == 0.0 || s1 == 0.0 || (s0 > 0.0) == (s1 > 0.0) {
        return None;
    }
    let (t0, t1) = (side(from, to, a), side(from, to, b));
    if (t0 > 0.0) == (t1 > 0.0) && t0 != 0.0 && t1 != 0.0 {
        return None;
    }
    Some(if s1 > 0.0 {
        CrossDirection::In
    } else {
        CrossDirection::Out
    })
}

/// Reads the wall clock's local time for `t` (UTC µs) in the machine's time zone.
pub fn local_time(t: MediaTime) -> NaiveDateTime {
    chrono::DateTime::from_timestamp_micros(t)
        .map(|utc| utc.with_timezone(&chrono::Local).naive_local())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
