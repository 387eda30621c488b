//! Retention: finished events are pruned so the store does not grow forever. An event goes once
//! it was accepted more than `storage.retention` ago and every one of its jobs is finished
//! (delivered or dead-lettered): the event, its body chunks, its `event_jobs` entries, its job
//! records, their attempts and their dead-letter entries, all in one transaction per batch of
//! at most [`PRUNE_BATCH`] events. An event with a pending job is never touched (a job retried
//! or replayed meanwhile makes the transaction skip its event). Dedup markers are not touched
//! here: they keep their own `dedup_ttl` window.
//!
//! Events are visited in sequence order, which is acceptance order up to the time a request
//! takes to arrive; the pass stops at the first event accepted [`ORDER_SLACK`] after the cutoff,
//! so each pass reads only the old end of the store (plus old events still pending).

use super::records::*;
use super::{engine_error, SledStore};
use crate::store::{PruneReport, StoreError};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use std::time::Duration;

/// Events removed per transaction.
pub const PRUNE_BATCH: usize = 64;
/// How far past the cutoff the scan still looks for older events before it stops: more than
/// any request takes between its arrival time and its sequence number.
pub const ORDER_SLACK: Duration = Duration::from_secs(600);

/// An old event whose jobs were all finished when read, with the keys to remove.
struct Candidate {
    seq: u64,
    body_chunks: u32,
    /// Job id, target, whether it is dead, and the keys of its attempts.
    jobs: Vec<(u64, String, bool, Vec<sled::IVec>)>,
}

impl SledStore {
    /// Prunes finished events accepted before `cutoff_ms` (unix ms), `batch` events per
    /// transaction.
    pub(crate) fn prune_finished(
        &self,
        cutoff_ms: u64,
        batch: usize,
    ) -> Result<PruneReport, StoreError> {
        let stop_at = cutoff_ms.saturating_add(ORDER_SLACK.as_millis() as u64);
        let mut report = PruneReport::default();
        let mut after = None;
        loop {
            let page = self.events_page(after, batch.max(1))?;
            let full_page = page.len() == batch.max(1);
            let mut candidates = Vec::new();
            let mut reached_new = false;
            for (seq, event) in page {
                after = Some(seq);
                if event.received_at_ms >= stop_at {
                    reached_new = true;
                    break;
                }
                if event.received_at_ms >= cutoff_ms {
                    continue;
                }
                match self.candidate(seq, &event)? {
                    Some(c) => candidates.push(c),
                    None => report.kept_pending += 1,
                }
            }
            self.remove(&candidates, &mut report)?;
            if reached_new || !full_page {
                return Ok(report);
            }
        }
    }

    /// The event with what to remove, or `None` if one of its jobs is pending.
    fn candidate(&self, seq: u64, event: &EventV1) -> Result<Option<Candidate>, StoreError> {
        let mut jobs = Vec::new();
        for (id, job) in self.jobs_of(seq)? {
            let dead = match job.state {
                JobStateV1::Pending => return Ok(None),
                JobStateV1::Dead { .. } => true,
                JobStateV1::Delivered { .. } => false,
            };
            let attempts = self
                .attempts
                .scan_prefix(seq_key(id))
                .keys()
                .collect::<Result<Vec<_>, _>>()
                .map_err(engine_error)?;
            jobs.push((id, job.target, dead, attempts));
        }
        Ok(Some(Candidate {
            seq,
            body_chunks: event.body_chunks,
            jobs,
        }))
    }

