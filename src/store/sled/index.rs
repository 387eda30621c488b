//! What layout v2 does not write per event, kept in memory and rebuilt from the job records when
//! the store opens: the due order of pending jobs (with each job's target, so a claim scan reads
//! no record it does not take), the dead-letter list, and pending / dead counts per target for
//! the metrics. The writers (ingest, queue) move it after their batch is applied, so the index
//! never shows a job that is not in the tree; a claim that finds the index one step behind (a
//! job finished a moment ago) re-reads the record and passes the job over.

use crate::store::model::{JobId, TargetJobs};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, Default)]
pub(crate) struct Index {
    inner: Mutex<IndexState>,
}

#[derive(Debug, Default)]
pub(crate) struct IndexState {
    /// (due at, job) -> target, for pending jobs.
    pub due: BTreeMap<(u64, JobId), Arc<str>>,
    pub dead: BTreeSet<JobId>,
    pub counts: HashMap<Arc<str>, TargetJobs>,
}

impl IndexState {
    fn count(&mut self, target: &Arc<str>, pending: i64, dead: i64) {
        let entry = self.counts.entry(target.clone()).or_default();
        entry.pending += pending;
        entry.dead += dead;
    }

    /// A job became pending (accepted, replayed, retried from the dead letters).
    pub fn pending(&mut self, id: JobId, at_ms: u64, target: Arc<str>) {
        self.count(&target, 1, 0);
        self.due.insert((at_ms, id), target);
    }

    /// A pending job due at `from_ms` is now due at `to_ms`.
    pub fn moved(&mut self, id: JobId, from_ms: u64, to_ms: u64) {
        if let Some(target) = self.due.remove(&(from_ms, id)) {
            self.due.insert((to_ms, id), target);
        }
    }

    /// A pending job due at `due_ms` was delivered.
    pub fn delivered(&mut self, id: JobId, due_ms: u64, target: &Arc<str>) {
        self.due.remove(&(due_ms, id));
        self.count(target, -1, 0);
    }

    /// A pending job due at `due_ms` was dead-lettered.
    pub fn died(&mut self, id: JobId, due_ms: u64, target: &Arc<str>) {
        self.due.remove(&(due_ms, id));
        self.dead.insert(id);
        self.count(target, -1, 1);
    }

    /// A dead job is due again at `at_ms`.
    pub fn revived(&mut self, id: JobId, at_ms: u64, target: Arc<str>) {
        if self.dead.remove(&id) {
            self.count(&target, 0, -1);
        }
        self.pending(id, at_ms, target);
    }

    /// A finished job was pruned.
    pub fn pruned(&mut self, id: JobId, target: &Arc<str>) {
        if self.dead.remove(&id) {
            self.count(target, 0, -1);
        }
    }
}

impl Index {
    pub fn lock(&self) -> MutexGuard<'_, IndexState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn depths(&self) -> Vec<(Arc<str>, TargetJobs)> {
        self.lock()
            .counts
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    #[cfg(test)]
    pub fn of(&self, target: &str) -> TargetJobs {
        self.lock().counts.get(target).copied().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_keep_the_counts_and_the_due_order() {
        let index = Index::default();
        let t: Arc<str> = Arc::from("t");
        let mut s = index.lock();
        s.pending(1, 10, t.clone());
        s.pending(2, 5, t.clone());
        assert_eq!(s.due.keys().next(), Some(&(5, 2)));
        s.moved(2, 5, 20);
        s.died(2, 20, &t);
        s.delivered(1, 10, &t);
        assert!(s.due.is_empty());
        s.revived(2, 30, t.clone());
        assert_eq!(
            s.counts[&t],
            TargetJobs {
                pending: 1,
                dead: 0
            }
        );
        s.died(2, 30, &t);
        s.pruned(2, &t);
        assert_eq!(s.counts[&t], TargetJobs::default());
    }
}
