//! Reliability scenario 6, hostile input against the real binary, while a well-behaved client
//! sends signed events in parallel and measures its latency. Each case must get its status:
//! declared oversized bodies 413 before the body is sent, streamed (chunked) oversized bodies
//! 413 without being read whole, clients trickling their head or body 408 after
//! `request_timeout` with the connection closed, invalid JSON and invalid UTF-8 400, missing,
//! empty, malformed and huge signature headers 401, timestamps far in the past and future 401,
//! and 100 concurrent copies of one signed request stored once (one `accepted`, the rest
//! `duplicate`, one delivery). Pass also: the router never dies, and the well-behaved client's
//! p99 stays under 500 ms; in the normal suite (2 shared cores, debug build) that bound is
//! asserted at 2 s and the figure reported; `HOOKROUTE_RELIABILITY=long` asserts 500 ms and
//! repeats the hostile rounds 10 times.

mod common;

use common::checker::*;
use common::*;
use hookroute::config::{self, Config, MapEnvironment};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SECRET: &str = "hostile_secret";
const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

fn config_text(data_dir: &std::path::Path, sink: &str) -> String {
    let base = scenario_config(
        data_dir,
        "",
        &format!("  sink:\n    url: \"{sink}/hook\"\n"),
    )
    .replace(
        "server: { listen: \"127.0.0.1:0\" }",
        "server: { listen: \"127.0.0.1:0\", max_body_size: 64KiB, request_timeout: 1s }",
    );
    format!(
        r#"{base}
  - path: /standard
    name: standard
    verify: {{ provider: standard-webhooks, secrets: [{{ env: STANDARD_SECRET }}] }}
    rules:
      - forward: [sink]
"#
    )
}

/// Sends raw bytes, then reads the answer until the server closes or `wait` passes; returns
/// the status (0 if none) and whether the server closed the connection.
async fn raw_exchange(addr: &str, parts: &[(&[u8], Duration)], wait: Duration) -> (u16, bool) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    for (bytes, pause) in parts {
        if stream.write_all(bytes).await.is_err() {
            break; // the server already answered and closed
        }
        tokio::time::sleep(*pause).await;
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match tokio::time::timeout(wait, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    let status = String::from_utf8_lossy(&answer)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, closed)
}

struct Case {
    name: &'static str,
    expected: u16,
    got: u16,
}

async fn signed_post(
    client: &reqwest::Client,
    url: &str,
    body: &[u8],
    headers: Vec<(String, String)>,
) -> (u16, serde_json::Value) {
    post(client, url, body, &headers).await
}

/// One round of every hostile case; returns what each got.
async fn hostile_round(addr: &str, cfg: &Config, round: usize) -> Vec<Case> {
    let client = reqwest::Client::new();
    let url = |p: &str| format!("http://{addr}{p}");
    let mut cases = Vec::new();
    let mut case = |name, expected, got| {
        cases.push(Case {
            name,
            expected,
            got,
        })
    };

    // 413: a declared 10 MiB body is refused from its head; only 1 KiB is ever sent.
    let head = "POST /in HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 10485760\r\n\r\n";
    let (status, _) = raw_exchange(
        addr,
        &[
            (head.as_bytes(), Duration::ZERO),
            (&[b'x'; 1024], Duration::ZERO),
        ],
        Duration::from_secs(5),
    )
    .await;
    case("declared oversized body", 413, status);

    // 413: a chunked body with no length, refused once past the limit (1 MiB offered).
    let head = "POST /in HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
    let chunk = format!("4000\r\n{}\r\n", "x".repeat(0x4000));
    let mut parts: Vec<(&[u8], Duration)> = vec![(head.as_bytes(), Duration::ZERO)];
    for _ in 0..64 {
        parts.push((chunk.as_bytes(), Duration::ZERO));
    }
    let (status, _) = raw_exchange(addr, &parts, Duration::from_secs(5)).await;
    case("streamed oversized body", 413, status);

    // 408: a body trickled one byte every 300 ms; the connection is closed after the answer.
    let head = "POST /in HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n";
    let mut parts: Vec<(&[u8], Duration)> = vec![(head.as_bytes(), Duration::ZERO)];
    for _ in 0..8 {
        parts.push((b"x", Duration::from_millis(300)));
    }
    let started = Instant::now();
    let (status, closed) = raw_exchange(addr, &parts, Duration::from_secs(5)).await;
    case("trickled body", 408, status);
    assert!(closed, "the slow client's connection must be freed");
    assert!(started.elapsed() < REQUEST_TIMEOUT * 5);

    // 408: a head trickled byte by byte (slowloris).
    let head = b"POST /in HTTP/1.1\r\nhost: x\r\n";
    let parts: Vec<(&[u8], Duration)> = head
        .chunks(1)
        .map(|c| (c, Duration::from_millis(100)))
        .collect();
    let (status, closed) = raw_exchange(addr, &parts, Duration::from_secs(5)).await;
    case("trickled head", 408, status);
    assert!(closed, "the slowloris connection must be freed");

    // 400: signed, but not JSON / not UTF-8.
    for (name, body) in [
        ("invalid JSON", b"{\"id\": \"x\",".to_vec()),
        ("invalid UTF-8", b"{\"id\": \"\xff\xfe\"}".to_vec()),
    ] {
        let headers = sign(cfg, "/in", &body, "x");
        let (status, _) = signed_post(&client, &url("/in"), &body, headers).await;
        case(name, 400, status);
    }

    // 401: signatures missing, empty, malformed, huge, wrong.
    let body = event_body(&format!("hostile_sig_{round}"));
    for (name, value) in [
        ("empty signature", String::new()),
        ("signature without prefix", "deadbeef".into()),
        ("signature not hex", "x-sha256=zzzz".into()),
        ("huge signature", format!("x-sha256={}", "a".repeat(8000))),
        ("wrong signature", format!("x-sha256={}", "0".repeat(64))),
    ] {
        let (status, _) = signed_post(
            &client,
            &url("/in"),
            &body,
            vec![("x-signature".into(), value)],
        )
        .await;
        case(name, 401, status);
    }
    let (status, _) = signed_post(&client, &url("/in"), &body, vec![]).await;
    case("missing signature", 401, status);

    // 401: timestamps an hour old, an hour ahead, and nonsense.
    let id = format!("msg_hostile_{round}");
    let body = br#"{"type":"t"}"#;
    for (name, at) in [("stale timestamp", -3600), ("future timestamp", 3600)] {
        let headers = sign_at(cfg, "/standard", body, &id, now_secs() + at, 0);
        let (status, _) = signed_post(&client, &url("/standard"), body, headers).await;
        case(name, 401, status);
    }
    let mut headers = sign(cfg, "/standard", body, &id);
    for (k, v) in headers.iter_mut() {
        if k.eq_ignore_ascii_case("webhook-timestamp") {
            *v = "99999999999999999999999".into();
        }
    }
    let (status, _) = signed_post(&client, &url("/standard"), body, headers).await;
    case("overflowing timestamp", 401, status);
    cases
}

