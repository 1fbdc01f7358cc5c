//! Command-line options shared by `peregrine` and the desktop app.

use std::path::PathBuf;

use clap::Args;

use crate::demo::{self, CamSim, DemoOptions};
use crate::{assets, platform, Running, ServerOptions};

#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    /// Where the database, key and token live [default: $PEREGRINE_DATA or
    /// ~/.local/share/peregrine; the demo uses its own `demo` folder inside]
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Port on 127.0.0.1 for the UI and API (0 picks a free one)
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Run without object detection
    #[arg(long)]
    pub no_detector: bool,
    /// Run as the recording service (systemd's peregrine.service): data in
    /// /var/lib/peregrine unless --data-dir says otherwise, the API token
    /// readable by the service's group so a window on this machine attaches
    /// without a password, and the service manager told when it is ready
    /// and that it is alive
    #[arg(long, conflicts_with = "no_detector")]
    pub service: bool,
}

#[derive(Args, Clone, Debug)]
pub struct DemoArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// How many demo cameras to simulate
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub cameras: u16,
    /// Port for the simulated cameras' RTSP server
    #[arg(long, default_value_t = 8554)]
    pub rtsp_port: u16,
    /// Footage to loop [default: $PEREGRINE_FOOTAGE or the setup cache]
    #[arg(long)]
    pub footage: Option<PathBuf>,
}

impl ServeArgs {
    fn options(&self, default_data_dir: PathBuf) -> ServerOptions {
        let mut options = ServerOptions::from_env(
            Some(self.data_dir.clone().unwrap_or(default_data_dir)),
            self.port,
        );
        if self.no_detector {
            options.detector = None;
        }
        options.service = self.service;
        options
    }
}

/// Logs to stderr, `RUST_LOG`-style filter (default `info`), colour only on a terminal.
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Waits for SIGTERM (a logout, a system shutdown, systemd, `kill`) or
/// SIGINT (Ctrl-C), the cue for an orderly stop. A second one while that
/// stop runs ends the process at once.
pub async fn stop_requested() {
    stop_signal().await;
    tracing::info!("stop requested");
    tokio::spawn(async {
        stop_signal().await;
        tracing::warn!("asked again to stop: ending at once");
        std::process::exit(130);
    });
}

async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot watch for stop signals; Ctrl-C only");
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// Starts the server on the cameras in its database.
pub async fn serve(args: &ServeArgs) -> anyhow::Result<Running> {
    let data_dir = if args.service {
        assets::service_data_dir()
    } else {
        assets::default_data_dir()
    };
    crate::start(args.options(data_dir)).await
}

/// Tells the service manager that the service is ready, then, as often as
/// its watchdog asks, that it is alive: for as long as the database
/// answers. A service that stops answering is restarted.
pub fn supervise(running: &Running) -> Option<tokio::task::JoinHandle<()>> {
    let manager = platform::service::current();
    manager.ready(&format!("serving on http://{}", running.addr));
    let every = manager.watchdog_interval()?;
    let store = running.state.store.clone();
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match tokio::time::timeout(every, store.cameras()).await {
                Ok(Ok(_)) => manager.alive(),
                Ok(Err(e)) => tracing::warn!(error = %e, "watchdog: the database fails"),
                Err(_) => tracing::warn!("watchdog: the database does not answer"),
            }
        }
    }))
}

/// Starts the camera simulator, the server, and the demo cameras.
pub async fn demo(args: &DemoArgs) -> anyhow::Result<(Running, CamSim)> {
    let opts = DemoOptions {
        cameras: usize::from(args.cameras),
        rtsp_port: args.rtsp_port,
        footage: args.footage.clone().unwrap_or_else(assets::footage),
    };
    let camsim = demo::start_camsim(&opts).await?;
    let running = crate::start(args.serve.options(assets::default_data_dir().join("demo"))).await?;
    demo::register_cameras(&running.state, &opts, &camsim).await?;
    Ok((running, camsim))
}
