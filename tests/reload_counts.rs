//! What a reload counts, with the real binary: a file rewritten with the same text is no change
//! even after its glob rules have matched events (regression: rules were compared by their
//! `Debug` text, which a glob matcher changes as it is used, so the rewrite was logged as
//! `rules ~...` and counted `applied`), and one bad write is one failed attempt (regression:
//! one write could reach the reload task as two bursts of file events, and `reloads_failed`
//! went up by two).

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

const SECRET: &str = "whsec_counts_secret";

fn text(dir: &Path) -> String {
    format!(
        "server: {{ listen: 127.0.0.1:0, workers: 1 }}\nstorage: {{ data_dir: {} }}\n\
         admin: {{ listen: 127.0.0.1:0 }}\ntargets:\n  sink: {{ url: \"http://127.0.0.1:9/hook\" }}\n\
         endpoints:\n  - path: /in\n    name: in\n    verify: {{ provider: stripe, secrets: [{{ env: IN_SECRET }}] }}\n    \
         rules:\n      - {{ name: orders, match: {{ type: [\"order.*\", \"charge.?ucceeded\"], when: [{{ path: $.data.note, regex: \"^n.*\" }}] }}, forward: [sink] }}\n",
        dir.join("data").display()
    )
}

async fn readyz(admin: &str) -> Value {
    reqwest::get(format!("http://{admin}/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn start(dir: &Path) -> RouterProcess {
    std::fs::write(dir.join("routes.yaml"), text(dir)).unwrap();
    RouterProcess::start(
        &dir.join("routes.yaml"),
        &[
            ("IN_SECRET", SECRET),
            ("HOOKROUTE_LOG", "info,hookroute::reload=debug"),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewriting_an_unchanged_file_after_glob_rules_matched_is_no_change() {
    let dir = tempfile::tempdir().unwrap();
    let router = start(dir.path());
    let admin = router.admin_addr().await;
    let signer = hookroute::config::load(
        &dir.path().join("routes.yaml"),
        &hookroute::config::MapEnvironment::default().with("IN_SECRET", SECRET),
    )
    .unwrap();
    let client = reqwest::Client::new();
    for (n, event_type) in ["order.paid", "charge.succeeded", "order.refunded"]
        .iter()
        .enumerate()
    {
        let id = format!("evt_{n}");
        let body = format!(r#"{{"id":"{id}","type":"{event_type}","data":{{"note":"n{n}"}}}}"#);
        let headers = sign(&signer, "/in", body.as_bytes(), &id);
        let (status, answer) = post(&client, &router.url("/in"), body.as_bytes(), &headers).await;
        assert_eq!((status, answer["status"].as_str()), (200, Some("accepted")));
    }
    // The watcher's first check at start-up finds no change either.
    router
        .wait_for_log("no changes", 1, Duration::from_secs(5))
        .await;
    let before = router.log_count("no changes");
    for n in 1..=2 {
        write_by_rename(&dir.path().join("routes.yaml"), &text(dir.path()));
        router
            .wait_for_log("no changes", before + n, Duration::from_secs(5))
            .await;
    }
    std::fs::write(dir.path().join("routes.yaml"), text(dir.path())).unwrap();
    router
        .wait_for_log("no changes", before + 3, Duration::from_secs(5))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = router.log.lock().unwrap().join("\n");
    assert!(!log.contains("rules ~"), "{log}");
    let config = &readyz(&admin).await["config"];
    assert_eq!(config["reloads_applied"], 0, "{config}\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_write_is_one_failed_reload() {
    let dir = tempfile::tempdir().unwrap();
    let router = start(dir.path());
    let admin = router.admin_addr().await;
    let path = dir.path().join("routes.yaml");
    let bad = text(dir.path()).replace("forward: [sink]", "forward: [nowhere]");

    write_by_rename(&path, &bad);
    router
        .wait_for_log("config reload failed", 1, Duration::from_secs(5))
        .await;
    // Long enough for an echo of the reload's own read to come through the debouncer.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(readyz(&admin).await["config"]["reloads_failed"], 1);

    std::fs::write(&path, bad.replace("nowhere", "nowhere-else")).unwrap();
    router
        .wait_for_log("config reload failed", 2, Duration::from_secs(5))
        .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let log = router.log.lock().unwrap().join("\n");
    assert_eq!(
        readyz(&admin).await["config"]["reloads_failed"],
        2,
        "one failure per write:\n{log}"
    );
    assert_eq!(router.log_count("config reload failed"), 2, "{log}");
}
