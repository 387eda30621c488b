//! Retention: finished events are pruned so the store does not grow forever. An event goes once
//! it was accepted more than `storage.retention` ago and every one of its jobs is finished
//! (delivered or dead-lettered): the event, its body chunks, its jobs and their attempts. A pass
//! reads candidates page by page (at most [`PRUNE_BATCH`] events) and hands each page to the
//! queue writer, which checks again that every job is still finished (a job retried or replayed
//! meanwhile keeps its event) and removes them in one batch. An event with a pending job is never
//! touched.
//!
//! Events are visited in sequence order, which is acceptance order up to the time a request
//! takes to arrive; the pass stops at the first event accepted [`ORDER_SLACK`] after the cutoff,
//! so each pass reads only the old end of the store (plus old events still pending).
//!
//! Dedup markers keep their own window: [`SledStore::prune_dedup`] removes whole time buckets
//! older than it, reading only the keys it removes.

use super::keys::*;
use super::queue_writer::QueueOp;
use super::records::*;
use super::{engine_error, SledStore};
use crate::store::{PruneReport, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// Events per page (and per removal batch).
pub const PRUNE_BATCH: usize = 64;
/// How far past the cutoff the scan still looks for older events before it stops: more than
/// any request takes between its arrival time and its sequence number.
pub const ORDER_SLACK: Duration = Duration::from_secs(600);

/// An old event whose jobs were all finished when read, with what to remove.
#[derive(Debug)]
pub(crate) struct Candidate {
    pub seq: u64,
    pub body_chunks: u32,
    /// Job id, target, and how many attempts it recorded.
    pub jobs: Vec<(u64, Arc<str>, u32)>,
}

impl SledStore {
    /// Prunes finished events accepted before `cutoff_ms` (unix ms), `batch` events per write.
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
            if !candidates.is_empty() {
                let removed = self.remove(candidates)?;
                report.events += removed.events;
                report.jobs += removed.jobs;
                report.attempts += removed.attempts;
            }
            if reached_new || !full_page {
                return Ok(report);
            }
        }
    }

    /// The event with what to remove, or `None` if one of its jobs is pending.
    pub(crate) fn candidate(
        &self,
        seq: u64,
        event: &EventV2,
    ) -> Result<Option<Candidate>, StoreError> {
        let mut jobs = Vec::new();
        for (id, job) in self.jobs_of(seq)? {
            if job.state == JobStateV1::Pending {
                return Ok(None);
            }
            jobs.push((id, Arc::from(job.target.as_str()), job.attempts));
        }
        Ok(Some(Candidate {
            seq,
            body_chunks: event.body_chunks,
            jobs,
        }))
    }

    /// Hands candidates to the queue writer and waits for the removal.
    pub(crate) fn remove(&self, candidates: Vec<Candidate>) -> Result<PruneReport, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.queue.send(QueueOp::Prune { candidates, reply });
        answer
            .blocking_recv()
            .unwrap_or_else(|_| Err(StoreError::storage("the queue writer has stopped")))
    }

    /// Removes the dedup markers of every time bucket wholly older than the window at `now_ms`;
    /// returns how many. Live buckets are not read.
    pub(crate) fn prune_dedup(&self, now_ms: u64) -> Result<usize, StoreError> {
        let dedup = self.dedup;
        // Markers in bucket b were accepted before (b + 1) * bucket_ms: all expired once that
        // plus the window has passed, i.e. for every b below `first_live`.
        let first_live = now_ms.saturating_sub(dedup.ttl_ms) / dedup.bucket_ms.max(1);
        let mut removed = 0;
        loop {
            let mut write = sled::Batch::default();
            let mut n = 0;
            let range = dedup_bucket_start(0)..dedup_bucket_start(first_live);
            for key in self.tree.range(range).keys().take(4096) {
                write.remove(key.map_err(engine_error)?);
                n += 1;
            }
            if n == 0 {
                return Ok(removed);
            }
            self.tree.apply_batch(write).map_err(engine_error)?;
            removed += n;
        }
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
                ordering_keys: &[],
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
                .record_attempt(job, attempt, transition.clone())
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
        for prefix in [EVENT, BODY, JOB, ATTEMPT] {
            assert_eq!(
                store.tree.scan_prefix([prefix]).count(),
                0,
                "{}",
                prefix as char
            );
        }
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
        assert_eq!(store.index.of("t").dead, 1);
        let event = store.event(seq).unwrap().unwrap();
        let candidate = store.candidate(seq, &event).unwrap().expect("finished");
        let (job_id, _) = store.jobs_of(seq).unwrap()[0];
        store.retry_dead(job_id, 2_000).unwrap();

        let report = store.remove(vec![candidate]).unwrap();
        assert_eq!(report.events, 0);
        assert!(store.event(seq).unwrap().is_some());
        assert!(store.job(job_id).unwrap().is_some());
        assert_eq!(store.index.of("t").pending, 1);
    }
}
