//! Stopping loses nothing that was accepted. `kill -TERM` (what a logout, a
//! system shutdown or systemd sends) of `peregrine demo` and of
//! `peregrine-app demo`, and closing the app's window, under full load: 4
//! simulated cameras, the motion gate off and detection at the footage's
//! full rate, so the shared detector is saturated. Real parts throughout:
//! the camera simulator, the model, the SQLite file the process leaves
//! behind.
//!
//! Each process must exit 0 within 2 s of the request, saying how many
//! detections it emitted and stored; the SQLite file must hold exactly that
//! many, including every detection the live event stream announced; every
//! recording segment must be closed with its file as long as its index row
//! says; and the port of the built-in camera simulator must be free once
//! the process has gone.
//!
//! The desktop app needs its binary built (`npm run setup -- --test` does;
//! `$PEREGRINE_APP_BIN` or `peregrine-app` beside `peregrine`) and Xvfb.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use peregrine_store::{DetectionQuery, Store};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const CAMERAS: usize = 4;
/// The footage's own frame rate: every frame goes to the detector.
const DETECT_FPS: f64 = 10.0;
const LOAD: Duration = Duration::from_secs(15);
const STOP_LIMIT: Duration = Duration::from_secs(2);

/// Each test loads both cores: under `cargo test` they take turns (nextest
/// runs end-to-end tests one at a time anyway).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_demo_without_losing_detections_or_video() {
    let _one = ONE_AT_A_TIME.lock().await;
    let data = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_peregrine"));
    command.args(demo_args(data.path()));
    let figures = load_then_stop("peregrine demo", command, data.path(), &StopBy::Sigterm).await;
    figures.check();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_desktop_app_demo_without_losing_detections_or_video() {
    let _one = ONE_AT_A_TIME.lock().await;
    app_demo_under_load_stopped_by(StopBy::Sigterm).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_window_stops_the_desktop_app_without_losing_detections_or_video() {
    let _one = ONE_AT_A_TIME.lock().await;
    app_demo_under_load_stopped_by(StopBy::CloseWindow).await;
}

async fn app_demo_under_load_stopped_by(how: StopBy) {
    let app = app_binary();
    assert!(
        app.is_file(),
        "the desktop binary is missing at {}: build it with `cargo build -p peregrine-app` \
         (npm run setup -- --test does) or set PEREGRINE_APP_BIN",
        app.display()
    );
    let xvfb = Xvfb::start();
    let data = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(&app);
    command
        .args(demo_args(data.path()))
        .env("DISPLAY", &xvfb.display);
    let figures = load_then_stop("peregrine-app demo", command, data.path(), &how).await;
    drop(xvfb);
    figures.check();
}

/// How the stop is asked for.
enum StopBy {
    /// `kill -TERM <pid>`.
    Sigterm,
    /// The window manager's close button: `WM_DELETE_WINDOW` to the
    /// "Peregrine" window on the process's `$DISPLAY`.
    CloseWindow,
}

impl StopBy {
    fn ask(&self, process: &Launched, display: Option<&str>) {
        let status = match self {
            StopBy::Sigterm => Command::new("kill")
                .args(["-TERM", &process.pid().to_string()])
                .status(),
            StopBy::CloseWindow => Command::new("/usr/bin/python3")
                .args(["-c", CLOSE_WINDOW, "Peregrine"])
                .env("DISPLAY", display.expect("the window's display"))
                .status(),
        };
        assert!(status.is_ok_and(|s| s.success()), "cannot ask for the stop");
    }

    fn describe(&self) -> &'static str {
        match self {
            StopBy::Sigterm => "SIGTERM",
            StopBy::CloseWindow => "closing the window",
        }
    }
}

