//! `/metrics`, `/readyz` and retention, end to end on the real app in this process: real
//! loopback downstreams, a real sled store in a temp dir, the admin API on a loopback port.
//! Each test scripts a sequence and then reads exact values from the scraped page.

mod common;

use common::*;
use hookroute::config::MapEnvironment;
use std::time::Duration;

fn env() -> MapEnvironment {
    MapEnvironment::default().with("IN_SECRET", "metrics-test-secret")
}

/// Targets (YAML lines under `targets:`) and one endpoint `/in` whose rule `all` forwards every
/// event to `forward`.
fn yaml(targets: &str, forward: &[&str]) -> String {
    routes(targets, forward)
}

fn target(name: &str, url: &str, retry: &str) -> String {
    format!("  {name}:\n    url: {url}/hook\n    retry: {{ {retry} }}\n")
}

const NO_RETRY: &str = "max_attempts: 1, initial_delay: 1s, max_delay: 1s, max_age: 1h";

async fn job_states(router: &ObservedRouter) -> Vec<String> {
    all_jobs(&router.store)
        .await
        .into_iter()
        .map(|j| format!("{}:{:?}", j.job.target, j.job.state))
        .collect()
}

#[actix_web::test]
async fn a_scripted_sequence_shows_each_counter_at_its_exact_value() {
    let ok = Downstream::start(vec![Reply::status(200)]);
    let bad = Downstream::start(vec![Reply::status(400)]);
    let targets = target("ok", &ok.url, NO_RETRY) + &target("bad", &bad.url, NO_RETRY);
    let router = ObservedRouter::start(&yaml(&targets, &["ok", "bad"]), "", env()).await;

    let zero = router.scrape().await;
    let accepted = [("endpoint", "in"), ("outcome", "accepted"), ("reason", "")];
    assert_eq!(zero.get("hookroute_requests_total", &accepted), 0.0);
    assert_eq!(
        zero.get(
            "hookroute_deliveries_total",
            &[("target", "bad"), ("outcome", "dead_lettered")]
        ),
        0.0,
        "configured series exist at zero before anything happens"
    );

    let body = br#"{"id":"evt_1"}"#;
    let (status, answer) = router.post_signed("/in", body, "evt_1").await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("accepted")));
    let (status, answer) = router.post_signed("/in", body, "evt_1").await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate"))
    );
    let forged = [(
        "X-Signature".to_string(),
        format!("x-sha256={}", "0".repeat(64)),
    )];
    let (status, _) = post(
        &router.client,
        &format!("{}/in", router.base),
        br#"{"id":"evt_2"}"#,
        &forged,
    )
    .await;
    assert_eq!(status, 401);

    // The ok target delivers, the bad one (400) dead-letters at once.
    wait_for(Duration::from_secs(10), "both jobs finished", || async {
        let states = job_states(&router).await;
        (states.iter().any(|s| s.starts_with("ok:Delivered"))
            && states.iter().any(|s| s.starts_with("bad:Dead")))
        .then_some(())
    })
    .await;
    let mut page = router.scrape().await;
    for _ in 0..100 {
        // The counters move just after the store records the attempt.
        let recorded = page.value(
            "hookroute_deliveries_total",
            &[("target", "bad"), ("outcome", "dead_lettered")],
        );
        let delivered = page.value(
            "hookroute_deliveries_total",
            &[("target", "ok"), ("outcome", "delivered")],
        );
        if recorded == Some(1.0) && delivered == Some(1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        page = router.scrape().await;
    }

    let req = |outcome: &'static str, reason: &'static str| {
        page.get(
            "hookroute_requests_total",
            &[("endpoint", "in"), ("outcome", outcome), ("reason", reason)],
        )
    };
    assert_eq!(req("accepted", ""), 1.0);
    assert_eq!(req("duplicate", ""), 1.0);
    assert_eq!(req("rejected", "signature"), 1.0);
    assert_eq!(req("ignored", ""), 0.0);
    assert_eq!(req("rejected", "stale"), 0.0);
    assert_eq!(req("rejected", "storage"), 0.0);
    assert_eq!(req("rejected", "bad_json"), 0.0);
    assert_eq!(
        page.get(
            "hookroute_ingest_duration_seconds_count",
            &[("endpoint", "in")]
        ),
        3.0
    );

    let del = |target: &'static str, outcome: &'static str| {
        page.get(
            "hookroute_deliveries_total",
            &[("target", target), ("outcome", outcome)],
        )
    };
    assert_eq!(del("ok", "delivered"), 1.0);
    assert_eq!(del("ok", "retried"), 0.0);
    assert_eq!(del("ok", "dead_lettered"), 0.0);
    assert_eq!(del("bad", "dead_lettered"), 1.0);
    assert_eq!(del("bad", "delivered"), 0.0);
    assert_eq!(
        page.get(
            "hookroute_delivery_attempt_duration_seconds_count",
            &[("target", "ok")]
        ),
        1.0
    );
    assert_eq!(
        page.get("hookroute_dead_letters", &[("target", "bad")]),
        1.0
    );
    assert_eq!(page.get("hookroute_dead_letters", &[("target", "ok")]), 0.0);
    assert_eq!(page.get("hookroute_queue_depth", &[("target", "ok")]), 0.0);
    assert_eq!(page.get("hookroute_queue_depth", &[("target", "bad")]), 0.0);
    // The accepted request and the duplicate each waited for one group commit.
    assert_eq!(page.get("hookroute_commit_batch_size_sum", &[]), 2.0);
    assert_eq!(
        page.get("hookroute_config_reloads_total", &[("result", "failed")]),
        0.0
    );
    assert!(page.get("hookroute_store_size_bytes", &[]) > 0.0);
    assert!(
        page.get(
            "hookroute_config_last_reload_success_timestamp_seconds",
            &[]
        ) > 1.0e9
    );
    // No event id ever becomes a label value.
    assert!(
        !page.0.contains("evt_1") && !page.0.contains("evt_2"),
        "{}",
        page.0
    );
}

