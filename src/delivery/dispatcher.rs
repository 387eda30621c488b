//! The dispatcher: takes due jobs from the store and runs their attempts, each target limited to
//! its own concurrency by a semaphore, so a slow target never holds up another. [`Dispatcher::step`]
//! starts what can start and returns at once (tests drive it to idle with
//! [`Dispatcher::drive_until_idle`], no sleeping); [`Dispatcher::run`] loops over it, woken by an
//! accepted event, a finished attempt, or the next due time (at most [`MAX_IDLE`] away).
//!
//! Every store call is a future the queue completes off this runtime's workers. A job in flight
//! is claimed under a lease of [`LEASE`], renewed while its attempt runs: a second scan passes it
//! over, and if this process dies the lease dies with it and the job is due again. A job whose
//! target is not configured (removed by a reload) is postponed by [`ORPHAN_RECHECK`] without
//! counting an attempt, until its target returns.
//!
//! Per target, [`TargetControls`] narrows the free slots offered to the claim: a paused target,
//! an open circuit breaker, a reduced adaptive limit or an empty token bucket offers fewer or
//! none, so the jobs that cannot start stay in the store.

use super::attempt::millis;
use super::controls::{TargetControls, PAUSE_REFRESH};
use super::job_attempt;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::{ClaimRequest, DeliveryQueue, StoreError};
use crate::target::Target;
use arc_swap::ArcSwap;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Longest sleep between scans when nothing wakes the dispatcher.
pub const MAX_IDLE: Duration = Duration::from_secs(1);
/// How far a job of an unknown target is pushed back each time it comes due.
pub const ORPHAN_RECHECK: Duration = Duration::from_secs(30);
/// Most due entries one scan looks at. Jobs of busy targets count against it, so a backlog
/// larger than this for busy targets can delay others until it shrinks.
pub const SCAN_LIMIT: usize = 4096;
/// Longest wait between scans while the store keeps failing.
pub const STORE_BACKOFF_MAX: Duration = Duration::from_secs(4);
/// How long a claim holds without renewal; attempts renew it every third of it.
pub const LEASE: Duration = Duration::from_secs(60);

/// What one [`Dispatcher::step`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepOutcome {
    /// Attempts started.
    pub started: usize,
    /// Due jobs left waiting because their target is at its concurrency limit.
    pub busy: usize,
    /// Due jobs postponed because their target is not configured.
    pub orphaned: usize,
    /// Attempts in flight after the step.
    pub in_flight: usize,
    /// The earliest time a target held back only by time (rate limit, breaker cool-down) can
    /// start something again: the dispatcher wakes then.
    pub retry_at_ms: Option<u64>,
}

pub struct Dispatcher {
    queue: Arc<dyn DeliveryQueue>,
    config: Arc<ArcSwap<Config>>,
    client: reqwest::Client,
    /// Per target: its configured concurrency and the semaphore enforcing it.
    limits: HashMap<Arc<str>, (usize, Arc<Semaphore>)>,
    tasks: JoinSet<u64>,
    metrics: Arc<Metrics>,
    controls: Arc<TargetControls>,
    /// When the paused targets were last read from the store (unix ms).
    paused_read_ms: Option<u64>,
}

impl Dispatcher {
    pub fn new(
        queue: Arc<dyn DeliveryQueue>,
        config: Arc<ArcSwap<Config>>,
        client: reqwest::Client,
    ) -> Self {
        Self {
            queue,
            config,
            client,
            limits: HashMap::new(),
            tasks: JoinSet::new(),
            metrics: Arc::new(Metrics::new()),
            controls: Arc::new(TargetControls::new()),
            paused_read_ms: None,
        }
    }

    /// Shares per-target state (pause, breaker, limits) with the admin API.
    pub fn with_controls(mut self, controls: Arc<TargetControls>) -> Self {
        self.controls = controls;
        self
    }

    pub fn controls(&self) -> Arc<TargetControls> {
        self.controls.clone()
    }