/// Sends `WM_DELETE_WINDOW` (what a window manager's close button sends) to
/// every top-level window named argv[1], through libX11 (ctypes, no packages).
const CLOSE_WINDOW: &str = r#"
import ctypes, ctypes.util, re, subprocess, sys
x = ctypes.cdll.LoadLibrary(ctypes.util.find_library("X11"))
x.XOpenDisplay.restype = ctypes.c_void_p
x.XOpenDisplay.argtypes = [ctypes.c_char_p]
x.XInternAtom.restype = ctypes.c_ulong
x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
x.XFlush.argtypes = [ctypes.c_void_p]
tree = subprocess.check_output(["xwininfo", "-root", "-tree"]).decode()
windows = [int(m.group(1), 16) for m in re.finditer(r'(0x[0-9a-f]+) "%s"' % re.escape(sys.argv[1]), tree)]
if not windows:
    sys.exit("no window named %s" % sys.argv[1])
display = x.XOpenDisplay(None)
protocols = x.XInternAtom(display, b"WM_PROTOCOLS", 0)
delete = x.XInternAtom(display, b"WM_DELETE_WINDOW", 0)
class ClientMessage(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                ("format", ctypes.c_int), ("data", ctypes.c_long * 5)]
class Event(ctypes.Union):
    _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]
x.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.POINTER(Event)]
for window in windows:
    event = Event()
    event.xclient.type = 33  # ClientMessage
    event.xclient.window = window
    event.xclient.message_type = protocols
    event.xclient.format = 32
    event.xclient.data[0] = delete
    x.XSendEvent(display, window, 0, 0, ctypes.byref(event))
x.XFlush(display)
"#;

fn demo_args(data_dir: &Path) -> Vec<String> {
    vec![
        "demo".into(),
        "--cameras".into(),
        CAMERAS.to_string(),
        "--port".into(),
        "0".into(),
        "--rtsp-port".into(),
        common::free_port().to_string(),
        "--data-dir".into(),
        data_dir.display().to_string(),
    ]
}

/// `$PEREGRINE_APP_BIN`, else `peregrine-app` in the same target folder as
/// the `peregrine` this test was built with.
fn app_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("PEREGRINE_APP_BIN").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    Path::new(env!("CARGO_BIN_EXE_peregrine")).with_file_name("peregrine-app")
}

/// What one stop did, as seen from outside and as the process said.
struct Figures {
    name: &'static str,
    how: &'static str,
    log: Vec<String>,
    exit: Option<std::process::ExitStatus>,
    stop_time: Duration,
    /// "stopped in …: N detections emitted, M stored, K segments closed".
    said: Option<(u64, u64, u64)>,
    rows_in_sqlite: u64,
    /// Detections the event stream announced: (frames, boxes).
    streamed: (usize, usize),
    /// Announced frames whose boxes are not all in SQLite.
    streamed_missing: Vec<String>,
    segments: usize,
    open_segments: Vec<String>,
    wrong_length: Vec<String>,
    /// The demo's RTSP port still taken after the process exited.
    rtsp_port_held: bool,
    dropped_by_detector: u64,
}

impl Figures {
    fn check(&self) {
        let tail = self.log_tail();
        let name = self.name;
        assert!(
            self.dropped_by_detector > 0,
            "{name}: the detector was not saturated (no frame dropped):\n{tail}"
        );
        assert!(
            !self
                .log
                .iter()
                .any(|l| l.contains("did not finish in time")),
            "{name}: the writer was cut off:\n{tail}"
        );
        assert_eq!(
            self.exit.map(|s| s.code()),
            Some(Some(0)),
            "{name}: exit status {:?} after {}:\n{tail}",
            self.exit,
            self.how
        );
        assert!(
            self.stop_time <= STOP_LIMIT,
            "{name}: took {:.2} s to stop:\n{tail}",
            self.stop_time.as_secs_f64()
        );
        assert!(
            !self.rtsp_port_held,
            "{name}: the camera simulator's port is still taken after it exited"
        );
        let Some((emitted, stored, closed)) = self.said else {
            panic!("{name}: no \"stopped in …\" line with the counts:\n{tail}");
        };
        assert!(emitted > 0, "{name}: nothing was detected:\n{tail}");
        assert_eq!(stored, emitted, "{name}: detections lost:\n{tail}");
        assert_eq!(
            self.rows_in_sqlite, emitted,
            "{name}: SQLite holds another count than emitted"
        );
        assert!(
            self.streamed.0 > 0,
            "{name}: the event stream showed nothing"
        );
        assert!(
            self.streamed_missing.is_empty(),
            "{name}: shown live but not stored: {:?}",
            self.streamed_missing
        );
        assert!(
            self.segments >= CAMERAS,
            "{name}: {} segments",
            self.segments
        );
        assert_eq!(
            closed, CAMERAS as u64,
            "{name}: each camera's open segment is closed at the stop"
        );
        assert!(
            self.open_segments.is_empty(),
            "{name}: segments left open: {:?}",
            self.open_segments
        );
        assert!(
            self.wrong_length.is_empty(),
            "{name}: files and index disagree: {:?}",
            self.wrong_length
        );
    }

