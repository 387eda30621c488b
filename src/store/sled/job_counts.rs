//! How many jobs each target has pending (queued, due now or later, including in flight) and
//! dead-lettered, kept in memory so that a scrape costs a map copy, not a scan of the queue.
//! Seeded by one scan of the job records when the store opens, then moved by every store
//! operation that changes a job's state (accept, record an attempt, retry a dead letter, replay,
//! retention). The store is the only writer; metrics read a snapshot.

use crate::store::model::TargetJobs;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
pub struct JobCounts {
    by_target: Mutex<HashMap<Arc<str>, TargetJobs>>,
}

impl JobCounts {
    /// Adds `pending` and `dead` (either may be negative) to `target`'s counts.
    pub fn add(&self, target: &str, pending: i64, dead: i64) {
        let mut map = self.by_target.lock().unwrap_or_else(|p| p.into_inner());
        let entry = match map.get_mut(target) {
            Some(entry) => entry,
            None => map.entry(Arc::from(target)).or_default(),
        };
        entry.pending += pending;
        entry.dead += dead;
    }

    pub fn snapshot(&self) -> Vec<(Arc<str>, TargetJobs)> {
        let map = self.by_target.lock().unwrap_or_else(|p| p.into_inner());
        map.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    #[cfg(test)]
    pub fn of(&self, target: &str) -> TargetJobs {
        let map = self.by_target.lock().unwrap_or_else(|p| p.into_inner());
        map.get(target).copied().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_move_per_target_and_start_at_zero() {
        let counts = JobCounts::default();
        assert_eq!(counts.of("a"), TargetJobs::default());
        counts.add("a", 2, 0);
        counts.add("a", -1, 1);
        counts.add("b", 1, 0);
        assert_eq!(
            counts.of("a"),
            TargetJobs {
                pending: 1,
                dead: 1
            }
        );
        assert_eq!(counts.snapshot().len(), 2);
    }
}
