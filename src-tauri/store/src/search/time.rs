//! Time words: "last night", "yesterday after 10pm", "in the last 30
//! minutes", "on Monday", "last weekend", "between 2 and 4 pm", "on 3
//! November". Days are the workstation's local days (a day on which the
//! clocks change lasts 23 or 25 hours); everything comes out in UTC.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// What a time phrase means.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum TimeSpec {
    /// A span of absolute time.
    Range(DateTime<Utc>, DateTime<Utc>),
    /// Local time of day in minutes; `None` leaves that side open.
    OfDay(Option<u32>, Option<u32>),
}

/// The workstation's time zone (UTC when it cannot be told).
pub fn local_zone() -> Tz {
    iana_time_zone::get_timezone()
        .ok()
        .and_then(|name| name.parse().ok())
        .unwrap_or(chrono_tz::UTC)
}

pub(super) struct Clock<'a> {
    pub now: DateTime<Utc>,
    pub tz: Tz,
    pub words: &'a [String],
}

const MINUTES_PER_DAY: u32 = 24 * 60;

impl Clock<'_> {
    fn word(&self, i: usize) -> &str {
        self.words.get(i).map(String::as_str).unwrap_or("")
    }

    fn today(&self) -> NaiveDate {
        self.now.with_timezone(&self.tz).date_naive()
    }

    fn at(&self, date: NaiveDate, minutes: u32) -> DateTime<Utc> {
        local_instant(self.tz, date, minutes)
    }

    fn day(&self, date: NaiveDate) -> TimeSpec {
        TimeSpec::Range(self.at(date, 0), self.at(date + Duration::days(1), 0))
    }

    /// A part of a day: morning 05–12, afternoon 12–18, evening 18–24,
    /// night 18–06 (into the next day).
    fn part_of(&self, date: NaiveDate, part: &str) -> Option<TimeSpec> {
        let (start, end) = part_hours(part)?;
        Some(TimeSpec::Range(
            self.at(date, start * 60),
            self.at(date, end * 60),
        ))
    }

    /// The time phrase starting at word `i`: (words used, meaning).
    pub fn phrase(&self, i: usize) -> Option<(usize, TimeSpec)> {
        let today = self.today();
        let w = self.word(i);
        let next = self.word(i + 1);
        match w {
            "today" => Some((1, TimeSpec::Range(self.at(today, 0), self.now))),
            "now" | "currently" => Some((
                1,
                TimeSpec::Range(self.now - Duration::minutes(1), self.now),
            )),
            "yesterday" => {
                let date = today - Duration::days(1);
                match self.part_of(date, next) {
                    Some(spec) => Some((2, spec)),
                    None => Some((1, self.day(date))),
                }
            }
            "tonight" => self.part_of(today, "night").map(|s| (1, s)),
            "overnight" => self
                .part_of(today - Duration::days(1), "night")
                .map(|s| (1, s)),
            "this" => match next {
                "week" => Some((2, TimeSpec::Range(self.at(week_start(today), 0), self.now))),
                "weekend" => self.weekend(true).map(|s| (2, s)),
                part => self.part_of(today, part).map(|s| (2, s)),
            },
            "last" | "past" | "previous" | "within" => self.last(i),
            "since" => self.since(i + 1).map(|(n, s)| (n + 1, s)),
            "after" | "before" | "until" | "till" => {
                let (n, minutes, _) = clock(self.words, i + 1, true)?;
                let spec = if w == "after" {
                    TimeSpec::OfDay(Some(minutes), None)
                } else {
                    TimeSpec::OfDay(None, Some(minutes))
                };
                Some((n + 1, spec))
            }
            "between" | "from" => self.between(i),
            "at" | "around" | "about" => {
                let (n, minutes, explicit) = clock(self.words, i + 1, false)?;
                explicit.then_some(())?;
                let start = (minutes + MINUTES_PER_DAY - 30) % MINUTES_PER_DAY;
                let end = (minutes + 30) % MINUTES_PER_DAY;
                Some((n + 1, TimeSpec::OfDay(Some(start), Some(end))))
            }
            "on" => self.date_or_weekday(i + 1, false).map(|(n, s)| (n + 1, s)),
            "weekend" => self.weekend(false).map(|s| (1, s)),
            "morning" | "afternoon" | "evening" | "night" => {
                let (start, end) = part_hours(w)?;
                Some((1, TimeSpec::OfDay(Some(start * 60), Some(end % 24 * 60))))
            }
            _ => self.date_or_weekday(i, false),
        }
    }

    /// "last night", "last weekend", "last week", "last monday", "last 30
    /// minutes", "the past hour", "within the last 2 days".
    fn last(&self, i: usize) -> Option<(usize, TimeSpec)> {
        let today = self.today();
        let mut at = i + 1;
        if self.word(at) == "the" {
            at += 1;
        }
        if matches!(self.word(i), "within") && self.word(at) == "last" {
            at += 1;
        }
        match self.word(at) {
            "night" => {
                let spec = self.part_of(today - Duration::days(1), "night")?;
                return Some((at - i + 1, clamp(spec, self.now)));
            }
            "weekend" => return self.weekend(false).map(|s| (at - i + 1, s)),
            "week" => {
                let start = week_start(today) - Duration::days(7);
                let spec =
                    TimeSpec::Range(self.at(start, 0), self.at(start + Duration::days(7), 0));
                return Some((at - i + 1, spec));
            }
            _ => {}
        }
        if let Some((n, spec)) = self.date_or_weekday(at, true) {
            return Some((at - i + n, spec));
        }
        let (count, unit_at) = match number(self.word(at)) {
            Some(n) => (n, at + 1),
            None => (1, at),
        };
        let unit = unit_seconds(self.word(unit_at))?;
        let span = Duration::seconds(i64::from(count.max(1)) * unit);
        Some((unit_at - i + 1, TimeSpec::Range(self.now - span, self.now)))
    }

    /// After "since": a clock time today (yesterday if still to come), a
    /// weekday, a date, or "yesterday".
    fn since(&self, i: usize) -> Option<(usize, TimeSpec)> {
        let today = self.today();
        if self.word(i) == "yesterday" {
            return Some((
                1,
                TimeSpec::Range(self.at(today - Duration::days(1), 0), self.now),
            ));
        }
        if let Some((n, minutes, _)) = clock(self.words, i, true) {
            let mut from = self.at(today, minutes);
            if from > self.now {
                from = self.at(today - Duration::days(1), minutes);
            }
            return Some((n, TimeSpec::Range(from, self.now)));
        }
        let (n, spec) = self.date_or_weekday(i, false)?;
        match spec {
            TimeSpec::Range(from, _) => Some((n, TimeSpec::Range(from, self.now))),
            other => Some((n, other)),
        }
    }

    /// "between 2 and 4 pm", "from 10pm to 2am", "between 14:00 and 15:30".
    fn between(&self, i: usize) -> Option<(usize, TimeSpec)> {
        let (n1, mut start, start_explicit) = clock(self.words, i + 1, true)?;
        let joiner = self.word(i + 1 + n1);
        if !matches!(joiner, "and" | "to" | "until" | "till" | "-") {
            return None;
        }
        let (n2, end, end_explicit) = clock(self.words, i + 2 + n1, true)?;
        // "between 2 and 4 pm": the pm of the end applies to the start.
        if !start_explicit
            && end_explicit
            && end >= 12 * 60
            && start < 12 * 60
            && start + 12 * 60 <= end
        {
            start += 12 * 60;
        }
        Some((n1 + n2 + 2, TimeSpec::OfDay(Some(start), Some(end))))
    }

    /// A weekday ("monday", "mon", optionally with a part of the day) or a
    /// date ("3 november", "november 3rd", "3rd of nov", "2025-11-03").
    /// `strictly_before` ("last monday") skips today.
    fn date_or_weekday(&self, i: usize, strictly_before: bool) -> Option<(usize, TimeSpec)> {
        let today = self.today();
        if let Some(day) = weekday(self.word(i)) {
            let mut back =
                (7 + today.weekday().num_days_from_monday() - day.num_days_from_monday()) % 7;
            if back == 0 && strictly_before {
                back = 7;
            }
            let date = today - Duration::days(i64::from(back));
            return match self.part_of(date, self.word(i + 1)) {
                Some(spec) => Some((2, spec)),
                None => Some((1, self.day(date))),
            };
        }
        let (n, date) = self.date(i)?;
        Some((n, self.day(date)))
    }

    fn date(&self, i: usize) -> Option<(usize, NaiveDate)> {
        if let Ok(date) = NaiveDate::parse_from_str(self.word(i), "%Y-%m-%d") {
            return Some((1, date));
        }
        let (n, day, month) = if let Some(day) = ordinal(self.word(i)) {
            let of = usize::from(self.word(i + 1) == "of");
            (2 + of, day, month(self.word(i + 1 + of))?)
        } else {
            (2, ordinal(self.word(i + 1))?, month(self.word(i))?)
        };
        let this_year = self.today().year();
        let (n, year) = match self.word(i + n).parse::<i32>() {
            Ok(y) if (1970..=2200).contains(&y) => (n + 1, Some(y)),
            _ => (n, None),
        };
        let date = match year {
            Some(y) => NaiveDate::from_ymd_opt(y, month, day)?,
            None => {
                let date = NaiveDate::from_ymd_opt(this_year, month, day)?;
                // A date still to come this year means last year's.
                if date > self.today() {
                    NaiveDate::from_ymd_opt(this_year - 1, month, day)?
                } else {
                    date
                }
            }
        };
        Some((n, date))
    }

    /// The weekend (Saturday 00:00 to Monday 00:00) that is under way
    /// (`current`) or the last one that has begun.
    fn weekend(&self, current: bool) -> Option<TimeSpec> {
        let today = self.today();
        let since_saturday = (today.weekday().num_days_from_monday() + 2) % 7;
        let in_weekend = since_saturday <= 1;
        let back = if in_weekend && !current {
            since_saturday + 7
        } else {
            since_saturday
        };
        let saturday = today - Duration::days(i64::from(back));
        let end = self.at(saturday + Duration::days(2), 0);
        Some(clamp(TimeSpec::Range(self.at(saturday, 0), end), self.now))
    }
}

