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
    /// Serve the bundled footage as live RTSP cameras, without the console
    /// (rtsp://127.0.0.1:PORT/cam1 …), to try the product's camera set-up
    Camsim {
        /// How many cameras
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
        cameras: u16,
        /// RTSP port on 127.0.0.1 (0 picks a free one)
        #[arg(long, default_value_t = 8554)]
        port: u16,
        /// Footage to loop [default: the bundled footage]
        #[arg(long)]
        footage: Option<std::path::PathBuf>,
    },
    /// Find the ONVIF cameras on the local network (WS-Discovery) and list
    /// their make, model and address
    Discover {
        /// How long to listen for answers, in seconds
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
    },
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
    let mut supervisor = None;
    let (running, camsim) = match &cli.command {
        Command::Serve(args) => {
            let running = cli::serve(args).await?;
            if args.service {
                supervisor = cli::supervise(&running);
            }
            (running, None)
        }
        Command::Demo(args) => {
            let (running, camsim) = cli::demo(args).await?;
            (running, Some(camsim))
        }
        Command::Verify { path, key } => return verify(path, key.as_deref()),
        Command::Discover { seconds } => return discover(*seconds).await,
        Command::Camsim {
            cameras,
            port,
            footage,
        } => return camsim(*cameras, *port, footage.clone()).await,
    };
    println!(
        "Peregrine is running. Open {} in a browser.",
        running.login_url()
    );
    cli::stop_requested().await;
    if let Some(watchdog) = supervisor {
        watchdog.abort();
    }
    peregrine_server::platform::service::current().stopping();
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

/// Serves the simulated cameras until asked to stop.
async fn camsim(
    cameras: u16,
    port: u16,
    footage: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    use peregrine_server::camsim::{CamSim, CamSimOptions};
    let camsim = CamSim::start(&CamSimOptions {
        footage: footage.unwrap_or_else(peregrine_server::assets::footage),
        cameras: usize::from(cameras),
        port,
    })
    .await?;
    for camera in 1..=usize::from(cameras) {
        println!("{}", camsim.url(camera));
    }
    cli::stop_requested().await;
    camsim.stop().await;
    Ok(())
}

/// Lists the cameras that answer a WS-Discovery probe, one a line.
async fn discover(seconds: f64) -> anyhow::Result<()> {
    use peregrine_server::onvif::discovery;
    anyhow::ensure!(
        (0.1..=60.0).contains(&seconds),
        "--seconds must be between 0.1 and 60"
    );
    let wait = std::time::Duration::from_secs_f64(seconds);
    let cameras = discovery::probe(discovery::MULTICAST, wait).await?;
    if cameras.is_empty() {
        println!("No ONVIF camera answered within {seconds} s. Check that the cameras are on this machine's network and that ONVIF discovery is on.");
    }
    for c in &cameras {
        let unknown = || "?".to_owned();
        println!(
            "{}:{}\t{}\t{}\t{}",
            c.host,
            c.port,
            c.manufacturer.clone().unwrap_or_else(unknown),
            c.model.clone().unwrap_or_else(unknown),
            c.name.clone().unwrap_or_default()
        );
    }
    Ok(())
}
