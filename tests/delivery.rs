//! End-to-end delivery: the real app accepts events and its dispatcher POSTs them to real HTTP
//! downstreams on loopback that answer from a script. Retry policies are short (50 ms) and tests
//! wait by polling the store with a deadline.

mod common;

use arc_swap::ArcSwap;
use base64::Engine;
use common::*;
use hmac::{KeyInit, Mac};
use hookroute::config::MapEnvironment;
use hookroute::delivery::{attempt::http_client, Dispatcher};
use hookroute::store::{JobDetail, JobState, MemoryStore, NewEvent, QueueError, Stores};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SIGNING_KEY: &str = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const FAST_RETRY: &str =
    "retry: { max_attempts: 5, initial_delay: 50ms, max_delay: 500ms, max_age: 1h }";

fn env() -> MapEnvironment {
    MapEnvironment::default()
        .with("IN_SECRET", "in-secret")
        .with("API_KEY", "k-123")
        .with("SIGNING_SECRET", &format!("whsec_{SIGNING_KEY}"))
}

fn target(name: &str, url: &str, extra: &str) -> String {
    format!("  {name}:\n    url: {url}/hook\n    {FAST_RETRY}\n{extra}")
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The jobs of event `id`, ordered by target name, each with its attempts.
async fn jobs_of(store: &Stores, id: &str) -> Vec<JobDetail> {
    let seq = store
        .events
        .find_event("in", id)
        .await
        .unwrap()
        .expect("event stored");
    let mut jobs = store.events.event_detail(seq).await.unwrap().unwrap().jobs;
    jobs.sort_by(|a, b| a.job.target.cmp(&b.job.target));
    jobs
}

fn finished(job: &JobDetail) -> bool {
    job.job.state != JobState::Pending
}

async fn settled(store: &Stores, id: &str, timeout: Duration) -> Vec<JobDetail> {
    wait_for(timeout, "jobs to finish", || async {
        let jobs = jobs_of(store, id).await;
        jobs.iter().all(finished).then_some(jobs)
    })
    .await
}

async fn accept(app: &RunningApp, body: &[u8], id: &str) {
    let (status, answer) = app.post_signed("/in", body, id).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("accepted")),
        "{answer}"
    );
}

async fn app_for(targets: &str, forward: &[&str]) -> (RunningApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let app = RunningApp::start_in(dir.path(), &routes(targets, forward), env()).await;
    (app, dir)
}

#[actix_web::test]
async fn a_target_answering_500_500_200_gets_the_event_three_times_and_it_ends_delivered() {
    let down = Downstream::start(vec![
        Reply::status(500),
        Reply::status(500),
        Reply::status(200),
    ]);
    let (app, _dir) = app_for(&target("flaky", &down.url, ""), &["flaky"]).await;
    accept(&app, br#"{"id":"e1"}"#, "e1").await;

    let jobs = settled(&app.store, "e1", Duration::from_secs(10)).await;
    assert!(
        matches!(jobs[0].job.state, JobState::Delivered { .. }),
        "{jobs:?}"
    );
    assert_eq!(jobs[0].job.attempts, 3);
    let statuses: Vec<_> = jobs[0].attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(200)]);
    assert_eq!(
        jobs[0].attempts[0].error.as_deref(),
        Some("HTTP 500 Internal Server Error")
    );
    let numbers: Vec<_> = down
        .received()
        .iter()
        .map(|r| r.header("x-hookroute-attempt").unwrap().to_string())
        .collect();
    assert_eq!(numbers, ["1", "2", "3"]);
}

