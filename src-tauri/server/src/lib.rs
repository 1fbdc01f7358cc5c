//! Peregrine's server: the HTTP/WebSocket API (axum) over the engine and the
//! store, the per-launch access token, credential encryption, and the
//! `peregrine` command. The Tauri shell embeds exactly this: one API, two
//! shells.
//!
//! Boot ([`start`]) reads as a list: data dir → store → key → engine and
//! its writer → recording recovery → cameras → listener → router. Everything runs on the caller's
//! tokio runtime; decode and inference live on the engine's own threads.
//! [`Running::stop`] goes the other way and loses nothing accepted: the API
//! stops, the engine stops producing and finishes what it holds, the
//! recorders close their segments, the writer drains its queue, the
//! database closes.

pub mod api;
pub mod assets;
pub mod attach;
pub mod auth;
pub mod camsim;
pub mod cli;
pub mod delivery;
pub mod demo;
pub mod evidence;
pub mod health_alarms;
pub mod mqtt;
pub mod onvif;
pub mod platform;
pub mod recording;
pub mod secrets;
pub mod semantic;
pub mod writer;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use peregrine_engine::{DetectorConfig, Engine};
use peregrine_store::Store;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tracing::{error, info, warn};

pub use api::AppState;

/// Alerts queued for slow event subscribers before they miss some.
const ALERT_BUFFER: usize = 256;
/// How long a stop lets requests in flight finish.
const HTTP_DRAIN: Duration = Duration::from_secs(1);
/// A last resort: the writer normally drains its queue in well under a second.
const WRITER_DRAIN: Duration = Duration::from_secs(30);

/// How to start the server.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    pub data_dir: PathBuf,
    /// 0 picks a free port.
    pub port: u16,
    /// `None` runs without detection.
    pub detector: Option<DetectorConfig>,
    /// A folder to serve the UI from; `None` serves the one built in.
    pub ui_dir: Option<PathBuf>,
    pub recording: recording::RecordingOptions,
    /// The search's semantic fallback model; `None` runs without it.
    pub embedder: Option<PathBuf>,
    /// Runs as the recording service: a window on this machine may attach.
    pub service: bool,
}

impl ServerOptions {
    /// Defaults from the environment and the user's directories.
    pub fn from_env(data_dir: Option<PathBuf>, port: u16) -> Self {
        let data_dir = data_dir.unwrap_or_else(assets::default_data_dir);
        let mut detector = DetectorConfig::new(assets::model_path(), assets::ort_library());
        if let Some(threads) = assets::env_usize("PEREGRINE_DETECTOR_THREADS") {
            detector.intra_threads = threads;
        }
        Self {
            recording: recording::RecordingOptions::from_env(&data_dir),
            embedder: Some(assets::embedder_dir()),
            data_dir,
            port,
            detector: Some(detector),
            ui_dir: assets::ui_dir(),
            service: false,
        }
    }
}

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    pub token: String,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<()>,
    writer: tokio::task::JoinHandle<writer::Written>,
    health_alarms: tokio::task::JoinHandle<()>,
    webhooks: tokio::task::JoinHandle<()>,
    mqtt: tokio::task::JoinHandle<()>,
    retention: tokio::task::JoinHandle<()>,
}

impl Running {
    /// The URL that logs a browser in (the token is traded for a cookie at once).
    pub fn login_url(&self) -> String {
        format!("http://{}/?t={}", self.addr, self.token)
    }

    /// Stops in order, losing nothing accepted, and logs one line with
    /// what was emitted and stored.
    pub async fn stop(mut self) -> StopReport {
        let started = Instant::now();
        info!("stopping");
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if tokio::time::timeout(HTTP_DRAIN, &mut self.served)
            .await
            .is_err()
        {
            self.served.abort();
            warn!("requests still running were cut off by the stop");
        }
        self.health_alarms.abort();
        self.webhooks.abort();
        self.mqtt.abort();
        self.retention.abort();
        // The engine joins its threads, so it stops off the async runtime
        // (which its recorders still use). Once it has let go of the
        // writer's channel, the writer drains the queue and ends.
        let engine = self.state.engine.clone();
        let engine_stop = tokio::task::spawn_blocking(move || engine.shutdown())
            .await
            .unwrap_or_default();
        let written = match tokio::time::timeout(WRITER_DRAIN, &mut self.writer).await {
            Ok(Ok(written)) => written,
            Ok(Err(e)) => {
                error!(error = %e, "the database writer failed");
                writer::Written::default()
            }
            Err(_) => {
                warn!(
                    "the database writer did not finish in time; the last detections may be lost"
                );
                writer::Written::default()
            }
        };
        self.state.store.close().await;
        let report = StopReport {
            took: started.elapsed(),
            detections_emitted: engine_stop.detections_emitted,
            detections_stored: written.detections,
            segments_closed: engine_stop.segments_closed,
        };
        info!(
            "stopped in {:.1} s: {} detections emitted, {} stored, {} segments closed",
            report.took.as_secs_f64(),
            report.detections_emitted,
            report.detections_stored,
            report.segments_closed
        );
        report
    }
}

