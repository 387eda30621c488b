//! The delivery queue on layout v2: claims read the in-memory due index (`index`) earliest first
//! and take each job under a lease; every change to a job goes to the queue writer
//! (`queue_writer`), one batch for many attempts; reads for the admin API walk the event and job
//! key prefixes.
//!
//! Crash safety: a job stays pending until an outcome is recorded; after a crash the index is
//! rebuilt from the job records and every unfinished job is due again: delivery is at least once.

use super::keys::*;
use super::queue_writer::QueueOp;
use super::records::*;
use super::{engine_error, SledStore};
use crate::store::model::*;
use crate::store::{QueueError, StoreError};
use std::sync::Arc;
use tokio::sync::oneshot;

impl SledStore {
    /// Claims pending jobs due at `request.now_ms` within the free slots, earliest first, each
    /// under a lease until `now + request.lease`; jobs under a live lease are passed over. At
    /// most `request.limit` due entries are read.
    pub(crate) fn claim_due(&self, request: &ClaimRequest) -> Result<Claimed, StoreError> {
        let now_ms = request.now_ms;
        let until_ms = now_ms.saturating_add(request.lease.as_millis() as u64);
        let mut budget = SlotBudget::new(request.free.clone());
        if budget.exhausted() {
            return Ok(budget.into_claimed(Vec::new()));
        }
        let mut taken = Vec::new();
        {
            let index = self.index.lock();
            let mut read = 0;
            for (&(at, id), target) in index.due.range(..(now_ms.saturating_add(1), 0)) {
                if self.leases.is_live(id, now_ms) {
                    continue;
                }
                if read == request.limit {
                    break;
                }
                read += 1;
                if !key_allows(id, index.first_of_key(id)) {
                    budget.hold(target, at);
                    continue;
                }
                let pick = budget.pick(target, at);
                if pick == ScanPick::Leave {
                    continue;
                }
                if let Some(lease) = self.leases.grant(id, now_ms, until_ms) {
                    taken.push((id, lease));
                }
                if pick == ScanPick::TakeLast {
                    break;
                }
            }
        }
        let mut claimed = Vec::with_capacity(taken.len());
        for (id, lease) in taken {
            match self.job(id)? {
                Some(job) if job.state == JobStateV1::Pending => claimed.push(ClaimedJob {
                    id,
                    job: job.into_job(id),
                    lease,
                }),
                // Finished a moment ago: the index had not caught up yet.
                _ => self.leases.end(id, lease.token),
            }
        }
        Ok(budget.into_claimed(claimed))
    }

    /// The earliest due time strictly after `now_ms`, if any job waits that long.
    pub(crate) fn next_due_after(&self, now_ms: u64) -> Option<u64> {
        self.index
            .lock()
            .due
            .range((now_ms.saturating_add(1), 0)..)
            .next()
            .map(|((at, _), _)| *at)
    }

    /// Sends `op` to the queue writer and waits for its answer (on a blocking thread).
    fn through_writer<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> QueueOp,
        stopped: impl FnOnce() -> T,
    ) -> T {
        let (reply, answer) = oneshot::channel();
        self.queue.send(make(reply));
        answer.blocking_recv().unwrap_or_else(|_| stopped())
    }

    pub(crate) fn record_attempt(
        &self,
        claim: ClaimedJob,
        attempt: Attempt,
        transition: JobTransition,
    ) -> Result<RecordOutcome, StoreError> {
        self.through_writer(
            |reply| QueueOp::Record {
                claim,
                attempt,
                transition,
                reply,
            },
            || Err(writer_gone()),
        )
    }

    pub(crate) fn postpone(&self, claim: ClaimedJob, until_ms: u64) -> Result<(), StoreError> {
        self.through_writer(
            |reply| QueueOp::Postpone {
                claim,
                until_ms,
                reply,
            },
            || Err(writer_gone()),
        )
    }

    /// Puts a dead job back in the queue, due at `now_ms`, its attempt count kept: with the
    /// count at the policy's limit, the requeued job gets one more attempt before it is dead again.
    pub(crate) fn retry_dead(&self, id: u64, now_ms: u64) -> Result<Job, QueueError> {
        self.through_writer(
            |reply| QueueOp::RetryDead { id, now_ms, reply },
            || Err(writer_gone().into()),
        )
    }

    /// New jobs delivering event `seq` again to `targets`, created and due at `now_ms` (so
    /// their age limit counts from now). Returns their ids.
    pub(crate) fn replay(
        &self,
        seq: u64,
        targets: Vec<Arc<str>>,
        now_ms: u64,
    ) -> Result<Vec<u64>, QueueError> {
        self.through_writer(
            |reply| QueueOp::Replay {
                seq,
                targets,
                now_ms,
                reply,
            },
            || Err(writer_gone().into()),
        )
    }

    pub(crate) fn job(&self, id: u64) -> Result<Option<JobV2>, StoreError> {
        self.tree
            .get(job_key(id))
            .map_err(engine_error)?
            .map(|v| decode_job(id, &v))
            .transpose()
    }

    /// A job's attempts, first to last.
    pub(crate) fn attempts_of(&self, id: u64) -> Result<Vec<AttemptV1>, StoreError> {
        self.tree
            .scan_prefix(attempts_prefix(id))
            .values()
            .map(|v| decode_attempt(id, &v.map_err(engine_error)?))
            .collect()
    }

    /// Dead-lettered jobs in id order, starting after `after`, at most `limit`.
    pub(crate) fn dead_jobs(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, JobV2)>, StoreError> {
        let start = after.map_or(0, |a| a.saturating_add(1));
        let ids: Vec<u64> = self
            .index
            .lock()
            .dead
            .range(start..)
            .take(limit)
            .copied()
            .collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(job) = self.job(id)? {
                out.push((id, job));
            }
        }
        Ok(out)
    }

    /// Events in sequence order, starting after `after`, at most `limit`.
    pub(crate) fn events_page(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, EventV2)>, StoreError> {
        let start = after.map_or(0, |a| a.saturating_add(1));
        self.tree
            .range(event_key(start)..=event_key(u64::MAX))
            .take(limit)
            .map(|kv| {
                let (k, v) = kv.map_err(engine_error)?;
                let seq = read_u64(&k[1..]).unwrap_or_default();
                Ok((seq, decode_event(seq, &v)?))
            })
            .collect()
    }

    /// An event with its jobs and their attempts.
    pub(crate) fn event_detail(&self, seq: u64) -> Result<Option<EventDetail>, StoreError> {
        let Some(event) = self.event(seq)? else {
            return Ok(None);
        };
        let jobs = self
            .jobs_of(seq)?
            .into_iter()
            .map(|(id, job)| {
                Ok(JobDetail {
                    id,
                    job: job.into_job(id),
                    attempts: self.attempts_of(id)?.into_iter().map(Into::into).collect(),
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Some(EventDetail {
            seq,
            event: event.into(),
            jobs,
        }))
    }
}

fn writer_gone() -> StoreError {
    StoreError::storage("the queue writer has stopped")
}
