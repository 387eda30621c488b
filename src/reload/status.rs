//! What the last reloads did, shared with whoever reports health (`/readyz`, the admin API):
//! when the configuration in effect was loaded, the last failure and its errors, counters, and
//! the settings that changed in the file but wait for a restart.

use std::sync::{Arc, RwLock};
use std::time::SystemTime;

/// Shared between the reload task (the only writer) and readers.
pub type SharedReloadStatus = Arc<RwLock<ReloadStatus>>;

#[derive(Debug, Clone, PartialEq)]
pub struct ReloadStatus {
    /// When the configuration in effect was loaded (start-up, then each reload that applied).
    pub last_success: SystemTime,
    /// The most recent reload that was rejected; kept after later successes, compare its time
    /// with `last_success` (or use [`ReloadStatus::file_in_effect`]).
    pub last_failure: Option<ReloadFailure>,
    /// Reloads that applied a changed configuration.
    pub applied: u64,
    /// Reloads that found the file valid but nothing to change.
    pub unchanged: u64,
    /// Reloads rejected because the file did not load.
    pub failed: u64,
    /// Settings whose value in the file differs from the running one: they take effect at the
    /// next restart. Empty when the file and the process agree.
    pub needs_restart: Vec<RestartSetting>,
}

/// A rejected reload: when, and every error with its place in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct ReloadFailure {
    pub at: SystemTime,
    pub errors: Vec<String>,
}

/// A setting the running process cannot change: its value now, and the one the file asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartSetting {
    /// Dotted name as written in the file, e.g. `server.listen`.
    pub name: &'static str,
    pub running: String,
    pub wanted: String,
}

impl ReloadStatus {
    /// The status right after the start-up load.
    pub fn started(at: SystemTime) -> Self {
        Self {
            last_success: at,
            last_failure: None,
            applied: 0,
            unchanged: 0,
            failed: 0,
            needs_restart: Vec::new(),
        }
    }

    pub fn shared(at: SystemTime) -> SharedReloadStatus {
        Arc::new(RwLock::new(Self::started(at)))
    }

    /// True unless the latest reload attempt failed: the file on disk is what is served (except
    /// for `needs_restart` settings).
    pub fn file_in_effect(&self) -> bool {
        self.last_failure
            .as_ref()
            .is_none_or(|f| f.at <= self.last_success)
    }
}

impl std::fmt::Display for RestartSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({} -> {})", self.name, self.running, self.wanted)
    }
}
