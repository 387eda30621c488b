//! The queue as a state machine, for property tests: operations as data (accept, claim, finish
//! a claim one way or another, let time pass), run against a fresh store, with the invariants
//! checked on the way and at the end.

use super::{accept, claim, record, Fresh, HOUR, LEASE, T0};
use crate::store::model::*;
use std::collections::{HashMap, HashSet};

/// One step of [`queue_state_machine`].
#[derive(Debug, Clone)]
pub enum Op {
    /// Accept event `id` (ids repeat: duplicates) with this many targets (1..=3).
    Accept { id: u8, targets: u8 },
    /// Claim what is due now, with this many free slots per target.
    Claim { slots: u8 },
    /// Finish the `nth` claim held (modulo how many are held).
    Finish { nth: u8, how: Finish },
    /// Let time pass.
    Advance { ms: u32 },
}

#[derive(Debug, Clone, Copy)]
pub enum Finish {
    Delivered,
    Retry { in_ms: u16 },
    Dead,
    Release,
}

/// Runs `ops` against a fresh store, then delivers everything left. Checks on the way that no
/// job is under two live claims, and at the end that every job of every acknowledged event was
/// delivered or dead-lettered: nothing acknowledged is lost.
pub async fn queue_state_machine(fresh: Fresh<'_>, ops: &[Op]) {
    let store = fresh(HOUR);
    let names = ["a", "b", "c"];
    let all_slots = |n: usize| names.iter().map(|t| (*t, n)).collect::<Vec<_>>();
    let mut now = T0;
    let mut acked: HashMap<EventSeq, usize> = HashMap::new();
    let mut held: Vec<ClaimedJob> = Vec::new();
    for op in ops {
        match op {
            Op::Accept { id, targets } => {
                let to = &names[..(*targets as usize).clamp(1, 3)];
                if let AcceptOutcome::Accepted {
                    event_seq,
                    deliveries,
                } = accept(&store, &format!("e{id}"), now, to).await
                {
                    acked.insert(event_seq, deliveries);
                }
            }
            Op::Claim { slots } => {
                let claimed = claim(&store, now, &all_slots(*slots as usize)).await;
                for c in claimed.jobs {
                    let live_elsewhere = held
                        .iter()
                        .any(|h| h.id == c.id && h.lease.expires_at_ms > now);
                    assert!(!live_elsewhere, "job {} under two live claims", c.id);
                    held.retain(|h| h.id != c.id);
                    held.push(c);
                }
            }
            Op::Finish { nth, how } => {
                if held.is_empty() {
                    continue;
                }
                let c = held.remove(*nth as usize % held.len());
                let t = match how {
                    Finish::Delivered => JobTransition::Delivered,
                    Finish::Retry { in_ms } => JobTransition::RetryAt {
                        at_ms: now + *in_ms as u64,
                    },
                    Finish::Dead => JobTransition::Dead {
                        reason: "gave up".into(),
                    },
                    Finish::Release => {
                        store.queue.release(c).await.unwrap();
                        continue;
                    }
                };
                record(&store, &c, t, now).await;
            }
            Op::Advance { ms } => now += *ms as u64,
        }
    }
    // Everything still pending is delivered once leases have run out.
    now += LEASE.as_millis() as u64 + 1_000_000;
    for _ in 0..1000 {
        let claimed = claim(&store, now, &all_slots(64)).await;
        if claimed.jobs.is_empty() {
            break;
        }
        for c in claimed.jobs {
            record(&store, &c, JobTransition::Delivered, now).await;
        }
    }
    let mut seen: HashSet<JobId> = HashSet::new();
    for (seq, deliveries) in acked {
        let detail = store
            .events
            .event_detail(seq)
            .await
            .unwrap()
            .expect("acked event kept");
        assert_eq!(detail.jobs.len(), deliveries, "event {seq} lost a job");
        for job in detail.jobs {
            assert!(seen.insert(job.id));
            assert!(
                !matches!(job.job.state, JobState::Pending),
                "job {} of event {seq} never finished",
                job.id
            );
        }
    }
    assert_eq!(store.events.counts().await.unwrap().queued, 0);
}
