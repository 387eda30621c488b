//! The `hookroute` binary: parse the command line, run, exit with a meaningful code.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    hookroute::cli::run(hookroute::cli::Cli::parse())
}
