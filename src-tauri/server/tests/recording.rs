//! Recording end to end: the simulator's stream recorded into segment
//! files, the index, playback by range, export and verification, retention,
//! a kill -9 in the middle of a segment, and a disk that fills up.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{CamSim, TestServer};
use peregrine_engine::fmp4::{self, ScannedFile};
use reqwest::Method;
use serde_json::{json, Value};

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

fn scan(path: &Path) -> ScannedFile {
    fmp4::scan(&mut std::fs::File::open(path).expect("segment file")).expect("a readable segment")
}

/// Frames ffmpeg decodes from a file (it must decode without error).
fn decoded_frames(path: &Path) -> u64 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a frame count")
}

async fn add_camera(server: &TestServer, url: &str) -> i64 {
    let (status, camera) = server
        .send_json(
            Method::POST,
            "/api/v1/cameras",
            &json!({"name": "Yard", "url": url, "record_mode": "continuous"}),
        )
        .await;
    assert_eq!(status, 201, "{camera}");
    assert_eq!(camera["record_mode"], "continuous");
    camera["id"].as_i64().expect("id")
}

async fn recordings(server: &TestServer, camera: i64) -> Vec<Value> {
    let from = now_us() - 3_600_000_000;
    let list = server
        .get_json(&format!(
            "/api/v1/cameras/{camera}/recordings?from_us={from}"
        ))
        .await;
    list["recordings"].as_array().cloned().unwrap_or_default()
}

