//! What the admin API does, as plain async functions over the store's handles and the live
//! config, callable without HTTP: list and show events, list and retry dead letters, replay an
//! event. Every store call runs off the admin worker (the engine's futures do), so a long
//! `retry_all` never holds up `/readyz`. Retry and replay wake the dispatcher through the queue.

use super::error::AdminError;
use super::views::*;
use crate::config::Config;
use crate::store::{QueueError, Stores};
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
pub async fn list_events(
    store: &Stores,
    after: Option<u64>,
    limit: usize,
) -> Result<Vec<EventSummary>, AdminError> {
    Ok(store
        .events
        .events_page(after, limit)
        .await?
        .iter()
        .map(|page| {
            let mut summary = DeliverySummary::default();
            for job in &page.jobs {
                summary.add(&job.state);
            }
            EventSummary::new(page.seq, &page.event, summary)
        })
        .collect())
}

/// Finds an event by its sequence number or as `endpoint/event_id`.
pub async fn resolve_event(store: &Stores, key: &str) -> Result<u64, AdminError> {
    if let Ok(seq) = key.parse::<u64>() {
        return Ok(seq);
    }
    let not_found = || AdminError::EventNotFound(key.to_string());
    let (endpoint, event_id) = key.split_once('/').ok_or_else(not_found)?;
    store
        .events
        .find_event(endpoint, event_id)
        .await?
        .ok_or_else(not_found)
}

pub async fn show_event(store: &Stores, key: &str) -> Result<EventView, AdminError> {
    let seq = resolve_event(store, key).await?;
    let detail = store
        .events
        .event_detail(seq)
        .await?
        .ok_or_else(|| AdminError::EventNotFound(key.to_string()))?;
    Ok(EventView::from(&detail))
}

pub async fn dead_letters(
    store: &Stores,
    after: Option<u64>,
    limit: usize,
) -> Result<Vec<JobView>, AdminError> {
    Ok(store
        .events
        .dead_letters(after, limit)
        .await?
        .iter()
        .map(|(id, job)| JobView::new(*id, job))
        .collect())
}

pub async fn retry_one(store: &Stores, job_id: u64) -> Result<JobView, AdminError> {
    let job = store.queue.retry_dead(job_id, now_ms()).await?;
    Ok(JobView::new(job_id, &job))
}

