//! The API contract against a real server, a real SQLite file and a real
//! RTSP server: auth, camera CRUD, validation, camera errors as sentences,
//! and passwords that never come back out.

mod common;

use std::time::Duration;

use common::{captured_logs, free_port, CamSim, TestServer};
use reqwest::Method;
use serde_json::json;

const PASSWORD: &str = "Camsim-S3cret-pw";
const WRONG_PASSWORD: &str = "Not-The-Pw-9271";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_contract() {
    let logs = captured_logs();
    let sim = CamSim::start(1, &["--auth", &format!("cam1=admin:{PASSWORD}")]);
    let server = TestServer::start(false).await;
    let mut bodies = String::new();

    // No token, wrong token, wrong Host, foreign Origin.
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = anonymous
        .get(server.url("/api/v1/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["code"],
        "unauthenticated"
    );
    let r = anonymous
        .get(server.url("/api/v1/health"))
        .bearer_auth("0".repeat(64))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = server
        .client
        .get(server.url("/api/v1/health"))
        .header("Host", "attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "DNS rebinding: wrong Host must be refused");
    let r = server
        .client
        .get(server.url("/api/v1/health"))
        .header("Origin", "http://attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // The login link trades the token for a cookie and drops it from the URL.
    let r = anonymous
        .get(server.url(&format!("/?t={}", server.running.token)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let r = anonymous
        .get(server.url("/api/v1/health"))
        .header("Cookie", session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let health: serde_json::Value = r.json().await.unwrap();
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(health["cameras"], 0);

    // Validation names the field.
    for (body, field) in [
        (json!({"name": "Gate", "url": "http://cam/x"}), "url"),
        (json!({"name": "Gate"}), "url"),
        (json!({"name": "", "url": "rtsp://cam/x"}), "name"),
        (
            json!({"name": "Gate", "url": "rtsp://cam/x", "detect_fps": 500}),
            "detect_fps",
        ),
        (
            json!({"name": "Gate", "url": "rtsp://cam/x", "detect_fps": "fast"}),
            "detect_fps",
        ),
        (
            json!({"name": "Gate", "url": "rtsp://cam/x", "colour": "red"}),
            "colour",
        ),
    ] {
        let (status, err) = server
            .send_json(Method::POST, "/api/v1/cameras", &body)
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(err["field"], field, "{err}");
        assert_eq!(err["code"], "invalid_argument");
    }
    let r = server
        .client
        .post(server.url("/api/v1/cameras"))
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = server
        .client
        .get(server.url("/api/v1/cameras/abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = server
        .client
        .get(server.url("/api/v1/detections?from=yesterday"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["field"],
        "from"
    );

    // An unreachable camera: created, then an error sentence.
    let dead_port = free_port();
    let nowhere = json!({"name": "Nowhere", "url": format!("rtsp://127.0.0.1:{dead_port}/x")});
    let (status, nowhere) = server
        .send_json(Method::POST, "/api/v1/cameras", &nowhere)
        .await;
    assert_eq!(status, 201);
    let id = nowhere["id"].as_i64().unwrap();
    let camera = server
        .wait_for_camera(id, Duration::from_secs(15), |c| c["state"] == "error")
        .await;
    let message = camera["message"].as_str().unwrap();
    assert!(message.starts_with("Cannot reach 127.0.0.1:"), "{message}");

    // Read, update, delete.
    let path = format!("/api/v1/cameras/{id}");
    let (status, updated) = server
        .send_json(
            Method::PATCH,
            &path,
            &json!({"name": "Back door", "detect_fps": 2.5}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (updated["name"].as_str(), updated["detect_fps"].as_f64()),
        (Some("Back door"), Some(2.5))
    );
    let (status, _) = server
        .send_json(Method::PATCH, &path, &json!({"detect_fps": 0}))
        .await;
    assert_eq!(status, 400);
    let (status, err) = server
        .send_json(Method::PATCH, &path, &json!({"classes": ["persn"]}))
        .await;
    assert_eq!(
        (status, err["field"].as_str()),
        (400, Some("classes")),
        "{err}"
    );
    let (status, err) = server
        .send_json(Method::PATCH, &path, &json!({"min_score": 0.01}))
        .await;
    assert_eq!(
        (status, err["field"].as_str()),
        (400, Some("min_score")),
        "{err}"
    );
    let (status, filtered) = server
        .send_json(
            Method::PATCH,
            &path,
            &json!({"classes": ["person", "Car"], "min_score": 0.6}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(filtered["classes"], json!(["person", "car"]));
    assert_eq!(filtered["min_score"], 0.6);
    let r = server
        .client
        .delete(server.url(&format!("/api/v1/cameras/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = server
        .client
        .get(server.url(&format!("/api/v1/cameras/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Wrong password against a simulator path that requires one.
    let r = server
        .client
        .post(server.url("/api/v1/cameras"))
        .json(&json!({"name": "Locked", "url": sim.url("cam1"), "username": "admin", "password": WRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let text = r.text().await.unwrap();
    bodies.push_str(&text);
    let locked: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(locked["has_password"], true);
    assert!(locked.get("password").is_none());
    let id = locked["id"].as_i64().unwrap();
    let camera = server
        .wait_for_camera(id, Duration::from_secs(20), |c| c["state"] == "error")
        .await;
    assert!(
        camera["message"]
            .as_str()
            .unwrap()
            .starts_with("Wrong username or password"),
        "{camera}"
    );

    // The right password (pasted into the URL, as users do) makes it live.
    let r = server
        .client
        .patch(server.url(&format!("/api/v1/cameras/{id}")))
        .json(&json!({"url": format!("rtsp://admin:{PASSWORD}@127.0.0.1:{}/cam1", sim.port)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    bodies.push_str(&text);
    let live = server
        .wait_for_camera(id, Duration::from_secs(30), |c| c["state"] == "live")
        .await;
    assert_eq!(
        live["url"],
        sim.url("cam1"),
        "credentials are split off the stored URL"
    );
    assert!(live["fps"].as_f64().unwrap() >= 0.0);
    bodies.push_str(&live.to_string());
    let list = server
        .client
        .get(server.url("/api/v1/cameras"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    bodies.push_str(&list);

    // Secrets never leave: not in responses, logs, or the database file.
    server.running.state.store.close().await;
    let mut db = Vec::new();
    for entry in std::fs::read_dir(server.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().contains("peregrine.db") {
            db.extend(std::fs::read(&path).unwrap());
        }
    }
    let logs = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    for secret in [PASSWORD, WRONG_PASSWORD, server.running.token.as_str()] {
        assert!(!bodies.contains(secret), "a response held a secret");
        assert!(!logs.contains(secret), "the log held a secret");
        assert!(
            !db.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the database held a secret in plain text"
        );
    }
    assert!(
        logs.contains("session playing"),
        "the capture saw the engine's logs"
    );
}

/// The UI comes from the binary itself, with cache headers that let an
/// upgrade show at once; health says who records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_built_in_ui() {
    let server = TestServer::start(false).await;
    let page = server.client.get(server.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-cache");
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let etag = page.headers()["etag"].clone();
    let html = page.text().await.unwrap();
    assert!(html.contains("<title>Peregrine"), "{html}");
    let script = html
        .split('"')
        .find(|s| s.starts_with("/assets/") && s.ends_with(".js"))
        .expect("the page loads a script from /assets/");
    let js = server.client.get(server.url(script)).send().await.unwrap();
    assert_eq!(js.status(), 200);
    assert_eq!(
        js.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let again = server
        .client
        .get(server.url("/"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let missing = server
        .client
        .get(server.url("/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let health = server.get_json("/api/v1/health").await;
    assert_eq!(health["mode"], "standalone");
    server.running.stop().await;
}