    /// Re-reads the paused targets from the store at most every [`PAUSE_REFRESH`].
    async fn refresh_paused(&mut self, now_ms: u64) -> Result<(), StoreError> {
        let due = self
            .paused_read_ms
            .is_none_or(|at| now_ms.saturating_sub(at) >= PAUSE_REFRESH.as_millis() as u64);
        if due {
            let changes = self.controls.paused_changes();
            let stored = self.queue.paused().await?;
            self.controls.refresh_paused(stored, changes);
            self.paused_read_ms = Some(now_ms);
        }
        Ok(())
    }

    /// Counts attempts, queue ages and liveness in `metrics` (by default, in a detached set).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Claims and starts an attempt for every job due at `now_ms` whose target has a free slot.
    pub async fn step(&mut self, now_ms: u64) -> Result<StepOutcome, StoreError> {
        let config = self.config.load_full();
        let mut outcome = StepOutcome::default();
        self.refresh_paused(now_ms).await?;
        // Free slots per target: the scan reads only as far as it can still start something,
        // so a backlog behind a busy target costs nothing per step.
        let mut free: HashMap<Arc<str>, usize> = HashMap::new();
        for t in config.targets.values() {
            let slots = self.limit(t).available_permits();
            let admission = self.controls.admit(t, slots, now_ms);
            if let Some(state) = admission.breaker_change {
                super::job_attempt::breaker_changed(&self.metrics, &t.name, state);
            }
            outcome.retry_at_ms = earliest(outcome.retry_at_ms, admission.retry_at_ms);
            free.insert(t.name.clone(), admission.free);
        }
        if free.values().all(|n| *n == 0) {
            // Nothing could start. Jobs of unconfigured targets wait for the next step that
            // scans; they could not be delivered anyway. The oldest-due ages keep their last
            // reading (every target is busy, so none of them has moved).
            self.metrics.dispatcher_ticked(now_ms);
            outcome.in_flight = self.tasks.len();
            return Ok(outcome);
        }
        let claimed = self
            .queue
            .claim_due(ClaimRequest {
                now_ms,
                lease: LEASE,
                free,
                limit: SCAN_LIMIT,
            })
            .await?;
        outcome.busy = claimed.busy;
        // Bounded like the scan: a target whose jobs all sit behind SCAN_LIMIT jobs of others
        // (or behind the last free slot) is not seen, and its age reads 0 until then.
        self.metrics.dispatcher_scanned(now_ms, claimed.oldest_due);
        let mut orphans: BTreeMap<String, usize> = BTreeMap::new();
        for job in claimed.jobs {
            let Some(target) = config.target(&job.job.target).cloned() else {
                *orphans.entry(job.job.target.clone()).or_default() += 1;
                self.queue
                    .postpone(job, now_ms + ORPHAN_RECHECK.as_millis() as u64)
                    .await?;
                outcome.orphaned += 1;
                continue;
            };
            let Ok(permit) = self.limit(&target).try_acquire_owned() else {
                outcome.busy += 1;
                self.queue.release(job).await?;
                continue;
            };
            self.controls.started(&target, job.id, now_ms);
            let task = job_attempt::deliver(
                job_attempt::Reporting {
                    queue: self.queue.clone(),
                    metrics: self.metrics.clone(),
                    controls: self.controls.clone(),
                },
                self.client.clone(),
                job,
                target,
                permit,
            );
            self.tasks.spawn(task);
            outcome.started += 1;
        }
        for (target, jobs) in orphans {
            tracing::warn!(
                target_name = %target,
                jobs,
                "jobs for a target that is not configured stay queued; rechecking in {}",
                humantime::format_duration(ORPHAN_RECHECK)
            );
        }
        outcome.in_flight = self.tasks.len();
        Ok(outcome)
    }

    /// The target's semaphore, replaced when a reload changed its concurrency (attempts holding
    /// permits of the old one finish under the old limit).
    fn limit(&mut self, target: &Target) -> Arc<Semaphore> {
        let entry = self.limits.entry(target.name.clone()).or_insert_with(|| {
            (
                target.concurrency,
                Arc::new(Semaphore::new(target.concurrency)),
            )
        });
        if entry.0 != target.concurrency {
            *entry = (
                target.concurrency,
                Arc::new(Semaphore::new(target.concurrency)),
            );
        }
        entry.1.clone()
    }

