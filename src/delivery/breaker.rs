//! A target's circuit breaker. Closed: attempts go as usual, and `failures` consecutive failed
//! attempts open it. Open: nothing is claimed for the target until `cool_down` has passed, so
//! its jobs keep their place in the queue and the time is not spent as attempts. Then
//! half-open: exactly one attempt (the probe, the target's earliest due job) goes; delivered
//! closes the breaker, failed opens it for another cool-down. What counts: a failure is what
//! would be retried (network error, timeout, 408, 429, 5xx); a permanent refusal (another 4xx)
//! shows the target answering, so it neither counts nor resets, except that it closes a
//! half-open breaker. Attempts started before the breaker opened are ignored when they end.

use crate::store::JobId;
use crate::target::BreakerPolicy;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub const ALL: [BreakerState; 3] = [Self::Closed, Self::Open, Self::HalfOpen];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

/// How an attempt ended, as the breaker (and AIMD) see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    Delivered,
    /// Retryable failure; `throttled` for 429 and 503.
    Failed {
        throttled: bool,
    },
    /// A permanent refusal: the target answered.
    Refused,
    /// Nothing was sent (the event could not be read): the job is due again.
    NotSent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Closed { failures: u32 },
    Open { until_ms: u64 },
    HalfOpen { probe: Option<JobId> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breaker {
    phase: Phase,
}

impl Default for Breaker {
    fn default() -> Self {
        Self {
            phase: Phase::Closed { failures: 0 },
        }
    }
}

impl Breaker {
    pub fn state(&self) -> BreakerState {
        match self.phase {
            Phase::Closed { .. } => BreakerState::Closed,
            Phase::Open { .. } => BreakerState::Open,
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// When an open breaker lets its probe through.
    pub fn open_until(&self) -> Option<u64> {
        match self.phase {
            Phase::Open { until_ms } => Some(until_ms),
            _ => None,
        }
    }

    /// How many attempts may start at `now_ms` (`None`: no limit), moving an open breaker whose
    /// cool-down is over to half-open (returned as a change).
    pub fn admit(&mut self, now_ms: u64) -> (Option<usize>, Option<BreakerState>) {
        match self.phase {
            Phase::Closed { .. } => (None, None),
            Phase::Open { until_ms } if now_ms < until_ms => (Some(0), None),
            Phase::Open { .. } => {
                self.phase = Phase::HalfOpen { probe: None };
                (Some(1), Some(BreakerState::HalfOpen))
            }
            Phase::HalfOpen { probe: None } => (Some(1), None),
            Phase::HalfOpen { probe: Some(_) } => (Some(0), None),
        }
    }

    /// An attempt of `job` started.
    pub fn started(&mut self, job: JobId) {
        if let Phase::HalfOpen {
            probe: probe @ None,
        } = &mut self.phase
        {
            *probe = Some(job);
        }
    }

    /// The attempt of `job` ended with `result` at `now_ms`; returns the new state if it changed.
    pub fn finished(
        &mut self,
        policy: &BreakerPolicy,
        job: JobId,
        result: AttemptResult,
        now_ms: u64,
    ) -> Option<BreakerState> {
        let open = Phase::Open {
            until_ms: now_ms.saturating_add(policy.cool_down.as_millis() as u64),
        };
        match (&mut self.phase, result) {
            (Phase::Closed { failures }, AttemptResult::Delivered) => {
                *failures = 0;
                None
            }
            (Phase::Closed { failures }, AttemptResult::Failed { .. }) => {
                *failures += 1;
                if *failures >= policy.failures {
                    self.phase = open;
                    return Some(BreakerState::Open);
                }
                None
            }
            (Phase::Closed { .. }, _) | (Phase::Open { .. }, _) => None,
            (Phase::HalfOpen { probe }, result) if *probe == Some(job) => match result {
                AttemptResult::Delivered | AttemptResult::Refused => {
                    self.phase = Phase::Closed { failures: 0 };
                    Some(BreakerState::Closed)
                }
                AttemptResult::Failed { .. } => {
                    self.phase = open;
                    Some(BreakerState::Open)
                }
                AttemptResult::NotSent => {
                    *probe = None;
                    None
                }
            },
            (Phase::HalfOpen { .. }, _) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const POLICY: BreakerPolicy = BreakerPolicy {
        failures: 3,
        cool_down: Duration::from_secs(30),
    };
    const FAILED: AttemptResult = AttemptResult::Failed { throttled: false };

    #[test]
    fn opens_after_n_consecutive_failures_and_a_success_resets_the_count() {
        let mut b = Breaker::default();
        assert_eq!(b.finished(&POLICY, 1, FAILED, 0), None);
        assert_eq!(b.finished(&POLICY, 2, FAILED, 0), None);
        assert_eq!(b.finished(&POLICY, 3, AttemptResult::Delivered, 0), None);
        assert_eq!(b.finished(&POLICY, 4, FAILED, 0), None);
        assert_eq!(b.finished(&POLICY, 5, AttemptResult::Refused, 0), None);
        assert_eq!(b.finished(&POLICY, 6, FAILED, 0), None);
        assert_eq!(
            b.finished(&POLICY, 7, FAILED, 1_000),
            Some(BreakerState::Open)
        );
        assert_eq!(b.admit(30_999), (Some(0), None));
        assert_eq!(b.open_until(), Some(31_000));
    }

    #[test]
    fn after_the_cool_down_exactly_one_probe_goes_and_decides() {
        let mut b = Breaker {
            phase: Phase::Open { until_ms: 100 },
        };
        assert_eq!(b.admit(100), (Some(1), Some(BreakerState::HalfOpen)));
        b.started(7);
        assert_eq!(b.admit(101), (Some(0), None), "one probe at a time");
        assert_eq!(b.finished(&POLICY, 3, FAILED, 150), None, "not the probe");
        assert_eq!(
            b.finished(&POLICY, 7, FAILED, 200),
            Some(BreakerState::Open)
        );
        assert_eq!(b.open_until(), Some(30_200));
        assert_eq!(b.admit(30_200).1, Some(BreakerState::HalfOpen));
        b.started(8);
        assert_eq!(
            b.finished(&POLICY, 8, AttemptResult::Delivered, 30_300),
            Some(BreakerState::Closed)
        );
        assert_eq!(b.admit(30_300), (None, None));
    }

    #[test]
    fn a_probe_that_was_not_sent_lets_another_one_go() {
        let mut b = Breaker {
            phase: Phase::HalfOpen { probe: Some(4) },
        };
        assert_eq!(b.finished(&POLICY, 4, AttemptResult::NotSent, 0), None);
        assert_eq!(b.admit(0), (Some(1), None));
    }
}
