//! The PostgreSQL engine: every store trait over one database that several hookroute instances
//! share. Accepts go through one group-commit writer per instance ([`accept`]: many requests per
//! transaction, dedup by `INSERT ... ON CONFLICT`, `UNNEST` batches, `synchronous_commit = on`);
//! claims take due jobs under leases kept in the job rows ([`queue`]: `FOR UPDATE SKIP LOCKED`,
//! a target's concurrency counted across instances); `LISTEN/NOTIFY` wakes every instance's
//! dispatcher ([`wake`]) with the dispatcher's one-second scan as the backstop; reads and
//! retention are plain queries over the same tables ([`reads`]). [`health`] keeps whether the
//! database answers, for `/readyz` and to refuse ingest at once while it does not.
//!
//! The engine runs its own small tokio runtime: every trait method spawns its work there and the
//! returned future only awaits the result, so callers on any runtime (actix workers, the
//! delivery runtime, tests) share one pool whose connections live on one reactor.

mod accept;
mod health;
mod queue;
mod reads;
mod schema;
mod wake;

pub use schema::migrate;

use super::model::*;
use super::quota::SpaceLimits;
use super::traits::*;
use super::{QueueError, StoreError};
use futures_util::FutureExt;
use health::Health;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::future::Future;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

/// The channel `NOTIFY` wakes dispatchers on.
pub const WAKE_CHANNEL: &str = "hookroute_jobs";
/// How long a connection may take to come from the pool (or be made) before the operation fails.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How to reach the database and size the engine.
#[derive(Clone)]
pub struct PgConfig {
    /// `postgres://user:password@host:port/db` (a secret: never logged).
    pub url: String,
    /// Connections for the engine's work (one more is kept for `LISTEN`).
    pub pool_size: u32,
    /// `statement_timeout` of every session.
    pub statement_timeout: Duration,
    pub dedup_ttl: Duration,
    /// Tables in this schema instead of the default (`public`): tests give each store its own.
    pub schema: Option<String>,
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConfig")
            .field("url", &"<redacted>")
            .field("pool_size", &self.pool_size)
            .field("statement_timeout", &self.statement_timeout)
            .field("dedup_ttl", &self.dedup_ttl)
            .field("schema", &self.schema)
            .finish()
    }
}

