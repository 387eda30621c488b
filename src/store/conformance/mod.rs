//! The one suite every engine passes (after arrow-rs object_store's `integration.rs`): each case
//! is a plain async function over a fresh store, so an engine's tests are a call of
//! [`run_all`] with a function that opens a fresh one. A new engine is done when it passes.
//! The queue state machine ([`queue_state_machine`]) takes its operations as data so a property
//! test can generate them (tests/store_conformance.rs).
//!
//! Times are explicit unix milliseconds: nothing here sleeps.

mod state_machine;

pub use state_machine::{queue_state_machine, Finish, Op};

use super::model::*;
use super::traits::Stores;
use super::QueueError;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Opens a fresh, empty store with the given dedup window.
pub type Fresh<'a> = &'a dyn Fn(Duration) -> Stores;

pub(crate) const HOUR: Duration = Duration::from_secs(3600);
pub(crate) const LEASE: Duration = Duration::from_secs(60);
pub(crate) const T0: u64 = 1_000_000;

/// Every case, each on a fresh store.
pub async fn run_all(fresh: Fresh<'_>) {
    dedup_window(fresh).await;
    accepted_jobs_are_claimed_once_under_a_lease(fresh).await;
    a_lease_that_runs_out_is_taken_over_and_the_old_claim_is_stale(fresh).await;
    a_renewed_lease_keeps_its_job(fresh).await;
    a_released_claim_is_due_again_at_once(fresh).await;
    claims_respect_free_slots_and_take_orphans(fresh).await;
    attempts_retries_and_dead_letters(fresh).await;
    replay_makes_new_jobs(fresh).await;
    retention_never_touches_a_pending_job(fresh).await;
    paused_targets_are_kept_until_resumed(fresh).await;
    one_job_per_ordering_key_at_a_time(fresh).await;
}

/// Accepts `id` to target `t` with ordering key `key`.
async fn accept_keyed(store: &Stores, id: &str, at_ms: u64, key: Option<&str>) -> JobId {
    let to = targets(&["t"]);
    let keys = [key.map(str::to_string)];
    let outcome = store
        .ingest
        .accept_durable(NewEvent {
            endpoint: "in",
            event_id: id,
            event_type: Some("t"),
            received_at_ms: at_ms,
            headers: vec![],
            body: b"{}",
            targets: &to,
            ordering_keys: &keys,
        })
        .await
        .expect("accept");
    let AcceptOutcome::Accepted { event_seq, .. } = outcome else {
        panic!("{id}: not accepted")
    };
    let detail = store.events.event_detail(event_seq).await.unwrap().unwrap();
    assert_eq!(detail.jobs[0].job.ordering_key.as_deref(), key);
    detail.jobs[0].id
}

/// Jobs of one target and key are claimed one at a time in acceptance order: an earlier job in
/// flight or waiting for its retry holds the later ones; a dead letter releases its key; other
/// keys and unkeyed jobs go on.
pub async fn one_job_per_ordering_key_at_a_time(fresh: Fresh<'_>) {
    let store = fresh(HOUR);
    let a1 = accept_keyed(&store, "a1", T0, Some("a")).await;
    let a2 = accept_keyed(&store, "a2", T0, Some("a")).await;
    let b1 = accept_keyed(&store, "b1", T0 + 1, Some("b")).await;
    let free = accept_keyed(&store, "n1", T0 + 2, None).await;
    let ids = |c: &Claimed| c.jobs.iter().map(|j| j.id).collect::<Vec<_>>();
    let first = claim(&store, T0 + 10, &[("t", 10)]).await;
    assert_eq!(ids(&first), [a1, b1, free], "a2 waits for a1");
    let again = claim(&store, T0 + 10, &[("t", 10)]).await;
    assert!(again.jobs.is_empty(), "a1 in flight still holds a2");
    let a1_claim = first.jobs.iter().find(|j| j.id == a1).unwrap();
    record(
        &store,
        a1_claim,
        JobTransition::RetryAt { at_ms: T0 + 1000 },
        T0 + 20,
    )
    .await;
    let b1_claim = first.jobs.iter().find(|j| j.id == b1).unwrap();
    record(&store, b1_claim, JobTransition::Delivered, T0 + 20).await;
    assert!(
        claim(&store, T0 + 30, &[("t", 10)]).await.jobs.is_empty(),
        "a1 waiting for its retry still holds a2, though a2 is due"
    );
    let retry = claim(&store, T0 + 1000, &[("t", 10)]).await;
    assert_eq!(ids(&retry), [a1]);
    let dead = JobTransition::Dead {
        reason: "gone".into(),
    };
    record(&store, &retry.jobs[0], dead, T0 + 1001).await;
    let next = claim(&store, T0 + 1001, &[("t", 10)]).await;
    assert_eq!(ids(&next), [a2], "a dead letter releases its key");
}

