//! The reliability checker shared by the `rel_*` scenarios: a load generator that sends signed
//! events to a router and records every id it sent and every id the router acknowledged (2xx),
//! and a [`Checker`] that compares those with what the loopback sinks received. Its [`Report`]
//! says what was acknowledged but never delivered (lost: must be 0), what was delivered but
//! never sent (unexpected: must be 0), and how many deliveries were repeats (counted, allowed:
//! delivery is at-least-once).

use super::{sign, Downstream, Received};
use hookroute::config::Config;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Ids sent and acknowledged by the load generators, and deliveries seen by the sinks.
#[derive(Default)]
pub struct Checker {
    sent: Mutex<BTreeSet<String>>,
    acked: Mutex<BTreeSet<String>>,
    /// Event id -> how many times a sink received it.
    delivered: Mutex<HashMap<String, usize>>,
}

/// What a [`Checker`] found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub sent: usize,
    pub acked: usize,
    pub deliveries: usize,
    pub delivered_distinct: usize,
    /// Acknowledged (2xx) but never delivered.
    pub lost: Vec<String>,
    /// Delivered but never sent by any load generator.
    pub unexpected: Vec<String>,
    /// Deliveries beyond the first of each event.
    pub duplicates: usize,
    /// Sent, not acknowledged (the answer was lost in a crash, or was a 503), yet delivered:
    /// allowed, since the router may have stored it just before it died.
    pub delivered_unacked: usize,
}

impl Checker {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    pub fn sent(&self, id: &str) {
        self.sent.lock().unwrap().insert(id.to_string());
    }

    pub fn acked(&self, id: &str) {
        self.acked.lock().unwrap().insert(id.to_string());
    }

    pub fn acked_ids(&self) -> Vec<String> {
        self.acked.lock().unwrap().iter().cloned().collect()
    }

