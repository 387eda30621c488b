//! What the admin API does, as plain functions over the store and the live config, callable
//! without HTTP: list and show events, list and retry dead letters, replay an event. Retry and
//! replay wake the dispatcher through the store (`retry_dead` and `replay` notify it).

use super::error::AdminError;
use super::views::*;
use crate::config::Config;
use crate::store::SledStore;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub const DEFAULT_PAGE: usize = 50;
pub const MAX_PAGE: usize = 1000;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

pub fn page_limit(limit: Option<usize>) -> usize {
    limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)
}

/// Events after `after`, each with a count of its jobs by state.
pub fn list_events(
    store: &SledStore,
    after: Option<u64>,
    limit: usize,
) -> Result<Vec<EventSummary>, AdminError> {
    store
        .events_page(after, limit)?
        .iter()
        .map(|(seq, e)| {
            let mut summary = DeliverySummary::default();
            for (_, job) in store.jobs_of(*seq)? {
                summary.add(&job.state);
            }
            Ok(EventSummary::new(*seq, e, summary))
        })
        .collect()
}

/// Finds an event by its sequence number or as `endpoint/event_id`.
pub fn resolve_event(store: &SledStore, key: &str) -> Result<u64, AdminError> {
    if let Ok(seq) = key.parse::<u64>() {
        return Ok(seq);
    }
    let not_found = || AdminError::EventNotFound(key.to_string());
    let (endpoint, event_id) = key.split_once('/').ok_or_else(not_found)?;
    store.find_event(endpoint, event_id)?.ok_or_else(not_found)
}

pub fn show_event(store: &SledStore, key: &str) -> Result<EventView, AdminError> {
    let seq = resolve_event(store, key)?;
    let detail = store
        .event_detail(seq)?
        .ok_or_else(|| AdminError::EventNotFound(key.to_string()))?;
    Ok(EventView::from(&detail))
}

pub fn dead_letters(
    store: &SledStore,
    after: Option<u64>,
    limit: usize,
) -> Result<Vec<JobView>, AdminError> {
    Ok(store
        .dead_jobs(after, limit)?
        .iter()
        .map(|(id, job)| JobView::new(*id, job))
        .collect())
}

pub fn retry_one(store: &SledStore, job_id: u64) -> Result<JobView, AdminError> {
    let job = store.retry_dead(job_id, now_ms())?;
    Ok(JobView::new(job_id, &job))
}

/// Requeues every dead letter, page by page. A job that stopped being dead meanwhile is skipped.
pub fn retry_all(store: &SledStore) -> Result<RetryAllView, AdminError> {
    let mut job_ids = Vec::new();
    let mut after = None;
    loop {
        let page = store.dead_jobs(after, MAX_PAGE)?;
        let Some((last, _)) = page.last() else { break };
        after = Some(*last);
        for (id, _) in &page {
            match store.retry_dead(*id, now_ms()) {
                Ok(_) => job_ids.push(*id),
                Err(
                    crate::store::QueueError::NotDead(_) | crate::store::QueueError::JobNotFound(_),
                ) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(RetryAllView {
        retried: job_ids.len(),
        job_ids,
    })
}

/// New jobs for event `seq`: to `target` when named (it must exist in the live config), else to
/// every target the live rules of the event's endpoint route it to now.
pub fn replay(
    store: &SledStore,
    config: &Config,
    seq: u64,
    target: Option<&str>,
) -> Result<ReplayView, AdminError> {
    let event = store
        .event(seq)?
        .ok_or_else(|| AdminError::EventNotFound(seq.to_string()))?;
    let targets: Vec<Arc<str>> = match target {
        Some(name) => {
            let (name, _) = config
                .targets
                .get_key_value(name)
                .ok_or_else(|| AdminError::UnknownTarget(name.to_string()))?;
            vec![name.clone()]
        }
        None => {
            let endpoint = config
                .endpoints
                .iter()
                .find(|e| *e.name == *event.endpoint)
                .ok_or_else(|| AdminError::EndpointGone(event.endpoint.clone()))?;
            let body = store.body(seq)?;
            let json = serde_json::from_slice::<serde_json::Value>(&body).ok();
            crate::rules::route(&endpoint.rules, event.event_type.as_deref(), json.as_ref())
        }
    };
    if targets.is_empty() {
        return Err(AdminError::NothingToReplay);
    }
    let ids = store.replay(seq, &targets, now_ms())?;
    Ok(ReplayView {
        event_seq: seq,
        jobs: ids
            .into_iter()
            .zip(&targets)
            .map(|(job_id, t)| ReplayedJob {
                job_id,
                target: t.to_string(),
            })
            .collect(),
    })
}
