//! `GET /targets`, `POST /targets/{name}/pause` and `/resume`: each configured target with its
//! delivery state (paused, circuit breaker, adaptive in-flight limit, rate limit, queue depth,
//! oldest due), and the pause switch. A pause is stored through the queue first
//! (`DeliveryQueue::set_paused`, so it outlives a restart) and then shown to this process's
//! dispatcher at once. Also the CLI's rendering of these answers (`hookroute targets ...`).

use super::{AdminError, AdminState};
use crate::config::Config;
use crate::delivery::controls::TargetControls;
use crate::store::Stores;
use crate::target::Target;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Write;

/// The routes this file serves.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/targets", web::get().to(list))
        .route("/targets/{name}/pause", web::post().to(pause))
        .route("/targets/{name}/resume", web::post().to(resume));
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetStateView {
    pub name: String,
    pub paused: bool,
    /// `closed`, `open` or `half_open`.
    pub breaker: String,
    pub breaker_open_until_unix_ms: Option<u64>,
    pub in_flight: usize,
    pub concurrency: usize,
    /// The adaptive in-flight limit: `concurrency` unless the target answered 429/503.
    pub concurrency_limit: usize,
    pub rate_per_second: Option<f64>,
    pub rate_burst: Option<u32>,
    /// Jobs not yet delivered nor dead-lettered.
    pub depth: i64,
    pub dead: i64,
    /// Due time of the earliest job waiting to start, as of the dispatcher's last scan.
    pub oldest_due_unix_ms: Option<u64>,
}

async fn list(state: web::Data<AdminState>) -> Result<HttpResponse, AdminError> {
    let config = state.config.load_full();
    let views = list_targets(&state.store, &config, &state.controls, &state.metrics).await?;
    Ok(HttpResponse::Ok().json(views))
}

async fn pause(
    state: web::Data<AdminState>,
    name: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    set_paused(&state, &name, true).await
}

async fn resume(
    state: web::Data<AdminState>,
    name: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    set_paused(&state, &name, false).await
}

async fn set_paused(
    state: &AdminState,
    name: &str,
    paused: bool,
) -> Result<HttpResponse, AdminError> {
    let config = state.config.load_full();
    let target = switch_pause(&state.store, &config, &state.controls, name, paused).await?;
    let views = list_targets(&state.store, &config, &state.controls, &state.metrics).await?;
    let view = views.into_iter().find(|v| v.name == *target.name);
    Ok(HttpResponse::Ok().json(view))
}

/// Stores the pause (or resume) of a configured target, then tells the dispatcher.
pub async fn switch_pause(
    store: &Stores,
    config: &Config,
    controls: &TargetControls,
    name: &str,
    paused: bool,
) -> Result<std::sync::Arc<Target>, AdminError> {
    let target = config
        .target(name)
        .cloned()
        .ok_or_else(|| AdminError::UnknownTarget(name.to_string()))?;
    store.queue.set_paused(name, paused).await?;
    controls.set_paused(name, paused);
    tracing::info!(
        target_name = name,
        "delivery {} by the admin API",
        if paused { "paused" } else { "resumed" }
    );
    Ok(target)
}

/// Every configured target, in config order.
pub async fn list_targets(
    store: &Stores,
    config: &Config,
    controls: &TargetControls,
    metrics: &crate::metrics::Metrics,
) -> Result<Vec<TargetStateView>, AdminError> {
    let depths: HashMap<_, _> = store.queue.depths().await?.into_iter().collect();
    let oldest = metrics.oldest_due();
    Ok(config
        .targets
        .values()
        .map(|t| {
            let view = controls.view(t);
            let jobs = depths.get(&t.name).copied().unwrap_or_default();
            TargetStateView {
                name: t.name.to_string(),
                paused: view.paused,
                breaker: view.breaker.as_str().to_string(),
                breaker_open_until_unix_ms: view.breaker_open_until_ms,
                in_flight: view.in_flight,
                concurrency: t.concurrency,
                concurrency_limit: view.concurrency_limit,
                rate_per_second: t.rate_limit.map(|r| r.per_second),
                rate_burst: t.rate_limit.map(|r| r.burst),
                depth: jobs.pending,
                dead: jobs.dead,
                oldest_due_unix_ms: (jobs.pending > 0)
                    .then(|| oldest.get(&t.name).copied())
                    .flatten(),
            }
        })
        .collect())
}

/// `hookroute targets list` as a table.
pub fn render_list(targets: &[TargetStateView]) -> String {
    let mut out = format!(
        "{:<24} {:<8} {:<10} {:>6} {:>10} {:>8} {:<14} {}\n",
        "TARGET", "STATE", "BREAKER", "DEPTH", "IN FLIGHT", "LIMIT", "RATE", "OLDEST DUE"
    );
    for t in targets {
        let rate = match (t.rate_per_second, t.rate_burst) {
            (Some(r), Some(b)) => format!("{r}/s burst {b}"),
            _ => "-".to_string(),
        };
        let oldest = t.oldest_due_unix_ms.map_or("-".to_string(), |ms| {
            humantime::format_rfc3339_seconds(
                std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms),
            )
            .to_string()
        });
        let _ = writeln!(
            out,
            "{:<24} {:<8} {:<10} {:>6} {:>10} {:>8} {:<14} {}",
            t.name,
            if t.paused { "paused" } else { "active" },
            t.breaker,
            t.depth,
            t.in_flight,
            format!("{}/{}", t.concurrency_limit, t.concurrency),
            rate,
            oldest
        );
    }
    out
}

/// `hookroute targets pause|resume NAME`.
pub fn render_switched(t: &TargetStateView) -> String {
    format!(
        "{} {} ({} jobs queued)\n",
        t.name,
        if t.paused { "paused" } else { "resumed" },
        t.depth
    )
}
