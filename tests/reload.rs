//! Hot reload with the real binary: the config file is rewritten (by rename, in place, badly)
//! while the router serves, and every valid change must take effect within a second with no
//! failed request, every invalid one must be logged and change nothing, and rotated secret files
//! must be read again. Each test prints how long its changes took to apply.

mod common;

use common::*;
use hookroute::config::{self, Config, MapEnvironment};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const APPLIED_WITHIN: Duration = Duration::from_secs(1);
const REJECTED: &str = "config reload failed";
/// The router logs each watcher event at trace level: a failure shows what it saw.
const TRACE_RELOADS: &[(&str, &str)] = &[("HOOKROUTE_LOG", "info,hookroute::reload=trace")];

/// A version of `routes.yaml`.
struct Routes {
    data_dir: PathBuf,
    listen: &'static str,
    /// Secret files of every endpoint, relative to the config's directory.
    secret_files: Vec<&'static str>,
    /// `/stable` routes `charge.*` events too (else they are answered "ignored").
    charges_routed: bool,
    /// Endpoints besides `/stable`, e.g. `/added-3`.
    extra: Vec<String>,
}

impl Routes {
    fn new(dir: &Path) -> Self {
        Self {
            data_dir: dir.join("data"),
            listen: "127.0.0.1:0",
            secret_files: vec!["secret-a"],
            charges_routed: false,
            extra: vec![],
        }
    }

    fn text(&self) -> String {
        let secrets: Vec<String> = self
            .secret_files
            .iter()
            .map(|f| format!("{{ file: {f} }}"))
            .collect();
        let verify = format!(
            "verify: {{ provider: stripe, secrets: [{}] }}",
            secrets.join(", ")
        );
        let mut text = format!(
            "server: {{ listen: \"{}\" }}\nstorage: {{ data_dir: \"{}\" }}\nadmin: {{ listen: \"off\" }}\n\
             targets:\n  sink: {{ url: \"http://127.0.0.1:9/sink\" }}\n\
             endpoints:\n  - path: /stable\n    name: stable\n    {verify}\n    rules:\n\
             \x20     - {{ name: orders, match: {{ type: [order.*] }}, forward: [sink] }}\n",
            self.listen,
            self.data_dir.display()
        );
        if self.charges_routed {
            text += "      - { name: charges, match: { type: [charge.*] }, forward: [sink] }\n";
        }
        for path in &self.extra {
            let name = path.trim_start_matches('/');
            text += &format!(
                "  - path: {path}\n    name: {name}\n    {verify}\n    rules:\n      - {{ name: all, forward: [sink] }}\n"
            );
        }
        text
    }
}

/// A router serving `routes` from a fresh directory holding `secret-a`.
struct Fixture {
    dir: TempDir,
    path: PathBuf,
    router: RouterProcess,
    client: reqwest::Client,
}

