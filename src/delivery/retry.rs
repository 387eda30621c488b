//! The retry decision, apart from the mechanism that carries it out: a pure function of the
//! target's policy, the attempts made, the job's age, the failure (with its `Retry-After`) and a
//! jitter value, so it can be tested exhaustively.
//!
//! Backoff: after attempt `n` wait `min(max_delay, initial_delay * 5^(n-1))`, spread by ±20%
//! jitter and never past `max_delay`. `Retry-After` can lengthen that wait but not shorten it
//! (a target cannot make hookroute retry faster than its policy), and is capped at
//! `max(max_delay, 1 h)` so a target cannot park a job for days. Give up after `max_attempts`,
//! when the next attempt would fall past `created + max_age`, or at once on a permanent failure.

use super::outcome::{Failure, FailureKind};
use crate::target::RetryPolicy;
use std::time::Duration;

pub const BACKOFF_FACTOR: f64 = 5.0;
/// Relative spread of a delay: ±20%.
pub const JITTER: f64 = 0.2;
/// `Retry-After` is honoured up to `max(max_delay, this)`.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, PartialEq)]
pub enum RetryDecision {
    RetryAt { at_ms: u64, reason: String },
    GiveUp { reason: String },
}

/// The wait after `attempts_made` attempts (at least 1), before any `Retry-After`. `jitter` is
/// in `[-1, 1]` (clamped) and scales the ±20% spread.
pub fn backoff_delay(policy: &RetryPolicy, attempts_made: u32, jitter: f64) -> Duration {
    let exponent = attempts_made.saturating_sub(1).min(64) as i32;
    let max_ms = policy.max_delay.as_millis() as f64;
    let base_ms =
        (policy.initial_delay.as_millis() as f64 * BACKOFF_FACTOR.powi(exponent)).min(max_ms);
    let jitter = if jitter.is_nan() {
        0.0
    } else {
        jitter.clamp(-1.0, 1.0)
    };
    let ms = (base_ms * (1.0 + JITTER * jitter)).clamp(0.0, max_ms);
    Duration::from_millis(ms as u64)
}

