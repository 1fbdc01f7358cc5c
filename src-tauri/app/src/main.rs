//! Peregrine's desktop shell. The engine and the API run in-process on one
//! tokio runtime shared with Tauri; the window loads the UI from that same
//! loopback server, exactly as a browser does, so there is one origin and
//! one API. Native calls are allowed for that origin only (capabilities/).
//!
//! When the recording service runs on this machine, the window attaches to
//! it instead and closing it stops nothing.
//!
//! Closing the window and SIGTERM/SIGINT (a logout, a system shutdown,
//! Ctrl-C) end the same way: the server's orderly stop runs on the tokio
//! runtime, never on the event loop, and the app exits when it is done.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use launch::{Launch, Mode};
use peregrine_server::demo::CamSim;
use peregrine_server::Running;
use tauri::{AppHandle, RunEvent, WebviewUrl, WebviewWindowBuilder};
use tracing::{error, info};

mod alarms;
mod launch;

fn main() {
    peregrine_server::cli::init_logging();
    if let Err(e) = run() {
        error!("{e:#}");
        eprintln!("Peregrine could not start: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    let launch = Launch::from_args(std::env::args().skip(1))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    tauri::async_runtime::set(runtime.handle().clone());

    let mode = runtime.block_on(launch.start())?;
    let window_url: tauri::Url = mode.login_url().parse()?;
    // Native alarms follow the in-process server; attached, the window's
    // own queue (with its sound) shows them.
    let (title, local) = match mode {
        Mode::Standalone(running, camsim) => {
            info!(addr = %running.addr, "console ready (standalone)");
            println!("Peregrine window open; API at http://{} (scripts: Bearer token from the data directory's api-token file)", running.addr);
            ("Peregrine", Some((running, camsim)))
        }
        Mode::Attached(service) => {
            info!(url = %service.url, "console ready (attached to the recording service)");
            println!(
                "Peregrine window open on the recording service at {}",
                service.url
            );
            ("Peregrine — recording service", None)
        }
    };
    let alarm_feed = local.as_ref().map(|(running, _)| {
        (
            running.state.store.clone(),
            running.state.alerts.subscribe(),
        )
    });

    let fullscreen = launch.fullscreen();
    let app = tauri::Builder::default()
        // Remembers the window's size and position between launches.
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_notification::init())
        .setup(move |app| {
            WebviewWindowBuilder::new(app, "main", WebviewUrl::External(window_url.clone()))
                .title(title)
                .inner_size(1280.0, 800.0)
                .min_inner_size(800.0, 560.0)
                .fullscreen(fullscreen)
                .build()?;
            if let Some((store, alerts)) = alarm_feed {
                alarms::start(app.handle(), store, alerts)?;
            }
            Ok(())
        })
        .build(tauri::generate_context!())?;
    let stop = OrderlyStop::new(local);
    let (on_signal, handle) = (stop.clone(), app.handle().clone());
    runtime.spawn(async move {
        peregrine_server::cli::stop_requested().await;
        on_signal.run_then_exit(&handle).await;
    });
    let on_exit = stop.clone();
    let code = app.run_return(move |handle, event| {
        // The last window closed (or something asked to exit): stop in
        // order first, then exit for real.
        if let RunEvent::ExitRequested { api, .. } = event {
            if !on_exit.is_done() {
                api.prevent_exit();
                let (stop, handle) = (on_exit.clone(), handle.clone());
                tauri::async_runtime::spawn(async move { stop.run_then_exit(&handle).await });
            }
        }
    });
    // Already done unless the event loop ended some other way.
    runtime.block_on(stop.run());
    std::process::exit(code);
}

/// What a stop stops: the server and, in the demo, the camera simulator.
type Parts = (Running, Option<CamSim>);

/// The server and the demo's camera simulator (none when attached to the
/// service), stopped once however the stop is asked for; a second request
/// waits for the first to finish.
#[derive(Clone)]
struct OrderlyStop {
    parts: Arc<tokio::sync::Mutex<Option<Parts>>>,
    done: Arc<AtomicBool>,
}

impl OrderlyStop {
    fn new(parts: Option<Parts>) -> Self {
        Self {
            parts: Arc::new(tokio::sync::Mutex::new(parts)),
            done: Arc::default(),
        }
    }

    async fn run(&self) {
        let mut parts = self.parts.lock().await;
        if let Some((running, camsim)) = parts.take() {
            running.stop().await;
            if let Some(camsim) = camsim {
                camsim.stop().await;
            }
        }
        self.done.store(true, Ordering::SeqCst);
    }

    async fn run_then_exit(&self, app: &AppHandle) {
        self.run().await;
        app.exit(0);
    }

    fn is_done(&self) -> bool {
        self.done.load(Ordering::SeqCst)
    }
}
