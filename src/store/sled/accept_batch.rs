//! One batch of accepts, as data and as one atomic write. [`PreparedAccept::prepare`] runs on the
//! caller's thread: it draws the event's seq (an in-memory counter, no sled `generate_id`) and
//! encodes its records, so the ingest writer does no encoding. [`write_batch`] checks dedup
//! (against the tree and within the batch: two copies of one event in the same batch are one
//! `Accepted` and one `Duplicate`) and writes the whole batch with ONE `apply_batch` on the
//! layout's single tree: per single-target event the dedup marker, the event (body inline) and
//! the job, plus the store's next seq once per batch. A crash never leaves a dedup marker without
//! its event and jobs.

use super::keys::*;
use super::records::*;
use crate::store::{AcceptOutcome, NewEvent, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// An event ready to be written: seq drawn, records encoded, everything owned.
#[derive(Debug)]
pub(crate) struct PreparedAccept {
    pub(crate) seq: u64,
    endpoint: String,
    event_id: String,
    pub(crate) accepted_at_ms: u64,
    event: Vec<u8>,
    /// Only for a body past [`INLINE_BODY_LIMIT`].
    body_chunks: Vec<Vec<u8>>,
    jobs: Vec<Vec<u8>>,
    pub(crate) targets: Vec<Arc<str>>,
    /// The ordering key of each target's job.
    ordering_keys: Vec<Option<Arc<str>>>,
}

impl PreparedAccept {
    pub(crate) fn prepare(next_seq: &AtomicU64, ev: NewEvent<'_>) -> Result<Self, StoreError> {
        let seq = next_seq.fetch_add(1, Ordering::Relaxed);
        if seq > MAX_SEQ {
            return Err(StoreError::storage("the store has used every event number"));
        }
        if ev.targets.len() as u64 >= MAX_JOBS_PER_EVENT {
            return Err(StoreError::storage("too many targets for one event"));
        }
        let inline = ev.body.len() <= INLINE_BODY_LIMIT;
        let body_chunks: Vec<Vec<u8>> = if inline {
            Vec::new()
        } else {
            ev.body.chunks(BODY_CHUNK).map(<[u8]>::to_vec).collect()
        };
        let event = encode(&StoredEvent::V2(EventV2 {
            endpoint: ev.endpoint.to_string(),
            event_id: ev.event_id.to_string(),
            event_type: ev.event_type.map(str::to_string),
            received_at_ms: ev.received_at_ms,
            headers: ev.headers,
            body_len: ev.body.len() as u64,
            body: inline.then(|| ev.body.to_vec()),
            body_chunks: body_chunks.len() as u32,
        }));
        let jobs = ev
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| {
                encode(&StoredJob::V2(pending_job(
                    t,
                    ev.ordering_keys.get(i).and_then(|k| k.as_deref()),
                    ev.received_at_ms,
                )))
            })
            .collect();
        let ordering_keys = (0..ev.targets.len())
            .map(|i| {
                ev.ordering_keys
                    .get(i)
                    .and_then(|k| k.as_deref())
                    .map(Arc::from)
            })
            .collect();
        Ok(Self {
            seq,
            endpoint: ev.endpoint.to_string(),
            event_id: ev.event_id.to_string(),
            accepted_at_ms: ev.received_at_ms,
            event,
            body_chunks,
            jobs,
            targets: ev.targets.to_vec(),
            ordering_keys,
        })
    }

    /// The jobs it creates: (job id, target, ordering key).
    pub(crate) fn job_ids(&self) -> impl Iterator<Item = (u64, &Arc<str>, Option<&Arc<str>>)> {
        self.targets
            .iter()
            .zip(&self.ordering_keys)
            .enumerate()
            .map(|(i, (t, k))| (job_id(self.seq, i as u64), t, k.as_ref()))
    }
}

/// How long an `(endpoint, event id)` is remembered, and the length of the time buckets its
/// markers are kept in (fixed when the store was created).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DedupWindow {
    pub ttl_ms: u64,
    pub bucket_ms: u64,
}

impl DedupWindow {
    pub fn bucket(&self, at_ms: u64) -> u64 {
        at_ms / self.bucket_ms.max(1)
    }

