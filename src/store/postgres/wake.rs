//! `LISTEN hookroute_jobs` on a connection of its own: every accept, retry and replay of any
//! instance `NOTIFY`s it in its transaction, so each instance's dispatcher wakes as soon as the
//! work commits. A lost connection is made again; notifications lost meanwhile are covered by
//! the dispatcher's own scan, at least every second.

use super::{Shared, WAKE_CHANNEL};
use sqlx::postgres::PgListener;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Wait before listening again after the connection failed.
const RELISTEN_AFTER: Duration = Duration::from_secs(1);

pub async fn listen(shared: Arc<Shared>, stop: CancellationToken) {
    loop {
        match PgListener::connect_with(&shared.pool).await {
            Ok(mut listener) => {
                if let Err(e) = listener.listen(WAKE_CHANNEL).await {
                    tracing::debug!(error = %e, "LISTEN failed");
                } else {
                    // Whatever was notified while not listening: scan now.
                    shared.wake.notify_one();
                    loop {
                        tokio::select! {
                            _ = stop.cancelled() => return,
                            got = listener.recv() => match got {
                                Ok(_) => shared.wake.notify_one(),
                                Err(e) => {
                                    tracing::debug!(error = %e, "the LISTEN connection failed");
                                    break;
                                }
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "cannot open the LISTEN connection"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(RELISTEN_AFTER) => {}
        }
    }
}
