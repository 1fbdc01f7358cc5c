//! Search latency on a generated database: 16 cameras over 30 days, N
//! detections (default 1 M) and their tracks, some alerts. Every query of
//! `tests/search/queries.jsonl` is parsed as of now and run; latencies are
//! grouped by the kind of filter. A bare indexed query on the same file is
//! the reference. Prints one JSON object (`npm run bench` reads it).
//!
//!     cargo run --example search_bench -p peregrine-store -- [DETECTIONS]

use std::time::Instant;

use chrono::Utc;
use peregrine_store::search::{parse, SearchFilter, Vocabulary};
use peregrine_store::{CameraFields, NewDetection, NewTrack, Store, TrackRow};
use serde_json::{json, Value};

const CAMERAS: i64 = 16;
const DAYS: i64 = 30;
const DETECTIONS_PER_TRACK: usize = 25;
const CLASSES: [&str; 6] = ["person", "person", "person", "car", "truck", "bicycle"];
const COLOURS: [&str; 11] = [
    "black", "white", "grey", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown",
];
const ZONES: [&str; 5] = [
    "Back Door",
    "Gate line",
    "Entrance",
    "Loading Bay",
    "Parking",
];
const DIRECTIONS: [&str; 5] = ["left", "right", "up", "down", "stationary"];

/// A small deterministic generator (no dependency for a benchmark).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let detections: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().join("bench.db")).await?;
    let started = Instant::now();
    let vocabulary = generate(&store, detections).await?;
    let generate_s = started.elapsed().as_secs_f64();

    let table = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/search/queries.jsonl"
    ))?;
    let tz = chrono_tz::Europe::London;
    let now = Utc::now();
    let mut by_kind: std::collections::BTreeMap<&'static str, Vec<f64>> = Default::default();
    let mut all = Vec::new();
    for round in 0..3 {
        for line in table.lines().filter(|l| !l.trim().is_empty()) {
            let row: Value = serde_json::from_str(line)?;
            let query = row["q"].as_str().unwrap_or_default();
            let parsed = parse(query, now, tz, &vocabulary, None);
            let t0 = Instant::now();
            let page = store.search(&parsed.filter, now, tz, 50, None).await?;
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            std::hint::black_box(page.results.len());
            if round > 0 {
                by_kind.entry(kind(&parsed.filter)).or_default().push(ms);
                all.push(ms);
            }
        }
    }
    let reference = bare_query(&store, now).await?;
    let kinds: serde_json::Map<String, Value> = by_kind
        .iter_mut()
        .map(|(k, v)| {
            (
                (*k).to_owned(),
                json!({"queries": v.len(), "p50_ms": percentile(v, 50.0), "p95_ms": percentile(v, 95.0)}),
            )
        })
        .collect();
    println!(
        "{}",
        json!({
            "detections": detections,
            "tracks": detections / DETECTIONS_PER_TRACK,
            "cameras": CAMERAS,
            "days": DAYS,
            "generate_s": generate_s,
            "queries": all.len(),
            "p50_ms": percentile(&mut all.clone(), 50.0),
            "p95_ms": percentile(&mut all, 95.0),
            "reference_p95_ms": reference,
            "by_kind": kinds,
        })
    );
    Ok(())
}

async fn generate(store: &Store, detections: usize) -> anyhow::Result<Vocabulary> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut cameras = Vec::new();
    for i in 1..=CAMERAS {
        let name = format!("Demo cam {i}");
        let fields = CameraFields {
            name: name.clone(),
            url: format!("rtsp://127.0.0.1:1/cam{i}"),
            sub_url: None,
            username: None,
            password_enc: None,
            detect_fps: 5.0,
            enabled: false,
            classes: None,
            min_score: 0.5,
            record_mode: "off".into(),
            pre_roll_s: 5.0,
            post_roll_s: 10.0,
            retain_days: None,
            max_bytes: None,
        };
        let row = store.insert_camera(&fields, 0).await?;
        cameras.push((row.id, name));
    }
    let end = Utc::now().timestamp_micros();
    let span = DAYS * 86_400_000_000;
    let tracks = detections / DETECTIONS_PER_TRACK;
    let mut batch = Vec::with_capacity(10_000);
    for id in 1..=tracks as i64 {
        let camera = cameras[rng.below(CAMERAS as u64) as usize].0;
        let class = rng.pick(&CLASSES);
        let first_seen = end - rng.below(span as u64) as i64;
        let seconds = 2 + rng.below(120) as i64;
        let frame_us = seconds * 1_000_000 / DETECTIONS_PER_TRACK as i64;
        // Now and then several people on one frame.
        let crowd = if rng.below(50) == 0 { 4 } else { 1 };
        for n in 0..DETECTIONS_PER_TRACK {
            for _ in 0..crowd.min(if n < DETECTIONS_PER_TRACK / crowd {
                crowd
            } else {
                1
            }) {
                batch.push(NewDetection {
                    camera_id: camera,
                    media_time: first_seen + n as i64 * frame_us,
                    class: class.to_owned(),
                    score: 0.7,
                    x: 0.1,
                    y: 0.1,
                    w: 0.2,
                    h: 0.5,
                    track_id: Some(id),
                });
            }
        }
        if batch.len() >= 10_000 {
            store.insert_detections(&batch).await?;
            batch.clear();
        }
        let colours = [rng.pick(&COLOURS), rng.pick(&COLOURS)].join(",");
        let dwell = if rng.below(3) == 0 {
            json!({ rng.pick(&ZONES): rng.below(300) as f64 }).to_string()
        } else {
            "{}".to_owned()
        };
        let row = TrackRow {
            id,
            camera_id: camera,
            class: class.to_owned(),
            first_seen,
            last_seen: first_seen + seconds * 1_000_000,
            best_score: 0.8,
            x: 0.1,
            y: 0.1,
            w: 0.2,
            h: 0.5,
            direction: rng.pick(&DIRECTIONS).to_owned(),
            speed: 0.1,
            dwell,
            colours: colours.clone(),
            upper_colours: colours,
            lower_colours: String::new(),
        };
        store
            .insert_track(&NewTrack {
                row,
                thumbnail: None,
            })
            .await?;
    }
    store.insert_detections(&batch).await?;
    Ok(Vocabulary {
        cameras,
        zones: ZONES.iter().map(|z| (*z).to_owned()).collect(),
    })
}

/// The reference: the simplest indexed query on the same file (the newest
/// 50 tracks of one class in the last day), p95 of 50 runs.
async fn bare_query(store: &Store, now: chrono::DateTime<Utc>) -> anyhow::Result<f64> {
    let filter = SearchFilter {
        classes: vec!["person".into()],
        ..SearchFilter::default()
    };
    let mut times = Vec::new();
    for _ in 0..50 {
        let t0 = Instant::now();
        store.search(&filter, now, chrono_tz::UTC, 50, None).await?;
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(percentile(&mut times, 95.0))
}

fn kind(f: &SearchFilter) -> &'static str {
    if f.min_count.is_some() {
        "count"
    } else if f.time_of_day.is_some() {
        "time of day"
    } else if !f.zones.is_empty() || !f.cameras.is_empty() {
        "place"
    } else if !f.colors.is_empty() {
        "colour"
    } else if f.min_dwell_s.is_some() || f.direction.is_some() || f.alerts_only {
        "behaviour"
    } else if f.from.is_some() {
        "time"
    } else if !f.classes.is_empty() {
        "class"
    } else {
        "everything"
    }
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let at = ((p / 100.0) * values.len() as f64) as usize;
    (values[at.min(values.len() - 1)] * 100.0).round() / 100.0
}
