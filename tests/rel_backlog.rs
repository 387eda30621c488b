//! Reliability scenario 5, slow downstream and the storage quota.
//!
//! - At twice the load the sink can take, the real binary's memory stays bounded (peak RSS,
//!   `VmHWM`, reported and bounded), the backlog is on disk (after a SIGKILL the store holds it
//!   as queued jobs) and, once the sink answers fast again, it drains with nothing lost.
//! - `storage.max_size`: ingest answers 503 with `Retry-After` once the store reaches its quota,
//!   never a 2xx past it by more than the quota's refresh slack; raising the quota by hot reload
//!   lets events in again, and every acknowledged event is delivered.
//!
//! `HOOKROUTE_RELIABILITY=long` runs the slow phase for 60 s instead of 4 s.

mod common;

use common::checker::*;
use common::*;
use hookroute::config::{self, MapEnvironment};
use hookroute::store::SledStore;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &str = "backlog_secret";
const SINK_DELAY: Duration = Duration::from_millis(50);
const SINK_CONCURRENCY: u64 = 2;

#[actix_web::test]
async fn a_slow_sink_at_twice_its_capacity_keeps_memory_bounded_and_the_backlog_on_disk() {
    let slow_phase = Duration::from_secs(scaled(4, 60));
    // The sink takes SINK_CONCURRENCY / SINK_DELAY = 40 deliveries a second while slow, for
    // about the length of the slow phase; then it recovers.
    let capacity = SINK_CONCURRENCY * 1000 / SINK_DELAY.as_millis() as u64;
    let slow_replies = (capacity * slow_phase.as_secs()) as usize;
    let mut script = vec![Reply::status(200).after(SINK_DELAY); slow_replies];
    script.push(Reply::status(200));
    let sink = Downstream::start(script);
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let path = dir.path().join("routes.yaml");
    let targets = format!(
        "  sink:\n    url: \"{}/hook\"\n    concurrency: {SINK_CONCURRENCY}\n    retry: {{ initial_delay: 100ms, max_delay: 1s, max_attempts: 100 }}\n",
        sink.url
    );
    std::fs::write(&path, scenario_config(&data_dir, "", &targets)).unwrap();
    let cfg = Arc::new(
        config::load(&path, &MapEnvironment::default().with("IN_SECRET", SECRET)).unwrap(),
    );
    let checker = Checker::new();
    let mut router = RouterProcess::start(&path, &[("IN_SECRET", SECRET)]);
    let pid = router.child.id();

    // 2x the sink's capacity: 4 workers each pausing 50 ms between events (~80/s).
    let mut spec = LoadSpec::new(router.url("/in"), "slow");
    spec.workers = 4;
    spec.pause = Duration::from_millis(50);
    let load = Load::start(spec, cfg.clone(), checker.clone());
    let started = Instant::now();
    let mut rss_samples = Vec::new();
    while started.elapsed() < slow_phase {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if let Some((rss, _)) = rss_kib(pid) {
            rss_samples.push(rss);
        }
    }
    let tally = load.stop().await;
    let (rss_now, peak_rss) = rss_kib(pid).expect("router alive");
    checker.observe(&[&sink]);
    let at_stop = checker.report();
    let backlog = at_stop.acked - at_stop.delivered_distinct.min(at_stop.acked);
    assert_eq!(tally.count(200), at_stop.acked, "{:?}", tally.statuses);
    assert!(
        backlog as u64 > capacity,
        "the sink kept up: no backlog to speak of ({at_stop}); the test's load is too light"
    );
    router.kill();
    let queued_on_disk = {
        let store = SledStore::open(&data_dir, Duration::from_secs(3600)).unwrap();
        store.counts().queued
    };
    assert!(
        queued_on_disk > 0 && queued_on_disk + 20 >= backlog.saturating_sub(capacity as usize),
        "the backlog must be on disk: {queued_on_disk} queued after SIGKILL, {backlog} undelivered at load stop"
    );
    let data_bytes = dir_size(&data_dir);

    let _router = RouterProcess::start(&path, &[("IN_SECRET", SECRET)]);
    let drain_started = Instant::now();
    let report = checker
        .wait_for_delivery(&[&sink], Duration::from_secs(scaled(60, 300)))
        .await;
    report.assert_nothing_lost();
    eprintln!(
        "slow downstream at 2x: {:?} slow phase, {} acked ({:.0}/s), sink capacity {capacity}/s; backlog at load stop {backlog}, {queued_on_disk} jobs queued on disk after SIGKILL, data dir {} KiB; RSS now {} KiB, peak (VmHWM) {} KiB, samples min {} max {} KiB; drained in {:?}; {report}",
        slow_phase,
        at_stop.acked,
        at_stop.acked as f64 / slow_phase.as_secs_f64(),
        data_bytes / 1024,
        rss_now,
        peak_rss,
        rss_samples.iter().min().unwrap_or(&0),
        rss_samples.iter().max().unwrap_or(&0),
        drain_started.elapsed()
    );
    // Bounded: sled's page cache is capped at 64 MiB; the process must not grow with the backlog.
    assert!(
        peak_rss < 256 * 1024,
        "peak RSS {peak_rss} KiB: memory grows with the backlog"
    );
}

