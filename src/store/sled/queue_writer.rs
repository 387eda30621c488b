//! The queue writer: one thread owns every change to an existing job (an attempt's outcome, a
//! postponement, a dead letter retried, a replay's new jobs, retention's removals). It takes
//! whatever is queued (up to [`MAX_BATCH`]), decides each operation against the records as the
//! batch leaves them, writes them all with ONE `apply_batch`, then moves the in-memory index, ends
//! the claims and answers. No fsync is waited for: an outcome lost in a crash costs a repeated
//! attempt, never a job (the README says what a crash can repeat); the next group commit of the
//! ingest writer, or sled's own flush, makes it durable. One writer means no two changes to a
//! job ever race, so no transaction is needed.

use super::index::{Index, IndexState};
use super::keys::*;
use super::records::*;
use super::retention::Candidate;
use crate::store::leases::Leases;
use crate::store::model::*;
use crate::store::{QueueError, StoreError};
use std::collections::HashMap;
use std::sync::{mpsc, Arc};
use tokio::sync::oneshot;

/// The most operations one batch takes.
pub const MAX_BATCH: usize = 1024;

pub(crate) enum QueueOp {
    Record {
        claim: ClaimedJob,
        attempt: Attempt,
        transition: JobTransition,
        reply: oneshot::Sender<Result<RecordOutcome, StoreError>>,
    },
    Postpone {
        claim: ClaimedJob,
        until_ms: u64,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    RetryDead {
        id: JobId,
        now_ms: u64,
        reply: oneshot::Sender<Result<Job, QueueError>>,
    },
    Replay {
        seq: EventSeq,
        targets: Vec<Arc<str>>,
        now_ms: u64,
        reply: oneshot::Sender<Result<Vec<JobId>, QueueError>>,
    },
    Prune {
        candidates: Vec<Candidate>,
        reply: oneshot::Sender<Result<PruneReport, StoreError>>,
    },
}

/// What the thread works with.
pub(crate) struct QueueParts {
    pub tree: sled::Tree,
    pub index: Arc<Index>,
    pub leases: Arc<Leases>,
    pub wake: Arc<tokio::sync::Notify>,
}

pub(crate) struct QueueWriter {
    queue: Option<mpsc::Sender<QueueOp>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl QueueWriter {
    pub fn start(parts: QueueParts) -> std::io::Result<Self> {
        let (queue, ops) = mpsc::channel::<QueueOp>();
        let thread = std::thread::Builder::new()
            .name("hookroute-queue".into())
            .spawn(move || {
                while let Ok(first) = ops.recv() {
                    let batch: Vec<QueueOp> = std::iter::once(first)
                        .chain(ops.try_iter().take(MAX_BATCH - 1))
                        .collect();
                    run_batch(&parts, batch);
                }
            })?;
        Ok(Self {
            queue: Some(queue),
            thread: Some(thread),
        })
    }

    /// Queues `op`; a stopped writer answers it with an error.
    pub fn send(&self, op: QueueOp) {
        let Some(queue) = &self.queue else {
            return fail(op, stopped());
        };
        if let Err(mpsc::SendError(op)) = queue.send(op) {
            fail(op, stopped());
        }
    }
}

impl Drop for QueueWriter {
    fn drop(&mut self) {
        self.queue.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn stopped() -> StoreError {
    StoreError::storage("the queue writer has stopped")
}

/// Answers `op` with `e`.
fn fail(op: QueueOp, e: StoreError) {
    match op {
        QueueOp::Record { reply, .. } => drop(reply.send(Err(e))),
        QueueOp::Postpone { reply, .. } => drop(reply.send(Err(e))),
        QueueOp::RetryDead { reply, .. } => drop(reply.send(Err(e.into()))),
        QueueOp::Replay { reply, .. } => drop(reply.send(Err(e.into()))),
        QueueOp::Prune { reply, .. } => drop(reply.send(Err(e))),
    }
}

/// A change to the index, made once the batch is written.
pub(super) enum IndexChange {
    Moved {
        id: JobId,
        from: u64,
        to: u64,
    },
    Delivered {
        id: JobId,
        due: u64,
        target: Arc<str>,
    },
    Died {
        id: JobId,
        due: u64,
        target: Arc<str>,
    },
    Revived {
        id: JobId,
        at: u64,
        target: Arc<str>,
        key: Option<Arc<str>>,
    },
    Pending {
        id: JobId,
        at: u64,
        target: Arc<str>,
    },
    Pruned {
        id: JobId,
        target: Arc<str>,
    },
}

impl IndexChange {
    fn apply(self, index: &mut IndexState) {
        match self {
            IndexChange::Moved { id, from, to } => index.moved(id, from, to),
            IndexChange::Delivered { id, due, target } => index.delivered(id, due, &target),
            IndexChange::Died { id, due, target } => index.died(id, due, &target),
            IndexChange::Revived {
                id,
                at,
                target,
                key,
            } => index.revived(id, at, target, key),
            IndexChange::Pending { id, at, target } => index.pending(id, at, target, None),
            IndexChange::Pruned { id, target } => index.pruned(id, &target),
        }
    }
}

/// An answer decided while building the batch, sent once it is written (or its error).
enum Answer {
    Record(
        oneshot::Sender<Result<RecordOutcome, StoreError>>,
        RecordOutcome,
    ),
    Unit(oneshot::Sender<Result<(), StoreError>>),
    Job(
        oneshot::Sender<Result<Job, QueueError>>,
        Result<Job, QueueError>,
    ),
    Jobs(
        oneshot::Sender<Result<Vec<JobId>, QueueError>>,
        Result<Vec<JobId>, QueueError>,
    ),
    Pruned(
        oneshot::Sender<Result<PruneReport, StoreError>>,
        PruneReport,
    ),
}

impl Answer {
    fn send(self, failed: Option<&StoreError>) {
        match (self, failed) {
            (Answer::Record(r, v), None) => drop(r.send(Ok(v))),
            (Answer::Record(r, _), Some(e)) => drop(r.send(Err(e.clone()))),
            (Answer::Unit(r), None) => drop(r.send(Ok(()))),
            (Answer::Unit(r), Some(e)) => drop(r.send(Err(e.clone()))),
            (Answer::Job(r, v), None) => drop(r.send(v)),
            (Answer::Job(r, v), Some(e)) => drop(r.send(v.and(Err(e.clone().into())))),
            (Answer::Jobs(r, v), None) => drop(r.send(v)),
            (Answer::Jobs(r, v), Some(e)) => drop(r.send(v.and(Err(e.clone().into())))),
            (Answer::Pruned(r, v), None) => drop(r.send(Ok(v))),
            (Answer::Pruned(r, _), Some(e)) => drop(r.send(Err(e.clone()))),
        }
    }
}

/// One batch being built: the write, the job records as it leaves them, what follows it.
pub(super) struct Batch<'a> {
    pub(super) parts: &'a QueueParts,
    pub(super) write: sled::Batch,
    /// Jobs changed by this batch so far (`None`: removed).
    pub(super) jobs: HashMap<JobId, Option<JobV2>>,
    /// Next job index per event replayed in this batch.
    pub(super) next_index: HashMap<EventSeq, u64>,
    pub(super) changes: Vec<IndexChange>,
    /// Claims to end once written: (job, token).
    ended: Vec<(JobId, u64)>,
    answers: Vec<Answer>,
    pub(super) wake: bool,
}

fn run_batch(parts: &QueueParts, ops: Vec<QueueOp>) {
    let mut batch = Batch {
        parts,
        write: sled::Batch::default(),
        jobs: HashMap::new(),
        next_index: HashMap::new(),
        changes: Vec::new(),
        ended: Vec::new(),
        answers: Vec::new(),
        wake: false,
    };
    let mut failed = None;
    for op in ops {
        if let Some(e) = &failed {
            fail(op, StoreError::clone(e));
            continue;
        }
        if let Err(e) = batch.add(op) {
            failed = Some(e);
        }
    }
    let Batch {
        write,
        changes,
        ended,
        answers,
        wake,
        ..
    } = batch;
    let written = match failed {
        Some(e) => Err(e),
        None => parts.tree.apply_batch(write).map_err(super::engine_error),
    };
    if written.is_ok() {
        let mut index = parts.index.lock();
        for change in changes {
            change.apply(&mut index);
        }
    }
    for (id, token) in ended {
        parts.leases.end(id, token);
    }
    for answer in answers {
        answer.send(written.as_ref().err());
    }
    if written.is_ok() && wake {
        parts.wake.notify_one();
    }
}

impl Batch<'_> {
    /// The job as this batch leaves it.
    pub(super) fn job(&self, id: JobId) -> Result<Option<JobV2>, StoreError> {
        if let Some(job) = self.jobs.get(&id) {
            return Ok(job.clone());
        }
        let raw = self
            .parts
            .tree
            .get(job_key(id))
            .map_err(super::engine_error)?;
        raw.map(|v| decode_job(id, &v)).transpose()
    }

