//! Reliability scenario 2, fsync before ack: the real binary runs under `strace -f`, signed load
//! is sent, and the trace is checked: every 2xx response written to a socket must follow a
//! completed `fdatasync`/`fsync` of the store's data file (`<data_dir>/db`) that *started after*
//! the last read of that request from the same socket, and finished before the response was
//! written. Pass: 100% of the 2xx answers, and as many matched as the load generator counted.
//!
//! Needs strace (`apt-get install -y strace`; `.ci/run` installs it): without it the test fails
//! and says so. `HOOKROUTE_RELIABILITY=long` runs the load for 30 s instead of 2 s.

mod common;

use common::checker::*;
use common::*;
use hookroute::config::{self, MapEnvironment};
use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const SECRET: &str = "fsync_secret";

/// One system call from the trace, with its unfinished/resumed halves joined.
#[derive(Debug, Clone)]
struct Call {
    name: String,
    /// The fd as `strace -y` prints it: `30<socket:[1266641]>`, `9</tmp/x/data/db>`.
    fd: String,
    start: f64,
    end: f64,
    ret: i64,
    text: String,
}

/// Parses `strace -f -ttt -T -y` output (lines `PID SECONDS CALL`).
fn parse_trace(trace: &str) -> Vec<Call> {
    let mut pending: HashMap<(String, String), (f64, String)> = HashMap::new();
    let mut calls = Vec::new();
    for line in trace.lines() {
        // `PID TIMESTAMP CALL`: strace pads the pid column, so the gap is one space or more.
        let Some((pid, rest)) = line.trim_start().split_once(' ') else {
            continue;
        };
        let Some((ts, rest)) = rest.trim_start().split_once(' ') else {
            continue;
        };
        let Ok(ts) = ts.parse::<f64>() else { continue };
        let (name, start, text) = if let Some(resumed) = rest.strip_prefix("<... ") {
            let Some((name, tail)) = resumed.split_once(" resumed>") else {
                continue;
            };
            let Some((start, head)) = pending.remove(&(pid.to_string(), name.to_string())) else {
                continue;
            };
            (name.to_string(), start, format!("{head}{tail}"))
        } else if let Some(head) = rest.strip_suffix(" <unfinished ...>") {
            let Some((name, _)) = head.split_once('(') else {
                continue;
            };
            pending.insert((pid.to_string(), name.to_string()), (ts, head.to_string()));
            continue;
        } else {
            let Some((name, _)) = rest.split_once('(') else {
                continue;
            };
            (name.to_string(), ts, rest.to_string())
        };
        // `... = RET <DURATION>`
        let Some((_, result)) = text.rsplit_once(") = ") else {
            continue;
        };
        let ret = result
            .split_whitespace()
            .next()
            .and_then(|r| r.parse::<i64>().ok())
            .unwrap_or(-1);
        let duration = result
            .rsplit_once('<')
            .and_then(|(_, d)| d.trim_end_matches('>').parse::<f64>().ok())
            .unwrap_or(0.0);
        let args = text.split_once('(').map_or("", |(_, a)| a);
        let fd = args
            .find(">,")
            .or_else(|| args.find(">)"))
            .map_or("", |i| &args[..=i])
            .to_string();
        calls.push(Call {
            name,
            fd,
            start,
            end: start + duration,
            ret,
            text,
        });
    }
    calls.sort_by(|a, b| a.start.total_cmp(&b.start));
    calls
}

#[derive(Debug, Default)]
struct SyncCheck {
    responses_2xx: usize,
    preceded_by_sync: usize,
    syncs: usize,
    /// Responses with no qualifying sync: (socket, time).
    unsynced: Vec<(String, f64)>,
}

fn check_sync_before_ack(calls: &[Call], store_file: &str) -> SyncCheck {
    let is_socket = |c: &Call| c.fd.contains("<socket:") || c.fd.contains("<TCP");
    let syncs: Vec<&Call> = calls
        .iter()
        .filter(|c| {
            (c.name == "fdatasync" || c.name == "fsync") && c.ret == 0 && c.fd.contains(store_file)
        })
        .collect();
    let mut last_read: HashMap<&str, f64> = HashMap::new();
    let mut check = SyncCheck {
        syncs: syncs.len(),
        ..Default::default()
    };
    // Calls are in start order; a response's request was read (completed) before it started.
    let mut events: Vec<&Call> = calls.iter().filter(|c| is_socket(c)).collect();
    events.sort_by(|a, b| a.start.total_cmp(&b.start));
    for c in events {
        match c.name.as_str() {
            "read" | "recvfrom" | "recvmsg" | "readv" if c.ret > 0 => {
                let at = last_read.entry(c.fd.as_str()).or_insert(0.0);
                *at = at.max(c.end);
            }
            "write" | "writev" | "sendto" | "sendmsg" if c.text.contains("\"HTTP/1.1 2") => {
                check.responses_2xx += 1;
                let read_done = last_read.get(c.fd.as_str()).copied().unwrap_or(f64::MAX);
                if syncs
                    .iter()
                    .any(|s| s.start >= read_done && s.end <= c.start)
                {
                    check.preceded_by_sync += 1;
                } else {
                    check.unsynced.push((c.fd.clone(), c.start));
                }
            }
            _ => {}
        }
    }
    check
}

