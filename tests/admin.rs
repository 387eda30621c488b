//! The admin API and the CLI that talks to it, end to end: the real binary serves a config with
//! the admin API on a loopback port 0 (its address read from the log), a real downstream answers
//! from a script, and the real `hookroute` CLI lists, retries and replays.

mod common;

use common::*;
use hmac::{KeyInit, Mac};
use serde_json::Value;
use std::time::Duration;

const IN_SECRET: &str = "in-secret";
const ADMIN_TOKEN: &str = "admin-token-123";

/// One endpoint `/in` forwarding everything to target `sink` at `url`; admin on port 0, with
/// a token from `ADMIN_TOKEN` when `token` is set.
fn config(dir: &std::path::Path, url: &str, token: bool) -> std::path::PathBuf {
    let token_line = if token {
        "\n  token_env: ADMIN_TOKEN"
    } else {
        ""
    };
    let yaml = format!(
        r#"server:
  listen: 127.0.0.1:0
  workers: 1
storage:
  data_dir: {data}
admin:
  listen: 127.0.0.1:0{token_line}
{routes}"#,
        routes = routes(
            &format!("  sink:\n    url: {url}/hook\n    retry: {{ max_attempts: 2, initial_delay: 50ms, max_delay: 100ms, max_age: 1h }}"),
            &["sink"],
        ),
        data = dir.join("data").display()
    );
    let path = dir.join("routes.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

async fn send_event(router: &RouterProcess, body: &[u8]) {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(IN_SECRET.as_bytes()).unwrap();
    mac.update(body);
    let sig = format!("x-sha256={}", hex::encode(mac.finalize().into_bytes()));
    let (status, answer) = post(
        &reqwest::Client::new(),
        &router.url("/in"),
        body,
        &[("X-Signature".into(), sig)],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
}

/// Calls `check` every 20 ms until it returns true; panics with `what` after `timeout`.
async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + timeout;
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "not within {timeout:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn cli_json(admin: &str, args: &[&str]) -> Value {
    let url = format!("http://{admin}");
    let mut all = args.to_vec();
    all.extend(["--admin-url", &url, "--json"]);
    let run = hookroute(&all, &[]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"))
}

#[actix_web::test]
async fn a_dead_letter_is_listed_retried_by_the_cli_and_replayed_to_the_sink() {
    let down = Downstream::start(vec![Reply::status(400), Reply::status(200)]);
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), &down.url, false);
    let router = RouterProcess::start(&path, &[("IN_SECRET", IN_SECRET)]);
    let admin = router.admin_addr().await;
    let url = format!("http://{admin}");

    send_event(&router, br#"{"id":"evt_1"}"#).await;
    wait_until(
        Duration::from_secs(10),
        "the event to be dead-lettered",
        || async {
            cli_json(&admin, &["dlq", "list"])
                .await
                .as_array()
                .unwrap()
                .len()
                == 1
        },
    )
    .await;
    assert_eq!(down.count(), 1, "400 is permanent: one attempt");

    let table = hookroute(&["dlq", "list", "--admin-url", &url], &[]).await;
    assert_eq!(table.code, Some(0), "{table:?}");
    assert!(table.stdout.contains("sink"), "{}", table.stdout);
    assert!(table.stdout.contains("HTTP 400"), "{}", table.stdout);

    let events = cli_json(&admin, &["events", "list"]).await;
    assert_eq!(events[0]["event_id"], "evt_1");
    assert_eq!(events[0]["deliveries"]["dead"], 1);
    let seq = events[0]["seq"].as_u64().unwrap().to_string();

    // The downstream now answers 200: a bulk retry delivers.
    let retry = hookroute(&["dlq", "retry", "--all", "--admin-url", &url], &[]).await;
    assert_eq!(retry.code, Some(0), "{retry:?}");
    assert!(retry.stdout.contains("retried 1"), "{}", retry.stdout);
    wait_until(Duration::from_secs(10), "the retried delivery", || async {
        down.count() == 2
    })
    .await;
    wait_until(
        Duration::from_secs(10),
        "the job to be delivered",
        || async {
            let event = cli_json(&admin, &["events", "show", &seq]).await;
            event["deliveries"]["delivered"] == 1
        },
    )
    .await;
    assert!(cli_json(&admin, &["dlq", "list"])
        .await
        .as_array()
        .unwrap()
        .is_empty());

    // A replay delivers it once more, to the event's current matching target.
    let replay = hookroute(&["replay", &seq, "--admin-url", &url], &[]).await;
    assert_eq!(replay.code, Some(0), "{replay:?}");
    assert!(replay.stdout.contains("-> sink"), "{}", replay.stdout);
    wait_until(Duration::from_secs(10), "the replayed delivery", || async {
        down.count() == 3
    })
    .await;
    let bodies: Vec<_> = down.received().into_iter().map(|r| r.body).collect();
    assert!(
        bodies.iter().all(|b| b == br#"{"id":"evt_1"}"#),
        "{bodies:?}"
    );

    // The detail by `endpoint/event_id` shows both jobs with their attempts.
    let detail = cli_json(&admin, &["events", "show", "in/evt_1"]).await;
    assert_eq!(detail["jobs"].as_array().unwrap().len(), 2, "{detail}");
    assert_eq!(
        detail["jobs"][0]["attempt_log"].as_array().unwrap().len(),
        2
    );

    // Errors: an unknown target is a 404 JSON answer, and the CLI exits 1 saying so.
    let unknown = hookroute(
        &["replay", &seq, "--target", "nope", "--admin-url", &url],
        &[],
    )
    .await;
    assert_eq!(unknown.code, Some(1), "{unknown:?}");
    assert!(unknown.stderr.contains("unknown_target"), "{unknown:?}");
}

#[actix_web::test]
async fn the_admin_api_requires_the_bearer_token_when_one_is_configured() {
    let down = Downstream::start(vec![Reply::status(200)]);
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), &down.url, true);
    let router = RouterProcess::start(
        &path,
        &[("IN_SECRET", IN_SECRET), ("ADMIN_TOKEN", ADMIN_TOKEN)],
    );
    let admin = router.admin_addr().await;
    let client = reqwest::Client::new();
    let url = format!("http://{admin}/healthz");

    let without = client.get(&url).send().await.unwrap();
    assert_eq!(without.status().as_u16(), 401);
    let body: Value = without.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
    let wrong = client.get(&url).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401);

    let with = client
        .get(&url)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(with.status().as_u16(), 200);
    assert_eq!(with.json::<Value>().await.unwrap()["status"], "ok");

    // The CLI: refused without the token (exit 1), answered with it from the environment.
    let admin_url = format!("http://{admin}");
    let refused = hookroute(&["events", "list", "--admin-url", &admin_url], &[]).await;
    assert_eq!(refused.code, Some(1), "{refused:?}");
    assert!(refused.stderr.contains("401"), "{refused:?}");
    let listed = hookroute(
        &["events", "list", "--admin-url", &admin_url],
        &[("HOOKROUTE_ADMIN_TOKEN", ADMIN_TOKEN)],
    )
    .await;
    assert_eq!(listed.code, Some(0), "{listed:?}");
    assert!(listed.stdout.contains("no events"), "{listed:?}");
    let by_name = hookroute(
        &[
            "events",
            "list",
            "--admin-url",
            &admin_url,
            "--token-env",
            "MY_TOKEN",
        ],
        &[("MY_TOKEN", ADMIN_TOKEN)],
    )
    .await;
    assert_eq!(by_name.code, Some(0), "{by_name:?}");
}

