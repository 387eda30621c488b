//! Command-line arguments of `hookroute sign`, `send` and `explain` (clap `Args`), kept here so
//! that `cli.rs` only names the subcommands and dispatches.

use std::path::PathBuf;

/// What to sign with: a provider preset and a secret, or an endpoint of a config (its scheme,
/// and its first secret unless one is given).
#[derive(Debug, Clone, clap::Args)]
pub struct SignerArgs {
    /// A provider preset, e.g. `stripe` (with --secret-env or --secret-file).
    #[arg(long, conflicts_with_all = ["config", "endpoint"], required_unless_present = "endpoint")]
    pub provider: Option<String>,
    /// The config that defines --endpoint.
    #[arg(long, short, requires = "endpoint")]
    pub config: Option<PathBuf>,
    /// The endpoint's path in --config, e.g. `/webhook/stripe`.
    #[arg(long, requires = "config")]
    pub endpoint: Option<String>,
    /// Read the signing secret from this environment variable (or the --env-file).
    #[arg(long, value_name = "NAME", conflicts_with = "secret_file")]
    pub secret_env: Option<String>,
    /// Read the signing secret from this file (surrounding whitespace ignored).
    #[arg(long, value_name = "PATH")]
    pub secret_file: Option<PathBuf>,
    /// The body to sign: a file, or `-` for standard input.
    #[arg(long, value_name = "FILE")]
    pub body: Option<PathBuf>,
    /// The message id for schemes and event-id headers that carry one (default: random).
    #[arg(long)]
    pub id: Option<String>,
    /// The event type, for providers that send it in a header (GitHub's X-GitHub-Event, ...).
    #[arg(long, value_name = "TYPE")]
    pub event_type: Option<String>,
    /// Sign as of this unix time in seconds (default: now).
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    pub timestamp: Option<i64>,
    /// The URL the provider sends to, for schemes that sign it (default: where it is sent).
    #[arg(long)]
    pub url: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct SignArgs {
    #[command(flatten)]
    pub signer: SignerArgs,
    /// Print a ready-to-paste curl command that POSTs the signed request to this URL.
    #[arg(long, value_name = "URL")]
    pub curl: Option<String>,
    /// Print a fresh signing secret for the scheme (and what the receiver configures), then exit.
    #[arg(long, conflicts_with_all = ["curl", "body", "secret_env", "secret_file"])]
    pub new_secret: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct SendArgs {
    #[command(flatten)]
    pub signer: SignerArgs,
    /// Where the router listens (default: the config's server.listen); a URL with a path is
    /// used as it is.
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ExplainArgs {
    #[arg(long, short, default_value = "routes.yaml", env = "HOOKROUTE_CONFIG")]
    pub config: PathBuf,
    /// The endpoint's path, e.g. `/webhook/stripe`.
    #[arg(long)]
    pub endpoint: String,
    /// The sample body: a file, or `-` for standard input.
    #[arg(long, value_name = "FILE")]
    pub body: PathBuf,
    /// A request header, `Name: value` (repeatable).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Judge timestamps as of this unix time in seconds (default: now).
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    pub now: Option<i64>,
    /// The full URL the provider sent the request to, for schemes that sign it (default: the
    /// endpoint's `public_url`).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The verdict as JSON.
    #[arg(long)]
    pub json: bool,
}