#[actix_web::test]
async fn queue_depth_rises_while_a_target_is_down_and_returns_to_zero_once_delivered() {
    // The first three attempts fail (503), every later one succeeds.
    let script = vec![
        Reply::status(503),
        Reply::status(503),
        Reply::status(503),
        Reply::status(200),
    ];
    let flaky = Downstream::start(script);
    let retry = "max_attempts: 5, initial_delay: 2s, max_delay: 2s, max_age: 1h";
    let router = ObservedRouter::start(
        &yaml(&target("flaky", &flaky.url, retry), &["flaky"]),
        "",
        env(),
    )
    .await;

    for i in 0..3 {
        let body = format!(r#"{{"id":"evt_q{i}"}}"#);
        let (status, _) = router
            .post_signed("/in", body.as_bytes(), &format!("evt_q{i}"))
            .await;
        assert_eq!(status, 200);
    }
    let depth = |page: &Scrape| page.get("hookroute_queue_depth", &[("target", "flaky")]);
    assert_eq!(
        depth(&router.scrape().await),
        3.0,
        "counted as they are accepted"
    );

    eventually(Duration::from_secs(5), "three failed attempts", || {
        (flaky.count() >= 3).then_some(())
    })
    .await;
    let page = router.scrape().await;
    assert_eq!(depth(&page), 3.0, "still queued while the target fails");

    let mut page = page;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while depth(&page) != 0.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "queue never drained:\n{}",
            page.0
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        page = router.scrape().await;
    }
    for _ in 0..100 {
        if page.get(
            "hookroute_deliveries_total",
            &[("target", "flaky"), ("outcome", "delivered")],
        ) == 3.0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        page = router.scrape().await;
    }
    assert_eq!(
        page.get(
            "hookroute_deliveries_total",
            &[("target", "flaky"), ("outcome", "retried")]
        ),
        3.0
    );
    assert_eq!(
        page.get(
            "hookroute_deliveries_total",
            &[("target", "flaky"), ("outcome", "delivered")]
        ),
        3.0
    );
    assert_eq!(
        page.get(
            "hookroute_queue_oldest_due_age_seconds",
            &[("target", "flaky")]
        ),
        0.0
    );
}