#[actix_web::test]
async fn the_storage_quota_answers_503_with_retry_after_and_a_reload_raises_it() {
    const QUOTA: u64 = 4 << 20;
    let sink = Downstream::start(vec![Reply::status(200)]);
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let path = dir.path().join("routes.yaml");
    let targets = format!("  sink:\n    url: \"{}/hook\"\n", sink.url);
    let write_config = |quota: u64| {
        write_by_rename(
            &path,
            &scenario_config(&data_dir, &format!("  max_size: {quota}\n"), &targets),
        )
    };
    write_config(QUOTA);
    let cfg = Arc::new(
        config::load(&path, &MapEnvironment::default().with("IN_SECRET", SECRET)).unwrap(),
    );
    assert_eq!(cfg.storage.max_size, Some(QUOTA));
    let checker = Checker::new();
    let mut router = RouterProcess::start(
        &path,
        &[
            ("IN_SECRET", SECRET),
            ("HOOKROUTE_LOG", "info,hookroute::reload=debug"),
        ],
    );

    let mut spec = LoadSpec::new(router.url("/in"), "quota");
    spec.workers = 4;
    spec.padding = 32 * 1024;
    let load = Load::start(spec.clone(), cfg.clone(), checker.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let full = router.log_count("quota");
        if full > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the quota was never reached");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Keep pushing for a moment at the limit.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tally = load.stop().await;
    assert!(tally.count(503) > 0, "{:?}", tally.statuses);
    assert_eq!(tally.missing_retry_after, 0, "every 503 has Retry-After");
    let first_503 = tally.log.iter().position(|(_, s)| *s == 503).unwrap();
    let late_2xx = tally.log[first_503..]
        .iter()
        .filter(|(_, s)| *s == 200)
        .count();
    // Writes in flight when the cached size crossed the quota may still land.
    assert!(
        late_2xx <= spec.workers,
        "{late_2xx} events accepted after the first 503: the quota does not hold"
    );
    assert_eq!(
        tally
            .statuses
            .keys()
            .filter(|s| **s != 200 && **s != 503)
            .count(),
        0,
        "{:?}",
        tally.statuses
    );
    let used_at_limit = dir_size(&data_dir);

    // A hot reload with a larger quota lets events in again: no restart.
    let reloads = router.log_count("config reloaded");
    write_config(QUOTA * 4);
    router
        .wait_for_log("config reloaded", reloads + 1, Duration::from_secs(10))
        .await;
    let id = "after_raise";
    let body = event_body(id);
    checker.sent(id);
    let (status, answer) = post(
        &reqwest::Client::new(),
        &router.url("/in"),
        &body,
        &sign(&cfg, "/in", &body, id),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    checker.acked(id);

    let report = checker
        .wait_for_delivery(&[&sink], Duration::from_secs(30))
        .await;
    report.assert_nothing_lost();
    router.kill();
    eprintln!(
        "storage quota {QUOTA} bytes: answers {:?}, all 503 with Retry-After, {late_2xx} 2xx after the first 503; data dir {} KiB at the limit; raised by reload, accepted again; {report}",
        tally.statuses,
        used_at_limit / 1024
    );
}

#[test]
fn storage_space_settings_have_defaults_and_precise_errors() {
    const DEFAULT_MIN_FREE_SPACE: u64 = 64 << 20;
    let load = |storage: &str| {
        config::load_str(
            &format!("admin: {{ listen: 'off' }}\nstorage:\n{storage}"),
            std::path::Path::new("."),
            &MapEnvironment::default(),
        )
    };
    let defaults = load("  data_dir: d\n").unwrap();
    assert_eq!(defaults.storage.max_size, None);
    assert_eq!(defaults.storage.min_free_space, DEFAULT_MIN_FREE_SPACE);
    let set = load("  max_size: 512MiB\n  min_free_space: 0\n").unwrap();
    assert_eq!(set.storage.max_size, Some(512 << 20));
    assert_eq!(set.storage.min_free_space, 0);

    let text = |errors: Vec<hookroute::config::error::ConfigError>| {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let err = text(load("  data_dir: d\n  max_size: 1000\n").unwrap_err());
    assert!(
        err.contains("storage.max_size") && err.contains("at least 1048576"),
        "{err}"
    );
    assert!(err.contains("line 4"), "the error says where: {err}");
    let err = text(load("  max_size: lots\n").unwrap_err());
    assert!(
        err.contains("storage") && err.contains("max_size") && err.contains("512KiB"),
        "{err}"
    );
}

/// Reports what the quota's measure costs (no timing is asserted): sled's `size_on_disk`
/// uncached, and the cached `SledStore::size_on_disk` the accept path calls.
#[test]
fn the_cost_of_measuring_the_store_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path(), Duration::from_secs(3600)).unwrap();
    let n = 2000;
    let started = Instant::now();
    let mut total = 0;
    for _ in 0..n {
        total += store.size_on_disk_now().unwrap();
    }
    let raw = started.elapsed() / n;
    let started = Instant::now();
    for _ in 0..n {
        total += store.size_on_disk();
    }
    let cached = started.elapsed() / n;
    assert!(total > 0);
    eprintln!("size_on_disk: {raw:?} per call uncached, {cached:?} cached");
}
