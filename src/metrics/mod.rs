//! What the router tells Prometheus: one [`Metrics`] per application (never a global recorder,
//! so several routers in one test process keep their own counts), handed by `Arc` to the
//! ingress, the dispatcher and the store, and rendered on the admin listener's `/metrics` in
//! the OpenMetrics text format (which Prometheus scrapes natively).
//!
//! DECISION: `prometheus-client` (the Prometheus project's own Rust client): a registry is a
//! plain value, label sets are typed structs, and it has no global state and no HTTP server of
//! its own. Counters are counted where things happen (one call per request at the handler edge,
//! one per recorded attempt, one per commit batch); gauges that mirror state (queue depth, dead
//! letters, reload counts, store size) are sampled at scrape time from state kept up to date in
//! memory, so a scrape never scans the queue. Series of every configured endpoint and target
//! are created at zero on each scrape; an endpoint or target removed by a reload keeps its
//! series (bounded by what was ever configured) so counters never go backwards mid-process.

pub mod labels;

pub use labels::{DeliveryOutcome, RejectReason, RequestOutcome};

use crate::config::Config;
use crate::reload::ReloadStatus;
use crate::store::TargetJobs;
use labels::*;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;
type FloatGauge = Gauge<f64, AtomicU64>;

const INGEST_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const ATTEMPT_BUCKETS: [f64; 13] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

fn ingest_histogram() -> Histogram {
    Histogram::new(INGEST_BUCKETS)
}

