//! What layout v2 does not write per event, kept in memory and rebuilt from the job records when
//! the store opens: the due order of pending jobs (with each job's target, so a claim scan reads
//! no record it does not take), the dead-letter list, and pending / dead counts per target for
//! the metrics, and the pending jobs of each ordering key (so a claim knows a key's earliest
//! pending job). The writers (ingest, queue) move it after their batch is applied, so the index
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
    /// Pending jobs with an ordering key: job -> (target, key).
    pub keyed: HashMap<JobId, (Arc<str>, Arc<str>)>,
    /// (target, key) -> its pending jobs, in id order.
    pub keys: HashMap<(Arc<str>, Arc<str>), BTreeSet<JobId>>,
}

impl IndexState {
    fn count(&mut self, target: &Arc<str>, pending: i64, dead: i64) {
        let entry = self.counts.entry(target.clone()).or_default();
        entry.pending += pending;
        entry.dead += dead;
    }

    /// A job became pending (accepted, replayed, retried from the dead letters).
    pub fn pending(&mut self, id: JobId, at_ms: u64, target: Arc<str>, key: Option<Arc<str>>) {
        self.count(&target, 1, 0);
        if let Some(key) = key {
            let both = (target.clone(), key);
            self.keys.entry(both.clone()).or_default().insert(id);
            self.keyed.insert(id, both);
        }
        self.due.insert((at_ms, id), target);
    }

    /// A pending job is no longer pending: its key (if any) goes to the next job.
    fn unkey(&mut self, id: JobId) {
        if let Some(both) = self.keyed.remove(&id) {
            if let Some(jobs) = self.keys.get_mut(&both) {
                jobs.remove(&id);
                if jobs.is_empty() {
                    self.keys.remove(&both);
                }
            }
        }
    }

    /// The earliest pending job of `id`'s ordering key (`None`: the job has no key).
    pub fn first_of_key(&self, id: JobId) -> Option<JobId> {
        let both = self.keyed.get(&id)?;
        self.keys.get(both)?.first().copied()
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
        self.unkey(id);
        self.count(target, -1, 0);
    }

    /// A pending job due at `due_ms` was dead-lettered.
    pub fn died(&mut self, id: JobId, due_ms: u64, target: &Arc<str>) {
        self.due.remove(&(due_ms, id));
        self.unkey(id);
        self.dead.insert(id);
        self.count(target, -1, 1);
    }

    /// A dead job is due again at `at_ms`.
    pub fn revived(&mut self, id: JobId, at_ms: u64, target: Arc<str>, key: Option<Arc<str>>) {
        if self.dead.remove(&id) {
            self.count(&target, 0, -1);
        }
        self.pending(id, at_ms, target, key);
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
        s.pending(1, 10, t.clone(), None);
        s.pending(2, 5, t.clone(), None);
        assert_eq!(s.due.keys().next(), Some(&(5, 2)));
        s.moved(2, 5, 20);
        s.died(2, 20, &t);
        s.delivered(1, 10, &t);
        assert!(s.due.is_empty());
        s.revived(2, 30, t.clone(), None);
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

    #[test]
    fn a_key_belongs_to_its_earliest_pending_job_until_it_finishes() {
        let index = Index::default();
        let (t, k): (Arc<str>, Arc<str>) = (Arc::from("t"), Arc::from("k"));
        let mut s = index.lock();
        s.pending(5, 0, t.clone(), Some(k.clone()));
        s.pending(3, 9, t.clone(), Some(k.clone()));
        s.pending(4, 0, t.clone(), None);
        assert_eq!(s.first_of_key(5), Some(3));
        assert_eq!(s.first_of_key(4), None);
        s.died(3, 9, &t);
        assert_eq!(s.first_of_key(5), Some(5), "a dead letter releases its key");
        s.revived(3, 20, t.clone(), Some(k.clone()));
        assert_eq!(s.first_of_key(5), Some(3));
        s.delivered(3, 20, &t);
        s.delivered(5, 0, &t);
        assert!(s.keys.is_empty() && s.keyed.is_empty());
    }
}
