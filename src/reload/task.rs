//! The reload task: waits for a trigger (the watcher saw the directory change, or SIGHUP), runs
//! the same load as `check` and start-up (`fixtures::gate::load`: the file, then its fixtures)
//! on the blocking pool, applies the result and logs one line about it. Triggers that arrive
//! during a reload are folded into the next one, and a file-change trigger for a file that has
//! not changed since the last attempt is dropped. It runs on the application's runtime (see
//! [`super::start`]).

use super::apply::{apply, ReloadOutcome};
use super::file_state::FileState;
use super::status::SharedReloadStatus;
use crate::config::{Config, ConfigError, ConfigErrors, Environment};
use arc_swap::ArcSwap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};
use tokio::signal::unix::Signal;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

/// Why a reload runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadTrigger {
    FileChanged,
    Hangup,
}

impl fmt::Display for ReloadTrigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReloadTrigger::FileChanged => "file changed",
            ReloadTrigger::Hangup => "SIGHUP",
        })
    }
}

/// Everything a reload needs.
pub struct Reloader {
    pub path: PathBuf,
    pub env: Arc<dyn Environment>,
    pub config: Arc<ArcSwap<Config>>,
    pub status: SharedReloadStatus,
}

impl Reloader {
    /// Runs until `stop` is cancelled. `hangups` is `None` when SIGHUP could not be registered.
    pub async fn run(
        self,
        mut triggers: UnboundedReceiver<ReloadTrigger>,
        mut hangups: Option<Signal>,
        stop: CancellationToken,
    ) {
        // What the last attempt found on disk; `None` until the first one.
        let mut last_file: Option<FileState> = None;
        loop {
            let trigger = tokio::select! {
                () = stop.cancelled() => return,
                t = triggers.recv() => match t {
                    Some(t) => t,
                    None => return,
                },
                () = next_hangup(&mut hangups) => ReloadTrigger::Hangup,
            };
            while triggers.try_recv().is_ok() {}
            // Blocking file reads stay off the application's runtime.
            let path = self.path.clone();
            let file = tokio::task::spawn_blocking(move || FileState::read(&path))
                .await
                .unwrap_or(FileState::Unreadable(std::io::ErrorKind::Other));
            if trigger == ReloadTrigger::FileChanged && last_file.as_ref() == Some(&file) {
                tracing::trace!("config file unchanged since the last reload attempt: skipped");
                continue;
            }
            last_file = Some(file);
            self.reload(trigger).await;
        }
    }

    pub async fn reload(&self, trigger: ReloadTrigger) -> ReloadOutcome {
        let started = Instant::now();
        let (path, env) = (self.path.clone(), self.env.clone());
        // `check`'s load, fixtures included: a config whose fixtures fail is rejected.
        let loaded =
            tokio::task::spawn_blocking(move || crate::fixtures::gate::load(&path, env.as_ref()))
                .await
                .unwrap_or_else(|panic| {
                    Err(ConfigErrors {
                        file: self.path.display().to_string(),
                        errors: vec![ConfigError::new("", format!("loading panicked: {panic}"))],
                    })
                });
        let loaded = loaded.and_then(|new| {
            match super::restart::unguarded_admin(&self.config.load(), &new) {
                None => Ok(new),
                Some(error) => Err(ConfigErrors {
                    file: self.path.display().to_string(),
                    errors: vec![error],
                }),
            }
        });
        let outcome = apply(&self.config, loaded, &self.status, SystemTime::now());
        log(trigger, &outcome, started, &self.config.load());
        outcome
    }
}

async fn next_hangup(hangups: &mut Option<Signal>) {
    match hangups {
        Some(signal) => {
            if signal.recv().await.is_none() {
                *hangups = None;
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

fn log(trigger: ReloadTrigger, outcome: &ReloadOutcome, started: Instant, now: &Config) {
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match outcome {
        ReloadOutcome::Applied(diff) => {
            for w in &now.warnings {
                tracing::warn!("config: {w}");
            }
            tracing::info!("config reloaded ({trigger}, {ms:.1} ms): {diff}");
        }
        // Touching the file or a second event of the same save also wakes the watcher: a
        // reload that changes nothing is worth a line only when someone asked for it.
        ReloadOutcome::Unchanged(diff) if trigger == ReloadTrigger::Hangup => {
            tracing::info!("config reloaded ({trigger}, {ms:.1} ms): {diff}");
        }
        ReloadOutcome::Unchanged(diff) => {
            tracing::debug!("config reloaded ({trigger}, {ms:.1} ms): {diff}");
        }
        ReloadOutcome::Rejected(errors) => {
            for e in &errors.errors {
                tracing::error!("config reload: {}: {e}", errors.file);
            }
            tracing::warn!(
                "config reload failed ({trigger}): {} error{} in {}; keeping the last good configuration",
                errors.errors.len(),
                if errors.errors.len() == 1 { "" } else { "s" },
                errors.file,
            );
        }
    }
}
