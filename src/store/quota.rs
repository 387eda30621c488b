//! The storage quota (`storage.max_size`): how big the store is on disk, measured at most every
//! [`USAGE_REFRESH`] and cached, so the check on every accept costs two atomic loads. sled's
//! `size_on_disk` is a `stat` of its data file plus a listing of its blob directory (about 10 us
//! here), cheap but not free under load; a quota overshoot of one refresh interval's writes is
//! the price, and is why the quota should sit well below the free space.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a measured size is trusted.
pub const USAGE_REFRESH: Duration = Duration::from_millis(100);

/// The store's last measured size on disk and when it was measured.
#[derive(Debug, Default)]
pub struct DiskUsage {
    bytes: AtomicU64,
    measured_at_ms: AtomicU64,
}

impl DiskUsage {
    /// The size on disk, from the cache if it is fresh, else from `measure` (whose failure
    /// leaves the cached value in place: an unreadable size does not refuse events).
    pub fn current(&self, measure: impl FnOnce() -> Option<u64>) -> u64 {
        let now = now_ms();
        let at = self.measured_at_ms.load(Ordering::Relaxed);
        if now.saturating_sub(at) >= USAGE_REFRESH.as_millis() as u64
            && self
                .measured_at_ms
                .compare_exchange(at, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            if let Some(bytes) = measure() {
                self.bytes.store(bytes, Ordering::Relaxed);
            }
        }
        self.bytes.load(Ordering::Relaxed)
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_measure_is_reused_and_a_failed_one_keeps_the_last_value() {
        let usage = DiskUsage::default();
        assert_eq!(usage.current(|| Some(10)), 10);
        assert_eq!(usage.current(|| Some(99)), 10, "cached within the interval");
        std::thread::sleep(USAGE_REFRESH + Duration::from_millis(5));
        assert_eq!(usage.current(|| None), 10, "a failed measure keeps the last");
        std::thread::sleep(USAGE_REFRESH + Duration::from_millis(5));
        assert_eq!(usage.current(|| Some(42)), 42);
    }
}
