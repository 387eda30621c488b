//! The actix handler: find the endpoint for the path in the current config snapshot, answer an
//! unsigned (GET) provider handshake, check the method, read the body within its limit, run the
//! pipeline, answer. At this edge, and nowhere else, each request on a configured endpoint is
//! counted once in the metrics with its outcome, and runs inside an `event` span carrying the
//! endpoint, event id and type (the pipeline fills in the last two once it has read them).

use super::body::{read_limited, BodyError};
use super::pipeline::{ingest, InboundRequest, IngestError, IngestOutcome};
use super::provider_url::provider_url;
use super::{response, Ingress};
use crate::config::Config;
use crate::endpoint::Endpoint;
use crate::metrics::{RejectReason, RequestOutcome};
use crate::signature::SignatureError;
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use std::time::{Instant, SystemTime};
use tracing::field::Empty;
use tracing::Instrument;

pub async fn handle(
    req: HttpRequest,
    mut payload: web::Payload,
    ingress: web::Data<Ingress>,
) -> HttpResponse {
    let started = Instant::now();
    // One snapshot for the whole request: a reload meanwhile does not change its rules.
    let config = ingress.config.load_full();
    let Some(endpoint) = config.endpoint(req.path()) else {
        return response::refusal(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no endpoint at {}", req.path()),
        );
    };
    let span = tracing::info_span!(
        "event",
        endpoint = %endpoint.name,
        event_id = Empty,
        event_type = Empty
    );
    let (response, outcome) = serve(&req, &mut payload, &ingress, &config, endpoint)
        .instrument(span)
        .await;
    ingress
        .metrics
        .request(&endpoint.name, outcome, started.elapsed());
    response
}

async fn serve(
    req: &HttpRequest,
    payload: &mut web::Payload,
    ingress: &Ingress,
    config: &Config,
    endpoint: &Endpoint,
) -> (HttpResponse, RequestOutcome) {
    let rejected = |reason, resp| (resp, RequestOutcome::Rejected(reason));
    if let Some(handshake) = endpoint
        .handshake
        .as_ref()
        .filter(|h| req.method() != Method::POST && h.answers(req.method().as_str()))
    {
        // Unsigned (Meta's GET): answered from the query alone, before the method check.
        return match handshake.answer_query(req.query_string()) {
            Ok(answer) => {
                tracing::info!(handshake = %answer.handshake, "answered handshake");
                (response::handshake(&answer), RequestOutcome::Handshake)
            }
            Err(err) => {
                tracing::info!(error = %err, "refused handshake");
                rejected(RejectReason::Handshake, response::handshake_refusal(&err))
            }
        };
    }
    if req.method() != Method::POST {
        let mut resp = response::refusal(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            &format!("{} accepts POST only", endpoint.path),
        );
        resp.headers_mut().insert(
            actix_web::http::header::ALLOW,
            actix_web::http::header::HeaderValue::from_static("POST"),
        );
        tracing::debug!(method = logged_method(req.method()), "refused: not POST");
        return rejected(RejectReason::Method, resp);
    }
    let received_at = SystemTime::now();
    let body = match read_limited(
        req,
        payload,
        endpoint.max_body_size,
        config.server.request_timeout,
    )
    .await
    {
        Ok(b) => b,
        Err(e) => {
            tracing::debug!(error = %e, "refused: body not read");
            let (reason, status, code) = match e {
                BodyError::TooLarge { .. } => (
                    RejectReason::TooLarge,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                ),
                BodyError::Timeout(_) => (
                    RejectReason::Timeout,
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                ),
                _ => (
                    RejectReason::Unreadable,
                    StatusCode::BAD_REQUEST,
                    "unreadable_body",
                ),
            };
            return rejected(reason, response::refusal(status, code, &e.to_string()));
        }
    };
    let url = if endpoint.scheme.needs_url() {
        provider_url(
            req.uri(),
            req.headers(),
            endpoint.public_url.as_deref(),
            config.server.trust_forwarded_headers,
        )
    } else {
        None
    };
    let inbound = InboundRequest {
        headers: req.headers(),
        body: &body,
        received_at,
        url: url.as_deref(),
    };
    let space = config.storage.space_limits();
    match ingest(endpoint, ingress.store.as_ref(), space, inbound).await {
        Ok(IngestOutcome::Handshake(answer)) => {
            tracing::info!(handshake = %answer.handshake, "answered handshake");
            (response::handshake(&answer), RequestOutcome::Handshake)
        }
        Ok(outcome) => {
            tracing::debug!(?outcome, "ingested");
            let counted = match outcome {
                IngestOutcome::Accepted { .. } => RequestOutcome::Accepted,
                IngestOutcome::Duplicate { .. } => RequestOutcome::Duplicate,
                IngestOutcome::Ignored { .. } => RequestOutcome::Ignored,
                IngestOutcome::Handshake(_) => RequestOutcome::Handshake,
            };
            (response::outcome(&outcome), counted)
        }
        Err(err) => {
            match &err {
                IngestError::Storage(cause) => {
                    tracing::error!(error = %cause.chain(), "cannot store event: answered 503")
                }
                IngestError::Signature(e) => {
                    tracing::warn!(code = e.code(), error = %e, "signature rejected")
                }
                other => tracing::debug!(error = %other, "refused"),
            }
            let reason = reject_reason(&err);
            rejected(
                reason,
                response::error(&err, endpoint.invalid_signature_status),
            )
        }
    }
}

/// The method as logged: an extension method is any token the sender chose, so only the
/// standard ones are named.
fn logged_method(method: &Method) -> &'static str {
    const STANDARD: [&str; 8] = [
        "GET", "HEAD", "PUT", "DELETE", "OPTIONS", "CONNECT", "PATCH", "TRACE",
    ];
    STANDARD
        .into_iter()
        .find(|m| *m == method.as_str())
        .unwrap_or("(extension method)")
}

fn reject_reason(err: &IngestError) -> RejectReason {
    match err {
        IngestError::Signature(SignatureError::Stale { .. } | SignatureError::Future { .. }) => {
            RejectReason::Stale
        }
        IngestError::Signature(_) => RejectReason::Signature,
        IngestError::InvalidJson(_) => RejectReason::BadJson,
        IngestError::MissingEventId(_) => RejectReason::MissingEventId,
        IngestError::MissingEventType(_) => RejectReason::MissingEventType,
        IngestError::EventFieldTooLong { .. } => RejectReason::EventFieldTooLong,
        IngestError::Unmatched(_) => RejectReason::Unmatched,
        IngestError::Storage(_) => RejectReason::Storage,
        IngestError::Handshake(_) => RejectReason::Handshake,
    }
}