/// The UTC instant of a local date and time (minutes after midnight, may
/// run into the next day): the first, when the clocks go back; the next
/// valid one, when they go forward.
pub(super) fn local_instant(tz: Tz, date: NaiveDate, minutes: u32) -> DateTime<Utc> {
    if minutes >= MINUTES_PER_DAY {
        return local_instant(tz, date + Duration::days(1), minutes - MINUTES_PER_DAY);
    }
    let mut time = NaiveTime::from_hms_opt(minutes / 60, minutes % 60, 0).unwrap_or_default();
    for _ in 0..4 {
        if let Some(t) = tz.from_local_datetime(&date.and_time(time)).earliest() {
            return t.with_timezone(&Utc);
        }
        time += Duration::minutes(30);
    }
    date.and_time(time).and_utc()
}

/// "HH:MM" (up to "24:00") as minutes after midnight.
pub(super) fn parse_hhmm(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    let (h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= MINUTES_PER_DAY).then_some(h * 60 + m)
}

fn clamp(spec: TimeSpec, now: DateTime<Utc>) -> TimeSpec {
    match spec {
        TimeSpec::Range(from, to) => TimeSpec::Range(from, to.min(now).max(from)),
        other => other,
    }
}

fn week_start(date: NaiveDate) -> NaiveDate {
    date - Duration::days(i64::from(date.weekday().num_days_from_monday()))
}

