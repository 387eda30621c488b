//! The store traits on the sled engine. Every call that reads or writes sled runs on tokio's
//! blocking pool (`blocking`), never on the async worker that awaits it; accepts go to the
//! ingest writer's own thread. Records become domain types here, at the edge.

use super::SledStore;
use crate::store::model::*;
use crate::store::quota::SpaceLimits;
use crate::store::traits::*;
use crate::store::StoreError;
use futures_util::FutureExt;
use std::sync::Arc;

impl SledStore {
    /// Runs `work` on a clone of the store on the blocking pool.
    fn blocking<T, E>(
        &self,
        work: impl FnOnce(&SledStore) -> Result<T, E> + Send + 'static,
    ) -> futures_util::future::BoxFuture<'static, Result<T, E>>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let store = self.clone();
        async move {
            match tokio::task::spawn_blocking(move || work(&store)).await {
                Ok(result) => result,
                Err(e) => Err(StoreError::caused("a store task failed", e).into()),
            }
        }
        .boxed()
    }
}

impl IngestStore for SledStore {
    fn accept_durable(&self, event: NewEvent<'_>) -> StoreFuture<AcceptOutcome> {
        self.accept_through_writer(event)
    }

    fn check_space(&self, limits: SpaceLimits) -> Result<(), StoreError> {
        self.space_check(limits)
    }

    fn size_on_disk(&self) -> Option<u64> {
        Some(SledStore::size_on_disk(self))
    }
}

impl DeliveryQueue for SledStore {
    fn claim_due(&self, request: ClaimRequest) -> StoreFuture<Claimed> {
        self.blocking(move |s| s.claim_due(&request))
    }

    fn renew(&self, claim: &ClaimedJob, until_ms: u64) -> StoreFuture<Option<Lease>> {
        let lease = self.leases.renew(claim.id, claim.lease.token, until_ms);
        futures_util::future::ready(Ok(lease)).boxed()
    }

    fn record(
        &self,
        claim: ClaimedJob,
        attempt: Attempt,
        transition: JobTransition,
    ) -> StoreFuture<RecordOutcome> {
        self.blocking(move |s| s.record_attempt(claim, attempt, transition))
    }

    fn postpone(&self, claim: ClaimedJob, until_ms: u64) -> StoreFuture<()> {
        self.blocking(move |s| s.postpone(claim, until_ms))
    }

    fn release(&self, claim: ClaimedJob) -> StoreFuture<()> {
        self.leases.end(claim.id, claim.lease.token);
        self.wake.notify_one();
        futures_util::future::ready(Ok(())).boxed()
    }

    fn next_due_after(&self, now_ms: u64) -> StoreFuture<Option<u64>> {
        futures_util::future::ready(Ok(SledStore::next_due_after(self, now_ms))).boxed()
    }

    fn load_event(&self, seq: EventSeq) -> StoreFuture<Option<(Event, Vec<u8>)>> {
        self.blocking(move |s| match s.event(seq)? {
            Some(event) => {
                let body = match &event.body {
                    Some(inline) => inline.clone(),
                    None => s.body(seq)?,
                };
                Ok(Some((event.into(), body)))
            }
            None => Ok(None),
        })
    }

    fn retry_dead(&self, job: JobId, now_ms: u64) -> QueueFuture<Job> {
        self.blocking(move |s| s.retry_dead(job, now_ms))
    }

    fn replay(
        &self,
        seq: EventSeq,
        targets: Vec<Arc<str>>,
        now_ms: u64,
    ) -> QueueFuture<Vec<JobId>> {
        self.blocking(move |s| s.replay(seq, targets, now_ms))
    }

    fn depths(&self) -> StoreFuture<Vec<(Arc<str>, TargetJobs)>> {
        futures_util::future::ready(Ok(self.index.depths())).boxed()
    }

    fn set_paused(&self, target: &str, paused: bool) -> StoreFuture<()> {
        let key = super::keys::paused_key(target);
        let written = self.blocking(move |s| {
            if paused {
                s.tree.insert(key, &[][..]).map_err(super::engine_error)?;
            } else {
                s.tree.remove(key).map_err(super::engine_error)?;
            }
            Ok::<_, StoreError>(())
        });
        let store = self.clone();
        async move {
            written.await?;
            // The write is in sled's log; the next group commit fsyncs it.
            store.durable().await?;
            if !paused {
                store.wake.notify_one();
            }
            Ok(())
        }
        .boxed()
    }

    fn paused(&self) -> StoreFuture<Vec<String>> {
        self.blocking(|s| {
            let mut names = Vec::new();
            for key in s.tree.scan_prefix(super::keys::PAUSED_PREFIX).keys() {
                let key = key.map_err(super::engine_error)?;
                let name = &key[super::keys::PAUSED_PREFIX.len()..];
                names.push(String::from_utf8_lossy(name).into_owned());
            }
            Ok::<_, StoreError>(names)
        })
    }

    fn wakeups(&self) -> Arc<tokio::sync::Notify> {
        self.wake.clone()
    }
}

impl EventReads for SledStore {
    fn events_page(&self, after: Option<EventSeq>, limit: usize) -> StoreFuture<Vec<EventSummary>> {
        self.blocking(move |s| {
            s.events_page(after, limit)?
                .into_iter()
                .map(|(seq, event)| {
                    let jobs = s
                        .jobs_of(seq)?
                        .into_iter()
                        .map(|(id, j)| j.into_job(id))
                        .collect();
                    Ok(EventSummary {
                        seq,
                        event: event.into(),
                        jobs,
                    })
                })
                .collect()
        })
    }

    fn find_event(&self, endpoint: &str, event_id: &str) -> StoreFuture<Option<EventSeq>> {
        let (endpoint, event_id) = (endpoint.to_string(), event_id.to_string());
        self.blocking(move |s| s.find_event(&endpoint, &event_id))
    }

    fn event(&self, seq: EventSeq) -> StoreFuture<Option<Event>> {
        self.blocking(move |s| Ok(s.event(seq)?.map(Event::from)))
    }

    fn body(&self, seq: EventSeq) -> StoreFuture<Vec<u8>> {
        self.blocking(move |s| s.body(seq))
    }

    fn event_detail(&self, seq: EventSeq) -> StoreFuture<Option<EventDetail>> {
        self.blocking(move |s| s.event_detail(seq))
    }

    fn job(&self, id: JobId) -> StoreFuture<Option<Job>> {
        self.blocking(move |s| Ok(s.job(id)?.map(|j| j.into_job(id))))
    }

    fn dead_letters(&self, after: Option<JobId>, limit: usize) -> StoreFuture<Vec<(JobId, Job)>> {
        self.blocking(move |s| {
            Ok(s.dead_jobs(after, limit)?
                .into_iter()
                .map(|(id, job)| (id, job.into_job(id)))
                .collect())
        })
    }

    fn counts(&self) -> StoreFuture<StoreCounts> {
        self.blocking(|s| Ok(s.counts()))
    }
}

impl Retention for SledStore {
    fn prune_finished(&self, cutoff_ms: u64, batch: usize) -> StoreFuture<PruneReport> {
        self.blocking(move |s| s.prune_finished(cutoff_ms, batch))
    }

    fn prune_dedup(&self, now_ms: u64) -> StoreFuture<usize> {
        self.blocking(move |s| s.prune_dedup(now_ms))
    }
}
