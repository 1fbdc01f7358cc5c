//! The window takes the same options as `peregrine serve` / `peregrine demo`.
//! With none, it attaches to the recording service when one runs on this
//! machine and this user may join it, and runs standalone otherwise.

use clap::{Parser, Subcommand};
use peregrine_server::attach::{self, Service};
use peregrine_server::cli::{self, DemoArgs, ServeArgs};
use peregrine_server::demo::CamSim;
use peregrine_server::{assets, Running};

#[derive(Parser)]
#[command(name = "peregrine-app", version, about = "Peregrine desktop console")]
struct Cli {
    /// Open full screen (kiosks, trade-show demos)
    #[arg(long, global = true)]
    fullscreen: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Clone)]
enum Command {
    /// Open the console on the cameras in this user's database, without
    /// the recording service (the default when no service runs)
    Serve(ServeArgs),
    /// Open the console on simulated cameras looping the bundled footage
    Demo(DemoArgs),
}

pub struct Launch {
    command: Option<Command>,
    fullscreen: bool,
}

impl Launch {
    pub fn from_args(args: impl Iterator<Item = String>) -> anyhow::Result<Self> {
        let cli = Cli::try_parse_from(std::iter::once("peregrine-app".to_owned()).chain(args))?;
        Ok(Self {
            command: cli.command,
            fullscreen: cli.fullscreen,
        })
    }

    pub fn fullscreen(&self) -> bool {
        self.fullscreen
    }

    pub async fn start(&self) -> anyhow::Result<Mode> {
        match &self.command {
            Some(Command::Demo(args)) => {
                let (running, camsim) = cli::demo(args).await?;
                Ok(Mode::Standalone(running, Some(camsim)))
            }
            Some(Command::Serve(args)) => Ok(Mode::Standalone(cli::serve(args).await?, None)),
            None => {
                if let Some(service) = attach::find(&assets::service_data_dir()).await {
                    return Ok(Mode::Attached(service));
                }
                let args = ServeArgs {
                    data_dir: None,
                    port: 0,
                    no_detector: false,
                    service: false,
                };
                Ok(Mode::Standalone(cli::serve(&args).await?, None))
            }
        }
    }
}

/// What the window shows.
pub enum Mode {
    /// Its own server (and, in the demo, the camera simulator): closing
    /// the window stops them.
    Standalone(Running, Option<CamSim>),
    /// The recording service, which goes on when the window closes.
    Attached(Service),
}

impl Mode {
    pub fn login_url(&self) -> String {
        match self {
            Mode::Standalone(running, _) => running.login_url(),
            Mode::Attached(service) => service.login_url(),
        }
    }
}
