//! Reliability scenario 8, the soak (long only, `#[ignore]`; run by `scripts/soak.sh`): steady
//! signed load against the real binary for `SOAK_SECONDS` (default 3600) with a fast sink, and
//! retention on when this build knows `storage.retention` (`SOAK_RETENTION`, default `2m`).
//! Every `SOAK_SAMPLE_SECONDS` (default 30) it records the data directory's size on disk, the
//! live data (bytes of the events the store should still hold: all of them without retention,
//! the last retention window's with it, estimated from the bodies), their ratio, and the
//! router's RSS. At the end the router is stopped and the store opened to count its logical
//! size exactly (every key and value of every tree). Pass: nothing acknowledged lost; disk use
//! under 3x the logical data at the end; RSS flat once warm: the first quarter is warm-up
//! (sled's 64 MiB page cache filling), and the last quarter's peak must stay within 1.1x +
//! 16 MiB of the second quarter's. The samples are printed as a table.

mod common;

use common::checker::*;
use common::*;
use hookroute::config::{self, MapEnvironment};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &str = "soak_secret";

fn env_secs(name: &str, default: u64) -> Duration {
    Duration::from_secs(
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

#[actix_web::test]
#[ignore = "an hour long: scripts/soak.sh (SOAK_SECONDS to shorten)"]
async fn an_hour_of_load_keeps_disk_under_3x_live_data_and_memory_flat() {
    let duration = env_secs("SOAK_SECONDS", 3600);
    let sample_every = env_secs("SOAK_SAMPLE_SECONDS", 30);
    let retention_text = std::env::var("SOAK_RETENTION").unwrap_or_else(|_| "2m".into());
    let sink = Downstream::start(vec![Reply::status(200)]);
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let path = dir.path().join("routes.yaml");
    let targets = format!("  sink:\n    url: \"{}/hook\"\n", sink.url);
    let env = MapEnvironment::default().with("IN_SECRET", SECRET);
    // Retention if this build has the key; otherwise measure sled's amplification without it.
    let with_retention = scenario_config(
        &data_dir,
        &format!("  retention: {retention_text}\n"),
        &targets,
    );
    std::fs::write(&path, &with_retention).unwrap();
    let retention = match config::load(&path, &env) {
        Ok(_) => humantime::parse_duration(&retention_text).ok(),
        Err(e) => {
            eprintln!("soak: storage.retention is not available in this build ({e}); running without retention");
            std::fs::write(&path, scenario_config(&data_dir, "", &targets)).unwrap();
            None
        }
    };
    let cfg = Arc::new(config::load(&path, &env).unwrap());
    let router = RouterProcess::start(&path, &[("IN_SECRET", SECRET)]);
    let pid = router.child.id();
    let checker = Checker::new();
    let mut spec = LoadSpec::new(router.url("/in"), "soak");
    spec.workers = 4;
    spec.pause = Duration::from_millis(10);
    spec.padding = 512;
    let event_bytes = (event_body("soak_0_0").len() + spec.padding + 12) as u64;
    let load = Load::start(spec, cfg.clone(), checker.clone());

    let started = Instant::now();
    // (elapsed s, acked, disk bytes, live bytes, rss KiB)
    let mut samples: Vec<(u64, usize, u64, u64, u64)> = Vec::new();
    let mut acked_at: Vec<(Instant, usize)> = Vec::new();
    eprintln!("soak: elapsed_s acked disk_MiB live_MiB disk/live rss_MiB");
    while started.elapsed() < duration {
        tokio::time::sleep(sample_every.min(duration.saturating_sub(started.elapsed()))).await;
        let acked = checker.acked_count();
        acked_at.push((Instant::now(), acked));
        let live_events = match retention {
            None => acked,
            Some(window) => {
                let cutoff = Instant::now().checked_sub(window);
                let before = acked_at
                    .iter()
                    .rev()
                    .find(|(at, _)| cutoff.is_some_and(|c| *at <= c))
                    .map_or(0, |(_, n)| *n);
                acked - before
            }
        };
        let disk = dir_size(&data_dir);
        let live = live_events as u64 * event_bytes;
        let rss = rss_kib(pid).map_or(0, |(rss, _)| rss);
        eprintln!(
            "soak: {:>6} {:>8} {:>8.1} {:>8.1} {:>6.2} {:>7.1}",
            started.elapsed().as_secs(),
            acked,
            disk as f64 / 1048576.0,
            live as f64 / 1048576.0,
            disk as f64 / live.max(1) as f64,
            rss as f64 / 1024.0
        );
        samples.push((started.elapsed().as_secs(), acked, disk, live, rss));
    }
    let tally = load.stop().await;
    let report = checker
        .wait_for_delivery(&[&sink], Duration::from_secs(120))
        .await;
    let peak = rss_kib(pid).map_or(0, |(_, hwm)| hwm);
    let quarter = (samples.len() / 4).max(1);
    let warm_rss = samples[quarter..(2 * quarter).min(samples.len())]
        .iter()
        .map(|s| s.4)
        .max()
        .unwrap_or(0);
    let last_rss = samples[samples.len() - quarter..]
        .iter()
        .map(|s| s.4)
        .max()
        .unwrap_or(0);
    let (_, _, disk, live, _) = *samples.last().unwrap();
    let mut router = router;
    router.kill();
    let disk = dir_size(&data_dir).max(disk);
    let logical = {
        let store =
            hookroute::store::SledStore::open(&data_dir, Duration::from_secs(3600)).unwrap();
        store.logical_size().unwrap()
    };
    let ratio = disk as f64 / logical.max(1) as f64;
    eprintln!(
        "soak summary: {:?}, retention {:?}, answers {:?}; {report}; final disk {:.1} MiB for {:.1} MiB of logical data in the store ({ratio:.2}x; bodies alone {:.1} MiB); RSS second quarter peak {} KiB, last quarter peak {} KiB, VmHWM {peak} KiB",
        duration,
        retention,
        tally.statuses,
        disk as f64 / 1048576.0,
        logical as f64 / 1048576.0,
        live as f64 / 1048576.0,
        warm_rss,
        last_rss
    );
    report.assert_nothing_lost();
    assert!(
        last_rss as f64 <= warm_rss as f64 * 1.1 + 16.0 * 1024.0,
        "memory grows: second quarter peak {warm_rss} KiB, last quarter {last_rss} KiB"
    );
    assert!(
        ratio < 3.0,
        "disk use {ratio:.2}x the live data (limit 3x): sled's space amplification on the queue workload"
    );
}