#[actix_web::test]
async fn readyz_is_ready_and_shows_a_rejected_reload_which_metrics_count() {
    let ok = Downstream::start(vec![Reply::status(200)]);
    let router =
        ObservedRouter::start(&yaml(&target("ok", &ok.url, NO_RETRY), &["ok"]), "", env()).await;

    let ready = eventually_async(&router, |(status, body)| {
        status == 200 && body["status"] == "ready"
    })
    .await;
    assert_eq!(ready["store"], "open");
    assert!(
        ready["dispatcher"]["last_tick_unix_ms"].as_u64().is_some(),
        "{ready}"
    );
    assert_eq!(router.admin_get("/healthz").await.0, 200);

    let good = std::fs::read_to_string(&router.config_path).unwrap();
    write_by_rename(
        &router.config_path,
        &good.replace("forward: [ok]", "forward: [nowhere]"),
    );
    let status = eventually_async(&router, |(_, body)| {
        body["config"]["reloads_failed"].as_u64() >= Some(1)
    })
    .await;
    assert_eq!(
        status["status"], "ready",
        "a rejected reload keeps the last good config: {status}"
    );
    assert_eq!(status["config"]["file_in_effect"], false);
    let errors = status["config"]["last_failure"]["errors"].to_string();
    assert!(errors.contains("nowhere"), "{status}");

    let page = router.scrape().await;
    assert_eq!(
        page.get("hookroute_config_reloads_total", &[("result", "failed")]),
        1.0
    );
    assert_eq!(
        page.get("hookroute_config_reloads_total", &[("result", "applied")]),
        0.0
    );
}

