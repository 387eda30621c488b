//! The ingest writer: one thread owns every accept and every fsync. A request hands its prepared
//! event over a channel with a oneshot and awaits. The thread takes everything queued at that
//! moment (up to [`MAX_BATCH`]), writes all the accepts in ONE atomic sled batch
//! ([`write_batch`]), then calls sled's `flush()` (which on Linux only issues `sync_file_range`)
//! and `fdatasync`s sled's log file ONCE, then puts the new jobs in the in-memory due index (so
//! the dispatcher sees them once they are durable, or once written if the fsync failed: the
//! requests were answered 503 and a delivery of an unacknowledged event is harmless), answers
//! every waiter with its own outcome and wakes the dispatcher. A storage error fails the whole
//! batch: every waiter gets it (and answers 503). One write and one fsync serve many requests,
//! and concurrent requests never conflict inside sled.
//!
//! A bare durability wait ([`IngestWriter::sync`]) rides the same batches: it resolves once
//! everything written before it is on disk.

use super::accept_batch::{no_fault, write_batch, DedupWindow, FaultHook, PreparedAccept};
use super::index::Index;
use crate::store::{AcceptOutcome, StoreError};
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use tokio::sync::oneshot;

/// The most requests one batch takes; the rest wait for the next one.
pub const MAX_BATCH: usize = 1024;

type AcceptReply = oneshot::Sender<Result<AcceptOutcome, StoreError>>;
type SyncReply = oneshot::Sender<Result<(), StoreError>>;

enum Request {
    Accept(PreparedAccept, AcceptReply),
    Sync(SyncReply),
}

/// Counters for benchmarks and metrics.
#[derive(Default)]
pub struct CommitStats {
    pub batches: AtomicU64,
    pub waiters: AtomicU64,
    pub failures: AtomicU64,
    /// Told each batch's size, once set (the application's metrics).
    pub observer: std::sync::OnceLock<Box<dyn Fn(usize) + Send + Sync>>,
}

/// What the writer thread needs.
pub(crate) struct WriterParts {
    pub db: sled::Db,
    pub tree: sled::Tree,
    pub dedup: DedupWindow,
    pub index: Arc<Index>,
    pub wake: Arc<tokio::sync::Notify>,
}

pub struct IngestWriter {
    /// `None` only while dropping.
    queue: Option<mpsc::Sender<Request>>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub stats: Arc<CommitStats>,
}

impl IngestWriter {
    pub(crate) fn start(parts: WriterParts, log_file: &Path) -> std::io::Result<Self> {
        Self::start_with_fault(parts, log_file, Box::new(no_fault))
    }

    pub(crate) fn start_with_fault(
        parts: WriterParts,
        log_file: &Path,
        fault: Box<FaultHook>,
    ) -> std::io::Result<Self> {
        let file = File::open(log_file)?;
        let (queue, waiting) = mpsc::channel::<Request>();
        let stats = Arc::new(CommitStats::default());
        let thread_stats = stats.clone();
        let thread = std::thread::Builder::new()
            .name("hookroute-ingest".into())
            .spawn(move || {
                while let Ok(first) = waiting.recv() {
                    let batch =
                        std::iter::once(first).chain(waiting.try_iter().take(MAX_BATCH - 1));
                    let (mut accepts, mut replies, mut syncs) = (vec![], vec![], vec![]);
                    for request in batch {
                        match request {
                            Request::Accept(ev, reply) => {
                                accepts.push(ev);
                                replies.push(reply);
                            }
                            Request::Sync(reply) => syncs.push(reply),
                        }
                    }
                    let result = commit(&parts, &file, &accepts, &*fault);
                    thread_stats.batches.fetch_add(1, Ordering::Relaxed);
                    let size = replies.len() + syncs.len();
                    thread_stats
                        .waiters
                        .fetch_add(size as u64, Ordering::Relaxed);
                    if let Some(observe) = thread_stats.observer.get() {
                        observe(size);
                    }
                    match result {
                        Ok(outcomes) => {
                            if !accepts.is_empty() {
                                parts.wake.notify_one();
                            }
                            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                                let _ = reply.send(Ok(outcome));
                            }
                            for reply in syncs {
                                let _ = reply.send(Ok(()));
                            }
                        }
                        Err(e) => {
                            thread_stats.failures.fetch_add(1, Ordering::Relaxed);
                            for reply in replies {
                                let _ = reply.send(Err(e.clone()));
                            }
                            for reply in syncs {
                                let _ = reply.send(Err(e.clone()));
                            }
                        }
                    }
                }
            })?;
        Ok(Self {
            queue: Some(queue),
            thread: Some(thread),
            stats,
        })
    }

    /// Hands `event` to the writer; resolves with its outcome once it is on disk.
    pub(crate) fn accept(
        &self,
        event: PreparedAccept,
    ) -> oneshot::Receiver<Result<AcceptOutcome, StoreError>> {
        let (tx, rx) = oneshot::channel();
        if let Some(Request::Accept(_, tx)) = self.send(Request::Accept(event, tx)) {
            let _ = tx.send(Err(stopped()));
        }
        rx
    }

    /// Resolves once everything written before this call is on disk.
    pub fn sync(&self) -> oneshot::Receiver<Result<(), StoreError>> {
        let (tx, rx) = oneshot::channel();
        if let Some(Request::Sync(tx)) = self.send(Request::Sync(tx)) {
            let _ = tx.send(Err(stopped()));
        }
        rx
    }

    /// Queues `request`; gives it back if the writer has stopped.
    fn send(&self, request: Request) -> Option<Request> {
        match &self.queue {
            Some(queue) => queue.send(request).err().map(|mpsc::SendError(r)| r),
            None => Some(request),
        }
    }
}

