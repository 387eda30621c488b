//! The delivery queue on the sled trees: claims (`claim_due`: due jobs read earliest first,
//! each taken under a lease), how an attempt's result is written back (`record_attempt`: job
//! record, `due` index, attempt record and dead-letter list in one transaction), and what an
//! admin needs (dead letters, `retry_dead`, `replay`, events with their jobs and attempts).
//!
//! Crash safety: a job's `due` entry stays while its attempt is in flight; only recording the
//! outcome removes it (and, for a retry, inserts the next one). After a crash every unfinished
//! job is still due: delivery is at-least-once. These writes are not fsync'd: losing one costs at
//! most a repeated attempt, never a lost job.

use super::records::*;
use super::{engine_error, SledStore};
use crate::store::model::*;
use crate::store::{QueueError, StoreError};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use std::sync::Arc;

type TxResult<T> = Result<T, ConflictableTransactionError<QueueError>>;

fn abort<T>(e: impl Into<QueueError>) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(e.into()))
}

fn flatten<T>(r: Result<T, TransactionError<QueueError>>) -> Result<T, QueueError> {
    r.map_err(|e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => engine_error(e).into(),
    })
}

fn store_only<T>(r: Result<T, QueueError>) -> Result<T, StoreError> {
    r.map_err(|e| match e {
        QueueError::Store(e) => e,
        other => StoreError::storage(other.to_string()),
    })
}

impl SledStore {
    /// Claims pending jobs due at `request.now_ms` within the free slots, earliest first, each
    /// under a lease until `now + request.lease`; jobs under a live lease are passed over. At most
    /// `request.limit` jobs are read. `due` entries whose job is gone or no longer pending are
    /// removed on the way.
    pub(crate) fn claim_due(&self, request: &ClaimRequest) -> Result<Claimed, StoreError> {
        let now_ms = request.now_ms;
        let until_ms = now_ms.saturating_add(request.lease.as_millis() as u64);
        let mut budget = SlotBudget::new(request.free.clone());
        let mut claimed = Vec::new();
        if budget.exhausted() {
            return Ok(budget.into_claimed(claimed));
        }
        let mut read = 0;
        for kv in self.due.range(..due_key(now_ms.saturating_add(1), 0)) {
            let key = kv.map_err(engine_error)?.0;
            let (Some(at), Some(id)) = (read_u64(&key), key.get(8..).and_then(read_u64)) else {
                self.due.remove(&key).map_err(engine_error)?;
                continue;
            };
            if self.leases.is_live(id, now_ms) {
                continue;
            }
            if read == request.limit {
                break;
            }
            read += 1;
            let job = match self.job(id)? {
                Some(job) if job.state == JobStateV1::Pending => job,
                _ => {
                    tracing::warn!(job = id, "removing a due entry whose job is not pending");
                    self.due.remove(&key).map_err(engine_error)?;
                    continue;
                }
            };
            let pick = budget.pick(&job.target, at);
            if pick == ScanPick::Leave {
                continue;
            }
            if let Some(lease) = self.leases.grant(id, now_ms, until_ms) {
                let mut job = Job::from(job);
                // The time in its `due` key, which recording removes.
                job.next_attempt_at_ms = at;
                claimed.push(ClaimedJob { id, job, lease });
            }
            if pick == ScanPick::TakeLast {
                break;
            }
        }
        Ok(budget.into_claimed(claimed))
    }

    /// The earliest due time strictly after `now_ms`, if any job waits that long.
    pub(crate) fn next_due_after(&self, now_ms: u64) -> Result<Option<u64>, StoreError> {
        match self
            .due
            .range(due_key(now_ms.saturating_add(1), 0)..)
            .next()
        {
            Some(kv) => Ok(read_u64(&kv.map_err(engine_error)?.0)),
            None => Ok(None),
        }
    }

