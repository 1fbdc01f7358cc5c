//! `peregrine`: the headless server (browser, kiosk, CI) and the demo.

use clap::{Parser, Subcommand};
use peregrine_server::cli::{self, DemoArgs, ServeArgs};

#[derive(Parser)]
#[command(
    name = "peregrine",
    version,
    about = "Peregrine: edge-AI video surveillance console"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the console on the cameras in the database
    Serve(ServeArgs),
    /// Serve the console on simulated cameras looping the bundled footage
    Demo(DemoArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cli::init_logging();
    let cli = Cli::parse();
    let (running, _camsim) = match &cli.command {
        Command::Serve(args) => (cli::serve(args).await?, None),
        Command::Demo(args) => {
            let (running, camsim) = cli::demo(args).await?;
            (running, Some(camsim))
        }
    };
    println!(
        "Peregrine is running. Open {} in a browser.",
        running.login_url()
    );
    wait_for_stop().await;
    running.stop().await;
    Ok(())
}

async fn wait_for_stop() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
