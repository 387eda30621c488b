//! What the dispatcher knows about each target beyond its config, shared with the attempts that
//! report back and the admin API that shows and pauses targets: whether it is paused, its
//! in-flight count, its adaptive limit ([`aimd`](super::aimd)), its token bucket
//! ([`rate`](super::rate)) and its circuit breaker ([`breaker`](super::breaker)). Each scan,
//! [`TargetControls::admit`] turns all of it into the number of free slots the dispatcher offers
//! the queue's claim, so a target that must wait has its jobs left in the store.
//!
//! The pause is the only part that is stored (through `DeliveryQueue::set_paused`): this keeps a
//! copy that the admin API updates at once and the dispatcher re-reads from the store every
//! [`PAUSE_REFRESH`], so instances sharing a store follow each other. Everything else lives in
//! this process only, per instance.

use super::aimd::Aimd;
use super::breaker::{AttemptResult, Breaker, BreakerState};
use super::rate::TokenBucket;
use crate::store::JobId;
use crate::target::Target;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How often the dispatcher re-reads the paused targets from the store.
pub const PAUSE_REFRESH: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub struct TargetControls {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    targets: HashMap<Arc<str>, Control>,
    paused: BTreeSet<String>,
    /// Bumped by every local pause change, so a store read that started before it is dropped.
    paused_changes: u64,
}

#[derive(Debug)]
struct Control {
    in_flight: usize,
    aimd: Aimd,
    bucket: Option<TokenBucket>,
    breaker: Breaker,
}

/// What a target may start in one scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    pub free: usize,
    /// When the target can start something again, if only time stands in its way (the next
    /// token of its bucket, the end of its breaker's cool-down).
    pub retry_at_ms: Option<u64>,
    /// The breaker moved (open -> half-open) during admission.
    pub breaker_change: Option<BreakerState>,
}

/// One target as the admin API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetView {
    pub paused: bool,
    pub breaker: BreakerState,
    /// When an open breaker lets its probe through (unix ms).
    pub breaker_open_until_ms: Option<u64>,
    pub in_flight: usize,
    /// The adaptive in-flight limit (the configured concurrency unless throttled).
    pub concurrency_limit: usize,
}

impl TargetControls {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Free slots of `target` at `now_ms`, given `slots` free under its configured concurrency.
    pub fn admit(&self, target: &Target, slots: usize, now_ms: u64) -> Admission {
        let mut state = self.lock();
        let paused = state.paused.contains(&*target.name);
        let control = state.control(target, now_ms);
        let (breaker, breaker_change) = if target.breaker.is_some() {
            control.breaker.admit(now_ms)
        } else {
            (None, None)
        };
        let mut retry_at_ms = control.breaker.open_until();
        let adaptive = control.aimd.limit().saturating_sub(control.in_flight);
        let mut free = slots.min(adaptive).min(breaker.unwrap_or(usize::MAX));
        if let Some(bucket) = &mut control.bucket {
            let tokens = bucket.available(now_ms);
            if tokens == 0 && free > 0 {
                retry_at_ms = Some(bucket.next_token_at());
            }
            free = free.min(tokens);
        }
        if paused {
            free = 0;
            retry_at_ms = None;
        }
        Admission {
            free,
            retry_at_ms,
            breaker_change,
        }
    }

    /// An attempt of `job` started for `target`.
    pub fn started(&self, target: &Target, job: JobId, now_ms: u64) {
        let mut state = self.lock();
        let control = state.control(target, now_ms);
        control.in_flight += 1;
        if let Some(bucket) = &mut control.bucket {
            bucket.take(1);
        }
        control.breaker.started(job);
    }

    /// The attempt of `job` ended; returns the breaker's new state if it changed.
    pub fn finished(
        &self,
        target: &Target,
        job: JobId,
        result: AttemptResult,
        now_ms: u64,
    ) -> Option<BreakerState> {
        let mut state = self.lock();
        let control = state.control(target, now_ms);
        control.in_flight = control.in_flight.saturating_sub(1);
        match result {
            AttemptResult::Delivered => control.aimd.delivered(),
            AttemptResult::Failed { throttled: true } => control.aimd.throttled(),
            _ => {}
        }
        let policy = target.breaker.as_ref()?;
        control.breaker.finished(policy, job, result, now_ms)
    }

    pub fn is_paused(&self, target: &str) -> bool {
        self.lock().paused.contains(target)
    }

    /// The admin API paused or resumed `target` (already stored).
    pub fn set_paused(&self, target: &str, paused: bool) {
        let mut state = self.lock();
        state.paused_changes += 1;
        if paused {
            state.paused.insert(target.to_string());
        } else {
            state.paused.remove(target);
        }
    }

    /// A marker to pass to [`TargetControls::refresh_paused`] with the store's answer read after it.
    pub fn paused_changes(&self) -> u64 {
        self.lock().paused_changes
    }

