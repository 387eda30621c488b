//! The storage seam: one trait per consumer, each speaking only the domain types of `model`.
//! The ingress accepts through [`IngestStore`], the dispatcher claims and records through
//! [`DeliveryQueue`], the admin API reads through [`EventReads`], the background passes prune
//! through [`Retention`]. Every method returns a future that the engine completes off the async
//! worker threads (the sled engine on the blocking pool and its own writer thread), so no
//! consumer ever blocks a runtime on storage. [`Stores`] bundles the four handles of one engine.

use super::model::*;
use super::quota::SpaceLimits;
use super::{QueueError, StoreError};
use futures_util::future::BoxFuture;
use std::sync::Arc;

/// A store operation in flight.
pub type StoreFuture<T> = BoxFuture<'static, Result<T, StoreError>>;
/// An admin operation on the queue in flight (it can also be refused).
pub type QueueFuture<T> = BoxFuture<'static, Result<T, QueueError>>;

/// What the ingress needs: accept durably, and refuse before writing when space is short.
pub trait IngestStore: Send + Sync + 'static {
    /// Dedup check, event and jobs in one atomic write; resolves with the outcome once that is
    /// durable. A duplicate resolves once the write it was checked against is durable too (its
    /// 200 promises the first copy is on disk). An error means: do not acknowledge.
    fn accept_durable(&self, event: NewEvent<'_>) -> StoreFuture<AcceptOutcome>;

    /// Refuses with [`StoreError::QuotaReached`] once the store's size is at or over the quota,
    /// and with [`StoreError::LowDiskSpace`] when its filesystem has less free space than the
    /// floor. Cheap (cached measures): called on every request. The default never refuses.
    fn check_space(&self, limits: SpaceLimits) -> Result<(), StoreError> {
        let _ = limits;
        Ok(())
    }

    /// The store's size on disk, when it has one (cached; for the metrics).
    fn size_on_disk(&self) -> Option<u64> {
        None
    }

    /// Why the store cannot take writes now (its database unreachable), if it cannot: for
    /// `/readyz`. Cheap (cached). The default is always available.
    fn unavailable(&self) -> Option<String> {
        None
    }
}

/// What the dispatcher (and the admin operations that requeue) need of the delivery queue.
pub trait DeliveryQueue: Send + Sync + 'static {
    /// Claims pending jobs due at `now_ms`, earliest first, within the free slots of each target,
    /// each under a new lease. A job under a live lease is not claimed again; a job whose lease
    /// ran out is (its holder's record is then refused as stale).
    fn claim_due(&self, request: ClaimRequest) -> StoreFuture<Claimed>;

    /// Extends a claim to `until_ms`. `None`: the claim is no longer the job's.
    fn renew(&self, claim: &ClaimedJob, until_ms: u64) -> StoreFuture<Option<Lease>>;

    /// Writes an attempt's result (the attempt, the job's new state, its dead letter) all or
    /// nothing, and ends the claim. Refused as [`RecordOutcome::Stale`] when the claim is no
    /// longer the job's.
    fn record(
        &self,
        claim: ClaimedJob,
        attempt: Attempt,
        transition: JobTransition,
    ) -> StoreFuture<RecordOutcome>;

    /// Moves a claimed job to `until_ms` without counting an attempt (its target is not
    /// configured), and ends the claim.
    fn postpone(&self, claim: ClaimedJob, until_ms: u64) -> StoreFuture<()>;

    /// Ends a claim without an attempt: the job is due again at once.
    fn release(&self, claim: ClaimedJob) -> StoreFuture<()>;

    /// The earliest due time strictly after `now_ms`, if any job waits that long.
    fn next_due_after(&self, now_ms: u64) -> StoreFuture<Option<u64>>;

    /// The event a job delivers, with its body.
    fn load_event(&self, seq: EventSeq) -> StoreFuture<Option<(Event, Vec<u8>)>>;

    /// Puts a dead job back in the queue, due at `now_ms`, its attempt count kept.
    fn retry_dead(&self, job: JobId, now_ms: u64) -> QueueFuture<Job>;

    /// New jobs delivering event `seq` again to `targets`, created and due at `now_ms`.
    fn replay(&self, seq: EventSeq, targets: Vec<Arc<str>>, now_ms: u64)
        -> QueueFuture<Vec<JobId>>;

    /// Pending and dead jobs per target (for the metrics).
    fn depths(&self) -> StoreFuture<Vec<(Arc<str>, TargetJobs)>>;

    /// Notified when work may have become due (an accept, a requeue): the dispatcher wakes.
    fn wakeups(&self) -> Arc<tokio::sync::Notify>;

    /// Pauses (or resumes) delivery to `target`, durably: a pause outlives a restart, and every
    /// instance sharing the store sees it. The queue itself does not enforce it: the dispatcher
    /// reads [`DeliveryQueue::paused`] and claims nothing for a paused target.
    fn set_paused(&self, target: &str, paused: bool) -> StoreFuture<()>;

    /// The paused targets, sorted by name.
    fn paused(&self) -> StoreFuture<Vec<String>>;
}

/// What the admin API and tools read.
pub trait EventReads: Send + Sync + 'static {
    /// Events in sequence order after `after`, at most `limit`, each with its jobs.
    fn events_page(&self, after: Option<EventSeq>, limit: usize) -> StoreFuture<Vec<EventSummary>>;

    /// The event accepted for `(endpoint, event id)`, if the store still knows it.
    fn find_event(&self, endpoint: &str, event_id: &str) -> StoreFuture<Option<EventSeq>>;

    fn event(&self, seq: EventSeq) -> StoreFuture<Option<Event>>;

    /// The event's body (empty if the event is gone).
    fn body(&self, seq: EventSeq) -> StoreFuture<Vec<u8>>;

    /// An event with its jobs and their attempts.
    fn event_detail(&self, seq: EventSeq) -> StoreFuture<Option<EventDetail>>;

    fn job(&self, id: JobId) -> StoreFuture<Option<Job>>;

    /// Dead-lettered jobs in id order after `after`, at most `limit`.
    fn dead_letters(&self, after: Option<JobId>, limit: usize) -> StoreFuture<Vec<(JobId, Job)>>;

    fn counts(&self) -> StoreFuture<StoreCounts>;
}

/// What the background passes need: prune what is finished and old.
pub trait Retention: Send + Sync + 'static {
    /// Removes events accepted before `cutoff_ms` whose jobs are all finished, with everything
    /// they own, `batch` events per atomic write. An event with a pending job is never touched.
    fn prune_finished(&self, cutoff_ms: u64, batch: usize) -> StoreFuture<PruneReport>;

    /// Forgets dedup markers older than the dedup window at `now_ms`; returns how many.
    fn prune_dedup(&self, now_ms: u64) -> StoreFuture<usize>;
}

/// The four handles of one engine, as the application hands them to its consumers.
#[derive(Clone)]
pub struct Stores {
    pub ingest: Arc<dyn IngestStore>,
    pub queue: Arc<dyn DeliveryQueue>,
    pub events: Arc<dyn EventReads>,
    pub retention: Arc<dyn Retention>,
}

impl Stores {
    /// Every handle served by one engine.
    pub fn of<E>(engine: Arc<E>) -> Self
    where
        E: IngestStore + DeliveryQueue + EventReads + Retention,
    {
        Self {
            ingest: engine.clone(),
            queue: engine.clone(),
            events: engine.clone(),
            retention: engine,
        }
    }
}
