//! The sled engine: every store trait implemented on sled 0.34, on-disk layout v2 (`keys`): one
//! tree, one atomic batch per group commit, at most three records per accepted single-target
//! event (dedup marker, event with its body inline, job). Two threads write: the ingest writer
//! (`ingest_writer`: batched accepts, one fsync per batch; durability comes from that thread,
//! never from sled alone) and the queue writer (`queue_writer`: every change to an existing job,
//! many attempts per batch, no fsync wait). What can be rebuilt is rebuilt at open (`index`: due
//! order, dead letters, counts). The trait methods (`seam`) run the blocking calls on tokio's
//! blocking pool; claims are leases kept in memory (one process owns a sled store, so a lease
//! dies with it and its job is due again at the next start). A v1 store is migrated at open
//! (`migrate`).
//!
//! No sled type leaves this module.

mod accept_batch;
mod index;
pub mod ingest_writer;
mod keys;
mod migrate;
mod queue;
mod queue_ops;
mod queue_writer;
mod records;
mod retention;
mod seam;

pub use ingest_writer::CommitStats;
pub use retention::PRUNE_BATCH;

use self::accept_batch::{no_fault, write_batch, DedupWindow, PreparedAccept};
use self::index::Index;
use self::ingest_writer::{index_accepted, stopped, IngestWriter, WriterParts};
use self::keys::*;
use self::queue_writer::{QueueParts, QueueWriter};
use self::records::*;
use super::leases::Leases;
use super::quota::{free_space, DiskUsage, SpaceLimits};
use super::{AcceptOutcome, NewEvent, StoreCounts, StoreError};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

/// Longest wait for the group commit before an event is answered 503.
pub const COMMIT_TIMEOUT: Duration = Duration::from_secs(10);

/// sled's page cache unless `storage.cache_size` says otherwise: measured with
/// `bench/backlog_rss.sh` and `bench/run.sh` (BENCHMARKS.md), it keeps RSS with a 100k-event
/// backlog under 150 MiB.
pub const DEFAULT_CACHE_SIZE: u64 = 32 << 20;

/// The tree layout v2 keeps everything in.
const TREE: &str = "v2";

/// A sled store. Cloning it clones handles: every clone is the same store.
#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    pub(crate) tree: sled::Tree,
    /// Notified after each accepted event (and each requeue), so the dispatcher wakes at once.
    pub(crate) wake: Arc<tokio::sync::Notify>,
    /// Due order, dead letters and counts, rebuilt at open.
    pub(crate) index: Arc<Index>,
    /// Claims in force (this process's dispatcher holds them).
    pub(crate) leases: Arc<Leases>,
    pub(crate) next_seq: Arc<AtomicU64>,
    pub(crate) dedup: DedupWindow,
    writer: Arc<IngestWriter>,
    pub(crate) queue: Arc<QueueWriter>,
    usage: Arc<DiskUsage>,
    free: Arc<DiskUsage>,
    dir: Arc<Path>,
}

impl SledStore {
    /// Opens (or creates) the store in `dir` with the default cache. Fails if another process
    /// holds it.
    pub fn open(dir: &Path, dedup_ttl: Duration) -> Result<Self, StoreError> {
        Self::open_with_cache(dir, dedup_ttl, DEFAULT_CACHE_SIZE)
    }