/// Pausing is stored per target name, idempotent both ways, listed sorted; it does not touch
/// the jobs (the dispatcher, not the claim, honours it).
pub async fn paused_targets_are_kept_until_resumed(fresh: Fresh<'_>) {
    let store = fresh(HOUR);
    let q = &store.queue;
    assert!(q.paused().await.unwrap().is_empty());
    accept(&store, "p1", T0, &["b"]).await;
    q.set_paused("b", true).await.unwrap();
    q.set_paused("a", true).await.unwrap();
    q.set_paused("a", true).await.unwrap();
    assert_eq!(q.paused().await.unwrap(), ["a", "b"]);
    q.set_paused("a", false).await.unwrap();
    q.set_paused("never-paused", false).await.unwrap();
    assert_eq!(q.paused().await.unwrap(), ["b"]);
    let claimed = claim(&store, T0, &[("b", 1)]).await;
    assert_eq!(
        claimed.jobs.len(),
        1,
        "jobs of a paused target stay claimable by the queue"
    );
}

fn targets(names: &[&str]) -> Vec<Arc<str>> {
    names.iter().map(|t| Arc::from(*t)).collect()
}

/// Accepts `id` on endpoint `in` at `at_ms` with one job per target.
pub async fn accept(store: &Stores, id: &str, at_ms: u64, to: &[&str]) -> AcceptOutcome {
    let to = targets(to);
    store
        .ingest
        .accept_durable(NewEvent {
            endpoint: "in",
            event_id: id,
            event_type: Some("t"),
            received_at_ms: at_ms,
            headers: vec![("content-type".into(), b"application/json".to_vec())],
            body: format!("{{\"id\":\"{id}\"}}").as_bytes(),
            targets: &to,
            ordering_keys: &[],
        })
        .await
        .expect("accept")
}

async fn accepted(store: &Stores, id: &str, at_ms: u64, to: &[&str]) -> EventSeq {
    match accept(store, id, at_ms, to).await {
        AcceptOutcome::Accepted { event_seq, .. } => event_seq,
        other => panic!("{id}: expected accepted, got {other:?}"),
    }
}

/// Claims at `now_ms` with `slots` free for each named target.
pub async fn claim(store: &Stores, now_ms: u64, slots: &[(&str, usize)]) -> Claimed {
    store
        .queue
        .claim_due(ClaimRequest {
            now_ms,
            lease: LEASE,
            free: slots.iter().map(|(t, n)| (Arc::from(*t), *n)).collect(),
            limit: 4096,
        })
        .await
        .expect("claim")
}

fn attempt(at_ms: u64, status: u16) -> Attempt {
    Attempt {
        attempt: 0,
        at_ms,
        latency_ms: 1,
        status: Some(status),
        error: (status >= 300).then(|| format!("HTTP {status}")),
        response_body: b"ok".to_vec(),
    }
}

