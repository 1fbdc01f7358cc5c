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
    /// Check an evidence export: every file's SHA-256 and the signature
    Verify {
        /// The export folder (the one holding manifest.json)
        path: std::path::PathBuf,
        /// Base64 public key the export must be signed with (Settings shows
        /// this installation's)
        #[arg(long)]
        key: Option<String>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cli::init_logging();
    let cli = Cli::parse();
    let (running, camsim) = match &cli.command {
        Command::Serve(args) => (cli::serve(args).await?, None),
        Command::Demo(args) => {
            let (running, camsim) = cli::demo(args).await?;
            (running, Some(camsim))
        }
        Command::Verify { path, key } => return verify(path, key.as_deref()),
    };
    println!(
        "Peregrine is running. Open {} in a browser.",
        running.login_url()
    );
    cli::stop_requested().await;
    running.stop().await;
    if let Some(camsim) = camsim {
        camsim.stop().await;
    }
    Ok(())
}

/// Prints the verdict; the exit status is 0 only for an intact export.
fn verify(path: &std::path::Path, key: Option<&str>) -> anyhow::Result<()> {
    let report = peregrine_server::evidence::verify(path, key)?;
    println!("{}", report.message);
    if let Some(key) = &report.public_key {
        println!("Signed by key {key}");
    }
    if !report.intact {
        std::process::exit(1);
    }
    Ok(())
}
