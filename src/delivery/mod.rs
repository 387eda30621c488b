//! Delivery: taking accepted events' jobs from the store and POSTing them to their targets, with
//! retries and dead letters. Stage by stage: [`request`] (what is sent) -> [`attempt`] (send it,
//! one shared client) -> [`outcome`] (classify the result) -> [`retry`] (decide what next) ->
//! the store records it (`store::queue`). [`dispatcher`] runs it all concurrently, per-target
//! limited, and [`spawn`] starts it with a handle for graceful shutdown.

pub mod attempt;
pub mod dispatcher;
mod job_attempt;
pub mod outcome;
pub mod request;
pub mod retry;

pub use dispatcher::{Dispatcher, StepOutcome};
pub use outcome::{AttemptOutcome, Failure, FailureKind};
pub use retry::RetryDecision;

use crate::config::Config;
use crate::store::SledStore;
use arc_swap::ArcSwap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long attempts in flight may take to finish once shutdown starts.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The running dispatcher.
pub struct DeliveryHandle {
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

/// Starts the dispatcher on the current (actix) runtime. It stops when `cancel` is cancelled
/// or [`DeliveryHandle::shutdown`] is called.
pub fn spawn(
    store: Arc<SledStore>,
    config: Arc<ArcSwap<Config>>,
    metrics: Arc<crate::metrics::Metrics>,
    cancel: CancellationToken,
    grace: Duration,
) -> reqwest::Result<DeliveryHandle> {
    let dispatcher = Dispatcher::new(store, config, attempt::http_client()?).with_metrics(metrics);
    let task = actix_web::rt::spawn(dispatcher.run(cancel.clone(), grace));
    Ok(DeliveryHandle { cancel, task })
}

impl DeliveryHandle {
    /// Stops taking jobs and returns once attempts in flight have finished or been abandoned.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the dispatcher ended abnormally");
        }
    }
}
