//! Whether the database answers: a probe every second, and every failed call that looks like a
//! lost connection. Read by `/readyz` and by the ingress before each accept (503 at once while
//! the database is down); cleared by the first probe that succeeds.

use super::Shared;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the database is probed.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);
/// How long a probe may take before the database counts as down.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
pub struct Health {
    down: Mutex<Option<String>>,
}

impl Health {
    fn set(&self, value: Option<String>) {
        *self.down.lock().unwrap_or_else(|p| p.into_inner()) = value;
    }

    /// Why the database counts as down, if it does.
    pub fn down(&self) -> Option<String> {
        self.down.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Marks the database down when `e` says the connection is gone.
    pub fn note(&self, e: &sqlx::Error) {
        if is_connection_failure(e) {
            self.set(Some(e.to_string()));
        }
    }
}

/// Errors that mean "cannot talk to the database", not "the statement failed".
pub fn is_connection_failure(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        // 08: connection exception; 57P: operator intervention (shutdown, cannot connect now).
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

/// Probes the database until `stop`.
pub async fn watch(shared: Arc<Shared>, stop: CancellationToken) {
    loop {
        let probe =
            tokio::time::timeout(PROBE_TIMEOUT, sqlx::query("SELECT 1").execute(&shared.pool))
                .await;
        let was_down = shared.health.down();
        match probe {
            Ok(Ok(_)) => {
                if was_down.is_some() {
                    tracing::info!("the PostgreSQL database answers again");
                }
                shared.health.set(None);
            }
            Ok(Err(e)) => {
                if was_down.is_none() {
                    tracing::error!(error = %e, "the PostgreSQL database is unreachable");
                }
                shared.health.set(Some(e.to_string()));
            }
            Err(_) => {
                if was_down.is_none() {
                    tracing::error!(
                        "the PostgreSQL database does not answer within {PROBE_TIMEOUT:?}"
                    );
                }
                shared
                    .health
                    .set(Some(format!("no answer within {PROBE_TIMEOUT:?}")));
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(PROBE_EVERY) => {}
        }
    }
}