async fn wait_for_segments(
    server: &TestServer,
    camera: i64,
    closed: usize,
    timeout: Duration,
) -> Vec<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let rows = recordings(server, camera).await;
        if rows.iter().filter(|r| r["open"] == false).count() >= closed {
            return rows;
        }
        assert!(
            Instant::now() < deadline,
            "only {} segments after {timeout:?}: {rows:?}",
            rows.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn us(v: &Value) -> i64 {
    v.as_i64().expect("µs")
}

fn peregrine(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_peregrine"))
        .args(args)
        .output()
        .expect("peregrine runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_is_continuous_exports_verify_and_retention_prunes_the_oldest() {
    let sim = CamSim::start(1, &[]);
    let dir = tempfile::tempdir().expect("temp dir");
    let server =
        TestServer::start_in(dir, false, |o| o.recording.segment = Duration::from_secs(6)).await;
    let camera = add_camera(&server, &sim.url("cam1")).await;
    let rows = wait_for_segments(&server, camera, 5, Duration::from_secs(90)).await;
    let root: PathBuf = server.running.state.recordings.dir.to_path_buf();

    // No gap over a second between segments; the index matches the files.
    for pair in rows.windows(2) {
        let gap = us(&pair[1]["start_us"]) - us(&pair[0]["end_us"]);
        assert!(
            (0..=1_000_000).contains(&gap),
            "gap of {gap} µs between {} and {}",
            pair[0],
            pair[1]
        );
    }
    let closed: Vec<&Value> = rows.iter().filter(|r| r["open"] == false).collect();
    for row in &closed {
        let file = root.join(camera.to_string()).join(file_part(row));
        let scanned = scan(&file);
        assert_eq!(scanned.file_len, row["bytes"].as_u64().unwrap(), "{row}");
        assert_eq!(scanned.valid_len, scanned.file_len);
        assert_eq!(scanned.start_us(), Some(us(&row["start_us"])));
        assert_eq!(scanned.end_us(), Some(us(&row["end_us"])));
        assert!(scanned.fragments[0].sync, "a segment starts on a keyframe");
        assert!(scanned.fragments.iter().all(|f| f.duration_us <= 1_000_000));
    }
    let seconds = (us(&closed[1]["end_us"]) - us(&closed[1]["start_us"])) as f64 / 1e6;
    let frames = decoded_frames(&root.join(camera.to_string()).join(file_part(closed[1])));
    assert!(
        frames as f64 >= seconds * 5.0 * 0.9,
        "{frames} frames in {seconds} s"
    );

    // Playback by range, as a player seeks.
    let video = server
        .client
        .get(server.url(closed[0]["url"].as_str().unwrap()))
        .header("Range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(video.status().as_u16(), 206);
    assert_eq!(video.bytes().await.unwrap().len(), 100);
    let timeline = server
        .get_json(&format!(
            "/api/v1/cameras/{camera}/timeline?from_us={}",
            us(&rows[0]["start_us"])
        ))
        .await;
    assert!(timeline["recordings"].as_array().unwrap().len() >= 5);
    assert_eq!(timeline["recording"]["state"], "recording");

    // Export across two segments, verify, then tamper.
    let from = us(&closed[1]["start_us"]) + 3_000_000;
    let to = us(&closed[2]["start_us"]) + 3_000_000;
    let (status, export) = server
        .send_json(
            Method::POST,
            "/api/v1/exports",
            &json!({"cameras": [camera], "from_us": from, "to_us": to, "note": "incident 42"}),
        )
        .await;
    assert_eq!(status, 202, "{export}");
    let export = wait_for_export(&server, export["id"].as_i64().unwrap()).await;
    let folder = PathBuf::from(export["path"].as_str().unwrap());
    let sidecar: Value =
        serde_json::from_slice(&std::fs::read(folder.join("metadata.json")).unwrap()).unwrap();
    assert_eq!(sidecar["note"], "incident 42");
    assert_eq!(sidecar["cameras"][0]["name"], "Yard");
    let videos = sidecar["videos"].as_array().unwrap();
    assert_eq!(videos.len(), 2, "{sidecar}");
    let first = scan(&folder.join(videos[0]["file"].as_str().unwrap()));
    assert!(
        first.start_us().unwrap() <= from,
        "starts at the keyframe before the range"
    );
    assert!(first.fragments[0].sync);
    let last = scan(&folder.join(videos[1]["file"].as_str().unwrap()));
    assert!(last.end_us().unwrap() >= to - 1_000_000);
    let folder_arg = folder.to_str().unwrap();
    let (code, out) = peregrine(&["verify", folder_arg]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("Intact"), "{out}");

    let key = server.get_json("/api/v1/evidence/key").await["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, _) = peregrine(&["verify", folder_arg, "--key", &key]);
    assert_eq!(code, 0, "signed with this installation's key");
    let other_key = "ZmFrZWtleWZha2VrZXlmYWtla2V5ZmFrZWtleWZha2U=";
    let (code, out) = peregrine(&["verify", folder_arg, "--key", other_key]);
    assert_eq!(code, 1);
    assert!(out.contains("different key"), "{out}");

    let victim = videos[1]["file"].as_str().unwrap();
    let mut bytes = std::fs::read(folder.join(victim)).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(folder.join(victim), &bytes).unwrap();
    let (code, out) = peregrine(&["verify", folder_arg]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("ALTERED: {victim}")), "{out}");
    let (_, report) = server
        .send_json(
            Method::POST,
            "/api/v1/exports/verify",
            &json!({"path": folder_arg}),
        )
        .await;
    assert_eq!(report["intact"], false);
    assert_eq!(report["altered"], json!([victim]));

    // Retention under a small quota: oldest first, locked evidence stays,
    // the newest is kept.
    let (status, lock) = server
        .send_json(
            Method::POST,
            "/api/v1/evidence-locks",
            &json!({"camera_id": camera, "start_us": us(&closed[1]["start_us"]) + 1_000_000,
                    "end_us": us(&closed[1]["start_us"]) + 2_000_000, "reason": "incident 42"}),
        )
        .await;
    assert_eq!(status, 201, "{lock}");
    let rows = recordings(&server, camera).await;
    let total: i64 = rows.iter().map(|r| r["bytes"].as_i64().unwrap()).sum();
    let store = &server.running.state.store;
    let quota = peregrine_server::recording::RetentionSettings {
        max_total_bytes: Some(total / 2),
        ..Default::default()
    };
    peregrine_server::recording::save_settings(store, &quota)
        .await
        .unwrap();
    let pruned = peregrine_server::recording::prune(&server.running.state)
        .await
        .unwrap();
    assert!(pruned >= 1);
    let after = recordings(&server, camera).await;
    let ids: Vec<i64> = after.iter().map(|r| us(&r["id"])).collect();
    assert!(!ids.contains(&us(&rows[0]["id"])), "the oldest went first");
    assert!(
        ids.contains(&us(&closed[1]["id"])),
        "the locked segment stayed"
    );
    assert!(
        ids.contains(&us(&rows.last().unwrap()["id"])),
        "the newest stayed"
    );
    assert!(!root
        .join(camera.to_string())
        .join(file_part(&rows[0]))
        .exists());
    let used: i64 = after.iter().map(|r| r["bytes"].as_i64().unwrap()).sum();
    assert!(
        used <= total / 2 + rows.last().unwrap()["bytes"].as_i64().unwrap() * 2,
        "{used} of {total}"
    );
    drop(sim);
    server.running.stop().await;
}

/// `<date>/<start>.mp4` of a row (its url only has the id).
fn file_part(row: &Value) -> PathBuf {
    let start = us(&row["start_us"]);
    let date = chrono::DateTime::from_timestamp_micros(start)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    PathBuf::from(date).join(format!("{start}.mp4"))
}

async fn wait_for_export(server: &TestServer, id: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let export = server.get_json(&format!("/api/v1/exports/{id}")).await;
        if export["state"] != "running" {
            assert_eq!(export["state"], "done", "{export}");
            return export;
        }
        assert!(Instant::now() < deadline, "export still running: {export}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorder_killed_mid_segment_loses_at_most_two_seconds() {
    let sim = CamSim::start(1, &[]);
    let dir = tempfile::tempdir().expect("temp dir");
    let port = common::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_peregrine"))
        .args([
            "serve",
            "--no-detector",
            "--port",
            &port.to_string(),
            "--data-dir",
        ])
        .arg(dir.path())
        .env("PEREGRINE_NO_KEYRING", "1")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start peregrine");
    let token_file = dir.path().join("api-token");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !token_file.exists() {
        assert!(
            Instant::now() < deadline,
            "the server never wrote its token"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let token = std::fs::read_to_string(&token_file).unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let camera: Value = client
        .post(format!("{base}/api/v1/cameras"))
        .bearer_auth(token.trim())
        .json(&json!({"name": "Yard", "url": sim.url("cam1")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let camera = us(&camera["id"]);
    // Wait until the first segment holds several seconds, then kill -9.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let list: Value = client
            .get(format!(
                "{base}/api/v1/cameras/{camera}/recordings?from_us={}",
                now_us() - 3_600_000_000
            ))
            .bearer_auth(token.trim())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let first = &list["recordings"][0];
        if first.is_object() && us(&first["end_us"]) - us(&first["start_us"]) > 8_000_000 {
            break;
        }
        assert!(Instant::now() < deadline, "nothing recorded: {list}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().expect("kill -9");
    let killed_at = now_us();
    child.wait().unwrap();
    drop(sim); // nothing new to record after the restart

    let server = TestServer::start_in(dir, false, |_| {}).await;
    let rows = recordings(&server, camera).await;
    let first = &rows[0];
    assert_eq!(first["open"], false, "recovery closed the segment: {first}");
    let lost_us = killed_at - us(&first["end_us"]);
    assert!(lost_us <= 2_000_000, "lost {lost_us} µs of video");
    let file = server
        .running
        .state
        .recordings
        .dir
        .join(camera.to_string())
        .join(file_part(first));
    let scanned = scan(&file);
    assert_eq!(scanned.file_len, scanned.valid_len, "no torn tail left");
    assert_eq!(scanned.file_len, first["bytes"].as_u64().unwrap());
    assert_eq!(scanned.end_us(), Some(us(&first["end_us"])));
    let seconds = (us(&first["end_us"]) - us(&first["start_us"])) as f64 / 1e6;
    assert!(decoded_frames(&file) as f64 >= seconds * 5.0 * 0.9);
    eprintln!(
        "kill -9: {:.2} s of video lost, {seconds:.1} s kept",
        lost_us as f64 / 1e6
    );
    server.running.stop().await;
}

/// A small tmpfs, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(path: PathBuf, size: &str) -> Self {
        std::fs::create_dir_all(&path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .expect("mount runs");
        assert!(
            status.success(),
            "mounting a tmpfs needs root (CI runs as root)"
        );
        Self(path)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_warns_prunes_and_recording_resumes() {
    let sim = CamSim::start(1, &[]);
    let dir = tempfile::tempdir().expect("temp dir");
    let disk = SmallDisk::mount(dir.path().join("small-disk"), "3m");
    let rec = disk.0.clone();
    let server = TestServer::start_in(dir, false, move |o| {
        o.recording.dir = rec;
        o.recording.segment = Duration::from_secs(4);
    })
    .await;
    // A floor below one fragment: the disk really fills before retention acts.
    let floor = peregrine_server::recording::RetentionSettings {
        min_free_bytes: 100_000,
        ..Default::default()
    };
    peregrine_server::recording::save_settings(&server.running.state.store, &floor)
        .await
        .unwrap();
    let camera = add_camera(&server, &sim.url("cam1")).await;

    let deadline = Instant::now() + Duration::from_secs(90);
    let mut saw_full = None;
    let mut first_start = None;
    loop {
        let cam = server.get_json(&format!("/api/v1/cameras/{camera}")).await;
        let rows = recordings(&server, camera).await;
        if first_start.is_none() {
            first_start = rows.first().map(|r| us(&r["start_us"]));
        }
        let state = cam["recording"]["state"].as_str().unwrap_or("").to_owned();
        if state == "error" && saw_full.is_none() {
            let message = cam["recording"]["message"].as_str().unwrap().to_owned();
            assert!(message.contains("full"), "{message}");
            saw_full = Some(message);
        }
        let pruned = rows.first().map(|r| us(&r["start_us"])) != first_start;
        if saw_full.is_some() && state == "recording" && pruned {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "state {state}, saw full: {saw_full:?}, pruned: {pruned}, rows: {}",
            rows.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let health = server.get_json("/api/v1/health").await;
    assert!(
        health["uptime_s"].as_f64().unwrap() > 0.0,
        "the server survived"
    );
    drop(sim);
    server.running.stop().await;
    drop(disk);
}