fn strace_available() -> bool {
    Command::new("strace")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[actix_web::test]
async fn every_2xx_is_preceded_by_an_fsync_of_the_store_that_started_after_its_request() {
    assert!(
        strace_available(),
        "this test needs strace: install it (apt-get install -y strace; .ci/run does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let config_dir = dir.path().join("config");
    std::fs::create_dir(&config_dir).unwrap();
    let data_dir = dir.path().join("data");
    let path = config_dir.join("routes.yaml");
    // The trace lives outside the watched config directory.
    let trace_path = dir.path().join("trace.txt");
    let sink = Downstream::start(vec![Reply::status(200)]);
    let targets = format!("  sink:\n    url: \"{}/hook\"\n", sink.url);
    std::fs::write(&path, scenario_config(&data_dir, "", &targets)).unwrap();
    let cfg = Arc::new(
        config::load(&path, &MapEnvironment::default().with("IN_SECRET", SECRET)).unwrap(),
    );
    let trace_arg = trace_path.display().to_string();
    let strace = [
        "strace",
        "-f",
        "-qq",
        "-ttt",
        "-T",
        "-y",
        "-s",
        "24",
        "-e",
        "trace=read,recvfrom,recvmsg,readv,write,writev,sendto,sendmsg,fdatasync,fsync",
        "-o",
        &trace_arg,
    ];
    let mut router = RouterProcess::spawn(RouterProcess::serve_command(
        Some(&strace),
        &path,
        &[("IN_SECRET", SECRET)],
    ));
    let checker = Checker::new();
    let mut spec = LoadSpec::new(router.url("/in"), "fsync");
    spec.workers = 8;
    let load = Load::start(spec, cfg.clone(), checker.clone());
    tokio::time::sleep(Duration::from_secs(scaled(2, 30))).await;
    let tally = load.stop().await;
    // SIGTERM the router itself (a killed strace would leave it running, detached).
    let strace_pid = router.child.id();
    let children =
        std::fs::read_to_string(format!("/proc/{strace_pid}/task/{strace_pid}/children"))
            .unwrap_or_default();
    for pid in children.split_whitespace() {
        let _ = Command::new("kill").arg("-TERM").arg(pid).status();
    }
    let _ = router.child.wait();
    router.kill();

    let trace = std::fs::read_to_string(&trace_path).expect("strace wrote its trace");
    let calls = parse_trace(&trace);
    let store_file = format!("{}>", data_dir.join("db").display());
    let check = check_sync_before_ack(&calls, &store_file);
    eprintln!(
        "fsync before ack: {} 2xx answers counted by the client, {} 2xx responses in the trace, {} preceded by a completed sync of {store_file} that started after the request was read ({:.1}%), {} syncs in all",
        tally.count(200),
        check.responses_2xx,
        check.preceded_by_sync,
        100.0 * check.preceded_by_sync as f64 / check.responses_2xx.max(1) as f64,
        check.syncs
    );
    assert!(tally.count(200) > 0, "nothing acknowledged: {tally:?}");
    assert_eq!(
        check.responses_2xx,
        tally.count(200),
        "the trace must show every 2xx the client got"
    );
    assert!(
        check.unsynced.is_empty(),
        "{} 2xx answers without an fsync after their request: {:?}",
        check.unsynced.len(),
        &check.unsynced[..check.unsynced.len().min(10)]
    );
}

#[test]
fn the_trace_parser_joins_unfinished_calls_and_finds_a_missing_sync() {
    // strace pads short pids (`10   100.0...`): the parser must not count on one space.
    let trace = r#"10   100.000000 recvfrom(7<socket:[1]>, "POST /in HTTP/1.1\r\n"..., 8192, 0, NULL, NULL) = 176 <0.000010>
11  100.000100 fdatasync(9</d/db> <unfinished ...>
10 100.000200 recvfrom(8<socket:[2]>, "POST /in HTTP/1.1\r\n"..., 8192, 0, NULL, NULL) = 176 <0.000010>
11 100.000500 <... fdatasync resumed>) = 0 <0.000400>
10 100.000600 sendto(7<socket:[1]>, "HTTP/1.1 200 OK\r\n"..., 160, MSG_NOSIGNAL, NULL, 0) = 160 <0.000010>
10 100.000700 sendto(8<socket:[2]>, "HTTP/1.1 200 OK\r\n"..., 160, MSG_NOSIGNAL, NULL, 0) = 160 <0.000010>
"#;
    let calls = parse_trace(trace);
    assert_eq!(calls.len(), 5);
    let check = check_sync_before_ack(&calls, "/d/db>");
    assert_eq!(check.responses_2xx, 2);
    // Socket 1's request was read before the sync began: covered. Socket 2's request arrived
    // after the sync had started: that sync cannot cover it.
    assert_eq!(check.preceded_by_sync, 1);
    assert_eq!(check.unsynced.len(), 1);
    assert!(check.unsynced[0].0.contains("socket:[2]"));
}
