//! The store's language: what the ingress hands over (`NewEvent`), what comes back from an accept,
//! and the domain types every engine reads and writes (an accepted event, a delivery job and its
//! state, an attempt, a claimed job under its lease). No engine's on-disk record appears here:
//! each engine converts its own records (sled's `...V1`) to and from these types.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// An accepted event's number, in acceptance order within one store.
pub type EventSeq = u64;
/// A delivery job's id, unique within one store.
pub type JobId = u64;

/// An event that passed verification and routing, ready to be stored.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub endpoint: &'a str,
    pub event_id: &'a str,
    pub event_type: Option<&'a str>,
    pub received_at_ms: u64,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: &'a [u8],
    pub targets: &'a [Arc<str>],
    /// The ordering key of the job for `targets[i]` (for targets that order by key); shorter
    /// than `targets` (usually empty) means no key for the rest.
    pub ordering_keys: &'a [Option<String>],
}

impl NewEvent<'_> {
    /// The ordering key of the job for the `i`th target.
    pub fn ordering_key(&self, i: usize) -> Option<&str> {
        self.ordering_keys.get(i).and_then(|k| k.as_deref())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptOutcome {
    /// Stored now, with one delivery job per target.
    Accepted {
        event_seq: EventSeq,
        deliveries: usize,
    },
    /// The same `(endpoint, event id)` was accepted within the dedup window.
    Duplicate { event_seq: EventSeq },
}

/// An accepted event, without its body.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub endpoint: String,
    pub event_id: String,
    pub event_type: Option<String>,
    pub received_at_ms: u64,
    /// Request headers as stored (names lower-case).
    pub headers: Vec<(String, Vec<u8>)>,
    pub body_len: u64,
}

/// One delivery of one event to one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub event_seq: EventSeq,
    pub target: String,
    pub created_at_ms: u64,
    pub state: JobState,
    /// Attempts recorded so far.
    pub attempts: u32,
    pub next_attempt_at_ms: u64,
    /// Jobs of one target with the same key are delivered one at a time, in job id order.
    pub ordering_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JobState {
    Pending,
    Delivered { at_ms: u64 },
    Dead { at_ms: u64, reason: String },
}

/// One delivery attempt of a job, as the dispatcher saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// 1-based attempt number (the store sets it when recording).
    pub attempt: u32,
    pub at_ms: u64,
    pub latency_ms: u64,
    /// The response status, when a response came back.
    pub status: Option<u16>,
    /// Why the attempt failed (transport error, status, redirect), if it did.
    pub error: Option<String>,
    /// The first [`ATTEMPT_BODY_LIMIT`] bytes of the response body.
    pub response_body: Vec<u8>,
}

/// How much of a target's response body an attempt keeps.
pub const ATTEMPT_BODY_LIMIT: usize = 1024;

/// An event with every job made for it, each with its attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct EventDetail {
    pub seq: EventSeq,
    pub event: Event,
    pub jobs: Vec<JobDetail>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobDetail {
    pub id: JobId,
    pub job: Job,
    pub attempts: Vec<Attempt>,
}

/// An event in a page of events, with how many of its jobs are in each state.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSummary {
    pub seq: EventSeq,
    pub event: Event,
    pub jobs: Vec<Job>,
}

/// A claim on a job: only its holder may record the job's attempt, until `expires_at_ms`. A
/// lease that runs out returns the job to the queue (another claim takes it over); a holder
/// whose lease was taken over records nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub token: u64,
    pub expires_at_ms: u64,
}

/// A due job taken from the queue under a lease.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub id: JobId,
    pub job: Job,
    pub lease: Lease,
}

/// What the dispatcher asks of the queue in one scan.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    pub now_ms: u64,
    /// How long each claim holds before it must be renewed.
    pub lease: Duration,
    /// Free delivery slots per configured target. A due job of a target not in the map (removed
    /// by a reload) is claimed too, for the dispatcher to postpone.
    pub free: HashMap<Arc<str>, usize>,
    /// Most due jobs one scan reads (jobs of busy targets count against it).
    pub limit: usize,
}

/// What one scan claimed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claimed {
    pub jobs: Vec<ClaimedJob>,
    /// Per configured target, the due time of its oldest due job the scan saw.
    pub oldest_due: HashMap<Arc<str>, u64>,
    /// Due jobs left queued because their target had no free slot.
    pub busy: usize,
}

/// What happens to a job once an attempt is over.
#[derive(Debug, Clone, PartialEq)]
pub enum JobTransition {
    Delivered,
    RetryAt { at_ms: u64 },
    Dead { reason: String },
}

