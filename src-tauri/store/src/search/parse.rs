//! The parser: words in, a filter and chips out. Left to right, at each
//! word the longest phrase any matcher knows wins: time, camera, zone,
//! dwell, count, direction, alerts, colour, class, then stopwords; a word
//! nothing knows is, if one slip from a class or colour word, that word;
//! if an English word, it goes to the semantic fallback; else, and when the
//! fallback finds nothing near, to `unknown_words`.

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;

use super::dictionary::{screen, Screened};
use super::time::{Clock, TimeSpec};
use super::words::{self, ALERT_WORDS};
use super::{Chip, Parsed, Semantic, Term, TimeOfDay, Vocabulary};

/// Longer queries are cut here (on a character boundary).
const MAX_QUERY_CHARS: usize = 2000;
const MAX_WORDS: usize = 200;
/// Loitering without a number.
const LOITER_S: f64 = 60.0;
/// The confidence shown on a chip from a near miss of a table word ("persn").
pub const TYPO_CONFIDENCE: f32 = 0.9;
/// "A group of" people, "a crowd".
const GROUP: u32 = 3;
const CROWD: u32 = 5;
/// Words in camera and zone names that say nothing on their own.
const GENERIC: &[&str] = &["camera", "cam", "line", "zone", "area", "region", "the"];

/// Understands `query` as of `now` in time zone `tz`.
pub fn parse(
    query: &str,
    now: DateTime<Utc>,
    tz: Tz,
    vocabulary: &Vocabulary,
    semantic: Option<&dyn Semantic>,
) -> Parsed {
    let words = tokenize(query);
    let mut p = Parser {
        words: &words,
        clock: Clock {
            now,
            tz,
            words: &words,
        },
        vocabulary,
        out: Parsed::default(),
        range: None,
        of_day: (None, None),
    };
    let mut i = 0;
    while i < words.len() {
        let used = p.step(i, semantic);
        i += used.max(1);
    }
    p.finish()
}

/// Lower case words; punctuation splits words except inside times
/// ("10:30", "p.m."), dates ("2025-11-03") and words like "t-shirt".
pub(super) fn tokenize(query: &str) -> Vec<String> {
    let cut = query
        .char_indices()
        .nth(MAX_QUERY_CHARS)
        .map_or(query, |(at, _)| &query[..at]);
    let text = cut
        .to_lowercase()
        .replace("p.m.", "pm")
        .replace("a.m.", "am")
        .replace('’', "'");
    text.split(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                ',' | ';'
                    | '!'
                    | '?'
                    | '"'
                    | '('
                    | ')'
                    | '['
                    | ']'
                    | '/'
                    | '&'
                    | '.'
                    | '*'
                    | '='
                    | '<'
                    | '>'
                    | '|'
                    | '`'
                    | '{'
                    | '}'
            )
    })
    .map(|w| {
        w.trim_matches(|c: char| {
            matches!(
                c,
                '\'' | '-' | ':' | '_' | '#' | '+' | '%' | '@' | '$' | '^' | '~' | '\\'
            )
        })
    })
    .filter(|w| !w.is_empty())
    .take(MAX_WORDS)
    .map(str::to_owned)
    .collect()
}

struct Parser<'a> {
    words: &'a [String],
    clock: Clock<'a>,
    vocabulary: &'a Vocabulary,
    out: Parsed,
    range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    of_day: (Option<u32>, Option<u32>),
}

