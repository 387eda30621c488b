//! The admin API: a second actix server on its own listener (`admin.listen`, loopback by
//! default) for operators and the `hookroute events|dlq|replay` commands. It lists events and
//! dead letters, retries dead letters and replays events, lists, pauses and resumes targets
//! ([`targets`]); it serves `/metrics` (Prometheus) and
//! the `/healthz` and `/readyz` probes. When `admin.token` is set every request needs
//! `Authorization: Bearer <token>`, the probes and `/metrics` included (DECISION: one rule for
//! the whole port, as before; Prometheus and Kubernetes probes can both send a bearer token, see
//! the README). The token is read from the configuration snapshot of each request, so a reload
//! that adds, changes or removes it takes effect on the next request (a leaked token is revoked
//! by a reload). Handlers are thin: they extract and call [`ops`]. The web console
//! ([`crate::console`]) is served here too, under `/ui`, with its own session check.

pub mod client;
pub mod error;
pub mod export;
pub mod ops;
pub mod render;
pub mod targets;
pub mod views;

pub use error::AdminError;

use crate::config::Config;
use crate::store::Stores;
use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App, HttpResponse, HttpServer};
use arc_swap::ArcSwap;
use serde::Deserialize;
use std::net::TcpListener;
use std::sync::Arc;

/// What the admin handlers share.
pub struct AdminState {
    pub config: Arc<ArcSwap<Config>>,
    pub store: Stores,
    /// Set once hot reload has started (after the admin server binds).
    pub reload: std::sync::OnceLock<crate::reload::SharedReloadStatus>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Per-target delivery state shared with the dispatcher (pause, breaker, limits).
    pub controls: Arc<crate::delivery::controls::TargetControls>,
}

impl AdminState {
    /// The admin token in effect now, from the live config snapshot (`None`: the listener is
    /// open). The console derives its sessions from it on every request, so a reload that
    /// changes the token ends the sessions made under the old one.
    pub fn current_token(&self) -> Option<String> {
        self.config.load().admin.token.clone()
    }
}

/// `/readyz` fails once the dispatcher has not scanned its queue for this long (it scans at
/// least every second when idle).
pub const DISPATCHER_STALE: std::time::Duration = std::time::Duration::from_secs(15);

/// Starts the admin server on `listener`. It does not handle signals: the application stops it
/// once the ingress server has stopped.
pub fn server(listener: TcpListener, state: Arc<AdminState>) -> std::io::Result<Server> {
    let data = web::Data::from(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|e, _| AdminError::BadRequest(e.to_string()).into()),
            )
            .app_data(
                web::JsonConfig::default()
                    .error_handler(|e, _| AdminError::BadRequest(e.to_string()).into()),
            )
            .app_data(
                web::PathConfig::default()
                    .error_handler(|e, _| AdminError::BadRequest(e.to_string()).into()),
            )
            .wrap(from_fn(require_token))
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
            .route("/metrics", web::get().to(metrics))
            .route("/events", web::get().to(list_events))
            .route("/events/{seq}/replay", web::post().to(replay))
            .route("/events/{key:.+}", web::get().to(show_event))
            .route("/fixture/{key:.+}", web::get().to(export::fixture))
            .route("/dlq", web::get().to(dead_letters))
            .route("/dlq/retry", web::post().to(retry_all))
            .route("/dlq/{job_id}/retry", web::post().to(retry_one))
            .configure(targets::routes)
            .configure(crate::console::routes)
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(5)
    .listen(listener)?;
    Ok(server.run())
}

/// Whether `header` is `Bearer <token>`, compared in constant time.
pub fn bearer_matches(header: Option<&str>, token: &str) -> bool {
    use subtle::ConstantTimeEq;
    header
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|given| bool::from(given.trim().as_bytes().ct_eq(token.as_bytes())))
}

async fn require_token(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // The web console checks its own session cookie instead (`console::session`).
    if crate::console::owns(req.path()) {
        return next.call(req).await;
    }
    // The snapshot in effect now: a reload changes the token for every later request.
    let config = req
        .app_data::<web::Data<AdminState>>()
        .map(|s| s.config.load_full());
    if let Some(token) = config.as_ref().and_then(|c| c.admin.token.as_deref()) {
        let header = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if !bearer_matches(header, token) {
            return Err(AdminError::Unauthorized.into());
        }
    }
    next.call(req).await
}