/// Polls `/readyz` until `done` holds for its status and body; returns the body.
async fn eventually_async(
    router: &ObservedRouter,
    done: impl Fn((u16, serde_json::Value)) -> bool,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = router.admin_get("/readyz").await;
        if done((status, body.clone())) {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "readyz never got there: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn retention_prunes_finished_events_with_their_attempts_and_keeps_pending_ones() {
    let ok = Downstream::start(vec![Reply::status(200)]);
    let bad = Downstream::start(vec![Reply::status(400)]);
    let down = Downstream::start(vec![Reply::status(503)]);
    let later = "max_attempts: 5, initial_delay: 1h, max_delay: 1h, max_age: 1d";
    let targets = target("ok", &ok.url, NO_RETRY)
        + &target("bad", &bad.url, NO_RETRY)
        + &target("down", &down.url, later);
    let body = format!(
        r#"
targets:
{targets}
endpoints:
  - path: /in
    name: in
    verify:
      algorithm: hmac-sha256
      signature: {{ from: "header:X-Signature", prefix: "x-sha256=", encoding: hex }}
      payload: "{{body}}"
      secrets: [{{ env: IN_SECRET }}]
    event: {{ id: "json:$.id", type: "json:$.type" }}
    rules:
      - {{ name: ok, match: {{ type: ok }}, forward: [ok] }}
      - {{ name: bad, match: {{ type: bad }}, forward: [bad] }}
      - {{ name: down, match: {{ type: down }}, forward: [down] }}
"#
    );
    let storage = "  retention: 1s\n  prune_interval: 100ms\n";
    let router = ObservedRouter::start(&body, storage, env()).await;
    for (id, kind) in [("evt_ok", "ok"), ("evt_bad", "bad"), ("evt_down", "down")] {
        let payload = format!(r#"{{"id":"{id}","type":"{kind}"}}"#);
        let (status, answer) = router.post_signed("/in", payload.as_bytes(), id).await;
        assert_eq!(status, 200, "{answer}");
    }
    let jobs_before: Vec<(u64, hookroute::store::Job)> = all_jobs(&router.store)
        .await
        .into_iter()
        .map(|j| (j.id, j.job))
        .collect();
    assert_eq!(jobs_before.len(), 3);

    let listed = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e["event_id"].as_str().unwrap().to_string())
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (_, events) = router.admin_get("/events").await;
        if listed(&events) == ["evt_down"] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "finished events not pruned: {events}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The finished events went with their jobs, attempts and dead letter; the pending one stays.
    for (id, job) in &jobs_before {
        let kept = router.store.events.job(*id).await.unwrap();
        assert_eq!(
            kept.is_some(),
            job.target == "down",
            "job {id} of {}",
            job.target
        );
        if job.target != "down" {
            assert!(
                router
                    .store
                    .events
                    .event_detail(job.event_seq)
                    .await
                    .unwrap()
                    .is_none(),
                "the event of {} with its jobs and attempts",
                job.target
            );
            assert!(
                router
                    .store
                    .events
                    .body(job.event_seq)
                    .await
                    .unwrap()
                    .is_empty(),
                "body chunks gone"
            );
        }
    }
    let (_, dlq) = router.admin_get("/dlq").await;
    assert_eq!(dlq.as_array().map(Vec::len), Some(0), "{dlq}");
    assert_eq!(router.admin_get("/events/in/evt_ok").await.0, 404);
    assert_eq!(router.admin_get("/events/in/evt_down").await.0, 200);

    let page = router.scrape().await;
    assert_eq!(
        page.get("hookroute_retention_pruned_total", &[("record", "event")]),
        2.0
    );
    assert_eq!(
        page.get("hookroute_retention_pruned_total", &[("record", "job")]),
        2.0
    );
    assert_eq!(
        page.get("hookroute_retention_pruned_total", &[("record", "attempt")]),
        2.0
    );
    assert_eq!(
        page.get("hookroute_dead_letters", &[("target", "bad")]),
        0.0
    );
    assert_eq!(
        page.get("hookroute_queue_depth", &[("target", "down")]),
        1.0
    );
}

#[test]
fn retention_accepts_off_and_rejects_zero_and_nonsense_with_its_place() {
    let load = |storage: &str| {
        let yaml = format!(
            "storage:\n{storage}{}",
            routes("  t:\n    url: http://127.0.0.1:9/x\n", &["t"])
        );
        hookroute::config::load_str(&yaml, std::path::Path::new("."), &env())
    };
    let off = load("  retention: off\n").expect("off is valid");
    assert_eq!(off.storage.retention, None);
    let default = load("  dedup_ttl: 1d\n").unwrap();
    assert_eq!(
        default.storage.retention,
        Some(Duration::from_secs(30 * 24 * 3600))
    );
    for (bad, says) in [("0s", "greater than 0"), ("soon", "expected a duration")] {
        let errors = load(&format!("  retention: {bad}\n")).unwrap_err();
        let err = errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            err.contains("storage.retention") && err.contains(says),
            "{err}"
        );
        assert!(err.contains("line 2"), "the error has its place: {err}");
    }
}

/// Fills `dir/data` with `n` accepted events for target `later`, due tomorrow (so the
/// dispatcher leaves them alone), straight through the store.
fn fill_backlog(dir: &std::path::Path, n: usize) {
    use hookroute::store::{NewEvent, SledStore};
    let store = SledStore::open(&dir.join("data"), Duration::from_secs(3600)).unwrap();
    let tomorrow = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 24 * 3600 * 1000;
    let targets: Vec<std::sync::Arc<str>> = vec!["later".into()];
    for i in 0..n {
        let id = format!("evt_backlog_{i}");
        store
            .accept(NewEvent {
                endpoint: "in",
                event_id: &id,
                event_type: None,
                received_at_ms: tomorrow,
                headers: vec![],
                body: br#"{"id":"backlog"}"#,
                targets: &targets,
                ordering_keys: &[],
            })
            .unwrap();
    }
    futures_util::FutureExt::now_or_never(store.durable());
    store.flush().unwrap();
}

