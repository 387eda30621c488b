//! The test-loop commands: `hookroute sign` (the request a real provider would send),
//! `hookroute send` (sign and POST it to a running router) and `hookroute explain` (what the
//! router would answer to a sample request, and why, offline from the config alone).
//!
//! Files: `args` (their command-line arguments), `input` (reading bodies, secrets and
//! `Name: value` headers), `signer` (a scheme and secret from a preset or a configured endpoint,
//! shared by `sign` and `send`), `curl` (a ready-to-paste curl command), `sign`, `send`,
//! `explain` (the verdict, step by step), `explain_text` (the verdict for humans) and `presets`
//! (`hookroute presets [show NAME]`: the built-in presets as the binary has them), and
//! `run_fixtures` (`hookroute test`: the config's fixtures, offline).

pub mod args;
pub mod curl;
pub mod explain;
mod explain_text;
pub mod input;
pub mod presets;
pub mod run_fixtures;
pub mod send;
pub mod sign;
pub mod signer;

use crate::config::ConfigErrors;
use crate::signature::SignatureError;

/// Why a test-loop command could not do its job, and the exit code it ends with.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The command line names something that does not exist or cannot be read.
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Config(ConfigErrors),
    #[error("cannot sign: {0}")]
    Sign(#[from] SignatureError),
    #[error("cannot reach {url}: {cause}")]
    Unreachable { url: String, cause: String },
}

impl ToolError {
    pub fn usage(message: impl Into<String>) -> Self {
        Self::Usage(message.into())
    }

    /// 64 for what the user can fix in the command or the config, 69 for an unreachable
    /// router, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) | Self::Config(_) => crate::cli::EXIT_USAGE,
            Self::Unreachable { .. } => crate::cli::EXIT_UNAVAILABLE,
            Self::Sign(_) => 1,
        }
    }
}

/// What a command prints, and its exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    pub stdout: String,
    /// Printed to stderr as `note: ...`.
    pub notes: Vec<String>,
    pub exit_code: u8,
}

impl CommandOutput {
    pub fn ok(stdout: String) -> Self {
        Self {
            stdout,
            notes: Vec::new(),
            exit_code: 0,
        }
    }

    pub fn with_notes(mut self, notes: Vec<String>) -> Self {
        self.notes = notes;
        self
    }

    pub fn with_exit_code(mut self, code: u8) -> Self {
        self.exit_code = code;
        self
    }
}
