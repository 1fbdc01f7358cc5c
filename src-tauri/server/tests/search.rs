//! Search through the API on a real SQLite file: sentences to results,
//! edited filters, pages, the audit log, hostile queries, and the semantic
//! fallback on the real embedding model.

mod common;

use common::TestServer;
use peregrine_store::{NewDetection, NewTrack, TrackRow};
use reqwest::Method;
use serde_json::{json, Value};

const MINUTE: i64 = 60_000_000;

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

struct Track {
    id: i64,
    camera: i64,
    class: &'static str,
    ago_min: i64,
    seconds: i64,
    colours: &'static str,
    dwell: &'static str,
}

async fn store_track(server: &TestServer, t: Track) {
    let first_seen = now_us() - t.ago_min * MINUTE;
    let row = TrackRow {
        id: t.id,
        camera_id: t.camera,
        class: t.class.into(),
        first_seen,
        last_seen: first_seen + t.seconds * 1_000_000,
        best_score: 0.8,
        x: 0.1,
        y: 0.1,
        w: 0.2,
        h: 0.5,
        direction: "right".into(),
        speed: 0.1,
        dwell: t.dwell.into(),
        colours: t.colours.into(),
        upper_colours: t.colours.into(),
        lower_colours: String::new(),
    };
    let thumbnail = Some(vec![0xFF, 0xD8, 0xFF, 0xD9]);
    server
        .running
        .state
        .store
        .insert_track(&NewTrack { row, thumbnail })
        .await
        .expect("track stored");
}

