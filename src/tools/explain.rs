//! `hookroute explain`: what the router would do with a sample request on an endpoint, step by
//! step, offline (the store is never opened and no target is contacted). It runs the ingest
//! pipeline's own stages (`verify`, `extract`, `route`) and the ingress's own answers, so it
//! cannot drift from what `serve` does; only storage (and so deduplication) is left out.

use super::args::ExplainArgs;
use super::input::{self, Body};
use super::{explain_text, CommandOutput, ToolError};
use crate::config::raw::UnmatchedPolicy;
use crate::config::{self, Environment};
use crate::endpoint::Endpoint;
use crate::ingress::pipeline::{self, InboundRequest, IngestError, IngestOutcome};
use crate::ingress::response;
use crate::rules::RuleMismatch;
use actix_web::body::MessageBody;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::HttpResponse;
use serde::Serialize;
use serde_json::Value;
use std::time::{Duration, UNIX_EPOCH};

/// The verdict on one sample request. Steps after the first refusal are `None`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub endpoint: String,
    pub name: String,
    pub provider: Option<String>,
    pub body_size: Option<BodySizeStep>,
    pub signature: Option<SignatureStep>,
    /// The provider handshake the request is, when it is one (answered, never stored).
    pub handshake: Option<String>,
    pub event: Option<EventStep>,
    pub rules: Vec<RuleStep>,
    /// Where the event would be delivered (empty unless accepted).
    pub targets: Vec<String>,
    pub answer: Answer,
    /// The router would answer 2xx (accepted, or ignored by the unmatched policy).
    pub acknowledged: bool,
}

