//! Reliability scenario 4, a flapping downstream: a raw loopback sink answers each delivery
//! attempt, in turn, with a 500, a connection reset, a 429 with `Retry-After: 1`, a 200 slower
//! than the target's timeout, a slow 200 within it, and a plain 200 (where in that cycle an
//! event starts depends on its id). Pass: every acknowledged event is delivered (a 2xx from the
//! sink), none unexpected, and no attempt after a 429 came before its `Retry-After` was up.
//! `HOOKROUTE_RELIABILITY=long` sends 1,000 events instead of 60.

mod common;

use common::checker::*;
use common::*;
use hookroute::config::{self, MapEnvironment};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SECRET: &str = "flapping_secret";
const TIMEOUT: Duration = Duration::from_millis(800);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    ServerError,
    Reset,
    TooManyRequests,
    TooSlow,
    Slow,
    Ok,
}

const CYCLE: [Answer; 6] = [
    Answer::ServerError,
    Answer::Reset,
    Answer::TooManyRequests,
    Answer::TooSlow,
    Answer::Slow,
    Answer::Ok,
];

#[derive(Debug, Clone)]
struct Attempt {
    at: Instant,
    event_id: String,
    answer: Answer,
}

/// Reads one HTTP/1.1 request (head and `Content-Length` body); returns the event id header.
async fn read_request(stream: &mut TcpStream) -> Option<(String, u32)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .map(|v| v.trim().to_string())
    };
    let len: usize = header("content-length")?.parse().ok()?;
    while buf.len() < head_end + len {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some((
        header("x-hookroute-event-id")?,
        header("x-hookroute-attempt")?.parse().ok()?,
    ))
}

/// The flapping sink: one connection per attempt matters little (keep-alive is honoured).
async fn flapping_sink(listener: TcpListener, log: Arc<Mutex<Vec<Attempt>>>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let log = log.clone();
        tokio::spawn(async move {
            while let Some((event_id, attempt)) = read_request(&mut stream).await {
                let seed = event_id.bytes().map(|b| b as usize).sum::<usize>();
                let answer = CYCLE[(seed + attempt as usize - 1) % CYCLE.len()];
                log.lock().unwrap().push(Attempt {
                    at: Instant::now(),
                    event_id,
                    answer,
                });
                let reply: &[u8] = match answer {
                    Answer::ServerError => b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n",
                    Answer::Reset => {
                        // Deprecated because a non-zero linger blocks on drop; zero resets at once.
                        #[allow(deprecated)]
                        let _ = stream.set_linger(Some(Duration::ZERO));
                        return; // dropped with SO_LINGER 0: the client sees a reset
                    }
                    Answer::TooManyRequests => b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 1\r\ncontent-length: 0\r\n\r\n",
                    Answer::TooSlow => {
                        tokio::time::sleep(TIMEOUT * 2).await;
                        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
                    }
                    Answer::Slow => {
                        tokio::time::sleep(TIMEOUT / 4).await;
                        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
                    }
                    Answer::Ok => b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
                };
                if stream.write_all(reply).await.is_err() {
                    return;
                }
            }
        });
    }
}

#[actix_web::test]
async fn a_flapping_sink_gets_every_event_and_retry_after_is_respected() {
    let events = scaled(60, 1000);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink_url = format!("http://{}", listener.local_addr().unwrap());
    let log: Arc<Mutex<Vec<Attempt>>> = Arc::default();
    tokio::spawn(flapping_sink(listener, log.clone()));

    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let path = dir.path().join("routes.yaml");
    let targets = format!(
        "  sink:\n    url: \"{sink_url}/hook\"\n    timeout: {}ms\n    concurrency: {}\n    retry: {{ initial_delay: 100ms, max_delay: 400ms, max_attempts: 20 }}\n",
        TIMEOUT.as_millis(),
        scaled(16, 64)
    );
    std::fs::write(&path, scenario_config(&data_dir, "", &targets)).unwrap();
    let cfg = Arc::new(
        config::load(&path, &MapEnvironment::default().with("IN_SECRET", SECRET)).unwrap(),
    );
    let router = RouterProcess::start(&path, &[("IN_SECRET", SECRET)]);
    let checker = Checker::new();
    let client = reqwest::Client::new();
    for n in 0..events {
        let id = format!("flap_{n}");
        let body = event_body(&id);
        checker.sent(&id);
        let (status, answer) = post(
            &client,
            &router.url("/in"),
            &body,
            &sign(&cfg, "/in", &body, &id),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        checker.acked(&id);
    }

    // Delivered = answered 2xx by the sink (the slow one within the timeout, or the plain one).
    let delivered = |attempts: &[Attempt]| {
        attempts
            .iter()
            .filter(|a| matches!(a.answer, Answer::Ok | Answer::Slow))
            .map(|a| a.event_id.clone())
            .collect::<std::collections::HashSet<_>>()
    };
    let deadline = Instant::now() + Duration::from_secs(scaled(60, 300));
    while delivered(&log.lock().unwrap()).len() < events && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let attempts = log.lock().unwrap().clone();
    for id in delivered(&attempts) {
        checker.record_delivery(&id);
    }
    let report = checker.report();
    report.assert_nothing_lost();

    // Retry-After: no attempt of an event within 1 s of its 429.
    let mut by_event: HashMap<&str, Vec<&Attempt>> = HashMap::new();
    for a in &attempts {
        by_event.entry(&a.event_id).or_default().push(a);
    }
    let mut early = Vec::new();
    let mut waits = Vec::new();
    for (id, list) in &by_event {
        for pair in list.windows(2) {
            if pair[0].answer == Answer::TooManyRequests {
                let waited = pair[1].at - pair[0].at;
                waits.push(waited);
                // 50 ms of slack for the sink's own clock reading.
                if waited + Duration::from_millis(50) < Duration::from_secs(1) {
                    early.push((id.to_string(), waited));
                }
            }
        }
    }
    let mut counts: HashMap<String, usize> = HashMap::new();
    for a in &attempts {
        *counts.entry(format!("{:?}", a.answer)).or_default() += 1;
    }
    eprintln!(
        "flapping sink: {events} events, {} attempts {counts:?}; {report}; {} retries after a 429, shortest wait {:?}, none early: {}",
        attempts.len(),
        waits.len(),
        waits.iter().min(),
        early.is_empty()
    );
    assert!(
        !waits.is_empty(),
        "no 429 was retried: the test exercised nothing"
    );
    assert!(
        early.is_empty(),
        "retried before Retry-After was up: {early:?}"
    );
}
