//! Search: the table of queries in `tests/search/queries.jsonl` (each row
//! with its own `now` and time zone, clock changes included, hostile input
//! too), properties of the parser on any input, and filters run against a
//! real SQLite file.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use peregrine_store::search::{parse, SearchFilter, Vocabulary};
use proptest::prelude::*;
use serde_json::Value;

fn vocabulary() -> Vocabulary {
    Vocabulary {
        cameras: vec![
            (1, "Front Gate".into()),
            (2, "Demo cam 2".into()),
            (3, "Back Yard".into()),
            (4, "Lobby camera".into()),
        ],
        zones: vec![
            "Back Door".into(),
            "Gate line".into(),
            "Entrance".into(),
            "Loading Bay".into(),
            "Parking".into(),
        ],
    }
}

#[test]
fn every_query_in_the_table_gives_its_filter() {
    let table = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/search/queries.jsonl"
    ))
    .expect("the query table");
    let vocabulary = vocabulary();
    let mut rows = 0;
    let mut failures = Vec::new();
    for line in table.lines().filter(|l| !l.trim().is_empty()) {
        let row: Value = serde_json::from_str(line).expect("a JSON row");
        let now: DateTime<Utc> = row["now"].as_str().unwrap().parse().unwrap();
        let tz: Tz = row["tz"].as_str().unwrap().parse().unwrap();
        let query = row["q"].as_str().unwrap();
        let expected: SearchFilter = serde_json::from_value(row["filter"].clone()).unwrap();
        let unknown: Vec<String> = serde_json::from_value(row["unknown"].clone()).unwrap();
        let parsed = parse(query, now, tz, &vocabulary, None);
        if parsed.filter != expected || parsed.unknown_words != unknown {
            failures.push(format!(
                "{query:?} at {now} {tz}:\n  got      {}\n  expected {}\n  unknown {:?} vs {:?}",
                serde_json::to_string(&parsed.filter).unwrap(),
                serde_json::to_string(&expected).unwrap(),
                parsed.unknown_words,
                unknown
            ));
        }
        rows += 1;
    }
    assert!(rows >= 150, "the table holds {rows} queries");
    assert!(
        failures.is_empty(),
        "{} of {rows} rows differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The detector's classes as `tests/search/class-plurals.tsv` lists them
/// (the server's tests check that list against the detector's own).
#[test]
fn every_class_is_found_by_its_name_and_plural() {
    let table = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/search/class-plurals.tsv"
    ))
    .expect("the class table");
    let now: DateTime<Utc> = "2025-11-05T14:30:00Z".parse().unwrap();
    let vocabulary = vocabulary();
    let mut rows = 0;
    let mut failures = Vec::new();
    for row in table
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (label, plural) = row.split_once('\t').expect("label<TAB>plural");
        // Alone, "orange" is the colour; "an orange" is the fruit.
        let name = if label == "orange" {
            "an orange"
        } else {
            label
        };
        for q in [name, plural] {
            let p = parse(q, now, chrono_tz::Europe::London, &vocabulary, None);
            if p.filter.classes != [label] || !p.unknown_words.is_empty() || p.chips.len() != 1 {
                failures.push(format!("{q:?} → {:?} {:?}", p.filter, p.unknown_words));
            }
        }
        rows += 1;
    }
    assert_eq!(rows, 80);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let colour = |q: &str| parse(q, now, chrono_tz::Europe::London, &vocabulary, None).filter;
    assert_eq!(colour("orange").colors, ["orange"]);
    assert_eq!(colour("orange").classes, Vec::<String>::new());
    let f = colour("an orange car");
    assert_eq!(
        (f.colors, f.classes),
        (vec!["orange".to_owned()], vec!["car".to_owned()])
    );
    let f = colour("3 oranges");
    assert_eq!(
        (f.classes, f.min_count),
        (vec!["orange".to_owned()], Some(3))
    );
    // "Parking" is a zone here; "parking meter" is still the class.
    assert_eq!(colour("parking meter").classes, ["parking meter"]);
    assert_eq!(colour("parking").zones, ["Parking"]);
}

#[tokio::test]
async fn every_filter_of_the_table_runs_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = peregrine_store::Store::open(&dir.path().join("t.db"))
        .await
        .unwrap();
    let table = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/search/queries.jsonl"
    ))
    .unwrap();
    for line in table.lines().filter(|l| !l.trim().is_empty()) {
        let row: Value = serde_json::from_str(line).unwrap();
        let filter: SearchFilter = serde_json::from_value(row["filter"].clone()).unwrap();
        let now: DateTime<Utc> = row["now"].as_str().unwrap().parse().unwrap();
        let tz: Tz = row["tz"].as_str().unwrap().parse().unwrap();
        let page = store.search(&filter, now, tz, 10, None).await;
        assert!(page.is_ok(), "{}: {:?}", row["q"], page.err());
    }
}