    /// The buckets that can hold a live marker for an event accepted at `at_ms`, newest first.
    fn buckets(&self, at_ms: u64) -> impl Iterator<Item = u64> {
        let newest = self.bucket(at_ms);
        let span = self.ttl_ms.div_ceil(self.bucket_ms.max(1));
        (newest.saturating_sub(span)..=newest).rev()
    }

    /// The live marker of `(endpoint, event id)` at `at_ms`: its event's seq.
    pub fn lookup(
        &self,
        tree: &sled::Tree,
        endpoint: &str,
        event_id: &str,
        at_ms: u64,
    ) -> Result<Option<u64>, StoreError> {
        for bucket in self.buckets(at_ms) {
            let key = dedup_key(bucket, endpoint, event_id);
            let found = tree.get(key).map_err(super::engine_error)?;
            if let Some((seq, accepted)) = found.as_deref().and_then(parse_dedup_value) {
                if accepted.saturating_add(self.ttl_ms) > at_ms {
                    return Ok(Some(seq));
                }
            }
        }
        Ok(None)
    }

    /// The newest marker of `(endpoint, event id)` still stored, live or not (admin look-ups by
    /// id), searching back from `now_ms` at most `buckets` buckets.
    pub fn find(
        &self,
        tree: &sled::Tree,
        endpoint: &str,
        event_id: &str,
        now_ms: u64,
        buckets: u64,
    ) -> Result<Option<u64>, StoreError> {
        let newest = self.bucket(now_ms);
        for bucket in (newest.saturating_sub(buckets)..=newest).rev() {
            let key = dedup_key(bucket, endpoint, event_id);
            if let Some(v) = tree.get(key).map_err(super::engine_error)? {
                return Ok(parse_dedup_value(&v).map(|(seq, _)| seq));
            }
        }
        Ok(None)
    }
}

/// Called after each event of a batch is added to the write, with its index; an error abandons
/// the whole batch. Production passes [`no_fault`]; tests inject a storage error.
pub(crate) type FaultHook = dyn Fn(usize) -> Result<(), StoreError> + Send + Sync;

pub(crate) fn no_fault(_: usize) -> Result<(), StoreError> {
    Ok(())
}

