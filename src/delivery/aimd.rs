//! Adaptive concurrency (AIMD): a target that answers 429 or 503 is asked to slow down, so its
//! in-flight limit halves (never below 1); each delivered attempt grows it back by one, up to
//! the configured `concurrency`. The dispatcher offers the queue no more free slots than the
//! limit leaves. The retry time of the throttled job itself still comes from `Retry-After`.

/// The current in-flight limit of one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aimd {
    limit: usize,
    max: usize,
}

impl Aimd {
    pub fn new(concurrency: usize) -> Self {
        let max = concurrency.max(1);
        Self { limit: max, max }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// A reload changed `concurrency`: a limit at the old maximum follows it, a reduced one is
    /// only capped.
    pub fn reconfigure(&mut self, concurrency: usize) {
        let max = concurrency.max(1);
        if self.limit == self.max {
            self.limit = max;
        }
        self.max = max;
        self.limit = self.limit.min(max);
    }

    /// 429 or 503: halve.
    pub fn throttled(&mut self) {
        self.limit = (self.limit / 2).max(1);
    }

    /// Delivered: grow by one.
    pub fn delivered(&mut self) {
        self.limit = (self.limit + 1).min(self.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_halves_down_to_one_and_successes_add_one_up_to_the_maximum() {
        let mut a = Aimd::new(8);
        a.throttled();
        assert_eq!(a.limit(), 4);
        a.throttled();
        a.throttled();
        a.throttled();
        assert_eq!(a.limit(), 1);
        a.delivered();
        assert_eq!(a.limit(), 2);
        for _ in 0..20 {
            a.delivered();
        }
        assert_eq!(a.limit(), 8);
    }

    #[test]
    fn a_reload_moves_an_unthrottled_limit_and_caps_a_throttled_one() {
        let mut a = Aimd::new(4);
        a.reconfigure(10);
        assert_eq!(a.limit(), 10);
        a.throttled();
        a.reconfigure(3);
        assert_eq!(a.limit(), 3);
    }
}
