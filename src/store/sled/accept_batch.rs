//! One batch of accepts, as data and as one transaction. [`PreparedAccept::prepare`] runs on the
//! caller's thread: it draws the event's and jobs' ids and encodes their records, so the ingest
//! writer does no encoding. [`write_batch`] writes a whole batch in ONE sled transaction over the
//! six trees (dedup marker, event, body chunks, jobs, due entries, event -> job index), so a crash
//! never leaves a dedup marker without its event and jobs, and one commit serves every event of
//! the batch. Dedup is checked against the tree AND within the batch: two copies of one event in
//! the same batch are one `Accepted` and one `Duplicate`.

use super::records::*;
use crate::store::{AcceptOutcome, NewEvent, StoreError};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use std::collections::HashMap;
use std::sync::Arc;

/// An event ready to be written: ids drawn, records encoded, everything owned.
#[derive(Debug)]
pub(crate) struct PreparedAccept {
    seq: u64,
    dedup_key: Vec<u8>,
    accepted_at_ms: u64,
    event: Vec<u8>,
    body: Vec<u8>,
    jobs: Vec<(u64, Vec<u8>)>,
    pub(crate) targets: Vec<Arc<str>>,
}

impl PreparedAccept {
    pub(crate) fn prepare(db: &sled::Db, ev: NewEvent<'_>) -> Result<Self, StoreError> {
        let seq = db.generate_id().map_err(super::engine_error)?;
        let body_chunks = ev.body.len().div_ceil(BODY_CHUNK) as u32;
        let event = encode(&StoredEvent::V1(EventV1 {
            endpoint: ev.endpoint.to_string(),
            event_id: ev.event_id.to_string(),
            event_type: ev.event_type.map(str::to_string),
            received_at_ms: ev.received_at_ms,
            headers: ev.headers,
            body_len: ev.body.len() as u64,
            body_chunks,
        }));
        let jobs = ev
            .targets
            .iter()
            .map(|target| {
                Ok((
                    db.generate_id()?,
                    pending_job(seq, target, ev.received_at_ms),
                ))
            })
            .collect::<Result<Vec<_>, sled::Error>>()
            .map_err(super::engine_error)?;
        Ok(Self {
            seq,
            dedup_key: dedup_key(ev.endpoint, ev.event_id),
            accepted_at_ms: ev.received_at_ms,
            event,
            body: ev.body.to_vec(),
            jobs,
            targets: ev.targets.to_vec(),
        })
    }
}

/// The trees an accept writes (clones of the store's handles).
#[derive(Clone)]
pub(crate) struct IngestTrees {
    pub events: sled::Tree,
    pub bodies: sled::Tree,
    pub dedup: sled::Tree,
    pub jobs: sled::Tree,
    pub due: sled::Tree,
    pub event_jobs: sled::Tree,
}

impl IngestTrees {
    /// Opens (or creates) the six trees in `db`.
    pub fn open(db: &sled::Db) -> sled::Result<Self> {
        Ok(Self {
            events: db.open_tree("events")?,
            bodies: db.open_tree("bodies")?,
            dedup: db.open_tree("dedup")?,
            jobs: db.open_tree("jobs")?,
            due: db.open_tree("due")?,
            event_jobs: db.open_tree("event_jobs")?,
        })
    }

    /// Every tree, for checks over all of them.
    #[cfg(test)]
    pub fn all(&self) -> [&sled::Tree; 6] {
        [
            &self.events,
            &self.bodies,
            &self.dedup,
            &self.jobs,
            &self.due,
            &self.event_jobs,
        ]
    }
}

/// Called after each event of a batch is written into the transaction, with its index; an error
/// aborts the whole transaction. Production passes [`no_fault`]; tests inject a storage error.
pub(crate) type FaultHook = dyn Fn(usize) -> Result<(), StoreError> + Send + Sync;

pub(crate) fn no_fault(_: usize) -> Result<(), StoreError> {
    Ok(())
}

