//! Peregrine's desktop shell. The engine and the API run in-process on one
//! tokio runtime shared with Tauri; the window loads the UI from that same
//! loopback server, exactly as a browser does, so there is one origin and
//! one API. Native calls are allowed for that origin only (capabilities/).

use launch::Launch;
use tauri::{WebviewUrl, WebviewWindowBuilder};
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

    let (running, camsim) = runtime.block_on(launch.start())?;
    let url = running.login_url();
    info!(addr = %running.addr, "console ready");
    println!("Peregrine window open; API at http://{} (scripts: Bearer token from the data directory's api-token file)", running.addr);
    let window_url: tauri::Url = url.parse()?;

    let fullscreen = launch.fullscreen();
    let (store, alerts) = (
        running.state.store.clone(),
        running.state.alerts.subscribe(),
    );
    let app = tauri::Builder::default()
        // Remembers the window's size and position between launches.
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_notification::init())
        .setup(move |app| {
            WebviewWindowBuilder::new(app, "main", WebviewUrl::External(window_url.clone()))
                .title("Peregrine")
                .inner_size(1280.0, 800.0)
                .min_inner_size(800.0, 560.0)
                .fullscreen(fullscreen)
                .build()?;
            alarms::start(app.handle(), store, alerts)?;
            Ok(())
        })
        .build(tauri::generate_context!())?;
    app.run(|_, _| {});
    runtime.block_on(running.stop());
    drop(camsim);
    Ok(())
}
