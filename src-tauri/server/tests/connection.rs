//! "Test connection" against the real simulator: what a good stream holds,
//! and one clear sentence for each way it can be wrong.

mod common;

use common::{free_port, CamSim, TestServer};
use serde_json::{json, Value};

async fn test_connection(server: &TestServer, body: Value) -> (u16, Value) {
    let r = server
        .client
        .post(server.url("/api/v1/cameras/test"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_what_the_stream_holds_or_what_is_wrong() {
    let sim = CamSim::start(2, &["--auth", "cam2=admin:Right-Pw-1"]);
    let server = TestServer::start(false).await;

    let (status, found) = test_connection(&server, json!({"url": sim.url("cam1")})).await;
    assert_eq!(status, 200);
    assert_eq!(found["ok"], true, "{found}");
    let stream = &found["stream"];
    assert_eq!(stream["codec"], "H.264");
    assert_eq!(stream["profile"], "Main");
    assert_eq!(
        (stream["width"].as_u64(), stream["height"].as_u64()),
        (Some(768), Some(576))
    );
    let fps = stream["fps"].as_f64().unwrap();
    assert!(
        (9.0..11.0).contains(&fps),
        "the footage runs at 10 fps: {fps}"
    );
    assert_eq!(stream["audio"], false);

    let (_, ok) = test_connection(
        &server,
        json!({"url": sim.url("cam2"), "username": "admin", "password": "Right-Pw-1"}),
    )
    .await;
    assert_eq!(ok["ok"], true, "{ok}");

    let cases = [
        (
            json!({"url": sim.url("cam2"), "username": "admin", "password": "wrong"}),
            "Wrong username or password",
        ),
        (
            json!({"url": sim.url("cam2")}),
            "Wrong username or password",
        ),
        (
            json!({"url": sim.url("nothing-here")}),
            "Stream path not found",
        ),
        (
            json!({"url": format!("rtsp://127.0.0.1:{}/x", free_port())}),
            "Cannot reach 127.0.0.1",
        ),
    ];
    for (body, expected) in cases {
        let (status, report) = test_connection(&server, body.clone()).await;
        assert_eq!(status, 200);
        assert_eq!(report["ok"], false, "{body}: {report}");
        let message = report["message"].as_str().unwrap();
        assert!(message.starts_with(expected), "{body}: {message}");
        assert!(
            !message.contains("wrong") || expected.starts_with("Wrong"),
            "never echo a password: {message}"
        );
    }

    let (status, err) = test_connection(&server, json!({"url": "http://example/cam"})).await;
    assert_eq!(status, 400);
    assert_eq!(err["field"], "url");
    server.running.stop().await;
}

/// Some cameras send B-frames; until they play, the guard is told plainly why not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_with_b_frames_gets_a_clear_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("bframes.mp4");
    let made = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-t", "4", "-i"])
        .arg(peregrine_server::assets::footage())
        .args([
            "-an", "-c:v", "libx264", "-bf", "2", "-g", "10", "-pix_fmt", "yuv420p",
        ])
        .arg(&clip)
        .status()
        .expect("run ffmpeg");
    assert!(made.success());
    let extra = format!("bcam={}", clip.display());
    let sim = CamSim::start(1, &["--extra-path", &extra]);
    let server = TestServer::start(false).await;

    let (status, camera) = server
        .send_json(
            reqwest::Method::POST,
            "/api/v1/cameras",
            &json!({"name": "Axis", "url": sim.url("bcam")}),
        )
        .await;
    assert_eq!(status, 201);
    let id = camera["id"].as_i64().unwrap();
    let camera = server
        .wait_for_camera(id, std::time::Duration::from_secs(20), |c| {
            c["state"] == "error"
        })
        .await;
    assert!(
        camera["message"].as_str().unwrap().contains("B-frames"),
        "{camera}"
    );
    server.running.stop().await;
}
