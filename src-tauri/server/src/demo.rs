//! The demo: the camera simulator (scripts/camsim.py, GStreamer's RTSP
//! server) serves the bundled footage as N live cameras, and the demo
//! cameras are registered against it, so the demo runs the same RTSP path
//! as a real site.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use peregrine_store::CameraFields;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tracing::{info, warn};

use crate::AppState;

/// What the demo may record, all cameras together (2 GB).
const DEMO_RECORDING_QUOTA: i64 = 2_000_000_000;
const SYSTEM_PYTHON: &str = "/usr/bin/python3";
const READY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
pub struct DemoOptions {
    pub cameras: usize,
    pub rtsp_port: u16,
    pub footage: PathBuf,
}

/// The running simulator: stopped with [`CamSim::stop`], killed when
/// dropped, and (on Linux) killed by the kernel when this process dies
/// however it dies, so it is never left behind.
pub struct CamSim {
    child: Child,
}

impl CamSim {
    /// Kills the simulator and waits until it is gone.
    pub async fn stop(mut self) {
        if let Err(e) = self.child.kill().await {
            warn!(error = %e, "cannot stop the camera simulator");
        }
    }
}

/// Starts the simulator and waits until it serves every camera.
pub async fn start_camsim(opts: &DemoOptions) -> anyhow::Result<CamSim> {
    if !opts.footage.is_file() {
        bail!(
            "demo footage not found at {}: run `npm run setup` (or set PEREGRINE_FOOTAGE)",
            opts.footage.display()
        );
    }
    let script = crate::assets::camsim_script();
    let mut command = Command::new(SYSTEM_PYTHON);
    die_with_parent(&mut command);
    let mut child = command
        .arg(&script)
        .arg("--footage")
        .arg(&opts.footage)
        .args(["--cameras", &opts.cameras.to_string()])
        .args(["--port", &opts.rtsp_port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| {
            format!(
                "cannot run the camera simulator {} with {SYSTEM_PYTHON}: run `npm run setup`",
                script.display()
            )
        })?;
    let stdout = child
        .stdout
        .take()
        .context("camera simulator has no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(READY_TIMEOUT, async {
        while let Some(line) = lines.next_line().await? {
            info!(target: "camsim", "{line}");
            if line.trim() == "camsim: ready" {
                return Ok(true);
            }
        }
        Ok::<_, std::io::Error>(false)
    })
    .await;
    match ready {
        Ok(Ok(true)) => {}
        Ok(_) => bail!("the camera simulator stopped before serving (see its messages above)"),
        Err(_) => bail!(
            "the camera simulator did not get ready within {} s",
            READY_TIMEOUT.as_secs()
        ),
    }
    // Keep reading so the simulator never blocks on a full pipe.
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            info!(target: "camsim", "{line}");
        }
        warn!("camera simulator exited");
    });
    Ok(CamSim { child })
}

/// Asks the kernel to kill the child when this process dies, even by
/// SIGKILL or a crash (Linux's parent-death signal). The signal follows the
/// thread that spawns the child: both binaries start the simulator from
/// their main thread, which lives as long as the process.
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    use std::os::raw::{c_int, c_ulong};
    // From <sys/prctl.h> and <signal.h>; std already links the C library.
    const PR_SET_PDEATHSIG: c_int = 1;
    const SIGKILL: c_ulong = 9;
    extern "C" {
        fn prctl(option: c_int, ...) -> c_int;
        fn getppid() -> c_int;
    }
    let parent = std::process::id() as c_int;
    // SAFETY: between fork and exec the closure only makes two
    // async-signal-safe system calls and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent died before the request was made: do not start.
            if getppid() != parent {
                return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}

/// Registers (or re-points) "Demo cam 1..N" at the simulator and starts them.
pub async fn register_cameras(state: &AppState, opts: &DemoOptions) -> anyhow::Result<()> {
    // A trade-show day must never fill the disk: the demo records under a
    // small quota unless someone has set another.
    if state.store.setting("recording").await?.is_none() {
        let quota = crate::recording::RetentionSettings {
            max_total_bytes: Some(DEMO_RECORDING_QUOTA),
            ..Default::default()
        };
        crate::recording::save_settings(&state.store, &quota).await?;
    }
    for i in 1..=opts.cameras {
        let row = state
            .upsert_camera_by_name(CameraFields {
                name: format!("Demo cam {i}"),
                url: format!("rtsp://127.0.0.1:{}/cam{i}", opts.rtsp_port),
                sub_url: None,
                username: None,
                password_enc: None,
                detect_fps: 5.0,
                enabled: true,
                classes: None,
                min_score: 0.5,
                record_mode: "continuous".to_owned(),
                pre_roll_s: 5.0,
                post_roll_s: 10.0,
                retain_days: None,
                max_bytes: None,
            })
            .await?;
        crate::api::rules::ensure_demo_rules(state, row.id).await?;
    }
    Ok(())
}
