//! The delivery queue on top of the sled trees: what the dispatcher takes (`due_jobs`), how an
//! attempt's result is written back (`record_attempt`: job record, `due` index, attempt record
//! and dead-letter list in one transaction), and what an admin needs (dead letters, `retry_dead`,
//! `replay`, events with their jobs and attempts).
//!
//! Crash safety: a job's `due` entry stays while its attempt is in flight; only recording the
//! outcome removes it (and, for a retry, inserts the next one). After a crash every unfinished
//! job is still due: delivery is at-least-once. These writes are not fsync'd: losing one costs at
//! most a repeated attempt, never a lost job.

use super::records::*;
use super::{SledStore, StoreError};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use std::sync::Arc;

/// A pending job whose `due` entry is at or before the time asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct DueJob {
    pub id: u64,
    /// The time in its `due` key, needed to remove exactly that entry.
    pub due_at_ms: u64,
    pub job: JobV1,
}

/// What [`SledStore::due_jobs`] does with a pending job it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanPick {
    Take,
    /// Leave it queued (its target is busy) and read on.
    Leave,
    /// Take it and end the scan.
    TakeLast,
}

/// What happens to a job once an attempt is over.
#[derive(Debug, Clone, PartialEq)]
pub enum JobTransition {
    Delivered,
    RetryAt { at_ms: u64 },
    Dead { reason: String },
}

#[derive(Debug, Clone, PartialEq)]
pub enum RecordOutcome {
    /// The job now has this state and attempt count.
    Recorded(JobV1),
    /// The job changed (or vanished) while the attempt was in flight: nothing was written.
    Stale,
}

/// An event with every job made for it, each with its attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct EventDetail {
    pub seq: u64,
    pub event: EventV1,
    pub jobs: Vec<JobDetail>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobDetail {
    pub id: u64,
    pub job: JobV1,
    pub attempts: Vec<AttemptV1>,
}

/// Why an admin operation on the queue was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum QueueError {
    #[error("no job {0}")]
    JobNotFound(u64),
    #[error("job {0} is not dead-lettered")]
    NotDead(u64),
    #[error("no event {0}")]
    EventNotFound(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

type TxResult<T> = Result<T, ConflictableTransactionError<QueueError>>;

fn abort<T>(e: impl Into<QueueError>) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(e.into()))
}

fn flatten<T>(r: Result<T, TransactionError<QueueError>>) -> Result<T, QueueError> {
    r.map_err(|e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => StoreError::from(e).into(),
    })
}

fn store_only<T>(r: Result<T, QueueError>) -> Result<T, StoreError> {
    r.map_err(|e| match e {
        QueueError::Store(e) => e,
        other => StoreError::Storage(other.to_string()),
    })
}

impl SledStore {
    /// Pending jobs due at or before `now_ms`, earliest first, leaving out the ids `skip` names
    /// (those in flight) and keeping those `pick` takes; at most `limit` jobs are read, and the
    /// scan ends early when `pick` says [`ScanPick::TakeLast`] (the caller can start nothing more).
    /// `due` entries whose job is gone or no longer pending are removed on the way. Also says
    /// whether the scan stopped at `limit`.
    pub fn due_jobs(
        &self,
        now_ms: u64,
        limit: usize,
        skip: &dyn Fn(u64) -> bool,
        pick: &mut dyn FnMut(&JobV1) -> ScanPick,
    ) -> Result<(Vec<DueJob>, bool), StoreError> {
        let mut out = Vec::new();
        let mut read = 0;
        for kv in self.due.range(..due_key(now_ms.saturating_add(1), 0)) {
            let key = kv?.0;
            let (Some(at), Some(id)) = (read_u64(&key), key.get(8..).and_then(read_u64)) else {
                self.due.remove(&key)?;
                continue;
            };
            if skip(id) {
                continue;
            }
            if read == limit {
                return Ok((out, true));
            }
            read += 1;
            match self.job(id)? {
                Some(job) if job.state == JobState::Pending => match pick(&job) {
                    ScanPick::Take => out.push(DueJob {
                        id,
                        due_at_ms: at,
                        job,
                    }),
                    ScanPick::Leave => {}
                    ScanPick::TakeLast => {
                        out.push(DueJob {
                            id,
                            due_at_ms: at,
                            job,
                        });
                        break;
                    }
                },
                _ => {
                    tracing::warn!(job = id, "removing a due entry whose job is not pending");
                    self.due.remove(&key)?;
                }
            }
        }
        Ok((out, false))
    }

    /// The earliest due time strictly after `now_ms`, if any job waits that long.
    pub fn next_due_after(&self, now_ms: u64) -> Result<Option<u64>, StoreError> {
        match self
            .due
            .range(due_key(now_ms.saturating_add(1), 0)..)
            .next()
        {
            Some(kv) => Ok(read_u64(&kv?.0)),
            None => Ok(None),
        }
    }