impl Parser<'_> {
    fn word(&self, i: usize) -> &str {
        self.words.get(i).map(String::as_str).unwrap_or("")
    }

    fn said(&self, i: usize, n: usize) -> String {
        self.words[i..(i + n).min(self.words.len())].join(" ")
    }

    fn chip(&mut self, kind: &'static str, label: String, i: usize, n: usize, confidence: f32) {
        let words = self.said(i, n);
        self.out.chips.push(Chip {
            kind,
            label,
            words,
            confidence,
        });
    }

    /// Handles the phrase at word `i`; returns how many words it used.
    fn step(&mut self, i: usize, semantic: Option<&dyn Semantic>) -> usize {
        if let Some((n, spec)) = self.clock.phrase(i) {
            self.apply_time(spec, i, n);
            return n;
        }
        // A two-word class ("parking meter") beats a one-word name ("Parking").
        let two = format!("{} {}", self.word(i), self.word(i + 1));
        let class_of_two = words::classes(&two).is_some();
        let longer = |n: usize| n >= 2 || !class_of_two;
        let camera = self.camera(i).filter(|(n, _, _)| longer(*n));
        let zone = self.zone(i).filter(|(n, _)| longer(*n));
        match (camera, zone) {
            (Some((n, id, name)), z) if z.as_ref().is_none_or(|(zn, _)| n > *zn) => {
                push_unique(&mut self.out.filter.cameras, id);
                self.chip("camera", name, i, n, 1.0);
                return n;
            }
            (_, Some((n, name))) => {
                push_unique(&mut self.out.filter.zones, name.clone());
                self.chip("zone", name, i, n, 1.0);
                return n;
            }
            _ => {}
        }
        if let Some(n) = self.dwell(i) {
            return n;
        }
        if let Some(n) = self.count(i) {
            return n;
        }
        if let Some(n) = self.direction(i) {
            return n;
        }
        let w = self.word(i).to_owned();
        if ALERT_WORDS.contains(&w.as_str()) {
            self.out.filter.alerts_only = true;
            self.chip("alerts", "alerts only".to_owned(), i, 1, 1.0);
            return 1;
        }
        if let Some(color) = words::color_exact(&w).filter(|_| !self.is_thing(i)) {
            self.add_color(color, i, 1, 1.0);
            return 1;
        }
        if let Some(classes) = words::classes(&two) {
            self.add_classes(classes, i, 2, 1.0);
            return 2;
        }
        if let Some(classes) = words::classes(&w) {
            self.add_classes(classes, i, 1, 1.0);
            return 1;
        }
        if let Some(color) = words::color(&w) {
            self.add_color(color, i, 1, 1.0);
            return 1;
        }
        if words::is_stopword(&w) || words::is_clothing(&w) {
            return 1;
        }
        if let Some(semantic) = semantic.filter(|_| w.chars().any(char::is_alphabetic)) {
            match screen(&w, semantic.dictionary()) {
                Screened::Typo(term) => {
                    self.apply_term(term, i, TYPO_CONFIDENCE);
                    return 1;
                }
                Screened::Word => {
                    if let Some((term, similarity)) = semantic.nearest(&w, self.vocabulary) {
                        self.apply_term(term, i, similarity);
                        return 1;
                    }
                }
                Screened::NotAWord => {}
            }
        }
        self.out.unknown_words.push(w);
        1
    }

    /// A word that is both a colour and a class ("orange") names the thing
    /// after "a" or "an" when no class or clothing follows ("an orange",
    /// not "an orange car"); otherwise it is the colour.
    fn is_thing(&self, i: usize) -> bool {
        let w = self.word(i);
        let next = self.word(i + 1);
        words::classes(w).is_some()
            && i > 0
            && matches!(self.word(i - 1), "a" | "an")
            && words::classes(next).is_none()
            && !words::is_clothing(next)
    }

    fn apply_term(&mut self, term: Term, i: usize, confidence: f32) {
        match term {
            Term::Class(class) => {
                push_unique(&mut self.out.filter.classes, class.clone());
                self.chip("class", class, i, 1, confidence);
            }
            Term::Color(color) => {
                push_unique(&mut self.out.filter.colors, color.clone());
                self.chip("color", color, i, 1, confidence);
            }
            Term::Camera(id, name) => {
                push_unique(&mut self.out.filter.cameras, id);
                self.chip("camera", name, i, 1, confidence);
            }
            Term::Zone(name) => {
                push_unique(&mut self.out.filter.zones, name.clone());
                self.chip("zone", name, i, 1, confidence);
            }
        }
    }

    fn add_color(&mut self, color: &str, i: usize, n: usize, confidence: f32) {
        push_unique(&mut self.out.filter.colors, color.to_owned());
        self.chip("color", color.to_owned(), i, n, confidence);
    }

    fn add_classes(&mut self, classes: &[&str], i: usize, n: usize, confidence: f32) {
        for class in classes {
            push_unique(&mut self.out.filter.classes, (*class).to_owned());
        }
        self.chip("class", classes.join(", "), i, n, confidence);
    }

    fn apply_time(&mut self, spec: TimeSpec, i: usize, n: usize) {
        match spec {
            TimeSpec::Range(from, to) => {
                // Two ranges narrow each other ("yesterday evening");
                // ranges that do not meet: the later phrase wins.
                self.range = Some(match self.range {
                    Some((f, t)) if from.max(f) < to.min(t) => (from.max(f), to.min(t)),
                    _ => (from, to),
                });
                let label = format!(
                    "{} → {}",
                    local(from, self.clock.tz),
                    local(to, self.clock.tz)
                );
                self.chip("time", label, i, n, 1.0);
            }
            TimeSpec::OfDay(start, end) => {
                if start.is_some() {
                    self.of_day.0 = start;
                }
                if end.is_some() {
                    self.of_day.1 = end;
                }
                let label = format!(
                    "{}–{}",
                    hhmm(start.unwrap_or(0)),
                    hhmm(end.unwrap_or(24 * 60))
                );
                self.chip("time_of_day", label, i, n, 1.0);
            }
        }
    }

    /// A camera named at word `i`: "cam 2", "camera two", "cam2", or the
    /// words of its name ("front gate", with or without "camera").
    fn camera(&self, i: usize) -> Option<(usize, i64, String)> {
        let w = self.word(i);
        let numbered = match w {
            "cam" | "camera" | "cameras" | "channel" | "ch" => {
                words::number(self.word(i + 1)).map(|n| (2, n))
            }
            _ => ["camera", "cam", "ch"]
                .iter()
                .find_map(|p| w.strip_prefix(p))
                .and_then(|rest| rest.parse::<u32>().ok())
                .map(|n| (1, n)),
        };
        if let Some((used, number)) = numbered {
            let by_name = self.vocabulary.cameras.iter().find(|(_, name)| {
                name_words(name).last().map(String::as_str) == Some(number.to_string().as_str())
            });
            let by_id = self
                .vocabulary
                .cameras
                .iter()
                .find(|(id, _)| *id == i64::from(number));
            if let Some((id, name)) = by_name.or(by_id) {
                return Some((used, *id, name.clone()));
            }
        }
        self.vocabulary
            .cameras
            .iter()
            .filter_map(|(id, name)| {
                let n = self.matches_name(i, name)?;
                Some((n, *id, name.clone()))
            })
            .max_by_key(|(n, _, _)| *n)
    }

    fn zone(&self, i: usize) -> Option<(usize, String)> {
        self.vocabulary
            .zones
            .iter()
            .filter_map(|name| Some((self.matches_name(i, name)?, name.clone())))
            .max_by_key(|(n, _)| *n)
    }

    /// How many words at `i` spell `name`: all its words, or its words less
    /// generic ones ("Gate line" → "gate"), or run together ("backdoor").
    fn matches_name(&self, i: usize, name: &str) -> Option<usize> {
        let full = name_words(name);
        let specific: Vec<String> = full
            .iter()
            .filter(|w| !GENERIC.contains(&w.as_str()))
            .cloned()
            .collect();
        let spelled = |n: usize, want: &[String]| {
            n > 0 && (0..n).all(|k| words_equal(self.word(i + k), &want[k]))
        };
        if spelled(full.len(), &full) {
            return Some(full.len());
        }
        if !specific.is_empty() && spelled(specific.len(), &specific) {
            // One specific word is a name only if it is not a class or colour
            // ("Car park" must not take "car").
            let lone = specific.len() == 1;
            let taken =
                words::classes(&specific[0]).is_some() || words::color(&specific[0]).is_some();
            if !(lone && taken) {
                return Some(specific.len());
            }
        }
        (full.len() > 1 && self.word(i) == full.concat()).then_some(1)
    }

    /// "stayed over 5 minutes", "for more than 30 seconds", "loitering".
    fn dwell(&mut self, i: usize) -> Option<usize> {
        let w = self.word(i);
        if matches!(
            w,
            "loitering" | "loiter" | "loitered" | "lingering" | "lingered" | "hanging"
        ) {
            self.set_dwell(LOITER_S, i, 1);
            return Some(1);
        }
        let mut at = i;
        if matches!(
            w,
            "stayed"
                | "stay"
                | "staying"
                | "stood"
                | "waited"
                | "waiting"
                | "remained"
                | "dwell"
                | "dwelled"
                | "dwelling"
        ) {
            at += 1;
        }
        if self.word(at) == "for" {
            at += 1;
        }
        match (self.word(at), self.word(at + 1)) {
            ("over" | "above", _) => at += 1,
            ("more" | "longer" | "greater", "than") | ("at", "least") => at += 2,
            _ => {}
        }
        if at == i {
            return None;
        }
        let n = words::number(self.word(at)).or(if matches!(self.word(at), "a" | "an") {
            Some(1)
        } else {
            None
        })?;
        let unit = match self.word(at + 1) {
            "second" | "seconds" | "sec" | "secs" | "s" => 1.0,
            "minute" | "minutes" | "min" | "mins" => 60.0,
            "hour" | "hours" | "hr" | "hrs" => 3600.0,
            _ => return None,
        };
        let used = at + 2 - i;
        self.set_dwell(f64::from(n) * unit, i, used);
        Some(used)
    }

    fn set_dwell(&mut self, seconds: f64, i: usize, n: usize) {
        self.out.filter.min_dwell_s = Some(seconds);
        self.chip(
            "dwell",
            format!("stayed ≥ {}", duration_label(seconds)),
            i,
            n,
            1.0,
        );
    }

    /// "more than 3 people", "at least 2 cars", "3 or more", "a group of",
    /// "a crowd", "two people".
    fn count(&mut self, i: usize) -> Option<usize> {
        let w = self.word(i);
        let (n, used) = if matches!(w, "crowd" | "crowds" | "crowded" | "crowding") {
            (CROWD, 1)
        } else if w == "group" || w == "groups" || (w == "a" && self.word(i + 1) == "group") {
            let at = i + usize::from(w == "a") + 1;
            (GROUP, at - i + usize::from(self.word(at) == "of"))
        } else if is_more_than(w, self.word(i + 1)) {
            let skip = if matches!(w, "over" | "above") { 1 } else { 2 };
            let n = words::number(self.word(i + skip))?;
            if is_time_unit(self.word(i + skip + 1)) {
                return None;
            }
            let strictly = !matches!(w, "at");
            (if strictly { n + 1 } else { n }, skip + 1)
        } else if let Some(n) = words::number(w) {
            let or_more = self.word(i + 1) == "or" && matches!(self.word(i + 2), "more" | "above");
            let next = if or_more {
                self.word(i + 3)
            } else {
                self.word(i + 1)
            };
            // A number is a count only before what is counted.
            if n < 2 || is_time_unit(next) || words::classes(next).is_none() && !or_more {
                return None;
            }
            (n, if or_more { 3 } else { 1 })
        } else {
            return None;
        };
        self.out.filter.min_count = Some(n);
        self.chip("count", format!("at least {n} together"), i, used, 1.0);
        Some(used)
    }

    fn direction(&mut self, i: usize) -> Option<usize> {
        let w = self.word(i);
        let next = self.word(i + 1);
        let (direction, used) = match (w, next) {
            ("coming", "in") | ("going", "in") | ("walking", "in") => ("in", 2),
            ("going", "out") | ("coming", "out") | ("walking", "out") => ("out", 2),
            ("standing", "still") => ("stationary", 2),
            (
                "entering" | "enter" | "entered" | "enters" | "arriving" | "arrived" | "arrival"
                | "arrivals" | "inbound" | "incoming",
                _,
            ) => ("in", 1),
            (
                "leaving" | "leave" | "exiting" | "exit" | "exited" | "exits" | "departing"
                | "departed" | "departure" | "departures" | "outbound" | "outgoing",
                _,
            ) => ("out", 1),
            ("left" | "leftward" | "leftwards", _) => ("left", 1),
            ("right" | "rightward" | "rightwards", _) => ("right", 1),
            ("stationary" | "parked" | "stopped" | "standing" | "still" | "idle", _) => {
                ("stationary", 1)
            }
            ("crossing" | "crossed" | "cross" | "crosses" | "passing" | "passed", _) => {
                // The line that follows names it; crossing says nothing more.
                return Some(1);
            }
            _ => return None,
        };
        self.out.filter.direction = Some(direction.to_owned());
        let label = match direction {
            "in" => "entering",
            "out" => "leaving",
            other => other,
        };
        self.chip("direction", label.to_owned(), i, used, 1.0);
        Some(used)
    }

    fn finish(mut self) -> Parsed {
        if let Some((from, to)) = self.range {
            self.out.filter.from = Some(from.to_rfc3339_opts(SecondsFormat::Secs, true));
            self.out.filter.to = Some(to.to_rfc3339_opts(SecondsFormat::Secs, true));
        }
        if self.of_day != (None, None) {
            self.out.filter.time_of_day = Some(TimeOfDay {
                start: hhmm(self.of_day.0.unwrap_or(0)),
                end: hhmm(self.of_day.1.unwrap_or(24 * 60)),
            });
        }
        self.out
    }
}

fn is_more_than(w: &str, next: &str) -> bool {
    matches!(
        (w, next),
        ("more" | "greater" | "longer", "than") | ("at", "least") | ("over" | "above", _)
    )
}

fn is_time_unit(word: &str) -> bool {
    matches!(
        word,
        "second"
            | "seconds"
            | "sec"
            | "secs"
            | "minute"
            | "minutes"
            | "min"
            | "mins"
            | "hour"
            | "hours"
            | "hr"
            | "hrs"
            | "day"
            | "days"
    )
}

/// A name's words, lower case.
fn name_words(name: &str) -> Vec<String> {
    tokenize(name)
}

/// Equal, or (words of five letters or more) one typo apart.
fn words_equal(said: &str, name: &str) -> bool {
    said == name
        || said.strip_suffix('s') == Some(name)
        || (name.chars().count() >= 5 && edit_distance(said, name) <= 1)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > 1 {
        return 2;
    }
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

fn push_unique<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

fn hhmm(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%a %d %b %H:%M").to_string()
}

fn duration_label(seconds: f64) -> String {
    if seconds >= 60.0 && seconds % 60.0 == 0.0 {
        format!("{} min", seconds / 60.0)
    } else {
        format!("{seconds} s")
    }
}