fn attempt_histogram() -> Histogram {
    Histogram::new(ATTEMPT_BUCKETS)
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    ingest_seconds: HistogramFamily<EndpointLabels>,
    deliveries: Family<DeliveryLabels, Counter>,
    attempt_seconds: HistogramFamily<TargetLabels>,
    queue_depth: Family<TargetLabels, Gauge>,
    oldest_due_age: Family<TargetLabels, FloatGauge>,
    dead_letters: Family<TargetLabels, Gauge>,
    reloads: Family<ReloadLabels, Counter>,
    last_reload_success: FloatGauge,
    store_size: Gauge,
    commit_batch_size: Histogram,
    pruned: Family<PrunedLabels, Counter>,
    dispatcher_tick: FloatGauge,
    breaker: Family<BreakerLabels, Gauge>,
    /// Per target, its breaker's state word (`closed` when absent).
    breaker_states: Mutex<HashMap<Arc<str>, &'static str>>,
    /// When the dispatcher last stepped (unix ms): `/readyz` wants it recent.
    dispatcher_tick_ms: AtomicU64,
    /// Per target, the oldest due job's due time seen by the dispatcher's last scan.
    oldest_due_ms: Mutex<HashMap<Arc<str>, u64>>,
    /// One scrape at a time: scrapes turn totals kept elsewhere into counter increments.
    scrape: Mutex<()>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("hookroute");
        let m = Self {
            requests: Family::default(),
            ingest_seconds: Family::new_with_constructor(ingest_histogram),
            deliveries: Family::default(),
            attempt_seconds: Family::new_with_constructor(attempt_histogram),
            queue_depth: Family::default(),
            oldest_due_age: Family::default(),
            dead_letters: Family::default(),
            reloads: Family::default(),
            last_reload_success: FloatGauge::default(),
            store_size: Gauge::default(),
            commit_batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
            pruned: Family::default(),
            dispatcher_tick: FloatGauge::default(),
            dispatcher_tick_ms: AtomicU64::new(0),
            breaker: Family::default(),
            breaker_states: Mutex::default(),
            oldest_due_ms: Mutex::default(),
            scrape: Mutex::default(),
            registry: Registry::default(),
        };
        registry.register(
            "requests",
            "Webhook requests on configured endpoints, by outcome (and reason when rejected)",
            m.requests.clone(),
        );
        registry.register(
            "ingest_duration_seconds",
            "Time from a request's arrival to its answer, body read and event durable included",
            m.ingest_seconds.clone(),
        );
        registry.register(
            "deliveries",
            "Recorded delivery attempts by target and what they led to",
            m.deliveries.clone(),
        );
        registry.register(
            "delivery_attempt_duration_seconds",
            "Duration of delivery attempts (request sent to response head and body prefix)",
            m.attempt_seconds.clone(),
        );
        registry.register(
            "queue_depth",
            "Jobs not yet delivered nor dead-lettered (due now, later, or in flight)",
            m.queue_depth.clone(),
        );
        registry.register(
            "queue_oldest_due_age_seconds",
            "How long the earliest due job of the target has been waiting past its due time",
            m.oldest_due_age.clone(),
        );
        registry.register(
            "dead_letters",
            "Dead-lettered jobs currently kept (until retried or pruned by retention)",
            m.dead_letters.clone(),
        );
        registry.register(
            "config_reloads",
            "Hot reloads by result: applied, unchanged, failed",
            m.reloads.clone(),
        );
        registry.register(
            "config_last_reload_success_timestamp_seconds",
            "When the configuration in effect was loaded (start-up or last good reload)",
            m.last_reload_success.clone(),
        );
        registry.register(
            "store_size_bytes",
            "Size of the sled store on disk",
            m.store_size.clone(),
        );
        registry.register(
            "commit_batch_size",
            "Requests made durable by one group-commit fsync",
            m.commit_batch_size.clone(),
        );
        registry.register(
            "retention_pruned",
            "Records removed by retention, by record kind: event, job, attempt",
            m.pruned.clone(),
        );
        registry.register(
            "dispatcher_last_tick_timestamp_seconds",
            "When the delivery dispatcher last scanned its queue",
            m.dispatcher_tick.clone(),
        );
        registry.register(
            "breaker_state",
            "Circuit breaker state per target: 1 for the current state (closed, open, half_open)",
            m.breaker.clone(),
        );
        Self { registry, ..m }
    }

    /// One webhook request's outcome and its time from arrival to answer.
    pub fn request(&self, endpoint: &Arc<str>, outcome: RequestOutcome, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels::new(endpoint, outcome))
            .inc();
        self.ingest_seconds
            .get_or_create(&EndpointLabels {
                endpoint: endpoint.clone(),
            })
            .observe(took.as_secs_f64());
    }

    /// One recorded delivery attempt.
    pub fn delivery(&self, target: &Arc<str>, outcome: DeliveryOutcome, took: Duration) {
        self.deliveries
            .get_or_create(&DeliveryLabels {
                target: target.clone(),
                outcome: outcome.as_str(),
            })
            .inc();
        self.attempt_seconds
            .get_or_create(&TargetLabels {
                target: target.clone(),
            })
            .observe(took.as_secs_f64());
    }

    /// One group-commit batch of `waiters` requests made durable by one fsync.
    pub fn commit_batch(&self, waiters: usize) {
        self.commit_batch_size.observe(waiters as f64);
    }

    /// Records removed by one retention pass.
    pub fn pruned(&self, events: u64, jobs: u64, attempts: u64) {
        for (record, n) in [("event", events), ("job", jobs), ("attempt", attempts)] {
            self.pruned
                .get_or_create(&PrunedLabels { record })
                .inc_by(n);
        }
    }

    /// The dispatcher scanned its queue at `now_ms`; `oldest_due` holds, per target, the due
    /// time of its earliest job waiting to start (targets absent have none).
    pub fn dispatcher_scanned(&self, now_ms: u64, oldest_due: HashMap<Arc<str>, u64>) {
        self.dispatcher_tick_ms.store(now_ms, Ordering::Relaxed);
        *self.oldest_due_ms.lock().unwrap_or_else(|p| p.into_inner()) = oldest_due;
    }

    /// The dispatcher ran a step that had nothing to scan (every target busy): it is alive, and
    /// the oldest-due ages keep their last reading.
    pub fn dispatcher_ticked(&self, now_ms: u64) {
        self.dispatcher_tick_ms.store(now_ms, Ordering::Relaxed);
    }

    /// Per target, the due time of its earliest waiting job as of the dispatcher's last scan.
    pub fn oldest_due(&self) -> HashMap<Arc<str>, u64> {
        self.oldest_due_ms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// When the dispatcher last scanned (unix ms), `None` before its first scan.
    pub fn dispatcher_last_tick_ms(&self) -> Option<u64> {
        Some(self.dispatcher_tick_ms.load(Ordering::Relaxed)).filter(|t| *t > 0)
    }

    /// A target's circuit breaker moved to `state` (`closed`, `open`, `half_open`).
    pub fn breaker_changed(&self, target: &Arc<str>, state: &'static str) {
        self.breaker_states
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(target.clone(), state);
    }

    /// The current value of `hookroute_requests_total` for one endpoint and outcome (tests).
    pub fn requests_total(&self, endpoint: &str, outcome: RequestOutcome) -> u64 {
        self.requests
            .get(&RequestLabels::new(&Arc::from(endpoint), outcome))
            .map_or(0, |c| c.get())
    }

    /// Samples the state-mirroring gauges from `sources`, then renders everything.
    pub fn render(&self, sources: &ScrapeSources<'_>) -> String {
        let _one_at_a_time = self.scrape.lock().unwrap_or_else(|p| p.into_inner());
        self.sample(sources);
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }

    fn sample(&self, sources: &ScrapeSources<'_>) {
        let now_ms = unix_ms(SystemTime::now());
        for endpoint in &sources.config.endpoints {
            for outcome in RequestOutcome::all() {
                drop(
                    self.requests
                        .get_or_create(&RequestLabels::new(&endpoint.name, outcome)),
                );
            }
            let endpoint = EndpointLabels {
                endpoint: endpoint.name.clone(),
            };
            drop(self.ingest_seconds.get_or_create(&endpoint));
        }
        let oldest = self
            .oldest_due_ms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let breakers = self
            .breaker_states
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut targets: Vec<Arc<str>> = sources.config.targets.keys().cloned().collect();
        let counts: HashMap<Arc<str>, TargetJobs> = sources.depths.iter().cloned().collect();
        targets.extend(counts.keys().cloned());
        targets.sort();
        targets.dedup();
        for target in targets {
            let labels = TargetLabels {
                target: target.clone(),
            };
            for outcome in DeliveryOutcome::ALL {
                drop(self.deliveries.get_or_create(&DeliveryLabels {
                    target: target.clone(),
                    outcome: outcome.as_str(),
                }));
            }
            drop(self.attempt_seconds.get_or_create(&labels));
            let jobs = counts.get(&target).copied().unwrap_or_default();
            self.queue_depth.get_or_create(&labels).set(jobs.pending);
            self.dead_letters.get_or_create(&labels).set(jobs.dead);
            let age_ms = oldest
                .get(&target)
                .map_or(0, |due| now_ms.saturating_sub(*due));
            self.oldest_due_age
                .get_or_create(&labels)
                .set(age_ms as f64 / 1000.0);
            let current = breakers.get(&target).copied().unwrap_or("closed");
            for state in ["closed", "open", "half_open"] {
                self.breaker
                    .get_or_create(&BreakerLabels {
                        target: target.clone(),
                        state,
                    })
                    .set(i64::from(state == current));
            }
        }
        if let Some(status) = sources.reload {
            for (result, total) in [
                ("applied", status.applied),
                ("unchanged", status.unchanged),
                ("failed", status.failed),
            ] {
                let counter = self.reloads.get_or_create(&ReloadLabels { result });
                counter.inc_by(total.saturating_sub(counter.get()));
            }
            self.last_reload_success
                .set(unix_ms(status.last_success) as f64 / 1000.0);
        }
        if let Some(bytes) = sources.store_size {
            self.store_size.set(bytes as i64);
        }
        let tick = self.dispatcher_tick_ms.load(Ordering::Relaxed);
        self.dispatcher_tick.set(tick as f64 / 1000.0);
        for record in ["event", "job", "attempt"] {
            drop(self.pruned.get_or_create(&PrunedLabels { record }));
        }
    }
}

/// What a scrape reads besides the counters.
pub struct ScrapeSources<'a> {
    pub config: &'a Config,
    /// Pending and dead jobs per target, as the queue counts them.
    pub depths: &'a [(Arc<str>, TargetJobs)],
    /// The store's size on disk, when it has one.
    pub store_size: Option<u64>,
    /// `None` until hot reload has started.
    pub reload: Option<&'a ReloadStatus>,
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}
