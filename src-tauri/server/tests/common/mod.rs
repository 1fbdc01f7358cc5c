//! Shared harness for the server's end-to-end tests: a real RTSP server
//! (the camera simulator on GStreamer), a real server on a real SQLite file.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use peregrine_server::{assets, Running, ServerOptions};

/// The GStreamer simulator, for what the built-in one does not do (other
/// codecs, authentication, timestamp jumps, extra paths).
pub fn camsim_script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/camsim.py")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The camera simulator, stopped (by its own PID) when dropped.
pub struct CamSim {
    child: Child,
    pub port: u16,
}

impl CamSim {
    pub fn start(cameras: u32, extra_args: &[&str]) -> Self {
        Self::start_on(cameras, free_port(), extra_args)
    }

    pub fn start_on(cameras: u32, port: u16, extra_args: &[&str]) -> Self {
        let footage = assets::footage();
        assert!(
            footage.is_file(),
            "footage missing at {}: run `npm run setup`",
            footage.display()
        );
        let mut child = Command::new("/usr/bin/python3")
            .arg(camsim_script())
            .arg("--footage")
            .arg(&footage)
            .args([
                "--cameras",
                &cameras.to_string(),
                "--port",
                &port.to_string(),
            ])
            .args(extra_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the camera simulator");
        let stdout = child.stdout.take().expect("simulator stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.trim() == "camsim: ready" {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(30))
            .expect("camera simulator ready within 30 s");
        Self { child, port }
    }

    pub fn url(&self, path: &str) -> String {
        format!("rtsp://127.0.0.1:{}/{path}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for CamSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Everything logged by this test process, to check no secret is ever logged.
pub fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug,hyper=info,h2=info")
            .with_ansi(false)
            .with_writer(move || LogWriter(sink.clone()))
            .try_init();
        buffer
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        std::io::stderr().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub struct TestServer {
    pub running: Running,
    pub base: String,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start(with_detector: bool) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir, with_detector, |_| {}).await
    }

    /// A server on `dir` (a new one, or one a previous server used), with
    /// its options adjusted by `configure`.
    pub async fn start_in(
        dir: tempfile::TempDir,
        with_detector: bool,
        configure: impl FnOnce(&mut ServerOptions),
    ) -> Self {
        std::env::set_var("PEREGRINE_NO_KEYRING", "1");
        let mut options = ServerOptions::from_env(Some(dir.path().to_path_buf()), 0);
        if !with_detector {
            options.detector = None;
        }
        configure(&mut options);
        let running = peregrine_server::start(options)
            .await
            .expect("server starts");
        let base = format!("http://{}", running.addr);
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {}", running.token).parse().expect("header"),
        );
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            running,
            base,
            client,
            dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends `body` as JSON; the status and the JSON answer (null when none).
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let r = self
            .client
            .request(method, self.url(path))
            .json(body)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let response = self.client.get(self.url(path)).send().await.expect("GET");
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.expect("JSON")
    }

    /// Polls a camera until `done` holds, or fails with its last state.
    pub async fn wait_for_camera(
        &self,
        id: i64,
        timeout: Duration,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            let camera = self.get_json(&format!("/api/v1/cameras/{id}")).await;
            if done(&camera) {
                return camera;
            }
            assert!(
                Instant::now() < deadline,
                "camera {id} never reached the expected state: {camera}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// Raises an alert as the engine's writer does (stored, then announced), as
/// if a person had entered the zone "Yard" on `camera`.
#[allow(dead_code)] // not every test binary raises alerts
pub async fn raise_alert(
    state: &peregrine_server::AppState,
    camera: i64,
) -> peregrine_store::AlertRow {
    let draft = peregrine_engine::AlertDraft {
        camera_id: camera,
        firing: peregrine_engine::rules::Firing {
            rule_id: 0,
            rule_name: "Person in area".into(),
            priority: peregrine_engine::rules::Priority::High,
            media_time: chrono::Utc::now().timestamp_micros(),
            track_id: Some(3),
            class: "person".into(),
            score: 0.9,
            bbox: None,
            zone: "Yard".into(),
            explanation: "Person entered “Yard”".into(),
        },
        colours: vec![],
        snapshot: None,
    };
    let row = state
        .store
        .insert_alert(&peregrine_server::writer::new_alert(&draft))
        .await
        .expect("alert stored");
    let _ = state
        .alerts
        .send(peregrine_server::api::alerts::AlertNotice::Raised(
            row.clone(),
        ));
    row
}