    fn log_tail(&self) -> String {
        let from = self.log.len().saturating_sub(40);
        self.log[from..].join("\n")
    }

    fn report(&self) {
        let said = self.said.map_or("no stop line".to_owned(), |(e, s, c)| {
            format!("said {e} detections emitted, {s} stored, {c} segments closed")
        });
        eprintln!(
            "{}: {} → exit {:?} after {:.2} s; {said}; SQLite holds {} detections; \
             the event stream showed {} boxes in {} frames, {} frames not all stored; \
             {} segments, {} left open, {} with a wrong length; detector dropped {} frames; \
             camera simulator's port still taken: {}",
            self.name,
            self.how,
            self.exit.and_then(|s| s.code()),
            self.stop_time.as_secs_f64(),
            self.rows_in_sqlite,
            self.streamed.1,
            self.streamed.0,
            self.streamed_missing.len(),
            self.segments,
            self.open_segments.len(),
            self.wrong_length.len(),
            self.dropped_by_detector,
            self.rtsp_port_held,
        );
    }
}

/// A process under test; killed (its whole group) if the test ends early.
struct Launched {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Launched {
    fn spawn(mut command: Command) -> Self {
        use std::os::unix::process::CommandExt;
        let mut child = command
            .env("PEREGRINE_NO_KEYRING", "1")
            .env("PEREGRINE_MOTION_GATE", "off")
            .env("RUST_LOG", "info")
            .env_remove("PEREGRINE_RECORDINGS")
            .env_remove("PEREGRINE_DATA")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("start the binary under test");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        for pipe in [
            Box::new(stdout) as Box<dyn std::io::Read + Send>,
            Box::new(stderr),
        ] {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Ok(mut log) = log.lock() {
                        log.push(line);
                    }
                }
            });
        }
        Self { child, log }
    }

    fn lines(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn tail(&self) -> String {
        let lines = self.lines();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Launched {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-KILL", &format!("-{}", self.child.id())])
                .status();
            let _ = self.child.wait();
        }
    }
}

