//! One job's attempt, from start to recorded outcome: load the event and its body, send it,
//! decide delivered / retry at / dead-letter with the target's retry policy, log it, record it
//! in the store and count it in the metrics. The dispatcher decides when an attempt starts;
//! this file is everything after that.

use super::attempt::{self, millis, AttemptReport};
use super::dispatcher::MAX_IDLE;
use super::outcome::{AttemptOutcome, Failure};
use super::request::{self, AttemptId};
use super::retry::{self, RetryDecision};
use crate::metrics::{DeliveryOutcome, Metrics};
use crate::store::{AttemptV1, DueJob, JobTransition, RecordOutcome, SledStore};
use crate::target::Target;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::OwnedSemaphorePermit;
use tracing::field::Empty;
use tracing::Instrument;

/// One attempt from start to recorded outcome, in a `delivery` span carrying the target, job,
/// attempt and the event's endpoint, id and type. Returns the job id.
pub(super) async fn deliver(
    store: Arc<SledStore>,
    client: reqwest::Client,
    metrics: Arc<Metrics>,
    due: DueJob,
    target: Arc<Target>,
    permit: OwnedSemaphorePermit,
) -> u64 {
    let span = tracing::info_span!(
        "delivery",
        target_name = %target.name,
        job = due.id,
        attempt = due.job.attempts + 1,
        endpoint = Empty,
        event_id = Empty,
        event_type = Empty
    );
    attempt_and_record(store, client, metrics, due, target, permit)
        .instrument(span)
        .await
}

async fn attempt_and_record(
    store: Arc<SledStore>,
    client: reqwest::Client,
    metrics: Arc<Metrics>,
    due: DueJob,
    target: Arc<Target>,
    _permit: OwnedSemaphorePermit,
) -> u64 {
    let id = AttemptId {
        job_id: due.id,
        attempt: due.job.attempts + 1,
    };
    let seq = due.job.event_seq;
    let loaded = store.event(seq).and_then(|e| Ok((e, store.body(seq)?)));
    let report = match loaded {
        Ok((Some(event), body)) => {
            let span = tracing::Span::current();
            span.record("endpoint", event.endpoint.as_str());
            span.record("event_id", event.event_id.as_str());
            if let Some(t) = &event.event_type {
                span.record("event_type", t.as_str());
            }
            let now_secs = millis(SystemTime::now()) / 1000;
            let request = request::build(&target, id, &event, body, now_secs);
            attempt::perform(&client, request).await
        }
        Ok((None, _)) => local_failure(format!("event {seq} is missing from the store")),
        Err(e) => {
            tracing::error!(job = id.job_id, error = %e, "cannot read the event to deliver");
            // Leave the job due; pause so a failing store is not hammered.
            tokio::time::sleep(MAX_IDLE).await;
            return id.job_id;
        }
    };
    let now = millis(SystemTime::now());
    let transition = match &report.outcome {
        AttemptOutcome::Delivered { .. } => JobTransition::Delivered,
        AttemptOutcome::Failed(failure) => {
            let jitter = rand::random_range(-1.0..=1.0);
            let created = due.job.created_at_ms;
            match retry::decide(&target.retry, id.attempt, created, now, failure, jitter) {
                RetryDecision::RetryAt { at_ms, .. } => JobTransition::RetryAt { at_ms },
                RetryDecision::GiveUp { reason } => JobTransition::Dead { reason },
            }
        }
    };
    log_attempt(&target, id, &report, &transition);
    let latency = Duration::from_millis(report.record.latency_ms);
    match store.record_attempt(&due, report.record, transition.clone()) {
        Ok(RecordOutcome::Recorded(_)) => {
            let outcome = match transition {
                JobTransition::Delivered => DeliveryOutcome::Delivered,
                JobTransition::RetryAt { .. } => DeliveryOutcome::Retried,
                JobTransition::Dead { .. } => DeliveryOutcome::DeadLettered,
            };
            metrics.delivery(&target.name, outcome, latency);
        }
        Ok(RecordOutcome::Stale) => {
            tracing::warn!(
                job = id.job_id,
                "the job changed during its attempt; outcome not recorded"
            )
        }
        Err(e) => {
            tracing::error!(job = id.job_id, error = %e, "recording an attempt failed; the job stays due")
        }
    }
    id.job_id
}

fn local_failure(reason: String) -> AttemptReport {
    AttemptReport {
        record: AttemptV1 {
            attempt: 0,
            at_ms: millis(SystemTime::now()),
            latency_ms: 0,
            status: None,
            error: Some(reason.clone()),
            response_body: Vec::new(),
        },
        outcome: AttemptOutcome::Failed(Failure::permanent(reason)),
    }
}

fn log_attempt(target: &Target, id: AttemptId, report: &AttemptReport, next: &JobTransition) {
    let (job, attempt, latency_ms) = (id.job_id, id.attempt, report.record.latency_ms);
    let status = report.record.status;
    let target_name = &*target.name;
    match next {
        JobTransition::Delivered => {
            tracing::debug!(target_name, job, attempt, status, latency_ms, "delivered")
        }
        JobTransition::RetryAt { at_ms } => {
            let error = report.record.error.as_deref().unwrap_or_default();
            let in_ms = at_ms.saturating_sub(millis(SystemTime::now()));
            tracing::warn!(
                target_name,
                job,
                attempt,
                status,
                latency_ms,
                error,
                in_ms,
                "attempt failed; will retry"
            )
        }
        JobTransition::Dead { reason } => {
            tracing::warn!(
                target_name,
                job,
                attempt,
                status,
                latency_ms,
                reason,
                "dead-lettered"
            )
        }
    }
}