/// Why the engine could not open.
#[derive(Debug, thiserror::Error)]
pub enum PgOpenError {
    #[error("storage.url is not a valid PostgreSQL URL: {0}")]
    BadUrl(#[source] sqlx::Error),
    #[error("cannot connect to PostgreSQL at {server}")]
    Unreachable {
        server: String,
        #[source]
        cause: sqlx::Error,
    },
    #[error("applying the schema migrations failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("preparing the schema failed")]
    Schema(#[source] sqlx::Error),
    #[error("starting the engine's runtime failed")]
    Runtime(#[source] std::io::Error),
}

/// Parses the URL and applies the session settings every connection gets.
pub fn connect_options(config: &PgConfig) -> Result<PgConnectOptions, PgOpenError> {
    let mut options: Vec<(&str, String)> = vec![
        ("synchronous_commit", "on".into()),
        (
            "statement_timeout",
            format!("{}", config.statement_timeout.as_millis()),
        ),
    ];
    if let Some(schema) = &config.schema {
        options.push(("search_path", schema.clone()));
    }
    Ok(PgConnectOptions::from_str(&config.url)
        .map_err(PgOpenError::BadUrl)?
        .application_name("hookroute")
        .options(options))
}

/// `host:port/db` of the URL, for messages (no user, no password).
pub fn server_of(options: &PgConnectOptions) -> String {
    let db = options.get_database().unwrap_or("");
    match options.get_socket() {
        Some(dir) => format!("{} (socket)/{db}", dir.display()),
        None => format!("{}:{}/{db}", options.get_host(), options.get_port()),
    }
}

/// What the engine's tasks share.
pub(crate) struct Shared {
    pub pool: PgPool,
    /// This instance's name in the leases it takes (random per process start).
    pub owner: String,
    pub dedup_ttl_ms: i64,
    pub wake: Arc<Notify>,
    pub health: Arc<Health>,
}

impl Shared {
    /// A failed database call as a store error; a connection failure marks the database down.
    pub fn fail(&self, what: &'static str, e: sqlx::Error) -> StoreError {
        self.health.note(&e);
        StoreError::caused(what, e)
    }
}

pub struct PgStore {
    shared: Arc<Shared>,
    writer: mpsc::Sender<accept::PendingAccept>,
    observe: Arc<OnceLock<accept::CommitObserver>>,
    stop: CancellationToken,
    handle: tokio::runtime::Handle,
    runtime: Option<tokio::runtime::Runtime>,
}

/// A pool of at most `max` connections; the first one is made now, so an unreachable server
/// fails here with its address.
async fn connect(options: &PgConnectOptions, max: u32) -> Result<PgPool, PgOpenError> {
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options.clone())
        .await
        .map_err(|cause| PgOpenError::Unreachable {
            server: server_of(options),
            cause,
        })
}

/// Connects and applies the migrations, then closes (`hookroute migrate`). Returns the versions
/// applied now.
pub fn migrate_only(config: &PgConfig) -> Result<Vec<i64>, PgOpenError> {
    let options = connect_options(config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(PgOpenError::Runtime)?;
    runtime.block_on(async {
        let pool = connect(&options, 1).await?;
        let applied = migrate(&pool).await.map_err(PgOpenError::Migrate)?;
        pool.close().await;
        Ok(applied)
    })
}

impl PgStore {
    /// Connects, applies the embedded migrations and starts the writer, the listener and the
    /// health check. Blocks the calling thread (start-up, tests); safe inside a runtime.
    pub fn open(config: &PgConfig) -> Result<Self, PgOpenError> {
        let options = connect_options(config)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("hookroute-pg")
            .enable_all()
            .build()
            .map_err(PgOpenError::Runtime)?;
        let pool_size = config.pool_size.max(1);
        let schema = config.schema.clone();
        let pool = std::thread::scope(|s| {
            s.spawn(|| {
                runtime.block_on(async {
                    let pool = connect(&options, pool_size + 1).await?;
                    if let Some(schema) = &schema {
                        let sql = format!(
                            "CREATE SCHEMA IF NOT EXISTS \"{}\"",
                            schema.replace('"', "")
                        );
                        sqlx::query(sqlx::AssertSqlSafe(sql))
                            .execute(&pool)
                            .await
                            .map_err(PgOpenError::Schema)?;
                    }
                    migrate(&pool).await.map_err(PgOpenError::Migrate)?;
                    Ok::<_, PgOpenError>(pool)
                })
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        });
        let pool = match pool {
            Ok(pool) => pool,
            Err(e) => {
                // Dropping a runtime inside another one's async context panics.
                runtime.shutdown_background();
                return Err(e);
            }
        };
        let shared = Arc::new(Shared {
            pool,
            owner: format!("{}-{:016x}", std::process::id(), rand::random::<u64>()),
            dedup_ttl_ms: config.dedup_ttl.as_millis() as i64,
            wake: Arc::default(),
            health: Arc::default(),
        });
        let stop = CancellationToken::new();
        let observe: Arc<OnceLock<accept::CommitObserver>> = Arc::default();
        let (writer, inbox) = mpsc::channel(accept::INBOX);
        let handle = runtime.handle().clone();
        handle.spawn(accept::writer(
            shared.clone(),
            inbox,
            observe.clone(),
            stop.clone(),
        ));
        handle.spawn(wake::listen(shared.clone(), stop.clone()));
        handle.spawn(health::watch(shared.clone(), stop.clone()));
        Ok(Self {
            shared,
            writer,
            observe,
            stop,
            handle,
            runtime: Some(runtime),
        })
    }

    /// Calls `observe` with the number of requests each committed batch made durable.
    pub fn observe_commits(&self, observe: Box<dyn Fn(usize) + Send + Sync>) {
        let _ = self.observe.set(observe);
    }

    /// This instance's name in the leases it holds.
    pub fn owner(&self) -> &str {
        &self.shared.owner
    }

    /// Runs `work` on the engine's runtime.
    fn run<T, F>(&self, work: impl FnOnce(Arc<Shared>) -> F) -> StoreFuture<T>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let task = self.handle.spawn(work(self.shared.clone()));
        async move {
            task.await
                .map_err(|e| StoreError::caused("a PostgreSQL engine task ended", e))?
        }
        .boxed()
    }

    /// Runs an admin operation on the queue on the engine's runtime.
    fn run_queue<T, F>(&self, work: impl FnOnce(Arc<Shared>) -> F) -> QueueFuture<T>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, QueueError>> + Send + 'static,
    {
        let task = self.handle.spawn(work(self.shared.clone()));
        async move {
            task.await.map_err(|e| {
                QueueError::Store(StoreError::caused("a PostgreSQL engine task ended", e))
            })?
        }
        .boxed()
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl IngestStore for PgStore {
    fn accept_durable(&self, event: NewEvent<'_>) -> StoreFuture<AcceptOutcome> {
        let pending = accept::OwnedEvent::from(event);
        let writer = self.writer.clone();
        let wake = self.shared.wake.clone();
        async move {
            let outcome = accept::submit(&writer, pending).await?;
            if matches!(outcome, AcceptOutcome::Accepted { .. }) {
                wake.notify_one();
            }
            Ok(outcome)
        }
        .boxed()
    }

    /// DECISION: the database being unreachable refuses like a full disk does, before anything
    /// is tried (503 + Retry-After at once instead of after the pool's timeout).
    fn check_space(&self, _limits: SpaceLimits) -> Result<(), StoreError> {
        match self.shared.health.down() {
            Some(reason) => Err(StoreError::storage(format!(
                "the PostgreSQL database is unreachable: {reason}"
            ))),
            None => Ok(()),
        }
    }

    fn unavailable(&self) -> Option<String> {
        self.shared
            .health
            .down()
            .map(|reason| format!("the PostgreSQL database is unreachable: {reason}"))
    }
}

impl DeliveryQueue for PgStore {
    fn claim_due(&self, request: ClaimRequest) -> StoreFuture<Claimed> {
        self.run(|s| async move { queue::claim(&s, request).await })
    }

    fn renew(&self, claim: &ClaimedJob, until_ms: u64) -> StoreFuture<Option<Lease>> {
        let (id, token) = (claim.id, claim.lease.token);
        self.run(move |s| async move { queue::renew(&s, id, token, until_ms).await })
    }

    fn record(
        &self,
        claim: ClaimedJob,
        attempt: Attempt,
        transition: JobTransition,
    ) -> StoreFuture<RecordOutcome> {
        self.run(|s| async move { queue::record(&s, claim, attempt, transition).await })
    }

    fn postpone(&self, claim: ClaimedJob, until_ms: u64) -> StoreFuture<()> {
        self.run(move |s| async move { queue::postpone(&s, claim, until_ms).await })
    }

    fn release(&self, claim: ClaimedJob) -> StoreFuture<()> {
        self.run(|s| async move { queue::release(&s, claim).await })
    }

    fn next_due_after(&self, now_ms: u64) -> StoreFuture<Option<u64>> {
        self.run(move |s| async move { queue::next_due_after(&s, now_ms).await })
    }

    fn load_event(&self, seq: EventSeq) -> StoreFuture<Option<(Event, Vec<u8>)>> {
        self.run(move |s| async move { reads::event_with_body(&s, seq).await })
    }

    fn retry_dead(&self, job: JobId, now_ms: u64) -> QueueFuture<Job> {
        self.run_queue(move |s| async move { queue::retry_dead(&s, job, now_ms).await })
    }

    fn replay(
        &self,
        seq: EventSeq,
        targets: Vec<Arc<str>>,
        now_ms: u64,
    ) -> QueueFuture<Vec<JobId>> {
        self.run_queue(move |s| async move { queue::replay(&s, seq, targets, now_ms).await })
    }

    fn depths(&self) -> StoreFuture<Vec<(Arc<str>, TargetJobs)>> {
        self.run(|s| async move { queue::depths(&s).await })
    }

    fn set_paused(&self, target: &str, paused: bool) -> StoreFuture<()> {
        let target = target.to_string();
        self.run(move |s| async move { queue::set_paused(&s, &target, paused).await })
    }

    fn paused(&self) -> StoreFuture<Vec<String>> {
        self.run(|s| async move { queue::paused(&s).await })
    }

    fn wakeups(&self) -> Arc<Notify> {
        self.shared.wake.clone()
    }
}

impl EventReads for PgStore {
    fn events_page(&self, after: Option<EventSeq>, limit: usize) -> StoreFuture<Vec<EventSummary>> {
        self.run(move |s| async move { reads::events_page(&s, after, limit).await })
    }

    fn find_event(&self, endpoint: &str, event_id: &str) -> StoreFuture<Option<EventSeq>> {
        let (endpoint, event_id) = (endpoint.to_string(), event_id.to_string());
        self.run(move |s| async move { reads::find_event(&s, &endpoint, &event_id).await })
    }

    fn event(&self, seq: EventSeq) -> StoreFuture<Option<Event>> {
        self.run(move |s| async move { Ok(reads::event_with_body(&s, seq).await?.map(|(e, _)| e)) })
    }

    fn body(&self, seq: EventSeq) -> StoreFuture<Vec<u8>> {
        self.run(move |s| async move {
            Ok(reads::event_with_body(&s, seq)
                .await?
                .map(|(_, b)| b)
                .unwrap_or_default())
        })
    }

    fn event_detail(&self, seq: EventSeq) -> StoreFuture<Option<EventDetail>> {
        self.run(move |s| async move { reads::event_detail(&s, seq).await })
    }

    fn job(&self, id: JobId) -> StoreFuture<Option<Job>> {
        self.run(move |s| async move { reads::job(&s, id).await })
    }

    fn dead_letters(&self, after: Option<JobId>, limit: usize) -> StoreFuture<Vec<(JobId, Job)>> {
        self.run(move |s| async move { reads::dead_letters(&s, after, limit).await })
    }

    fn counts(&self) -> StoreFuture<StoreCounts> {
        self.run(|s| async move { reads::counts(&s).await })
    }
}

impl Retention for PgStore {
    fn prune_finished(&self, cutoff_ms: u64, batch: usize) -> StoreFuture<PruneReport> {
        self.run(move |s| async move { reads::prune_finished(&s, cutoff_ms, batch).await })
    }

    fn prune_dedup(&self, now_ms: u64) -> StoreFuture<usize> {
        self.run(move |s| async move { reads::prune_dedup(&s, now_ms).await })
    }
}
