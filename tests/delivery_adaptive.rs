//! Delivery that adapts to each target, against real HTTP downstreams on loopback: a token-bucket
//! rate limit measured over seconds, adaptive concurrency after 429s, the circuit breaker's
//! single probe per cool-down, and a pause that is stored (it survives a SIGKILL of the real
//! binary) while events keep being accepted. Waits are on conditions (a witness target that is
//! not paused, the store's state); only the rate and the cool-downs are measured on the clock.

mod common;

use arc_swap::ArcSwap;
use common::*;
use hookroute::config::{self, MapEnvironment};
use hookroute::delivery::{attempt::http_client, Dispatcher};
use hookroute::store::{JobState, MemoryStore, NewEvent, Stores};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SECRET: &str = "in-secret";

fn env() -> MapEnvironment {
    MapEnvironment::default().with("IN_SECRET", SECRET)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn body(id: &str) -> Vec<u8> {
    format!(r#"{{"id":"{id}","type":"t"}}"#).into_bytes()
}

/// Posts `ids` to `/in` from 8 concurrent senders; each must be accepted.
async fn post_all(url: &str, config: &Arc<config::Config>, ids: Vec<String>) {
    let client = reqwest::Client::new();
    let ids = Arc::new(ids);
    let mut senders = Vec::new();
    for worker in 0..8 {
        let (client, url, config, ids) =
            (client.clone(), url.to_string(), config.clone(), ids.clone());
        senders.push(tokio::spawn(async move {
            for id in ids.iter().skip(worker).step_by(8) {
                let b = body(id);
                let (status, answer) = post(&client, &url, &b, &sign(&config, "/in", &b, id)).await;
                assert_eq!(answer["status"], "accepted", "{status} {answer}");
            }
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
}

fn distinct_ids(sink: &Downstream) -> HashSet<String> {
    sink.received()
        .iter()
        .filter_map(|r| r.header("x-hookroute-event-id").map(str::to_string))
        .collect()
}

#[actix_web::test]
async fn a_rate_limited_target_receives_within_ten_percent_of_its_limit() {
    const RATE: f64 = 25.0;
    let window = Duration::from_secs(common::checker::scaled(8, 30));
    let sink = Downstream::start(vec![Reply::status(200)]);
    let router = TestRouter::start(
        &routes(
            &format!(
                "  sink:\n    url: {}/hook\n    concurrency: 8\n    rate_limit: {{ per_second: {RATE}, burst: 5 }}\n",
                sink.url
            ),
            &["sink"],
        ),
        env(),
    )
    .await;
    let events = (RATE * window.as_secs_f64() * 2.0) as usize;
    let ids: Vec<String> = (0..events).map(|n| format!("r{n}")).collect();
    post_all(
        &format!("{}/in", router.base),
        &router.config.load_full(),
        ids,
    )
    .await;
    // From here on the backlog outlasts the window: the bucket alone sets the pace.
    let start = Instant::now();
    let before = sink.count();
    tokio::time::sleep(window).await;
    let sent = sink.count() - before;
    let rate = sent as f64 / window.as_secs_f64();
    eprintln!("rate limit {RATE}/s: {sent} requests in {window:?} = {rate:.2}/s");
    assert!(
        (rate - RATE).abs() <= RATE * 0.10,
        "measured {rate:.2}/s for a limit of {RATE}/s ({sent} in {:?})",
        start.elapsed()
    );
    let depth = router.store.queue.depths().await.unwrap();
    assert!(
        depth.iter().any(|(t, j)| &**t == "sink" && j.pending > 0),
        "jobs over the limit wait in the store: {depth:?}"
    );
}

/// An in-memory store and a dispatcher driven by hand.
fn hand_driven(targets: &str) -> (Stores, Dispatcher, Arc<config::Config>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "storage:\n  data_dir: {}\n{}",
        dir.path().join("data").display(),
        routes(targets, &["t"])
    );
    let config = config::load_str(&yaml, dir.path(), &env()).unwrap();
    let store = Stores::of(Arc::new(MemoryStore::new(Duration::from_secs(60))));
    let config = Arc::new(config);
    let live = Arc::new(ArcSwap::new(config.clone()));
    let dispatcher = Dispatcher::new(store.queue.clone(), live, http_client().unwrap());
    (store, dispatcher, config, dir)
}

async fn accept(store: &Stores, id: &str) {
    let targets: Vec<Arc<str>> = vec![Arc::from("t")];
    store
        .ingest
        .accept_durable(NewEvent {
            endpoint: "in",
            event_id: id,
            event_type: None,
            received_at_ms: now_ms(),
            headers: vec![],
            body: &body(id),
            targets: &targets,
            ordering_keys: &[],
        })
        .await
        .unwrap();
}

#[actix_web::test]
async fn throttling_halves_the_in_flight_limit_and_successes_grow_it_back() {
    let mut script = vec![Reply::status(429).header("Retry-After", "5"); 8];
    script.push(Reply::status(200));
    let sink = Downstream::start(script);
    let (store, mut dispatcher, config, _dir) = hand_driven(&format!(
        "  t:\n    url: {}/hook\n    concurrency: 8\n    retry: {{ max_attempts: 5, initial_delay: 50ms, max_delay: 10s, max_age: 1h }}\n",
        sink.url
    ));
    let controls = dispatcher.controls();
    let target = config.target("t").unwrap().clone();
    for n in 0..8 {
        accept(&store, &format!("a{n}")).await;
    }
    let started_at = now_ms();
    assert_eq!(dispatcher.drive_until_idle().await.unwrap(), 8);
    assert_eq!(sink.count(), 8);
    assert_eq!(
        controls.view(&target).concurrency_limit,
        1,
        "eight 429s halve 8 down to 1"
    );
    for job in all_jobs(&store).await {
        assert!(
            job.job.next_attempt_at_ms >= started_at + 5000,
            "Retry-After still sets the earliest retry: {:?}",
            job.job
        );
    }
    for n in 0..6 {
        accept(&store, &format!("b{n}")).await;
    }
    let step = dispatcher.step(now_ms()).await.unwrap();
    assert_eq!(
        (step.started, step.in_flight),
        (1, 1),
        "one in flight at a time"
    );
    dispatcher.drive_until_idle().await.unwrap();
    assert_eq!(
        controls.view(&target).concurrency_limit,
        7,
        "1 + 6 successes"
    );
}

#[actix_web::test]
async fn the_breaker_opens_after_n_failures_and_sends_exactly_one_probe_per_cool_down() {
    // 3 failures open it; the first probe fails (open again), the second succeeds (closed).
    let mut script = vec![Reply::status(500); 4];
    script.push(Reply::status(200));
    let sink = Downstream::start(script);
    let cool_down = Duration::from_millis(1500);
    let router = ObservedRouter::start(
        &routes(
            &format!(
                "  sink:\n    url: {}/hook\n    concurrency: 1\n    retry: {{ max_attempts: 50, initial_delay: 50ms, max_delay: 100ms, max_age: 1h }}\n    breaker: {{ failures: 3, cool_down: {}ms }}\n",
                sink.url,
                cool_down.as_millis()
            ),
            &["sink"],
        ),
        "",
        env(),
    )
    .await;
    let ids: Vec<String> = (0..5).map(|n| format!("b{n}")).collect();
    post_all(
        &format!("{}/in", router.base),
        &router.config.load_full(),
        ids,
    )
    .await;
    let breaker = |state: &'static str| {
        let router = &router;
        async move {
            let scrape = router.scrape().await;
            let (_, targets) = router.admin_get("/targets").await;
            let listed = targets[0]["breaker"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            (scrape.value(
                "hookroute_breaker_state",
                &[("target", "sink"), ("state", state)],
            ) == Some(1.0)
                && listed == state)
                .then_some(())
        }
    };
    wait_for(
        Duration::from_secs(10),
        "the breaker open (metric and /targets)",
        || breaker("open"),
    )
    .await;
    wait_for(Duration::from_secs(20), "every event delivered", || async {
        (distinct_ids(&sink).len() == 5
            && all_jobs(&router.store)
                .await
                .iter()
                .all(|j| j.job.state != JobState::Pending))
        .then_some(())
    })
    .await;
    let received = sink.received();
    let gaps: Vec<Duration> = received.windows(2).map(|w| w[1].at - w[0].at).collect();
    eprintln!("breaker: {} requests, gaps {gaps:?}", received.len());
    assert_eq!(
        received.len(),
        4 + 5,
        "3 failures, 1 failed probe, 1 good probe, 4 more deliveries: nothing else was sent"
    );
    let tolerance = Duration::from_millis(50);
    assert!(
        gaps[2] + tolerance >= cool_down,
        "open after 3 failures: {gaps:?}"
    );
    assert!(
        gaps[3] + tolerance >= cool_down,
        "a failed probe opens it again: {gaps:?}"
    );
    assert!(
        gaps[4..].iter().all(|g| *g < cool_down / 2),
        "a good probe closes it: {gaps:?}"
    );
    let attempts: u32 = all_jobs(&router.store)
        .await
        .iter()
        .map(|j| j.job.attempts)
        .sum();
    assert_eq!(attempts, 9, "open time is not spent as attempts");
    wait_for(Duration::from_secs(5), "the breaker closed", || {
        breaker("closed")
    })
    .await;
}

#[actix_web::test]
async fn a_paused_target_keeps_its_events_across_sigkill_and_resume_delivers_them() {
    let sink = Downstream::start(vec![Reply::status(200)]);
    let witness = Downstream::start(vec![Reply::status(200)]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    std::fs::write(
        &path,
        format!(
            "server: {{ listen: \"127.0.0.1:0\" }}\nstorage: {{ data_dir: \"{}\" }}\nadmin: {{ listen: \"127.0.0.1:0\" }}\n{}",
            dir.path().join("data").display(),
            routes(
                &format!(
                    "  sink:\n    url: {}/hook\n  witness:\n    url: {}/hook\n",
                    sink.url, witness.url
                ),
                &["sink", "witness"]
            )
        ),
    )
    .unwrap();
    let cfg = Arc::new(config::load(&path, &env()).unwrap());
    let envs = [("IN_SECRET", SECRET)];
    let mut router = RouterProcess::start(&path, &envs);
    let admin = format!("http://{}", router.admin_addr().await);
    let cli = |args: &[&str]| {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend(["--admin-url".to_string(), admin.clone()]);
        all
    };
    let run = |args: Vec<String>| async move {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        hookroute(&refs, &[]).await
    };
    let paused = run(cli(&["targets", "pause", "sink"])).await;
    assert_eq!(paused.code, Some(0), "{paused:?}");
    assert!(paused.stdout.contains("sink paused"), "{}", paused.stdout);

    let first: Vec<String> = (0..20).map(|n| format!("p{n}")).collect();
    post_all(&router.url("/in"), &cfg, first).await;
    eventually(Duration::from_secs(20), "the witness got all 20", || {
        (distinct_ids(&witness).len() == 20).then_some(())
    })
    .await;
    assert_eq!(sink.count(), 0, "nothing goes to a paused target");

    router.kill();
    let router = RouterProcess::start(&path, &envs);
    let admin = format!("http://{}", router.admin_addr().await);
    let cli = |args: &[&str]| {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend(["--admin-url".to_string(), admin.clone()]);
        all
    };
    let listed = run(cli(&["targets", "list", "--json"])).await;
    let listed: serde_json::Value = serde_json::from_str(&listed.stdout).expect("JSON list");
    let sink_state = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "sink")
        .unwrap()
        .clone();
    assert_eq!(
        sink_state["paused"], true,
        "the pause survived SIGKILL: {sink_state}"
    );
    assert_eq!(sink_state["depth"], 20, "{sink_state}");
    let table = run(cli(&["targets", "list"])).await;
    assert!(
        table
            .stdout
            .lines()
            .any(|l| l.starts_with("sink") && l.contains("paused")),
        "{}",
        table.stdout
    );

    let more: Vec<String> = (20..25).map(|n| format!("p{n}")).collect();
    post_all(&router.url("/in"), &cfg, more).await;
    eventually(Duration::from_secs(20), "the witness got all 25", || {
        (distinct_ids(&witness).len() == 25).then_some(())
    })
    .await;
    assert_eq!(sink.count(), 0, "still paused after the restart");

    let resumed = run(cli(&["targets", "resume", "sink"])).await;
    assert_eq!(resumed.code, Some(0), "{resumed:?}");
    eventually(
        Duration::from_secs(20),
        "resume delivers every kept event",
        || (distinct_ids(&sink).len() == 25).then_some(()),
    )
    .await;
    let unknown = run(cli(&["targets", "pause", "nope"])).await;
    assert_eq!(unknown.code, Some(1), "{unknown:?}");
    assert!(
        unknown.stderr.contains("unknown_target"),
        "{}",
        unknown.stderr
    );
}

#[actix_web::test]
async fn check_shows_the_rate_limit_and_breaker_and_rejects_bad_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    let write = |target_extra: &str| {
        std::fs::write(
            &path,
            format!(
                "storage: {{ data_dir: data }}\n{}",
                routes(
                    &format!("  sink:\n    url: http://127.0.0.1:1/hook\n{target_extra}"),
                    &["sink"]
                )
            ),
        )
        .unwrap();
    };
    write("    rate_limit: { per_second: 25, burst: 5 }\n    breaker: { failures: 3, cool_down: 30s }\n");
    let out = hookroute(
        &["check", "--config", path.to_str().unwrap()],
        &[("IN_SECRET", SECRET)],
    )
    .await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout
            .contains("rate 25/s burst 5, breaker after 3 failures for 30s"),
        "{}",
        out.stdout
    );
    write("    rate_limit: { per_second: 0 }\n    breaker: { failures: 0 }\n");
    let out = hookroute(
        &["check", "--config", path.to_str().unwrap()],
        &[("IN_SECRET", SECRET)],
    )
    .await;
    assert_eq!(out.code, Some(64), "{out:?}");
    assert!(
        out.stderr.contains("targets.sink.rate_limit.per_second"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("targets.sink.breaker.failures"),
        "{}",
        out.stderr
    );
}

/// What the ordering test's downstream saw: per request (key, n, status), and per key the
/// most requests it ever had in flight at once.
#[derive(Default)]
struct KeyedLog {
    requests: Vec<(String, u32, u16)>,
    in_flight: std::collections::HashMap<String, usize>,
    max_in_flight: std::collections::HashMap<String, usize>,
    others_delivered: usize,
}

/// A downstream that reads `{"key":..,"n":..}`: key `slow` fails (500) until every other
/// key's events are delivered, event 0 of key `dead` is refused for good (410), the rest
/// succeed after a short pause (so two requests of one key in flight would overlap).
fn keyed_downstream(others: usize) -> (String, Arc<std::sync::Mutex<KeyedLog>>) {
    use actix_web::{web, App, HttpResponse, HttpServer};
    let log = Arc::new(std::sync::Mutex::new(KeyedLog::default()));
    let state = web::Data::new(log.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        App::new().app_data(state.clone()).default_service(web::to(
            move |body: web::Bytes, log: web::Data<Arc<std::sync::Mutex<KeyedLog>>>| async move {
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let key = v["data"]["object"]["id"].as_str().unwrap().to_string();
                let n = v["n"].as_u64().unwrap() as u32;
                {
                    let mut l = log.lock().unwrap();
                    let now = {
                        let c = l.in_flight.entry(key.clone()).or_default();
                        *c += 1;
                        *c
                    };
                    let max = l.max_in_flight.entry(key.clone()).or_default();
                    *max = (*max).max(now);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
                let mut l = log.lock().unwrap();
                *l.in_flight.get_mut(&key).unwrap() -= 1;
                let status = match (key.as_str(), n) {
                    ("slow", _) if l.others_delivered < others => 500,
                    ("dead", 0) => 410,
                    _ => 200,
                };
                if status == 200 && key != "slow" {
                    l.others_delivered += 1;
                }
                l.requests.push((key, n, status));
                HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
            },
        ))
    })
    .workers(2)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    (url, log)
}

#[actix_web::test]
async fn ordering_by_key_delivers_each_key_in_order_and_a_failing_key_holds_back_only_itself() {
    const KEYS: usize = 50;
    const EVENTS: u32 = 40;
    let keys: Vec<String> = (0..KEYS)
        .map(|k| match k {
            0 => "slow".to_string(),
            1 => "dead".to_string(),
            k => format!("obj_{k}"),
        })
        .collect();
    // Every other key's events, less the one dead letter of `dead`.
    let others = (KEYS - 1) * EVENTS as usize - 1;
    let (url, log) = keyed_downstream(others);
    let router = TestRouter::start(
        &routes(
            &format!(
                "  sink:\n    url: {url}/hook\n    concurrency: 8\n    retry: {{ max_attempts: 1000, initial_delay: 20ms, max_delay: 100ms, max_age: 1h }}\n    ordering: {{ key: \"json:$.data.object.id\" }}\n"
            ),
            &["sink"],
        ),
        env(),
    )
    .await;
    let config = router.config.load_full();
    let client = reqwest::Client::new();
    let mut senders = Vec::new();
    for worker in 0..8 {
        let (client, base, config, keys) = (
            client.clone(),
            router.base.clone(),
            config.clone(),
            keys.clone(),
        );
        senders.push(tokio::spawn(async move {
            // Each sender owns some keys and posts their events in order.
            for n in 0..EVENTS {
                for key in keys.iter().skip(worker).step_by(8) {
                    let id = format!("{key}-{n}");
                    let b = serde_json::json!({"id": id, "n": n, "data": {"object": {"id": key}}})
                        .to_string()
                        .into_bytes();
                    let (_, answer) = post(
                        &client,
                        &format!("{base}/in"),
                        &b,
                        &sign(&config, "/in", &b, &id),
                    )
                    .await;
                    assert_eq!(answer["status"], "accepted", "{answer}");
                }
            }
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
    let jobs = all_jobs(&router.store).await;
    assert!(
        jobs.iter()
            .any(|j| j.job.ordering_key.as_deref() == Some("obj_7")),
        "the key is read from the body and stored with the job"
    );
    wait_for(Duration::from_secs(60), "every job finished", || async {
        let depths = router.store.queue.depths().await.unwrap();
        depths.iter().all(|(_, j)| j.pending == 0).then_some(())
    })
    .await;
    {
        let l = log.lock().unwrap();
        for key in &keys {
            let seen: Vec<(u32, u16)> = l
                .requests
                .iter()
                .filter(|(k, _, _)| k == key)
                .map(|(_, n, s)| (*n, *s))
                .collect();
            let delivered: Vec<u32> = seen
                .iter()
                .filter(|(_, s)| *s == 200)
                .map(|(n, _)| *n)
                .collect();
            let expected: Vec<u32> = if key == "dead" {
                (1..EVENTS).collect()
            } else {
                (0..EVENTS).collect()
            };
            assert_eq!(delivered, expected, "{key}: delivered in acceptance order");
            assert!(
                seen.windows(2).all(|w| w[0].0 <= w[1].0),
                "{key}: a later event never went before an earlier one finished: {seen:?}"
            );
            assert_eq!(l.max_in_flight[key], 1, "{key}: one at a time");
        }
        let slow_failures = l
            .requests
            .iter()
            .filter(|(k, _, s)| k == "slow" && *s == 500)
            .count();
        assert!(
            slow_failures >= 2,
            "the slow key failed for a while ({slow_failures} failures)"
        );
        let first_slow_success = l
            .requests
            .iter()
            .position(|(k, _, s)| k == "slow" && *s == 200)
            .unwrap();
        let others_before = l.requests[..first_slow_success]
            .iter()
            .filter(|(k, _, s)| k != "slow" && *s == 200)
            .count();
        assert_eq!(
            others_before, others,
            "every other key was delivered while `slow` was failing"
        );
    }
    let mut dead = Vec::new();
    for job in all_jobs(&router.store).await {
        if matches!(job.job.state, JobState::Dead { .. }) {
            let event = router
                .store
                .events
                .event(job.job.event_seq)
                .await
                .unwrap()
                .unwrap();
            dead.push(event.event_id);
        }
    }
    assert_eq!(
        dead,
        ["dead-0"],
        "a dead letter releases its key to the next event"
    );
}

#[actix_web::test]
async fn a_rate_limit_added_by_hot_reload_spaces_the_next_deliveries() {
    let sink = Downstream::start(vec![Reply::status(200)]);
    let target = |extra: &str| format!("  sink:\n    url: {}/hook\n{extra}", sink.url);
    let router = TestRouter::start(&routes(&target(""), &["sink"]), env()).await;
    let yaml = format!(
        "server:\n  listen: 127.0.0.1:0\n  workers: 2\n  max_body_size: 64KiB\nstorage:\n  data_dir: {}\nadmin:\n  listen: 'off'\n{}",
        router.dir.path().join("data").display(),
        routes(
            &target("    rate_limit: { per_second: 5, burst: 1 }\n"),
            &["sink"]
        )
    );
    write_by_rename(&router.dir.path().join("routes.yaml"), &yaml);
    eventually(Duration::from_secs(10), "the reload applied", || {
        router
            .config
            .load()
            .target("sink")
            .unwrap()
            .rate_limit
            .map(|_| ())
    })
    .await;
    let ids: Vec<String> = (0..5).map(|n| format!("h{n}")).collect();
    post_all(
        &format!("{}/in", router.base),
        &router.config.load_full(),
        ids,
    )
    .await;
    eventually(Duration::from_secs(10), "all 5 delivered", || {
        (sink.count() == 5).then_some(())
    })
    .await;
    let received = sink.received();
    let gaps: Vec<Duration> = received.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_millis(150)),
        "5 per second, burst 1: about 200 ms apart: {gaps:?}"
    );
}
