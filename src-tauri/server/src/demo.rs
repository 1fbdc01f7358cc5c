//! The demo: the built-in camera simulator ([`crate::camsim`]) serves the
//! bundled footage as N live RTSP cameras, and the demo cameras are
//! registered against it, so the demo runs the same RTSP path as a real
//! site, from an installed package with nothing else running.

use std::path::PathBuf;

use peregrine_store::CameraFields;

pub use crate::camsim::CamSim;
use crate::camsim::CamSimOptions;
use crate::AppState;

/// What the demo may record, all cameras together (2 GB).
const DEMO_RECORDING_QUOTA: i64 = 2_000_000_000;

#[derive(Clone, Debug)]
pub struct DemoOptions {
    pub cameras: usize,
    pub rtsp_port: u16,
    pub footage: PathBuf,
}

/// Starts the simulator; returns once it serves every camera.
pub async fn start_camsim(opts: &DemoOptions) -> anyhow::Result<CamSim> {
    let camsim = CamSim::start(&CamSimOptions {
        footage: opts.footage.clone(),
        cameras: opts.cameras,
        port: opts.rtsp_port,
    })
    .await?;
    Ok(camsim)
}

/// Registers (or re-points) "Demo cam 1..N" at the simulator and starts them.
pub async fn register_cameras(
    state: &AppState,
    opts: &DemoOptions,
    camsim: &CamSim,
) -> anyhow::Result<()> {
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
                url: camsim.url(i),
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