    /// Opens (or creates) the store in `dir`, with sled's page cache at `cache_size` bytes. A
    /// store in layout v1 is migrated to v2 first (logged).
    pub fn open_with_cache(
        dir: &Path,
        dedup_ttl: Duration,
        cache_size: u64,
    ) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::caused(format!("cannot create {}", dir.display()), e))?;
        let db = sled::Config::new()
            .path(dir)
            .mode(sled::Mode::HighThroughput)
            .cache_capacity(cache_size)
            .open()
            .map_err(|e| {
                StoreError::caused(format!("cannot open the store in {}", dir.display()), e)
            })?;
        let tree = db.open_tree(TREE).map_err(engine_error)?;
        let ttl_ms = (dedup_ttl.as_millis() as u64).max(1);
        let bucket_ms = match read_meta(&tree, DEDUP_BUCKET)? {
            Some(ms) => ms.max(1),
            None => {
                // Fixed when the store is created: a later dedup_ttl reads more or fewer buckets.
                tree.insert(DEDUP_BUCKET, &ttl_ms.max(1000).to_be_bytes()[..])
                    .map_err(engine_error)?;
                ttl_ms.max(1000)
            }
        };
        let dedup = DedupWindow { ttl_ms, bucket_ms };
        migrate::to_v2(&db, &tree, dedup, &dir.join("db"))?;
        let index = Arc::new(Index::default());
        let next_seq = rebuild(&tree, &index)?;
        let wake = Arc::new(tokio::sync::Notify::new());
        let leases = Arc::new(Leases::default());
        let parts = WriterParts {
            db: db.clone(),
            tree: tree.clone(),
            dedup,
            index: index.clone(),
            wake: wake.clone(),
        };
        let writer = IngestWriter::start(parts, &dir.join("db"))
            .map_err(|e| StoreError::caused("cannot open sled's log file", e))?;
        let queue = QueueWriter::start(QueueParts {
            tree: tree.clone(),
            index: index.clone(),
            leases: leases.clone(),
            wake: wake.clone(),
        })
        .map_err(|e| StoreError::caused("cannot start the queue writer", e))?;
        Ok(Self {
            db,
            tree,
            wake,
            index,
            leases,
            next_seq: Arc::new(AtomicU64::new(next_seq)),
            dedup,
            writer: Arc::new(writer),
            queue: Arc::new(queue),
            usage: Arc::default(),
            free: Arc::default(),
            dir: Arc::from(dir),
        })
    }

    /// Reports each group commit's size (requests served by one batch and one fsync).
    pub fn observe_commits(&self, observe: Box<dyn Fn(usize) + Send + Sync>) {
        let _ = self.writer.stats.observer.set(observe);
    }

    pub fn commit_stats(&self) -> Arc<CommitStats> {
        self.writer.stats.clone()
    }

    pub(crate) fn event(&self, seq: u64) -> Result<Option<EventV2>, StoreError> {
        self.tree
            .get(event_key(seq))
            .map_err(engine_error)?
            .map(|v| decode_event(seq, &v))
            .transpose()
    }

    /// The event's body (empty if it is gone).
    pub fn body(&self, seq: u64) -> Result<Vec<u8>, StoreError> {
        let Some(event) = self.event(seq)? else {
            return Ok(Vec::new());
        };
        if let Some(body) = event.body {
            return Ok(body);
        }
        let mut body = Vec::with_capacity(event.body_len as usize);
        for chunk in self.tree.scan_prefix(body_prefix(seq)).values() {
            body.extend_from_slice(&chunk.map_err(engine_error)?);
        }
        Ok(body)
    }

    /// The event accepted for `(endpoint, event id)` the store still remembers, if any.
    pub fn find_event(&self, endpoint: &str, event_id: &str) -> Result<Option<u64>, StoreError> {
        let newest = self
            .tree
            .range(dedup_bucket_start(0)..dedup_bucket_start(u64::MAX))
            .keys()
            .next_back()
            .transpose()
            .map_err(engine_error)?;
        let Some(bucket) = newest.as_deref().and_then(bucket_of) else {
            return Ok(None);
        };
        // Markers are pruned a window after they expire: two windows back reach every one.
        let span = 2 * self.dedup.ttl_ms.div_ceil(self.dedup.bucket_ms) + 1;
        let newest_ms = bucket.saturating_mul(self.dedup.bucket_ms);
        self.dedup
            .find(&self.tree, endpoint, event_id, newest_ms, span)
    }

    /// The jobs of one event, in id order (its key prefix).
    pub(crate) fn jobs_of(&self, seq: u64) -> Result<Vec<(u64, JobV2)>, StoreError> {
        self.tree
            .scan_prefix(jobs_prefix(seq))
            .map(|kv| {
                let (k, v) = kv.map_err(engine_error)?;
                let id = read_u64(&k[1..]).unwrap_or_default();
                Ok((id, decode_job(id, &v)?))
            })
            .collect()
    }

    /// The store's size on disk, as sled counts it (its data file and blobs), cached for
    /// [`super::quota::USAGE_REFRESH`].
    pub fn size_on_disk(&self) -> u64 {
        self.usage
            .current(|| self.db.size_on_disk().ok())
            .unwrap_or(0)
    }

    /// The store's size on disk measured now, not cached.
    pub fn size_on_disk_now(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(engine_error)
    }

    /// Writes sled's buffers out (not an fsync: see [`SledStore::durable`]).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(drop).map_err(engine_error)
    }

    /// How many events, jobs and queued jobs the store holds.
    pub fn counts(&self) -> StoreCounts {
        let count = |prefix: u8| self.tree.scan_prefix([prefix]).count();
        StoreCounts {
            events: count(EVENT),
            jobs: count(JOB),
            queued: self.index.lock().due.len(),
        }
    }

    /// Bytes of every key and value in every tree: the logical size the data takes, to compare
    /// with the size on disk (the soak's space amplification).
    pub fn logical_size(&self) -> Result<u64, StoreError> {
        let mut bytes = 0u64;
        for name in self.db.tree_names() {
            let tree = self.db.open_tree(&name).map_err(engine_error)?;
            for kv in tree.iter() {
                let (k, v) = kv.map_err(engine_error)?;
                bytes += (k.len() + v.len()) as u64;
            }
        }
        Ok(bytes)
    }
}

