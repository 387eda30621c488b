//! The last delivery attempts of each target, kept in memory for the console's targets page:
//! the Prometheus counters and histograms add up since start-up, while an operator asks "how is
//! this target doing now". Each target keeps its last [`KEEP`] attempts (time, success,
//! latency); a read summarises those younger than the window it is given.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Attempts kept per target.
pub const KEEP: usize = 200;

#[derive(Debug, Clone, Copy)]
struct RecentAttempt {
    at_ms: u64,
    delivered: bool,
    latency_ms: u64,
}

/// Per target, its last attempts, oldest first.
#[derive(Debug, Default)]
pub struct RecentDeliveries {
    targets: Mutex<HashMap<Arc<str>, VecDeque<RecentAttempt>>>,
}

/// What a target's recent attempts add up to.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RecentStats {
    pub attempts: usize,
    pub delivered: usize,
    pub mean_latency_ms: Option<u64>,
    pub max_latency_ms: Option<u64>,
}

impl RecentStats {
    /// Delivered attempts over all attempts, when there were any.
    pub fn success_rate(&self) -> Option<f64> {
        (self.attempts > 0).then(|| self.delivered as f64 / self.attempts as f64)
    }
}

impl RecentDeliveries {
    pub fn record(&self, target: &Arc<str>, at_ms: u64, delivered: bool, took: Duration) {
        let mut targets = self.targets.lock().unwrap_or_else(|p| p.into_inner());
        let attempts = targets.entry(target.clone()).or_default();
        if attempts.len() == KEEP {
            attempts.pop_front();
        }
        attempts.push_back(RecentAttempt {
            at_ms,
            delivered,
            latency_ms: took.as_millis() as u64,
        });
    }

    /// The attempts to `target` made at or after `since_ms`.
    pub fn stats(&self, target: &str, since_ms: u64) -> RecentStats {
        let targets = self.targets.lock().unwrap_or_else(|p| p.into_inner());
        let Some(attempts) = targets.get(target) else {
            return RecentStats::default();
        };
        let recent: Vec<&RecentAttempt> = attempts.iter().filter(|a| a.at_ms >= since_ms).collect();
        let total: u64 = recent.iter().map(|a| a.latency_ms).sum();
        RecentStats {
            attempts: recent.len(),
            delivered: recent.iter().filter(|a| a.delivered).count(),
            mean_latency_ms: (!recent.is_empty()).then(|| total / recent.len() as u64),
            max_latency_ms: recent.iter().map(|a| a.latency_ms).max(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_cover_the_window_and_the_last_attempts_only() {
        let recent = RecentDeliveries::default();
        let t: Arc<str> = Arc::from("t");
        recent.record(&t, 10, false, Duration::from_millis(900));
        for i in 0..KEEP as u64 {
            recent.record(&t, 100 + i, i % 2 == 0, Duration::from_millis(10 + i % 3));
        }
        let all = recent.stats("t", 0);
        assert_eq!(all.attempts, KEEP, "the oldest attempt was dropped");
        assert_eq!(all.delivered, KEEP / 2);
        assert_eq!(all.success_rate(), Some(0.5));
        assert_eq!(all.max_latency_ms, Some(12));
        assert_eq!(recent.stats("t", 100 + KEEP as u64 - 2).attempts, 2);
        assert_eq!(recent.stats("other", 0), RecentStats::default());
        assert_eq!(RecentStats::default().success_rate(), None);
    }
}
