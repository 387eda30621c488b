//! Start-up: load the config, open the store (sled, or PostgreSQL with its migrations applied), bind the listener, start the background tasks.
//! `Application::build` then `run_until_stopped`, so tests can start the real app on port 0.
//!
//! Shutdown: on SIGTERM/SIGINT (or [`Application::stop_handle`]) actix stops accepting and
//! finishes its requests; then the dispatcher stops taking jobs and gives attempts in flight
//! [`delivery::SHUTDOWN_GRACE`] to finish, leaving the rest queued. `run_until_stopped`
//! returns after both.

use crate::config::{self, Config, Environment, PostgresSettings, StorageBackend, StorageSettings};
use crate::delivery::{self, DeliveryHandle};
use crate::ingress::{self, Ingress};
use crate::metrics::Metrics;
use crate::store::sled::PRUNE_BATCH;
use crate::store::{PgConfig, PgStore, Retention, SledStore, Stores};
use actix_web::dev::{Server, ServerHandle};
use anyhow::Context;
use arc_swap::ArcSwap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

pub struct Application {
    server: Server,
    addr: SocketAddr,
    pub config: Arc<ArcSwap<Config>>,
    /// The store's handles, one per consumer.
    pub store: Stores,
    pub config_path: PathBuf,
    /// What hot reloads did: for `/readyz` and the admin API.
    pub reload_status: crate::reload::SharedReloadStatus,
    delivery: DeliveryHandle,
    /// The admin API server and its address, when `admin.listen` is set.
    admin: Option<(Server, SocketAddr)>,
    /// Stops the background tasks (dispatcher, pruner) once the server has stopped.
    background: CancellationToken,
    /// This application's metrics (its own registry: several apps may run in one process).
    pub metrics: Arc<Metrics>,
}

/// Why start-up failed: the exit code depends on it.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] config::ConfigErrors),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl Application {
    /// Must be called inside an actix/tokio runtime.
    pub fn build(config_path: &Path, env: Arc<dyn Environment>) -> Result<Self, StartError> {
        // The config's fixtures must pass, as on every reload (exit 64 otherwise).
        let config = crate::fixtures::gate::load(config_path, env.as_ref())?;
        for w in &config.warnings {
            tracing::warn!("config: {w}");
        }
        let metrics = Arc::new(Metrics::new());
        let store = open_store(&config.storage, &metrics)?;
        let listener = TcpListener::bind(config.server.listen)
            .with_context(|| format!("binding {}", config.server.listen))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        let workers = config.server.workers;
        let config = Arc::new(ArcSwap::from_pointee(config));
        let ingress = Arc::new(Ingress {
            config: config.clone(),
            store: store.ingest.clone(),
            metrics: metrics.clone(),
        });
        let server =
            ingress::server(listener, ingress, workers).context("starting the HTTP server")?;
        // Bound before any background task starts, so a busy admin port leaves nothing running.
        let controls = Arc::new(crate::delivery::controls::TargetControls::new());
        let admin = start_admin(&config, &store, &metrics, &controls)?;
        let background = CancellationToken::new();
        spawn_dedup_pruner(store.retention.clone(), background.clone());
        spawn_retention(
            store.retention.clone(),
            config.clone(),
            metrics.clone(),
            background.clone(),
        );
        let delivery = delivery::spawn(
            store.queue.clone(),
            config.clone(),
            metrics.clone(),
            controls,
            background.child_token(),
            delivery::SHUTDOWN_GRACE,
        )
        .context("starting the delivery dispatcher")?;
        let reload_status = crate::reload::start(config_path, env, config.clone());
        let admin = admin.map(|(server, addr, state)| {
            let _ = state.reload.set(reload_status.clone());
            (server, addr)
        });
        Ok(Self {
            server,
            addr,
            config,
            store,
            config_path: config_path.to_path_buf(),
            reload_status,
            delivery,
            admin,
            background,
            metrics,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the admin API listens, if it is on.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|(_, addr)| *addr)
    }

    /// Stops the server as a signal would; `run_until_stopped` then stops delivery too.
    pub fn stop_handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let admin = self.admin.map(|(server, _)| {
            let handle = server.handle();
            (handle, actix_web::rt::spawn(server))
        });
        let served = self.server.await;
        if let Some((handle, task)) = admin {
            handle.stop(true).await;
            let _ = task.await;
        }
        self.delivery.shutdown().await;
        self.background.cancel();
        served
    }
}