async fn load_then_stop(
    name: &'static str,
    command: Command,
    data_dir: &Path,
    how: &StopBy,
) -> Figures {
    let display = command
        .get_envs()
        .find(|(k, _)| *k == "DISPLAY")
        .and_then(|(_, v)| v.map(|v| v.to_string_lossy().into_owned()));
    let rtsp_port: u16 = command
        .get_args()
        .skip_while(|a| *a != "--rtsp-port")
        .nth(1)
        .and_then(|p| p.to_str()?.parse().ok())
        .expect("the demo's --rtsp-port");
    let mut process = Launched::spawn(command);

    // The API's address from the first line that prints it; the token file.
    let deadline = Instant::now() + Duration::from_secs(120);
    let base = loop {
        if let Some(addr) = process.lines().iter().find_map(|l| api_address(l)) {
            break format!("http://{addr}");
        }
        assert!(
            matches!(process.child.try_wait(), Ok(None)),
            "{name} exited while starting:\n{}",
            process.tail()
        );
        assert!(
            Instant::now() < deadline,
            "{name} printed no address:\n{}",
            process.tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let token = std::fs::read_to_string(data_dir.join("api-token")).expect("api-token");
    let client = reqwest::Client::new();
    let get = |path: &str| {
        let request = client
            .get(format!("{base}{path}"))
            .bearer_auth(token.trim());
        async move {
            request
                .send()
                .await
                .expect("GET")
                .json::<Value>()
                .await
                .expect("JSON")
        }
    };

    // Every frame of every camera goes to the detector.
    let deadline = Instant::now() + Duration::from_secs(60);
    let cameras = loop {
        let cameras = get("/api/v1/cameras").await;
        if cameras.as_array().map_or(0, Vec::len) == CAMERAS {
            break cameras;
        }
        assert!(Instant::now() < deadline, "no demo cameras: {cameras}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    for camera in cameras.as_array().expect("camera list") {
        let id = camera["id"].as_i64().expect("camera id");
        let r = client
            .patch(format!("{base}/api/v1/cameras/{id}"))
            .bearer_auth(token.trim())
            .json(&json!({"detect_fps": DETECT_FPS}))
            .send()
            .await
            .expect("PATCH");
        assert!(r.status().is_success(), "PATCH camera {id}: {}", r.status());
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let cameras = get("/api/v1/cameras").await;
        let live = cameras
            .as_array()
            .map_or(0, |c| c.iter().filter(|c| c["state"] == "live").count());
        if live == CAMERAS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: {live} of {CAMERAS} cameras live: {cameras}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // What the live event stream shows, as a guard's console sees it.
    let mut request = format!("{}/api/v1/events", base.replacen("http", "ws", 1))
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "Authorization",
        format!("Bearer {}", token.trim()).parse().expect("header"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("events socket opens");
    let streamed: Arc<Mutex<Vec<(i64, i64, usize)>>> = Arc::default();
    let sink = streamed.clone();
    let watcher = tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            let Message::Text(text) = message else {
                continue;
            };
            let Ok(event) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let boxes = event["detections"].as_array().map_or(0, Vec::len);
            if event["type"] == "detections" && boxes > 0 {
                if let (Some(camera), Some(t)) =
                    (event["camera_id"].as_i64(), event["media_time_us"].as_i64())
                {
                    if let Ok(mut s) = sink.lock() {
                        s.push((camera, t, boxes));
                    }
                }
            }
        }
    });

    tokio::time::sleep(LOAD).await;
    let health = get("/api/v1/health").await;
    let dropped_by_detector = health["detector"]["dropped"].as_u64().unwrap_or(0);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", rtsp_port)).is_ok(),
        "{name}: its camera simulator does not serve on port {rtsp_port}"
    );
    let shown_before_stop = streamed.lock().map(|s| s.clone()).unwrap_or_default();

    how.ask(&process, display.as_deref());
    let signalled = Instant::now();
    let deadline = signalled + Duration::from_secs(60);
    let exit = loop {
        if let Ok(Some(status)) = process.child.try_wait() {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stop_time = signalled.elapsed();
    let rtsp_port_held = std::net::TcpListener::bind(("127.0.0.1", rtsp_port)).is_err();
    watcher.abort();
    // The pipes' last lines.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = process.lines();
    drop(process);

    let said = log.iter().find_map(|l| stop_line(l));
    let store = Store::open(&data_dir.join("peregrine.db"))
        .await
        .expect("the database opens");
    let rows = store
        .detections(&DetectionQuery {
            limit: i64::MAX,
            ..Default::default()
        })
        .await
        .expect("detections");
    let mut per_frame: HashMap<(i64, i64), usize> = HashMap::new();
    for row in &rows {
        *per_frame
            .entry((row.camera_id, row.media_time))
            .or_default() += 1;
    }
    let streamed_missing = shown_before_stop
        .iter()
        .filter(|(camera, t, boxes)| per_frame.get(&(*camera, *t)) != Some(boxes))
        .map(|(camera, t, boxes)| {
            format!(
                "camera {camera} at {t}: {boxes} shown, {} stored",
                per_frame.get(&(*camera, *t)).copied().unwrap_or(0)
            )
        })
        .collect();
    let recordings_dir = data_dir.join("recordings");
    let (mut segments, mut open_segments, mut wrong_length) = (0, Vec::new(), Vec::new());
    for camera in store.cameras().await.expect("cameras") {
        for row in store
            .recordings(camera.id, i64::MIN, i64::MAX)
            .await
            .expect("recordings")
        {
            segments += 1;
            if row.open {
                open_segments.push(row.path.clone());
            }
            let file = recordings_dir.join(&row.path);
            let length = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            let valid = std::fs::File::open(&file)
                .and_then(|mut f| peregrine_engine::fmp4::scan(&mut f))
                .map(|s| s.valid_len)
                .unwrap_or(0);
            if length != row.bytes as u64 || valid != length {
                wrong_length.push(format!(
                    "{}: file {length} bytes ({valid} whole), index {}",
                    row.path, row.bytes
                ));
            }
        }
    }
    store.close().await;
    let figures = Figures {
        name,
        how: how.describe(),
        log,
        exit,
        stop_time,
        said,
        rows_in_sqlite: rows.len() as u64,
        streamed: (
            shown_before_stop.len(),
            shown_before_stop.iter().map(|s| s.2).sum(),
        ),
        streamed_missing,
        segments,
        open_segments,
        wrong_length,
        rtsp_port_held,
        dropped_by_detector,
    };
    figures.report();
    figures
}

/// `127.0.0.1:PORT` from "Open http://127.0.0.1:PORT/?t=…" (the server) or
/// "API at http://127.0.0.1:PORT" (the app).
fn api_address(line: &str) -> Option<String> {
    let start = line.find("http://127.0.0.1:")? + "http://".len();
    let rest = &line[start..];
    let port_start = "127.0.0.1:".len();
    let port_len = rest[port_start..]
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len() - port_start);
    (port_len > 0).then(|| rest[..port_start + port_len].to_owned())
}

/// (emitted, stored, segments closed) from
/// "stopped in 0.8 s: 1234 detections emitted, 1234 stored, 4 segments closed".
fn stop_line(line: &str) -> Option<(u64, u64, u64)> {
    let rest = &line[line.find("stopped in ")?..];
    let counts = &rest[rest.find(": ")? + 2..];
    let mut numbers = counts
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u64>().ok());
    Some((numbers.next()??, numbers.next()??, numbers.next()??))
}

/// A virtual X display for the desktop window, stopped by its own PID.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Self {
        for n in 140..200 {
            if Path::new(&format!("/tmp/.X{n}-lock")).exists()
                || Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
            {
                continue;
            }
            let mut child = Command::new("Xvfb")
                .args([
                    &format!(":{n}"),
                    "-screen",
                    "0",
                    "1280x800x24",
                    "-nolisten",
                    "tcp",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("Xvfb runs (apt install xvfb)");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                    return Self {
                        child,
                        display: format!(":{n}"),
                    };
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("no free X display for Xvfb");
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn reads_the_stop_line_and_the_address() {
    assert_eq!(
        stop_line("INFO peregrine_server: stopped in 0.8 s: 1234 detections emitted, 1230 stored, 4 segments closed"),
        Some((1234, 1230, 4))
    );
    assert_eq!(stop_line("INFO stopped"), None);
    assert_eq!(
        api_address("Peregrine is running. Open http://127.0.0.1:40123/?t=3f9c in a browser."),
        Some("127.0.0.1:40123".to_owned())
    );
    assert_eq!(
        api_address("Peregrine window open; API at http://127.0.0.1:5555 (scripts: …)"),
        Some("127.0.0.1:5555".to_owned())
    );
}
