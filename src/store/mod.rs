//! The durable store behind acknowledgements and the delivery queue, as a seam: the traits in
//! [`traits`] (one per consumer) speak the domain types of [`model`]; engines implement them.
//! [`sled`] is the embedded engine the binary runs on; [`memory`] keeps everything in memory for
//! fast tests of the consumers; [`postgres`] is the engine several instances share; [`conformance`] is the one suite every engine passes.

pub mod conformance;
mod leases;
pub mod memory;
pub mod model;
pub mod postgres;
pub mod quota;
pub mod sled;
pub mod traits;

pub use self::sled::{SledStore, DEFAULT_CACHE_SIZE};
pub use memory::MemoryStore;
pub use model::*;
pub use postgres::{PgConfig, PgStore};
pub use traits::{DeliveryQueue, EventReads, IngestStore, Retention, StoreFuture, Stores};

use std::sync::Arc;

/// A cause kept with a storage failure, shareable (one failed group commit answers many
/// requests with the same error).
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The write (or making it durable) failed: the caller must not acknowledge.
    #[error("storage failure: {what}")]
    Storage {
        what: String,
        #[source]
        cause: Option<Cause>,
    },
    /// The data directory's filesystem has less free space than `storage.min_free_space`.
    #[error("{free} bytes free on the data directory's filesystem, under the floor of {min_free}")]
    LowDiskSpace { free: u64, min_free: u64 },
    /// The store has reached `storage.max_size`: new events are refused until it shrinks.
    #[error("the store uses {used} bytes on disk, at or over its quota of {limit}")]
    QuotaReached { used: u64, limit: u64 },
    /// A record could not be decoded.
    #[error("corrupt record: {what}")]
    Corrupt {
        what: String,
        #[source]
        cause: Option<Cause>,
    },
}

impl StoreError {
    /// A failure described in words, with no underlying error.
    pub fn storage(what: impl Into<String>) -> Self {
        StoreError::Storage {
            what: what.into(),
            cause: None,
        }
    }

    /// A failure of `what`, caused by `cause`.
    pub fn caused(
        what: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Storage {
            what: what.into(),
            cause: Some(Arc::new(cause)),
        }
    }

    /// The message with every cause after it (`a: b: c`), for logs.
    pub fn chain(&self) -> String {
        error_chain(self)
    }
}

/// An error with its causes after it (`a: b: c`); a cause whose text the message already holds
/// is not repeated (reqwest and sqlx quote their sources).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Why an admin operation on the queue was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum QueueError {
    #[error("no job {0}")]
    JobNotFound(JobId),
    #[error("job {0} is not dead-lettered")]
    NotDead(JobId),
    #[error("no event {0}")]
    EventNotFound(EventSeq),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storage_error_keeps_its_cause_chain() {
        let io = std::io::Error::other("disk on fire");
        let e = StoreError::caused("writing the batch", io);
        assert_eq!(e.to_string(), "storage failure: writing the batch");
        assert_eq!(
            e.chain(),
            "storage failure: writing the batch: disk on fire"
        );
    }
}