    /// Waits for one attempt in flight to finish (its outcome already recorded) and returns its
    /// job id; `None` when nothing is in flight. A task that ended abnormally is logged and
    /// passed over (its job is due again when its lease runs out).
    pub async fn join_one(&mut self) -> Option<u64> {
        loop {
            match self.tasks.join_next().await? {
                Ok(job) => return Some(job),
                Err(e) if e.is_panic() => tracing::error!(
                    "a delivery attempt panicked; its job is due again when its lease runs out"
                ),
                Err(_) => {}
            }
        }
    }

    pub fn in_flight(&self) -> usize {
        self.tasks.len()
    }

    /// Steps and joins until nothing is due now and nothing is in flight. Retries scheduled for
    /// later are left for later. Returns how many attempts were made.
    pub async fn drive_until_idle(&mut self) -> Result<usize, StoreError> {
        let mut attempts = 0;
        loop {
            let step = self.step(millis(SystemTime::now())).await?;
            attempts += step.started;
            if self.join_one().await.is_none() && step.started == 0 {
                return Ok(attempts);
            }
        }
    }

    /// The dispatcher's life: step, then wait for a wake-up, until `cancel`; then let attempts
    /// in flight finish within `grace` and abandon the rest (they stay queued).
    pub async fn run(mut self, cancel: CancellationToken, grace: Duration) {
        let wake = self.queue.wakeups();
        let mut failures: u32 = 0;
        while !cancel.is_cancelled() {
            let now = millis(SystemTime::now());
            let scanned = match self.step(now).await {
                Ok(step) => self
                    .queue
                    .next_due_after(now)
                    .await
                    .map(|next| earliest(next, step.retry_at_ms)),
                Err(e) => Err(e),
            };
            let idle = match scanned {
                Ok(next) => {
                    if failures > 0 {
                        tracing::info!(failures, "the delivery queue answers again");
                    }
                    failures = 0;
                    next.map_or(MAX_IDLE, |at| {
                        Duration::from_millis(at.saturating_sub(now).max(1))
                    })
                }
                Err(e) => {
                    failures += 1;
                    if failures == 1 || failures.is_power_of_two() {
                        tracing::error!(error = %e.chain(), failures, "reading the delivery queue failed");
                    }
                    // Backs off while the store fails (a database away): 1, 2, then 4 s
                    // between scans, so delivery resumes within seconds of its return.
                    let backoff = STORE_BACKOFF_MAX.min(MAX_IDLE * (1 << (failures - 1).min(2)));
                    tokio::select! {
                        _ = cancel.cancelled() => {}
                        _ = tokio::time::sleep(backoff.saturating_sub(MAX_IDLE)) => {}
                    }
                    MAX_IDLE
                }
            };
            tokio::select! {
                biased;
                _ = cancel.cancelled() => {}
                Some(_) = self.join_one() => {
                    // Collect whatever else finished meanwhile before scanning again.
                    while self.tasks.try_join_next().is_some() {}
                }
                _ = wake.notified() => {}
                _ = tokio::time::sleep(idle.min(MAX_IDLE)) => {}
            }
        }
        self.drain(grace).await;
    }

    async fn drain(&mut self, grace: Duration) {
        if self.tasks.is_empty() {
            return;
        }
        tracing::info!(
            in_flight = self.tasks.len(),
            "delivery stopping: waiting up to {} for attempts in flight",
            humantime::format_duration(grace)
        );
        let finished =
            tokio::time::timeout(grace, async { while self.join_one().await.is_some() {} }).await;
        if finished.is_err() {
            tracing::warn!(
                abandoned = self.tasks.len(),
                "grace period over: abandoning attempts in flight; their jobs stay queued"
            );
            self.tasks.shutdown().await;
        }
    }
}

fn earliest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
