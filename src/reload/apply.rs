//! One reload step once the file is loaded: a valid configuration is swapped in whole (requests
//! in flight keep the snapshot they took; new ones see the new one), an invalid one changes
//! nothing. The outcome says which, and is what the log line and the status are made from.

use super::diff::ConfigDiff;
use super::restart::keep_running;
use super::status::{ReloadFailure, ReloadStatus};
use crate::config::{Config, ConfigErrors};
use arc_swap::ArcSwap;
use std::sync::RwLock;
use std::time::SystemTime;

#[derive(Debug)]
pub enum ReloadOutcome {
    /// The new configuration is in effect; the diff says what changed, or which settings now
    /// wait for a restart.
    Applied(ConfigDiff),
    /// The file is valid and says what is already served (and what the last reload already
    /// reported as needing a restart).
    Unchanged(ConfigDiff),
    /// The file does not load: the last good configuration stays.
    Rejected(ConfigErrors),
}

/// Swaps `loaded` in when it is valid, and records what happened in `status`.
pub fn apply(
    current: &ArcSwap<Config>,
    loaded: Result<Config, ConfigErrors>,
    status: &RwLock<ReloadStatus>,
    now: SystemTime,
) -> ReloadOutcome {
    let mut status = status
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match loaded {
        Err(errors) => {
            status.failed += 1;
            status.last_failure = Some(ReloadFailure {
                at: now,
                errors: errors.errors.iter().map(ToString::to_string).collect(),
            });
            ReloadOutcome::Rejected(errors)
        }
        Ok(mut new) => {
            let running = current.load();
            let diff = ConfigDiff::between(&running, &new);
            keep_running(&mut new, &running);
            // Stored even when the diff sees no change: the diff is for people, and a field it
            // does not compare must still take effect.
            current.store(std::sync::Arc::new(new));
            status.last_success = now;
            let restart_news = diff.needs_restart != status.needs_restart;
            status.needs_restart = diff.needs_restart.clone();
            if diff.is_empty() && !restart_news {
                status.unchanged += 1;
                ReloadOutcome::Unchanged(diff)
            } else {
                status.applied += 1;
                ReloadOutcome::Applied(diff)
            }
        }
    }
}