/// Writes `batch` in one transaction; the outcomes are in the batch's order. Nothing is written
/// if it fails. Not durable: the caller flushes and fsyncs.
pub(crate) fn write_batch(
    trees: &IngestTrees,
    batch: &[PreparedAccept],
    dedup_ttl_ms: u64,
    fault: &FaultHook,
) -> Result<Vec<AcceptOutcome>, StoreError> {
    let t = trees;
    let result = (
        &t.events,
        &t.bodies,
        &t.dedup,
        &t.jobs,
        &t.due,
        &t.event_jobs,
    )
        .transaction(|(events, bodies, dedup, jobs, due, event_jobs)| {
            // Retried from scratch on a conflict, so the in-batch view starts empty each time.
            let mut in_batch: HashMap<&[u8], u64> = HashMap::with_capacity(batch.len());
            let mut outcomes = Vec::with_capacity(batch.len());
            for (i, ev) in batch.iter().enumerate() {
                if let Some(&first) = in_batch.get(ev.dedup_key.as_slice()) {
                    outcomes.push(AcceptOutcome::Duplicate { event_seq: first });
                    continue;
                }
                if let Some((first, at)) = dedup
                    .get(&ev.dedup_key)?
                    .and_then(|v| parse_dedup_value(&v))
                {
                    if at.saturating_add(dedup_ttl_ms) > ev.accepted_at_ms {
                        outcomes.push(AcceptOutcome::Duplicate { event_seq: first });
                        continue;
                    }
                }
                in_batch.insert(&ev.dedup_key, ev.seq);
                dedup.insert(
                    ev.dedup_key.as_slice(),
                    &dedup_value(ev.seq, ev.accepted_at_ms)[..],
                )?;
                events.insert(&seq_key(ev.seq), ev.event.as_slice())?;
                for (n, chunk) in ev.body.chunks(BODY_CHUNK).enumerate() {
                    bodies.insert(&body_key(ev.seq, n as u32), chunk)?;
                }
                for (id, job) in &ev.jobs {
                    jobs.insert(&seq_key(*id), job.as_slice())?;
                    due.insert(&due_key(ev.accepted_at_ms, *id), &[][..])?;
                    event_jobs.insert(&event_job_key(ev.seq, *id), &[][..])?;
                }
                fault(i).map_err(ConflictableTransactionError::Abort)?;
                outcomes.push(AcceptOutcome::Accepted {
                    event_seq: ev.seq,
                    deliveries: ev.jobs.len(),
                });
            }
            Ok::<_, ConflictableTransactionError<StoreError>>(outcomes)
        });
    result.map_err(|e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => super::engine_error(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trees(db: &sled::Db) -> IngestTrees {
        IngestTrees::open(db).unwrap()
    }

    fn prepared(db: &sled::Db, id: &str, body: &[u8]) -> PreparedAccept {
        let targets: Vec<Arc<str>> = vec!["t".into(), "u".into()];
        PreparedAccept::prepare(
            db,
            NewEvent {
                endpoint: "in",
                event_id: id,
                event_type: None,
                received_at_ms: 1_000,
                headers: vec![],
                body,
                targets: &targets,
            },
        )
        .unwrap()
    }

    #[test]
    fn two_copies_of_one_event_in_a_batch_are_one_accepted_and_one_duplicate() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let t = trees(&db);
        let batch = vec![
            prepared(&db, "a", b"{}"),
            prepared(&db, "b", b"{}"),
            prepared(&db, "a", b"{}"),
        ];
        let outcomes = write_batch(&t, &batch, 60_000, &no_fault).unwrap();
        let AcceptOutcome::Accepted {
            event_seq: a,
            deliveries: 2,
        } = outcomes[0]
        else {
            panic!("{outcomes:?}")
        };
        assert!(matches!(outcomes[1], AcceptOutcome::Accepted { .. }));
        assert_eq!(outcomes[2], AcceptOutcome::Duplicate { event_seq: a });
        assert_eq!(t.events.len(), 2, "the second copy stored nothing");
        assert_eq!(t.jobs.len(), 4);
        assert_eq!(t.dedup.len(), 2);

        // And against the tree, in a later batch.
        let again = write_batch(&t, &[prepared(&db, "a", b"{}")], 60_000, &no_fault).unwrap();
        assert_eq!(again, vec![AcceptOutcome::Duplicate { event_seq: a }]);
    }

    #[test]
    fn a_failure_inside_a_batch_leaves_nothing_of_the_batch() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let t = trees(&db);
        let big = vec![b'x'; BODY_CHUNK * 2 + 1];
        let batch = vec![prepared(&db, "a", &big), prepared(&db, "b", b"{}")];
        let fail_second = |i: usize| {
            if i == 1 {
                Err(StoreError::storage("No space left on device"))
            } else {
                Ok(())
            }
        };
        let err = write_batch(&t, &batch, 60_000, &fail_second).unwrap_err();
        assert_eq!(err.to_string(), "storage failure: No space left on device");
        for tree in t.all() {
            assert!(
                tree.is_empty(),
                "the first event of the batch was rolled back too"
            );
        }
    }
}