    pub(super) fn put_job(&mut self, id: JobId, job: JobV2) {
        self.write
            .insert(&job_key(id)[..], encode(&StoredJob::V2(job.clone())));
        self.jobs.insert(id, Some(job));
    }

    /// Decides one operation into the batch. An error is the store's: the whole batch fails.
    fn add(&mut self, op: QueueOp) -> Result<(), StoreError> {
        match op {
            QueueOp::Record {
                claim,
                attempt,
                transition,
                reply,
            } => {
                let outcome = self.record(&claim, attempt, transition)?;
                self.ended.push((claim.id, claim.lease.token));
                self.answers.push(Answer::Record(reply, outcome));
            }
            QueueOp::Postpone {
                claim,
                until_ms,
                reply,
            } => {
                self.postpone(&claim, until_ms)?;
                self.ended.push((claim.id, claim.lease.token));
                self.answers.push(Answer::Unit(reply));
            }
            QueueOp::RetryDead { id, now_ms, reply } => {
                let answer = self.retry_dead(id, now_ms)?;
                self.answers.push(Answer::Job(reply, answer));
            }
            QueueOp::Replay {
                seq,
                targets,
                now_ms,
                reply,
            } => {
                let answer = self.replay(seq, &targets, now_ms)?;
                self.answers.push(Answer::Jobs(reply, answer));
            }
            QueueOp::Prune { candidates, reply } => {
                let report = self.prune(candidates)?;
                self.answers.push(Answer::Pruned(reply, report));
            }
        }
        Ok(())
    }
}
