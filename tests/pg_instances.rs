//! Several real `hookroute` binaries on one real PostgreSQL (started by the test in a temp dir,
//! fsync on). Start-up without the database exits 69 with a clear message; `hookroute migrate`
//! applies the schema once. Three instances under load, one SIGKILLed and restarted every few
//! seconds: every acknowledged event is delivered, no event is in flight to the target twice at
//! once, the target's concurrency holds across the instances together, and the same event sent
//! to two instances at once is accepted once. The database restarted mid-load: only 200 or 503
//! with Retry-After (no 2xx without a commit), `/readyz` says why, ingest and delivery resume,
//! nothing acknowledged is lost.
//!
//! Short by default (CI); `HOOKROUTE_RELIABILITY=long` runs more kill cycles.

mod common;

use common::checker::*;
use common::postgres::TestPostgres;
use common::*;
use hookroute::config::{self, MapEnvironment};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "pg_instances_secret";
/// The target's concurrency, which must hold across all instances together.
const CONCURRENCY: usize = 4;
/// Leases are 60 s: jobs a killed instance held are taken over after that.
const DELIVERY_WAIT: Duration = Duration::from_secs(120);

/// A target that answers 200 after a short delay and watches what is in flight: the same
/// event twice at once, and more requests at once than the target's concurrency.
#[derive(Default)]
struct Watch {
    in_flight: HashMap<String, usize>,
    total: usize,
    max_total: usize,
    overlaps: Vec<String>,
}

struct WatchedSink {
    url: String,
    watch: Arc<Mutex<Watch>>,
}

fn start_sink(checker: Arc<Checker>) -> WatchedSink {
    use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
    let watch: Arc<Mutex<Watch>> = Arc::default();
    let state = (watch.clone(), checker.clone());
    let handler = move |req: HttpRequest| {
        let (watch, checker) = state.clone();
        async move {
            let id = req
                .headers()
                .get("x-hookroute-event-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            {
                let mut w = watch.lock().unwrap();
                let n = w.in_flight.entry(id.clone()).or_default();
                *n += 1;
                if *n > 1 {
                    w.overlaps.push(id.clone());
                }
                w.total += 1;
                w.max_total = w.max_total.max(w.total);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            {
                let mut w = watch.lock().unwrap();
                *w.in_flight.get_mut(&id).unwrap() -= 1;
                w.total -= 1;
            }
            checker.record_delivery(&id);
            HttpResponse::Ok().finish()
        }
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || App::new().default_service(web::to(handler.clone())))
        .workers(2)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
    actix_web::rt::spawn(server);
    WatchedSink { url, watch }
}

fn write_config(dir: &Path, sink_url: &str, admin: bool) -> std::path::PathBuf {
    let targets = format!(
        "  sink:\n    url: \"{sink_url}/hook\"\n    concurrency: {CONCURRENCY}\n    retry: {{ initial_delay: 100ms, max_delay: 1s, max_attempts: 1000 }}\n"
    );
    let text = format!(
        "server: {{ listen: \"127.0.0.1:0\" }}\nstorage:\n  backend: postgres\n  url: {{ env: HOOKROUTE_TEST_DB }}\n  pool_size: 4\n  statement_timeout: 5s\nadmin: {{ listen: \"{}\" }}\n{}",
        if admin { "127.0.0.1:0" } else { "off" },
        routes(&targets, &["sink"])
    );
    let path = dir.join("routes.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn loaded(path: &Path, db: &str) -> Arc<config::Config> {
    let env = MapEnvironment::default()
        .with("IN_SECRET", SECRET)
        .with("HOOKROUTE_TEST_DB", db);
    Arc::new(config::load(path, &env).unwrap())
}

fn instance(path: &Path, db: &str) -> RouterProcess {
    RouterProcess::start(path, &[("IN_SECRET", SECRET), ("HOOKROUTE_TEST_DB", db)])
}

fn hookroute(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookroute"));
    cmd.args(args).env_remove("HOOKROUTE_LOG");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn start_up_without_the_database_exits_69_and_says_where_it_tried() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "http://127.0.0.1:9", false);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://hookroute:s3cret@127.0.0.1:{port}/hooks");
    let args = ["serve", "--config", path.to_str().unwrap()];
    let (code, _, stderr) = hookroute(&args, &[("IN_SECRET", SECRET), ("HOOKROUTE_TEST_DB", &url)]);
    assert_eq!(code, 69, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot connect to PostgreSQL at 127.0.0.1:{port}/hooks"
        )) && stderr.contains("storage.url from env HOOKROUTE_TEST_DB"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("s3cret"),
        "the password is never printed: {stderr}"
    );
    let args = ["migrate", "--config", path.to_str().unwrap()];
    let (code, _, stderr) = hookroute(&args, &[("IN_SECRET", SECRET), ("HOOKROUTE_TEST_DB", &url)]);
    assert_eq!(code, 69, "{stderr}");
}