    pub fn acked_count(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    /// Counts one delivery of `id` seen by a sink that is not a [`Downstream`].
    pub fn record_delivery(&self, id: &str) {
        *self
            .delivered
            .lock()
            .unwrap()
            .entry(id.to_string())
            .or_default() += 1;
    }

    /// Replaces the deliveries seen with everything the sinks have received so far (a sink
    /// keeps its whole history, so this is idempotent).
    pub fn observe(&self, sinks: &[&Downstream]) {
        let mut delivered = HashMap::new();
        for sink in sinks {
            for r in sink.received() {
                if let Some(id) = delivered_event_id(&r) {
                    *delivered.entry(id).or_insert(0) += 1;
                }
            }
        }
        *self.delivered.lock().unwrap() = delivered;
    }

    pub fn report(&self) -> Report {
        let sent = self.sent.lock().unwrap();
        let acked = self.acked.lock().unwrap();
        let delivered = self.delivered.lock().unwrap();
        let mut unexpected: Vec<String> = delivered
            .keys()
            .filter(|id| !sent.contains(*id))
            .cloned()
            .collect();
        unexpected.sort();
        Report {
            sent: sent.len(),
            acked: acked.len(),
            deliveries: delivered.values().sum(),
            delivered_distinct: delivered.len(),
            lost: acked
                .iter()
                .filter(|id| !delivered.contains_key(*id))
                .cloned()
                .collect(),
            unexpected,
            duplicates: delivered.values().map(|n| n - 1).sum(),
            delivered_unacked: delivered
                .keys()
                .filter(|id| sent.contains(*id) && !acked.contains(*id))
                .count(),
        }
    }

    /// Observes the sinks until every acknowledged event was delivered, or `timeout` passes;
    /// returns the last report either way (assert on it).
    pub async fn wait_for_delivery(&self, sinks: &[&Downstream], timeout: Duration) -> Report {
        let deadline = Instant::now() + timeout;
        loop {
            self.observe(sinks);
            let report = self.report();
            if report.lost.is_empty() || Instant::now() >= deadline {
                return report;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The event id of a delivery: the `x-hookroute-event-id` header, else the body's `id`.
pub fn delivered_event_id(r: &Received) -> Option<String> {
    r.header("x-hookroute-event-id")
        .map(str::to_string)
        .or_else(|| {
            serde_json::from_slice::<serde_json::Value>(&r.body)
                .ok()?
                .get("id")?
                .as_str()
                .map(str::to_string)
        })
}

impl Report {
    /// Panics, listing the ids, if anything acknowledged was not delivered or anything
    /// delivered was never sent.
    pub fn assert_nothing_lost(&self) {
        let show = |ids: &[String]| ids.iter().take(20).cloned().collect::<Vec<_>>().join(", ");
        assert!(
            self.lost.is_empty() && self.unexpected.is_empty(),
            "reliability check failed: {} acknowledged but never delivered [{}{}]; {} delivered but never sent [{}{}] ({self})",
            self.lost.len(),
            show(&self.lost),
            if self.lost.len() > 20 { ", ..." } else { "" },
            self.unexpected.len(),
            show(&self.unexpected),
            if self.unexpected.len() > 20 { ", ..." } else { "" },
        );
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sent {}, acknowledged {}, delivered {} distinct in {} deliveries, lost {}, unexpected {}, duplicates {}, delivered-but-unacknowledged {}",
            self.sent,
            self.acked,
            self.delivered_distinct,
            self.deliveries,
            self.lost.len(),
            self.unexpected.len(),
            self.duplicates,
            self.delivered_unacked
        )
    }
}

/// The JSON body of event `id` (as the `/in` endpoint of [`super::routes`] expects it).
pub fn event_body(id: &str) -> Vec<u8> {
    format!(r#"{{"id":"{id}","type":"rel.test","data":{{"n":"{id}"}}}}"#).into_bytes()
}

/// Answers one load generator worker saw.
#[derive(Debug, Clone, Default)]
pub struct LoadTally {
    /// Status -> count.
    pub statuses: HashMap<u16, usize>,
    /// 503 answers without a `Retry-After` header.
    pub missing_retry_after: usize,
    /// Requests that got no answer (connection refused or reset).
    pub errors: usize,
    /// Every answer in order, with when it came.
    pub log: Vec<(Instant, u16)>,
    /// Answer latencies of the 2xx answers.
    pub latencies: Vec<Duration>,
}

impl LoadTally {
    pub fn merge(tallies: Vec<LoadTally>) -> LoadTally {
        let mut all = LoadTally::default();
        for t in tallies {
            for (s, n) in t.statuses {
                *all.statuses.entry(s).or_default() += n;
            }
            all.missing_retry_after += t.missing_retry_after;
            all.errors += t.errors;
            all.log.extend(t.log);
            all.latencies.extend(t.latencies);
        }
        all.log.sort_by_key(|(at, _)| *at);
        all
    }

    pub fn count(&self, status: u16) -> usize {
        self.statuses.get(&status).copied().unwrap_or(0)
    }
}

/// Options of a [`Load`].
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Full URL of the endpoint (signed as `path` of the config).
    pub url: String,
    pub path: String,
    pub workers: usize,
    /// Prefix of the event ids: `{prefix}_{worker}_{n}`.
    pub prefix: String,
    /// Pause between one worker's requests (`ZERO`: as fast as answers come).
    pub pause: Duration,
    /// Stop a worker at its first connection error (the router was killed) instead of retrying.
    pub stop_on_error: bool,
    /// Extra bytes of padding in each body, to fill a disk faster.
    pub padding: usize,
}

impl LoadSpec {
    pub fn new(url: String, prefix: &str) -> Self {
        Self {
            url,
            path: "/in".into(),
            workers: 8,
            prefix: prefix.into(),
            pause: Duration::ZERO,
            stop_on_error: true,
            padding: 0,
        }
    }
}

/// Signed load against a router, until [`Load::stop`]. Every id is recorded as sent before it
/// is sent, and as acknowledged once a 2xx came back.
pub struct Load {
    stop: Arc<AtomicBool>,
    workers: Vec<tokio::task::JoinHandle<LoadTally>>,
}

impl Load {
    pub fn start(spec: LoadSpec, config: Arc<Config>, checker: Arc<Checker>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let workers = (0..spec.workers)
            .map(|w| {
                let (spec, config, checker, stop, client) = (
                    spec.clone(),
                    config.clone(),
                    checker.clone(),
                    stop.clone(),
                    client.clone(),
                );
                tokio::spawn(async move {
                    let mut tally = LoadTally::default();
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let id = format!("{}_{w}_{n}", spec.prefix);
                        n += 1;
                        let mut body = event_body(&id);
                        if spec.padding > 0 {
                            body.truncate(body.len() - 1);
                            body.extend_from_slice(
                                format!(r#","pad":"{}"}}"#, "x".repeat(spec.padding)).as_bytes(),
                            );
                        }
                        let headers = sign(&config, &spec.path, &body, &id);
                        let mut req = client
                            .post(&spec.url)
                            .header("content-type", "application/json")
                            .body(body);
                        for (k, v) in &headers {
                            req = req.header(k.as_str(), v.as_str());
                        }
                        checker.sent(&id);
                        let started = Instant::now();
                        match req.send().await {
                            Ok(resp) => {
                                let status = resp.status().as_u16();
                                if resp.status().is_success() {
                                    checker.acked(&id);
                                    tally.latencies.push(started.elapsed());
                                }
                                if status == 503 && resp.headers().get("retry-after").is_none() {
                                    tally.missing_retry_after += 1;
                                }
                                *tally.statuses.entry(status).or_default() += 1;
                                tally.log.push((Instant::now(), status));
                                let _ = resp.bytes().await;
                            }
                            Err(_) => {
                                tally.errors += 1;
                                if spec.stop_on_error {
                                    break;
                                }
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                        }
                        if !spec.pause.is_zero() {
                            tokio::time::sleep(spec.pause).await;
                        }
                    }
                    tally
                })
            })
            .collect();
        Self { stop, workers }
    }

    pub async fn stop(self) -> LoadTally {
        self.stop.store(true, Ordering::Relaxed);
        let mut tallies = Vec::new();
        for w in self.workers {
            tallies.push(w.await.unwrap());
        }
        LoadTally::merge(tallies)
    }
}

/// The 99th percentile of `latencies` (zero when empty).
pub fn p99(latencies: &[Duration]) -> Duration {
    percentile(latencies, 0.99)
}

pub fn percentile(latencies: &[Duration], q: f64) -> Duration {
    if latencies.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = latencies.to_vec();
    sorted.sort();
    let idx = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx]
}

/// Whether the long versions of the scenarios run (`HOOKROUTE_RELIABILITY=long`).
pub fn long_run() -> bool {
    std::env::var("HOOKROUTE_RELIABILITY").is_ok_and(|v| v == "long")
}

/// `short` in the normal suite, `long` when [`long_run`].
pub fn scaled<T>(short: T, long: T) -> T {
    if long_run() {
        long
    } else {
        short
    }
}

/// A router config for the scenarios: server on port 0, `data_dir`, admin off, `extra` (more
/// YAML under `storage:`, indented by four spaces, or empty), then `/in` forwarding to the
/// targets (see [`super::routes`]).
pub fn scenario_config(data_dir: &std::path::Path, storage_extra: &str, targets: &str) -> String {
    let names: Vec<&str> = targets
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   ") && l.trim_end().ends_with(':'))
        .map(|l| l.trim().trim_end_matches(':'))
        .collect();
    format!(
        "server: {{ listen: \"127.0.0.1:0\" }}\nstorage:\n  data_dir: \"{}\"\n{storage_extra}admin: {{ listen: \"off\" }}\n{}",
        data_dir.display(),
        super::routes(targets, &names)
    )
}

/// Resident set size now and at its peak (`VmRSS`, `VmHWM` of /proc/PID/status), in KiB.
pub fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Bytes used by the files under `dir`.
pub fn dir_size(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