/// A sled error as a store error, its cause kept.
pub(crate) fn engine_error(e: sled::Error) -> StoreError {
    StoreError::caused("sled", e)
}

fn read_meta(tree: &sled::Tree, key: &[u8]) -> Result<Option<u64>, StoreError> {
    Ok(tree
        .get(key)
        .map_err(engine_error)?
        .as_deref()
        .and_then(read_u64))
}

/// Rebuilds the in-memory index from the job records; returns the next event seq.
fn rebuild(tree: &sled::Tree, index: &Index) -> Result<u64, StoreError> {
    let mut state = index.lock();
    let mut targets: std::collections::HashMap<String, Arc<str>> = Default::default();
    for kv in tree.scan_prefix([JOB]) {
        let (k, v) = kv.map_err(engine_error)?;
        let id = read_u64(&k[1..]).unwrap_or_default();
        let job = decode_job(id, &v)?;
        let target = targets
            .entry(job.target.clone())
            .or_insert_with(|| Arc::from(job.target.as_str()))
            .clone();
        match job.state {
            JobStateV1::Pending => state.pending(
                id,
                job.next_attempt_at_ms,
                target,
                job.ordering_key.as_deref().map(Arc::from),
            ),
            JobStateV1::Dead { .. } => {
                state.pending(id, 0, target.clone(), None);
                state.died(id, 0, &target);
            }
            JobStateV1::Delivered { .. } => {}
        }
    }
    let last_event = tree
        .range(event_key(0)..=event_key(u64::MAX))
        .keys()
        .next_back()
        .transpose()
        .map_err(engine_error)?
        .and_then(|k| read_u64(&k[1..]));
    let recorded = read_meta(tree, NEXT_SEQ)?.unwrap_or(1);
    Ok(recorded.max(last_event.map_or(1, |s| s + 1)).max(1))
}

impl SledStore {
    /// Stores one event with its own batch, outside the ingest writer, and does NOT wait for it
    /// to be durable (call [`SledStore::durable`]). For tools, tests and benchmarks that fill a
    /// store; the ingress uses `IngestStore::accept_durable`.
    pub fn accept(&self, ev: NewEvent<'_>) -> Result<AcceptOutcome, StoreError> {
        let prepared = [PreparedAccept::prepare(&self.next_seq, ev)?];
        let outcomes = write_batch(&self.tree, &prepared, self.dedup, &no_fault)?;
        index_accepted(&self.index, &prepared, &outcomes);
        self.wake.notify_one();
        Ok(outcomes[0])
    }

    /// Resolves once every write made before the call is durable on disk; gives up after
    /// [`COMMIT_TIMEOUT`] like `IngestStore::accept_durable`.
    pub fn durable(&self) -> BoxFuture<'static, Result<(), StoreError>> {
        let wait = self.writer.sync();
        async move {
            within_commit_timeout(async move { wait.await.unwrap_or_else(|_| Err(stopped())) })
                .await
        }
        .boxed()
    }

    pub(crate) fn accept_through_writer(
        &self,
        ev: NewEvent<'_>,
    ) -> BoxFuture<'static, Result<AcceptOutcome, StoreError>> {
        // Space checks (quota, free space) run before this, in the pipeline through
        // `IngestStore::check_space`: nothing refused is handed to the writer.
        let written = PreparedAccept::prepare(&self.next_seq, ev).map(|ev| self.writer.accept(ev));
        async move {
            match written {
                Ok(reply) => {
                    within_commit_timeout(
                        async move { reply.await.unwrap_or_else(|_| Err(stopped())) },
                    )
                    .await
                }
                Err(e) => Err(e),
            }
        }
        .boxed()
    }

    pub(crate) fn space_check(&self, limits: SpaceLimits) -> Result<(), StoreError> {
        if let Some(limit) = limits.max_size {
            let used = self.size_on_disk();
            if used >= limit {
                return Err(StoreError::QuotaReached { used, limit });
            }
        }
        if limits.min_free_space > 0 {
            let free = self
                .free
                .current(|| free_space(&self.dir))
                .unwrap_or(u64::MAX);
            if free < limits.min_free_space {
                return Err(StoreError::LowDiskSpace {
                    free,
                    min_free: limits.min_free_space,
                });
            }
        }
        Ok(())
    }
}

/// Gives up after [`COMMIT_TIMEOUT`]: a write or flush that never returns (sled after ENOSPC)
/// must end in a 503, not in a request that hangs.
async fn within_commit_timeout<T>(
    wait: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(COMMIT_TIMEOUT, wait).await {
        Ok(answer) => answer,
        Err(_) => Err(StoreError::storage(format!(
            "the write was not made durable within {COMMIT_TIMEOUT:?}"
        ))),
    }
}
