//! The sled engine: every store trait implemented on sled 0.34, on-disk format v1. Trees: `events` (seq -> event), `bodies` (seq+chunk ->
//! bytes), `dedup` (endpoint\0id -> seq+time), `jobs` (job id -> job), `due` (time+job id, the
//! dispatcher's queue), `event_jobs` (seq+job id -> empty: an event's jobs), `attempts` (job
//! id+attempt no -> attempt), `dead` (job id -> empty, the dead-letter list). Every accept of the
//! ingress goes through the ingest writer (`ingest_writer`: batched transactions, one fsync per
//! batch); durability comes from that thread, never from sled alone. The trait methods
//! (`seam`) run the engine's blocking calls on tokio's blocking pool; claims are leases kept in
//! memory (`leases`): one process owns a sled store, so a lease dies with it and its job is due
//! again at the next start.
//!
//! No sled type leaves this module.

mod accept_batch;
pub mod ingest_writer;
mod job_counts;
mod queue;
mod records;
mod retention;
mod seam;

pub use ingest_writer::CommitStats;
pub use retention::PRUNE_BATCH;

use self::accept_batch::{no_fault, write_batch, IngestTrees, PreparedAccept};
use self::ingest_writer::{stopped, IngestWriter, WriterParts};
use self::job_counts::JobCounts;
use self::records::*;
use super::leases::Leases;
use super::quota::{free_space, DiskUsage, SpaceLimits};
use super::{AcceptOutcome, NewEvent, StoreCounts, StoreError};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Longest wait for the group commit before an event is answered 503.
pub const COMMIT_TIMEOUT: Duration = Duration::from_secs(10);

/// sled's page cache unless `storage.cache_size` says otherwise: measured with
/// `bench/backlog_rss.sh` and `bench/run.sh` (BENCHMARKS.md), it keeps RSS with a 100k-event
/// backlog under 150 MiB.
pub const DEFAULT_CACHE_SIZE: u64 = 32 << 20;

