//! Zones, rules and the alarm queue through the real API on a real SQLite
//! file, and alerts raised end to end: simulator footage → detector →
//! tracker → a line across the plaza → an alert on the WebSocket.

mod common;

use std::time::{Duration, Instant};

use common::{CamSim, TestServer};
use futures::StreamExt;
use peregrine_store::NewAlert;
use reqwest::Method;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn events(server: &TestServer) -> Socket {
    let mut request = format!("ws://{}/api/v1/events", server.running.addr)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Authorization",
        format!("Bearer {}", server.running.token).parse().unwrap(),
    );
    tokio_tungstenite::connect_async(request)
        .await
        .expect("events socket opens")
        .0
}

/// The next `alert` event within `timeout`, skipping others.
async fn next_alert(ws: &mut Socket, timeout: Duration) -> Option<Value> {
    let deadline = Instant::now() + timeout;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(Some(Ok(Message::Text(text)))) = tokio::time::timeout(left, ws.next()).await else {
            continue;
        };
        let event: Value = serde_json::from_str(&text).unwrap();
        if event["type"] == "alert" {
            return Some(event["alert"].clone());
        }
    }
    None
}

async fn camera(server: &TestServer, url: &str) -> i64 {
    let (status, body) = server
        .send_json(
            Method::POST,
            "/api/v1/cameras",
            &json!({"name": "Plaza", "url": url, "classes": ["person"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zones_rules_and_the_alarm_queue() {
    let server = TestServer::start(false).await;
    let cam = camera(&server, "rtsp://127.0.0.1:9/none").await;
    let other = camera(&server, "rtsp://127.0.0.1:9/other").await;

    // Templates a small-site owner picks from.
    let templates = server.get_json("/api/v1/rule-templates").await;
    let ids: Vec<&str> = templates
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    for wanted in [
        "person_after_hours",
        "loitering",
        "vehicle_gate_inbound",
        "crowding",
    ] {
        assert!(ids.contains(&wanted), "{ids:?}");
    }

    // Zones: validated, stored, listed.
    let zones = format!("/api/v1/cameras/{cam}/zones");
    let bad = [
        (
            json!({"name": "Door", "kind": "zone", "points": [[0.1, 0.1], [0.2, 0.2]]}),
            "points",
        ),
        (
            json!({"name": "Door", "kind": "line", "points": [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]]}),
            "points",
        ),
        (
            json!({"name": "Door", "kind": "zone", "points": [[0.1, 0.1], [1.5, 0.2], [0.3, 0.9]]}),
            "points",
        ),
        (
            json!({"name": "", "kind": "zone", "points": [[0.1, 0.1], [0.5, 0.2], [0.3, 0.9]]}),
            "name",
        ),
        (
            json!({"name": "Door", "kind": "circle", "points": []}),
            "kind",
        ),
    ];
    for (body, field) in bad {
        let (status, answer) = server.send_json(Method::POST, &zones, &body).await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (400, Some(field)),
            "{body} → {answer}"
        );
    }
    let (status, door) = server
        .send_json(Method::POST, &zones, &json!({"name": "Back Door", "kind": "zone", "points": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.9], [0.1, 0.9]]}))
        .await;
    assert_eq!(status, 201, "{door}");
    let (_, gate) = server
        .send_json(
            Method::POST,
            &zones,
            &json!({"name": "Gate", "kind": "line", "points": [[0.5, 0.0], [0.5, 1.0]]}),
        )
        .await;
    assert_eq!(server.get_json(&zones).await.as_array().unwrap().len(), 2);

    // Rules from templates, checked against the camera's own zones.
    let rules = format!("/api/v1/cameras/{cam}/rules");
    let (status, loiter) = server
        .send_json(
            Method::POST,
            &rules,
            &json!({"template": "loitering", "zone_id": door["id"]}),
        )
        .await;
    assert_eq!(status, 201, "{loiter}");
    assert_eq!(
        loiter["trigger"],
        json!({"type": "loiter", "zone_id": door["id"], "seconds": 60.0})
    );
    assert_eq!(loiter["template"], "loitering");
    let (status, answer) = server
        .send_json(
            Method::POST,
            &rules,
            &json!({"template": "vehicle_gate_inbound", "zone_id": door["id"]}),
        )
        .await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (400, Some("trigger.line_id")),
        "a line template needs a line: {answer}"
    );
    let (status, answer) = server
        .send_json(
            Method::POST,
            &format!("/api/v1/cameras/{other}/rules"),
            &json!({"template": "loitering", "zone_id": door["id"]}),
        )
        .await;
    assert_eq!(status, 400, "another camera's zone: {answer}");
    let (status, answer) = server
        .send_json(
            Method::POST,
            &rules,
            &json!({"template": "nope", "zone_id": 1}),
        )
        .await;
    assert!(
        status == 400 && answer["message"].as_str().unwrap().contains("loitering"),
        "{answer}"
    );
    let (status, custom) = server
        .send_json(
            Method::POST,
            &rules,
            &json!({"name": "Night gate", "priority": "high", "classes": ["person", "car"],
                    "trigger": {"type": "cross", "line_id": gate["id"], "direction": "in"},
                    "schedule": {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "22:00", "end": "06:00"},
                    "cooldown_s": 30}),
        )
        .await;
    assert_eq!(status, 201, "{custom}");
    assert_eq!(custom["schedule"]["start"], "22:00");
    let (status, answer) = server
        .send_json(Method::POST, &rules, &json!({"name": "x", "classes": ["unicorn"], "trigger": {"type": "enter", "zone_id": door["id"]}}))
        .await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (400, Some("classes")),
        "{answer}"
    );
    let (status, patched) = server
        .send_json(
            Method::PATCH,
            &format!("/api/v1/rules/{}", custom["id"]),
            &json!({"enabled": false, "schedule": null}),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(
        (patched["enabled"].as_bool(), patched["schedule"].is_null()),
        (Some(false), true)
    );

    // Deleting a zone takes the rules that watch it.
    let (status, _) = server
        .send_json(
            Method::DELETE,
            &format!("/api/v1/zones/{}", door["id"]),
            &json!({}),
        )
        .await;
    assert_eq!(status, 204);
    let left = server.get_json(&rules).await;
    assert_eq!(left.as_array().unwrap().len(), 1, "{left}");

    // The alarm queue: an alert (stored as the writer stores them), acknowledged and closed with a note.
    let mut ws = events(&server).await;
    let row = server
        .running
        .state
        .store
        .insert_alert(&NewAlert {
            camera_id: cam,
            rule_id: None,
            rule_name: "Person crossing the line".into(),
            priority: "high".into(),
            media_time: 1_764_000_000_000_000,
            track_id: Some(7),
            class: "person".into(),
            score: 0.8,
            zone: "Gate".into(),
            bbox: Some([0.1, 0.2, 0.1, 0.3]),
            explanation: "Person crossed inbound “Gate”".into(),
            colours: "red".into(),
            snapshot: Some(vec![0xFF, 0xD8, 0xFF, 0xD9]),
            created_at: 1,
        })
        .await
        .unwrap();
    let listed = server.get_json("/api/v1/alerts?state=new").await;
    assert_eq!(listed["counts"]["new"], 1);
    let alert = &listed["alerts"][0];
    assert_eq!(
        (alert["id"].as_i64(), alert["state"].as_str()),
        (Some(row.id), Some("new"))
    );
    assert_eq!(
        alert["snapshot_url"],
        format!("/api/v1/alerts/{}/snapshot.jpg", row.id)
    );
    let snapshot = server
        .client
        .get(server.url(alert["snapshot_url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(snapshot.headers()["content-type"], "image/jpeg");

    let path = format!("/api/v1/alerts/{}", row.id);
    for (body, field) in [
        (json!({"state": "gone"}), "state"),
        (json!({"note": "x".repeat(2001)}), "note"),
        (json!({"colour": 1}), "colour"),
    ] {
        let (status, answer) = server.send_json(Method::PATCH, &path, &body).await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (400, Some(field)),
            "{answer}"
        );
    }
    let (status, acked) = server
        .send_json(Method::PATCH, &path, &json!({"state": "acknowledged"}))
        .await;
    assert_eq!(
        (status, acked["state"].as_str()),
        (200, Some("acknowledged")),
        "{acked}"
    );
    let pushed = next_alert(&mut ws, Duration::from_secs(5))
        .await
        .expect("the change is pushed");
    assert_eq!(
        (pushed["id"].as_i64(), pushed["state"].as_str()),
        (Some(row.id), Some("acknowledged"))
    );
    let (_, closed) = server
        .send_json(
            Method::PATCH,
            &path,
            &json!({"state": "closed", "note": "Cleaner, expected", "false_alarm": true}),
        )
        .await;
    let history: Vec<(&str, bool)> = closed["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["state"].as_str().unwrap(),
                h["false_alarm"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        history,
        vec![("new", false), ("acknowledged", false), ("closed", true)]
    );
    assert_eq!(closed["note"], "Cleaner, expected");

    // The false alarm was learnt (its place, class and look), and can be undone.
    let learnt = server
        .get_json(&format!("/api/v1/cameras/{cam}/exclusions"))
        .await;
    let learnt = learnt.as_array().unwrap();
    assert_eq!(learnt.len(), 1, "{learnt:?}");
    assert_eq!(
        (learnt[0]["class"].as_str(), learnt[0]["alert_id"].as_i64()),
        (Some("person"), Some(row.id))
    );
    assert_eq!(learnt[0]["colours"], json!(["red"]));
    assert_eq!(learnt[0]["suppressed"], 0);
    let (_, _) = server
        .send_json(Method::PATCH, &path, &json!({"false_alarm": false}))
        .await;
    assert_eq!(
        server
            .get_json(&format!("/api/v1/cameras/{cam}/exclusions"))
            .await,
        json!([]),
        "taking the mark back forgets it"
    );
    let (_, _) = server
        .send_json(Method::PATCH, &path, &json!({"false_alarm": true}))
        .await;
    let learnt = server
        .get_json(&format!("/api/v1/cameras/{cam}/exclusions"))
        .await;
    let (status, _) = server
        .send_json(
            Method::DELETE,
            &format!("/api/v1/exclusions/{}", learnt[0]["id"]),
            &json!({}),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        server
            .get_json(&format!("/api/v1/cameras/{cam}/exclusions"))
            .await,
        json!([])
    );
    assert_eq!(
        server
            .get_json("/api/v1/alerts?state=new,acknowledged")
            .await["alerts"],
        json!([])
    );
    let (status, _) = server
        .send_json(
            Method::PATCH,
            "/api/v1/alerts/999",
            &json!({"state": "closed"}),
        )
        .await;
    assert_eq!(status, 404);
    server.running.stop().await;
}

/// A line down the middle of the plaza: people cross it all the time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_crossing_the_line_raises_an_explained_alert() {
    let sim = CamSim::start(1, &[]);
    let server = TestServer::start(true).await;
    let cam = camera(&server, &sim.url("cam1")).await;
    let (_, line) = server
        .send_json(
            Method::POST,
            &format!("/api/v1/cameras/{cam}/zones"),
            &json!({"name": "Plaza line", "kind": "line", "points": [[0.5, 0.0], [0.5, 1.0]]}),
        )
        .await;
    let (status, rule) = server
        .send_json(
            Method::POST,
            &format!("/api/v1/cameras/{cam}/rules"),
            &json!({"template": "person_crossing", "zone_id": line["id"], "cooldown_s": 0}),
        )
        .await;
    assert_eq!(status, 201, "{rule}");
    let mut ws = events(&server).await;

    let alert = next_alert(&mut ws, Duration::from_secs(90))
        .await
        .expect("an alert within 90 s");
    let received_us = chrono::Utc::now().timestamp_micros();
    let delay_ms = (received_us - alert["media_time_us"].as_i64().unwrap()) / 1000;
    eprintln!("alert {delay_ms} ms after its frame: {alert}");
    assert!(
        delay_ms < 2_000,
        "the alert came {delay_ms} ms after the crossing"
    );
    assert_eq!(alert["class"], "person");
    assert_eq!(alert["zone"], "Plaza line");
    assert_eq!(alert["rule_id"], rule["id"]);
    assert!(alert["track_id"].as_i64().is_some(), "{alert}");
    let why = alert["explanation"].as_str().unwrap();
    assert!(
        why.starts_with("Person crossed") && why.contains("“Plaza line”") && why.contains("track"),
        "{why}"
    );
    let snapshot = server
        .client
        .get(server.url(alert["snapshot_url"].as_str().expect("a snapshot")))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(
        snapshot.starts_with(&[0xFF, 0xD8]) && snapshot.len() > 10_000,
        "{} bytes",
        snapshot.len()
    );

    // Detections now carry track ids, and ended tracks are stored with a thumbnail.
    let deadline = Instant::now() + Duration::from_secs(60);
    let track = loop {
        let tracks = server
            .get_json(&format!("/api/v1/tracks?camera={cam}"))
            .await;
        if let Some(t) = tracks
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["class"] == "person" && t["duration_s"].as_f64() > Some(1.0))
        {
            break t.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no ended person track within 60 s: {tracks}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    eprintln!("a stored track: {track}");
    assert!(["left", "right", "up", "down", "stationary"]
        .contains(&track["direction"].as_str().unwrap()));
    let thumb = server
        .client
        .get(server.url(track["thumbnail_url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(thumb.status(), 200);
    let detections = server
        .get_json(&format!("/api/v1/detections?camera={cam}&limit=200"))
        .await;
    assert!(
        detections
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["track_id"].is_i64()),
        "no detection has a track id"
    );
    server.running.stop().await;
}

/// The camera-offline template: a camera that stops raises one alarm per
/// outage, with the engine's sentence for the cause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_that_goes_away_raises_a_health_alarm() {
    let sim = CamSim::start(1, &[]);
    let server = TestServer::start(false).await;
    let cam = camera(&server, &sim.url("cam1")).await;
    let (status, rule) = server
        .send_json(
            Method::POST,
            &format!("/api/v1/cameras/{cam}/rules"),
            &json!({"template": "camera_offline", "trigger": {"type": "offline", "seconds": 5}}),
        )
        .await;
    assert_eq!(status, 201, "{rule}");
    assert_eq!(rule["trigger"], json!({"type": "offline", "seconds": 5}));
    server
        .wait_for_camera(cam, Duration::from_secs(30), |c| c["state"] == "live")
        .await;
    let mut ws = events(&server).await;
    let stopped = Instant::now();
    drop(sim);
    let alert = next_alert(&mut ws, Duration::from_secs(20))
        .await
        .expect("a health alarm within 20 s");
    eprintln!(
        "health alarm {:?} after the camera stopped: {alert}",
        stopped.elapsed()
    );
    assert!(
        stopped.elapsed() >= Duration::from_secs(5),
        "not before the rule's 5 s"
    );
    assert_eq!(
        (alert["class"].as_str(), alert["priority"].as_str()),
        (Some("camera"), Some("high"))
    );
    let why = alert["explanation"].as_str().unwrap();
    assert!(
        why.starts_with("“Plaza” has shown no new picture for")
            && why.contains("rule “Camera offline”"),
        "{why}"
    );
    assert!(
        next_alert(&mut ws, Duration::from_secs(4)).await.is_none(),
        "one alarm per outage"
    );
    server.running.stop().await;
}

/// A receiver on 127.0.0.1 that fails its first request (HTTP 500), then
/// accepts: the alert is retried and arrives, and the log shows both attempts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_alerts_reach_a_webhook_with_retries() {
    use std::sync::{Arc, Mutex};

    use axum::http::StatusCode;
    use axum::routing::post;

    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |axum::Json(body): axum::Json<Value>| {
            let seen = seen.clone();
            async move {
                let mut all = seen.lock().unwrap();
                all.push(body);
                if all.len() == 1 {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let server = TestServer::start(false).await;
    let cam = camera(&server, "rtsp://127.0.0.1:9/none").await;
    for (body, field) in [
        (json!({"name": "Bad", "url": "ftp://x/y"}), "url"),
        (
            json!({"name": "Bad", "url": "http://user:secret@127.0.0.1/hook"}),
            "url",
        ),
        (json!({"name": "", "url": hook_url}), "name"),
    ] {
        let (status, answer) = server
            .send_json(Method::POST, "/api/v1/webhooks", &body)
            .await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (400, Some(field)),
            "{answer}"
        );
        assert!(
            !answer.to_string().contains("secret"),
            "the password is never echoed: {answer}"
        );
    }
    let (status, hook) = server
        .send_json(
            Method::POST,
            "/api/v1/webhooks",
            &json!({"name": "Home hub", "url": hook_url}),
        )
        .await;
    assert_eq!(status, 201, "{hook}");

    // An alert raised as the engine's writer raises them.
    let row = common::raise_alert(&server.running.state, cam).await;

    let deadline = Instant::now() + Duration::from_secs(15);
    while received.lock().unwrap().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the retry never arrived: {:?}",
            received.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let body = received.lock().unwrap()[1].clone();
    assert_eq!(
        (body["type"].as_str(), body["alert"]["id"].as_i64()),
        (Some("alert"), Some(row.id))
    );
    assert_eq!(body["alert"]["explanation"], "Person entered “Yard”");
    let log = server
        .get_json(&format!("/api/v1/webhooks/{}/deliveries", hook["id"]))
        .await;
    let attempts: Vec<(i64, bool, Option<i64>)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["attempt"].as_i64().unwrap(),
                d["ok"].as_bool().unwrap(),
                d["status"].as_i64(),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        vec![(2, true, Some(200)), (1, false, Some(500))],
        "newest first"
    );

    // The test button: one attempt, reported.
    let (status, test) = server
        .send_json(
            Method::POST,
            &format!("/api/v1/webhooks/{}/test", hook["id"]),
            &json!({}),
        )
        .await;
    assert_eq!((status, test["ok"].as_bool()), (200, Some(true)), "{test}");
    server.running.stop().await;
}
