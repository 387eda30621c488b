//! The durable store behind acknowledgements. `accept_durable` writes, in one transaction, the
//! dedup marker `(endpoint, event id)`, the event and one delivery job per matched target, and
//! resolves once that write is on disk (the sled store batches many requests into one
//! transaction and one fsync: `ingest_writer`). Kept behind the [`Store`] trait so another engine can sit
//! behind it later, and so tests can make storage fail on purpose. The delivery queue on the same
//! trees (jobs due, attempt records, dead letters) is in `queue`.

mod accept_batch;
pub mod ingest_writer;
mod queue;
pub mod quota;
pub mod records;
pub mod retention;
mod sled_store;

pub use queue::{
    DueJob, EventDetail, JobDetail, JobTransition, QueueError, RecordOutcome, ScanPick,
};
pub use records::{AttemptV1, EventV1, JobState, JobV1, StoredAttempt, StoredEvent, StoredJob};
pub use sled_store::{SledStore, DEFAULT_CACHE_SIZE};

use futures_util::future::BoxFuture;
use std::sync::Arc;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// The write (or making it durable) failed: the caller must not acknowledge.
    #[error("storage failure: {0}")]
    Storage(String),
    /// The data directory's filesystem has less free space than `storage.min_free_space`.
    #[error("{free} bytes free on the data directory's filesystem, under the floor of {min_free}")]
    LowDiskSpace { free: u64, min_free: u64 },
    /// The store has reached `storage.max_size`: new events are refused until it shrinks.
    #[error("the store uses {used} bytes on disk, at or over its quota of {limit}")]
    QuotaReached { used: u64, limit: u64 },
    /// A record could not be decoded.
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Storage(e.to_string())
    }
}

/// An event that passed verification and routing, ready to be stored.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub endpoint: &'a str,
    pub event_id: &'a str,
    pub event_type: Option<&'a str>,
    pub received_at_ms: u64,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: &'a [u8],
    pub targets: &'a [Arc<str>],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptOutcome {
    /// Stored now, with one delivery job per target.
    Accepted { event_seq: u64, deliveries: usize },
    /// The same `(endpoint, event id)` was accepted within the dedup window.
    Duplicate { event_seq: u64 },
}

pub trait Store: Send + Sync + 'static {
    /// Dedup check, event and jobs in one transaction; resolves with the outcome once that is
    /// durable on disk. A duplicate resolves once the batch it was checked in is durable too
    /// (its 200 promises the first copy is on disk). An error means: do not acknowledge.
    fn accept_durable(
        &self,
        event: NewEvent<'_>,
    ) -> BoxFuture<'static, Result<AcceptOutcome, StoreError>>;

    /// Refuses with [`StoreError::QuotaReached`] once the store's size on disk is at or over
    /// the quota, and with [`StoreError::LowDiskSpace`] when its filesystem has less free space
    /// than the floor. The default (a store with no disk) never refuses.
    fn check_space(&self, limits: quota::SpaceLimits) -> Result<(), StoreError> {
        let _ = limits;
        Ok(())
    }
}
