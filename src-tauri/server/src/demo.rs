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

/// The running simulator; killed when dropped.
pub struct CamSim {
    _child: Child,
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
    let mut child = Command::new(SYSTEM_PYTHON)
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
    Ok(CamSim { _child: child })
}

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
