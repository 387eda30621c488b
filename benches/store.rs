//! Criterion: the store's `accept` (one sled transaction over six trees: dedup marker, event,
//! body, job, due entry, event -> job index) for a 1 KiB event with one target, on a fresh sled
//! store in a temp dir; without the durable wait (`SledStore::accept`, its own transaction) and
//! with it (`Store::accept_durable`: the ingest writer's transaction, sled flush + fdatasync).
//! Every iteration stores a new event id, as under real load. With one caller the durable wait
//! is one fsync per event (no batching): the lower bound of what the ingest writer shares between
//! concurrent requests.
//!
//! Run: `cargo bench --bench store`

use criterion::{criterion_group, criterion_main, Criterion};
use hookroute::store::{IngestStore, NewEvent, SledStore};
use std::sync::Arc;
use std::time::Duration;

fn accept(c: &mut Criterion) {
    let body = vec![b'x'; 1024];
    let targets: Vec<Arc<str>> = vec![Arc::from("sink")];
    let headers = vec![
        ("content-type".to_string(), b"application/json".to_vec()),
        ("stripe-signature".to_string(), vec![b'a'; 80]),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("store");
    for durable in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), Duration::from_secs(3600)).unwrap();
        let mut n = 0u64;
        let name = if durable { "accept_durable" } else { "accept" };
        group.bench_function(name, |b| {
            b.iter(|| {
                n += 1;
                let id = format!("evt_{n}");
                let event = NewEvent {
                    endpoint: "stripe",
                    event_id: &id,
                    event_type: Some("payment_intent.succeeded"),
                    received_at_ms: 1_700_000_000_000,
                    headers: headers.clone(),
                    body: &body,
                    targets: &targets,
                };
                if durable {
                    runtime.block_on(store.accept_durable(event)).unwrap();
                } else {
                    store.accept(event).unwrap();
                }
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(5));
    targets = accept
}
criterion_main!(benches);