impl Fixture {
    fn start(routes: impl FnOnce(&Path) -> Routes) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret-a"), "whsec_reload_secret_a").unwrap();
        let path = dir.path().join("routes.yaml");
        std::fs::write(&path, routes(dir.path()).text()).unwrap();
        let router = RouterProcess::start(&path, TRACE_RELOADS);
        Self {
            dir,
            path,
            router,
            client: reqwest::Client::new(),
        }
    }

    /// Posts a Stripe-signed event of `event_type` to `path`; `(status, body)`.
    async fn post(&self, path: &str, secret: &str, event_type: &str) -> (u16, Value) {
        let (body, headers) = signed_event(secret, event_type);
        post(&self.client, &self.router.url(path), &body, &headers).await
    }

    /// Waits until a signed request to `path` answers `status`; returns how long that took.
    async fn until_answers(&self, path: &str, secret: &str, status: u16) -> Duration {
        self.within(
            &format!("{path} answers {status} with {secret}"),
            move || async move { self.post(path, secret, "order.created").await.0 == status },
        )
        .await
    }

    /// Calls `check` every 5 ms until it holds, for at most [`APPLIED_WITHIN`]; returns how long
    /// that took, or panics with the router's log.
    async fn within<F, Fut>(&self, what: &str, mut check: F) -> Duration
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let started = Instant::now();
        while !check().await {
            if started.elapsed() > APPLIED_WITHIN {
                panic!(
                    "not within {APPLIED_WITHIN:?}: {what}; router log:\n{}",
                    self.router.log.lock().unwrap().join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        started.elapsed()
    }
}

const SECRET_A: &str = "whsec_reload_secret_a";

/// A fresh event with a Stripe signature made by the router's own compiled scheme.
fn signed_event(secret: &str, event_type: &str) -> (Vec<u8>, Vec<(String, String)>) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let id = format!("evt_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let body = format!(r#"{{"id":"{id}","type":"{event_type}","data":{{"object":{{}}}}}}"#);
    let headers = sign(&signer(secret), "/any", body.as_bytes(), &id);
    (body.into_bytes(), headers)
}

/// A config whose only endpoint signs with `secret` the way `/stable` verifies.
fn signer(secret: &str) -> Config {
    let text = "targets: { t: { url: \"http://127.0.0.1:9/\" } }\nendpoints:\n  - path: /any\n    \
                verify: { provider: stripe, secrets: [{ env: S }] }\n    rules: [{ forward: [t] }]\n";
    let env = MapEnvironment::default().with("S", secret);
    config::load_str(text, Path::new("."), &env).unwrap()
}

fn report(what: &str, mut latencies: Vec<Duration>) {
    latencies.sort();
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    eprintln!(
        "reload latency, {what}: n={} min={:.0}ms median={:.0}ms max={:.0}ms",
        latencies.len(),
        ms(&latencies[0]),
        ms(&latencies[latencies.len() / 2]),
        ms(latencies.last().unwrap())
    );
}

/// How a rewrite reaches the disk.
#[derive(Debug, Clone, Copy)]
enum Write {
    InPlace,
    Rename,
}

fn write(path: &Path, text: &str, how: Write) {
    match how {
        Write::InPlace => std::fs::write(path, text).unwrap(),
        Write::Rename => write_by_rename(path, text),
    }
}

/// The longest prefix of `text`, at most 60% of it, that does not load: what a reader can see
/// of a file being written in place.
fn half_written(text: &str, dir: &Path) -> String {
    let env = MapEnvironment::default();
    (1..=text.len() * 6 / 10)
        .rev()
        .map(|n| text[..n].to_string())
        .find(|t| config::load_str(t, dir, &env).is_err())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_added_to_the_file_answers_within_a_second_and_a_removed_one_answers_404() {
    let f = Fixture::start(Routes::new);
    assert_eq!(f.post("/stable", SECRET_A, "order.created").await.0, 200);
    let mut latencies = Vec::new();
    for (n, how) in [Write::Rename, Write::InPlace, Write::Rename, Write::InPlace]
        .into_iter()
        .enumerate()
    {
        let added = format!("/added-{n}");
        assert_eq!(f.post(&added, SECRET_A, "order.created").await.0, 404);
        let mut routes = Routes::new(f.dir.path());
        routes.extra = vec![added.clone()];
        write(&f.path, &routes.text(), how);
        latencies.push(f.until_answers(&added, SECRET_A, 200).await);
        if n > 0 {
            let removed = format!("/added-{}", n - 1);
            assert_eq!(f.post(&removed, SECRET_A, "order.created").await.0, 404);
        }
    }
    write(&f.path, &Routes::new(f.dir.path()).text(), Write::Rename);
    latencies.push(f.until_answers("/added-3", SECRET_A, 404).await);
    f.router
        .wait_for_log("config reloaded (file changed", 5, APPLIED_WITHIN)
        .await;
    assert!(f.router.log_count("endpoints -/added-3") == 1);
    assert_eq!(f.router.log_count(REJECTED), 0);
    report("add/remove an endpoint, write to answer", latencies);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_rewrites_under_steady_signed_traffic_fail_no_request_and_invalid_ones_change_nothing(
) {
    let f = Arc::new(Fixture::start(Routes::new));
    let stop = Arc::new(AtomicBool::new(false));
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let sent = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..4)
        .map(|_| {
            let (f, stop, failures, sent) =
                (f.clone(), stop.clone(), failures.clone(), sent.clone());
            tokio::spawn(async move {
                let url = f.router.url("/stable");
                while !stop.load(Ordering::Relaxed) {
                    let (body, headers) = signed_event(SECRET_A, "order.created");
                    let mut req = f.client.post(&url).body(body);
                    for (k, v) in &headers {
                        req = req.header(k.as_str(), v.as_str());
                    }
                    let answer = match req.send().await {
                        Ok(resp) => format!("{} {}", resp.status(), resp.text().await.unwrap()),
                        Err(e) => format!("transport error: {e}"),
                    };
                    if !(answer.starts_with("200 ") && answer.contains(r#""status":"accepted""#)) {
                        failures.lock().unwrap().push(answer);
                    }
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    // What is in effect: the latest valid version.
    let mut version = 0;
    let mut latencies = Vec::new();
    let charge_status = |version: usize| {
        if version % 2 == 1 {
            "accepted"
        } else {
            "ignored"
        }
    };
    let routes_of = |version: usize| {
        let mut r = Routes::new(f.dir.path());
        r.charges_routed = version % 2 == 1;
        r.extra = vec![format!("/added-{version}")];
        r
    };
    let invalid = |kind: usize, next: &Routes| -> String {
        match kind {
            0 => format!("{}  - {{ path: /broken\n", next.text()),
            1 => next.text().replace(
                "{ name: all, forward: [sink] }",
                "{ name: all, forward: [nowhere] }",
            ),
            2 => next
                .text()
                .replace("    name: stable\n", "    name: stable\n    colour: red\n"),
            3 => half_written(&next.text(), f.dir.path()),
            _ => String::new(),
        }
    };
    for i in 0..20 {
        let how = if (i + i / 4) % 2 == 0 {
            Write::Rename
        } else {
            Write::InPlace
        };
        if i % 4 == 2 {
            let next = routes_of(version + 1);
            let text = invalid(i / 4, &next);
            let rejected_before = f.router.log_count(REJECTED);
            write(&f.path, &text, how);
            f.router
                .wait_for_log(REJECTED, rejected_before + 1, APPLIED_WITHIN)
                .await;
            let would_be = format!("/added-{}", version + 1);
            assert_eq!(
                f.post(&would_be, SECRET_A, "order.created").await.0,
                404,
                "invalid write {i} ({how:?}) applied"
            );
        } else {
            version += 1;
            write(&f.path, &routes_of(version).text(), how);
            let added = format!("/added-{version}");
            let (fx, added_path) = (&*f, added.as_str());
            let took = f
                .within(&format!("version {version}"), move || async move {
                    fx.post(added_path, SECRET_A, "order.created").await.0 == 200
                        && fx.post("/stable", SECRET_A, "charge.succeeded").await.1["status"]
                            == charge_status(version)
                })
                .await;
            latencies.push(took);
            let removed = format!("/added-{}", version - 1);
            assert_eq!(f.post(&removed, SECRET_A, "order.created").await.0, 404);
        }
        // Whatever was written, the latest valid version is what answers.
        let added = format!("/added-{version}");
        assert_eq!(f.post(&added, SECRET_A, "order.created").await.0, 200);
        let (status, answer) = f.post("/stable", SECRET_A, "charge.succeeded").await;
        assert_eq!(
            (status, answer["status"].as_str()),
            (200, Some(charge_status(version))),
            "after write {i}"
        );
    }

    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.await.unwrap();
    }
    let failures = failures.lock().unwrap();
    let sent = sent.load(Ordering::Relaxed);
    eprintln!(
        "steady stream: {sent} signed requests during 20 rewrites, {} failed",
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:?}");
    assert!(sent > 100, "the stream ran: {sent}");
    // Each invalid write is logged with its errors and their places.
    assert!(f.router.log_count("cannot read the file") == 0);
    assert!(f.router.log_count("nowhere") >= 1);
    assert!(f.router.log_count("colour") >= 1);
    assert!(f.router.log_count("the file is empty") >= 1);
    assert!(
        f.router.log_count(", column ") >= 3,
        "errors carry their place"
    );
    report("20 rewrites under load, write to applied", latencies);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_file_is_read_again_on_config_change_and_on_sighup() {
    let f = Fixture::start(Routes::new);
    let dir = f.dir.path();
    const SECRET_B: &str = "whsec_reload_secret_b";
    const SECRET_C: &str = "whsec_reload_secret_c";
    assert_eq!(f.post("/stable", SECRET_B, "order.created").await.0, 401);

    // Rotation by the file list: add the new secret, then drop the old one.
    std::fs::write(dir.join("secret-b"), SECRET_B).unwrap();
    let mut routes = Routes::new(dir);
    routes.secret_files = vec!["secret-b", "secret-a"];
    write_by_rename(&f.path, &routes.text());
    let took_add = f.until_answers("/stable", SECRET_B, 200).await;
    assert_eq!(f.post("/stable", SECRET_A, "order.created").await.0, 200);
    routes.secret_files = vec!["secret-b"];
    write_by_rename(&f.path, &routes.text());
    let took_drop = f.until_answers("/stable", SECRET_A, 401).await;
    assert_eq!(f.post("/stable", SECRET_B, "order.created").await.0, 200);
    f.router
        .wait_for_log("endpoints ~/stable", 2, APPLIED_WITHIN)
        .await;

    // Rotation in place, outside the watched directory: the content changes under the same
    // name, and SIGHUP makes the router read it.
    std::fs::create_dir(dir.join("secrets")).unwrap();
    std::fs::write(dir.join("secrets/current"), SECRET_B).unwrap();
    routes.secret_files = vec!["secrets/current"];
    write_by_rename(&f.path, &routes.text());
    f.router
        .wait_for_log("endpoints ~/stable", 3, APPLIED_WITHIN)
        .await;
    std::fs::write(dir.join("secrets/current"), SECRET_C).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        f.post("/stable", SECRET_C, "order.created").await.0,
        401,
        "secret files are not watched: SIGHUP (or touching the config) reads them again"
    );
    let sent = Instant::now();
    f.router.hangup();
    f.until_answers("/stable", SECRET_C, 200).await;
    let took_hup = sent.elapsed();
    assert_eq!(f.post("/stable", SECRET_B, "order.created").await.0, 401);
    f.router
        .wait_for_log("config reloaded (SIGHUP", 1, APPLIED_WITHIN)
        .await;
    report(
        "secret rotation (add, drop, SIGHUP)",
        vec![took_add, took_drop, took_hup],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_empty_or_half_written_config_keeps_the_last_good_one_serving() {
    let f = Fixture::start(|dir| {
        let mut r = Routes::new(dir);
        r.extra = vec!["/kept".into()];
        r
    });
    let mut next = Routes::new(f.dir.path());
    next.extra = vec!["/kept".into(), "/next".into()];
    let fx = &f;
    let keeps_serving = move || async move {
        let f = fx;
        assert_eq!(f.post("/stable", SECRET_A, "order.created").await.0, 200);
        assert_eq!(f.post("/kept", SECRET_A, "order.created").await.0, 200);
        assert_eq!(f.post("/next", SECRET_A, "order.created").await.0, 404);
    };

    std::fs::remove_file(&f.path).unwrap();
    f.router
        .wait_for_log("cannot read the file", 1, APPLIED_WITHIN)
        .await;
    keeps_serving().await;

    std::fs::write(&f.path, "").unwrap();
    f.router
        .wait_for_log("the file is empty", 1, APPLIED_WITHIN)
        .await;
    keeps_serving().await;

    let half = half_written(&next.text(), f.dir.path());
    let rejected_before = f.router.log_count(REJECTED);
    std::fs::write(&f.path, &half).unwrap();
    f.router
        .wait_for_log(REJECTED, rejected_before + 1, APPLIED_WITHIN)
        .await;
    keeps_serving().await;

    std::fs::write(&f.path, next.text()).unwrap();
    let took = f.until_answers("/next", SECRET_A, 200).await;
    assert_eq!(f.post("/kept", SECRET_A, "order.created").await.0, 200);
    report("full file after a half-written one", vec![took]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_listen_address_is_reported_as_needing_a_restart_and_the_rest_applies() {
    let f = Fixture::start(Routes::new);
    let mut routes = Routes::new(f.dir.path());
    routes.listen = "127.0.0.1:1";
    routes.extra = vec!["/added".into()];
    write_by_rename(&f.path, &routes.text());
    let took = f.until_answers("/added", SECRET_A, 200).await;
    f.router
        .wait_for_log(
            "needs a restart: server.listen (127.0.0.1:0 -> 127.0.0.1:1)",
            1,
            APPLIED_WITHIN,
        )
        .await;
    assert_eq!(f.router.log_count("endpoints +/added"), 1);
    report("change with a restart-only setting", vec![took]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubernetes_configmap_symlink_flip_is_seen() {
    // The kubelet's layout: routes.yaml -> ..data/routes.yaml, ..data -> ..<timestamp>/, and an
    // update writes a new timestamped directory then renames a new `..data` symlink over the
    // old one.
    fn version(d: &Path, name: &str, routes: &Routes) {
        std::fs::create_dir(d.join(name)).unwrap();
        std::fs::write(d.join(name).join("routes.yaml"), routes.text()).unwrap();
        std::fs::write(d.join(name).join("secret-a"), SECRET_A).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let mut routes = Routes::new(dir.path());
    routes.secret_files = vec!["..data/secret-a"];
    version(dir.path(), "..2026_01_01_v1", &routes);
    std::os::unix::fs::symlink("..2026_01_01_v1", dir.path().join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/routes.yaml", dir.path().join("routes.yaml")).unwrap();
    let router = RouterProcess::start(&dir.path().join("routes.yaml"), TRACE_RELOADS);
    let f = Fixture {
        path: dir.path().join("routes.yaml"),
        dir,
        router,
        client: reqwest::Client::new(),
    };
    let d = f.dir.path();
    assert_eq!(f.post("/stable", SECRET_A, "order.created").await.0, 200);

    routes.extra = vec!["/from-configmap".into()];
    version(d, "..2026_01_01_v2", &routes);
    std::os::unix::fs::symlink("..2026_01_01_v2", d.join("..data_tmp")).unwrap();
    let flipped = Instant::now();
    std::fs::rename(d.join("..data_tmp"), d.join("..data")).unwrap();
    std::fs::remove_dir_all(d.join("..2026_01_01_v1")).unwrap();
    f.until_answers("/from-configmap", SECRET_A, 200).await;
    report("ConfigMap symlink flip", vec![flipped.elapsed()]);
}
