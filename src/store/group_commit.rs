//! Group commit: one thread makes writes durable for everyone waiting. A request that has
//! written its transaction asks for durability; the thread takes every request waiting at that
//! moment, calls sled's `flush()` (which on Linux only issues `sync_file_range`), then
//! `fdatasync`s sled's log file, and releases the whole batch with the result. One fsync serves
//! many requests, which is what lets durable ingest go past the disk's fsync rate.

use super::StoreError;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use tokio::sync::oneshot;

type Waiter = oneshot::Sender<Result<(), StoreError>>;

/// Counters for benchmarks and metrics.
#[derive(Debug, Default)]
pub struct CommitStats {
    pub batches: AtomicU64,
    pub waiters: AtomicU64,
    pub failures: AtomicU64,
    /// The application's metrics, once attached: each batch's size is observed there.
    pub metrics: std::sync::OnceLock<Arc<crate::metrics::Metrics>>,
}

pub struct GroupCommit {
    /// `None` only while dropping.
    queue: Option<mpsc::Sender<Waiter>>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub stats: Arc<CommitStats>,
}

impl GroupCommit {
    pub fn start(db: sled::Db, log_file: &Path) -> std::io::Result<Self> {
        let file = File::open(log_file)?;
        let (queue, waiting) = mpsc::channel::<Waiter>();
        let stats = Arc::new(CommitStats::default());
        let thread_stats = stats.clone();
        let thread = std::thread::Builder::new()
            .name("hookroute-commit".into())
            .spawn(move || {
                while let Ok(first) = waiting.recv() {
                    let mut batch = vec![first];
                    batch.extend(waiting.try_iter());
                    let result = db
                        .flush()
                        .map_err(|e| StoreError::Storage(format!("flush: {e}")))
                        .and_then(|_| {
                            file.sync_data()
                                .map_err(|e| StoreError::Storage(format!("fdatasync: {e}")))
                        });
                    thread_stats.batches.fetch_add(1, Ordering::Relaxed);
                    thread_stats
                        .waiters
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    if let Some(metrics) = thread_stats.metrics.get() {
                        metrics.commit_batch(batch.len());
                    }
                    if result.is_err() {
                        thread_stats.failures.fetch_add(1, Ordering::Relaxed);
                    }
                    for w in batch {
                        let _ = w.send(result.clone());
                    }
                }
            })?;
        Ok(Self {
            queue: Some(queue),
            thread: Some(thread),
            stats,
        })
    }

    /// Resolves once everything written before this call is on disk.
    pub fn wait(&self) -> oneshot::Receiver<Result<(), StoreError>> {
        let (tx, rx) = oneshot::channel();
        let sent = match &self.queue {
            Some(queue) => queue.send(tx).map_err(|mpsc::SendError(tx)| tx),
            None => Err(tx),
        };
        if let Err(tx) = sent {
            let _ = tx.send(Err(StoreError::Storage(
                "the commit thread has stopped".into(),
            )));
        }
        rx
    }
}

impl Drop for GroupCommit {
    /// Stops the thread and waits for it, so that its handle on the database is gone (and the
    /// store's lock released) once the store is dropped.
    fn drop(&mut self) {
        self.queue.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
