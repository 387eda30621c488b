//! The sled implementation of [`Store`]. Trees: `events` (seq -> event), `bodies` (seq+chunk ->
//! bytes), `dedup` (endpoint\0id -> seq+time), `jobs` (job id -> job), `due` (time+job id, the
//! dispatcher's queue), `event_jobs` (seq+job id -> empty: an event's jobs), `attempts` (job
//! id+attempt no -> attempt), `dead` (job id -> empty, the dead-letter list). Durability comes from the group-commit thread, never from sled alone.

use super::group_commit::{CommitStats, GroupCommit};
use super::quota::{free_space, DiskUsage, SpaceLimits};
use super::records::*;
use super::{AcceptOutcome, NewEvent, Store, StoreError};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Longest wait for the group commit before an event is answered 503.
pub const COMMIT_TIMEOUT: Duration = Duration::from_secs(10);

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
    pub job_counts: crate::metrics::JobCounts,
    dedup_ttl_ms: u64,
    commit: GroupCommit,
    usage: DiskUsage,
    free: DiskUsage,
    dir: std::path::PathBuf,
}

impl SledStore {
    /// Opens (or creates) the store in `dir`. Fails if another process holds it.
    pub fn open(dir: &Path, dedup_ttl: Duration) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Storage(format!("cannot create {}: {e}", dir.display())))?;
        let db = sled::Config::new()
            .path(dir)
            .mode(sled::Mode::HighThroughput)
            .cache_capacity(64 << 20)
            .open()
            .map_err(|e| {
                StoreError::Storage(format!("cannot open the store in {}: {e}", dir.display()))
            })?;
        let commit = GroupCommit::start(db.clone(), &dir.join("db"))
            .map_err(|e| StoreError::Storage(format!("cannot open sled's log file: {e}")))?;
        let store = Self {
            events: db.open_tree("events")?,
            bodies: db.open_tree("bodies")?,
            dedup: db.open_tree("dedup")?,
            jobs: db.open_tree("jobs")?,
            due: db.open_tree("due")?,
            event_jobs: db.open_tree("event_jobs")?,
            attempts: db.open_tree("attempts")?,
            dead: db.open_tree("dead")?,
            wake: Arc::new(tokio::sync::Notify::new()),
            job_counts: Default::default(),
            db,
            dedup_ttl_ms: dedup_ttl.as_millis() as u64,
            commit,
            usage: DiskUsage::default(),
            free: DiskUsage::default(),
            dir: dir.to_path_buf(),
        };
        store.seed_job_counts()?;
        Ok(store)
    }

    /// One scan of the job records at open: the counts the metrics then keep up to date.
    fn seed_job_counts(&self) -> Result<(), StoreError> {
        for kv in self.jobs.iter() {
            let (k, v) = kv?;
            let id = read_u64(&k).unwrap_or_default();
            let job = decode_job(id, &v)?;
            match job.state {
                JobState::Pending => self.job_counts.add(&job.target, 1, 0),
                JobState::Dead { .. } => self.job_counts.add(&job.target, 0, 1),
                JobState::Delivered { .. } => {}
            }
        }
        Ok(())
    }

    /// Gives the group-commit thread the application's metrics (batch sizes).
    pub fn attach_metrics(&self, metrics: Arc<crate::metrics::Metrics>) {
        let _ = self.commit.stats.metrics.set(metrics);
    }

    pub fn commit_stats(&self) -> Arc<CommitStats> {
        self.commit.stats.clone()
    }

    pub fn event(&self, seq: u64) -> Result<Option<EventV1>, StoreError> {
        self.events
            .get(seq_key(seq))?
            .map(|v| decode_event(seq, &v))
            .transpose()
    }

    pub fn body(&self, seq: u64) -> Result<Vec<u8>, StoreError> {
        let mut body = Vec::new();
        for chunk in self.bodies.scan_prefix(seq_key(seq)) {
            body.extend_from_slice(&chunk?.1);
        }
        Ok(body)
    }

    /// The event accepted for `(endpoint, event id)`, if any.
    pub fn find_event(&self, endpoint: &str, event_id: &str) -> Result<Option<u64>, StoreError> {
        Ok(self
            .dedup
            .get(dedup_key(endpoint, event_id))?
            .and_then(|v| parse_dedup_value(&v))
            .map(|(seq, _)| seq))
    }

    pub fn event_count(&self) -> usize {
        self.events.len()
    }

    /// Every job with its id.
    pub fn jobs(&self) -> Result<Vec<(u64, JobV1)>, StoreError> {
        self.jobs
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                let id = read_u64(&k).unwrap_or_default();
                Ok((id, decode_job(id, &v)?))
            })
            .collect()
    }

    /// The jobs of one event, in id order (through the `event_jobs` index).
    pub fn jobs_of(&self, seq: u64) -> Result<Vec<(u64, JobV1)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.event_jobs.scan_prefix(seq_key(seq)) {
            let (k, _) = kv?;
            let id = read_u64(&k[8..]).unwrap_or_default();
            if let Some(v) = self.jobs.get(seq_key(id))? {
                out.push((id, decode_job(id, &v)?));
            }
        }
        Ok(out)
    }

    /// Removes dedup markers older than the window; returns how many.
    pub fn prune_dedup(&self, now_ms: u64) -> Result<usize, StoreError> {
        let mut removed = 0;
        for kv in self.dedup.iter() {
            let (k, v) = kv?;
            if parse_dedup_value(&v)
                .is_some_and(|(_, at)| at.saturating_add(self.dedup_ttl_ms) <= now_ms)
            {
                // Only remove if unchanged since read (a new acceptance may have replaced it).
                let _ = self
                    .dedup
                    .compare_and_swap(k, Some(v), None as Option<&[u8]>)?;
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

    pub fn db(&self) -> &sled::Db {
        &self.db
    }
}

impl Store for SledStore {
    fn accept(&self, ev: NewEvent<'_>) -> Result<AcceptOutcome, StoreError> {
        let seq = self.db.generate_id()?;
        let job_ids = ev
            .targets
            .iter()
            .map(|_| self.db.generate_id())
            .collect::<Result<Vec<_>, _>>()?;
        let chunks: Vec<&[u8]> = if ev.body.is_empty() {
            vec![]
        } else {
            ev.body.chunks(BODY_CHUNK).collect()
        };
        let event = encode(&StoredEvent::V1(EventV1 {
            endpoint: ev.endpoint.to_string(),
            event_id: ev.event_id.to_string(),
            event_type: ev.event_type.map(str::to_string),
            received_at_ms: ev.received_at_ms,
            headers: ev.headers,
            body_len: ev.body.len() as u64,
            body_chunks: chunks.len() as u32,
        }));
        let jobs: Vec<(u64, Vec<u8>)> = ev
            .targets
            .iter()
            .zip(&job_ids)
            .map(|(target, id)| (*id, pending_job(seq, target, ev.received_at_ms)))
            .collect();
        let dkey = dedup_key(ev.endpoint, ev.event_id);
        let now = ev.received_at_ms;
        let ttl = self.dedup_ttl_ms;

        let result = (
            &self.events,
            &self.bodies,
            &self.dedup,
            &self.jobs,
            &self.due,
            &self.event_jobs,
        )
            .transaction(|(events, bodies, dedup, job_tree, due, event_jobs)| {
                if let Some(existing) = dedup.get(&dkey)? {
                    if let Some((first, at)) = parse_dedup_value(&existing) {
                        if at.saturating_add(ttl) > now {
                            return Ok(AcceptOutcome::Duplicate { event_seq: first });
                        }
                    }
                }
                dedup.insert(dkey.as_slice(), &dedup_value(seq, now)[..])?;
                events.insert(&seq_key(seq), event.as_slice())?;
                for (i, chunk) in chunks.iter().enumerate() {
                    bodies.insert(&body_key(seq, i as u32), *chunk)?;
                }
                for (id, job) in &jobs {
                    job_tree.insert(&seq_key(*id), job.as_slice())?;
                    due.insert(&due_key(now, *id), &[][..])?;
                    event_jobs.insert(&event_job_key(seq, *id), &[][..])?;
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(AcceptOutcome::Accepted {
                    event_seq: seq,
                    deliveries: jobs.len(),
                })
            });
        let outcome = result.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => e.into(),
        })?;
        if matches!(outcome, AcceptOutcome::Accepted { .. }) {
            for target in ev.targets {
                self.job_counts.add(target, 1, 0);
            }
            self.wake.notify_one();
        }
        Ok(outcome)
    }

    /// Gives up after [`COMMIT_TIMEOUT`]: a flush that never returns (sled after ENOSPC) must
    /// end in a 503, not in a request that hangs.
    fn durable(&self) -> BoxFuture<'static, Result<(), StoreError>> {
        let wait = self.commit.wait();
        async move {
            match tokio::time::timeout(COMMIT_TIMEOUT, wait).await {
                Ok(answer) => answer.unwrap_or_else(|_| {
                    Err(StoreError::Storage("the commit thread has stopped".into()))
                }),
                Err(_) => Err(StoreError::Storage(format!(
                    "the write was not made durable within {COMMIT_TIMEOUT:?}"
                ))),
            }
        }
        .boxed()
    }

    fn check_space(&self, limits: SpaceLimits) -> Result<(), StoreError> {
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