fn part_hours(part: &str) -> Option<(u32, u32)> {
    match part {
        "morning" => Some((5, 12)),
        "afternoon" => Some((12, 18)),
        "evening" => Some((18, 24)),
        "night" => Some((18, 30)),
        _ => None,
    }
}

fn unit_seconds(word: &str) -> Option<i64> {
    match word {
        "second" | "seconds" | "sec" | "secs" | "s" => Some(1),
        "minute" | "minutes" | "min" | "mins" | "m" => Some(60),
        "hour" | "hours" | "hr" | "hrs" | "h" => Some(3600),
        "day" | "days" | "d" => Some(86_400),
        "week" | "weeks" => Some(7 * 86_400),
        _ => None,
    }
}

fn number(word: &str) -> Option<u32> {
    match word {
        "a" | "an" => None,
        w => super::words::number(w),
    }
}

fn weekday(word: &str) -> Option<Weekday> {
    let word = word
        .strip_suffix('s')
        .filter(|w| w.ends_with("day"))
        .unwrap_or(word);
    match word {
        "monday" | "mon" => Some(Weekday::Mon),
        "tuesday" | "tue" | "tues" => Some(Weekday::Tue),
        "wednesday" | "wed" => Some(Weekday::Wed),
        "thursday" | "thu" | "thur" | "thurs" => Some(Weekday::Thu),
        "friday" | "fri" => Some(Weekday::Fri),
        // Not "sat" or "sun": they are words too.
        "saturday" => Some(Weekday::Sat),
        "sunday" => Some(Weekday::Sun),
        _ => None,
    }
}