/// A sled store. Cloning it clones handles: every clone is the same store.
#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    pub(crate) events: sled::Tree,
    pub(crate) bodies: sled::Tree,
    pub(crate) dedup: sled::Tree,
    pub(crate) jobs: sled::Tree,
    pub(crate) due: sled::Tree,
    pub(crate) event_jobs: sled::Tree,
    pub(crate) attempts: sled::Tree,
    pub(crate) dead: sled::Tree,
    /// Notified after each accepted event (and each requeue), so the dispatcher wakes at once.
    pub(crate) wake: Arc<tokio::sync::Notify>,
    /// Pending and dead jobs per target, for the metrics (seeded at open, moved by each change).
    pub(crate) job_counts: Arc<JobCounts>,
    /// Claims in force (this process's dispatcher holds them).
    pub(crate) leases: Arc<Leases>,
    dedup_ttl_ms: u64,
    writer: Arc<IngestWriter>,
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

    /// Opens (or creates) the store in `dir`, with sled's page cache at `cache_size` bytes.
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
        let trees = IngestTrees::open(&db).map_err(engine_error)?;
        let wake = Arc::new(tokio::sync::Notify::new());
        let job_counts = Arc::new(JobCounts::default());
        let dedup_ttl_ms = dedup_ttl.as_millis() as u64;
        let parts = WriterParts {
            db: db.clone(),
            trees: trees.clone(),
            dedup_ttl_ms,
            job_counts: job_counts.clone(),
            wake: wake.clone(),
        };
        let writer = IngestWriter::start(parts, &dir.join("db"))
            .map_err(|e| StoreError::caused("cannot open sled's log file", e))?;
        let store = Self {
            events: trees.events,
            bodies: trees.bodies,
            dedup: trees.dedup,
            jobs: trees.jobs,
            due: trees.due,
            event_jobs: trees.event_jobs,
            attempts: db.open_tree("attempts").map_err(engine_error)?,
            dead: db.open_tree("dead").map_err(engine_error)?,
            wake,
            job_counts,
            leases: Arc::new(Leases::default()),
            db,
            dedup_ttl_ms,
            writer: Arc::new(writer),
            usage: Arc::default(),
            free: Arc::default(),
            dir: Arc::from(dir),
        };
        store.seed_job_counts()?;
        Ok(store)
    }

    /// One scan of the job records at open: the counts the metrics then keep up to date.
    fn seed_job_counts(&self) -> Result<(), StoreError> {
        for kv in self.jobs.iter() {
            let (k, v) = kv.map_err(engine_error)?;
            let id = read_u64(&k).unwrap_or_default();
            let job = decode_job(id, &v)?;
            match job.state {
                JobStateV1::Pending => self.job_counts.add(&job.target, 1, 0),
                JobStateV1::Dead { .. } => self.job_counts.add(&job.target, 0, 1),
                JobStateV1::Delivered { .. } => {}
            }
        }
        Ok(())
    }

    /// Reports each group commit's size (requests served by one transaction and one fsync).
    pub fn observe_commits(&self, observe: Box<dyn Fn(usize) + Send + Sync>) {
        let _ = self.writer.stats.observer.set(observe);
    }

    pub fn commit_stats(&self) -> Arc<CommitStats> {
        self.writer.stats.clone()
    }

    pub(crate) fn event(&self, seq: u64) -> Result<Option<EventV1>, StoreError> {
        self.events
            .get(seq_key(seq))
            .map_err(engine_error)?
            .map(|v| decode_event(seq, &v))
            .transpose()
    }

    /// The event's body (empty if it is gone).
    pub fn body(&self, seq: u64) -> Result<Vec<u8>, StoreError> {
        let mut body = Vec::new();
        for chunk in self.bodies.scan_prefix(seq_key(seq)) {
            body.extend_from_slice(&chunk.map_err(engine_error)?.1);
        }
        Ok(body)
    }

    /// The event accepted for `(endpoint, event id)`, if any.
    pub fn find_event(&self, endpoint: &str, event_id: &str) -> Result<Option<u64>, StoreError> {
        Ok(self
            .dedup
            .get(dedup_key(endpoint, event_id))
            .map_err(engine_error)?
            .and_then(|v| parse_dedup_value(&v))
            .map(|(seq, _)| seq))
    }

    /// The jobs of one event, in id order (through the `event_jobs` index).
    pub(crate) fn jobs_of(&self, seq: u64) -> Result<Vec<(u64, JobV1)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.event_jobs.scan_prefix(seq_key(seq)) {
            let (k, _) = kv.map_err(engine_error)?;
            let id = read_u64(&k[8..]).unwrap_or_default();
            if let Some(v) = self.jobs.get(seq_key(id)).map_err(engine_error)? {
                out.push((id, decode_job(id, &v)?));
            }
        }
        Ok(out)
    }

    /// Removes dedup markers older than the window; returns how many.
    pub(crate) fn prune_dedup(&self, now_ms: u64) -> Result<usize, StoreError> {
        let mut removed = 0;
        for kv in self.dedup.iter() {
            let (k, v) = kv.map_err(engine_error)?;
            if parse_dedup_value(&v)
                .is_some_and(|(_, at)| at.saturating_add(self.dedup_ttl_ms) <= now_ms)
            {
                // Only remove if unchanged since read (a new acceptance may have replaced it).
                let _ = self
                    .dedup
                    .compare_and_swap(k, Some(v), None as Option<&[u8]>)
                    .map_err(engine_error)?;
                removed += 1;
            }
        }
        Ok(removed)
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
        StoreCounts {
            events: self.events.len(),
            jobs: self.jobs.len(),
            queued: self.due.len(),
        }
    }
}

impl SledStore {
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

impl SledStore {
    /// Stores one event in its own transaction, outside the ingest writer, and does NOT wait for
    /// it to be durable (call [`SledStore::durable`]). For tools, tests and benchmarks that fill a
    /// store; the ingress uses `IngestStore::accept_durable`.
    pub fn accept(&self, ev: NewEvent<'_>) -> Result<AcceptOutcome, StoreError> {
        let prepared = PreparedAccept::prepare(&self.db, ev)?;
        let outcome = write_batch(
            &self.ingest_trees(),
            std::slice::from_ref(&prepared),
            self.dedup_ttl_ms,
            &no_fault,
        )?
        .remove(0);
        if matches!(outcome, AcceptOutcome::Accepted { .. }) {
            for target in &prepared.targets {
                self.job_counts.add(target, 1, 0);
            }
            self.wake.notify_one();
        }
        Ok(outcome)
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

    fn ingest_trees(&self) -> IngestTrees {
        IngestTrees {
            events: self.events.clone(),
            bodies: self.bodies.clone(),
            dedup: self.dedup.clone(),
            jobs: self.jobs.clone(),
            due: self.due.clone(),
            event_jobs: self.event_jobs.clone(),
        }
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

impl SledStore {
    pub(crate) fn accept_through_writer(
        &self,
        ev: NewEvent<'_>,
    ) -> BoxFuture<'static, Result<AcceptOutcome, StoreError>> {
        // Space checks (quota, free space) run before this, in the pipeline through
        // `IngestStore::check_space`: nothing refused is handed to the writer.
        let written = PreparedAccept::prepare(&self.db, ev).map(|ev| self.writer.accept(ev));
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
