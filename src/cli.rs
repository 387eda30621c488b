//! Command-line interface: what the user types, and `run`, which turns it into an exit code.
//! `serve` and `check` work on the config; `events`, `dlq`, `targets` and `replay` talk to a running
//! router's admin API (never to the store, which only one process may open).

use crate::app::{Application, StartError};
use crate::config::env::LayeredEnvironment;
use crate::config::{Environment, ProcessEnvironment};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Exit code for a configuration that does not load (EX_DATAERR's neighbour, EX_USAGE = 64).
pub const EXIT_BAD_CONFIG: u8 = 64;
/// Exit code for a command used wrongly (EX_USAGE).
pub const EXIT_USAGE: u8 = 64;
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
    /// Apply the PostgreSQL schema migrations (`storage.backend: postgres`) and exit; `serve`
    /// applies them too.
    Migrate {
        #[arg(long, short, default_value = "routes.yaml", env = "HOOKROUTE_CONFIG")]
        config: PathBuf,
    },
    /// Accepted events, through the admin API.
    Events {
        #[command(flatten)]
        admin: AdminArgs,
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Dead letters, through the admin API.
    Dlq {
        #[command(flatten)]
        admin: AdminArgs,
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// Targets' delivery state, and pausing and resuming them, through the admin API.
    Targets {
        #[command(flatten)]
        admin: AdminArgs,
        #[command(subcommand)]
        command: TargetsCommand,
    },
    /// Deliver an event again to its current matching targets (or to one named target).
    Replay {
        #[command(flatten)]
        admin: AdminArgs,
        /// The event's sequence number.
        event_seq: u64,
        /// Only this target (it must exist in the running config).
        #[arg(long)]
        target: Option<String>,
    },
    /// Print the headers a real provider would send for a body (or a curl command).
    Sign(crate::tools::args::SignArgs),
    /// Sign a body like `sign` and POST it to a running router.
    Send(crate::tools::args::SendArgs),
    /// Say what the router would answer to a sample request, and why (offline).
    Explain(crate::tools::args::ExplainArgs),
    /// Run the config's fixtures (`tests:`) offline: what the router would do with each
    /// recorded request, against what it must do.
    Test(crate::tools::run_fixtures::TestArgs),
    /// List the built-in provider presets, or print one written out as YAML.
    Presets {
        #[command(subcommand)]
        command: Option<PresetsCommand>,
    },
}

#[derive(Debug, Subcommand)]
pub enum PresetsCommand {
    /// Print a preset as an endpoint in routes.yaml YAML: scheme, event id and type, handshake.
    Show { name: String },
}

/// How to reach the admin API.
#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    #[arg(
        long,
        global = true,
        env = "HOOKROUTE_ADMIN_URL",
        default_value = "http://127.0.0.1:9090"
    )]
    pub admin_url: String,
    /// Read the bearer token from this environment variable (default: HOOKROUTE_ADMIN_TOKEN).
    #[arg(long, global = true, value_name = "NAME")]
    pub token_env: Option<String>,
    /// Print the API's JSON answer instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Events in sequence order.
    List {
        #[arg(long)]
        after: Option<u64>,
        #[arg(long)]
        limit: Option<usize>,
    },
    /// One event with its deliveries and attempts: by sequence number or `endpoint/event_id`.
    Show { id: String },
    /// Write an event as a fixture for `tests:` (YAML on stdout), with the router's answer to
    /// it now; no secret in it.
    Export {
        id: String,
        /// As a fixture (the only format).
        #[arg(long, required = true)]
        fixture: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Dead-lettered deliveries.
    List {
        #[arg(long)]
        after: Option<u64>,
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Put one dead letter (or all of them) back in the queue.
    Retry {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        job_id: Option<u64>,
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TargetsCommand {
    /// Each target: paused or not, breaker, queue depth, in flight, limit, rate, oldest due.
    List,
    /// Stop delivering to a target (events are still accepted and kept); survives a restart.
    Pause { name: String },
    /// Deliver to a paused target again, its kept events first.
    Resume { name: String },
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
        Command::Migrate { config } => migrate(config, env),
        Command::Events { admin, command } => admin_command(admin, AdminCall::Events(command)),
        Command::Dlq { admin, command } => admin_command(admin, AdminCall::Dlq(command)),
        Command::Targets { admin, command } => admin_command(admin, AdminCall::Targets(command)),
        Command::Replay {
            admin,
            event_seq,
            target,
        } => admin_command(admin, AdminCall::Replay { event_seq, target }),
        Command::Sign(args) => tool(crate::tools::sign::run(&args, env.as_ref())),
        Command::Send(args) => tool(crate::tools::send::run(&args, env.as_ref())),
        Command::Explain(args) => tool(crate::tools::explain::run(&args, env.as_ref())),
        Command::Test(args) => tool(crate::tools::run_fixtures::run(&args, env.as_ref())),
        Command::Presets { command: None } => tool(crate::tools::presets::list()),
        Command::Presets {
            command: Some(PresetsCommand::Show { name }),
        } => tool(crate::tools::presets::show(&name)),
    }
}

/// Prints a test-loop command's output (notes to stderr) and turns it into an exit code.
fn tool(result: Result<crate::tools::CommandOutput, crate::tools::ToolError>) -> ExitCode {
    match result {
        Ok(output) => {
            for note in &output.notes {
                eprintln!("note: {note}");
            }
            print!("{}", output.stdout);
            ExitCode::from(output.exit_code)
        }
        Err(crate::tools::ToolError::Config(errors)) => {
            eprint!("{errors}");
            ExitCode::from(EXIT_BAD_CONFIG)
        }
        Err(e) => {
            eprintln!("hookroute: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn check(path: PathBuf, env: Arc<dyn Environment>) -> ExitCode {
    match crate::fixtures::gate::load(&path, env.as_ref()) {
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
        if let Some(admin) = app.admin_addr() {
            tracing::info!("admin listening on http://{admin}");
        }
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

/// `hookroute migrate`: 0 once the schema is up to date, 64 on a bad config, 69 when the
/// database cannot be reached or a migration fails.
fn migrate(path: PathBuf, env: Arc<dyn Environment>) -> ExitCode {
    let cfg = match crate::config::load(&path, env.as_ref()) {
        Ok(cfg) => cfg,
        Err(errors) => {
            eprint!("{errors}");
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    let crate::config::StorageBackend::Postgres(pg) = &cfg.storage.backend else {
        println!("storage.backend is sled: its store needs no migrations");
        return ExitCode::SUCCESS;
    };
    let settings = crate::app::pg_config(pg, cfg.storage.dedup_ttl);
    match crate::store::postgres::migrate_only(&settings) {
        Ok(applied) if applied.is_empty() => {
            println!("the PostgreSQL schema is up to date (nothing to apply)");
            ExitCode::SUCCESS
        }
        Ok(applied) => {
            let versions: Vec<String> = applied.iter().map(|v| v.to_string()).collect();
            println!("applied migrations: {}", versions.join(", "));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "hookroute: migrating the PostgreSQL store (storage.url from {}): {}",
                pg.url_source,
                crate::store::error_chain(&e)
            );
            ExitCode::from(EXIT_UNAVAILABLE)
        }
    }
}

enum AdminCall {
    Events(EventsCommand),
    Dlq(DlqCommand),
    Targets(TargetsCommand),
    Replay {
        event_seq: u64,
        target: Option<String>,
    },
}

fn page_query(after: Option<u64>, limit: Option<usize>) -> String {
    let mut q = Vec::new();
    if let Some(a) = after {
        q.push(format!("after={a}"));
    }
    if let Some(l) = limit {
        q.push(format!("limit={l}"));
    }
    if q.is_empty() {
        String::new()
    } else {
        format!("?{}", q.join("&"))
    }
}

/// Runs one admin command: 0 on success, 69 when the API is unreachable, 1 when it refuses.
fn admin_command(args: AdminArgs, call: AdminCall) -> ExitCode {
    use crate::admin::client::{AdminClient, ClientError};
    let token_var = args.token_env.as_deref().unwrap_or("HOOKROUTE_ADMIN_TOKEN");
    let token = std::env::var(token_var).ok().filter(|t| !t.is_empty());
    if args.token_env.is_some() && token.is_none() {
        eprintln!("hookroute: environment variable {token_var} is not set");
        return ExitCode::from(EXIT_USAGE);
    }
    let client = AdminClient::new(&args.admin_url, token);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hookroute: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(call_admin(&client, call, args.json));
    match result {
        Ok(output) => {
            print!("{output}");
            ExitCode::SUCCESS
        }
        Err(AdminCliError::Client(e @ ClientError::Unreachable { .. })) => {
            eprintln!("hookroute: {e} (is `hookroute serve` running with admin.listen set?)");
            ExitCode::from(EXIT_UNAVAILABLE)
        }
        Err(e) => {
            eprintln!("hookroute: {e}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum AdminCliError {
    #[error(transparent)]
    Client(#[from] crate::admin::client::ClientError),
    #[error("unexpected answer from the admin API: {0}")]
    Shape(#[from] serde_json::Error),
}

/// Turns one kind of API answer into text.
type RenderFn = fn(serde_json::Value) -> Result<String, serde_json::Error>;

/// Calls the API and renders its answer: as JSON with `json`, else as text.
async fn call_admin(
    client: &crate::admin::client::AdminClient,
    call: AdminCall,
    json: bool,
) -> Result<String, AdminCliError> {
    use crate::admin::{render, views};
    use serde_json::{from_value, Value};
    let (answer, text): (Value, RenderFn) = match call {
        AdminCall::Events(EventsCommand::List { after, limit }) => (
            client
                .get(&format!("/events{}", page_query(after, limit)))
                .await?,
            |v| Ok(render::events(&from_value::<Vec<views::EventSummary>>(v)?)),
        ),
        AdminCall::Events(EventsCommand::Show { id }) => {
            (client.get(&format!("/events/{id}")).await?, |v| {
                Ok(render::event(&from_value::<views::EventView>(v)?))
            })
        }
        AdminCall::Events(EventsCommand::Export { id, .. }) => {
            (client.get(&format!("/fixture/{id}")).await?, |v| {
                Ok(from_value::<crate::admin::export::FixtureExportView>(v)?.fixture)
            })
        }
        AdminCall::Dlq(DlqCommand::List { after, limit }) => (
            client
                .get(&format!("/dlq{}", page_query(after, limit)))
                .await?,
            |v| Ok(render::dead_letters(&from_value::<Vec<views::JobView>>(v)?)),
        ),
        AdminCall::Dlq(DlqCommand::Retry {
            job_id: Some(id), ..
        }) => (client.post(&format!("/dlq/{id}/retry"), None).await?, |v| {
            Ok(render::retried_one(&from_value::<views::JobView>(v)?))
        }),
        AdminCall::Dlq(DlqCommand::Retry { job_id: None, .. }) => {
            (client.post("/dlq/retry", None).await?, |v| {
                Ok(render::retried_all(&from_value::<views::RetryAllView>(v)?))
            })
        }
        AdminCall::Targets(TargetsCommand::List) => (client.get("/targets").await?, |v| {
            Ok(crate::admin::targets::render_list(&from_value::<Vec<_>>(
                v,
            )?))
        }),
        AdminCall::Targets(TargetsCommand::Pause { name }) => (
            client.post(&format!("/targets/{name}/pause"), None).await?,
            |v| Ok(crate::admin::targets::render_switched(&from_value(v)?)),
        ),
        AdminCall::Targets(TargetsCommand::Resume { name }) => (
            client
                .post(&format!("/targets/{name}/resume"), None)
                .await?,
            |v| Ok(crate::admin::targets::render_switched(&from_value(v)?)),
        ),
        AdminCall::Replay { event_seq, target } => {
            let body = serde_json::json!({ "target": target });
            (
                client
                    .post(&format!("/events/{event_seq}/replay"), Some(&body))
                    .await?,
                |v| Ok(render::replayed(&from_value::<views::ReplayView>(v)?)),
            )
        }
    };
    if json {
        return Ok(format!("{}\n", serde_json::to_string_pretty(&answer)?));
    }
    Ok(text(answer)?)
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::filter::filter_fn;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer};
    // HOOKROUTE_LOG, else the conventional RUST_LOG, else info.
    let filter = EnvFilter::try_from_env("HOOKROUTE_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal: never in a file, a pipe or a log collector.
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let layer = match format {
        LogFormat::Text => layer.boxed(),
        LogFormat::Json => layer.json().boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(
            layer
                .with_filter(filter)
                .with_filter(filter_fn(|meta| !is_file_watcher_noise(meta))),
        )
        .try_init();
}

/// The file watcher crates (`notify`, `notify_debouncer_full`) log every file event of the
/// config's directory at debug and trace, whatever file it is about: with stderr written to a
/// file in that directory, each line would be an event that logs another line, forever. Their
/// logs are kept at info and above whatever the filter says; hookroute's watcher logs the
/// events that concern the config itself.
fn is_file_watcher_noise(meta: &tracing::Metadata<'_>) -> bool {
    meta.target().starts_with("notify") && *meta.level() > tracing::Level::INFO
}