/// Requeues every dead letter, page by page. A job that stopped being dead meanwhile is skipped.
pub async fn retry_all(store: &Stores) -> Result<RetryAllView, AdminError> {
    let mut job_ids = Vec::new();
    let mut after = None;
    loop {
        let page = store.events.dead_letters(after, MAX_PAGE).await?;
        let Some((last, _)) = page.last() else { break };
        after = Some(*last);
        for (id, _) in &page {
            match store.queue.retry_dead(*id, now_ms()).await {
                Ok(_) => job_ids.push(*id),
                Err(QueueError::NotDead(_) | QueueError::JobNotFound(_)) => {}
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
pub async fn replay(
    store: &Stores,
    config: &Config,
    seq: u64,
    target: Option<&str>,
) -> Result<ReplayView, AdminError> {
    let event = store
        .events
        .event(seq)
        .await?
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
            let body = store.events.body(seq).await?;
            let json = serde_json::from_slice::<serde_json::Value>(&body).ok();
            crate::rules::route(&endpoint.rules, event.event_type.as_deref(), json.as_ref())
        }
    };
    if targets.is_empty() {
        return Err(AdminError::NothingToReplay);
    }
    let ids = store.queue.replay(seq, targets.clone(), now_ms()).await?;
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

#[cfg(test)]
mod tests {
    //! The operations on the in-memory engine: no HTTP, no disk.
    use super::*;
    use crate::config::MapEnvironment;
    use crate::store::{
        ClaimRequest, JobState, JobTransition, MemoryStore, NewEvent, RecordOutcome,
    };
    use std::time::Duration;

    const YAML: &str = r#"
admin: { listen: "off" }
targets:
  a: { url: "http://127.0.0.1:9/a" }
  b: { url: "http://127.0.0.1:9/b" }
endpoints:
  - path: /in
    name: in
    verify: { algorithm: token-equals, signature: { from: "header:X-Token" }, secrets: [{ env: T }] }
    event: { id: "json:$.id", type: "json:$.type" }
    rules:
      - { match: { type: big }, forward: [a, b] }
      - { match: { type: small }, forward: [a] }
"#;

    fn config() -> Config {
        let env = MapEnvironment::default().with("T", "t");
        crate::config::load_str(YAML, std::path::Path::new("."), &env).unwrap()
    }

    async fn accept(store: &Stores, id: &str, kind: &str, to: &[&str]) -> u64 {
        let to: Vec<Arc<str>> = to.iter().map(|t| Arc::from(*t)).collect();
        let body = format!(r#"{{"id":"{id}","type":"{kind}"}}"#);
        match store
            .ingest
            .accept_durable(NewEvent {
                endpoint: "in",
                event_id: id,
                event_type: Some(kind),
                received_at_ms: now_ms(),
                headers: vec![],
                body: body.as_bytes(),
                targets: &to,
                ordering_keys: &[],
            })
            .await
            .unwrap()
        {
            crate::store::AcceptOutcome::Accepted { event_seq, .. } => event_seq,
            other => panic!("{other:?}"),
        }
    }

    /// Claims every due job and records it dead.
    async fn kill_all(store: &Stores) {
        let claimed = store
            .queue
            .claim_due(ClaimRequest {
                now_ms: now_ms() + 1,
                lease: Duration::from_secs(60),
                free: [(Arc::from("a"), 100), (Arc::from("b"), 100)].into(),
                limit: 1000,
            })
            .await
            .unwrap();
        for c in claimed.jobs {
            let attempt = crate::store::Attempt {
                attempt: 0,
                at_ms: now_ms(),
                latency_ms: 1,
                status: Some(410),
                error: Some("HTTP 410".into()),
                response_body: vec![],
            };
            let dead = JobTransition::Dead {
                reason: "HTTP 410".into(),
            };
            let recorded = store.queue.record(c, attempt, dead).await.unwrap();
            assert!(matches!(recorded, RecordOutcome::Recorded(_)));
        }
    }

    #[tokio::test]
    async fn retry_all_requeues_every_dead_letter() {
        let store = Stores::of(Arc::new(MemoryStore::new(Duration::from_secs(60))));
        for i in 0..3 {
            accept(&store, &format!("e{i}"), "big", &["a", "b"]).await;
        }
        kill_all(&store).await;
        assert_eq!(dead_letters(&store, None, 10).await.unwrap().len(), 6);
        let view = retry_all(&store).await.unwrap();
        assert_eq!(view.retried, 6);
        assert!(dead_letters(&store, None, 10).await.unwrap().is_empty());
        assert_eq!(store.events.counts().await.unwrap().queued, 6);
    }

    #[tokio::test]
    async fn replay_routes_with_the_live_rules_or_to_one_named_target() {
        let store = Stores::of(Arc::new(MemoryStore::new(Duration::from_secs(60))));
        let config = config();
        let seq = accept(&store, "e1", "big", &["a", "b"]).await;
        let routed = replay(&store, &config, seq, None).await.unwrap();
        let targets: Vec<&str> = routed.jobs.iter().map(|j| j.target.as_str()).collect();
        assert_eq!(targets, ["a", "b"]);
        let one = replay(&store, &config, seq, Some("b")).await.unwrap();
        assert_eq!(one.jobs.len(), 1);
        assert!(matches!(
            replay(&store, &config, seq, Some("nope")).await,
            Err(AdminError::UnknownTarget(_))
        ));
        let shown = show_event(&store, "in/e1").await.unwrap();
        assert_eq!(shown.jobs.len(), 5);
        let listed = list_events(&store, None, 10).await.unwrap();
        assert_eq!(listed.len(), 1);
        let job = store
            .events
            .job(routed.jobs[0].job_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(job.state, JobState::Pending);
    }
}
