//! Layout v2: every record in ONE sled tree, told apart by a one-byte prefix, so that everything
//! an accept (or a batch of attempt outcomes) writes is one atomic `apply_batch`, without a
//! transaction. Integers are big-endian so that sled's byte order is numeric order.
//!
//! | prefix | key | value |
//! |---|---|---|
//! | `m` | name | store metadata: format version, the next event seq, the dedup bucket length, paused targets (`mpaused/` + name) |
//! | `d` | bucket (8) + endpoint + `\0` + event id | dedup marker: seq (8) + accepted at (8) |
//! | `e` | seq (8) | `EventV2`, headers and body inline |
//! | `b` | seq (8) + chunk (4) | a body chunk, only for bodies past `INLINE_BODY_LIMIT` |
//! | `j` | job id (8) | `JobV2`; a job id is its event's seq << 16 + its index in the event |
//! | `a` | job id (8) + attempt (4) | `AttemptV1` |
//!
//! What can be rebuilt at open is not written per event: the due order, the dead-letter list and
//! the per-target counts live in memory (`index`), rebuilt from the job records. An event's jobs
//! are found by the key prefix of its seq. Dedup markers sit in time buckets as long as the dedup
//! window (`dedup_ttl` when the store was created): a lookup reads the buckets the window spans
//! (two), and expiry deletes whole old buckets without reading the live ones.

/// Metadata keys start with it (they are written out whole below).
#[allow(dead_code)]
pub const META: u8 = b'm';
pub const DEDUP: u8 = b'd';
pub const EVENT: u8 = b'e';
pub const BODY: u8 = b'b';
pub const JOB: u8 = b'j';
pub const ATTEMPT: u8 = b'a';

/// Bits of a job id that number the jobs of one event.
pub const JOB_INDEX_BITS: u32 = 16;
/// Most jobs one event can have (accepted targets plus replays).
pub const MAX_JOBS_PER_EVENT: u64 = 1 << JOB_INDEX_BITS;
/// Largest event seq (48 bits).
pub const MAX_SEQ: u64 = (1 << (64 - JOB_INDEX_BITS)) - 1;

pub const FORMAT: &[u8] = b"mformat";
pub const NEXT_SEQ: &[u8] = b"mnext_seq";
pub const DEDUP_BUCKET: &[u8] = b"mdedup_bucket_ms";
/// `mpaused/` + target name: the target is paused (empty value).
pub const PAUSED_PREFIX: &[u8] = b"mpaused/";
/// The format this engine writes.
pub const FORMAT_V2: u64 = 2;

fn prefixed<const N: usize>(prefix: u8, parts: &[&[u8]]) -> [u8; N] {
    let mut k = [0u8; N];
    k[0] = prefix;
    let mut at = 1;
    for p in parts {
        k[at..at + p.len()].copy_from_slice(p);
        at += p.len();
    }
    k
}

pub fn event_key(seq: u64) -> [u8; 9] {
    prefixed(EVENT, &[&seq.to_be_bytes()])
}

pub fn body_key(seq: u64, chunk: u32) -> [u8; 13] {
    prefixed(BODY, &[&seq.to_be_bytes(), &chunk.to_be_bytes()])
}

pub fn body_prefix(seq: u64) -> [u8; 9] {
    prefixed(BODY, &[&seq.to_be_bytes()])
}

pub fn job_id(seq: u64, index: u64) -> u64 {
    (seq << JOB_INDEX_BITS) | index
}

/// The event a job delivers.
pub fn event_of(job: u64) -> u64 {
    job >> JOB_INDEX_BITS
}

pub fn job_key(job: u64) -> [u8; 9] {
    prefixed(JOB, &[&job.to_be_bytes()])
}

/// The prefix every job of event `seq` shares.
pub fn jobs_prefix(seq: u64) -> [u8; 7] {
    let id = job_id(seq, 0).to_be_bytes();
    prefixed(JOB, &[&id[..6]])
}

pub fn attempt_key(job: u64, attempt: u32) -> [u8; 13] {
    prefixed(ATTEMPT, &[&job.to_be_bytes(), &attempt.to_be_bytes()])
}

pub fn attempts_prefix(job: u64) -> [u8; 9] {
    prefixed(ATTEMPT, &[&job.to_be_bytes()])
}

pub fn dedup_key(bucket: u64, endpoint: &str, event_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(10 + endpoint.len() + event_id.len());
    k.push(DEDUP);
    k.extend_from_slice(&bucket.to_be_bytes());
    k.extend_from_slice(endpoint.as_bytes());
    k.push(0);
    k.extend_from_slice(event_id.as_bytes());
    k
}

/// The first key of bucket `bucket`: dedup keys before it are in older buckets.
pub fn dedup_bucket_start(bucket: u64) -> [u8; 9] {
    prefixed(DEDUP, &[&bucket.to_be_bytes()])
}

/// The bucket a dedup key is in.
pub fn bucket_of(key: &[u8]) -> Option<u64> {
    read_u64(key.get(1..)?)
}

/// Dedup value: the event's seq and when it was accepted.
pub fn dedup_value(seq: u64, accepted_at_ms: u64) -> [u8; 16] {
    let mut v = [0u8; 16];
    v[..8].copy_from_slice(&seq.to_be_bytes());
    v[8..].copy_from_slice(&accepted_at_ms.to_be_bytes());
    v
}

pub fn parse_dedup_value(v: &[u8]) -> Option<(u64, u64)> {
    Some((read_u64(v)?, read_u64(v.get(8..)?)?))
}

pub fn paused_key(target: &str) -> Vec<u8> {
    [PAUSED_PREFIX, target.as_bytes()].concat()
}

pub fn read_u64(k: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(k.get(..8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_events_jobs_share_its_prefix_and_sort_after_each_other() {
        let a = job_key(job_id(7, 0));
        let b = job_key(job_id(7, 65_535));
        let c = job_key(job_id(8, 0));
        assert!(a.starts_with(&jobs_prefix(7)) && b.starts_with(&jobs_prefix(7)));
        assert!(!c.starts_with(&jobs_prefix(7)));
        assert!(a < b && b < c);
        assert_eq!(event_of(job_id(7, 3)), 7);
        assert_eq!(event_of(job_id(MAX_SEQ, 1)), MAX_SEQ);
    }

    #[test]
    fn dedup_keys_sort_by_bucket_first() {
        let old = dedup_key(1, "zzz", "zzz");
        let new = dedup_key(2, "a", "a");
        assert!(old < new);
        assert!(old.as_slice() < dedup_bucket_start(2).as_slice());
        assert_eq!(bucket_of(&new), Some(2));
        assert_eq!(parse_dedup_value(&dedup_value(5, 9)), Some((5, 9)));
        assert!(event_key(255) < event_key(256));
        for meta in [FORMAT, NEXT_SEQ, DEDUP_BUCKET, PAUSED_PREFIX] {
            assert_eq!(meta[0], META);
        }
    }
}
