//! Reliability scenario 3, disk full: the data directory sits on a small tmpfs (`size=`), the
//! real binary is loaded with padded events until the filesystem is nearly full. Pass: once the
//! router refuses, every answer is 503 with `Retry-After` (never a 2xx past the refresh slack);
//! the router keeps answering (no hang, no crash); after the filesystem is made bigger (a
//! remount, no data touched) ingest works again without a restart; a ballast file written by
//! someone else is refused the same way and its removal lets events in again; and every event
//! acknowledged before, during and after is delivered.
//!
//! sled 0.34 hangs (its writers block forever) once a write of its own gets ENOSPC, so the
//! router refuses below `storage.min_free_space` (here 8 MiB) before sled gets there: see
//! RELIABILITY.md.
//!
//! Needs permission to mount a tmpfs (root, or password-less sudo): without it the test fails
//! and says so. `HOOKROUTE_RELIABILITY=long` fills a 256 MiB filesystem instead of 24 MiB.

mod common;

use common::checker::*;
use common::*;
use hookroute::config::{self, MapEnvironment};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &str = "disk_full_secret";

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs {
    dir: PathBuf,
}

fn privileged(args: &[&str]) -> std::io::Result<std::process::Output> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    if root {
        Command::new(args[0]).args(&args[1..]).output()
    } else {
        Command::new("sudo").arg("-n").args(args).output()
    }
}

impl Tmpfs {
    fn mount(dir: &Path, size_mib: u64) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let options = format!("size={size_mib}m,mode=1777");
        let out = privileged(&[
            "mount",
            "-t",
            "tmpfs",
            "-o",
            &options,
            "tmpfs",
            &dir.display().to_string(),
        ])
        .expect("mount runs (util-linux; .ci/run installs it)");
        assert!(
            out.status.success(),
            "this test mounts a tmpfs and needs root or password-less sudo: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self {
            dir: dir.to_path_buf(),
        }
    }

    fn grow(&self, size_mib: u64) {
        let options = format!("remount,size={size_mib}m");
        let out = privileged(&["mount", "-o", &options, &self.dir.display().to_string()]).unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = privileged(&["umount", "-l", &self.dir.display().to_string()]);
    }
}

