//! Criterion: the sled engine's write path per event and per attempt, layout v2 (one tree, one
//! atomic batch: dedup marker, event with its body inline, job), for a 1 KiB event with one
//! target on a fresh store in a temp dir. Every iteration stores a new event id, as under load.
//!
//! - `accept`: one event in its own batch, no durable wait (`SledStore::accept`);
//! - `accept_durable`: one caller, so one batch and one fsync per event (the lower bound of what
//!   the ingest writer shares);
//! - `accept_durable_x64`: 64 callers at once, the group commit's case: time per event;
//! - `record_attempt_x64`: 64 attempt outcomes recorded at once through the queue writer (one
//!   batch for many, no fsync wait): time per attempt.
//!
//! Run: `cargo bench --bench store` (BENCHMARKS.md keeps the figures).

use criterion::{criterion_group, criterion_main, Criterion};
use futures_util::future::join_all;
use hookroute::store::{
    Attempt, ClaimRequest, DeliveryQueue, IngestStore, JobTransition, NewEvent, SledStore,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

const AT: u64 = 1_700_000_000_000;

fn headers() -> Vec<(String, Vec<u8>)> {
    vec![
        ("content-type".to_string(), b"application/json".to_vec()),
        ("stripe-signature".to_string(), vec![b'a'; 80]),
    ]
}

fn event<'a>(id: &'a str, body: &'a [u8], targets: &'a [Arc<str>]) -> NewEvent<'a> {
    NewEvent {
        endpoint: "stripe",
        event_id: id,
        event_type: Some("payment_intent.succeeded"),
        received_at_ms: AT,
        headers: headers(),
        body,
        targets,
        ordering_keys: &[],
    }
}

fn accept(c: &mut Criterion) {
    let body = vec![b'x'; 1024];
    let targets: Vec<Arc<str>> = vec![Arc::from("sink")];
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("store");
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path(), Duration::from_secs(3600)).unwrap();
    let mut n = 0u64;
    group.bench_function("accept", |b| {
        b.iter(|| {
            n += 1;
            let id = format!("evt_{n}");
            store.accept(event(&id, &body, &targets)).unwrap();
        })
    });
    group.bench_function("accept_durable", |b| {
        b.iter(|| {
            n += 1;
            let id = format!("evt_{n}");
            runtime
                .block_on(store.accept_durable(event(&id, &body, &targets)))
                .unwrap();
        })
    });
    group.bench_function("accept_durable_x64", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            let mut left = iters;
            while left > 0 {
                let k = left.min(64);
                left -= k;
                let ids: Vec<String> = (0..k)
                    .map(|_| {
                        n += 1;
                        format!("evt_{n}")
                    })
                    .collect();
                let waits = ids
                    .iter()
                    .map(|id| store.accept_durable(event(id, &body, &targets)));
                for r in runtime.block_on(join_all(waits)) {
                    r.unwrap();
                }
            }
            started.elapsed()
        })
    });
    group.bench_function("record_attempt_x64", |b| {
        b.iter_custom(|iters| {
            // Untimed: the events and their claims.
            for _ in 0..iters {
                n += 1;
                store
                    .accept(event(&format!("evt_{n}"), &body, &targets))
                    .unwrap();
            }
            let claimed = runtime
                .block_on(store.claim_due(ClaimRequest {
                    now_ms: AT + 1,
                    lease: Duration::from_secs(600),
                    free: [(Arc::from("sink"), iters as usize)].into(),
                    limit: iters as usize + 1,
                }))
                .unwrap()
                .jobs;
            let started = Instant::now();
            let mut claimed = claimed.into_iter().peekable();
            while claimed.peek().is_some() {
                let chunk: Vec<_> = claimed.by_ref().take(64).collect();
                let records = chunk.into_iter().map(|c| {
                    let attempt = Attempt {
                        attempt: 0,
                        at_ms: AT + 2,
                        latency_ms: 3,
                        status: Some(200),
                        error: None,
                        response_body: b"ok".to_vec(),
                    };
                    store.record(c, attempt, JobTransition::Delivered)
                });
                for r in runtime.block_on(join_all(records)) {
                    r.unwrap();
                }
            }
            started.elapsed()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(5));
    targets = accept
}
criterion_main!(benches);
