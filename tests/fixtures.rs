//! `hookroute test` on the real binary: the example config's fixtures pass (exit 0); a routing
//! change they pin fails with a table and its first difference (exit 1); a fixture file with a
//! mistake, or a config without fixtures, is a usage error (exit 64). Fixtures hold no secret:
//! `sign: true` signs with the endpoint's secret from the environment at run time.

mod common;

use common::*;
use std::path::{Path, PathBuf};

/// `dir/routes.yaml`: one endpoint `/in` (seed 000's scheme, secret in IN_SECRET), a rule that
/// sends `order.*` to `forward`, `tests: ./fixtures`, and each `(name, text)` in `dir/fixtures`.
pub fn project(dir: &Path, forward: &str, fixtures: &[(&str, &str)]) -> PathBuf {
    let config = dir.join("routes.yaml");
    std::fs::write(
        &config,
        format!(
            r#"
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
"#
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("fixtures")).unwrap();
    for (name, text) in fixtures {
        std::fs::write(dir.join("fixtures").join(name), text).unwrap();
    }
    config
}

/// An order that must reach `orders`, signed at run time.
pub const ORDER_TO_ORDERS: &str = r#"
name: orders go to the orders service
request:
  endpoint: /in
  sign: true
  body: { id: "ord_${id}", type: order.created, at: "${now}" }
expect:
  status: 200
  outcome: accepted
  targets: [orders]
  forwarded_body: { id: "ord_${id}", type: order.created, at: "${now}" }
"#;

/// A forged request (a recorded signature that no secret made).
const FORGED: &str = r#"
name: a forged order is refused
request:
  endpoint: /in
  headers: { X-Signature: "x-sha256=00" }
  body_text: '{"id":"x","type":"order.created"}'
expect: { status: 401, outcome: invalid_signature }
"#;

async fn test(config: &Path) -> CliRun {
    hookroute(
        &["test", "--config", &config.display().to_string()],
        &[("IN_SECRET", "in-secret")],
    )
    .await
}

#[actix_web::test]
async fn the_example_configs_fixtures_pass() {
    let run = hookroute(
        &[
            "test",
            "--config",
            &repo_file("routes.example.yaml").display().to_string(),
            "--env-file",
            &repo_file("examples/dev.env").display().to_string(),
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("4 fixtures: 4 passed, 0 failed"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("FAIL"), "{}", run.stdout);
}

#[actix_web::test]
async fn fixtures_pass_signed_at_run_time_and_a_routing_change_fails_with_its_first_difference() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = [("orders.yaml", ORDER_TO_ORDERS), ("forged.yaml", FORGED)];
    let config = project(dir.path(), "orders", &fixtures);
    // No secret in any fixture file.
    for (_, text) in fixtures {
        assert!(!text.contains("in-secret"));
    }
    let run = test(&config).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("2 fixtures: 2 passed, 0 failed"),
        "{}",
        run.stdout
    );

    // Someone sends orders to the audit log instead.
    let config = project(dir.path(), "audit", &fixtures);
    let run = test(&config).await;
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    let row = run
        .stdout
        .lines()
        .find(|l| l.contains("orders go to the orders service"))
        .unwrap();
    assert!(row.trim_start().starts_with("FAIL"), "{row}");
    assert!(
        run.stdout
            .contains("orders.yaml): targets: expected [orders], got [audit]"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("2 fixtures: 1 passed, 1 failed"),
        "{}",
        run.stdout
    );
}

#[actix_web::test]
async fn a_forwarded_body_that_differs_is_the_first_difference() {
    let dir = tempfile::tempdir().unwrap();
    let changed = ORDER_TO_ORDERS.replace(
        "forwarded_body: { id: \"ord_${id}\", type: order.created, at: \"${now}\" }",
        "forwarded_body: { id: \"ord_${id}\", type: order.created, at: 1 }",
    );
    assert_ne!(changed, ORDER_TO_ORDERS);
    let config = project(dir.path(), "orders", &[("orders.yaml", &changed)]);
    let run = test(&config).await;
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("forwarded body: expected"),
        "{}",
        run.stdout
    );
}

#[actix_web::test]
async fn a_fixture_file_with_a_mistake_or_no_fixtures_is_exit_64() {
    let dir = tempfile::tempdir().unwrap();
    let typo = "request: { endpoint: /in, body: {}, sgin: true }\nexpect: { status: 200 }\n";
    let config = project(dir.path(), "orders", &[("typo.yaml", typo)]);
    let run = test(&config).await;
    assert_eq!(run.code, Some(64), "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("typo.yaml: request"), "{}", run.stderr);
    assert!(run.stderr.contains("sgin"), "{}", run.stderr);

    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("tests: ./fixtures\n", "");
    std::fs::write(&config, text).unwrap();
    let run = test(&config).await;
    assert_eq!(run.code, Some(64), "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("tests: ./fixtures"), "{}", run.stderr);

    // Fixture files given on the command line run without `tests:`.
    std::fs::write(dir.path().join("fixtures/typo.yaml"), ORDER_TO_ORDERS).unwrap();
    let run = hookroute(
        &[
            "test",
            "--config",
            &config.display().to_string(),
            &dir.path().join("fixtures/typo.yaml").display().to_string(),
        ],
        &[("IN_SECRET", "in-secret")],
    )
    .await;
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
}