#[actix_web::test]
async fn a_full_disk_is_answered_503_and_everything_acknowledged_is_delivered_once_room_returns() {
    let size_mib = scaled(24, 256);
    let sink = Downstream::start(vec![Reply::status(200)]);
    let dir = tempfile::tempdir().unwrap();
    let fs = Tmpfs::mount(&dir.path().join("small"), size_mib);
    let data_dir = fs.dir.join("data");
    let path = dir.path().join("routes.yaml");
    let targets = format!(
        "  sink:\n    url: \"{}/hook\"\n    retry: {{ initial_delay: 100ms, max_delay: 1s, max_attempts: 1000 }}\n",
        sink.url
    );
    std::fs::write(
        &path,
        scenario_config(&data_dir, "  min_free_space: 8MiB\n", &targets),
    )
    .unwrap();
    let cfg = Arc::new(
        config::load(&path, &MapEnvironment::default().with("IN_SECRET", SECRET)).unwrap(),
    );
    let checker = Checker::new();
    let mut router = RouterProcess::start(&path, &[("IN_SECRET", SECRET)]);

    // Fill the disk.
    let mut spec = LoadSpec::new(router.url("/in"), "fill");
    spec.workers = 4;
    spec.padding = 16 * 1024;
    spec.stop_on_error = false;
    let load = Load::start(spec.clone(), cfg.clone(), checker.clone());
    let deadline = Instant::now() + Duration::from_secs(scaled(60, 300));
    while router.log_count("cannot store event") < 20 {
        assert!(
            Instant::now() < deadline,
            "the disk never filled up: {}",
            router.log.lock().unwrap().join("\n")
        );
        if let Ok(Some(status)) = router.child.try_wait() {
            panic!(
                "the router died when the disk filled up ({status}):\n{}",
                router.log.lock().unwrap().join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Keep knocking on the full disk for a while.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let full = load.stop().await;
    assert!(
        router.child.try_wait().unwrap().is_none(),
        "the router must survive ENOSPC"
    );
    let first_503 = full
        .log
        .iter()
        .position(|(_, s)| *s == 503)
        .expect("a full disk gives 503");
    let after: Vec<u16> = full.log[first_503..].iter().map(|(_, s)| *s).collect();
    let ok_after = after.iter().filter(|s| **s == 200).count();
    assert!(
        ok_after <= spec.workers,
        "{ok_after} events accepted after the first 503: the floor does not hold"
    );
    assert_eq!(full.missing_retry_after, 0, "every 503 has Retry-After");
    let others: Vec<_> = full
        .statuses
        .keys()
        .filter(|s| **s != 200 && **s != 503)
        .collect();
    assert!(others.is_empty(), "{:?}", full.statuses);
    assert_eq!(
        full.errors, 0,
        "no connection failed: the router kept answering"
    );
    let causes: Vec<String> = router
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("cannot store event"))
        .take(3)
        .cloned()
        .collect();

    // Still full: a single request now is a 503 too.
    let probe = |id: &str| {
        let body = event_body(id);
        let headers = sign(&cfg, "/in", &body, id);
        (body, headers)
    };
    let (body, headers) = probe("probe_full");
    checker.sent("probe_full");
    let (status, _) = post(&reqwest::Client::new(), &router.url("/in"), &body, &headers).await;
    assert_eq!(status, 503, "a full disk must not acknowledge");

    // Make room: the filesystem grows. Does the running store recover?
    fs.grow(size_mib * 4);
    let recovered_at = Instant::now();
    let mut recovered_without_restart = false;
    while recovered_at.elapsed() < Duration::from_secs(5) {
        let id = format!("probe_{}", recovered_at.elapsed().as_millis());
        let (body, headers) = probe(&id);
        checker.sent(&id);
        let (status, _) = post(&reqwest::Client::new(), &router.url("/in"), &body, &headers).await;
        if status == 200 {
            checker.acked(&id);
            recovered_without_restart = true;
            break;
        }
        assert_eq!(status, 503);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        recovered_without_restart,
        "the router must accept again once there is room, without a restart"
    );

    // Someone else fills the disk: a ballast file leaves less than the floor free.
    let free = {
        let out = Command::new("df")
            .args(["-B1", "--output=avail"])
            .arg(&fs.dir)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse::<u64>().ok())
            .unwrap()
    };
    let ballast = fs.dir.join("ballast");
    std::fs::write(&ballast, vec![0u8; (free - (4 << 20)) as usize]).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (body, headers) = probe("probe_ballast");
    checker.sent("probe_ballast");
    let (status, _) = post(&reqwest::Client::new(), &router.url("/in"), &body, &headers).await;
    assert_eq!(status, 503, "a disk filled by someone else is refused too");
    std::fs::remove_file(&ballast).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    spec.url = router.url("/in");
    spec.prefix = "after".into();
    spec.padding = 0;
    let load = Load::start(spec, cfg.clone(), checker.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_room = load.stop().await;
    assert!(after_room.count(200) > 0, "{:?}", after_room.statuses);

    let report = checker
        .wait_for_delivery(&[&sink], Duration::from_secs(60))
        .await;
    report.assert_nothing_lost();
    eprintln!(
        "disk full ({size_mib} MiB tmpfs, min_free_space 8 MiB): while filling {:?}, {ok_after} 2xx after the first 503, all 503 with Retry-After, router alive; accepted again after growing the filesystem, without a restart; a ballast file was refused and its removal let events in again ({:?}); {report}; first causes logged: {causes:#?}",
        full.statuses,
        after_room.statuses,
    );
}
