//! One job's attempt, from start to recorded outcome: load the event and its body, build the
//! request, send it (renewing the job's lease meanwhile), decide delivered / retry at /
//! dead-letter with the target's retry policy, log it, record it in the store and count it in the
//! metrics. A request that cannot be built (a key that cannot sign, even a panic while building)
//! is a permanent failure: the job is dead-lettered, never left due forever. The dispatcher
//! decides when an attempt starts; this file is everything after that, including telling the
//! target's controls (adaptive limit, circuit breaker) how the attempt ended.

use super::attempt::{self, millis, AttemptReport};
use super::breaker::{AttemptResult, BreakerState};
use super::controls::TargetControls;
use super::dispatcher::{LEASE, MAX_IDLE};
use super::outcome::{AttemptOutcome, Failure, FailureKind};
use super::request::{self, AttemptId};
use super::retry::{self, RetryDecision};
use crate::metrics::{DeliveryOutcome, Metrics};
use crate::store::{Attempt, ClaimedJob, DeliveryQueue, JobTransition, RecordOutcome};
use crate::target::Target;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::OwnedSemaphorePermit;
use tracing::field::Empty;
use tracing::Instrument;

/// Where an attempt reports: the queue records it, the metrics count it, the controls adapt.
pub(super) struct Reporting {
    pub queue: Arc<dyn DeliveryQueue>,
    pub metrics: Arc<Metrics>,
    pub controls: Arc<TargetControls>,
}

/// One attempt from start to recorded outcome, in a `delivery` span carrying the target, job,
/// attempt and the event's endpoint, id and type. Returns the job id.
pub(super) async fn deliver(
    reporting: Reporting,
    client: reqwest::Client,
    due: ClaimedJob,
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
    // Reports to the controls however the attempt ends, a panic included: otherwise the
    // target's in-flight count would stay up and a half-open breaker would wait forever for
    // its probe.
    let mut report = FinishReport {
        controls: reporting.controls.clone(),
        metrics: reporting.metrics.clone(),
        target: target.clone(),
        job: due.id,
        result: AttemptResult::NotSent,
    };
    let (id, result) = attempt_and_record(
        reporting.queue,
        client,
        reporting.metrics,
        due,
        target,
        permit,
    )
    .instrument(span)
    .await;
    report.result = result;
    id
}

/// Tells the target's controls how an attempt ended, when dropped.
struct FinishReport {
    controls: Arc<TargetControls>,
    metrics: Arc<Metrics>,
    target: Arc<Target>,
    job: u64,
    result: AttemptResult,
}

impl Drop for FinishReport {
    fn drop(&mut self) {
        let now = millis(SystemTime::now());
        if let Some(state) = self
            .controls
            .finished(&self.target, self.job, self.result, now)
        {
            breaker_changed(&self.metrics, &self.target.name, state);
        }
    }
}

/// One log line and the metric for each change of a target's circuit breaker.
pub(super) fn breaker_changed(metrics: &Metrics, target: &Arc<str>, state: BreakerState) {
    metrics.breaker_changed(target, state.as_str());
    match state {
        BreakerState::Open => tracing::warn!(
            target_name = %target,
            breaker = state.as_str(),
            "circuit breaker opened: nothing is sent to the target until its cool-down ends"
        ),
        BreakerState::HalfOpen => tracing::info!(
            target_name = %target,
            breaker = state.as_str(),
            "circuit breaker half-open: one probe goes to the target"
        ),
        BreakerState::Closed => tracing::info!(
            target_name = %target,
            breaker = state.as_str(),
            "circuit breaker closed: delivery to the target resumes"
        ),
    }
}

/// How the breaker and the adaptive limit read an attempt's outcome.
fn attempt_result(report: &AttemptReport) -> AttemptResult {
    match &report.outcome {
        AttemptOutcome::Delivered { .. } => AttemptResult::Delivered,
        AttemptOutcome::Failed(f) => match f.kind {
            FailureKind::Retryable { .. } => AttemptResult::Failed {
                throttled: matches!(report.record.status, Some(429 | 503)),
            },
            FailureKind::Permanent => AttemptResult::Refused,
        },
    }
}

async fn attempt_and_record(
    queue: Arc<dyn DeliveryQueue>,
    client: reqwest::Client,
    metrics: Arc<Metrics>,
    due: ClaimedJob,
    target: Arc<Target>,
    _permit: OwnedSemaphorePermit,
) -> (u64, AttemptResult) {
    let id = AttemptId {
        job_id: due.id,
        attempt: due.job.attempts + 1,
    };
    let seq = due.job.event_seq;
    let report = match queue.load_event(seq).await {
        Ok(Some((event, body))) => {
            let span = tracing::Span::current();
            span.record("endpoint", event.endpoint.as_str());
            span.record("event_id", event.event_id.as_str());
            if let Some(t) = &event.event_type {
                span.record("event_type", t.as_str());
            }
            let now_secs = millis(SystemTime::now()) / 1000;
            let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                request::build(&target, id, &event, body, now_secs)
            }));
            match built {
                Ok(Ok(request)) => {
                    let send = attempt::perform(&client, request);
                    holding_lease(queue.as_ref(), &due, send).await
                }
                Ok(Err(e)) => local_failure(e.to_string()),
                Err(_) => local_failure("building the request panicked".into()),
            }
        }
        Ok(None) => local_failure(format!("event {seq} is missing from the store")),
        Err(e) => {
            tracing::error!(job = id.job_id, error = %e.chain(), "cannot read the event to deliver");
            // Leave the job due; pause so a failing store is not hammered.
            tokio::time::sleep(MAX_IDLE).await;
            let _ = queue.release(due).await;
            return (id.job_id, AttemptResult::NotSent);
        }
    };
    let result = attempt_result(&report);
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
    match queue.record(due, report.record, transition.clone()).await {
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
                "the job's claim was taken over or the job changed during its attempt; outcome not recorded"
            )
        }
        Err(e) => {
            tracing::error!(job = id.job_id, error = %e.chain(), "recording an attempt failed; the job stays due")
        }
    }
    (id.job_id, result)
}

/// Runs `work` while renewing the claim's lease every third of [`LEASE`], so a long attempt
/// keeps its job; a claim lost meanwhile is only logged (recording will be refused as stale).
async fn holding_lease<T>(
    queue: &dyn DeliveryQueue,
    claim: &ClaimedJob,
    work: impl std::future::Future<Output = T>,
) -> T {
    let renew_every = LEASE / 3;
    let renew = async {
        loop {
            tokio::time::sleep(renew_every).await;
            let until = millis(SystemTime::now()) + LEASE.as_millis() as u64;
            match queue.renew(claim, until).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    tracing::warn!(
                        job = claim.id,
                        "the job's claim was taken over during its attempt"
                    );
                    std::future::pending::<()>().await;
                }
                Err(e) => {
                    tracing::warn!(job = claim.id, error = %e.chain(), "renewing a claim failed")
                }
            }
        }
    };
    tokio::select! {
        out = work => out,
        _ = renew => unreachable!("renewing never ends on its own"),
    }
}

fn local_failure(reason: String) -> AttemptReport {
    AttemptReport {
        record: Attempt {
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