/// Writes `batch` with one `apply_batch`; the outcomes are in the batch's order. Nothing is
/// written if it fails. Not durable: the caller flushes and fsyncs.
pub(crate) fn write_batch(
    tree: &sled::Tree,
    batch: &[PreparedAccept],
    dedup: DedupWindow,
    fault: &FaultHook,
) -> Result<Vec<AcceptOutcome>, StoreError> {
    let mut write = sled::Batch::default();
    let mut in_batch: HashMap<(&str, &str), u64> = HashMap::with_capacity(batch.len());
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut next_seq = None;
    for (i, ev) in batch.iter().enumerate() {
        next_seq = next_seq.max(Some(ev.seq + 1));
        let key = (ev.endpoint.as_str(), ev.event_id.as_str());
        if let Some(&first) = in_batch.get(&key) {
            outcomes.push(AcceptOutcome::Duplicate { event_seq: first });
            continue;
        }
        if let Some(first) = dedup.lookup(tree, key.0, key.1, ev.accepted_at_ms)? {
            outcomes.push(AcceptOutcome::Duplicate { event_seq: first });
            continue;
        }
        in_batch.insert(key, ev.seq);
        let bucket = dedup.bucket(ev.accepted_at_ms);
        write.insert(
            dedup_key(bucket, key.0, key.1),
            &dedup_value(ev.seq, ev.accepted_at_ms)[..],
        );
        write.insert(&event_key(ev.seq)[..], ev.event.as_slice());
        for (n, chunk) in ev.body_chunks.iter().enumerate() {
            write.insert(&body_key(ev.seq, n as u32)[..], chunk.as_slice());
        }
        for (index, job) in ev.jobs.iter().enumerate() {
            write.insert(&job_key(job_id(ev.seq, index as u64))[..], job.as_slice());
        }
        fault(i)?;
        outcomes.push(AcceptOutcome::Accepted {
            event_seq: ev.seq,
            deliveries: ev.jobs.len(),
        });
    }
    if let Some(next) = next_seq {
        write.insert(NEXT_SEQ, &next.to_be_bytes()[..]);
    }
    tree.apply_batch(write).map_err(super::engine_error)?;
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: DedupWindow = DedupWindow {
        ttl_ms: 60_000,
        bucket_ms: 60_000,
    };

    fn prepared(seq: &AtomicU64, id: &str, at: u64, body: &[u8]) -> PreparedAccept {
        let targets: Vec<Arc<str>> = vec!["t".into(), "u".into()];
        PreparedAccept::prepare(
            seq,
            NewEvent {
                endpoint: "in",
                event_id: id,
                event_type: None,
                received_at_ms: at,
                headers: vec![],
                body,
                targets: &targets,
                ordering_keys: &[],
            },
        )
        .unwrap()
    }

    fn count(tree: &sled::Tree, prefix: u8) -> usize {
        tree.scan_prefix([prefix]).count()
    }

    #[test]
    fn two_copies_of_one_event_in_a_batch_are_one_accepted_and_one_duplicate() {
        let dir = tempfile::tempdir().unwrap();
        let tree = sled::open(dir.path()).unwrap().open_tree("t").unwrap();
        let seq = AtomicU64::new(1);
        let batch = vec![
            prepared(&seq, "a", 1_000, b"{}"),
            prepared(&seq, "b", 1_000, b"{}"),
            prepared(&seq, "a", 1_000, b"{}"),
        ];
        let outcomes = write_batch(&tree, &batch, WINDOW, &no_fault).unwrap();
        let AcceptOutcome::Accepted {
            event_seq: a,
            deliveries: 2,
        } = outcomes[0]
        else {
            panic!("{outcomes:?}")
        };
        assert!(matches!(outcomes[1], AcceptOutcome::Accepted { .. }));
        assert_eq!(outcomes[2], AcceptOutcome::Duplicate { event_seq: a });
        assert_eq!(count(&tree, EVENT), 2, "the second copy stored nothing");
        assert_eq!(count(&tree, JOB), 4);
        assert_eq!(count(&tree, DEDUP), 2);
        assert_eq!(count(&tree, BODY), 0, "small bodies are inline");

        // Against the tree in a later batch, within the window (in the next bucket too)...
        let again = write_batch(
            &tree,
            &[prepared(&seq, "a", 60_999, b"{}")],
            WINDOW,
            &no_fault,
        );
        assert_eq!(
            again.unwrap(),
            vec![AcceptOutcome::Duplicate { event_seq: a }]
        );
        // ...and new again once the window is over.
        let later = write_batch(
            &tree,
            &[prepared(&seq, "a", 61_000, b"{}")],
            WINDOW,
            &no_fault,
        );
        assert!(matches!(later.unwrap()[0], AcceptOutcome::Accepted { .. }));
    }

    #[test]
    fn a_failure_inside_a_batch_leaves_nothing_of_the_batch() {
        let dir = tempfile::tempdir().unwrap();
        let tree = sled::open(dir.path()).unwrap().open_tree("t").unwrap();
        let seq = AtomicU64::new(1);
        let big = vec![b'x'; INLINE_BODY_LIMIT * 2 + 1];
        let batch = vec![
            prepared(&seq, "a", 1_000, &big),
            prepared(&seq, "b", 1_000, b"{}"),
        ];
        let fail_second = |i: usize| {
            if i == 1 {
                Err(StoreError::storage("No space left on device"))
            } else {
                Ok(())
            }
        };
        let err = write_batch(&tree, &batch, WINDOW, &fail_second).unwrap_err();
        assert_eq!(err.to_string(), "storage failure: No space left on device");
        assert!(
            tree.is_empty(),
            "the first event of the batch was not written either"
        );
        let ok = write_batch(&tree, &batch[..1], WINDOW, &no_fault).unwrap();
        assert!(matches!(ok[0], AcceptOutcome::Accepted { .. }));
        assert_eq!(count(&tree, BODY), 5, "a large body goes to 32 KiB chunks");
    }
}
