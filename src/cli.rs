//! Command-line interface: what the user types, and `run`, which turns it into an exit code.

use crate::app::{Application, StartError};
use crate::config::env::LayeredEnvironment;
use crate::config::{self, Environment, ProcessEnvironment};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Exit code for a configuration that does not load (EX_DATAERR's neighbour, EX_USAGE = 64).
pub const EXIT_BAD_CONFIG: u8 = 64;
/// Exit code when the service cannot start (store or port unavailable): EX_UNAVAILABLE.
pub const EXIT_UNAVAILABLE: u8 = 69;

#[derive(Debug, Parser)]
#[command(name = "hookroute", version, about = "A config-driven webhook router")]
pub struct Cli {
    /// A `KEY=VALUE` file of environment variables for secrets (the real environment wins).
    #[arg(long, global = true, env = "HOOKROUTE_ENV_FILE")]
    pub env_file: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(
        long,
        global = true,
        env = "HOOKROUTE_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the router.
    Serve {
        #[arg(long, short, default_value = "routes.yaml", env = "HOOKROUTE_CONFIG")]
        config: PathBuf,
    },
    /// Load the config as start-up would, print what it defines or every error in it.
    Check {
        #[arg(long, short, default_value = "routes.yaml", env = "HOOKROUTE_CONFIG")]
        config: PathBuf,
    },
}

pub fn run(cli: Cli) -> ExitCode {
    init_logging(cli.log_format);
    let env: Arc<dyn Environment> = match &cli.env_file {
        None => Arc::new(ProcessEnvironment),
        Some(file) => match LayeredEnvironment::from_env_file(file) {
            Ok(env) => Arc::new(env),
            Err(e) => {
                eprintln!("hookroute: cannot read env file {}: {e}", file.display());
                return ExitCode::from(EXIT_BAD_CONFIG);
            }
        },
    };
    match cli.command {
        Command::Check { config } => check(config, env),
        Command::Serve { config } => serve(config, env),
    }
}

fn check(path: PathBuf, env: Arc<dyn Environment>) -> ExitCode {
    match config::load(&path, env.as_ref()) {
        Ok(cfg) => {
            println!("{}: OK", path.display());
            print!("{}", crate::check::summary(&cfg));
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprint!("{errors}");
            ExitCode::from(EXIT_BAD_CONFIG)
        }
    }
}

fn serve(path: PathBuf, env: Arc<dyn Environment>) -> ExitCode {
    let result = actix_web::rt::System::new().block_on(async move {
        let app = Application::build(&path, env)?;
        tracing::info!(config = %path.display(), "hookroute listening on http://{}", app.addr());
        app.run_until_stopped()
            .await
            .map_err(|e| StartError::Other(e.into()))
    });
    match result {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(StartError::Config(errors)) => {
            eprint!("{errors}");
            ExitCode::from(EXIT_BAD_CONFIG)
        }
        Err(StartError::Other(e)) => {
            eprintln!("hookroute: {e:#}");
            ExitCode::from(EXIT_UNAVAILABLE)
        }
    }
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("HOOKROUTE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
