//! Reliability scenario 1, the crash loop: nothing acknowledged is lost. Under steady signed load
//! the real binary is SIGKILLed at a random moment, restarted on the same data directory, and
//! killed again, while its target (a loopback sink) receives deliveries throughout. Pass: the
//! store opens every time; after the final restart every event answered 2xx reaches the sink
//! (the [`Checker`] reports 0 lost, 0 unexpected; duplicates are counted), every acknowledged
//! event is in the store with its exact body, and a resend is a duplicate. The time from
//! restart to serving (first 2xx) is reported. `HOOKROUTE_CRASH_CYCLES` sets the number of
//! cycles (default 5; `HOOKROUTE_RELIABILITY=long` makes it 50).

mod common;

use common::checker::*;
use common::*;
use hookroute::config::{self, MapEnvironment};
use hookroute::store::SledStore;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &str = "crash_test_secret";

#[actix_web::test]
async fn sigkill_at_random_moments_loses_no_acknowledged_event() {
    let cycles: usize = std::env::var("HOOKROUTE_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(scaled(5, 50));
    let sink = Downstream::start(vec![Reply::status(200)]);
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let path = dir.path().join("routes.yaml");
    let targets = format!(
        "  sink:\n    url: \"{}/hook\"\n    retry: {{ initial_delay: 100ms, max_delay: 1s, max_attempts: 100 }}\n",
        sink.url
    );
    std::fs::write(&path, scenario_config(&data_dir, "", &targets)).unwrap();
    let env = MapEnvironment::default().with("IN_SECRET", SECRET);
    let cfg = Arc::new(config::load(&path, &env).unwrap());
    let checker = Checker::new();
    let mut to_serving = Vec::new();
    let mut rng_state = 0x9e37_79b9_7f4a_7c15u64 ^ std::process::id() as u64;

    for cycle in 0..cycles {
        let started = Instant::now();
        let mut router = RouterProcess::start(&path, &[("IN_SECRET", SECRET)]);
        let before = checker.acked_count();
        let load = Load::start(
            LoadSpec::new(router.url("/in"), &format!("c{cycle}")),
            cfg.clone(),
            checker.clone(),
        );
        // Serving = the first 2xx of this cycle.
        let deadline = Instant::now() + Duration::from_secs(30);
        while checker.acked_count() == before {
            assert!(Instant::now() < deadline, "cycle {cycle}: never served");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        to_serving.push(started.elapsed());
        // Kill at a random moment 50..550 ms into the load.
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        tokio::time::sleep(Duration::from_millis(50 + rng_state % 500)).await;
        router.kill();
        let tally = load.stop().await;
        let unexpected: Vec<_> = tally
            .statuses
            .keys()
            .filter(|s| !(200..300).contains(*s))
            .collect();
        assert!(
            unexpected.is_empty(),
            "cycle {cycle}: answers other than 2xx: {:?}; router said:\n{}",
            tally.statuses,
            router
                .log
                .lock()
                .unwrap()
                .iter()
                .filter(|l| l.contains("ERROR") || l.contains("WARN"))
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    let acked = checker.acked_ids();
    {
        let store = SledStore::open(&data_dir, Duration::from_secs(3600))
            .expect("the store opens after SIGKILL");
        let missing: Vec<&String> = acked
            .iter()
            .filter(|id| match store.find_event("in", id).unwrap() {
                Some(seq) => store.body(seq).unwrap() != event_body(id),
                None => true,
            })
            .collect();
        assert!(
            missing.is_empty(),
            "{} of {} acknowledged events not in the store: {:?}",
            missing.len(),
            acked.len(),
            &missing[..missing.len().min(5)]
        );
    }

    // The final restart delivers whatever the kills left queued.
    let router = RouterProcess::start(&path, &[("IN_SECRET", SECRET)]);
    let report = checker
        .wait_for_delivery(&[&sink], Duration::from_secs(scaled(60, 300)))
        .await;
    report.assert_nothing_lost();
    let mut sorted = to_serving.clone();
    sorted.sort();
    eprintln!(
        "crash loop: {cycles} SIGKILL cycles; {report}; restart to serving (first 2xx): min {:?}, median {:?}, max {:?}",
        sorted[0],
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1]
    );

    let first = &acked[0];
    let body = event_body(first);
    let (status, answer) = post(
        &reqwest::Client::new(),
        &router.url("/in"),
        &body,
        &sign(&cfg, "/in", &body, first),
    )
    .await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate")),
        "{answer}"
    );
}