/// The wait after a failure: the backoff, lengthened to `retry_after` when the target asked,
/// within `[backoff, max(max_delay, 1 h)]`.
pub fn retry_delay(
    policy: &RetryPolicy,
    attempts_made: u32,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Duration {
    let backoff = backoff_delay(policy, attempts_made, jitter);
    match retry_after {
        None => backoff,
        Some(asked) => asked
            .min(policy.max_delay.max(RETRY_AFTER_CAP))
            .max(backoff),
    }
}

/// What to do after attempt number `attempts_made` of a job created at `created_at_ms` failed.
pub fn decide(
    policy: &RetryPolicy,
    attempts_made: u32,
    created_at_ms: u64,
    now_ms: u64,
    failure: &Failure,
    jitter: f64,
) -> RetryDecision {
    let retry_after = match failure.kind {
        FailureKind::Permanent => {
            return RetryDecision::GiveUp {
                reason: failure.reason.clone(),
            }
        }
        FailureKind::Retryable { retry_after } => retry_after,
    };
    if attempts_made >= policy.max_attempts {
        return RetryDecision::GiveUp {
            reason: format!("{}; gave up after {attempts_made} attempts", failure.reason),
        };
    }
    let delay = retry_delay(policy, attempts_made, retry_after, jitter);
    let at_ms = now_ms.saturating_add(delay.as_millis() as u64);
    let deadline = created_at_ms.saturating_add(policy.max_age.as_millis() as u64);
    if at_ms > deadline {
        return RetryDecision::GiveUp {
            reason: format!(
                "{}; the next attempt would be past max_age ({})",
                failure.reason,
                humantime::format_duration(policy.max_age)
            ),
        };
    }
    RetryDecision::RetryAt {
        at_ms,
        reason: format!(
            "{}; retry in {}",
            failure.reason,
            humantime::format_duration(delay)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy(initial_ms: u64, max_ms: u64, attempts: u32, age_ms: u64) -> RetryPolicy {
        RetryPolicy {
            max_attempts: attempts,
            initial_delay: Duration::from_millis(initial_ms),
            max_delay: Duration::from_millis(max_ms),
            max_age: Duration::from_millis(age_ms),
        }
    }

    fn ms(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn delays_grow_fivefold_up_to_the_maximum() {
        let p = policy(1000, 60_000, 8, u64::MAX);
        let delays: Vec<_> = (1..=5).map(|n| backoff_delay(&p, n, 0.0)).collect();
        assert_eq!(
            delays,
            [ms(1000), ms(5000), ms(25_000), ms(60_000), ms(60_000)]
        );
    }

    #[test]
    fn jitter_spreads_a_delay_by_twenty_percent_but_never_past_the_maximum() {
        let p = policy(1000, 60_000, 8, u64::MAX);
        assert_eq!(backoff_delay(&p, 1, -1.0), ms(800));
        assert_eq!(backoff_delay(&p, 1, 1.0), ms(1200));
        assert_eq!(backoff_delay(&p, 1, 7.0), ms(1200));
        assert_eq!(backoff_delay(&p, 9, 1.0), ms(60_000));
        assert_eq!(backoff_delay(&p, 9, -1.0), ms(48_000));
    }

    #[test]
    fn retry_after_lengthens_but_never_shortens_and_is_capped() {
        let p = policy(1000, 60_000, 8, u64::MAX);
        assert_eq!(retry_delay(&p, 1, Some(ms(2000)), 0.0), ms(2000));
        assert_eq!(retry_delay(&p, 2, Some(ms(2000)), 0.0), ms(5000));
        assert_eq!(
            retry_delay(&p, 1, Some(ms(86_400_000)), 0.0),
            RETRY_AFTER_CAP
        );
        let long = policy(1000, 7_200_000, 8, u64::MAX);
        assert_eq!(
            retry_delay(&long, 1, Some(ms(86_400_000)), 0.0),
            ms(7_200_000)
        );
    }

    #[test]
    fn permanent_failures_give_up_at_once() {
        let p = policy(1000, 60_000, 8, u64::MAX);
        let d = decide(
            &p,
            1,
            0,
            0,
            &Failure::permanent("HTTP 400 Bad Request"),
            0.0,
        );
        assert_eq!(
            d,
            RetryDecision::GiveUp {
                reason: "HTTP 400 Bad Request".into()
            }
        );
    }

    #[test]
    fn the_last_attempt_gives_up_and_says_how_many_were_made() {
        let p = policy(1000, 60_000, 3, u64::MAX);
        let f = Failure::retryable("HTTP 500 Internal Server Error", None);
        assert!(matches!(
            decide(&p, 2, 0, 0, &f, 0.0),
            RetryDecision::RetryAt { at_ms: 5000, .. }
        ));
        let RetryDecision::GiveUp { reason } = decide(&p, 3, 0, 0, &f, 0.0) else {
            panic!("expected to give up")
        };
        assert_eq!(
            reason,
            "HTTP 500 Internal Server Error; gave up after 3 attempts"
        );
    }

    #[test]
    fn a_retry_past_the_maximum_age_gives_up() {
        let p = policy(1000, 60_000, 8, 10_000);
        let f = Failure::retryable("timed out", None);
        assert!(matches!(
            decide(&p, 1, 0, 8_000, &f, 0.0),
            RetryDecision::RetryAt { at_ms: 9_000, .. }
        ));
        let d = decide(&p, 1, 0, 9_500, &f, 0.0);
        assert!(
            matches!(d, RetryDecision::GiveUp { reason } if reason.contains("past max_age (10s)"))
        );
    }

    proptest! {
        #[test]
        fn backoff_stays_within_zero_and_the_maximum(
            initial in 0u64..100_000_000,
            extra in 0u64..100_000_000,
            n in 0u32..u32::MAX,
            jitter in proptest::num::f64::ANY,
        ) {
            let p = policy(initial, initial + extra, 8, u64::MAX);
            prop_assert!(backoff_delay(&p, n, jitter) <= p.max_delay);
        }

        #[test]
        fn jittered_delay_is_within_twenty_percent_of_the_capped_base(
            initial in 1u64..1_000_000,
            n in 1u32..40,
            jitter in -1.0f64..=1.0,
        ) {
            let p = policy(initial, 3_600_000, 8, u64::MAX);
            let base = (initial as f64 * 5f64.powi(n as i32 - 1)).min(3_600_000.0);
            let d = backoff_delay(&p, n, jitter).as_millis() as f64;
            prop_assert!(d >= (base * 0.8).floor() - 1.0 && d <= (base * 1.2).min(3_600_000.0));
        }

        #[test]
        fn retry_after_is_honoured_within_its_clamp(
            initial in 0u64..10_000,
            extra in 0u64..10_000_000,
            n in 1u32..20,
            asked in 0u64..u64::MAX / 2,
            jitter in -1.0f64..=1.0,
        ) {
            let p = policy(initial, initial + extra, 8, u64::MAX);
            let d = retry_delay(&p, n, Some(ms(asked)), jitter);
            let cap = p.max_delay.max(RETRY_AFTER_CAP);
            prop_assert!(d <= cap);
            prop_assert!(d >= backoff_delay(&p, n, jitter));
            prop_assert!(d >= ms(asked).min(cap));
        }

        #[test]
        fn decisions_never_retry_past_the_limits_or_before_now(
            attempts in 1u32..20,
            made in 1u32..40,
            age in 0u64..100_000_000,
            created in 0u64..1_000_000_000,
            since in 0u64..100_000_000,
            asked in proptest::option::of(0u64..10_000_000),
            jitter in -1.0f64..=1.0,
        ) {
            let p = policy(50, 60_000, attempts, age);
            let now = created + since;
            let f = Failure::retryable("x", asked.map(ms));
            match decide(&p, made, created, now, &f, jitter) {
                RetryDecision::RetryAt { at_ms, .. } => {
                    prop_assert!(made < attempts);
                    prop_assert!(at_ms >= now && at_ms <= created + age);
                }
                RetryDecision::GiveUp { .. } => {
                    prop_assert!(made >= attempts || now + retry_delay(&p, made, asked.map(ms), jitter).as_millis() as u64 > created + age);
                }
            }
        }
    }
}