    /// Removes the candidates in one transaction, skipping any whose jobs changed meanwhile.
    fn remove(&self, candidates: &[Candidate], report: &mut PruneReport) -> Result<(), StoreError> {
        if candidates.is_empty() {
            return Ok(());
        }
        let result = (
            &self.events,
            &self.bodies,
            &self.event_jobs,
            &self.jobs,
            &self.attempts,
            &self.dead,
        )
            .transaction(|(events, bodies, event_jobs, jobs, attempts, dead)| {
                let mut removed = Vec::new();
                'event: for c in candidates {
                    for (id, _, _, _) in &c.jobs {
                        let finished = match jobs.get(seq_key(*id))? {
                            Some(raw) => {
                                decode_job(*id, &raw)
                                    .map_err(ConflictableTransactionError::Abort)?
                                    .state
                                    != JobStateV1::Pending
                            }
                            None => true,
                        };
                        if !finished {
                            continue 'event;
                        }
                    }
                    events.remove(&seq_key(c.seq))?;
                    for chunk in 0..c.body_chunks {
                        bodies.remove(&body_key(c.seq, chunk))?;
                    }
                    for (id, _, _, attempt_keys) in &c.jobs {
                        event_jobs.remove(&event_job_key(c.seq, *id))?;
                        jobs.remove(&seq_key(*id))?;
                        dead.remove(&seq_key(*id))?;
                        for key in attempt_keys {
                            attempts.remove(key)?;
                        }
                    }
                    removed.push(c);
                }
                Ok(removed)
            });
        let removed = result.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => engine_error(e),
        })?;
        for c in removed {
            report.events += 1;
            for (_, target, dead, attempt_keys) in &c.jobs {
                report.jobs += 1;
                report.attempts += attempt_keys.len() as u64;
                if *dead {
                    self.job_counts.add(target, 0, -1);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! What the conformance suite cannot see: batches, and a retry racing a pass.
    use super::*;
    use crate::store::{Attempt, ClaimRequest, JobTransition, NewEvent};
    use std::sync::Arc;

    fn store() -> (tempfile::TempDir, SledStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), Duration::from_secs(3600)).unwrap();
        (dir, store)
    }

    /// Accepts an event at `at_ms` with one job per target; returns its seq.
    fn accept(store: &SledStore, id: &str, at_ms: u64, targets: &[&str]) -> u64 {
        let targets: Vec<Arc<str>> = targets.iter().map(|t| Arc::from(*t)).collect();
        let body = vec![b'x'; BODY_CHUNK + 10];
        match store
            .accept(NewEvent {
                endpoint: "in",
                event_id: id,
                event_type: None,
                received_at_ms: at_ms,
                headers: vec![],
                body: &body,
                targets: &targets,
            })
            .unwrap()
        {
            crate::store::AcceptOutcome::Accepted { event_seq, .. } => event_seq,
            other => panic!("{other:?}"),
        }
    }

    /// Records one attempt for every job of `seq` that ends it as `transition`.
    fn finish(store: &SledStore, seq: u64, transition: JobTransition) {
        let claimed = store
            .claim_due(&ClaimRequest {
                now_ms: u64::MAX - 1,
                lease: Duration::from_secs(60),
                free: [(Arc::from("t"), 1000)].into(),
                limit: 1000,
            })
            .unwrap();
        for job in claimed.jobs.into_iter().filter(|c| c.job.event_seq == seq) {
            let attempt = Attempt {
                attempt: 0,
                at_ms: 1,
                latency_ms: 1,
                status: Some(200),
                error: None,
                response_body: vec![],
            };
            store
                .record_attempt(&job, attempt, transition.clone())
                .unwrap();
        }
    }

    #[test]
    fn a_backlog_larger_than_a_batch_is_pruned_in_one_pass() {
        let (_dir, store) = store();
        let n = PRUNE_BATCH * 2 + 5;
        for i in 0..n {
            let seq = accept(&store, &format!("e{i}"), 1_000, &["t"]);
            finish(&store, seq, JobTransition::Delivered);
        }
        let report = store.prune_finished(5_000, PRUNE_BATCH).unwrap();
        assert_eq!(report.events, n as u64);
        assert_eq!(store.counts().events, 0);
        assert_eq!(store.bodies.len(), 0);
        assert_eq!(store.attempts.len(), 0);
    }

    #[test]
    fn a_dead_letter_retried_after_it_was_read_keeps_its_event() {
        let (_dir, store) = store();
        let seq = accept(&store, "a", 1_000, &["t"]);
        finish(
            &store,
            seq,
            JobTransition::Dead {
                reason: "HTTP 400".into(),
            },
        );
        assert_eq!(store.job_counts.of("t").dead, 1);
        let event = store.event(seq).unwrap().unwrap();
        let candidate = store.candidate(seq, &event).unwrap().expect("finished");
        let (job_id, _) = store.jobs_of(seq).unwrap()[0];
        store.retry_dead(job_id, 2_000).unwrap();

        let mut report = PruneReport::default();
        store.remove(&[candidate], &mut report).unwrap();
        assert_eq!(report.events, 0);
        assert!(store.event(seq).unwrap().is_some());
        assert!(store.job(job_id).unwrap().is_some());
        assert_eq!(store.job_counts.of("t").pending, 1);
    }
}
