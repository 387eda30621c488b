//! What the store keeps on disk, versioned: each record is an enum whose variant is its format
//! version, so a later release can read what an earlier one wrote. Keys are big-endian integers
//! so that sled's ordering is numeric ordering.

use crate::store::model::{Attempt, Event, Job, JobState};
use crate::store::StoreError;
use serde::{Deserialize, Serialize};

/// An accepted event. The body is kept apart, in chunks (see `BODY_CHUNK`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StoredEvent {
    V1(EventV1),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventV1 {
    pub endpoint: String,
    pub event_id: String,
    pub event_type: Option<String>,
    pub received_at_ms: u64,
    /// Request headers as received (names lower-case).
    pub headers: Vec<(String, Vec<u8>)>,
    pub body_len: u64,
    pub body_chunks: u32,
}

/// One delivery of one event to one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StoredJob {
    V1(JobV1),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobV1 {
    pub event_seq: u64,
    pub target: String,
    pub created_at_ms: u64,
    pub state: JobStateV1,
    pub attempts: u32,
    pub next_attempt_at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum JobStateV1 {
    Pending,
    Delivered { at_ms: u64 },
    Dead { at_ms: u64, reason: String },
}

/// One delivery attempt of a job, as the dispatcher saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StoredAttempt {
    V1(AttemptV1),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptV1 {
    /// 1-based attempt number.
    pub attempt: u32,
    pub at_ms: u64,
    pub latency_ms: u64,
    /// The response status, when a response came back.
    pub status: Option<u16>,
    /// Why the attempt failed (transport error, status, redirect), if it did.
    pub error: Option<String>,
    /// The first [`crate::store::ATTEMPT_BODY_LIMIT`] bytes of the response body.
    pub response_body: Vec<u8>,
}

/// Bodies are stored in chunks no larger than this, well under sled's threshold for moving a
/// value to a separate blob file (segment size / 4 = 128 KiB by default). Blob files are written
/// without fsync, so keeping every value inline in the log keeps one fdatasync sufficient.
pub const BODY_CHUNK: usize = 32 * 1024;

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("in-memory serialization cannot fail")
}

pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, postcard::Error> {
    postcard::from_bytes(bytes)
}

pub fn decode_event(seq: u64, bytes: &[u8]) -> Result<EventV1, StoreError> {
    match decode::<StoredEvent>(bytes) {
        Ok(StoredEvent::V1(e)) => Ok(e),
        Err(e) => Err(corrupt(format!("event {seq}"), e)),
    }
}

pub fn decode_job(id: u64, bytes: &[u8]) -> Result<JobV1, StoreError> {
    match decode::<StoredJob>(bytes) {
        Ok(StoredJob::V1(j)) => Ok(j),
        Err(e) => Err(corrupt(format!("job {id}"), e)),
    }
}

pub fn corrupt(what: String, e: postcard::Error) -> StoreError {
    StoreError::Corrupt {
        what,
        cause: Some(std::sync::Arc::new(e)),
    }
}

impl From<EventV1> for Event {
    fn from(e: EventV1) -> Self {
        Event {
            endpoint: e.endpoint,
            event_id: e.event_id,
            event_type: e.event_type,
            received_at_ms: e.received_at_ms,
            headers: e.headers,
            body_len: e.body_len,
        }
    }
}

impl From<JobStateV1> for JobState {
    fn from(s: JobStateV1) -> Self {
        match s {
            JobStateV1::Pending => JobState::Pending,
            JobStateV1::Delivered { at_ms } => JobState::Delivered { at_ms },
            JobStateV1::Dead { at_ms, reason } => JobState::Dead { at_ms, reason },
        }
    }
}

impl From<JobV1> for Job {
    fn from(j: JobV1) -> Self {
        Job {
            event_seq: j.event_seq,
            target: j.target,
            created_at_ms: j.created_at_ms,
            state: j.state.into(),
            attempts: j.attempts,
            next_attempt_at_ms: j.next_attempt_at_ms,
        }
    }
}

impl From<AttemptV1> for Attempt {
    fn from(a: AttemptV1) -> Self {
        Attempt {
            attempt: a.attempt,
            at_ms: a.at_ms,
            latency_ms: a.latency_ms,
            status: a.status,
            error: a.error,
            response_body: a.response_body,
        }
    }
}

impl From<Attempt> for AttemptV1 {
    fn from(a: Attempt) -> Self {
        AttemptV1 {
            attempt: a.attempt,
            at_ms: a.at_ms,
            latency_ms: a.latency_ms,
            status: a.status,
            error: a.error,
            response_body: a.response_body,
        }
    }
}

/// A new job for `event_seq`, due at `now_ms`, encoded.
pub fn pending_job(event_seq: u64, target: &str, now_ms: u64) -> Vec<u8> {
    encode(&StoredJob::V1(JobV1 {
        event_seq,
        target: target.to_string(),
        created_at_ms: now_ms,
        state: JobStateV1::Pending,
        attempts: 0,
        next_attempt_at_ms: now_ms,
    }))
}

pub fn seq_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

pub fn body_key(seq: u64, chunk: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&seq.to_be_bytes());
    k[8..].copy_from_slice(&chunk.to_be_bytes());
    k
}

/// `due` index: jobs ordered by when they are next due.
pub fn due_key(at_ms: u64, job: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&at_ms.to_be_bytes());
    k[8..].copy_from_slice(&job.to_be_bytes());
    k
}

/// `attempts` index: a job's attempts in order.
pub fn attempt_key(job: u64, attempt: u32) -> [u8; 12] {
    body_key(job, attempt)
}

pub fn dedup_key(endpoint: &str, event_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(endpoint.len() + 1 + event_id.len());
    k.extend_from_slice(endpoint.as_bytes());
    k.push(0);
    k.extend_from_slice(event_id.as_bytes());
    k
}

/// `event_jobs` index: an event's jobs, found by prefix scan on the event's seq.
pub fn event_job_key(seq: u64, job: u64) -> [u8; 16] {
    due_key(seq, job)
}

/// Dedup value: the event's sequence number and when it was accepted.
pub fn dedup_value(seq: u64, accepted_at_ms: u64) -> [u8; 16] {
    due_key(seq, accepted_at_ms)
}

pub fn parse_dedup_value(v: &[u8]) -> Option<(u64, u64)> {
    let seq = u64::from_be_bytes(v.get(..8)?.try_into().ok()?);
    let at = u64::from_be_bytes(v.get(8..16)?.try_into().ok()?);
    Some((seq, at))
}

pub fn read_u64(k: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(k.get(..8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_their_versioned_encoding() {
        let ev = StoredEvent::V1(EventV1 {
            endpoint: "/a".into(),
            event_id: "evt_1".into(),
            event_type: Some("x".into()),
            received_at_ms: 7,
            headers: vec![("h".into(), b"v".to_vec())],
            body_len: 3,
            body_chunks: 1,
        });
        assert_eq!(decode::<StoredEvent>(&encode(&ev)).unwrap(), ev);
        assert_eq!(parse_dedup_value(&dedup_value(5, 9)), Some((5, 9)));
    }

    #[test]
    fn keys_sort_numerically() {
        assert!(due_key(1, 99) < due_key(2, 0));
        assert!(seq_key(255) < seq_key(256));
    }
}
