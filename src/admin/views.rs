//! What the admin API answers, as JSON: store records turned into plain, stable shapes (times in
//! milliseconds since the epoch, job states as a `state` string plus details). The CLI reads the
//! same types back.

use crate::store::{Attempt, Event, EventDetail, Job, JobState};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeliverySummary {
    pub pending: usize,
    pub delivered: usize,
    pub dead: usize,
}

impl DeliverySummary {
    pub fn add(&mut self, state: &JobState) {
        match state {
            JobState::Pending => self.pending += 1,
            JobState::Delivered { .. } => self.delivered += 1,
            JobState::Dead { .. } => self.dead += 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventSummary {
    pub seq: u64,
    pub endpoint: String,
    pub event_id: String,
    pub event_type: Option<String>,
    pub received_at_ms: u64,
    pub deliveries: DeliverySummary,
}

impl EventSummary {
    pub fn new(seq: u64, event: &Event, deliveries: DeliverySummary) -> Self {
        Self {
            seq,
            endpoint: event.endpoint.clone(),
            event_id: event.event_id.clone(),
            event_type: event.event_type.clone(),
            received_at_ms: event.received_at_ms,
            deliveries,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    pub job_id: u64,
    pub event_seq: u64,
    pub target: String,
    /// `pending`, `delivered` or `dead`.
    pub state: String,
    /// When it was delivered or dead-lettered.
    pub finished_at_ms: Option<u64>,
    pub dead_reason: Option<String>,
    pub attempts: u32,
    pub created_at_ms: u64,
    pub next_attempt_at_ms: u64,
}

impl JobView {
    pub fn new(job_id: u64, job: &Job) -> Self {
        let (state, finished_at_ms, dead_reason) = match &job.state {
            JobState::Pending => ("pending", None, None),
            JobState::Delivered { at_ms } => ("delivered", Some(*at_ms), None),
            JobState::Dead { at_ms, reason } => ("dead", Some(*at_ms), Some(reason.clone())),
        };
        Self {
            job_id,
            event_seq: job.event_seq,
            target: job.target.clone(),
            state: state.to_string(),
            finished_at_ms,
            dead_reason,
            attempts: job.attempts,
            created_at_ms: job.created_at_ms,
            next_attempt_at_ms: job.next_attempt_at_ms,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptView {
    pub attempt: u32,
    pub at_ms: u64,
    pub latency_ms: u64,
    pub status: Option<u16>,
    pub error: Option<String>,
    /// The start of the response body, lossily decoded as UTF-8.
    pub response_body: String,
}

impl From<&Attempt> for AttemptView {
    fn from(a: &Attempt) -> Self {
        Self {
            attempt: a.attempt,
            at_ms: a.at_ms,
            latency_ms: a.latency_ms,
            status: a.status,
            error: a.error.clone(),
            response_body: String::from_utf8_lossy(&a.response_body).into_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryView {
    #[serde(flatten)]
    pub job: JobView,
    pub attempt_log: Vec<AttemptView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventView {
    #[serde(flatten)]
    pub summary: EventSummary,
    pub body_len: u64,
    pub jobs: Vec<DeliveryView>,
}

impl From<&EventDetail> for EventView {
    fn from(d: &EventDetail) -> Self {
        let mut summary = DeliverySummary::default();
        for j in &d.jobs {
            summary.add(&j.job.state);
        }
        Self {
            summary: EventSummary::new(d.seq, &d.event, summary),
            body_len: d.event.body_len,
            jobs: d
                .jobs
                .iter()
                .map(|j| DeliveryView {
                    job: JobView::new(j.id, &j.job),
                    attempt_log: j.attempts.iter().map(AttemptView::from).collect(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryAllView {
    pub retried: usize,
    pub job_ids: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayView {
    pub event_seq: u64,
    pub jobs: Vec<ReplayedJob>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayedJob {
    pub job_id: u64,
    pub target: String,
}
