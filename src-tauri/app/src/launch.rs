//! The window takes the same options as `peregrine serve` / `peregrine demo`.

use clap::{Parser, Subcommand};
use peregrine_server::cli::{self, DemoArgs, ServeArgs};
use peregrine_server::demo::CamSim;
use peregrine_server::Running;

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
    /// Open the console on the cameras in the database (the default)
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

    pub async fn start(&self) -> anyhow::Result<(Running, Option<CamSim>)> {
        match &self.command {
            Some(Command::Demo(args)) => {
                let (running, camsim) = cli::demo(args).await?;
                Ok((running, Some(camsim)))
            }
            Some(Command::Serve(args)) => Ok((cli::serve(args).await?, None)),
            None => {
                let args = ServeArgs {
                    data_dir: None,
                    port: 0,
                    no_detector: false,
                };
                Ok((cli::serve(&args).await?, None))
            }
        }
    }
}