async fn backlog_scrape(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    fill_backlog(dir.path(), n);
    let body = yaml(&target("later", "http://127.0.0.1:9", NO_RETRY), &["later"]);
    let started = std::time::Instant::now();
    let router = ObservedRouter::start_in(dir, &body, "", env()).await;
    let opened = started.elapsed();
    let started = std::time::Instant::now();
    let page = router.scrape().await;
    let scraped = started.elapsed();
    assert_eq!(
        page.get("hookroute_queue_depth", &[("target", "later")]),
        n as f64,
        "the depth is seeded from the store at start-up"
    );
    let started = std::time::Instant::now();
    let scrapes = 20;
    for _ in 0..scrapes {
        router.scrape().await;
    }
    eprintln!(
        "backlog of {n}: app built (store open + seeding scan) in {opened:?}; first scrape {scraped:?}; \
         mean of {scrapes} more scrapes {:?}",
        started.elapsed() / scrapes
    );
}

#[actix_web::test]
async fn queue_depth_is_seeded_from_the_store_when_the_app_starts() {
    backlog_scrape(500).await;
}

/// The measured version: `HOOKROUTE_BACKLOG=100000 cargo test --release --test metrics --
/// --ignored --nocapture scrape_cost` prints the start-up and scrape times with that backlog.
#[actix_web::test]
#[ignore]
async fn scrape_cost_with_a_large_backlog() {
    let n = std::env::var("HOOKROUTE_BACKLOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    backlog_scrape(n).await;
}

/// A store whose every write fails, as a full disk would.
struct FullDisk;

impl hookroute::store::IngestStore for FullDisk {
    fn accept_durable(
        &self,
        _: hookroute::store::NewEvent<'_>,
    ) -> futures_util::future::BoxFuture<
        'static,
        Result<hookroute::store::AcceptOutcome, hookroute::store::StoreError>,
    > {
        Box::pin(async {
            Err(hookroute::store::StoreError::storage(
                "No space left on device (os error 28)",
            ))
        })
    }
}

#[actix_web::test]
async fn a_storage_failure_is_counted_as_rejected_for_storage() {
    use hookroute::metrics::{Metrics, RejectReason, RequestOutcome};
    let cfg = hookroute::config::load_str(
        &format!(
            "admin: {{listen: 'off'}}\n{}",
            yaml(&target("t", "http://127.0.0.1:9", NO_RETRY), &["t"])
        ),
        std::path::Path::new("."),
        &env(),
    )
    .unwrap();
    let config = std::sync::Arc::new(arc_swap::ArcSwap::from_pointee(cfg));
    let metrics = std::sync::Arc::new(Metrics::new());
    let ingress = std::sync::Arc::new(hookroute::ingress::Ingress {
        config: config.clone(),
        store: std::sync::Arc::new(FullDisk),
        metrics: metrics.clone(),
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/in", listener.local_addr().unwrap());
    actix_web::rt::spawn(hookroute::ingress::server(listener, ingress, Some(1)).unwrap());

    let body = br#"{"id":"evt_disk"}"#;
    let headers = sign(&config.load(), "/in", body, "evt_disk");
    let (status, _) = post(&reqwest::Client::new(), &url, body, &headers).await;
    assert_eq!(status, 503);
    let storage = RequestOutcome::Rejected(RejectReason::Storage);
    assert_eq!(metrics.requests_total("in", storage), 1);
    assert_eq!(metrics.requests_total("in", RequestOutcome::Accepted), 0);
}