fn month(word: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    MONTHS
        .iter()
        .position(|m| *m == word || (word.len() >= 3 && m.starts_with(word)))
        .map(|i| i as u32 + 1)
}

/// "3", "3rd", "21st".
fn ordinal(word: &str) -> Option<u32> {
    let digits = word
        .strip_suffix("st")
        .or_else(|| word.strip_suffix("nd"))
        .or_else(|| word.strip_suffix("rd"))
        .or_else(|| word.strip_suffix("th"))
        .unwrap_or(word);
    digits.parse().ok().filter(|d| (1..=31).contains(d))
}

/// A clock time at word `i`: "10pm", "10 pm", "10:30", "22:00", "noon",
/// "midnight", and, when `bare_hours`, a bare "10" (read as 10:00).
/// Returns (words used, minutes after midnight, said am/pm or hh:mm).
pub(super) fn clock(words: &[String], i: usize, bare_hours: bool) -> Option<(usize, u32, bool)> {
    let word = words.get(i)?.as_str();
    match word {
        "noon" | "midday" => return Some((1, 12 * 60, true)),
        "midnight" => return Some((1, 0, true)),
        _ => {}
    }
    let (body, meridiem_here) = match word
        .strip_suffix("am")
        .map(|b| (b, Some(false)))
        .or_else(|| word.strip_suffix("pm").map(|b| (b, Some(true))))
    {
        Some((b, m)) if !b.is_empty() => (b, m),
        _ => (word, None),
    };
    let (hour, minute, has_colon) = match body.split_once(':') {
        Some((h, m)) => (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?, true),
        None => (body.parse::<u32>().ok()?, 0, false),
    };
    let (used, meridiem) = match meridiem_here {
        Some(pm) => (1, Some(pm)),
        None => match words.get(i + 1).map(String::as_str) {
            Some("am") => (2, Some(false)),
            Some("pm") => (2, Some(true)),
            _ => (1, None),
        },
    };
    if minute >= 60 || (!has_colon && meridiem.is_none() && !bare_hours) {
        return None;
    }
    let hour = match meridiem {
        Some(_) if !(1..=12).contains(&hour) => return None,
        Some(true) => hour % 12 + 12,
        Some(false) => hour % 12,
        None if hour <= 24 => hour % 24,
        None => return None,
    };
    Some((used, hour * 60 + minute, meridiem.is_some() || has_colon))
}