#[test]
fn migrate_applies_the_schema_once_and_check_describes_the_backend() {
    let pg = TestPostgres::start();
    let db = pg.create_database("migrations");
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "http://127.0.0.1:9", false);
    let envs = [("IN_SECRET", SECRET), ("HOOKROUTE_TEST_DB", db.as_str())];
    let args = ["migrate", "--config", path.to_str().unwrap()];
    let (code, stdout, stderr) = hookroute(&args, &envs);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("applied migrations: 1"), "{stdout}");
    let (code, stdout, _) = hookroute(&args, &envs);
    assert_eq!(code, 0);
    assert!(stdout.contains("up to date"), "{stdout}");
    let args = ["check", "--config", path.to_str().unwrap()];
    let (code, stdout, stderr) = hookroute(&args, &envs);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("storage postgres (url from env HOOKROUTE_TEST_DB, pool_size 4"),
        "{stdout}"
    );
}

/// Waits until every acknowledged event reached the sink (or [`DELIVERY_WAIT`] passed); the
/// last report either way.
async fn wait_delivered(checker: &Checker) -> Report {
    let deadline = Instant::now() + DELIVERY_WAIT;
    loop {
        let report = checker.report();
        if report.lost.is_empty() || Instant::now() > deadline {
            return report;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sends the same signed event to two routers at once; returns both answers' `status` fields.
async fn same_event_twice(cfg: &config::Config, a: &str, b: &str, id: &str) -> Vec<String> {
    let body = event_body(id);
    let headers = sign(cfg, "/in", &body, id);
    let client = reqwest::Client::new();
    let send = |url: String| {
        let mut req = client
            .post(url)
            .header("content-type", "application/json")
            .body(body.clone());
        for (k, v) in &headers {
            req = req.header(k.as_str(), v.as_str());
        }
        async move {
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status().as_u16(), 200);
            let json: serde_json::Value = resp.json().await.unwrap();
            json["status"].as_str().unwrap().to_string()
        }
    };
    let (x, y) = tokio::join!(send(format!("{a}/in")), send(format!("{b}/in")));
    vec![x, y]
}

#[actix_web::test]
async fn three_instances_share_dedup_and_the_queue_through_sigkills() {
    let pg = TestPostgres::start();
    let db = pg.create_database("shared");
    let checker = Checker::new();
    let sink = start_sink(checker.clone());
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &sink.url, false);
    let cfg = loaded(&path, &db);
    let mut routers: Vec<RouterProcess> = (0..3).map(|_| instance(&path, &db)).collect();

    // The same event on two instances at once: accepted once, a duplicate on the other.
    for i in 0..40 {
        let id = format!("same_{i}");
        checker.sent(&id);
        let (a, b) = (routers[i % 3].url(""), routers[(i + 1) % 3].url(""));
        let mut answers = same_event_twice(&cfg, &a, &b, &id).await;
        answers.sort();
        assert_eq!(answers, ["accepted", "duplicate"], "{id}");
        checker.acked(&id);
    }

    // Load spread over the three; one instance SIGKILLed and restarted per cycle.
    let cycles = scaled(3, 12);
    for cycle in 0..cycles {
        let loads: Vec<Load> = routers
            .iter()
            .enumerate()
            .map(|(n, r)| {
                let mut spec = LoadSpec::new(r.url("/in"), &format!("c{cycle}i{n}"));
                spec.workers = 2;
                spec.pause = Duration::from_millis(5);
                Load::start(spec, cfg.clone(), checker.clone())
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(1500 + 300 * cycle as u64)).await;
        let victim = cycle % 3;
        routers[victim].kill();
        let mut tally = Vec::new();
        for load in loads {
            tally.push(load.stop().await);
        }
        let tally = LoadTally::merge(tally);
        let odd: Vec<_> = tally
            .statuses
            .keys()
            .filter(|s| !(200..300).contains(*s))
            .collect();
        assert!(odd.is_empty(), "cycle {cycle}: {:?}", tally.statuses);
        routers[victim] = instance(&path, &db);
    }
    let acked = checker.acked_count();
    assert!(
        acked > 200,
        "too little load to mean anything: {acked} acknowledged"
    );
    let report = wait_delivered(&checker).await;
    report.assert_nothing_lost();
    let watch = sink.watch.lock().unwrap();
    assert!(
        watch.overlaps.is_empty(),
        "events delivered twice at the same time: {:?}",
        &watch.overlaps[..watch.overlaps.len().min(10)]
    );
    assert!(
        watch.max_total <= CONCURRENCY,
        "{} requests at once to a target of concurrency {CONCURRENCY} across the instances",
        watch.max_total
    );
    eprintln!(
        "three instances: {report}; most in flight at once {}",
        watch.max_total
    );
    drop(routers);
}

#[actix_web::test]
async fn a_database_restart_mid_load_never_acknowledges_without_a_commit_and_loses_nothing() {
    let pg = TestPostgres::start();
    let db = pg.create_database("restart");
    let checker = Checker::new();
    let sink = start_sink(checker.clone());
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &sink.url, true);
    let cfg = loaded(&path, &db);
    let router = instance(&path, &db);
    let admin = router.admin_addr().await;
    let mut spec = LoadSpec::new(router.url("/in"), "r");
    spec.workers = 3;
    spec.pause = Duration::from_millis(5);
    spec.stop_on_error = false;
    let load = Load::start(spec, cfg.clone(), checker.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    pg.stop_server("immediate");
    let down_at = Instant::now();
    let readyz = wait_for(
        Duration::from_secs(10),
        "/readyz to report the database",
        || {
            let url = format!("http://{admin}/readyz");
            async move {
                let resp = reqwest::get(url).await.ok()?;
                let status = resp.status().as_u16();
                let json: serde_json::Value = resp.json().await.ok()?;
                (status == 503 && json["store"] == "unavailable").then_some(json)
            }
        },
    )
    .await;
    assert!(
        readyz["reason"]
            .as_str()
            .unwrap()
            .contains("PostgreSQL database is unreachable"),
        "{readyz}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    pg.start_server();
    let up_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let tally = load.stop().await;
    let mut router = router;
    assert!(
        router.child.try_wait().unwrap().is_none(),
        "the router itself stayed up"
    );
    let other: Vec<_> = tally
        .statuses
        .keys()
        .filter(|s| **s != 200 && **s != 503)
        .collect();
    assert!(other.is_empty(), "{:?}", tally.statuses);
    assert!(
        tally.count(503) > 0,
        "the outage was seen: {:?}",
        tally.statuses
    );
    assert_eq!(tally.missing_retry_after, 0, "every 503 has Retry-After");
    let ok_after = tally
        .log
        .iter()
        .filter(|(at, s)| *s == 200 && *at > up_at)
        .count();
    assert!(ok_after > 0, "ingest resumed after the database returned");
    let report = wait_delivered(&checker).await;
    report.assert_nothing_lost();
    eprintln!(
        "database restart: {report}; 503s {}; requests without an answer {}; down for {:?}",
        tally.count(503),
        tally.errors,
        up_at - down_at
    );
}