    /// Writes an attempt's result: the attempt record, the job's new state, its `due` entry moved
    /// (or removed) and, for a dead job, its dead-letter entry; all or nothing, then ends the
    /// claim. Refuses (as [`RecordOutcome::Stale`]) if the claim was taken over or the job is no
    /// longer the one the attempt started from.
    pub(crate) fn record_attempt(
        &self,
        claim: &ClaimedJob,
        attempt: Attempt,
        transition: JobTransition,
    ) -> Result<RecordOutcome, StoreError> {
        let id = claim.id;
        if !self.leases.holds(id, claim.lease.token) {
            return Ok(RecordOutcome::Stale);
        }
        let attempt = AttemptV1::from(attempt);
        let due_at_ms = claim.job.next_attempt_at_ms;
        let result = (&self.jobs, &self.due, &self.attempts, &self.dead).transaction(
            |(jobs, due_tree, attempts, dead)| {
                let Some(raw) = jobs.get(seq_key(id))? else {
                    return Ok(None);
                };
                let mut job = decode_job(id, &raw).or_else(abort)?;
                if job.state != JobStateV1::Pending || job.attempts != claim.job.attempts {
                    return Ok(None);
                }
                job.attempts += 1;
                let record = AttemptV1 {
                    attempt: job.attempts,
                    ..attempt.clone()
                };
                let encoded = encode(&StoredAttempt::V1(record));
                attempts.insert(&attempt_key(id, job.attempts), encoded)?;
                due_tree.remove(&due_key(due_at_ms, id))?;
                match &transition {
                    JobTransition::Delivered => {
                        job.state = JobStateV1::Delivered {
                            at_ms: attempt.at_ms,
                        }
                    }
                    JobTransition::RetryAt { at_ms } => {
                        job.next_attempt_at_ms = *at_ms;
                        due_tree.insert(&due_key(*at_ms, id), &[][..])?;
                    }
                    JobTransition::Dead { reason } => {
                        job.state = JobStateV1::Dead {
                            at_ms: attempt.at_ms,
                            reason: reason.clone(),
                        };
                        dead.insert(&seq_key(id), &[][..])?;
                    }
                }
                jobs.insert(&seq_key(id), encode(&StoredJob::V1(job.clone())))?;
                Ok(Some(job))
            },
        );
        let recorded = store_only(flatten(result))?;
        self.leases.end(id, claim.lease.token);
        let Some(job) = recorded else {
            return Ok(RecordOutcome::Stale);
        };
        match job.state {
            JobStateV1::Pending => {}
            JobStateV1::Delivered { .. } => self.job_counts.add(&job.target, -1, 0),
            JobStateV1::Dead { .. } => self.job_counts.add(&job.target, -1, 1),
        }
        Ok(RecordOutcome::Recorded(job.into()))
    }

    /// Moves a claimed job to `until_ms` without counting an attempt (its target is not
    /// configured), and ends the claim.
    pub(crate) fn postpone(&self, claim: &ClaimedJob, until_ms: u64) -> Result<(), StoreError> {
        let id = claim.id;
        if !self.leases.holds(id, claim.lease.token) {
            return Ok(());
        }
        let due_at_ms = claim.job.next_attempt_at_ms;
        let result = (&self.jobs, &self.due).transaction(|(jobs, due_tree)| {
            let Some(raw) = jobs.get(seq_key(id))? else {
                return Ok(());
            };
            let mut job = decode_job(id, &raw).or_else(abort)?;
            if job.state != JobStateV1::Pending
                || due_tree.remove(&due_key(due_at_ms, id))?.is_none()
            {
                return Ok(());
            }
            job.next_attempt_at_ms = until_ms;
            due_tree.insert(&due_key(until_ms, id), &[][..])?;
            jobs.insert(&seq_key(id), encode(&StoredJob::V1(job)))?;
            Ok(())
        });
        store_only(flatten(result))?;
        self.leases.end(id, claim.lease.token);
        Ok(())
    }

    pub(crate) fn job(&self, id: u64) -> Result<Option<JobV1>, StoreError> {
        self.jobs
            .get(seq_key(id))
            .map_err(engine_error)?
            .map(|v| decode_job(id, &v))
            .transpose()
    }

