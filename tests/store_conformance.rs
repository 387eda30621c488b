//! The store conformance suite (`hookroute::store::conformance`) on every engine: the sled
//! engine the binary runs on, and the in-memory one the consumers' fast tests use. Each case
//! runs on a fresh store; the queue state machine runs on random operation sequences (proptest):
//! acknowledged => eventually delivered or dead-lettered, never lost, never two live claims on
//! one job. The PostgreSQL engine will be checked by the same calls.

use hookroute::store::conformance::{self, Finish, Op};
use hookroute::store::{MemoryStore, SledStore, Stores};
use proptest::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn memory(ttl: Duration) -> Stores {
    Stores::of(Arc::new(MemoryStore::new(ttl)))
}

/// Fresh sled stores in sub-directories of one temporary directory.
struct SledStores {
    root: tempfile::TempDir,
    next: AtomicUsize,
}

impl SledStores {
    fn new() -> Self {
        Self {
            root: tempfile::tempdir().unwrap(),
            next: AtomicUsize::new(0),
        }
    }

    fn fresh(&self, ttl: Duration) -> Stores {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let store = SledStore::open(&self.root.path().join(n.to_string()), ttl).unwrap();
        Stores::of(Arc::new(store))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_engine_passes_the_suite() {
    conformance::run_all(&memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sled_engine_passes_the_suite() {
    let stores = SledStores::new();
    conformance::run_all(&|ttl| stores.fresh(ttl)).await;
}

fn op() -> impl Strategy<Value = Op> {
    let finish = prop_oneof![
        Just(Finish::Delivered),
        (1u16..5000).prop_map(|in_ms| Finish::Retry { in_ms }),
        Just(Finish::Dead),
        Just(Finish::Release),
    ];
    prop_oneof![
        4 => (0u8..12, 1u8..=3).prop_map(|(id, targets)| Op::Accept { id, targets }),
        3 => (0u8..3).prop_map(|slots| Op::Claim { slots }),
        4 => (any::<u8>(), finish).prop_map(|(nth, how)| Op::Finish { nth, how }),
        2 => (0u32..120_000).prop_map(|ms| Op::Advance { ms }),
    ]
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_queue_state_machine_holds_on_both_engines(ops in prop::collection::vec(op(), 1..50)) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(conformance::queue_state_machine(&memory, &ops));
        let stores = SledStores::new();
        rt.block_on(conformance::queue_state_machine(&|ttl| stores.fresh(ttl), &ops));
    }
}
