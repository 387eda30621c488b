//! What each operation of the queue writer decides, against the job records as the batch being
//! built leaves them: an attempt's outcome (refused as stale when the claim was taken over or the
//! job moved on), a postponement, a dead letter retried, a replay's new jobs, retention's
//! removals. Each adds its writes, its index changes and its answer to the batch
//! (`queue_writer`); nothing is written until the whole batch is.

use super::keys::*;
use super::queue_writer::{Batch, IndexChange};
use super::records::*;
use super::retention::Candidate;
use crate::store::model::*;
use crate::store::{QueueError, StoreError};
use std::sync::Arc;

impl Batch<'_> {
    pub(super) fn record(
        &mut self,
        claim: &ClaimedJob,
        attempt: Attempt,
        transition: JobTransition,
    ) -> Result<RecordOutcome, StoreError> {
        let id = claim.id;
        if !self.parts.leases.holds(id, claim.lease.token) {
            return Ok(RecordOutcome::Stale);
        }
        let Some(mut job) = self.job(id)? else {
            return Ok(RecordOutcome::Stale);
        };
        if job.state != JobStateV1::Pending || job.attempts != claim.job.attempts {
            return Ok(RecordOutcome::Stale);
        }
        job.attempts += 1;
        let at_ms = attempt.at_ms;
        let record = AttemptV1 {
            attempt: job.attempts,
            ..AttemptV1::from(attempt)
        };
        self.write.insert(
            &attempt_key(id, job.attempts)[..],
            encode(&StoredAttempt::V1(record)),
        );
        let due = job.next_attempt_at_ms;
        let target: Arc<str> = Arc::from(job.target.as_str());
        match transition {
            JobTransition::Delivered => {
                job.state = JobStateV1::Delivered { at_ms };
                self.changes
                    .push(IndexChange::Delivered { id, due, target });
            }
            JobTransition::RetryAt { at_ms: next } => {
                job.next_attempt_at_ms = next;
                self.changes.push(IndexChange::Moved {
                    id,
                    from: due,
                    to: next,
                });
            }
            JobTransition::Dead { reason } => {
                job.state = JobStateV1::Dead { at_ms, reason };
                self.changes.push(IndexChange::Died { id, due, target });
            }
        }
        self.put_job(id, job.clone());
        Ok(RecordOutcome::Recorded(job.into_job(id)))
    }

    pub(super) fn postpone(&mut self, claim: &ClaimedJob, until_ms: u64) -> Result<(), StoreError> {
        let id = claim.id;
        if !self.parts.leases.holds(id, claim.lease.token) {
            return Ok(());
        }
        let Some(mut job) = self.job(id)? else {
            return Ok(());
        };
        if job.state != JobStateV1::Pending {
            return Ok(());
        }
        let from = job.next_attempt_at_ms;
        job.next_attempt_at_ms = until_ms;
        self.put_job(id, job);
        self.changes.push(IndexChange::Moved {
            id,
            from,
            to: until_ms,
        });
        Ok(())
    }

    pub(super) fn retry_dead(
        &mut self,
        id: JobId,
        now_ms: u64,
    ) -> Result<Result<Job, QueueError>, StoreError> {
        let Some(mut job) = self.job(id)? else {
            return Ok(Err(QueueError::JobNotFound(id)));
        };
        if !matches!(job.state, JobStateV1::Dead { .. }) {
            return Ok(Err(QueueError::NotDead(id)));
        }
        job.state = JobStateV1::Pending;
        job.next_attempt_at_ms = now_ms;
        self.put_job(id, job.clone());
        self.changes.push(IndexChange::Revived {
            id,
            at: now_ms,
            target: Arc::from(job.target.as_str()),
            key: job.ordering_key.as_deref().map(Arc::from),
        });
        self.wake = true;
        Ok(Ok(job.into_job(id)))
    }

    pub(super) fn replay(
        &mut self,
        seq: EventSeq,
        targets: &[Arc<str>],
        now_ms: u64,
    ) -> Result<Result<Vec<JobId>, QueueError>, StoreError> {
        let tree = &self.parts.tree;
        if tree
            .get(event_key(seq))
            .map_err(super::engine_error)?
            .is_none()
        {
            return Ok(Err(QueueError::EventNotFound(seq)));
        }
        let next = match self.next_index.get(&seq) {
            Some(n) => *n,
            None => match tree
                .scan_prefix(jobs_prefix(seq))
                .keys()
                .next_back()
                .transpose()
                .map_err(super::engine_error)?
            {
                Some(last) => {
                    read_u64(&last[1..]).map_or(0, |id| (id & (MAX_JOBS_PER_EVENT - 1)) + 1)
                }
                None => 0,
            },
        };
        if next + targets.len() as u64 > MAX_JOBS_PER_EVENT {
            return Ok(Err(QueueError::Store(StoreError::storage(format!(
                "event {seq} has reached {MAX_JOBS_PER_EVENT} deliveries"
            )))));
        }
        let mut ids = Vec::with_capacity(targets.len());
        for (i, target) in targets.iter().enumerate() {
            let id = job_id(seq, next + i as u64);
            self.put_job(id, pending_job(target, None, now_ms));
            self.changes.push(IndexChange::Pending {
                id,
                at: now_ms,
                target: target.clone(),
            });
            ids.push(id);
        }
        self.next_index.insert(seq, next + targets.len() as u64);
        self.wake = true;
        Ok(Ok(ids))
    }

    /// Removes each candidate whose jobs are all still finished, with everything it owns.
    pub(super) fn prune(&mut self, candidates: Vec<Candidate>) -> Result<PruneReport, StoreError> {
        let mut report = PruneReport::default();
        'event: for c in candidates {
            for (id, _, _) in &c.jobs {
                if self
                    .job(*id)?
                    .is_some_and(|j| j.state == JobStateV1::Pending)
                {
                    continue 'event;
                }
            }
            self.write.remove(&event_key(c.seq)[..]);
            for chunk in 0..c.body_chunks {
                self.write.remove(&body_key(c.seq, chunk)[..]);
            }
            report.events += 1;
            for (id, target, attempts) in c.jobs {
                self.write.remove(&job_key(id)[..]);
                self.jobs.insert(id, None);
                for n in 1..=attempts {
                    self.write.remove(&attempt_key(id, n)[..]);
                }
                report.jobs += 1;
                report.attempts += attempts as u64;
                self.changes.push(IndexChange::Pruned { id, target });
            }
        }
        Ok(report)
    }
}
