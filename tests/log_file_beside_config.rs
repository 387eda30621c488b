//! A log file in the config's own directory, with everything logged: the real binary runs with
//! `HOOKROUTE_LOG=trace` and its stderr written to `routes.log` beside `routes.yaml`, then sits
//! idle. Regression: every log line was a file event in the watched directory that the watcher
//! (and `notify` itself) logged again, a loop of 30 MB/s and a full core. The log must stay
//! still while nothing happens, and a change to the config must still be seen.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn wait_for_text(path: &std::path::Path, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(path)
        .unwrap_or_default()
        .contains(needle)
    {
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_idle_router_logging_at_trace_into_the_config_directory_does_not_feed_its_own_log() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("routes.yaml");
    let text = format!(
        "server: {{ listen: 127.0.0.1:0, workers: 1 }}\nstorage: {{ data_dir: {} }}\nadmin: {{ listen: 'off' }}\n{}",
        dir.path().join("data").display(),
        routes("  sink:\n    url: http://127.0.0.1:9/hook", &["sink"])
    );
    std::fs::write(&config, &text).unwrap();
    let log = dir.path().join("routes.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookroute"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("HOOKROUTE_LOG", "trace")
        .env("IN_SECRET", "loop-secret")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("binary starts");
    wait_for_text(&log, "listening on http://");
    // Past start-up (the first watch, the first reload check), then idle.
    std::thread::sleep(Duration::from_millis(1000));
    let before = size(&log);
    std::thread::sleep(Duration::from_secs(2));
    let grown = size(&log) - before;

    // The watcher still sees the config itself.
    write_by_rename(&config, &text.replace("name: all", "name: renamed"));
    wait_for_text(&log, "config reloaded");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        grown < 64 * 1024,
        "the idle router's log grew by {grown} bytes in 2 s; its tail:\n{}",
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
}
