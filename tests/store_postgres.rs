//! The PostgreSQL engine on a real server the test starts itself ([`TestPostgres`]): first the
//! conformance suite every engine passes (each case in a schema of its own), and the queue state
//! machine on random operations; then what only a shared database has: two engines (two
//! instances) on one schema accept each `(endpoint, id)` once even when both get it at once,
//! share a target's concurrency, cannot record over each other's newer claims, wake each other
//! through LISTEN/NOTIFY; and the database going away and coming back.

mod common;

#[path = "common/queue_ops.rs"]
mod queue_ops;
use common::postgres::TestPostgres;
use hookroute::store::conformance;
use hookroute::store::model::*;
use hookroute::store::quota::SpaceLimits;
use hookroute::store::{PgConfig, PgStore, Stores};
use proptest::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);

/// One server for the whole test binary (each test uses its own schemas).
fn server() -> &'static TestPostgres {
    static SERVER: OnceLock<TestPostgres> = OnceLock::new();
    SERVER.get_or_init(TestPostgres::start)
}

static SCHEMAS: AtomicUsize = AtomicUsize::new(0);

fn new_schema() -> String {
    format!("t{}", SCHEMAS.fetch_add(1, Ordering::Relaxed))
}

fn open(schema: &str, ttl: Duration) -> PgStore {
    PgStore::open(&PgConfig {
        url: server().url("postgres"),
        pool_size: 3,
        statement_timeout: Duration::from_secs(10),
        dedup_ttl: ttl,
        schema: Some(schema.to_string()),
    })
    .expect("the PostgreSQL engine opens")
}

