//! Hot reload of `routes.yaml`, with no restart and no dropped request.
//!
//! - **When**: a watcher thread ([`watcher`]) watches the config file's directory (editor saves
//!   by rename, `git checkout`, Kubernetes ConfigMap symlink flips), debounces bursts
//!   ([`watcher::DEBOUNCE`]) and wakes the reload task over a channel. SIGHUP wakes it too.
//!   Secret files are not watched: after rotating one, touch the config or send SIGHUP.
//! - **Echoes**: a file-change trigger reloads only if the file differs from what the last
//!   attempt read ([`file_state`]): reading the file must not count as a second attempt.
//! - **How** ([`task`]): the same `config::load` as `hookroute check` and start-up, so secret
//!   files (`secrets: [{file: ...}]`) are read again on every reload.
//! - **Valid** ([`apply`]): the new [`Config`] is swapped in whole (`ArcSwap::store`). A request
//!   holds the snapshot it loaded when it started, so requests in flight finish under the old
//!   configuration and new ones see the new one. One log line says what changed ([`diff`]).
//! - **Invalid** (a syntax or validation error, a half-written file, a deleted file): nothing
//!   changes; every error is logged with its place, counted, and kept in [`ReloadStatus`].
//! - **Settings that cannot change live** ([`restart`]: `server.listen`, `server.workers`,
//!   `storage.data_dir`, `storage.dedup_ttl`, `admin.listen`): DECISION: the rest of the change
//!   still applies, the running values stay in the snapshot, and the difference is logged as
//!   "needs a restart" and kept in [`ReloadStatus::needs_restart`]. Refusing the whole reload
//!   would hold back an urgent rule or secret change for a cosmetic one.

pub mod apply;
pub mod diff;
pub mod file_state;
pub mod restart;
pub mod status;
pub mod task;
pub mod watcher;

pub use apply::ReloadOutcome;
pub use diff::ConfigDiff;
pub use status::{ReloadFailure, ReloadStatus, RestartSetting, SharedReloadStatus};
pub use task::{ReloadTrigger, Reloader};

use crate::config::{Config, Environment};
use arc_swap::ArcSwap;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

/// Starts hot reload for the configuration at `config_path`, which `config` was loaded from,
/// and returns the status the reloads keep. Must be called inside the actix (tokio) runtime:
/// hot reload stops when that runtime does.
///
/// The reload task runs on the application's (actix) runtime: delivery has a runtime of its
/// own and every store call runs off the async workers, so nothing there holds back a reload
/// (it once needed a thread and runtime of its own while the dispatcher's sled calls ran inline
/// on this runtime). SIGHUP is registered before this returns, so a SIGHUP sent once the router
/// is listening reloads instead of killing it. A watcher or signal that cannot start is logged;
/// the other trigger keeps working.
pub fn start(
    config_path: &Path,
    env: Arc<dyn Environment>,
    config: Arc<ArcSwap<Config>>,
) -> SharedReloadStatus {
    let status = ReloadStatus::shared(SystemTime::now());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let hangups = signal(SignalKind::hangup())
        .inspect_err(|e| {
            tracing::warn!("cannot listen for SIGHUP ({e}): reload on file changes only")
        })
        .ok();
    if let Err(e) = watcher::spawn(config_path, tx.clone()) {
        tracing::error!("cannot start the config watcher thread ({e}): reload with SIGHUP");
    }
    let reloader = Reloader {
        path: config_path.to_path_buf(),
        env,
        config,
        status: status.clone(),
    };
    // Ends with the runtime (the application): nothing else stops it.
    let stop = CancellationToken::new();
    actix_web::rt::spawn(async move {
        // Kept so the channel stays open for SIGHUP when the watcher thread is gone.
        let _tx = tx;
        reloader.run(rx, hangups, stop).await
    });
    status
}

#[cfg(test)]
mod tests;
