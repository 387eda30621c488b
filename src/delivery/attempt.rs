//! Sending one attempt: the shared HTTP client (keep-alive, rustls, redirects never followed),
//! and [`perform`], which sends an [`OutboundRequest`] and reports what happened as an
//! [`AttemptOutcome`] plus the record the store keeps (time, status or error, latency, the first
//! KiB of the response).

use super::outcome::{
    classify_response, classify_transport, parse_retry_after, AttemptOutcome, ResponseHead,
    TransportFailure,
};
use super::request::OutboundRequest;
use crate::store::{Attempt, ATTEMPT_BODY_LIMIT};
use reqwest::header::{LOCATION, RETRY_AFTER};
use std::time::{Duration, Instant, SystemTime};

/// The one client every attempt shares, so connections to a target are kept alive and reused.
pub fn http_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("hookroute/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
}

/// What one attempt came to, and what to record about it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptReport {
    pub outcome: AttemptOutcome,
    /// `attempt` is filled in by the store when it records the report.
    pub record: Attempt,
}

pub async fn perform(client: &reqwest::Client, request: OutboundRequest) -> AttemptReport {
    let at = SystemTime::now();
    let started = Instant::now();
    let sent = client
        .post(request.url)
        .headers(request.headers)
        .timeout(request.timeout)
        .body(request.body)
        .send()
        .await;
    let mut record = Attempt {
        attempt: 0,
        at_ms: millis(at),
        latency_ms: 0,
        status: None,
        error: None,
        response_body: Vec::new(),
    };
    let outcome = match sent {
        Ok(mut response) => {
            let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok());
            let location = header(LOCATION).map(str::to_string);
            let retry_after = header(RETRY_AFTER).and_then(|v| parse_retry_after(v, at));
            let status = response.status().as_u16();
            let outcome = classify_response(&ResponseHead {
                status,
                location: location.as_deref(),
                retry_after,
            });
            record.status = Some(status);
            record.response_body = read_prefix(&mut response).await;
            outcome
        }
        Err(e) => classify_transport(&transport_failure(&e)),
    };
    record.latency_ms = started.elapsed().as_millis() as u64;
    if let AttemptOutcome::Failed(f) = &outcome {
        record.error = Some(f.reason.clone());
    }
    AttemptReport { outcome, record }
}

/// The first [`ATTEMPT_BODY_LIMIT`] bytes of the body; the rest is not read (so a connection
/// whose response was longer is closed rather than reused). A body that fails half-way keeps
/// what arrived: the status already decided the outcome.
async fn read_prefix(response: &mut reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < ATTEMPT_BODY_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(ATTEMPT_BODY_LIMIT);
    body
}

fn transport_failure(e: &reqwest::Error) -> TransportFailure {
    // e.g. `error sending request: client error (Connect): tcp connect error: Connection refused`
    let text = crate::store::error_chain(e);
    if e.is_timeout() {
        TransportFailure::Timeout(text)
    } else if e.is_connect() {
        TransportFailure::Connect(text)
    } else if e.is_builder() {
        TransportFailure::Request(text)
    } else {
        TransportFailure::Other(text)
    }
}

pub(crate) fn millis(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}