pub(crate) async fn record(
    store: &Stores,
    claim: &ClaimedJob,
    t: JobTransition,
    at_ms: u64,
) -> RecordOutcome {
    let status = if t == JobTransition::Delivered {
        200
    } else {
        500
    };
    store
        .queue
        .record(claim.clone(), attempt(at_ms, status), t)
        .await
        .expect("record")
}

pub async fn dedup_window(fresh: Fresh<'_>) {
    let store = fresh(Duration::from_secs(10));
    let first = accepted(&store, "e1", T0, &["t"]).await;
    assert_eq!(
        accept(&store, "e1", T0 + 9_999, &["t"]).await,
        AcceptOutcome::Duplicate { event_seq: first },
        "inside the window"
    );
    assert_eq!(
        store.events.find_event("in", "e1").await.unwrap(),
        Some(first)
    );
    let again = accepted(&store, "e1", T0 + 10_000, &["t"]).await;
    assert_ne!(again, first, "past the window the id is new again");
    assert_eq!(
        store.events.find_event("in", "e1").await.unwrap(),
        Some(again),
        "the newest acceptance"
    );
    assert_eq!(
        store.retention.prune_dedup(T0 + 10_000).await.unwrap(),
        0,
        "a live marker is kept"
    );
    // An engine may forget an expired marker late (sled drops whole time buckets), but within a
    // second window it has.
    assert!(store.retention.prune_dedup(T0 + 30_000).await.unwrap() >= 1);
    assert_eq!(store.events.find_event("in", "e1").await.unwrap(), None);
    let counts = store.events.counts().await.unwrap();
    assert_eq!((counts.events, counts.jobs, counts.queued), (2, 2, 2));
}