#[actix_web::test]
async fn hostile_input_gets_the_right_answers_and_leaves_other_clients_fast() {
    let sink = Downstream::start(vec![Reply::status(200)]);
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let path = dir.path().join("routes.yaml");
    std::fs::write(&path, config_text(&data_dir, &sink.url)).unwrap();
    let env = MapEnvironment::default()
        .with("IN_SECRET", SECRET)
        .with("STANDARD_SECRET", STANDARD_SECRET);
    let cfg = Arc::new(config::load(&path, &env).unwrap());
    let mut router = RouterProcess::start(
        &path,
        &[("IN_SECRET", SECRET), ("STANDARD_SECRET", STANDARD_SECRET)],
    );
    let checker = Checker::new();
    let mut spec = LoadSpec::new(router.url("/in"), "good");
    spec.workers = 2;
    spec.pause = Duration::from_millis(20);
    let good = Load::start(spec, cfg.clone(), checker.clone());

    let rounds = scaled(1, 10);
    let mut wrong = Vec::new();
    let mut total = 0;
    for round in 0..rounds {
        for c in hostile_round(&router.addr, &cfg, round).await {
            total += 1;
            if c.got != c.expected {
                wrong.push(format!(
                    "{}: expected {}, got {}",
                    c.name, c.expected, c.got
                ));
            }
        }
    }

    // 100 concurrent copies of one signed request: stored once.
    let id = "replayed_once";
    let body = event_body(id);
    let headers = sign(&cfg, "/in", &body, id);
    checker.sent(id);
    let client = reqwest::Client::new();
    let replays: Vec<_> = (0..100)
        .map(|_| {
            let (client, url, body, headers) = (
                client.clone(),
                router.url("/in"),
                body.clone(),
                headers.clone(),
            );
            tokio::spawn(async move { post(&client, &url, &body, &headers).await })
        })
        .collect();
    let mut outcomes = std::collections::HashMap::<String, usize>::new();
    for r in replays {
        let (status, answer) = r.await.unwrap();
        assert_eq!(status, 200, "{answer}");
        *outcomes
            .entry(answer["status"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    checker.acked(id);
    assert_eq!(outcomes.get("accepted"), Some(&1), "{outcomes:?}");
    assert_eq!(outcomes.get("duplicate"), Some(&99), "{outcomes:?}");

    let tally = good.stop().await;
    assert!(
        router.child.try_wait().unwrap().is_none(),
        "the router died under hostile input"
    );
    assert!(
        router.log_count("panicked") == 0,
        "a panic was logged: {}",
        router.log.lock().unwrap().join("\n")
    );
    let report = checker
        .wait_for_delivery(&[&sink], Duration::from_secs(30))
        .await;
    report.assert_nothing_lost();
    let replayed_deliveries = sink
        .received()
        .iter()
        .filter(|r| delivered_event_id(r).as_deref() == Some(id))
        .count();
    assert_eq!(replayed_deliveries, 1, "the replayed event is stored once");
    let p99 = p99(&tally.latencies);
    eprintln!(
        "hostile input: {rounds} round(s), {total} hostile requests, {} wrong; 100 concurrent replays -> {outcomes:?}, delivered once; well-behaved client: {} events, answers {:?}, p50 {:?}, p99 {p99:?}, max {:?}; {report}",
        wrong.len(),
        tally.latencies.len(),
        tally.statuses,
        percentile(&tally.latencies, 0.5),
        tally.latencies.iter().max()
    );
    assert!(wrong.is_empty(), "wrong answers: {wrong:#?}");
    assert_eq!(
        tally.statuses.keys().copied().collect::<Vec<_>>(),
        vec![200],
        "the well-behaved client got only 200s"
    );
    let bound = if long_run() {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(2)
    };
    assert!(p99 < bound, "well-behaved p99 {p99:?} over {bound:?}");
    router.kill();
}
