//! What the store keeps on disk, versioned: each record is an enum whose variant is its format
//! version, so a later release can read what an earlier one wrote (postcard encodes the variant's
//! index first: new variants go at the end). Layout v2 writes `EventV2` and `JobV2`; the v1
//! records (`EventV1` with its body in chunks, `JobV1`) are read only to migrate a v1 store
//! (`migrate`). Attempts kept their v1 shape. Keys are in `keys`.

use crate::store::model::{Attempt, Event, Job, JobState};
use crate::store::StoreError;
use serde::{Deserialize, Serialize};

/// An accepted event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StoredEvent {
    /// v1: the body apart, in chunks.
    V1(EventV1),
    /// v2: headers and body inline, chunked only past [`INLINE_BODY_LIMIT`].
    V2(EventV2),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventV2 {
    pub endpoint: String,
    pub event_id: String,
    pub event_type: Option<String>,
    pub received_at_ms: u64,
    /// Request headers as stored (names lower-case).
    pub headers: Vec<(String, Vec<u8>)>,
    pub body_len: u64,
    /// The body when it is at most [`INLINE_BODY_LIMIT`]; `None` when it is in `body_chunks`
    /// chunk records.
    pub body: Option<Vec<u8>>,
    pub body_chunks: u32,
}

/// One delivery of one event to one target; the event is the top 48 bits of the job's id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobV2 {
    pub target: String,
    pub created_at_ms: u64,
    pub state: JobStateV1,
    pub attempts: u32,
    pub next_attempt_at_ms: u64,
    /// The target's ordering key for this job's event, if the target orders by key.
    pub ordering_key: Option<String>,
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
    V2(JobV2),
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

/// Bodies up to this size are stored inside their event record: with the headers, the record
/// stays well under sled's blob threshold (segment size / 4 = 128 KiB by default). Larger
/// bodies go to [`BODY_CHUNK`] records.
pub const INLINE_BODY_LIMIT: usize = 64 * 1024;

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("in-memory serialization cannot fail")
}

pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, postcard::Error> {
    postcard::from_bytes(bytes)
}

/// Decodes a versioned record and takes the variant `pick` wants; `what` names it in errors
/// ("event 7"), and a record of another version is corrupt for this reader.
fn decode_version<'a, R: Deserialize<'a>, T>(
    what: impl Fn() -> String,
    bytes: &'a [u8],
    pick: impl FnOnce(R) -> Result<T, &'static str>,
) -> Result<T, StoreError> {
    let record = decode::<R>(bytes).map_err(|e| corrupt(what(), e))?;
    pick(record).map_err(|found| StoreError::Corrupt {
        what: format!("{}: {found}", what()),
        cause: None,
    })
}

/// A v1 event record (migration only).
pub fn decode_event_v1(seq: u64, bytes: &[u8]) -> Result<EventV1, StoreError> {
    decode_version(
        || format!("event {seq}"),
        bytes,
        |r| match r {
            StoredEvent::V1(e) => Ok(e),
            StoredEvent::V2(_) => Err("a v2 record in a v1 tree"),
        },
    )
}

/// A v1 job record (migration only).
pub fn decode_job_v1(id: u64, bytes: &[u8]) -> Result<JobV1, StoreError> {
    decode_version(
        || format!("job {id}"),
        bytes,
        |r| match r {
            StoredJob::V1(j) => Ok(j),
            StoredJob::V2(_) => Err("a v2 record in a v1 tree"),
        },
    )
}

pub fn decode_event(seq: u64, bytes: &[u8]) -> Result<EventV2, StoreError> {
    decode_version(
        || format!("event {seq}"),
        bytes,
        |r| match r {
            StoredEvent::V2(e) => Ok(e),
            StoredEvent::V1(_) => Err("a v1 record in the v2 layout"),
        },
    )
}

pub fn decode_job(id: u64, bytes: &[u8]) -> Result<JobV2, StoreError> {
    decode_version(
        || format!("job {id}"),
        bytes,
        |r| match r {
            StoredJob::V2(j) => Ok(j),
            StoredJob::V1(_) => Err("a v1 record in the v2 layout"),
        },
    )
}

pub fn decode_attempt(job: u64, bytes: &[u8]) -> Result<AttemptV1, StoreError> {
    decode_version(
        || format!("attempt of job {job}"),
        bytes,
        |r| match r {
            StoredAttempt::V1(a) => Ok(a),
        },
    )
}

pub fn corrupt(what: String, e: postcard::Error) -> StoreError {
    StoreError::Corrupt {
        what,
        cause: Some(std::sync::Arc::new(e)),
    }
}

impl From<EventV2> for Event {
    fn from(e: EventV2) -> Self {
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

impl JobV2 {
    /// The domain job; `id` says which event it delivers.
    pub fn into_job(self, id: u64) -> Job {
        Job {
            event_seq: super::keys::event_of(id),
            target: self.target,
            created_at_ms: self.created_at_ms,
            state: self.state.into(),
            attempts: self.attempts,
            next_attempt_at_ms: self.next_attempt_at_ms,
            ordering_key: self.ordering_key,
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

/// A new job to `target`, due at `now_ms`, with its ordering key.
pub fn pending_job(target: &str, ordering_key: Option<&str>, now_ms: u64) -> JobV2 {
    JobV2 {
        target: target.to_string(),
        created_at_ms: now_ms,
        state: JobStateV1::Pending,
        attempts: 0,
        next_attempt_at_ms: now_ms,
        ordering_key: ordering_key.map(str::to_string),
    }
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
    }

    #[test]
    fn a_v2_variant_does_not_change_how_v1_records_decode() {
        // The first byte is the variant: 0 for every record a v1 store holds.
        let job = StoredJob::V1(JobV1 {
            event_seq: 1,
            target: "t".into(),
            created_at_ms: 2,
            state: JobStateV1::Dead {
                at_ms: 3,
                reason: "r".into(),
            },
            attempts: 4,
            next_attempt_at_ms: 5,
        });
        let bytes = encode(&job);
        assert_eq!(bytes[0], 0);
        assert_eq!(decode_job_v1(9, &bytes).unwrap().attempts, 4);
        assert!(
            decode_job(9, &bytes).is_err(),
            "a v1 record is not read as v2"
        );
    }
}
