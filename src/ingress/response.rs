//! How the ingress answers: JSON bodies for every outcome and refusal. 4xx bodies say what was
//! wrong; a storage failure is a 503 with `Retry-After` (so the provider retries) whose cause is
//! logged, not shown.

use super::pipeline::{IngestError, IngestOutcome};
use crate::handshake::{HandshakeAnswer, HandshakeError};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde_json::json;

pub const STORAGE_RETRY_AFTER_SECS: u32 = 5;

pub fn outcome(outcome: &IngestOutcome) -> HttpResponse {
    let body = match outcome {
        IngestOutcome::Accepted {
            event_id,
            deliveries,
        } => {
            json!({"status": "accepted", "event_id": event_id, "deliveries": deliveries})
        }
        IngestOutcome::Duplicate { event_id } => {
            json!({"status": "duplicate", "event_id": event_id})
        }
        IngestOutcome::Ignored {
            event_id,
            event_type,
        } => {
            json!({"status": "ignored", "event_id": event_id, "event_type": event_type})
        }
        IngestOutcome::Handshake(answer) => return handshake(answer),
    };
    HttpResponse::Ok().json(body)
}

/// A handshake answered exactly as declared: status, content type and body.
pub fn handshake(answer: &HandshakeAnswer) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK))
        .content_type(answer.content_type.as_str())
        .body(answer.body.clone())
}

pub fn handshake_refusal(err: &HandshakeError) -> HttpResponse {
    refusal(
        StatusCode::from_u16(err.status()).unwrap_or(StatusCode::BAD_REQUEST),
        err.code(),
        &err.to_string(),
    )
}

pub fn error(err: &IngestError, invalid_signature_status: u16) -> HttpResponse {
    match err {
        IngestError::Signature(e) => refusal(
            StatusCode::from_u16(invalid_signature_status).unwrap_or(StatusCode::UNAUTHORIZED),
            e.code(),
            &e.to_string(),
        ),
        IngestError::InvalidJson(m) => refusal(StatusCode::BAD_REQUEST, "invalid_json", m),
        IngestError::MissingEventId(_) => refusal(
            StatusCode::BAD_REQUEST,
            "missing_event_id",
            &err.to_string(),
        ),
        IngestError::MissingEventType(_) => refusal(
            StatusCode::BAD_REQUEST,
            "missing_event_type",
            &err.to_string(),
        ),
        IngestError::EventFieldTooLong { field, .. } => refusal(
            StatusCode::BAD_REQUEST,
            if *field == "id" {
                "event_id_too_long"
            } else {
                "event_type_too_long"
            },
            &err.to_string(),
        ),
        IngestError::Unmatched(_) => {
            refusal(StatusCode::BAD_REQUEST, "unmatched_event", &err.to_string())
        }
        IngestError::Handshake(e) => handshake_refusal(e),
        IngestError::Storage(_) => storage_unavailable(),
    }
}

pub fn storage_unavailable() -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header(("Retry-After", STORAGE_RETRY_AFTER_SECS.to_string()))
        .json(json!({"error": "storage_unavailable", "message": "the event could not be stored; retry later"}))
}

pub fn refusal(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({"error": code, "message": message}))
}