#[derive(Debug, Clone, PartialEq)]
pub enum RecordOutcome {
    /// The job now has this state and attempt count.
    Recorded(Job),
    /// The claim was no longer the job's (its lease was taken over, or the job changed or
    /// vanished): nothing was written.
    Stale,
}

/// What one retention pass removed (and kept).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub events: u64,
    pub jobs: u64,
    pub attempts: u64,
    /// Events older than the cutoff kept because a job is still pending.
    pub kept_pending: u64,
}

/// Pending (queued, due now or later, including in flight) and dead-lettered jobs of one target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TargetJobs {
    pub pending: i64,
    pub dead: i64,
}

/// Totals for tools and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreCounts {
    pub events: usize,
    pub jobs: usize,
    /// Pending jobs (due now or later, including those in flight).
    pub queued: usize,
}

/// What a scan does with a due job it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanPick {
    Take,
    /// Leave it queued (its target is busy) and read on.
    Leave,
    /// Take it and end the scan: no slot is left anywhere.
    TakeLast,
}

/// Ordering by key, the rule every engine's claim applies: a job with an ordering key may be
/// claimed only while it is the earliest pending job (lowest job id, that is acceptance order)
/// of its target and key. An earlier job of the key that is in flight or waiting for its retry
/// holds the later ones back; delivered or dead-lettered, it releases the key to the next one.
/// Jobs without a key, and other keys, are not affected. (In SQL: no pending job of the same
/// target and key with a lower id.)
pub fn key_allows(job: JobId, earliest_pending_of_key: Option<JobId>) -> bool {
    earliest_pending_of_key.is_none_or(|first| first == job)
}

/// The free slots of one scan, shared by every engine: a job is taken while its target has a
/// free slot (counting the slot as used), an orphan (target not configured) is taken for the
/// dispatcher to postpone, and the last free slot ends the scan.
#[derive(Debug)]
pub struct SlotBudget {
    free: HashMap<Arc<str>, usize>,
    total: usize,
    /// Due jobs left because their target was busy.
    pub busy: usize,
    /// Due jobs left because an earlier job of their ordering key is pending.
    pub held: usize,
    /// Per configured target, the first (oldest) due time seen.
    pub oldest_due: HashMap<Arc<str>, u64>,
}

impl SlotBudget {
    pub fn new(free: HashMap<Arc<str>, usize>) -> Self {
        let total = free.values().sum();
        Self {
            free,
            total,
            busy: 0,
            held: 0,
            oldest_due: HashMap::new(),
        }
    }

    /// No slot is free anywhere: a scan would start nothing.
    pub fn exhausted(&self) -> bool {
        self.total == 0
    }

    /// Whether the scan takes a due job of `target`, due at `due_at_ms`.
    pub fn pick(&mut self, target: &str, due_at_ms: u64) -> ScanPick {
        let Some((name, n)) = self.free.get_key_value(target) else {
            return ScanPick::Take;
        };
        self.oldest_due.entry(name.clone()).or_insert(due_at_ms);
        if *n == 0 {
            self.busy += 1;
            return ScanPick::Leave;
        }
        if let Some(n) = self.free.get_mut(target) {
            *n -= 1;
        }
        self.total -= 1;
        if self.total == 0 {
            ScanPick::TakeLast
        } else {
            ScanPick::Take
        }
    }

    /// A due job of `target` is held back by its ordering key: not taken, no slot used.
    pub fn hold(&mut self, target: &str, due_at_ms: u64) {
        if let Some((name, _)) = self.free.get_key_value(target) {
            self.oldest_due.entry(name.clone()).or_insert(due_at_ms);
        }
        self.held += 1;
    }

    /// The scan's result around the jobs it claimed.
    pub fn into_claimed(self, jobs: Vec<ClaimedJob>) -> Claimed {
        Claimed {
            jobs,
            oldest_due: self.oldest_due,
            busy: self.busy,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_takes_while_a_target_has_slots_and_ends_on_the_last_one() {
        let free = HashMap::from([(Arc::from("a"), 1), (Arc::from("b"), 1)]);
        let mut budget = SlotBudget::new(free);
        assert_eq!(budget.pick("a", 5), ScanPick::Take);
        assert_eq!(budget.pick("a", 6), ScanPick::Leave);
        assert_eq!(budget.pick("gone", 7), ScanPick::Take, "orphans are taken");
        assert_eq!(budget.pick("b", 8), ScanPick::TakeLast);
        assert_eq!(budget.busy, 1);
        assert_eq!(budget.oldest_due.get("a"), Some(&5));
        assert!(budget.exhausted());
    }
}