pub(crate) fn stopped() -> StoreError {
    StoreError::storage("the ingest writer has stopped")
}

/// One batch: the write, flush + fdatasync, and the new jobs into the due index.
fn commit(
    parts: &WriterParts,
    file: &File,
    accepts: &[PreparedAccept],
    fault: &FaultHook,
) -> Result<Vec<AcceptOutcome>, StoreError> {
    let outcomes = if accepts.is_empty() {
        vec![]
    } else {
        write_batch(&parts.tree, accepts, parts.dedup, fault)?
    };
    let durable = parts
        .db
        .flush()
        .map_err(|e| StoreError::caused("flush", e))
        .and_then(|_| {
            file.sync_data()
                .map_err(|e| StoreError::caused("fdatasync", e))
        });
    // Indexed even when the fsync failed: the records are in the tree (the requests are
    // answered 503, the provider's retry is then a duplicate), and a job in the tree must be in
    // the due order or it would wait for the next start to be delivered.
    index_accepted(&parts.index, accepts, &outcomes);
    durable.map(|()| outcomes)
}

/// Puts the jobs of the accepted events of a written batch in the due index.
pub(crate) fn index_accepted(
    index: &Index,
    accepts: &[PreparedAccept],
    outcomes: &[AcceptOutcome],
) {
    let mut index = index.lock();
    for (ev, outcome) in accepts.iter().zip(outcomes) {
        if matches!(outcome, AcceptOutcome::Accepted { .. }) {
            for (id, target, key) in ev.job_ids() {
                index.pending(id, ev.accepted_at_ms, target.clone(), key.cloned());
            }
        }
    }
}

impl Drop for IngestWriter {
    /// Stops the thread and waits for it, so that its handle on the database is gone (and the
    /// store's lock released) once the store is dropped.
    fn drop(&mut self) {
        self.queue.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{IngestStore, NewEvent, SledStore};
    use std::time::Duration;

    fn event<'a>(id: &'a str, targets: &'a [Arc<str>]) -> NewEvent<'a> {
        NewEvent {
            endpoint: "in",
            event_id: id,
            event_type: None,
            received_at_ms: 1_000,
            headers: vec![],
            body: id.as_bytes(),
            targets,
            ordering_keys: &[],
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_waiter_gets_the_outcome_of_its_own_event() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SledStore::open(dir.path(), Duration::from_secs(3600)).unwrap());
        let targets: Arc<[Arc<str>]> = vec![Arc::from("t")].into();
        // 60 requests at once over 20 ids: each id three times, so batches hold copies.
        let tasks: Vec<_> = (0..60)
            .map(|i| {
                let (store, targets) = (store.clone(), targets.clone());
                tokio::spawn(async move {
                    let id = format!("e{}", i % 20);
                    let outcome = store.accept_durable(event(&id, &targets)).await;
                    (id, outcome.unwrap())
                })
            })
            .collect();
        let mut accepted = std::collections::HashMap::new();
        let mut duplicates = vec![];
        for task in tasks {
            match task.await.unwrap() {
                (
                    id,
                    AcceptOutcome::Accepted {
                        event_seq,
                        deliveries,
                    },
                ) => {
                    assert_eq!(deliveries, 1);
                    let stored = store.event(event_seq).unwrap().unwrap();
                    assert_eq!(stored.event_id, id, "the waiter got another event's seq");
                    assert_eq!(store.body(event_seq).unwrap(), id.as_bytes());
                    assert!(accepted.insert(id, event_seq).is_none(), "accepted twice");
                }
                (id, AcceptOutcome::Duplicate { event_seq }) => duplicates.push((id, event_seq)),
            }
        }
        assert_eq!(accepted.len(), 20);
        assert_eq!(duplicates.len(), 40);
        for (id, seq) in duplicates {
            assert_eq!(accepted[&id], seq, "a duplicate points at the first copy");
        }
        assert_eq!(store.counts().events, 20);
        assert_eq!(store.index.of("t").pending, 20);
        let stats = store.commit_stats();
        assert_eq!(stats.waiters.load(Ordering::Relaxed), 60);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_storage_error_answers_every_waiter_and_stores_nothing_of_the_batch() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let tree = db.open_tree("t").unwrap();
        let index = Arc::new(Index::default());
        let parts = WriterParts {
            db: db.clone(),
            tree: tree.clone(),
            dedup: DedupWindow {
                ttl_ms: 60_000,
                bucket_ms: 60_000,
            },
            index: index.clone(),
            wake: Default::default(),
        };
        let seq = std::sync::atomic::AtomicU64::new(1);
        // Every event is written into the transaction, then the batch fails at its last one.
        let fail = Box::new(|_: usize| Err(StoreError::storage("No space left on device")));
        let writer = IngestWriter::start_with_fault(parts, &dir.path().join("db"), fail).unwrap();
        let targets: Vec<Arc<str>> = vec!["t".into()];
        let replies: Vec<_> = (0..10)
            .map(|i| {
                let ev = PreparedAccept::prepare(&seq, event(&format!("e{i}"), &targets)).unwrap();
                writer.accept(ev)
            })
            .collect();
        for reply in replies {
            let err = reply.await.unwrap().expect_err("the batch failed");
            assert_eq!(err.to_string(), "storage failure: No space left on device");
        }
        assert!(tree.is_empty());
        assert_eq!(index.of("t").pending, 0);
        assert!(writer.stats.failures.load(Ordering::Relaxed) >= 1);
    }
}