#[actix_web::test]
async fn a_400_dead_letters_at_once_after_one_attempt() {
    let down = Downstream::start(vec![Reply::status(400).body("no such customer")]);
    let (app, _dir) = app_for(&target("strict", &down.url, ""), &["strict"]).await;
    accept(&app, br#"{"id":"e1"}"#, "e1").await;

    let jobs = settled(&app.store, "e1", Duration::from_secs(10)).await;
    let JobState::Dead { reason, .. } = &jobs[0].job.state else {
        panic!("{jobs:?}")
    };
    assert_eq!(reason, "HTTP 400 Bad Request");
    assert_eq!(jobs[0].attempts.len(), 1);
    assert_eq!(jobs[0].attempts[0].response_body, b"no such customer");
    let dead = app.store.events.dead_letters(None, 10).await.unwrap();
    assert_eq!(
        dead.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [jobs[0].id]
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(down.count(), 1);
}

#[actix_web::test]
async fn a_429_with_retry_after_2_is_retried_no_sooner_than_2_seconds_later() {
    let down = Downstream::start(vec![
        Reply::status(429).header("Retry-After", "2"),
        Reply::status(200),
    ]);
    let (app, _dir) = app_for(&target("throttled", &down.url, ""), &["throttled"]).await;
    accept(&app, br#"{"id":"e1"}"#, "e1").await;

    let jobs = settled(&app.store, "e1", Duration::from_secs(10)).await;
    assert!(
        matches!(jobs[0].job.state, JobState::Delivered { .. }),
        "{jobs:?}"
    );
    let received = down.received();
    assert_eq!(received.len(), 2);
    let gap = received[1].at - received[0].at;
    assert!(gap >= Duration::from_secs(2), "retried after {gap:?}");
    assert!(gap < Duration::from_secs(4), "retried after {gap:?}");
}

#[actix_web::test]
async fn a_redirect_is_not_followed_and_is_reported_as_a_permanent_failure() {
    let elsewhere = Downstream::start(vec![Reply::status(200)]);
    let location = format!("{}/moved", elsewhere.url);
    let down = Downstream::start(vec![Reply::status(302).header("Location", &location)]);
    let (app, _dir) = app_for(&target("moved", &down.url, ""), &["moved"]).await;
    accept(&app, br#"{"id":"e1"}"#, "e1").await;

    let jobs = settled(&app.store, "e1", Duration::from_secs(10)).await;
    let JobState::Dead { reason, .. } = &jobs[0].job.state else {
        panic!("{jobs:?}")
    };
    assert_eq!(
        reason,
        &format!("redirect not followed (302 to {location})")
    );
    assert_eq!(jobs[0].attempts[0].status, Some(302));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!((down.count(), elsewhere.count()), (1, 0));
}

#[actix_web::test]
async fn a_slow_target_does_not_delay_a_fast_one() {
    let slow = Downstream::start(vec![Reply::status(200).after(Duration::from_secs(3))]);
    let fast = Downstream::start(vec![Reply::status(200)]);
    let targets =
        target("slow", &slow.url, "    concurrency: 1\n") + &target("fast", &fast.url, "");
    let (app, _dir) = app_for(&targets, &["slow", "fast"]).await;
    let started = Instant::now();
    for i in 0..4 {
        let id = format!("e{i}");
        accept(&app, format!(r#"{{"id":"{id}"}}"#).as_bytes(), &id).await;
    }

    wait_for(
        Duration::from_millis(1500),
        "every event to be delivered to the fast target",
        || async {
            for i in 0..4 {
                let jobs = jobs_of(&app.store, &format!("e{i}")).await;
                if !matches!(jobs[0].job.state, JobState::Delivered { .. }) {
                    return None;
                }
            }
            Some(())
        },
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(fast.count(), 4);
    assert_eq!(
        slow.count(),
        1,
        "the slow target is held to one request at a time"
    );
    for i in 0..4 {
        let jobs = jobs_of(&app.store, &format!("e{i}")).await;
        assert!(
            matches!(jobs[0].job.state, JobState::Delivered { .. }),
            "fast: {jobs:?}"
        );
        assert_eq!(jobs[1].job.state, JobState::Pending, "slow");
    }
}

#[actix_web::test]
async fn fan_out_to_three_targets_delivers_each_exactly_once_byte_for_byte_with_headers_and_a_signature(
) {
    let downs = [(); 3].map(|_| Downstream::start(vec![Reply::status(204)]));
    let targets = target(
        "a",
        &downs[0].url,
        "    headers:\n      X-Api-Key: \"${env:API_KEY}\"\n",
    ) + &target("b", &downs[1].url, "    forward_headers: [X-Trace]\n")
        + &target(
            "c",
            &downs[2].url,
            "    signing:\n      secret: { env: SIGNING_SECRET }\n",
        );
    let (app, _dir) = app_for(&targets, &["a", "b", "c"]).await;
    let body = "{\"id\": \"fan-1\",  \"note\":\"caf\u{e9} \u{2603}\",\n \"n\": 1.50}".as_bytes();
    let mut headers = sign(&app.config.load(), "/in", body, "fan-1");
    headers.push(("X-Trace".into(), "trace-7".into()));
    let (status, _) = post(&app.client, &format!("{}/in", app.base), body, &headers).await;
    assert_eq!(status, 200);

    let jobs = settled(&app.store, "fan-1", Duration::from_secs(10)).await;
    assert!(
        jobs.iter()
            .all(|j| matches!(j.job.state, JobState::Delivered { .. })),
        "{jobs:?}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    for (down, job) in downs.iter().zip(&jobs) {
        let received = down.received();
        assert_eq!(received.len(), 1, "{}", job.job.target);
        let r = &received[0];
        assert_eq!(r.body, body);
        assert_eq!(r.path, "/hook");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("x-hookroute-event-id"), Some("fan-1"));
        assert_eq!(r.header("x-hookroute-endpoint"), Some("in"));
        assert_eq!(r.header("x-hookroute-attempt"), Some("1"));
        assert_eq!(
            r.header("x-hookroute-delivery-id"),
            Some(job.id.to_string().as_str())
        );
        assert_eq!(
            r.header("x-signature"),
            None,
            "inbound signatures are not forwarded"
        );
    }
    let [a, b, c] = downs.map(|d| d.received().remove(0));
    assert_eq!(a.header("x-api-key"), Some("k-123"));
    assert_eq!(
        (a.header("x-trace"), b.header("x-trace")),
        (None, Some("trace-7"))
    );
    assert_eq!(a.header("webhook-signature"), None);

    let (id, ts) = (
        c.header("webhook-id").unwrap(),
        c.header("webhook-timestamp").unwrap(),
    );
    assert_eq!(id, jobs[2].id.to_string());
    assert!((ts.parse::<i64>().unwrap() - now_secs()).abs() < 10);
    let key = base64::engine::general_purpose::STANDARD
        .decode(SIGNING_KEY)
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    let signature = c
        .header("webhook-signature")
        .unwrap()
        .strip_prefix("v1,")
        .unwrap();
    let signature = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .unwrap();
    mac.verify_slice(&signature)
        .expect("the outbound signature verifies");
}

/// An in-memory store and a dispatcher driven by hand, without the HTTP server.
async fn store_with_dispatcher(
    targets: &str,
    forward: &[&str],
) -> (Stores, Dispatcher, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "storage:\n  data_dir: {}\n{}",
        dir.path().join("data").display(),
        routes(targets, forward)
    );
    let config = hookroute::config::load_str(&yaml, dir.path(), &env()).unwrap();
    let store = Stores::of(Arc::new(MemoryStore::new(Duration::from_secs(60))));
    let config = Arc::new(ArcSwap::from_pointee(config));
    let dispatcher = Dispatcher::new(store.queue.clone(), config, http_client().unwrap());
    (store, dispatcher, dir)
}

async fn accept_direct(store: &Stores, id: &str, body: &[u8], targets: &[&str]) -> u64 {
    let targets: Vec<Arc<str>> = targets.iter().map(|t| Arc::from(*t)).collect();
    let outcome = store
        .ingest
        .accept_durable(NewEvent {
            endpoint: "in",
            event_id: id,
            event_type: None,
            received_at_ms: now_ms(),
            headers: vec![("content-type".into(), b"application/json".to_vec())],
            body,
            targets: &targets,
            ordering_keys: &[],
        })
        .await
        .unwrap();
    let hookroute::store::AcceptOutcome::Accepted { event_seq, .. } = outcome else {
        panic!()
    };
    event_seq
}

#[actix_web::test]
async fn retry_dead_and_replay_deliver_again() {
    let down = Downstream::start(vec![Reply::status(422), Reply::status(200)]);
    let (store, mut dispatcher, _dir) =
        store_with_dispatcher(&target("t", &down.url, ""), &["t"]).await;
    let seq = accept_direct(&store, "e1", br#"{"id":"e1"}"#, &["t"]).await;

    assert_eq!(dispatcher.drive_until_idle().await.unwrap(), 1);
    let (job_id, job) = store.events.dead_letters(None, 10).await.unwrap().remove(0);
    assert!(matches!(job.state, JobState::Dead { .. }));

    let requeued = store.queue.retry_dead(job_id, now_ms()).await.unwrap();
    assert_eq!((requeued.state, requeued.attempts), (JobState::Pending, 1));
    assert!(store
        .events
        .dead_letters(None, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(dispatcher.drive_until_idle().await.unwrap(), 1);
    let detail = store.events.event_detail(seq).await.unwrap().unwrap();
    let job = &detail.jobs[0];
    assert!(matches!(job.job.state, JobState::Delivered { .. }));
    assert_eq!(
        job.attempts.iter().map(|a| a.attempt).collect::<Vec<_>>(),
        [1, 2]
    );
    assert!(matches!(
        store.queue.retry_dead(job_id, now_ms()).await,
        Err(QueueError::NotDead(id)) if id == job_id
    ));
    assert!(matches!(
        store.queue.retry_dead(u64::MAX, now_ms()).await,
        Err(QueueError::JobNotFound(u64::MAX))
    ));

    let replayed = store
        .queue
        .replay(seq, vec![Arc::from("t")], now_ms())
        .await
        .unwrap();
    assert_eq!(dispatcher.drive_until_idle().await.unwrap(), 1);
    assert!(matches!(
        store.events.job(replayed[0]).await.unwrap().unwrap().state,
        JobState::Delivered { .. }
    ));
    let detail = store.events.event_detail(seq).await.unwrap().unwrap();
    assert_eq!(
        detail.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        [job_id, replayed[0]]
    );
    assert!(matches!(
        store.queue.replay(u64::MAX, vec![Arc::from("t")], 0).await,
        Err(QueueError::EventNotFound(u64::MAX))
    ));

    let received = down.received();
    assert_eq!(received.len(), 3);
    assert!(received.iter().all(|r| r.body == br#"{"id":"e1"}"#));
    assert_eq!(
        received[2].header("x-hookroute-delivery-id"),
        Some(replayed[0].to_string().as_str())
    );
}

#[actix_web::test]
async fn jobs_of_a_target_missing_from_the_config_stay_queued_without_attempts() {
    let down = Downstream::start(vec![Reply::status(200)]);
    let (store, mut dispatcher, _dir) =
        store_with_dispatcher(&target("t", &down.url, ""), &["t"]).await;
    accept_direct(&store, "e1", b"{}", &["removed"]).await;

    let step = dispatcher.step(now_ms()).await.unwrap();
    assert_eq!((step.started, step.orphaned), (0, 1));
    assert_eq!(
        dispatcher.drive_until_idle().await.unwrap(),
        0,
        "postponed, not retried in a loop"
    );
    let job = all_jobs(&store).await.remove(0).job;
    assert_eq!((job.state, job.attempts), (JobState::Pending, 0));
    assert!(job.next_attempt_at_ms >= now_ms() + 20_000);
    assert_eq!(store.events.counts().await.unwrap().queued, 1);
}

#[actix_web::test]
async fn jobs_survive_a_restart_and_are_delivered_once_the_target_is_up() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{port}");
    let dir = tempfile::tempdir().unwrap();
    let config = routes(&target("later", &url, ""), &["later"])
        .replace("max_attempts: 5", "max_attempts: 1000");

    let app = RunningApp::start_in(dir.path(), &config, env()).await;
    for id in ["r1", "r2", "r3"] {
        accept(&app, format!(r#"{{"id":"{id}"}}"#).as_bytes(), id).await;
    }
    let store = app.store.clone();
    wait_for(
        Duration::from_secs(5),
        "a failed attempt for each job",
        || async {
            for id in ["r1", "r2", "r3"] {
                if jobs_of(&store, id).await[0].job.attempts == 0 {
                    return None;
                }
            }
            Some(())
        },
    )
    .await;
    drop(store);
    app.stop().await;

    let down = Downstream::start_on(port, vec![Reply::status(200)]);
    let app = RunningApp::start_in(dir.path(), &config, env()).await;
    for id in ["r1", "r2", "r3"] {
        let jobs = settled(&app.store, id, Duration::from_secs(10)).await;
        assert!(
            matches!(jobs[0].job.state, JobState::Delivered { .. }),
            "{jobs:?}"
        );
        assert!(
            jobs[0].attempts[0]
                .error
                .as_deref()
                .unwrap()
                .contains("cannot connect"),
            "{jobs:?}"
        );
    }
    let mut ids: Vec<_> = down
        .received()
        .iter()
        .map(|r| r.header("x-hookroute-event-id").unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, ["r1", "r2", "r3"]);
}

#[actix_web::test]
async fn shutdown_lets_an_attempt_in_flight_finish() {
    let down = Downstream::start(vec![Reply::status(200).after(Duration::from_millis(800))]);
    let (app, _dir) = app_for(&target("t", &down.url, ""), &["t"]).await;
    accept(&app, br#"{"id":"e1"}"#, "e1").await;
    eventually(Duration::from_secs(5), "the attempt to start", || {
        (down.count() == 1).then_some(())
    })
    .await;

    let store = app.store.clone();
    app.stop().await;
    let jobs = jobs_of(&store, "e1").await;
    assert!(
        matches!(jobs[0].job.state, JobState::Delivered { .. }),
        "{jobs:?}"
    );
}

#[actix_web::test]
async fn a_job_for_a_free_target_starts_even_behind_a_backlog_of_a_busy_target() {
    // Pins the dispatcher's scan, which now reads only as far as it can still start something:
    // a busy target's earlier jobs must not hide a free target's job from it.
    let slow = Downstream::start(vec![Reply::status(200).after(Duration::from_secs(5))]);
    let fast = Downstream::start(vec![Reply::status(200)]);
    let targets =
        target("slow", &slow.url, "    concurrency: 1\n") + &target("fast", &fast.url, "");
    let (store, mut dispatcher, _dir) = store_with_dispatcher(&targets, &["slow", "fast"]).await;
    for i in 0..50 {
        accept_direct(&store, &format!("s{i}"), b"{}", &["slow"]).await;
    }
    let step = dispatcher.step(now_ms()).await.unwrap();
    assert_eq!(step.started, 1, "one slow attempt, at its concurrency");
    accept_direct(&store, "f1", b"{}", &["fast"]).await;

    let step = dispatcher.step(now_ms()).await.unwrap();
    assert_eq!(step.started, 1, "the fast job, behind 49 due slow jobs");
    assert!(dispatcher.join_one().await.is_some());
    assert_eq!(fast.count(), 1);
    assert_eq!(slow.count(), 1);
}

#[actix_web::test]
async fn a_job_whose_request_cannot_be_signed_is_dead_lettered_not_left_due() {
    // Regression: `Scheme::sign` panicked on a key that cannot sign; the panic was caught but
    // the job stayed due forever. Now it is a permanent failure, recorded and dead-lettered.
    let down = Downstream::start(vec![Reply::status(200)]);
    let dir = tempfile::tempdir().unwrap();
    let yaml = routes(&target("t", &down.url, ""), &["t"]);
    let mut config = hookroute::config::load_str(&yaml, dir.path(), &env()).unwrap();
    let scheme = hookroute::signature::scheme_from_value(
        hookroute::signature::preset("standard-webhooks-ed25519")
            .unwrap()
            .scheme
            .clone(),
    )
    .unwrap();
    let target = Arc::make_mut(config.targets.get_mut("t").unwrap());
    target.signing = Some(hookroute::target::OutboundSigner {
        scheme: Arc::new(scheme),
        // Neither a 32-byte seed nor a 64-byte keypair: it cannot sign.
        key: hookroute::signature::SecretKey::new("short", vec![7u8; 16]),
    });
    let store = Stores::of(Arc::new(MemoryStore::new(Duration::from_secs(60))));
    let config = Arc::new(ArcSwap::from_pointee(config));
    let mut dispatcher = Dispatcher::new(store.queue.clone(), config, http_client().unwrap());
    let seq = accept_direct(&store, "e1", br#"{"id":"e1"}"#, &["t"]).await;

    assert_eq!(dispatcher.drive_until_idle().await.unwrap(), 1);
    let detail = store.events.event_detail(seq).await.unwrap().unwrap();
    let job = &detail.jobs[0];
    let JobState::Dead { reason, .. } = &job.job.state else {
        panic!("{job:?}")
    };
    assert!(reason.contains("signing"), "{reason}");
    assert_eq!(
        job.attempts.len(),
        1,
        "the failure is recorded as an attempt"
    );
    assert_eq!(down.count(), 0, "nothing unsigned was sent");
    assert_eq!(
        dispatcher.drive_until_idle().await.unwrap(),
        0,
        "not due again"
    );
}