async fn search(server: &TestServer, q: &str) -> Value {
    let url = format!("/api/v1/search?q={}", urlencode(q));
    server.get_json(&url).await
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn track_ids(answer: &Value) -> Vec<i64> {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["track_id"].as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentences_find_the_right_tracks() {
    let server = TestServer::start(false).await;
    let mut cameras = Vec::new();
    for name in ["Front Gate", "Demo cam 2"] {
        let (status, camera) = server
            .send_json(
                Method::POST,
                "/api/v1/cameras",
                &json!({"name": name, "url": "rtsp://127.0.0.1:1/none", "enabled": false}),
            )
            .await;
        assert_eq!(status, 201, "{camera}");
        cameras.push(camera["id"].as_i64().unwrap());
    }
    let (gate, cam2) = (cameras[0], cameras[1]);
    let (status, _) = server
        .send_json(
            Method::POST,
            &format!("/api/v1/cameras/{gate}/zones"),
            &json!({"name": "Back Door", "kind": "zone", "points": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]}),
        )
        .await;
    assert_eq!(status, 201);
    let tracks = [
        Track {
            id: 1,
            camera: gate,
            class: "person",
            ago_min: 3,
            seconds: 20,
            colours: "red,black",
            dwell: r#"{"Back Door": 12.0}"#,
        },
        Track {
            id: 2,
            camera: gate,
            class: "person",
            ago_min: 4,
            seconds: 400,
            colours: "blue",
            dwell: "{}",
        },
        Track {
            id: 3,
            camera: cam2,
            class: "person",
            ago_min: 2,
            seconds: 10,
            colours: "white",
            dwell: "{}",
        },
        Track {
            id: 4,
            camera: cam2,
            class: "car",
            ago_min: 1,
            seconds: 30,
            colours: "red",
            dwell: "{}",
        },
        Track {
            id: 5,
            camera: cam2,
            class: "person",
            ago_min: 60 * 24 * 3,
            seconds: 10,
            colours: "red",
            dwell: "{}",
        },
    ];
    for t in tracks {
        store_track(&server, t).await;
    }

    let answer = search(&server, "people on cam 2 in the last 5 minutes").await;
    assert_eq!(track_ids(&answer), [3], "{answer}");
    assert_eq!(answer["results"][0]["camera_name"], "Demo cam 2");
    assert_eq!(
        answer["results"][0]["thumbnail_url"],
        "/api/v1/tracks/3/thumbnail.jpg"
    );
    assert!(answer["took_ms"].as_f64().unwrap() >= 0.0);
    let kinds: Vec<&str> = answer["chips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["class", "camera", "time"]);

    assert_eq!(
        track_ids(&search(&server, "person in red at the back door").await),
        [1]
    );
    assert_eq!(
        track_ids(&search(&server, "red").await),
        [4, 1, 5],
        "newest first"
    );
    assert_eq!(track_ids(&search(&server, "red car").await), [4]);
    assert_eq!(
        track_ids(&search(&server, "stayed over 5 minutes").await),
        [2]
    );
    assert_eq!(track_ids(&search(&server, "front gate").await), [1, 2]);
    assert_eq!(
        track_ids(&search(&server, "people yesterday").await),
        Vec::<i64>::new()
    );

    // "More than 3 people": four on one frame of camera 2, during track 3.
    let frame_time = now_us() - 2 * MINUTE + 2_000_000;
    let crowd: Vec<NewDetection> = (0..4)
        .map(|k| NewDetection {
            camera_id: cam2,
            media_time: frame_time,
            class: "person".into(),
            score: 0.7,
            x: 0.1 * k as f64,
            y: 0.1,
            w: 0.1,
            h: 0.3,
            track_id: None,
        })
        .collect();
    server
        .running
        .state
        .store
        .insert_detections(&crowd)
        .await
        .unwrap();
    let crowded = search(&server, "more than 3 people").await;
    assert_eq!(crowded["results"].as_array().unwrap().len(), 1, "{crowded}");
    let moment = &crowded["results"][0];
    assert_eq!(
        (moment["kind"].as_str(), moment["count"].as_i64()),
        (Some("moment"), Some(4))
    );
    assert_eq!(
        moment["thumbnail_url"], "/api/v1/tracks/3/thumbnail.jpg",
        "the picture of a person seen then"
    );
    assert_eq!(
        track_ids(&search(&server, "more than 4 people").await).len(),
        0
    );

    // An edited filter runs as is; pages follow the cursor.
    let (status, page1) = server
        .send_json(
            Method::POST,
            "/api/v1/search",
            &json!({"filter": {"classes": ["person"]}, "limit": 2}),
        )
        .await;
    assert_eq!(status, 200, "{page1}");
    assert_eq!(track_ids(&page1), [3, 1]);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let (_, page2) = server
        .send_json(
            Method::POST,
            "/api/v1/search",
            &json!({"filter": {"classes": ["person"]}, "limit": 2, "cursor": cursor}),
        )
        .await;
    assert_eq!(track_ids(&page2), [2, 5]);
    assert!(page2["next_cursor"].is_null());

    // Bad filters are named; hostile sentences are words, never SQL.
    let (status, error) = server
        .send_json(
            Method::POST,
            "/api/v1/search",
            &json!({"filter": {"from": "last tuesday"}}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(error["field"], "filter.from", "{error}");
    let (status, _) = server
        .send_json(
            Method::POST,
            "/api/v1/search",
            &json!({"q": "x", "limit": 0}),
        )
        .await;
    assert_eq!(status, 400);
    for hostile in [
        "'; DROP TABLE tracks; --",
        "\" OR 1=1 --",
        "🚗🚗🚗",
        &"a".repeat(10_000),
    ] {
        let answer = search(&server, hostile).await;
        assert!(answer["results"].is_array(), "{hostile}");
    }
    assert_eq!(
        track_ids(&search(&server, "person").await).len(),
        4,
        "tracks are still there"
    );
    let unknown = search(&server, "person in blurple").await;
    assert_eq!(unknown["unknown_words"], json!(["blurple"]));

    let audit = server.get_json("/api/v1/search/audit").await;
    let queries: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["query"].as_str().unwrap())
        .collect();
    assert!(
        queries.contains(&"people on cam 2 in the last 5 minutes"),
        "{queries:?}"
    );
    assert!(queries.contains(&"(filter edited)"));

    // The semantic fallback, on the real model.
    let parsed = server
        .get_json("/api/v1/search/parse?q=scarlet%20scooter")
        .await;
    assert_eq!(parsed["filter"]["colors"], json!(["red"]), "{parsed}");
    assert_eq!(parsed["filter"]["classes"], json!(["motorcycle"]));
    let confidence = parsed["chips"][0]["confidence"].as_f64().unwrap();
    assert!(confidence > 0.6 && confidence < 1.0, "{parsed}");
    server.running.stop().await;
}

fn list(name: &str) -> Vec<String> {
    let path = format!("{}/../../tests/search/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

async fn parse(server: &TestServer, q: &str) -> Value {
    server
        .get_json(&format!("/api/v1/search/parse?q={}", urlencode(q)))
        .await
}

fn chips(parsed: &Value) -> Vec<(String, String)> {
    parsed["chips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_owned(),
                c["label"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// On the real word list, table and model: what is not a word, or names
/// nothing, gives no chip; every class the detector reports is found by
/// its name and plural; the synonyms found before are still found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_words_that_name_something_become_chips() {
    let server = TestServer::start(false).await;
    let semantic = server
        .running
        .state
        .semantic
        .clone()
        .expect("the semantic fallback (npm run setup fetches the model)");
    assert!(
        semantic.has_table(),
        "no word table: run scripts/setup.sh (or cargo run -p peregrine-server --example semantic_table)"
    );

    let mut failures = Vec::new();
    let non_words = list("non-words.txt");
    let ordinary = list("ordinary-words.txt");
    for word in non_words.iter().chain(&ordinary) {
        let parsed = parse(&server, word).await;
        if !chips(&parsed).is_empty() || parsed["unknown_words"] != json!([word]) {
            failures.push(format!("{word}: {parsed}"));
        }
    }
    for q in [
        "blorptastic frobnicator",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "drop playing yesterdays",
    ] {
        let parsed = parse(&server, q).await;
        if !chips(&parsed).is_empty() {
            failures.push(format!("{q}: {parsed}"));
        }
    }
    // "table" names a class; "drop" is no truck.
    let parsed = parse(&server, "'; DROP TABLE detections; --").await;
    assert_eq!(
        chips(&parsed),
        [("class".to_owned(), "dining table".to_owned())],
        "{parsed}"
    );
    assert_eq!(parsed["unknown_words"], json!(["drop"]));

    // The detector's own labels, each with its plural from the list.
    let plurals: std::collections::HashMap<String, String> = list("class-plurals.tsv")
        .iter()
        .filter_map(|row| row.split_once('\t'))
        .map(|(l, p)| (l.to_owned(), p.to_owned()))
        .collect();
    let mut classes = 0;
    for label in peregrine_engine::detect::COCO_CLASSES {
        let Some(plural) = plurals.get(label) else {
            failures.push(format!("{label}: not in tests/search/class-plurals.tsv"));
            continue;
        };
        // Alone, "orange" is the colour.
        let name = if label == "orange" {
            "an orange".to_owned()
        } else {
            label.to_owned()
        };
        for q in [name.as_str(), plural] {
            let parsed = parse(&server, q).await;
            let want = [("class".to_owned(), label.to_owned())];
            if chips(&parsed) != want || parsed["unknown_words"] != json!([]) {
                failures.push(format!("{q}: {parsed}"));
            }
        }
        classes += 1;
    }
    assert_eq!(classes, 80);

    for (word, kind, label) in [
        ("scooter", "class", "motorcycle"),
        ("juvenile", "class", "person"),
        ("toddler", "class", "person"),
        ("teenager", "class", "person"),
        ("limousine", "class", "car"),
        ("minivan", "class", "car"),
        ("bicyclist", "class", "bicycle"),
        ("scarlet", "color", "red"),
        ("indigo", "color", "purple"),
        ("scooters", "class", "motorcycle"),
    ] {
        let parsed = parse(&server, word).await;
        if chips(&parsed) != [(kind.to_owned(), label.to_owned())] {
            failures.push(format!("{word}: {parsed}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Random letter strings (a fixed sequence): a guessed chip only ever
    // comes from a word of the list, or from a slip of a table word.
    let vocabulary = peregrine_store::search::Vocabulary::default();
    let dictionary = peregrine_store::search::Semantic::dictionary(semantic.as_ref());
    let mut seed: u64 = 0x5eed;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    let mut guessed = 0;
    for _ in 0..5000 {
        let len = 3 + next() % 10;
        let word: String = (0..len)
            .map(|_| char::from(b'a' + (next() % 26) as u8))
            .collect();
        let parsed = peregrine_store::search::parse(
            &word,
            chrono::Utc::now(),
            peregrine_store::search::local_zone(),
            &vocabulary,
            Some(semantic.as_ref() as &dyn peregrine_store::search::Semantic),
        );
        for chip in parsed.chips.iter().filter(|c| c.confidence < 1.0) {
            guessed += 1;
            assert_ne!(
                peregrine_store::search::screen(&word, dictionary),
                peregrine_store::search::Screened::NotAWord,
                "{word} became {chip:?}"
            );
        }
    }
    eprintln!("{guessed} of 5000 random strings were words or slips that gave a chip");
    server.running.stop().await;
}
