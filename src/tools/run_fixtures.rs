//! `hookroute test`: runs the config's fixtures (`tests:`, or the files and directories given)
//! offline, through the same stages as `explain`, and prints a table with the first difference
//! of each failure. Exit 0 when all pass, 1 when one fails, 64 when the config or a fixture file
//! does not load or there are no fixtures to run.

use super::{CommandOutput, ToolError};
use crate::config::{self, Environment};
use crate::fixtures::{self, report};
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct TestArgs {
    #[arg(long, short, default_value = "routes.yaml", env = "HOOKROUTE_CONFIG")]
    pub config: PathBuf,
    /// Fixture files or directories to run instead of the config's `tests:`.
    #[arg(value_name = "FIXTURE")]
    pub fixtures: Vec<PathBuf>,
    /// Judge as of this unix time in seconds, for fixtures without `received_at` (default: now).
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    pub now: Option<i64>,
}

pub fn run(args: &TestArgs, env: &dyn Environment) -> Result<CommandOutput, ToolError> {
    let config = config::load(&args.config, env).map_err(ToolError::Config)?;
    let paths = if args.fixtures.is_empty() {
        let named = config.fixtures.clone().ok_or_else(|| {
            ToolError::usage(format!(
                "{} names no fixtures: add `tests: ./fixtures` (a directory of fixture files), \
                 or give fixture files on the command line",
                args.config.display()
            ))
        })?;
        vec![named]
    } else {
        args.fixtures.clone()
    };
    let mut loaded = Vec::new();
    let mut errors = Vec::new();
    for path in &paths {
        match fixtures::load_all(path) {
            Ok(mut found) => loaded.append(&mut found),
            Err(errs) => errors.extend(errs.iter().map(ToString::to_string)),
        }
    }
    if !errors.is_empty() {
        return Err(ToolError::usage(format!(
            "{} fixture error{}:\n  - {}",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" },
            errors.join("\n  - ")
        )));
    }
    if loaded.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(ToolError::usage(format!(
            "no fixtures in {} (files ending in .yaml or .yml)",
            shown.join(", ")
        )));
    }
    let now = args.now.unwrap_or_else(super::signer::now_unix_secs);
    let runs = fixtures::run_all(&loaded, &config, now);
    let failed = runs.iter().any(|r| !r.passed());
    Ok(CommandOutput::ok(report::render(&runs)).with_exit_code(u8::from(failed)))
}
