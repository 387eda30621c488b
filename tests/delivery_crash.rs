//! At-least-once across crashes: the real binary is SIGKILLed while 1,000 accepted events are
//! still being delivered to a slow sink; after a restart on the same data directory, every one
//! of them reaches the sink (duplicates allowed, losses not). `HOOKROUTE_DELIVERY_CRASH_EVENTS`
//! sets the number of events (default 1000).

mod common;

use common::*;
use hookroute::config::{self, MapEnvironment};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &str = "whsec_delivery_crash";

#[actix_web::test]
async fn sigkill_during_delivery_then_restart_delivers_every_accepted_event() {
    let events: usize = std::env::var("HOOKROUTE_DELIVERY_CRASH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let sink = Downstream::start(vec![Reply::status(200).after(Duration::from_millis(20))]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    std::fs::write(
        &path,
        format!(
            r#"server: {{ listen: "127.0.0.1:0" }}
storage: {{ data_dir: "{}" }}
admin: {{ listen: "off" }}
targets:
  sink:
    url: "{}/hook"
    concurrency: 8
    retry: {{ initial_delay: 100ms, max_delay: 1s, max_attempts: 50 }}
endpoints:
  - path: /in
    name: in
    verify: {{ provider: stripe, secrets: [{{ env: DC_SECRET }}] }}
    rules:
      - forward: [sink]
"#,
            dir.path().join("data").display(),
            sink.url
        ),
    )
    .unwrap();
    let cfg = Arc::new(
        config::load(&path, &MapEnvironment::default().with("DC_SECRET", SECRET)).unwrap(),
    );
    let mut router = RouterProcess::start(&path, &[("DC_SECRET", SECRET)]);

    // Accept every event (each answered 200 = durable).
    let url = router.url("/in");
    let client = reqwest::Client::new();
    let mut sends = Vec::new();
    for worker in 0..16 {
        let (client, url, cfg) = (client.clone(), url.clone(), cfg.clone());
        sends.push(tokio::spawn(async move {
            for n in (worker..events).step_by(16) {
                let id = format!("evt_{n}");
                let body = format!(r#"{{"id":"{id}","type":"t","n":{n}}}"#).into_bytes();
                let (status, answer) =
                    post(&client, &url, &body, &sign(&cfg, "/in", &body, &id)).await;
                assert_eq!(
                    (status, answer["status"].as_str()),
                    (200, Some("accepted")),
                    "{answer}"
                );
            }
        }));
    }
    for s in sends {
        s.await.unwrap();
    }
    let delivered_before_kill = sink.count();
    assert!(
        delivered_before_kill < events,
        "the sink was too fast for the test: kill came after all deliveries"
    );
    router.kill();
    let after_kill = sink.count();

    let started = Instant::now();
    let _router = RouterProcess::start(&path, &[("DC_SECRET", SECRET)]);
    let received = eventually(
        Duration::from_secs(60),
        "every accepted event delivered after restart",
        || {
            let mut seen: HashMap<String, usize> = HashMap::new();
            for r in sink.received() {
                *seen
                    .entry(
                        r.header("x-hookroute-event-id")
                            .unwrap_or_default()
                            .to_string(),
                    )
                    .or_default() += 1;
            }
            (seen.len() >= events).then_some(seen)
        },
    )
    .await;
    for n in 0..events {
        assert!(
            received.contains_key(&format!("evt_{n}")),
            "evt_{n} never delivered"
        );
    }
    let duplicates: usize = received.values().map(|c| c - 1).sum();
    eprintln!(
        "delivery crash: {events} accepted, {after_kill} deliveries before SIGKILL, all {events} delivered {:?} after restart, {duplicates} duplicate deliveries",
        started.elapsed()
    );
}