/// Only present when the body is over the endpoint's limit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BodySizeStep {
    pub size: usize,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignatureStep {
    pub verified: bool,
    /// The label of the secret that matched (e.g. `env:STRIPE_WEBHOOK_SECRET`).
    pub secret: Option<String>,
    pub timestamp: Option<i64>,
    /// The refusal code (`invalid_signature`, `stale_timestamp`, ...) and why.
    pub error: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventStep {
    pub id: Option<String>,
    pub id_source: String,
    pub event_type: Option<String>,
    pub type_source: Option<String>,
    /// Why extraction failed (invalid JSON, no id, no type).
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleStep {
    pub name: String,
    pub matched: bool,
    pub targets: Vec<String>,
    /// The first check that failed, when the rule does not match.
    pub mismatch: Option<RuleMismatch>,
    pub reason: Option<String>,
}

/// The status and JSON body the router would answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

pub fn run(args: &ExplainArgs, env: &dyn Environment) -> Result<CommandOutput, ToolError> {
    let config = config::load(&args.config, env).map_err(ToolError::Config)?;
    let endpoint = config.endpoint(&args.endpoint).ok_or_else(|| {
        let paths: Vec<&str> = config.endpoints.iter().map(|e| e.path.as_str()).collect();
        ToolError::usage(format!(
            "{} has no endpoint {:?}; its endpoints are: {}",
            args.config.display(),
            args.endpoint,
            paths.join(", ")
        ))
    })?;
    let body = Body::read(&args.body)?;
    let headers = header_map(&input::headers(&args.headers)?)?;
    let now = args.now.unwrap_or_else(super::signer::now_unix_secs);
    let url = args.url.as_deref().or(endpoint.public_url.as_deref());
    let explanation = explain(endpoint, &headers, &body.bytes, url, now);
    let stdout = if args.json {
        format!(
            "{}\n",
            serde_json::to_string_pretty(&explanation).expect("an explanation serializes")
        )
    } else {
        explain_text::render(&explanation)
    };
    Ok(CommandOutput::ok(stdout).with_exit_code(if explanation.acknowledged { 0 } else { 1 }))
}

/// Runs the pipeline's stages on the sample, as `serve` would at unix time `now`.
/// `url` is the URL the provider sent the request to, for schemes that sign it.
pub fn explain(
    endpoint: &Endpoint,
    headers: &HeaderMap,
    body: &[u8],
    url: Option<&str>,
    now: i64,
) -> Explanation {
    let mut explanation = Explanation {
        endpoint: endpoint.path.clone(),
        name: endpoint.name.to_string(),
        provider: endpoint.provider.clone(),
        body_size: None,
        signature: None,
        handshake: None,
        event: None,
        rules: Vec::new(),
        targets: Vec::new(),
        answer: Answer {
            status: 0,
            body: Value::Null,
        },
        acknowledged: false,
    };
    if body.len() > endpoint.max_body_size {
        explanation.body_size = Some(BodySizeStep {
            size: body.len(),
            limit: endpoint.max_body_size,
        });
        let message = format!(
            "the body is {} bytes, over this endpoint's limit of {}",
            body.len(),
            endpoint.max_body_size
        );
        let refusal = response::refusal(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            &message,
        );
        return explanation.answered(refusal);
    }
    let inbound = InboundRequest {
        headers,
        body,
        received_at: UNIX_EPOCH + Duration::from_secs(now.max(0) as u64),
        url,
    };
    let verified = match pipeline::verify(endpoint, inbound) {
        Ok(verified) => verified,
        Err(err) => {
            let (error, reason) = match &err {
                IngestError::Signature(e) => (e.code().to_string(), e.to_string()),
                other => ("error".to_string(), other.to_string()),
            };
            explanation.signature = Some(SignatureStep {
                verified: false,
                secret: None,
                timestamp: None,
                error: Some(error),
                reason: Some(reason),
            });
            return explanation.refused(&err, endpoint);
        }
    };
    explanation.signature = Some(SignatureStep {
        verified: true,
        secret: endpoint
            .secrets
            .get(verified.signature.secret_index)
            .map(|s| s.label().to_string()),
        timestamp: verified.signature.timestamp,
        error: None,
        reason: None,
    });
    let mut verified = verified;
    match verified.handshake(endpoint) {
        Ok(Some(answer)) => {
            explanation.handshake = Some(answer.handshake.clone());
            return explanation.answered(response::handshake(&answer));
        }
        Ok(None) => {}
        Err(err) => return explanation.refused(&IngestError::Handshake(err), endpoint),
    }
    let id_source = endpoint.event_id.to_string();
    let type_source = endpoint.event_type.as_ref().map(ToString::to_string);
    let event = match verified.extract(endpoint) {
        Ok(event) => event,
        Err(err) => {
            explanation.event = Some(EventStep {
                id: None,
                id_source,
                event_type: None,
                type_source,
                error: Some(err.to_string()),
            });
            return explanation.refused(&err, endpoint);
        }
    };
    explanation.event = Some(EventStep {
        id: Some(event.id.clone()),
        id_source,
        event_type: event.event_type.clone(),
        type_source,
        error: None,
    });
    explanation.rules = endpoint
        .rules
        .iter()
        .map(|rule| {
            let verdict = rule.explain(event.event_type.as_deref(), event.json());
            RuleStep {
                name: rule.name.clone(),
                matched: verdict.is_ok(),
                targets: rule.targets.iter().map(|t| t.to_string()).collect(),
                reason: verdict.as_ref().err().map(ToString::to_string),
                mismatch: verdict.err(),
            }
        })
        .collect();
    let targets = event.route(endpoint);
    if targets.is_empty() {
        return match endpoint.unmatched {
            UnmatchedPolicy::Ignore => {
                explanation.answered(response::outcome(&IngestOutcome::Ignored {
                    event_id: event.id,
                    event_type: event.event_type,
                }))
            }
            UnmatchedPolicy::Reject => {
                explanation.refused(&IngestError::Unmatched(event.event_type), endpoint)
            }
        };
    }
    explanation.targets = targets.iter().map(|t| t.to_string()).collect();
    explanation.answered(response::outcome(&IngestOutcome::Accepted {
        event_id: event.id,
        deliveries: targets.len(),
    }))
}

impl Explanation {
    fn refused(self, err: &IngestError, endpoint: &Endpoint) -> Self {
        self.answered(response::error(err, endpoint.invalid_signature_status))
    }

    /// Records the router's answer; `acknowledged` follows the status (an ignored event is
    /// answered 200 too).
    fn answered(mut self, response: HttpResponse) -> Self {
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .try_into_bytes()
            .ok()
            .map(|bytes| {
                // JSON answers as JSON; a plain-text one (Meta's challenge) as a string.
                serde_json::from_slice(&bytes)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
            })
            .unwrap_or(Value::Null);
        self.acknowledged = (200..300).contains(&status);
        self.answer = Answer { status, body };
        self
    }
}

/// The sample's headers as the ingress would see them.
fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, ToolError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ToolError::usage(format!("invalid header name {name:?}")))?;
        let header_value = HeaderValue::from_str(value)
            .map_err(|_| ToolError::usage(format!("invalid value for header {name}")))?;
        map.append(header_name, header_value);
    }
    Ok(map)
}
