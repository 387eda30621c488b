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
}

pub struct GroupCommit {
    queue: mpsc::Sender<Waiter>,
    pub stats: Arc<CommitStats>,
}

impl GroupCommit {
    pub fn start(db: sled::Db, log_file: &Path) -> std::io::Result<Self> {
        let file = File::open(log_file)?;
        let (queue, waiting) = mpsc::channel::<Waiter>();
        let stats = Arc::new(CommitStats::default());
        let thread_stats = stats.clone();
        std::thread::Builder::new()
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
                    if result.is_err() {
                        thread_stats.failures.fetch_add(1, Ordering::Relaxed);
                    }
                    for w in batch {
                        let _ = w.send(result.clone());
                    }
                }
            })?;
        Ok(Self { queue, stats })
    }

    /// Resolves once everything written before this call is on disk.
    pub fn wait(&self) -> oneshot::Receiver<Result<(), StoreError>> {
        let (tx, rx) = oneshot::channel();
        if let Err(mpsc::SendError(tx)) = self.queue.send(tx) {
            let _ = tx.send(Err(StoreError::Storage(
                "the commit thread has stopped".into(),
            )));
        }
        rx
    }
}
