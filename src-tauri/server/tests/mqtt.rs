//! MQTT against a real broker (Debian's mosquitto, started here on its own
//! port): settings through the API, then the retained status, camera state
//! and Home Assistant discovery, and a new alert on `peregrine/alerts`.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, TestServer};
use reqwest::Method;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{json, Value};

struct Broker {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Broker {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("mosquitto.conf");
        std::fs::write(
            &config,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
        )
        .unwrap();
        let child = Command::new("/usr/sbin/mosquitto")
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("mosquitto (apt install mosquitto; `npm run setup -- --test` does)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Collects (topic, payload) from everything under `filters` until `done` says so.
async fn listen(
    port: u16,
    filters: &[&str],
    timeout: Duration,
    done: impl Fn(&[(String, String)]) -> bool,
) -> Vec<(String, String)> {
    let mut options = MqttOptions::new("peregrine-test", "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    for f in filters {
        client.subscribe(*f, QoS::AtLeastOnce).await.unwrap();
    }
    let mut seen = Vec::new();
    let deadline = Instant::now() + timeout;
    while !done(&seen) {
        let left = deadline
            .checked_duration_since(Instant::now())
            .unwrap_or_else(|| panic!("timed out; got {seen:?}"));
        if let Ok(Ok(Event::Incoming(Packet::Publish(p)))) =
            tokio::time::timeout(left, eventloop.poll()).await
        {
            seen.push((
                p.topic.clone(),
                String::from_utf8_lossy(&p.payload).into_owned(),
            ));
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_and_camera_states_reach_the_broker() {
    let broker = Broker::start();
    let server = TestServer::start(false).await;
    let (status, cam) = server
        .send_json(
            Method::POST,
            "/api/v1/cameras",
            &json!({"name": "Yard", "url": "rtsp://127.0.0.1:9/none"}),
        )
        .await;
    assert_eq!(status, 201);

    let off = server.get_json("/api/v1/settings/mqtt").await;
    assert_eq!(
        (off["enabled"].as_bool(), off["connected"].as_bool()),
        (Some(false), Some(false)),
        "{off}"
    );
    let (status, answer) = server
        .send_json(
            Method::PUT,
            "/api/v1/settings/mqtt",
            &json!({"enabled": true, "host": ""}),
        )
        .await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (400, Some("host")),
        "{answer}"
    );
    let (status, on) = server
        .send_json(
            Method::PUT,
            "/api/v1/settings/mqtt",
            &json!({"enabled": true, "host": "127.0.0.1", "port": broker.port, "username": "nvr", "password": "s3cret-pw", "home_assistant": true}),
        )
        .await;
    assert_eq!(status, 200, "{on}");
    assert_eq!(on["has_password"], true);
    assert!(
        !on.to_string().contains("s3cret-pw"),
        "the password is never returned"
    );
    let stored = server
        .running
        .state
        .store
        .setting("mqtt")
        .await
        .unwrap()
        .unwrap();
    assert!(
        !stored.contains("s3cret-pw"),
        "the password is stored encrypted: {stored}"
    );

    // Retained: online, the camera's state, discovery configs.
    let retained = listen(
        broker.port,
        &["peregrine/#", "homeassistant/#"],
        Duration::from_secs(15),
        |seen| {
            seen.iter().any(|(t, _)| t == "peregrine/status")
                && seen
                    .iter()
                    .any(|(t, _)| t.starts_with("homeassistant/binary_sensor/"))
                && seen
                    .iter()
                    .any(|(t, _)| t == &format!("peregrine/cameras/{}/state", cam["id"]))
        },
    )
    .await;
    assert!(
        retained.contains(&("peregrine/status".to_owned(), "online".to_owned())),
        "{retained:?}"
    );
    let discovery: Value = serde_json::from_str(
        &retained
            .iter()
            .find(|(t, _)| t.starts_with("homeassistant/binary_sensor/"))
            .unwrap()
            .1,
    )
    .unwrap();
    assert_eq!(discovery["name"], "Yard online");
    assert_eq!(
        discovery["state_topic"],
        format!("peregrine/cameras/{}/state", cam["id"])
    );
    let status = server.get_json("/api/v1/settings/mqtt").await;
    assert_eq!(status["connected"], true, "{status}");

    // A new alert is published as the events socket sends it.
    let state = server.running.state.clone();
    let camera_id = cam["id"].as_i64().unwrap();
    let raise = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        common::raise_alert(&state, camera_id).await;
    });
    let got = listen(
        broker.port,
        &["peregrine/alerts"],
        Duration::from_secs(15),
        |seen| !seen.is_empty(),
    )
    .await;
    raise.await.unwrap();
    let alert: Value = serde_json::from_str(&got[0].1).unwrap();
    assert_eq!(
        (
            alert["type"].as_str(),
            alert["alert"]["explanation"].as_str()
        ),
        (Some("alert"), Some("Person entered “Yard”"))
    );

    // Turned off: the status says so.
    let (_, off) = server
        .send_json(
            Method::PUT,
            "/api/v1/settings/mqtt",
            &json!({"enabled": false}),
        )
        .await;
    assert_eq!(off["enabled"], false);
    server.running.stop().await;
}