    /// Writes an attempt's result: the attempt record, the job's new state, its `due` entry moved
    /// (or removed) and, for a dead job, its dead-letter entry; all or nothing. Refuses (as
    /// [`RecordOutcome::Stale`]) if the job is no longer the one the attempt started from.
    pub fn record_attempt(
        &self,
        due: &DueJob,
        attempt: AttemptV1,
        transition: JobTransition,
    ) -> Result<RecordOutcome, StoreError> {
        let id = due.id;
        let result = (&self.jobs, &self.due, &self.attempts, &self.dead).transaction(
            |(jobs, due_tree, attempts, dead)| {
                let Some(raw) = jobs.get(seq_key(id))? else {
                    return Ok(RecordOutcome::Stale);
                };
                let mut job = decode_job(id, &raw).or_else(abort)?;
                if job.state != JobState::Pending || job.attempts != due.job.attempts {
                    return Ok(RecordOutcome::Stale);
                }
                job.attempts += 1;
                let record = AttemptV1 {
                    attempt: job.attempts,
                    ..attempt.clone()
                };
                let encoded = encode(&StoredAttempt::V1(record));
                attempts.insert(&attempt_key(id, job.attempts), encoded)?;
                due_tree.remove(&due_key(due.due_at_ms, id))?;
                match &transition {
                    JobTransition::Delivered => {
                        job.state = JobState::Delivered {
                            at_ms: attempt.at_ms,
                        }
                    }
                    JobTransition::RetryAt { at_ms } => {
                        job.next_attempt_at_ms = *at_ms;
                        due_tree.insert(&due_key(*at_ms, id), &[][..])?;
                    }
                    JobTransition::Dead { reason } => {
                        job.state = JobState::Dead {
                            at_ms: attempt.at_ms,
                            reason: reason.clone(),
                        };
                        dead.insert(&seq_key(id), &[][..])?;
                    }
                }
                jobs.insert(&seq_key(id), encode(&StoredJob::V1(job.clone())))?;
                Ok(RecordOutcome::Recorded(job))
            },
        );
        let outcome = store_only(flatten(result))?;
        if let RecordOutcome::Recorded(job) = &outcome {
            match job.state {
                JobState::Pending => {}
                JobState::Delivered { .. } => self.job_counts.add(&job.target, -1, 0),
                JobState::Dead { .. } => self.job_counts.add(&job.target, -1, 1),
            }
        }
        Ok(outcome)
    }

    /// Moves a due job to `until_ms` without counting an attempt (its target is not configured).
    pub fn postpone(&self, due: &DueJob, until_ms: u64) -> Result<(), StoreError> {
        let id = due.id;
        let result = (&self.jobs, &self.due).transaction(|(jobs, due_tree)| {
            let Some(raw) = jobs.get(seq_key(id))? else {
                return Ok(());
            };
            let mut job = decode_job(id, &raw).or_else(abort)?;
            if job.state != JobState::Pending
                || due_tree.remove(&due_key(due.due_at_ms, id))?.is_none()
            {
                return Ok(());
            }
            job.next_attempt_at_ms = until_ms;
            due_tree.insert(&due_key(until_ms, id), &[][..])?;
            jobs.insert(&seq_key(id), encode(&StoredJob::V1(job)))?;
            Ok(())
        });
        store_only(flatten(result))
    }

    pub fn job(&self, id: u64) -> Result<Option<JobV1>, StoreError> {
        self.jobs
            .get(seq_key(id))?
            .map(|v| decode_job(id, &v))
            .transpose()
    }

    /// A job's attempts, first to last.
    pub fn attempts_of(&self, id: u64) -> Result<Vec<AttemptV1>, StoreError> {
        self.attempts
            .scan_prefix(seq_key(id))
            .map(|kv| match decode::<StoredAttempt>(&kv?.1) {
                Ok(StoredAttempt::V1(a)) => Ok(a),
                Err(e) => Err(StoreError::Corrupt(format!("attempt of job {id}: {e}"))),
            })
            .collect()
    }

    /// Dead-lettered jobs in id order, starting after `after`, at most `limit`.
    pub fn dead_jobs(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, JobV1)>, StoreError> {
        let start = after.map_or(0, |a| a.saturating_add(1));
        let mut out = Vec::new();
        for kv in self.dead.range(seq_key(start)..).take(limit) {
            let id = read_u64(&kv?.0).unwrap_or_default();
            if let Some(job) = self.job(id)? {
                out.push((id, job));
            }
        }
        Ok(out)
    }

    /// Puts a dead job back in the queue, due at `now_ms`, its attempt count kept: with the
    /// count at the policy's limit, the requeued job gets one more attempt before it is dead again.
    pub fn retry_dead(&self, id: u64, now_ms: u64) -> Result<JobV1, QueueError> {
        let result = (&self.jobs, &self.due, &self.dead).transaction(|(jobs, due, dead)| {
            let Some(raw) = jobs.get(seq_key(id))? else {
                return abort(QueueError::JobNotFound(id));
            };
            let mut job = decode_job(id, &raw).or_else(abort)?;
            if !matches!(job.state, JobState::Dead { .. }) {
                return abort(QueueError::NotDead(id));
            }
            job.state = JobState::Pending;
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
    pub fn replay(
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
            .map(|_| self.db().generate_id())
            .collect::<Result<Vec<_>, _>>()
            .map_err(StoreError::from)?;
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
    pub fn events_page(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, EventV1)>, StoreError> {
        let start = after.map_or(0, |a| a.saturating_add(1));
        self.events
            .range(seq_key(start)..)
            .take(limit)
            .map(|kv| {
                let (k, v) = kv?;
                let seq = read_u64(&k).unwrap_or_default();
                Ok((seq, decode_event(seq, &v)?))
            })
            .collect()
    }

    /// An event with its jobs and their attempts.
    pub fn event_detail(&self, seq: u64) -> Result<Option<EventDetail>, StoreError> {
        let Some(event) = self.event(seq)? else {
            return Ok(None);
        };
        let jobs = self
            .jobs_of(seq)?
            .into_iter()
            .map(|(id, job)| {
                Ok(JobDetail {
                    id,
                    job,
                    attempts: self.attempts_of(id)?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Some(EventDetail { seq, event, jobs }))
    }

    /// How many jobs are in the queue (due now or later, including those in flight).
    pub fn queued_count(&self) -> usize {
        self.due.len()
    }
}
