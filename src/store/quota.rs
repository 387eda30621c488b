//! Space limits checked before every accept: the storage quota (`storage.max_size`, the store's
//! size on disk) and the free-space floor (`storage.min_free_space`, free bytes on the data
//! directory's filesystem). Both are measured at most every [`USAGE_REFRESH`] and cached, so
//! the check on every accept costs a few atomic loads. sled's `size_on_disk` is a `stat` of its
//! data file plus a listing of its blob directory (about 7 us in a debug build), `statvfs` one
//! call; an overshoot of one refresh interval's writes is the price.
//!
//! Why a floor: sled 0.34 does not fail cleanly when the disk fills. Its log writer gets
//! ENOSPC, and from then on `flush` waits forever for the failed buffer and transactions block
//! on sled's global lock: the process hangs instead of answering. So the router stops
//! accepting while there is still room (see RELIABILITY.md, scenario 3).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a measured size is trusted.
pub const USAGE_REFRESH: Duration = Duration::from_millis(100);

/// The space limits in force for one request, from the config snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpaceLimits {
    /// Largest size of the store on disk (`None`: no quota).
    pub max_size: Option<u64>,
    /// Free bytes the filesystem must keep (0: no floor).
    pub min_free_space: u64,
}

/// Free bytes for an unprivileged writer on the filesystem holding `dir`.
pub fn free_space(dir: &std::path::Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(dir).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// A measured size (of the store, or of free space) and when it was measured.
#[derive(Debug)]
pub struct DiskUsage {
    /// [`UNKNOWN`] until a measure succeeded.
    bytes: AtomicU64,
    measured_at_ms: AtomicU64,
}

const UNKNOWN: u64 = u64::MAX;

impl Default for DiskUsage {
    fn default() -> Self {
        Self {
            bytes: AtomicU64::new(UNKNOWN),
            measured_at_ms: AtomicU64::new(0),
        }
    }
}

impl DiskUsage {
    /// The size, from the cache if it is fresh, else from `measure` (one caller measures while
    /// the others use the last value). `None` while no measure has succeeded yet: a size that
    /// cannot be read does not refuse events. A caller that finds no value yet measures itself,
    /// so concurrent first requests never see a made-up zero.
    pub fn current(&self, measure: impl Fn() -> Option<u64>) -> Option<u64> {
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
        match self.bytes.load(Ordering::Relaxed) {
            UNKNOWN => {
                let bytes = measure()?;
                self.bytes.store(bytes, Ordering::Relaxed);
                Some(bytes)
            }
            bytes => Some(bytes),
        }
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
        assert_eq!(usage.current(|| None), None, "nothing measured yet");
        assert_eq!(
            usage.current(|| Some(10)),
            Some(10),
            "measured at once when unknown"
        );
        assert_eq!(
            usage.current(|| Some(99)),
            Some(10),
            "cached within the interval"
        );
        std::thread::sleep(USAGE_REFRESH + Duration::from_millis(5));
        assert_eq!(
            usage.current(|| None),
            Some(10),
            "a failed measure keeps the last"
        );
        std::thread::sleep(USAGE_REFRESH + Duration::from_millis(5));
        assert_eq!(usage.current(|| Some(42)), Some(42));
    }

    /// Regression: the first requests after start-up raced the first measure and read the
    /// initial zero as "0 bytes free", answering 503 (found by the 50-cycle crash loop).
    #[test]
    fn concurrent_first_callers_never_see_a_value_that_was_not_measured() {
        for _ in 0..200 {
            let usage = std::sync::Arc::new(DiskUsage::default());
            let seen: Vec<Option<u64>> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..4)
                    .map(|_| {
                        let usage = usage.clone();
                        scope.spawn(move || usage.current(|| Some(7)))
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert!(seen.iter().all(|v| *v == Some(7)), "{seen:?}");
        }
    }
}
