//! The store conformance suite (`hookroute::store::conformance`) on every engine: the sled
//! engine the binary runs on, and the in-memory one the consumers' fast tests use. Each case
//! runs on a fresh store; the queue state machine runs on random operation sequences (proptest):
//! acknowledged => eventually delivered or dead-lettered, never lost, never two live claims on
//! one job. The PostgreSQL engine runs the same calls in tests/store_postgres.rs.

#[path = "common/queue_ops.rs"]
mod queue_ops;
use hookroute::store::conformance;
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

proptest! {
    #![proptest_config(ProptestConfig { cases: queue_ops::cases(32), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_queue_state_machine_holds_on_both_engines(ops in prop::collection::vec(queue_ops::op(), 1..50)) {
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

/// Opens the sled store in `dir`, waiting while a previous handle still releases it.
fn reopen(dir: &std::path::Path) -> Stores {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match SledStore::open(dir, Duration::from_secs(3600)) {
            Ok(store) => return Stores::of(Arc::new(store)),
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("reopen: {e}"),
        }
    }
}

/// What the suite cannot see on a fresh store: a pause and the ordering keys are on disk, and
/// the due index rebuilt at open holds a key's later job back behind its earliest one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_keeps_pauses_and_ordering_keys_across_a_reopen() {
    use hookroute::store::{ClaimRequest, NewEvent};
    let dir = tempfile::tempdir().unwrap();
    let targets: Vec<Arc<str>> = vec![Arc::from("t")];
    {
        let store = reopen(dir.path());
        for id in ["first", "second"] {
            store
                .ingest
                .accept_durable(NewEvent {
                    endpoint: "in",
                    event_id: id,
                    event_type: None,
                    received_at_ms: 1_000,
                    headers: vec![],
                    body: b"{}",
                    targets: &targets,
                    ordering_keys: &[Some("k".to_string())],
                })
                .await
                .unwrap();
        }
        store.queue.set_paused("t", true).await.unwrap();
    }
    let store = reopen(dir.path());
    assert_eq!(store.queue.paused().await.unwrap(), ["t"]);
    let claimed = store
        .queue
        .claim_due(ClaimRequest {
            now_ms: 2_000,
            lease: Duration::from_secs(60),
            free: [(Arc::from("t"), 8)].into_iter().collect(),
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(
        claimed.jobs.len(),
        1,
        "the key's second job waits: {claimed:?}"
    );
    let event = store
        .queue
        .load_event(claimed.jobs[0].job.event_seq)
        .await
        .unwrap()
        .unwrap()
        .0;
    assert_eq!(event.event_id, "first");
    assert_eq!(claimed.jobs[0].job.ordering_key.as_deref(), Some("k"));
}
