//! Claims on jobs, kept in memory, for the engines that belong to one process (sled, memory):
//! their claims need not outlive it (after a crash or restart no claim exists and every unfinished job is due again).
//! A claim is a lease with a token: granted only when the job has no live lease, renewed and
//! ended only by the token's holder, and taken over by the next claim once it has run out.

use crate::store::model::{JobId, Lease};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Debug, Default)]
pub(crate) struct Leases {
    held: Mutex<HashMap<JobId, Lease>>,
    next_token: AtomicU64,
}

impl Leases {
    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<JobId, Lease>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `job` is under a lease that has not run out at `now_ms`.
    pub fn is_live(&self, job: JobId, now_ms: u64) -> bool {
        self.held()
            .get(&job)
            .is_some_and(|l| l.expires_at_ms > now_ms)
    }

    /// A new lease on `job` until `until_ms`, unless a live one holds it.
    pub fn grant(&self, job: JobId, now_ms: u64, until_ms: u64) -> Option<Lease> {
        let mut held = self.held();
        if held.get(&job).is_some_and(|l| l.expires_at_ms > now_ms) {
            return None;
        }
        let lease = Lease {
            token: self.next_token.fetch_add(1, Ordering::Relaxed) + 1,
            expires_at_ms: until_ms,
        };
        held.insert(job, lease);
        Some(lease)
    }

    /// Extends the lease `token` holds on `job`; `None` if another claim took the job.
    pub fn renew(&self, job: JobId, token: u64, until_ms: u64) -> Option<Lease> {
        let mut held = self.held();
        let lease = held.get_mut(&job).filter(|l| l.token == token)?;
        lease.expires_at_ms = until_ms;
        Some(*lease)
    }

    /// Whether `token` is still the job's claim (run out or not: nobody took it over).
    pub fn holds(&self, job: JobId, token: u64) -> bool {
        self.held().get(&job).is_some_and(|l| l.token == token)
    }

    /// Ends the claim `token` holds on `job`, if it still does.
    pub fn end(&self, job: JobId, token: u64) {
        let mut held = self.held();
        if held.get(&job).is_some_and(|l| l.token == token) {
            held.remove(&job);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_lease_blocks_a_second_claim_and_a_run_out_one_is_taken_over() {
        let leases = Leases::default();
        let first = leases.grant(7, 0, 100).expect("free job");
        assert!(leases.grant(7, 50, 150).is_none(), "live lease");
        assert!(leases.is_live(7, 99));
        let second = leases.grant(7, 100, 200).expect("run out: taken over");
        assert_ne!(first.token, second.token);
        assert!(!leases.holds(7, first.token));
        assert!(leases.renew(7, first.token, 300).is_none());
        leases.end(7, first.token);
        assert!(
            leases.holds(7, second.token),
            "a stale end leaves the new claim"
        );
        assert_eq!(
            leases.renew(7, second.token, 300).unwrap().expires_at_ms,
            300
        );
        leases.end(7, second.token);
        assert!(!leases.is_live(7, 0));
    }
}
