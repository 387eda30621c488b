//! The reload gate on the real binary: a config whose fixtures fail is refused like an invalid
//! file. `check` and start-up exit 64 naming the failing fixture; a hot reload to such a config
//! is rejected (logged, shown in `/readyz`) while the last good config keeps serving, and the
//! next change whose fixtures pass is applied.

mod common;

use common::*;
use hookroute::config::{self, MapEnvironment};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

const ORDER_TO_ORDERS: &str = r#"
name: orders go to the orders service
request:
  endpoint: /in
  sign: true
  body: { id: "ord_${id}", type: order.created }
expect: { status: 200, outcome: accepted, targets: [orders] }
"#;

/// `dir/routes.yaml` on loopback port 0 (admin too), with `tests: ./fixtures`; order events
/// go to `forward`.
fn write_config(dir: &Path, forward: &str) -> std::path::PathBuf {
    let path = dir.join("routes.yaml");
    let text = format!(
        r#"server: {{ listen: "127.0.0.1:0" }}
storage: {{ data_dir: "{data}" }}
admin: {{ listen: "127.0.0.1:0" }}
tests: ./fixtures
targets:
  orders: {{ url: "http://127.0.0.1:9/orders" }}
  audit: {{ url: "http://127.0.0.1:9/audit" }}
endpoints:
  - path: /in
    verify:
      algorithm: hmac-sha256
      signature: {{ from: "header:X-Signature", prefix: "x-sha256=", encoding: hex }}
      payload: "{{body}}"
      secrets: [{{ env: IN_SECRET }}]
    event: {{ id: "json:$.id", type: "json:$.type" }}
    rules:
      - name: orders
        match: {{ type: "order.*" }}
        forward: [{forward}]
"#,
        data = dir.join("data").display()
    );
    std::fs::create_dir_all(dir.join("fixtures")).unwrap();
    std::fs::write(dir.join("fixtures/orders.yaml"), ORDER_TO_ORDERS).unwrap();
    write_by_rename(&path, &text);
    path
}

const ENV: [(&str, &str); 1] = [("IN_SECRET", "in-secret")];

#[actix_web::test]
async fn check_and_start_up_refuse_a_config_whose_fixtures_fail_with_exit_64() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "orders");
    let run = hookroute(&["check", "--config", &config.display().to_string()], &ENV).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);

    let config = write_config(dir.path(), "audit");
    let run = hookroute(&["check", "--config", &config.display().to_string()], &ENV).await;
    assert_eq!(run.code, Some(64), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("tests: fixture orders go to the orders service")
            && run
                .stderr
                .contains("targets: expected [orders], got [audit]"),
        "{}",
        run.stderr
    );

    let serve = tokio::time::timeout(
        Duration::from_secs(30),
        hookroute(&["serve", "--config", &config.display().to_string()], &ENV),
    )
    .await
    .expect("serve exits at once on failing fixtures");
    assert_eq!(serve.code, Some(64), "{}", serve.stderr);
    assert!(
        serve
            .stderr
            .contains("targets: expected [orders], got [audit]"),
        "{}",
        serve.stderr
    );
    assert!(!dir.path().join("data").exists(), "the store was opened");
}

#[actix_web::test]
async fn a_reload_whose_fixtures_fail_is_rejected_and_the_last_good_config_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "orders");
    let router = RouterProcess::start(&path, &ENV);
    let admin = router.admin_addr().await;
    let client = reqwest::Client::new();
    let env = MapEnvironment::default().with("IN_SECRET", "in-secret");
    let post = |id: String| {
        let (client, url, path) = (client.clone(), router.url("/in"), path.clone());
        let env = env.clone();
        async move {
            let cfg = config::load(&path, &env).unwrap();
            let body = format!(r#"{{"id":"{id}","type":"order.created"}}"#);
            let mut req = client.post(url).body(body.clone());
            for (k, v) in sign(&cfg, "/in", body.as_bytes(), &id) {
                req = req.header(k, v);
            }
            let answer: Value = req.send().await.unwrap().json().await.unwrap();
            answer
        }
    };
    assert_eq!(post("o1".into()).await["deliveries"], 1);

    // Orders now go to the audit log too: the fixture pins them to `orders` alone, so this
    // change is refused.
    let rejected = "config reload failed";
    write_config(dir.path(), "orders, audit");
    router
        .wait_for_log(rejected, 1, Duration::from_secs(10))
        .await;
    assert!(
        router.log_count("targets: expected [orders], got [audit, orders]") >= 1,
        "{}",
        router.log.lock().unwrap().join("\n")
    );
    let ready: Value = client
        .get(format!("http://{admin}/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready", "{ready:#}");
    assert!(
        ready
            .to_string()
            .contains("orders go to the orders service"),
        "{ready:#}"
    );
    assert_eq!(
        post("o2".into()).await["deliveries"],
        1,
        "the rejected config serves"
    );

    // The same change with its fixture updated applies.
    std::fs::write(
        dir.path().join("fixtures/orders.yaml"),
        ORDER_TO_ORDERS.replace("targets: [orders]", "targets: [orders, audit]"),
    )
    .unwrap();
    router.hangup();
    let mut n = 0;
    loop {
        n += 1;
        if post(format!("o3-{n}")).await["deliveries"] == 2 {
            break;
        }
        assert!(n < 200, "the change with passing fixtures was not applied");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
