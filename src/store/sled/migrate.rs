//! The store's format, checked at open, and the migration of a v1 store (eight trees: events,
//! bodies, dedup, jobs, due, event_jobs, attempts, dead) to layout v2 (one tree, `keys`). The
//! migration copies every event with its body, every job with its attempts (jobs get v2 ids:
//! their event's seq and their place in it; event seqs are kept) and every dedup marker, in
//! batches; then records the format, makes it durable, and only then drops the v1 trees. A crash
//! before the format is recorded leaves v1 intact and the copy is redone at the next open; a
//! crash after it leaves only the v1 trees to drop. A store written by a newer format is refused.

use super::accept_batch::DedupWindow;
use super::keys::*;
use super::records::*;
use super::{engine_error, read_meta};
use crate::store::StoreError;

/// The trees of layout v1.
const V1_TREES: [&str; 8] = [
    "events",
    "bodies",
    "dedup",
    "jobs",
    "due",
    "event_jobs",
    "attempts",
    "dead",
];

/// Events copied per batch.
const BATCH: usize = 512;

/// Brings the store in `db` to layout v2 (a no-op for a v2 store; a new store is marked v2).
pub(super) fn to_v2(
    db: &sled::Db,
    tree: &sled::Tree,
    dedup: DedupWindow,
    log_file: &std::path::Path,
) -> Result<(), StoreError> {
    let has_v1 = db
        .tree_names()
        .iter()
        .any(|name| name.as_ref() == b"events");
    match read_meta(tree, FORMAT)? {
        Some(FORMAT_V2) if has_v1 => drop_v1(db),
        Some(FORMAT_V2) => Ok(()),
        Some(other) => Err(StoreError::storage(format!(
            "the store is in format {other}, newer than this release reads ({FORMAT_V2}): \
             run the release that wrote it"
        ))),
        None if !has_v1 => {
            tree.insert(FORMAT, &FORMAT_V2.to_be_bytes()[..])
                .map_err(engine_error)?;
            Ok(())
        }
        None => {
            let (events, jobs) = copy_v1(db, tree, dedup)?;
            tree.insert(FORMAT, &FORMAT_V2.to_be_bytes()[..])
                .map_err(engine_error)?;
            db.flush().map_err(engine_error)?;
            std::fs::File::open(log_file)
                .and_then(|f| f.sync_data())
                .map_err(|e| StoreError::caused("fdatasync after the migration", e))?;
            tracing::info!(
                events,
                jobs,
                "migrated the store from layout v1 to v2 (job ids renumbered; event numbers kept)"
            );
            drop_v1(db)
        }
    }
}

fn drop_v1(db: &sled::Db) -> Result<(), StoreError> {
    for name in V1_TREES {
        db.drop_tree(name).map_err(engine_error)?;
    }
    db.flush().map_err(engine_error)?;
    Ok(())
}

fn v1_u64(k: &[u8]) -> Option<u64> {
    read_u64(k)
}

/// Copies every v1 record into `tree`; returns how many events and jobs.
fn copy_v1(db: &sled::Db, tree: &sled::Tree, dedup: DedupWindow) -> Result<(u64, u64), StoreError> {
    let open = |name: &str| db.open_tree(name).map_err(engine_error);
    let (events, bodies, markers) = (open("events")?, open("bodies")?, open("dedup")?);
    let (jobs, event_jobs, attempts) = (open("jobs")?, open("event_jobs")?, open("attempts")?);
    // A copy interrupted by a crash left part of the records: start again from nothing.
    let mut clear = sled::Batch::default();
    for prefix in [DEDUP, EVENT, BODY, JOB, ATTEMPT] {
        for key in tree.scan_prefix([prefix]).keys() {
            clear.remove(key.map_err(engine_error)?);
        }
    }
    tree.apply_batch(clear).map_err(engine_error)?;

    let (mut n_events, mut n_jobs, mut next_seq) = (0u64, 0u64, 1u64);
    let mut write = sled::Batch::default();
    let mut in_batch = 0;
    for kv in events.iter() {
        let (k, v) = kv.map_err(engine_error)?;
        let seq = v1_u64(&k).unwrap_or_default();
        if seq > MAX_SEQ {
            return Err(StoreError::storage(format!(
                "event {seq} is numbered past what layout v2 holds"
            )));
        }
        let event = decode_event_v1(seq, &v)?;
        let mut body = Vec::with_capacity(event.body_len as usize);
        for chunk in bodies.scan_prefix(seq.to_be_bytes()).values() {
            body.extend_from_slice(&chunk.map_err(engine_error)?);
        }
        let inline = body.len() <= INLINE_BODY_LIMIT;
        let chunks: Vec<&[u8]> = if inline {
            Vec::new()
        } else {
            body.chunks(BODY_CHUNK).collect()
        };
        for (n, chunk) in chunks.iter().enumerate() {
            write.insert(&body_key(seq, n as u32)[..], *chunk);
        }
        let v2 = EventV2 {
            endpoint: event.endpoint,
            event_id: event.event_id,
            event_type: event.event_type,
            received_at_ms: event.received_at_ms,
            headers: event.headers,
            body_len: body.len() as u64,
            body_chunks: chunks.len() as u32,
            body: inline.then_some(body),
        };
        write.insert(&event_key(seq)[..], encode(&StoredEvent::V2(v2)));
        for (index, entry) in event_jobs.scan_prefix(seq.to_be_bytes()).keys().enumerate() {
            let entry = entry.map_err(engine_error)?;
            let old = entry.get(8..).and_then(v1_u64).unwrap_or_default();
            let Some(raw) = jobs.get(old.to_be_bytes()).map_err(engine_error)? else {
                continue;
            };
            let job = decode_job_v1(old, &raw)?;
            let id = job_id(seq, index as u64);
            let v2 = JobV2 {
                target: job.target,
                created_at_ms: job.created_at_ms,
                state: job.state,
                attempts: job.attempts,
                next_attempt_at_ms: job.next_attempt_at_ms,
                ordering_key: None,
            };
            write.insert(&job_key(id)[..], encode(&StoredJob::V2(v2)));
            for kv in attempts.scan_prefix(old.to_be_bytes()) {
                let (k, v) = kv.map_err(engine_error)?;
                let n = k
                    .get(8..12)
                    .and_then(|b| b.try_into().ok())
                    .map(u32::from_be_bytes)
                    .unwrap_or_default();
                write.insert(&attempt_key(id, n)[..], v);
            }
            n_jobs += 1;
        }
        n_events += 1;
        next_seq = next_seq.max(seq + 1);
        in_batch += 1;
        if in_batch == BATCH {
            tree.apply_batch(std::mem::take(&mut write))
                .map_err(engine_error)?;
            in_batch = 0;
        }
    }
    for kv in markers.iter() {
        let (k, v) = kv.map_err(engine_error)?;
        let Some((seq, at)) = parse_dedup_value(&v) else {
            continue;
        };
        let mut parts = k.splitn(2, |b| *b == 0);
        let (Some(endpoint), Some(event_id)) = (parts.next(), parts.next()) else {
            continue;
        };
        let key = dedup_key(
            dedup.bucket(at),
            &String::from_utf8_lossy(endpoint),
            &String::from_utf8_lossy(event_id),
        );
        write.insert(key, &dedup_value(seq, at)[..]);
    }
    write.insert(NEXT_SEQ, &next_seq.to_be_bytes()[..]);
    tree.apply_batch(write).map_err(engine_error)?;
    Ok((n_events, n_jobs))
}