fn fresh(ttl: Duration) -> Stores {
    Stores::of(Arc::new(open(&new_schema(), ttl)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_engine_passes_the_suite() {
    conformance::run_all(&fresh).await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: queue_ops::cases(8), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_queue_state_machine_holds_on_postgres(ops in prop::collection::vec(queue_ops::op(), 1..50)) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(conformance::queue_state_machine(&fresh, &ops));
    }
}

const T0: u64 = 1_000_000;

fn new_event<'a>(id: &'a str, at: u64, targets: &'a [Arc<str>]) -> NewEvent<'a> {
    NewEvent {
        endpoint: "in",
        event_id: id,
        event_type: Some("t"),
        received_at_ms: at,
        headers: vec![("content-type".into(), b"application/json".to_vec())],
        body: b"{}",
        targets,
        ordering_keys: &[],
    }
}

fn claim_request(now_ms: u64, target: &str, free: usize) -> ClaimRequest {
    ClaimRequest {
        now_ms,
        lease: Duration::from_secs(60),
        free: [(Arc::from(target), free)].into_iter().collect(),
        limit: 4096,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_event_on_two_instances_at_once_is_accepted_once() {
    use hookroute::store::IngestStore;
    let schema = new_schema();
    let a = Arc::new(open(&schema, HOUR));
    let b = Arc::new(open(&schema, HOUR));
    let targets: Vec<Arc<str>> = vec![Arc::from("t")];
    let mut tasks = Vec::new();
    for i in 0..200 {
        for store in [a.clone(), b.clone()] {
            let targets = targets.clone();
            tasks.push(tokio::spawn(async move {
                let id = format!("e{i}");
                let outcome = store
                    .accept_durable(new_event(&id, T0, &targets))
                    .await
                    .expect("accept");
                (i, outcome)
            }));
        }
    }
    let mut accepted = vec![0; 200];
    let mut seqs: Vec<Vec<EventSeq>> = vec![Vec::new(); 200];
    for t in tasks {
        let (i, outcome) = t.await.unwrap();
        match outcome {
            AcceptOutcome::Accepted { event_seq, .. } => {
                accepted[i] += 1;
                seqs[i].push(event_seq);
            }
            AcceptOutcome::Duplicate { event_seq } => seqs[i].push(event_seq),
        }
    }
    for i in 0..200 {
        assert_eq!(accepted[i], 1, "e{i} accepted {} times", accepted[i]);
        assert_eq!(seqs[i][0], seqs[i][1], "both answers name one event");
    }
    let stores = Stores::of(a);
    let counts = stores.events.counts().await.unwrap();
    assert_eq!((counts.events, counts.jobs), (200, 200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_targets_concurrency_holds_across_instances_and_stale_owners_record_nothing() {
    let schema = new_schema();
    let a = Stores::of(Arc::new(open(&schema, HOUR)));
    let b = Stores::of(Arc::new(open(&schema, HOUR)));
    let targets: Vec<Arc<str>> = vec![Arc::from("t")];
    for i in 0..10 {
        a.ingest
            .accept_durable(new_event(&format!("e{i}"), T0 + i, &targets))
            .await
            .unwrap();
    }
    // Each instance has 3 free slots by its own count; together they may hold 3.
    let first = a
        .queue
        .claim_due(claim_request(T0 + 100, "t", 3))
        .await
        .unwrap();
    assert_eq!(first.jobs.len(), 3);
    let second = b
        .queue
        .claim_due(claim_request(T0 + 100, "t", 3))
        .await
        .unwrap();
    assert!(
        second.jobs.is_empty(),
        "the other instance holds every slot"
    );
    // One finishes: one slot is free for the other instance.
    let done = first.jobs[0].clone();
    let recorded = a
        .queue
        .record(
            done,
            Attempt {
                attempt: 0,
                at_ms: T0 + 150,
                latency_ms: 1,
                status: Some(200),
                error: None,
                response_body: vec![],
            },
            JobTransition::Delivered,
        )
        .await
        .unwrap();
    assert!(matches!(recorded, RecordOutcome::Recorded(_)));
    let third = b
        .queue
        .claim_due(claim_request(T0 + 200, "t", 3))
        .await
        .unwrap();
    assert_eq!(third.jobs.len(), 1);
    let mut ids: Vec<JobId> = first.jobs.iter().chain(&third.jobs).map(|c| c.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "no job claimed twice");
    // A's remaining leases run out: B takes them over, and A's late record is refused.
    let late = T0 + 100 + 60_000;
    let taken = b
        .queue
        .claim_due(claim_request(late, "t", 3))
        .await
        .unwrap();
    let stale = first.jobs[1].clone();
    assert!(taken.jobs.iter().any(|c| c.id == stale.id));
    assert_eq!(a.queue.renew(&stale, late + 60_000).await.unwrap(), None);
    let refused = a
        .queue
        .record(
            stale.clone(),
            Attempt {
                attempt: 0,
                at_ms: late,
                latency_ms: 1,
                status: Some(200),
                error: None,
                response_body: vec![],
            },
            JobTransition::Delivered,
        )
        .await
        .unwrap();
    assert_eq!(refused, RecordOutcome::Stale);
    let job = a.events.job(stale.id).await.unwrap().unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Pending, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accept_on_one_instance_wakes_the_other_through_notify() {
    let schema = new_schema();
    let a = Stores::of(Arc::new(open(&schema, HOUR)));
    let b = Stores::of(Arc::new(open(&schema, HOUR)));
    let wake = b.queue.wakeups();
    // The listener's first wake-up (on LISTEN) is consumed first.
    let _ = tokio::time::timeout(Duration::from_secs(5), wake.notified()).await;
    let targets: Vec<Arc<str>> = vec![Arc::from("t")];
    let woken = wake.notified();
    tokio::pin!(woken);
    woken.as_mut().enable();
    a.ingest
        .accept_durable(new_event("e1", T0, &targets))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), woken)
        .await
        .expect("the other instance's dispatcher is woken by NOTIFY");
}

/// The database stopped and started again under a store that stays open: while it is down,
/// the ingress is refused at once (and `/readyz` would say why), accepts fail (never succeed);
/// after it returns, both resume by themselves and what was committed before is all there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_going_away_refuses_ingest_and_both_resume_when_it_returns() {
    use hookroute::store::IngestStore;
    let pg = TestPostgres::start();
    let store = Arc::new(
        PgStore::open(&PgConfig {
            url: pg.url("postgres"),
            pool_size: 3,
            statement_timeout: Duration::from_secs(5),
            dedup_ttl: HOUR,
            schema: None,
        })
        .unwrap(),
    );
    let targets: Vec<Arc<str>> = vec![Arc::from("t")];
    for i in 0..20 {
        store
            .accept_durable(new_event(&format!("before{i}"), T0, &targets))
            .await
            .unwrap();
    }
    pg.stop_server("immediate");
    let limits = SpaceLimits {
        max_size: None,
        min_free_space: 0,
    };
    common::wait_for(Duration::from_secs(10), "the store to notice", || {
        let down = store.check_space(limits).is_err() && store.unavailable().is_some();
        async move { down.then_some(()) }
    })
    .await;
    assert!(
        store
            .accept_durable(new_event("during", T0, &targets))
            .await
            .is_err(),
        "no accept succeeds without the database"
    );
    let stores = Stores::of(store.clone());
    assert!(stores
        .queue
        .claim_due(claim_request(T0, "t", 5))
        .await
        .is_err());
    pg.start_server();
    common::wait_for(Duration::from_secs(15), "the store to resume", || {
        let up = store.check_space(limits).is_ok() && store.unavailable().is_none();
        async move { up.then_some(()) }
    })
    .await;
    store
        .accept_durable(new_event("after", T0, &targets))
        .await
        .expect("accepts resume");
    let counts = stores.events.counts().await.unwrap();
    assert_eq!(
        counts.events, 21,
        "the 20 committed before and the one after"
    );
    let claimed = stores
        .queue
        .claim_due(claim_request(T0 + 1, "t", 64))
        .await
        .unwrap();
    assert_eq!(claimed.jobs.len(), 21, "claims resume");
}