    /// The paused targets as read from the store, unless a local change came in meanwhile.
    pub fn refresh_paused(&self, stored: Vec<String>, changes_before_read: u64) {
        let mut state = self.lock();
        if state.paused_changes == changes_before_read {
            state.paused = stored.into_iter().collect();
        }
    }

    pub fn view(&self, target: &Target) -> TargetView {
        let mut state = self.lock();
        let paused = state.paused.contains(&*target.name);
        let control = state.control(target, 0);
        TargetView {
            paused,
            breaker: control.breaker.state(),
            breaker_open_until_ms: control.breaker.open_until(),
            in_flight: control.in_flight,
            concurrency_limit: control.aimd.limit(),
        }
    }
}

impl State {
    /// The target's control, created on first sight and kept in step with a reloaded config.
    fn control(&mut self, target: &Target, now_ms: u64) -> &mut Control {
        let control = self
            .targets
            .entry(target.name.clone())
            .or_insert_with(|| Control {
                in_flight: 0,
                aimd: Aimd::new(target.concurrency),
                bucket: None,
                breaker: Breaker::default(),
            });
        control.aimd.reconfigure(target.concurrency);
        match (&mut control.bucket, target.rate_limit) {
            (Some(bucket), Some(limit)) => bucket.reconfigure(limit, now_ms),
            (bucket, Some(limit)) => *bucket = Some(TokenBucket::new(limit, now_ms)),
            (bucket, None) => *bucket = None,
        }
        if target.breaker.is_none() && control.breaker.state() != BreakerState::Closed {
            control.breaker = Breaker::default();
        }
        control
    }
}

/// The POLICY column of `check`: retries, concurrency, rate, breaker, ordering key.
pub fn policy_summary(t: &Target) -> String {
    let mut s = format!(
        "{} attempts, concurrency {}",
        t.retry.max_attempts, t.concurrency
    );
    if let Some(r) = t.rate_limit {
        s += &format!(", rate {}/s burst {}", r.per_second, r.burst);
    }
    if let Some(b) = t.breaker {
        s += &format!(
            ", breaker after {} failures for {}",
            b.failures,
            humantime::format_duration(b.cool_down)
        );
    }
    if let Some(key) = &t.ordering_key {
        s += &format!(", ordered by {key}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::{BreakerPolicy, RateLimit, RetryPolicy};

    fn target(rate: Option<RateLimit>, breaker: Option<BreakerPolicy>) -> Target {
        Target {
            name: Arc::from("t"),
            url: "http://127.0.0.1:1/".parse().unwrap(),
            timeout: Duration::from_secs(1),
            headers: vec![],
            forward_headers: vec![],
            concurrency: 4,
            retry: RetryPolicy::default(),
            signing: None,
            rate_limit: rate,
            breaker,
            ordering_key: None,
        }
    }

    #[test]
    fn a_reload_adds_or_removes_the_rate_limit_and_breaker_at_the_next_scan() {
        let controls = TargetControls::new();
        let plain = target(None, None);
        assert_eq!(controls.admit(&plain, 4, 0).free, 4);
        let limited = target(
            Some(RateLimit {
                per_second: 10.0,
                burst: 1,
            }),
            None,
        );
        let admission = controls.admit(&limited, 4, 0);
        assert_eq!(admission.free, 1, "the new bucket's burst");
        controls.started(&limited, 1, 0);
        controls.finished(&limited, 1, AttemptResult::Delivered, 0);
        let admission = controls.admit(&limited, 4, 10);
        assert_eq!((admission.free, admission.retry_at_ms), (0, Some(100)));
        assert_eq!(controls.admit(&plain, 4, 10).free, 4, "limit removed");

        let policy = BreakerPolicy {
            failures: 1,
            cool_down: Duration::from_secs(30),
        };
        let guarded = target(None, Some(policy));
        controls.started(&guarded, 2, 0);
        let failed = AttemptResult::Failed { throttled: false };
        assert_eq!(
            controls.finished(&guarded, 2, failed, 0),
            Some(BreakerState::Open)
        );
        assert_eq!(controls.admit(&guarded, 4, 1).free, 0);
        assert_eq!(controls.admit(&plain, 4, 1).free, 4, "breaker removed");
        assert_eq!(controls.view(&plain).breaker, BreakerState::Closed);
    }

    #[test]
    fn a_paused_target_gets_no_slot_and_a_stale_store_read_does_not_undo_a_local_change() {
        let controls = TargetControls::new();
        let t = target(None, None);
        let before = controls.paused_changes();
        controls.set_paused("t", true);
        assert_eq!(controls.admit(&t, 4, 0).free, 0);
        controls.refresh_paused(vec![], before);
        assert!(controls.is_paused("t"), "read before the pause: ignored");
        controls.refresh_paused(vec![], controls.paused_changes());
        assert_eq!(controls.admit(&t, 4, 0).free, 4, "resumed elsewhere");
    }
}
