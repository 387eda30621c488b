//! The admin token under hot reload, with the real binary: a token added to `routes.yaml` locks
//! every admin path at once, a changed one revokes the old token, a removed one opens the
//! loopback API again, and removing it while the API listens beyond loopback is refused as
//! start-up refuses it (regression: the admin API kept checking the token it started with).

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;

const IN_SECRET: &str = "in-secret";
const TOKEN_A: &str = "admin-token-aaa";
const TOKEN_B: &str = "admin-token-bbb";
const ENVS: &[(&str, &str)] = &[
    ("IN_SECRET", IN_SECRET),
    ("TOKEN_A", TOKEN_A),
    ("TOKEN_B", TOKEN_B),
];
/// The admin paths the token guards: the API, the probes and the metrics.
const ADMIN_PATHS: &[&str] = &["/events", "/dlq", "/healthz", "/readyz", "/metrics"];

/// `admin:` with `listen` and, when given, `token_env`.
fn write_config(path: &Path, admin_listen: &str, token_env: Option<&str>) {
    let token = token_env.map_or(String::new(), |t| format!("\n  token_env: {t}"));
    let data = path.parent().unwrap().join("data");
    let text = format!(
        "server:\n  listen: 127.0.0.1:0\n  workers: 1\nstorage:\n  data_dir: {}\nadmin:\n  listen: {admin_listen}{token}\n{}",
        data.display(),
        routes("  sink:\n    url: http://127.0.0.1:9/hook", &["sink"])
    );
    write_by_rename(path, &text);
}

/// The status of every admin path with `token` (or none).
async fn statuses(admin: &str, token: Option<&str>) -> Vec<u16> {
    let client = reqwest::Client::new();
    let mut out = Vec::new();
    for path in ADMIN_PATHS {
        let mut req = client.get(format!("http://{admin}{path}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        out.push(req.send().await.unwrap().status().as_u16());
    }
    out
}

/// Waits until every admin path answers `expected` (200 or 401) with `token`.
async fn until_all(router: &RouterProcess, admin: &str, token: Option<&str>, expected: u16) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let got = statuses(admin, token).await;
        if got.iter().all(|s| *s == expected) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "with token {token:?}: {got:?} on {ADMIN_PATHS:?}, expected {expected}; log:\n{}",
            router.log.lock().unwrap().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_adds_changes_and_removes_the_admin_token_on_every_admin_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    write_config(&path, "127.0.0.1:0", None);
    let router = RouterProcess::start(&path, ENVS);
    let admin = router.admin_addr().await;
    until_all(&router, &admin, None, 200).await;

    // Added: the open API is locked.
    write_config(&path, "127.0.0.1:0", Some("TOKEN_A"));
    until_all(&router, &admin, None, 401).await;
    until_all(&router, &admin, Some(TOKEN_A), 200).await;

    // Changed: the old token is revoked, the new one is the only one accepted.
    write_config(&path, "127.0.0.1:0", Some("TOKEN_B"));
    until_all(&router, &admin, Some(TOKEN_A), 401).await;
    until_all(&router, &admin, Some(TOKEN_B), 200).await;
    until_all(&router, &admin, None, 401).await;

    // Removed on a loopback listener: open again.
    write_config(&path, "127.0.0.1:0", None);
    until_all(&router, &admin, None, 200).await;
    assert_eq!(router.log_count("config reload failed"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_token_while_the_admin_api_listens_beyond_loopback_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    write_config(&path, "0.0.0.0:0", Some("TOKEN_A"));
    let router = RouterProcess::start(&path, ENVS);
    let admin = router.admin_addr().await.replace("0.0.0.0", "127.0.0.1");
    until_all(&router, &admin, Some(TOKEN_A), 200).await;

    // The file alone is valid (loopback, no token), but the listener stays beyond loopback
    // until a restart: the reload is refused and the token still guards the port.
    write_config(&path, "127.0.0.1:0", None);
    router
        .wait_for_log("config reload failed", 1, Duration::from_secs(5))
        .await;
    assert!(
        router.log_count("beyond loopback: a bearer token is required") >= 1,
        "{}",
        router.log.lock().unwrap().join("\n")
    );
    until_all(&router, &admin, None, 401).await;
    until_all(&router, &admin, Some(TOKEN_A), 200).await;

    // The same without the token in a file that keeps the public address: refused too.
    write_config(&path, "0.0.0.0:0", None);
    router
        .wait_for_log("config reload failed", 2, Duration::from_secs(5))
        .await;
    until_all(&router, &admin, None, 401).await;
}