/// What [`Running::stop`] did.
#[derive(Clone, Copy, Debug)]
pub struct StopReport {
    pub took: Duration,
    /// Detections the engine showed and handed to the store since start.
    pub detections_emitted: u64,
    /// Detections the store wrote since start.
    pub detections_stored: u64,
    /// Recording segments closed by the stop.
    pub segments_closed: usize,
}

/// Starts the engine, the cameras in the database, and the API on 127.0.0.1.
pub async fn start(options: ServerOptions) -> anyhow::Result<Running> {
    std::fs::create_dir_all(&options.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            options.data_dir.display()
        )
    })?;
    info!(data_dir = %options.data_dir.display(), "starting");

    let db_path = options.data_dir.join("peregrine.db");
    let store = Store::open(&db_path).await?;
    info!(db = %db_path.display(), "database ready");

    let secrets = Arc::new(secrets::SecretBox::load_or_create(&options.data_dir)?);
    info!(key = %secrets.source(), "credential key ready");

    peregrine_engine::track::seed_track_ids(store.max_track_id().await? + 1);
    let (persist_tx, persist_rx) = tokio::sync::mpsc::channel(writer::QUEUE);
    let engine = Arc::new(Engine::start(options.detector.clone(), persist_tx));
    let (alerts, _) = tokio::sync::broadcast::channel(ALERT_BUFFER);
    let writer = tokio::spawn(writer::run(store.clone(), persist_rx, alerts.clone()));

    let mqtt = Arc::new(mqtt::Mqtt::new(api::settings::load_mqtt(&store).await));
    let recovered = recording::recover(&store, &options.recording.dir).await?;
    if recovered > 0 {
        info!(
            segments = recovered,
            "recordings left open by the last run were recovered"
        );
    }
    let paths = (options.data_dir.as_path(), options.recording.clone());
    let mut state = AppState::new(store, engine, secrets, alerts, mqtt, paths);
    state.service = options.service;
    if let Some(dir) = options.embedder.clone() {
        let ort = assets::ort_library();
        let loaded =
            tokio::task::spawn_blocking(move || semantic::SemanticTerms::load(&dir, &ort)).await?;
        state.semantic = loaded.map(Arc::new);
    }
    let health_alarms = tokio::spawn(health_alarms::run(state.clone()));
    let webhooks = tokio::spawn(delivery::run(state.clone()));
    let mqtt = tokio::spawn(mqtt::run(state.clone()));
    let retention = tokio::spawn(recording::run(state.clone()));
    let started = state.start_cameras().await?;
    info!(cameras = started, "cameras started");

    let listener = TcpListener::bind(("127.0.0.1", options.port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", options.port))?;
    let addr = listener.local_addr()?;
    let guard = auth::Guard::new(addr.port());
    let token = guard.token().to_owned();
    auth::write_token_file(&options.data_dir, &token, options.service)?;
    if options.service {
        attach::announce(&options.data_dir, addr)?;
    }
    let router = api::router(state.clone(), guard, options.ui_dir.as_deref());

    let (shutdown, shutdown_rx) = oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        let result = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = shutdown_rx.await;
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "HTTP server failed");
        }
    });
    info!(%addr, "API listening");
    Ok(Running {
        addr,
        token,
        state,
        shutdown: Some(shutdown),
        served,
        writer,
        health_alarms,
        webhooks,
        mqtt,
        retention,
    })
}

/// Started at boot so `uptime_s` has a reference.
pub(crate) fn boot_instant() -> Instant {
    static BOOT: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *BOOT.get_or_init(Instant::now)
}