#[derive(Debug, Deserialize)]
struct Page {
    after: Option<u64>,
    limit: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayRequest {
    target: Option<String>,
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

async fn list_events(
    state: web::Data<AdminState>,
    page: web::Query<Page>,
) -> Result<HttpResponse, AdminError> {
    let events = ops::list_events(&state.store, page.after, ops::page_limit(page.limit)).await?;
    Ok(HttpResponse::Ok().json(events))
}

async fn show_event(
    state: web::Data<AdminState>,
    key: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    Ok(HttpResponse::Ok().json(ops::show_event(&state.store, &key).await?))
}

async fn dead_letters(
    state: web::Data<AdminState>,
    page: web::Query<Page>,
) -> Result<HttpResponse, AdminError> {
    let jobs = ops::dead_letters(&state.store, page.after, ops::page_limit(page.limit)).await?;
    Ok(HttpResponse::Ok().json(jobs))
}

async fn retry_one(
    state: web::Data<AdminState>,
    job_id: web::Path<u64>,
) -> Result<HttpResponse, AdminError> {
    Ok(HttpResponse::Ok().json(ops::retry_one(&state.store, *job_id).await?))
}

async fn retry_all(state: web::Data<AdminState>) -> Result<HttpResponse, AdminError> {
    Ok(HttpResponse::Ok().json(ops::retry_all(&state.store).await?))
}

/// The body is optional: empty means "the current matching targets".
async fn replay(
    state: web::Data<AdminState>,
    seq: web::Path<u64>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let request: ReplayRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ReplayRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| AdminError::BadRequest(e.to_string()))?
    };
    let config = state.config.load_full();
    let view = ops::replay(&state.store, &config, *seq, request.target.as_deref()).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Prometheus metrics, sampled now.
async fn metrics(state: web::Data<AdminState>) -> HttpResponse {
    let config = state.config.load();
    let reload = state.reload.get().map(|s| {
        s.read()
            .map(|s| s.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    });
    let depths = match state.store.queue.depths().await {
        Ok(depths) => depths,
        Err(e) => {
            tracing::warn!(error = %e.chain(), "cannot read the queue depths");
            Vec::new()
        }
    };
    let text = state.metrics.render(&crate::metrics::ScrapeSources {
        config: &config,
        depths: &depths,
        store_size: state.store.ingest.size_on_disk(),
        reload: reload.as_ref(),
    });
    HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .body(text)
}

/// Ready once the store is open and the config loaded (both true once the admin API runs), the
/// store can take writes (a PostgreSQL store's database answers), and the dispatcher has scanned its queue within [`DISPATCHER_STALE`]; otherwise 503 with the
/// reason. Shows what hot reload did, including the last rejected file's errors.
async fn readyz(state: web::Data<AdminState>) -> HttpResponse {
    use std::time::UNIX_EPOCH;
    let Some(status) = state.reload.get() else {
        return HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"status": "starting", "reason": "hot reload not started"}));
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    let tick = state.metrics.dispatcher_last_tick_ms();
    let store_down = state.store.ingest.unavailable();
    let dispatcher_reason = store_down
        .clone()
        .or_else(|| dispatcher_not_ready(tick, now_ms));
    let s = status
        .read()
        .map(|s| s.clone())
        .unwrap_or_else(|e| e.into_inner().clone());
    let unix = |t: std::time::SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    };
    let mut answer = match &dispatcher_reason {
        None => HttpResponse::Ok(),
        Some(_) => HttpResponse::ServiceUnavailable(),
    };
    answer.json(serde_json::json!({
        "status": if dispatcher_reason.is_none() { "ready" } else { "not_ready" },
        "reason": dispatcher_reason,
        "store": if store_down.is_some() { "unavailable" } else { "open" },
        "dispatcher": {"last_tick_unix_ms": tick},
        "config": {
            "file_in_effect": s.file_in_effect(),
            "last_success_unix": unix(s.last_success),
            "reloads_applied": s.applied,
            "reloads_failed": s.failed,
            "last_failure": s.last_failure.as_ref().map(|f| serde_json::json!({"at_unix": unix(f.at), "errors": f.errors})),
            "needs_restart": s.needs_restart.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
        }
    }))
}

/// Why the dispatcher does not count as running, given its last scan (unix ms), if it does not.
fn dispatcher_not_ready(last_tick_ms: Option<u64>, now_ms: u64) -> Option<String> {
    match last_tick_ms {
        None => Some("the delivery dispatcher has not started".to_string()),
        Some(t) if now_ms.saturating_sub(t) > DISPATCHER_STALE.as_millis() as u64 => Some(format!(
            "the delivery dispatcher has not scanned its queue for {} s",
            now_ms.saturating_sub(t) / 1000
        )),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{bearer_matches, dispatcher_not_ready};

    #[test]
    fn readiness_needs_a_recent_dispatcher_scan() {
        assert!(dispatcher_not_ready(None, 100_000).is_some());
        assert_eq!(dispatcher_not_ready(Some(99_000), 100_000), None);
        let stale = dispatcher_not_ready(Some(60_000), 100_000).unwrap();
        assert!(stale.contains("40 s"), "{stale}");
    }

    #[test]
    fn only_the_exact_bearer_token_is_accepted() {
        assert!(bearer_matches(Some("Bearer s3cret"), "s3cret"));
        assert!(!bearer_matches(Some("Bearer s3cre"), "s3cret"));
        assert!(!bearer_matches(Some("s3cret"), "s3cret"));
        assert!(!bearer_matches(None, "s3cret"));
    }
}
