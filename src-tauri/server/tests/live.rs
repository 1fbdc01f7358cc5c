//! Live view and camera health against the real simulator: the fMP4 stream
//! over the WebSocket plays as H.264 (checked by ffprobe), and a camera that
//! freezes or dies is reported stale / reconnecting, then live again.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{CamSim, TestServer};
use futures::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The camera's live socket, opened as a script would (Bearer token).
async fn live_socket(server: &TestServer, id: i64) -> Socket {
    let ws_url = format!("ws://{}/api/v1/cameras/{id}/live", server.running.addr);
    let mut request = ws_url.into_client_request().unwrap();
    request.headers_mut().insert(
        "Authorization",
        format!("Bearer {}", server.running.token).parse().unwrap(),
    );
    tokio_tungstenite::connect_async(request)
        .await
        .expect("live socket opens")
        .0
}

async fn add_camera(server: &TestServer, url: &str) -> i64 {
    let r = server
        .client
        .post(server.url("/api/v1/cameras"))
        .json(&json!({"name": "Live", "url": url}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_fmp4_plays_as_h264() {
    let sim = CamSim::start(1, &[]);
    let server = TestServer::start(false).await;
    let id = add_camera(&server, &sim.url("cam1")).await;
    server
        .wait_for_camera(id, Duration::from_secs(30), |c| c["state"] == "live")
        .await;

    let mut ws = live_socket(&server, id).await;

    let opened = Instant::now();
    let mut init: Option<serde_json::Value> = None;
    let mut file = Vec::new();
    let mut fragments = 0;
    let mut first_fragment_after = None;
    while fragments < 30 {
        let message = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s")
            .expect("socket open")
            .unwrap();
        match message {
            Message::Text(text) => init = Some(serde_json::from_str(&text).unwrap()),
            Message::Binary(data) if file.is_empty() => {
                assert_eq!(&data[4..8], b"ftyp", "the init segment comes first");
                file.extend_from_slice(&data);
            }
            Message::Binary(data) => {
                assert_eq!(&data[4..8], b"moof");
                first_fragment_after.get_or_insert(opened.elapsed());
                file.extend_from_slice(&data);
                fragments += 1;
            }
            _ => {}
        }
    }
    drop(ws);
    let init = init.expect("an init message");
    assert_eq!(init["type"], "init");
    assert!(
        init["mime"]
            .as_str()
            .unwrap()
            .starts_with("video/mp4; codecs=\"avc1."),
        "{init}"
    );
    assert_eq!(
        (init["width"].as_u64(), init["height"].as_u64()),
        (Some(768), Some(576))
    );
    let lag_us = chrono::Utc::now().timestamp_micros() - init["base_us"].as_i64().unwrap();
    assert!(
        (0..10_000_000).contains(&lag_us),
        "base_us is the frame's UTC time: {lag_us} µs"
    );
    eprintln!(
        "first fragment {:?} after opening the socket",
        first_fragment_after.unwrap()
    );

    // What arrived is a playable MP4 of the camera's own H.264.
    let path = server.dir.path().join("live.mp4");
    std::fs::write(&path, &file).unwrap();
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=codec_name,width,height,nb_read_frames",
            "-of",
            "json",
        ])
        .arg(&path)
        .output()
        .expect("run ffprobe");
    assert!(
        probe.status.success(),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let probed: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
    let stream = &probed["streams"][0];
    assert_eq!(stream["codec_name"], "h264", "{probed}");
    assert_eq!(stream["width"], 768);
    assert_eq!(
        stream["nb_read_frames"], "30",
        "every fragment decodes: {probed}"
    );
    server.running.stop().await;
}

fn signal(sim: &CamSim, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &sim.pid().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

/// Times the camera's move into `state`, failing after `limit`.
async fn expect_state(server: &TestServer, id: i64, state: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    server
        .wait_for_camera(id, limit, |c| c["state"] == state)
        .await;
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_or_dead_camera_never_looks_live() {
    let mut sim = CamSim::start(1, &[]);
    let server = TestServer::start(false).await;
    let id = add_camera(&server, &sim.url("cam1")).await;
    server
        .wait_for_camera(id, Duration::from_secs(30), |c| c["state"] == "live")
        .await;

    // Frozen: the socket stays open, nothing arrives (targets: stale 2 s, reconnecting 5 s).
    signal(&sim, "-STOP");
    let stale = expect_state(&server, id, "stale", Duration::from_secs(9)).await;
    let reconnecting =
        expect_state(&server, id, "reconnecting", Duration::from_secs(15)).await + stale;
    let camera = server.get_json(&format!("/api/v1/cameras/{id}")).await;
    assert!(
        camera["message"]
            .as_str()
            .unwrap()
            .contains("stopped sending"),
        "{camera}"
    );
    assert!(camera["retry_at"].is_string(), "{camera}");
    signal(&sim, "-CONT");
    let back = expect_state(&server, id, "live", Duration::from_secs(20)).await;
    eprintln!("freeze: stale after {stale:?}, reconnecting after {reconnecting:?}; live {back:?} after resume");

    // Dead: the simulator goes away, then comes back on the same port.
    let port = sim.port;
    drop(sim);
    let lost = expect_state(&server, id, "reconnecting", Duration::from_secs(9)).await;
    let camera = server.get_json(&format!("/api/v1/cameras/{id}")).await;
    assert!(
        camera["message"]
            .as_str()
            .unwrap()
            .starts_with("The connection to the camera was lost"),
        "{camera}"
    );
    let camera = server
        .wait_for_camera(id, Duration::from_secs(9), |c| {
            c["message"]
                .as_str()
                .unwrap_or("")
                .starts_with("Cannot reach")
        })
        .await;
    assert_eq!(camera["state"], "reconnecting", "{camera}");
    sim = CamSim::start_on(1, port, &[]);
    let back = expect_state(&server, id, "live", Duration::from_secs(20)).await;
    eprintln!("restart: reconnecting after {lost:?}; live {back:?} after the simulator was ready");
    drop(sim);
    server.running.stop().await;
}

/// Main stream for the live view, sub stream for detection: two sessions,
/// each doing its own job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_uses_the_main_stream_and_detection_the_sub_stream() {
    let hd = peregrine_server::assets::footage().with_file_name("vtest-720p.mp4");
    assert!(
        hd.is_file(),
        "720p footage missing at {}: run `npm run setup`",
        hd.display()
    );
    let sim = CamSim::start(1, &["--extra-path", &format!("main={}", hd.display())]);
    let server = TestServer::start(false).await;
    let body = json!({"name": "Two streams", "url": sim.url("main"), "sub_url": sim.url("cam1")});
    let (status, camera) = server
        .send_json(reqwest::Method::POST, "/api/v1/cameras", &body)
        .await;
    assert_eq!(status, 201, "{camera}");
    let id = camera["id"].as_i64().unwrap();
    let camera = server
        .wait_for_camera(id, Duration::from_secs(30), |c| c["state"] == "live")
        .await;
    assert_eq!(
        (camera["width"].as_u64(), camera["height"].as_u64()),
        (Some(1280), Some(720)),
        "{camera}"
    );

    let mut ws = live_socket(&server, id).await;
    let init = loop {
        if let Some(Ok(Message::Text(text))) = ws.next().await {
            break serde_json::from_str::<serde_json::Value>(&text).unwrap();
        }
    };
    assert_eq!(
        (init["width"].as_u64(), init["height"].as_u64()),
        (Some(1280), Some(720)),
        "live is the main stream"
    );
    drop(ws);

    // Snapshots come from the decoded detection stream: the sub stream's size.
    let deadline = Instant::now() + Duration::from_secs(20);
    let jpeg = loop {
        let r = server
            .client
            .get(server.url(&format!("/api/v1/cameras/{id}/snapshot.jpg")))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            break r.bytes().await.unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "no decoded frame from the sub stream"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let path = server.dir.path().join("snapshot.jpg");
    std::fs::write(&path, &jpeg).unwrap();
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&probe.stdout).trim(),
        "768,576",
        "detection decodes the sub stream"
    );

    // The sub stream's health is part of the camera's status.
    let camera = server
        .wait_for_camera(id, Duration::from_secs(10), |c| {
            c["detect_stream"]["state"] == "live"
        })
        .await;
    let detect = &camera["detect_stream"];
    assert_eq!(
        (detect["width"].as_u64(), detect["height"].as_u64()),
        (Some(768), Some(576)),
        "{camera}"
    );
    // A sub stream that fails says so while the main stream stays live.
    let (status, _) = server
        .send_json(
            reqwest::Method::PATCH,
            &format!("/api/v1/cameras/{id}"),
            &json!({"sub_url": sim.url("nope")}),
        )
        .await;
    assert_eq!(status, 200);
    let camera = server
        .wait_for_camera(id, Duration::from_secs(20), |c| {
            c["state"] == "live" && c["detect_stream"]["state"] == "error"
        })
        .await;
    let message = camera["detect_stream"]["message"].as_str().unwrap();
    assert!(
        message.contains("not found") || message.contains("path"),
        "{camera}"
    );
    server.running.stop().await;
}

/// An H.265 camera: "Test connection" names it, the live socket passes it
/// through as `hvc1` fMP4, and detection decodes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h265_cameras_are_passed_through_and_detected() {
    let h265 = peregrine_server::assets::footage().with_file_name("vtest-h265.mp4");
    assert!(
        h265.is_file(),
        "H.265 footage missing at {}: run `npm run setup`",
        h265.display()
    );
    let sim = CamSim::start(0, &["--extra-path", &format!("hevc={}", h265.display())]);
    let server = TestServer::start(true).await;

    let (status, report) = server
        .send_json(
            reqwest::Method::POST,
            "/api/v1/cameras/test",
            &json!({"url": sim.url("hevc")}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(
        (
            report["stream"]["codec"].as_str(),
            report["stream"]["profile"].as_str()
        ),
        (Some("H.265"), Some("Main")),
        "{report}"
    );

    let id = add_camera(&server, &sim.url("hevc")).await;
    server
        .wait_for_camera(id, Duration::from_secs(30), |c| c["state"] == "live")
        .await;
    let mut ws = live_socket(&server, id).await;
    let init = loop {
        if let Some(Ok(Message::Text(text))) = ws.next().await {
            break serde_json::from_str::<serde_json::Value>(&text).unwrap();
        }
    };
    assert!(init["mime"].as_str().unwrap().contains("hvc1"), "{init}");
    let segment = loop {
        if let Some(Ok(Message::Binary(data))) = ws.next().await {
            break data;
        }
    };
    assert_eq!(&segment[4..8], b"ftyp");
    assert!(
        segment.windows(4).any(|w| w == b"hvcC"),
        "the init segment carries the hvcC"
    );
    drop(ws);

    // Decoded for detection: people are found on it.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = server
            .get_json(&format!(
                "/api/v1/detections?camera={id}&class=person&limit=1"
            ))
            .await;
        if !found.as_array().unwrap().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no person detected on the H.265 stream"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    server.running.stop().await;
}