/// Opens the engine `storage.backend` names, its commits observed in `metrics`.
fn open_store(storage: &StorageSettings, metrics: &Arc<Metrics>) -> anyhow::Result<Stores> {
    let observed = metrics.clone();
    let observe = Box::new(move |size| observed.commit_batch(size));
    match &storage.backend {
        StorageBackend::Sled => {
            let engine = SledStore::open_with_cache(
                &storage.data_dir,
                storage.dedup_ttl,
                storage.cache_size,
            )
            .with_context(|| format!("opening the store in {}", storage.data_dir.display()))?;
            engine.observe_commits(observe);
            Ok(Stores::of(Arc::new(engine)))
        }
        StorageBackend::Postgres(pg) => {
            let engine = PgStore::open(&pg_config(pg, storage.dedup_ttl)).with_context(|| {
                format!(
                    "opening the PostgreSQL store (storage.url from {})",
                    pg.url_source
                )
            })?;
            tracing::info!(
                owner = engine.owner(),
                "store: PostgreSQL, schema up to date"
            );
            engine.observe_commits(observe);
            Ok(Stores::of(Arc::new(engine)))
        }
    }
}

/// The engine's settings from `storage` (PostgreSQL).
pub fn pg_config(pg: &PostgresSettings, dedup_ttl: Duration) -> PgConfig {
    PgConfig {
        url: pg.url.clone(),
        pool_size: pg.pool_size,
        statement_timeout: pg.statement_timeout,
        dedup_ttl,
        schema: None,
    }
}

/// Binds and starts the admin API when `admin.listen` is set.
fn start_admin(
    config: &Arc<ArcSwap<Config>>,
    store: &Stores,
    metrics: &Arc<Metrics>,
    controls: &Arc<crate::delivery::controls::TargetControls>,
) -> anyhow::Result<Option<(Server, SocketAddr, Arc<crate::admin::AdminState>)>> {
    let settings = config.load().admin.clone();
    let Some(listen) = settings.listen else {
        return Ok(None);
    };
    let listener =
        TcpListener::bind(listen).with_context(|| format!("binding the admin API on {listen}"))?;
    let addr = listener.local_addr().context("reading the admin address")?;
    let state = Arc::new(crate::admin::AdminState {
        config: config.clone(),
        store: store.clone(),
        reload: Default::default(),
        metrics: metrics.clone(),
        controls: controls.clone(),
    });
    let server = crate::admin::server(listener, state.clone()).context("starting the admin API")?;
    Ok(Some((server, addr, state)))
}

fn spawn_dedup_pruner(store: Arc<dyn Retention>, stop: CancellationToken) {
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or_default();
            match store.prune_dedup(now).await {
                Ok(n) if n > 0 => tracing::debug!(removed = n, "pruned expired dedup keys"),
                Err(e) => tracing::warn!(error = %e.chain(), "pruning dedup keys failed"),
                _ => {}
            }
        }
    });
}

/// Prunes finished events older than `storage.retention` every `storage.prune_interval` (both
/// read from the live config, so a reload changes them), in batches on the blocking pool.
fn spawn_retention(
    store: Arc<dyn Retention>,
    config: Arc<ArcSwap<Config>>,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) {
    actix_web::rt::spawn(async move {
        loop {
            let storage = config.load().storage.clone();
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(storage.prune_interval) => {}
            }
            let Some(retention) = storage.retention else {
                continue;
            };
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or_default();
            let cutoff = now_ms.saturating_sub(retention.as_millis() as u64);
            match store.prune_finished(cutoff, PRUNE_BATCH).await {
                Ok(report) => {
                    metrics.pruned(report.events, report.jobs, report.attempts);
                    if report.events > 0 {
                        tracing::info!(
                            events = report.events,
                            jobs = report.jobs,
                            attempts = report.attempts,
                            kept_pending = report.kept_pending,
                            "retention: pruned finished events older than {}",
                            humantime::format_duration(retention)
                        );
                    }
                }
                Err(e) => tracing::warn!(error = %e.chain(), "retention pass failed"),
            }
        }
    });
}