    /// A job's attempts, first to last.
    pub(crate) fn attempts_of(&self, id: u64) -> Result<Vec<AttemptV1>, StoreError> {
        self.attempts
            .scan_prefix(seq_key(id))
            .map(
                |kv| match decode::<StoredAttempt>(&kv.map_err(engine_error)?.1) {
                    Ok(StoredAttempt::V1(a)) => Ok(a),
                    Err(e) => Err(corrupt(format!("attempt of job {id}"), e)),
                },
            )
            .collect()
    }

    /// Dead-lettered jobs in id order, starting after `after`, at most `limit`.
    pub(crate) fn dead_jobs(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, JobV1)>, StoreError> {
        let start = after.map_or(0, |a| a.saturating_add(1));
        let mut out = Vec::new();
        for kv in self.dead.range(seq_key(start)..).take(limit) {
            let id = read_u64(&kv.map_err(engine_error)?.0).unwrap_or_default();
            if let Some(job) = self.job(id)? {
                out.push((id, job));
            }
        }
        Ok(out)
    }

    /// Puts a dead job back in the queue, due at `now_ms`, its attempt count kept: with the
    /// count at the policy's limit, the requeued job gets one more attempt before it is dead again.
    pub(crate) fn retry_dead(&self, id: u64, now_ms: u64) -> Result<JobV1, QueueError> {
        let result = (&self.jobs, &self.due, &self.dead).transaction(|(jobs, due, dead)| {
            let Some(raw) = jobs.get(seq_key(id))? else {
                return abort(QueueError::JobNotFound(id));
            };
            let mut job = decode_job(id, &raw).or_else(abort)?;
            if !matches!(job.state, JobStateV1::Dead { .. }) {
                return abort(QueueError::NotDead(id));
            }
            job.state = JobStateV1::Pending;
            job.next_attempt_at_ms = now_ms;
            dead.remove(&seq_key(id))?;
            due.insert(&due_key(now_ms, id), &[][..])?;
            jobs.insert(&seq_key(id), encode(&StoredJob::V1(job.clone())))?;
            Ok(job)
        });
        let job = flatten(result)?;
        self.job_counts.add(&job.target, 1, -1);
        self.wake.notify_one();
        Ok(job)
    }

    /// New jobs delivering event `seq` again to `targets`, created and due at `now_ms` (so
    /// their age limit counts from now). Returns their ids.
    pub(crate) fn replay(
        &self,
        seq: u64,
        targets: &[Arc<str>],
        now_ms: u64,
    ) -> Result<Vec<u64>, QueueError> {
        if self.event(seq)?.is_none() {
            return Err(QueueError::EventNotFound(seq));
        }
        let ids = targets
            .iter()
            .map(|_| self.db.generate_id())
            .collect::<Result<Vec<_>, _>>()
            .map_err(engine_error)?;
        let result =
            (&self.jobs, &self.due, &self.event_jobs).transaction(|(jobs, due, event_jobs)| {
                for (id, target) in ids.iter().zip(targets) {
                    jobs.insert(&seq_key(*id), pending_job(seq, target, now_ms))?;
                    due.insert(&due_key(now_ms, *id), &[][..])?;
                    event_jobs.insert(&event_job_key(seq, *id), &[][..])?;
                }
                Ok(())
            });
        flatten(result)?;
        for target in targets {
            self.job_counts.add(target, 1, 0);
        }
        self.wake.notify_one();
        Ok(ids)
    }

    /// Events in sequence order, starting after `after`, at most `limit`.
    pub(crate) fn events_page(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, EventV1)>, StoreError> {
        let start = after.map_or(0, |a| a.saturating_add(1));
        self.events
            .range(seq_key(start)..)
            .take(limit)
            .map(|kv| {
                let (k, v) = kv.map_err(engine_error)?;
                let seq = read_u64(&k).unwrap_or_default();
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
                    job: job.into(),
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
