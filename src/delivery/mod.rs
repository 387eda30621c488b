//! Delivery: taking accepted events' jobs from the store and POSTing them to their targets, with
//! retries and dead letters. Stage by stage: [`request`] (what is sent) -> [`attempt`] (send it,
//! one shared client) -> [`outcome`] (classify the result) -> [`retry`] (decide what next) ->
//! the queue records it (`store::DeliveryQueue`). [`dispatcher`] runs it all concurrently,
//! per-target limited, and [`spawn`] starts it on a multi-threaded runtime of its own (so
//! delivery never competes with the ingress's workers and uses every core), with a handle for
//! graceful shutdown. [`controls`] adapts delivery to each target (pause, [`rate`] limit,
//! [`aimd`] concurrency, [`breaker`]).

pub mod aimd;
pub mod attempt;
pub mod breaker;
pub mod controls;
pub mod dispatcher;
mod job_attempt;
pub mod outcome;
pub mod rate;
pub mod request;
pub mod retry;

pub use dispatcher::{Dispatcher, StepOutcome};
pub use outcome::{AttemptOutcome, Failure, FailureKind};
pub use retry::RetryDecision;

use crate::config::Config;
use crate::store::DeliveryQueue;
use arc_swap::ArcSwap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long attempts in flight may take to finish once shutdown starts.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Worker threads of the delivery runtime.
pub const DELIVERY_THREADS: usize = 2;

/// The running dispatcher and the runtime it runs on.
pub struct DeliveryHandle {
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    runtime: Option<tokio::runtime::Runtime>,
}

/// Starts the dispatcher on a multi-threaded runtime of its own. It stops when `cancel` is
/// cancelled or [`DeliveryHandle::shutdown`] is called.
pub fn spawn(
    queue: Arc<dyn DeliveryQueue>,
    config: Arc<ArcSwap<Config>>,
    metrics: Arc<crate::metrics::Metrics>,
    controls: Arc<controls::TargetControls>,
    cancel: CancellationToken,
    grace: Duration,
) -> std::io::Result<DeliveryHandle> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(DELIVERY_THREADS)
        .thread_name("hookroute-delivery")
        .enable_all()
        .build()?;
    // Connections are spawned on the runtime that makes the request: the delivery runtime.
    let client = attempt::http_client().map_err(std::io::Error::other)?;
    // Started now: `/readyz` counts it as alive from here (its first scan follows at once on
    // its own runtime), so readiness does not race the first scan.
    metrics.dispatcher_ticked(attempt::millis(std::time::SystemTime::now()));
    let dispatcher = Dispatcher::new(queue, config, client)
        .with_metrics(metrics)
        .with_controls(controls);
    let task = runtime.spawn(dispatcher.run(cancel.clone(), grace));
    Ok(DeliveryHandle {
        cancel,
        task,
        runtime: Some(runtime),
    })
}

impl DeliveryHandle {
    /// Stops taking jobs and returns once attempts in flight have finished or been abandoned.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Err(e) = (&mut self.task).await {
            tracing::error!(error = %e, "the dispatcher ended abnormally");
        }
    }
}

impl Drop for DeliveryHandle {
    /// The runtime may be dropped from async code (the application's shutdown): never block.
    fn drop(&mut self) {
        self.cancel.cancel();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
