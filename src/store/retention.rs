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
use super::{SledStore, StoreError};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use std::time::Duration;

/// Events removed per transaction.
pub const PRUNE_BATCH: usize = 64;
/// How far past the cutoff the scan still looks for older events before it stops: more than
/// any request takes between its arrival time and its sequence number.
pub const ORDER_SLACK: Duration = Duration::from_secs(600);

/// What one retention pass removed (and kept).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub events: u64,
    pub jobs: u64,
    pub attempts: u64,
    /// Events older than the cutoff kept because a job is still pending.
    pub kept_pending: u64,
}

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
    pub fn prune_finished(&self, cutoff_ms: u64, batch: usize) -> Result<PruneReport, StoreError> {
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
                JobState::Pending => return Ok(None),
                JobState::Dead { .. } => true,
                JobState::Delivered { .. } => false,
            };
            let attempts = self
                .attempts
                .scan_prefix(seq_key(id))
                .keys()
                .collect::<Result<Vec<_>, _>>()?;
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
                                    != JobState::Pending
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
            TransactionError::Storage(e) => e.into(),
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
