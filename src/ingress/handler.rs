//! The actix handler: find the endpoint for the path in the current config snapshot, check the
//! method, read the body within its limit, run the pipeline, answer. Nothing else lives here.

use super::body::{read_limited, BodyError};
use super::pipeline::{ingest, InboundRequest};
use super::{response, Ingress};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use std::time::SystemTime;

pub async fn handle(
    req: HttpRequest,
    mut payload: web::Payload,
    ingress: web::Data<Ingress>,
) -> HttpResponse {
    // One snapshot for the whole request: a reload meanwhile does not change its rules.
    let config = ingress.config.load_full();
    let Some(endpoint) = config.endpoint(req.path()) else {
        return response::refusal(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no endpoint at {}", req.path()),
        );
    };
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
        return resp;
    }
    let received_at = SystemTime::now();
    let body = match read_limited(
        &req,
        &mut payload,
        endpoint.max_body_size,
        config.server.request_timeout,
    )
    .await
    {
        Ok(b) => b,
        Err(e @ BodyError::TooLarge { .. }) => {
            return response::refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                &e.to_string(),
            )
        }
        Err(e @ BodyError::Timeout(_)) => {
            return response::refusal(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                &e.to_string(),
            )
        }
        Err(e) => {
            return response::refusal(StatusCode::BAD_REQUEST, "unreadable_body", &e.to_string())
        }
    };
    let inbound = InboundRequest {
        headers: req.headers(),
        body: &body,
        received_at,
    };
    let space = config.storage.space_limits();
    match ingest(endpoint, ingress.store.as_ref(), space, inbound).await {
        Ok(outcome) => {
            tracing::debug!(endpoint = %endpoint.name, ?outcome, "ingested");
            response::outcome(&outcome)
        }
        Err(err) => {
            match &err {
                super::pipeline::IngestError::Storage(cause) => {
                    tracing::error!(endpoint = %endpoint.name, error = %cause, "cannot store event: answered 503")
                }
                other => tracing::debug!(endpoint = %endpoint.name, error = %other, "refused"),
            }
            response::error(&err, endpoint.invalid_signature_status)
        }
    }
}
