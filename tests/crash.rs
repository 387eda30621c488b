//! Nothing acknowledged is lost: the real binary is SIGKILLed while clients are sending, at a
//! random moment; every event it answered 2xx to must be in the store afterwards, and the
//! restarted router must still know it (a resend is a duplicate). `HOOKROUTE_CRASH_CYCLES`
//! sets the number of kill/restart cycles (default 3; the long run uses 50).

mod common;

use common::*;
use hookroute::config::{self, MapEnvironment};
use hookroute::store::SledStore;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "whsec_crash_test_secret";

fn config_text(data_dir: &std::path::Path) -> String {
    format!(
        r#"server: {{ listen: "127.0.0.1:0" }}
storage: {{ data_dir: "{}" }}
admin: {{ listen: "off" }}
targets:
  sink: {{ url: "http://127.0.0.1:9/unreachable" }}
endpoints:
  - path: /stripe
    name: stripe
    verify: {{ provider: stripe, secrets: [{{ env: CRASH_STRIPE_SECRET }}] }}
    rules:
      - forward: [sink]
"#,
        data_dir.display()
    )
}

fn body_for(id: &str) -> Vec<u8> {
    format!(r#"{{"id":"{id}","type":"charge.succeeded","data":{{"object":{{"n":"{id}"}}}}}}"#)
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_no_acknowledged_event() {
    let cycles: usize = std::env::var("HOOKROUTE_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let path = dir.path().join("routes.yaml");
    std::fs::write(&path, config_text(&data_dir)).unwrap();
    let env = MapEnvironment::default().with("CRASH_STRIPE_SECRET", SECRET);
    let cfg = Arc::new(config::load(&path, &env).unwrap());
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut restart_times = Vec::new();

    for cycle in 0..cycles {
        let started = Instant::now();
        let mut router = RouterProcess::start(&path, &[("CRASH_STRIPE_SECRET", SECRET)]);
        restart_times.push(started.elapsed());
        let url = router.url("/stripe");
        let stop = Arc::new(AtomicBool::new(false));
        let before = acked.lock().unwrap().len();
        let senders: Vec<_> = (0..16)
            .map(|worker| {
                let (url, stop, acked, cfg) =
                    (url.clone(), stop.clone(), acked.clone(), cfg.clone());
                tokio::spawn(async move {
                    let client = reqwest::Client::new();
                    for n in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let id = format!("evt_{cycle}_{worker}_{n}");
                        let body = body_for(&id);
                        let headers = sign(&cfg, "/stripe", &body, &id);
                        let mut req = client.post(&url).body(body);
                        for (k, v) in &headers {
                            req = req.header(k.as_str(), v.as_str());
                        }
                        match req.send().await {
                            Ok(resp) if resp.status().is_success() => {
                                acked.lock().unwrap().push(id)
                            }
                            Ok(resp) => panic!("unexpected status {}", resp.status()),
                            Err(_) => break, // the router died under us
                        }
                    }
                })
            })
            .collect();
        // Kill at a random moment once some events were acknowledged in this cycle.
        let wait_ms = 150 + (cycle as u64 * 7919 + before as u64) % 400;
        let deadline = Instant::now() + Duration::from_secs(20);
        while acked.lock().unwrap().len() < before + 20 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        router.kill();
        stop.store(true, Ordering::Relaxed);
        for s in senders {
            s.await.unwrap();
        }
        assert!(
            acked.lock().unwrap().len() > before,
            "cycle {cycle}: nothing was acknowledged"
        );
    }

    let acked = acked.lock().unwrap().clone();
    {
        let store = SledStore::open(&data_dir, Duration::from_secs(3600))
            .expect("the store opens after SIGKILL");
        let missing: Vec<&String> = acked
            .iter()
            .filter(|id| match store.find_event("stripe", id).unwrap() {
                Some(seq) => store.body(seq).unwrap() != body_for(id),
                None => true,
            })
            .collect();
        assert!(
            missing.is_empty(),
            "{} of {} acknowledged events lost: {:?}",
            missing.len(),
            acked.len(),
            &missing[..missing.len().min(5)]
        );
        eprintln!(
            "crash test: {cycles} SIGKILL cycles, {} acknowledged events, 0 lost; start-up to serving: {:?}",
            acked.len(),
            restart_times
        );
    }

    let router = RouterProcess::start(&path, &[("CRASH_STRIPE_SECRET", SECRET)]);
    let first = &acked[0];
    let body = body_for(first);
    let (status, answer) = post(
        &reqwest::Client::new(),
        &router.url("/stripe"),
        &body,
        &sign(&cfg, "/stripe", &body, first),
    )
    .await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate")),
        "{answer}"
    );
}