#[test]
fn a_day_when_the_clocks_change_has_its_true_length() {
    let vocabulary = vocabulary();
    let cases = [
        ("2025-10-27T10:00:00Z", "Europe/London", 25),
        ("2025-03-31T12:00:00Z", "Europe/London", 23),
        ("2025-11-03T15:00:00Z", "America/New_York", 25),
        ("2025-03-10T15:00:00Z", "America/New_York", 23),
        ("2025-11-05T15:00:00Z", "Europe/London", 24),
    ];
    for (now, tz, hours) in cases {
        let filter = parse(
            "yesterday",
            now.parse().unwrap(),
            tz.parse().unwrap(),
            &vocabulary,
            None,
        )
        .filter;
        let from: DateTime<Utc> = filter.from.unwrap().parse().unwrap();
        let to: DateTime<Utc> = filter.to.unwrap().parse().unwrap();
        assert_eq!(
            to - from,
            Duration::hours(hours),
            "yesterday as of {now} in {tz}"
        );
    }
}

#[test]
fn a_huge_query_is_cut_not_choked_on() {
    let query = "person in red ".repeat(800);
    assert!(query.len() > 10_000);
    let parsed = parse(&query, Utc::now(), chrono_tz::UTC, &vocabulary(), None);
    assert_eq!(parsed.filter.classes, ["person"]);
    assert_eq!(parsed.filter.colors, ["red"]);
}

fn valid(filter: &SearchFilter) -> Result<(), String> {
    let time = |t: &Option<String>| -> Result<Option<DateTime<Utc>>, String> {
        t.as_deref()
            .map(|s| s.parse::<DateTime<Utc>>().map_err(|e| format!("{s}: {e}")))
            .transpose()
    };
    let (from, to) = (time(&filter.from)?, time(&filter.to)?);
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(format!("from {f} after to {t}"));
        }
    }
    if let Some(tod) = &filter.time_of_day {
        for hhmm in [&tod.start, &tod.end] {
            let (h, m) = hhmm.split_once(':').ok_or("no colon")?;
            let (h, m): (u32, u32) = (
                h.parse().map_err(|_| "hour")?,
                m.parse().map_err(|_| "minute")?,
            );
            if h > 24 || m > 59 {
                return Err(format!("time of day {hhmm}"));
            }
        }
    }
    if filter
        .min_dwell_s
        .is_some_and(|s| !(s >= 0.0 && s.is_finite()))
    {
        return Err("dwell".into());
    }
    Ok(())
}

const WORDS: &[&str] = &[
    "person",
    "red",
    "last",
    "night",
    "after",
    "10pm",
    "between",
    "2",
    "and",
    "4",
    "pm",
    "on",
    "monday",
    "more",
    "than",
    "3",
    "people",
    "cam",
    "back",
    "door",
    "stayed",
    "over",
    "5",
    "minutes",
    "since",
    "8:00",
    "yesterday",
    "in",
    "the",
    "past",
    "hour",
    "entering",
    "alerts",
    "at",
    "least",
    "a",
    "group",
    "of",
    "november",
    "3rd",
    "weekend",
    "this",
    "morning",
    "gate",
    "line",
    "crossing",
    "🚗",
    "'",
    ";",
    "--",
    "99:99",
    "25pm",
    "0",
    "from",
    "to",
    "tonight",
];

proptest! {
    #[test]
    fn any_text_parses_to_a_valid_filter(query in ".{0,300}", offset_days in 0i64..3000, tz_pick in 0usize..4) {
        let tz: Tz = ["Europe/London", "America/New_York", "Asia/Tokyo", "UTC"][tz_pick].parse().unwrap();
        let now = DateTime::<Utc>::from_timestamp(1_600_000_000, 0).unwrap() + Duration::days(offset_days);
        let parsed = parse(&query, now, tz, &vocabulary(), None);
        prop_assert!(valid(&parsed.filter).is_ok(), "{:?}: {:?}", query, valid(&parsed.filter));
    }

    #[test]
    fn any_mix_of_known_words_parses_to_a_valid_filter(
        picks in proptest::collection::vec(0usize..WORDS.len(), 0..12),
        offset_minutes in 0i64..(60 * 24 * 800),
        tz_pick in 0usize..4,
    ) {
        let query: Vec<&str> = picks.iter().map(|i| WORDS[*i]).collect();
        let query = query.join(" ");
        let tz: Tz = ["Europe/London", "America/New_York", "Asia/Tokyo", "UTC"][tz_pick].parse().unwrap();
        let now = DateTime::<Utc>::from_timestamp(1_735_689_600, 0).unwrap() + Duration::minutes(offset_minutes);
        let parsed = parse(&query, now, tz, &vocabulary(), None);
        prop_assert!(valid(&parsed.filter).is_ok(), "{:?} at {}: {:?} {:?}", query, now, valid(&parsed.filter), parsed.filter);
        // Every word is accounted for: understood, ignorable or reported.
        for word in &parsed.unknown_words {
            prop_assert!(query.to_lowercase().contains(word.as_str()));
        }
    }
}
