//! WS-Discovery finds an ONVIF camera on the local network. The test makes
//! its own network of two hosts (tests/onvif/netns.sh: two network
//! namespaces and a veth pair), runs a simulated ONVIF camera in one
//! (tests/onvif/camera.py: it answers probes and the device service) and
//! `peregrine discover` in the other, so no probe ever leaves on this
//! machine's real interfaces. Needs root, as `ip netns` does.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

fn tests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/onvif")
}

/// The two namespaces, deleted when dropped.
struct TestNet {
    id: String,
    vars: HashMap<String, String>,
}

impl TestNet {
    fn up(id: &str) -> Self {
        let out = Command::new("bash")
            .arg(tests_dir().join("netns.sh"))
            .args(["up", id])
            .output()
            .expect("run netns.sh");
        assert!(
            out.status.success(),
            "cannot make the test network (this test needs root for `ip netns`): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let vars = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Self {
            id: id.to_owned(),
            vars,
        }
    }

    fn var(&self, name: &str) -> &str {
        &self.vars[name]
    }

    fn command_in(&self, host: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", self.var(host), program]);
        c
    }

    /// The simulated ONVIF camera, once it listens.
    fn camera(&self) -> KillOnDrop {
        let ip = self.var("CAM_IP");
        let mut child = self
            .command_in("CAM", "/usr/bin/python3")
            .arg(tests_dir().join("camera.py"))
            .args(["--address", ip, "--http-port", "8080", "--password", "pw"])
            .args(["--main", &format!("rtsp://{ip}:8554/cam1")])
            .args(["--sub", &format!("rtsp://{ip}:8554/cam2")])
            .args(["--name", "Back door"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the simulated ONVIF camera");
        let stdout = child.stdout.take().expect("its stdout");
        let line = BufReader::new(stdout).lines().next();
        assert!(
            matches!(line, Some(Ok(ref l)) if l == "onvif-camera: ready"),
            "the simulated camera did not start: {line:?}"
        );
        KillOnDrop(child)
    }

    fn discover(&self) -> Output {
        self.command_in("NVR", env!("CARGO_BIN_EXE_peregrine"))
            .args(["discover", "--seconds", "1.5"])
            .output()
            .expect("run peregrine discover")
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(tests_dir().join("netns.sh"))
            .args(["down", &self.id])
            .status();
    }
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn finds_the_camera_with_its_make_model_and_address() {
    let net = TestNet::up(&format!("d{}", std::process::id() % 100_000));
    let _camera = net.camera();
    let started = std::time::Instant::now();
    let out = net.discover();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.trim(),
        format!(
            "{}:8080\tPeregrine Test Cameras\tNetCam 4\tBack door",
            net.var("CAM_IP")
        )
    );
    // It listens for the time asked, and not much longer.
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn says_so_when_no_camera_answers() {
    let net = TestNet::up(&format!("e{}", std::process::id() % 100_000));
    let out = net.discover();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("No ONVIF camera answered within 1.5 s."),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