pub async fn accepted_jobs_are_claimed_once_under_a_lease(fresh: Fresh<'_>) {
    let store = fresh(HOUR);
    let seq = accepted(&store, "e1", T0, &["a", "b"]).await;
    assert!(
        claim(&store, T0 - 1, &[("a", 9), ("b", 9)])
            .await
            .jobs
            .is_empty(),
        "not due yet"
    );
    let claimed = claim(&store, T0, &[("a", 9), ("b", 9)]).await;
    assert_eq!(claimed.jobs.len(), 2);
    assert!(claimed
        .jobs
        .iter()
        .all(|c| c.job.event_seq == seq && c.job.attempts == 0));
    assert_eq!(claimed.oldest_due.get("a"), Some(&T0));
    assert!(
        claim(&store, T0 + 1, &[("a", 9), ("b", 9)])
            .await
            .jobs
            .is_empty(),
        "claimed"
    );
    let (event, body) = store.queue.load_event(seq).await.unwrap().expect("event");
    assert_eq!(event.event_id, "e1");
    assert_eq!(body, br#"{"id":"e1"}"#);
    for c in &claimed.jobs {
        assert!(matches!(
            record(&store, c, JobTransition::Delivered, T0 + 5).await,
            RecordOutcome::Recorded(Job {
                attempts: 1,
                state: JobState::Delivered { .. },
                ..
            })
        ));
    }
    let detail = store.events.event_detail(seq).await.unwrap().unwrap();
    assert!(detail
        .jobs
        .iter()
        .all(|j| j.attempts.len() == 1 && j.attempts[0].attempt == 1));
    assert_eq!(store.events.counts().await.unwrap().queued, 0);
    assert_eq!(store.queue.next_due_after(0).await.unwrap(), None);
}

pub async fn a_lease_that_runs_out_is_taken_over_and_the_old_claim_is_stale(fresh: Fresh<'_>) {
    let store = fresh(HOUR);
    accepted(&store, "e1", T0, &["t"]).await;
    let first = claim(&store, T0, &[("t", 1)]).await.jobs.remove(0);
    let lease_end = T0 + LEASE.as_millis() as u64;
    assert!(claim(&store, lease_end - 1, &[("t", 1)])
        .await
        .jobs
        .is_empty());
    let second = claim(&store, lease_end, &[("t", 1)]).await.jobs.remove(0);
    assert_eq!(second.id, first.id);
    assert_ne!(second.lease.token, first.lease.token);
    assert_eq!(
        record(&store, &first, JobTransition::Delivered, lease_end).await,
        RecordOutcome::Stale,
        "a stale owner cannot record over a newer claim"
    );
    assert_eq!(
        store.queue.renew(&first, lease_end + 1).await.unwrap(),
        None
    );
    assert!(matches!(
        record(&store, &second, JobTransition::Delivered, lease_end).await,
        RecordOutcome::Recorded(_)
    ));
}

pub async fn a_renewed_lease_keeps_its_job(fresh: Fresh<'_>) {
    let store = fresh(HOUR);
    accepted(&store, "e1", T0, &["t"]).await;
    let held = claim(&store, T0, &[("t", 1)]).await.jobs.remove(0);
    let later = T0 + 10 * LEASE.as_millis() as u64;
    let lease = store
        .queue
        .renew(&held, later)
        .await
        .unwrap()
        .expect("still ours");
    assert_eq!(lease.expires_at_ms, later);
    assert!(claim(&store, later - 1, &[("t", 1)]).await.jobs.is_empty());
}

pub async fn a_released_claim_is_due_again_at_once(fresh: Fresh<'_>) {
    let store = fresh(HOUR);
    accepted(&store, "e1", T0, &["t"]).await;
    let held = claim(&store, T0, &[("t", 1)]).await.jobs.remove(0);
    store.queue.release(held.clone()).await.unwrap();
    let again = claim(&store, T0, &[("t", 1)]).await.jobs.remove(0);
    assert_eq!(
        (again.id, again.job.attempts),
        (held.id, 0),
        "no attempt counted"
    );
}

pub async fn claims_respect_free_slots_and_take_orphans(fresh: Fresh<'_>) {
    let store = fresh(HOUR);
    for i in 0..3 {
        accepted(&store, &format!("a{i}"), T0 + i, &["a"]).await;
    }
    accepted(&store, "gone", T0, &["removed"]).await;
    let claimed = claim(&store, T0 + 10, &[("a", 2)]).await;
    let targets: Vec<&str> = claimed.jobs.iter().map(|c| c.job.target.as_str()).collect();
    assert_eq!(targets.iter().filter(|t| **t == "a").count(), 2);
    assert!(
        targets.contains(&"removed"),
        "an orphan is handed over to be postponed"
    );
    let orphan = claimed
        .jobs
        .iter()
        .find(|c| c.job.target == "removed")
        .unwrap();
    store
        .queue
        .postpone(orphan.clone(), T0 + 60_000)
        .await
        .unwrap();
    assert_eq!(
        store.queue.next_due_after(T0 + 10).await.unwrap(),
        Some(T0 + 60_000)
    );
    let job = store.events.job(orphan.id).await.unwrap().unwrap();
    assert_eq!((job.attempts, job.next_attempt_at_ms), (0, T0 + 60_000));
    assert!(
        claim(&store, T0 + 10, &[("a", 0)]).await.jobs.is_empty(),
        "no slot, no claim"
    );
}

pub async fn attempts_retries_and_dead_letters(fresh: Fresh<'_>) {
    let store = fresh(HOUR);
    let seq = accepted(&store, "e1", T0, &["t"]).await;
    let c = claim(&store, T0, &[("t", 1)]).await.jobs.remove(0);
    let retry = JobTransition::RetryAt { at_ms: T0 + 5_000 };
    assert!(matches!(
        record(&store, &c, retry, T0).await,
        RecordOutcome::Recorded(_)
    ));
    assert!(claim(&store, T0 + 4_999, &[("t", 1)]).await.jobs.is_empty());
    let c = claim(&store, T0 + 5_000, &[("t", 1)]).await.jobs.remove(0);
    assert_eq!(c.job.attempts, 1);
    let dead = JobTransition::Dead {
        reason: "HTTP 500".into(),
    };
    record(&store, &c, dead, T0 + 5_000).await;
    let letters = store.events.dead_letters(None, 10).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert!(matches!(&letters[0].1.state, JobState::Dead { reason, .. } if reason == "HTTP 500"));
    let depths: HashMap<_, _> = store.queue.depths().await.unwrap().into_iter().collect();
    assert_eq!(
        depths.get("t"),
        Some(&TargetJobs {
            pending: 0,
            dead: 1
        })
    );
    let detail = store.events.event_detail(seq).await.unwrap().unwrap();
    let numbers: Vec<u32> = detail.jobs[0].attempts.iter().map(|a| a.attempt).collect();
    assert_eq!(numbers, vec![1, 2]);

    let id = letters[0].0;
    let requeued = store.queue.retry_dead(id, T0 + 9_000).await.unwrap();
    assert_eq!((requeued.state, requeued.attempts), (JobState::Pending, 2));
    assert!(store
        .events
        .dead_letters(None, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        store.queue.retry_dead(id, T0).await,
        Err(QueueError::NotDead(_))
    ));
    assert!(matches!(
        store.queue.retry_dead(u64::MAX, T0).await,
        Err(QueueError::JobNotFound(_))
    ));
    let c = claim(&store, T0 + 9_000, &[("t", 1)]).await.jobs.remove(0);
    assert_eq!(c.id, id);
}

pub async fn replay_makes_new_jobs(fresh: Fresh<'_>) {
    let store = fresh(HOUR);
    let seq = accepted(&store, "e1", T0, &["t"]).await;
    let c = claim(&store, T0, &[("t", 1)]).await.jobs.remove(0);
    record(&store, &c, JobTransition::Delivered, T0).await;
    let ids = store
        .queue
        .replay(seq, targets(&["t", "u"]), T0 + 100)
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert!(!ids.contains(&c.id));
    let claimed = claim(&store, T0 + 100, &[("t", 5), ("u", 5)]).await;
    let mut got: Vec<JobId> = claimed.jobs.iter().map(|c| c.id).collect();
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(
        store
            .events
            .event_detail(seq)
            .await
            .unwrap()
            .unwrap()
            .jobs
            .len(),
        3
    );
    assert!(matches!(
        store.queue.replay(u64::MAX, targets(&["t"]), T0).await,
        Err(QueueError::EventNotFound(_))
    ));
}

pub async fn retention_never_touches_a_pending_job(fresh: Fresh<'_>) {
    let store = fresh(HOUR);
    let delivered = accepted(&store, "old-delivered", T0, &["t", "u"]).await;
    let died = accepted(&store, "old-dead", T0, &["t"]).await;
    let pending = accepted(&store, "old-pending", T0, &["t"]).await;
    let recent = accepted(&store, "recent", T0 + 100_000, &["t"]).await;
    for c in claim(&store, T0 + 200_000, &[("t", 9), ("u", 9)])
        .await
        .jobs
    {
        let t = match c.job.event_seq {
            s if s == died => JobTransition::Dead {
                reason: "HTTP 400".into(),
            },
            s if s == pending => continue,
            _ => JobTransition::Delivered,
        };
        record(&store, &c, t, T0 + 200_000).await;
    }
    let report = store
        .retention
        .prune_finished(T0 + 50_000, 64)
        .await
        .unwrap();
    assert_eq!(
        report,
        PruneReport {
            events: 2,
            jobs: 3,
            attempts: 3,
            kept_pending: 1
        }
    );
    for gone in [delivered, died] {
        assert_eq!(store.events.event(gone).await.unwrap(), None);
        assert!(store.events.body(gone).await.unwrap().is_empty());
    }
    assert!(store.events.event(pending).await.unwrap().is_some());
    assert!(store.events.event(recent).await.unwrap().is_some());
    assert!(store
        .events
        .dead_letters(None, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .events
            .find_event("in", "old-delivered")
            .await
            .unwrap(),
        Some(delivered)
    );
}
