//! A target's rate limit as a token bucket, kept by the dispatcher: it holds `burst` tokens,
//! refills at `per_second`, and each attempt started takes one. The dispatcher offers the queue
//! no more free slots than whole tokens, so jobs over the limit are never claimed: they wait in
//! the store, not in memory. Time is passed in (unix ms), so the bucket is tested without
//! sleeping; tokens accrue continuously, so a late wake-up loses none (up to `burst`).

use crate::target::RateLimit;

#[derive(Debug, Clone)]
pub struct TokenBucket {
    limit: RateLimit,
    tokens: f64,
    at_ms: u64,
}

impl TokenBucket {
    /// A full bucket at `now_ms`.
    pub fn new(limit: RateLimit, now_ms: u64) -> Self {
        Self {
            limit,
            tokens: f64::from(limit.burst),
            at_ms: now_ms,
        }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// A reload changed the limit: the tokens saved are kept, up to the new burst.
    pub fn reconfigure(&mut self, limit: RateLimit, now_ms: u64) {
        if limit != self.limit {
            self.refill(now_ms);
            self.limit = limit;
            self.tokens = self.tokens.min(f64::from(limit.burst));
        }
    }

    fn refill(&mut self, now_ms: u64) {
        if now_ms > self.at_ms {
            let gained = (now_ms - self.at_ms) as f64 * self.limit.per_second / 1000.0;
            self.tokens = (self.tokens + gained).min(f64::from(self.limit.burst));
            self.at_ms = now_ms;
        }
    }

    /// Whole tokens available at `now_ms`: attempts that may start now.
    pub fn available(&mut self, now_ms: u64) -> usize {
        self.refill(now_ms);
        self.tokens.max(0.0).floor() as usize
    }

    /// `n` attempts started.
    pub fn take(&mut self, n: usize) {
        self.tokens -= n as f64;
    }

    /// When the next whole token will be there (now if one is).
    pub fn next_token_at(&self) -> u64 {
        if self.tokens >= 1.0 {
            return self.at_ms;
        }
        let missing_ms = (1.0 - self.tokens) * 1000.0 / self.limit.per_second;
        self.at_ms + missing_ms.ceil() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bucket(per_second: f64, burst: u32) -> TokenBucket {
        TokenBucket::new(RateLimit { per_second, burst }, 0)
    }

    #[test]
    fn a_full_bucket_gives_its_burst_then_one_token_per_interval() {
        let mut b = bucket(10.0, 3);
        assert_eq!(b.available(0), 3);
        b.take(3);
        assert_eq!(b.available(0), 0);
        assert_eq!(b.next_token_at(), 100);
        assert_eq!(b.available(99), 0);
        assert_eq!(b.available(100), 1);
        assert_eq!(b.available(10_000), 3, "never more than the burst");
    }

    #[test]
    fn a_smaller_burst_on_reload_caps_the_saved_tokens() {
        let mut b = bucket(10.0, 10);
        b.reconfigure(
            RateLimit {
                per_second: 10.0,
                burst: 2,
            },
            0,
        );
        assert_eq!(b.available(0), 2);
    }

    proptest! {
        /// However the dispatcher's wake-ups fall, no window of time starts more than
        /// burst + rate * window attempts.
        #[test]
        fn attempts_never_exceed_burst_plus_rate(
            per_second in 1.0f64..200.0,
            burst in 1u32..20,
            steps in proptest::collection::vec(0u64..300, 1..200),
        ) {
            let mut b = bucket(per_second, burst);
            let (mut now, mut started) = (0u64, 0usize);
            for step in steps {
                now += step;
                let n = b.available(now);
                b.take(n);
                started += n;
                prop_assert!(b.next_token_at() >= now);
            }
            let bound = f64::from(burst) + per_second * now as f64 / 1000.0;
            prop_assert!(started as f64 <= bound + 1e-6);
        }
    }
}