#[actix_web::test]
async fn the_cli_exits_69_when_the_admin_api_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let run = hookroute(&["dlq", "list", "--admin-url", &url], &[]).await;
    assert_eq!(run.code, Some(69), "{run:?}");
    assert!(run.stderr.contains("cannot reach the admin API"), "{run:?}");
}

#[actix_web::test]
async fn readyz_shows_a_rejected_reload_with_its_errors_while_the_last_good_config_serves() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), "http://127.0.0.1:9", false);
    let router = RouterProcess::start(&path, &[("IN_SECRET", IN_SECRET)]);
    let admin = router.admin_addr().await;
    let client = reqwest::Client::new();
    let readyz = || async {
        let resp = client
            .get(format!("http://{admin}/readyz"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        resp.json::<Value>().await.unwrap()
    };
    assert_eq!(readyz().await["config"]["file_in_effect"], true);

    let good = std::fs::read_to_string(&path).unwrap();
    write_by_rename(
        &path,
        &good.replace("forward: [sink]", "forward: [no-such-target]"),
    );
    wait_until(
        Duration::from_secs(5),
        "the rejected reload shows in /readyz",
        || async { readyz().await["config"]["reloads_failed"].as_u64() >= Some(1) },
    )
    .await;
    let status = readyz().await;
    assert_eq!(status["config"]["file_in_effect"], false, "{status}");
    let errors = status["config"]["last_failure"]["errors"].to_string();
    assert!(
        errors.contains("endpoints[0].rules[0].forward[0]") && errors.contains("no-such-target"),
        "{status}"
    );
    send_event(&router, br#"{"id":"evt_still_served"}"#).await;
}
