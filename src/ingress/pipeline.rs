//! The ingest pipeline, as plain async code with no HTTP in it: verify the signature over the raw
//! bytes -> answer the endpoint's provider handshake if the request is one (never stored) ->
//! parse and extract the event id and type (each within the endpoint's length cap) -> route
//! through the rules -> store the event (with only the headers the endpoint keeps) and its
//! delivery jobs in one transaction and wait until that is durable
//! (`IngestStore::accept_durable`).
//! Each stage hands the next a new type, so an unverified request cannot reach the store or be
//! answered as a handshake.

use crate::config::raw::UnmatchedPolicy;
use crate::endpoint::Endpoint;
use crate::handshake::{
    HandshakeAnswer, HandshakeError, HandshakeMethod, HandshakeOutcome, RequestValues,
};
use crate::signature::{HeaderSource, SignatureError, SignedRequest, VerifiedSignature};
use crate::source::ParsedBody;
use crate::store::quota::SpaceLimits;
use crate::store::{AcceptOutcome, IngestStore, NewEvent, StoreError};
use actix_web::http::header::HeaderMap;
use serde_json::Value;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A request as received on an endpoint's path, body read in full and within its limit.
pub struct InboundRequest<'a> {
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub received_at: SystemTime,
    /// The full URL as the provider sent it (the endpoint's `public_url` or one rebuilt from
    /// the request, plus the query), when the endpoint's scheme signs it.
    pub url: Option<&'a str>,
}

/// Passed signature verification.
pub struct VerifiedRequest<'a> {
    inbound: InboundRequest<'a>,
    /// The body, parsed already if the handshake check needed it.
    json: Option<Value>,
    /// Which secret matched (for `hookroute explain`).
    pub signature: VerifiedSignature,
}

/// Verified, parsed, and its id and type extracted.
pub struct ExtractedEvent<'a> {
    inbound: InboundRequest<'a>,
    pub id: String,
    pub event_type: Option<String>,
    json: Option<Value>,
    /// The ordering key for each target of the endpoint that orders by key (absent: none).
    ordering_keys: Vec<(Arc<str>, Option<String>)>,
}

impl ExtractedEvent<'_> {
    /// The parsed body, when the endpoint needs JSON.
    pub fn json(&self) -> Option<&Value> {
        self.json.as_ref()
    }
}

/// What the ingest of one request came to (each answered 200).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    Accepted {
        event_id: String,
        deliveries: usize,
    },
    Duplicate {
        event_id: String,
    },
    /// No rule matched and the endpoint ignores such events: nothing stored.
    Ignored {
        event_id: String,
        event_type: Option<String>,
    },
    /// A provider handshake, answered as it declares: nothing stored or forwarded.
    Handshake(HandshakeAnswer),
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("signature rejected: {0}")]
    Signature(#[from] SignatureError),
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("no event id at {0}")]
    MissingEventId(String),
    #[error("no event type at {0}")]
    MissingEventType(String),
    /// Refused before anything is stored: the id travels in a delivery header.
    #[error("the event {field} is {length} bytes long; this endpoint accepts at most {limit}")]
    EventFieldTooLong {
        field: &'static str,
        length: usize,
        limit: usize,
    },
    #[error("no rule matches event type {0:?}")]
    Unmatched(Option<String>),
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    #[error(transparent)]
    Storage(#[from] StoreError),
}

impl HeaderSource for HeaderMap {
    fn header(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| v.to_str().ok())
    }
}

/// `space` (quota and free-space floor) is checked just before the write.
pub async fn ingest(
    endpoint: &Endpoint,
    store: &dyn IngestStore,
    space: SpaceLimits,
    inbound: InboundRequest<'_>,
) -> Result<IngestOutcome, IngestError> {
    let mut verified = verify(endpoint, inbound)?;
    if let Some(answer) = verified.handshake(endpoint)? {
        return Ok(IngestOutcome::Handshake(answer));
    }
    let event = verified.extract(endpoint)?;
    let span = tracing::Span::current();
    span.record("event_id", event.id.as_str());
    if let Some(t) = &event.event_type {
        span.record("event_type", t.as_str());
    }
    let targets = event.route(endpoint);
    if targets.is_empty() {
        return match endpoint.unmatched {
            UnmatchedPolicy::Ignore => Ok(IngestOutcome::Ignored {
                event_id: event.id,
                event_type: event.event_type,
            }),
            UnmatchedPolicy::Reject => Err(IngestError::Unmatched(event.event_type)),
        };
    }
    // Refused before anything is written when the store is over its quota or the disk is
    // nearly full (503 + Retry-After).
    store.check_space(space)?;
    // A duplicate waits too: its answer promises the first copy is on disk.
    let keys = event.ordering_keys_for(&targets);
    let outcome = store
        .accept_durable(event.to_new_event(endpoint, &targets, &keys))
        .await?;
    Ok(match outcome {
        AcceptOutcome::Accepted { deliveries, .. } => IngestOutcome::Accepted {
            event_id: event.id,
            deliveries,
        },
        AcceptOutcome::Duplicate { .. } => IngestOutcome::Duplicate { event_id: event.id },
    })
}

pub fn verify<'a>(
    endpoint: &Endpoint,
    inbound: InboundRequest<'a>,
) -> Result<VerifiedRequest<'a>, IngestError> {
    let now = inbound
        .received_at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let request = SignedRequest {
        headers: inbound.headers,
        body: inbound.body,
        url: inbound.url,
    };
    let signature = endpoint.scheme.verify(&request, &endpoint.secrets, now)?;
    Ok(VerifiedRequest {
        inbound,
        json: None,
        signature,
    })
}

impl<'a> VerifiedRequest<'a> {
    /// The answer, when the endpoint has a POST handshake and this request is one. A body that
    /// is not JSON is not a handshake (the next stage says what is wrong with it).
    pub fn handshake(
        &mut self,
        endpoint: &Endpoint,
    ) -> Result<Option<HandshakeAnswer>, HandshakeError> {
        let Some(handshake) = endpoint
            .handshake
            .as_ref()
            .filter(|h| h.method == HandshakeMethod::Post)
        else {
            return Ok(None);
        };
        if self.json.is_none() {
            self.json = serde_json::from_slice(self.inbound.body).ok();
        }
        let values = RequestValues {
            json: self.json.as_ref(),
            query: &[],
        };
        match handshake.answer(&values) {
            HandshakeOutcome::NotHandshake => Ok(None),
            HandshakeOutcome::Answer(answer) => Ok(Some(answer)),
            HandshakeOutcome::Refused(err) => Err(err),
        }
    }

    pub fn extract(self, endpoint: &Endpoint) -> Result<ExtractedEvent<'a>, IngestError> {
        let json = match self.json {
            _ if !endpoint.needs_json => None,
            Some(parsed) => Some(parsed),
            None => Some(
                serde_json::from_slice::<Value>(self.inbound.body)
                    .map_err(|e| IngestError::InvalidJson(e.to_string()))?,
            ),
        };
        // Any bytes parse as a form; a field that is not there is reported as missing below.
        let form = endpoint.needs_form.then(|| {
            form_urlencoded::parse(self.inbound.body)
                .into_owned()
                .collect()
        });
        let body = ParsedBody { json, form };
        let headers = self.inbound.headers;
        let id = endpoint
            .event_id
            .read(headers, &body)
            .ok_or_else(|| IngestError::MissingEventId(endpoint.event_id.to_string()))?;
        let event_type = match &endpoint.event_type {
            None => None,
            Some(src) => Some(
                src.read(headers, &body)
                    .ok_or_else(|| IngestError::MissingEventType(src.to_string()))?,
            ),
        };
        let limit = endpoint.max_event_field_length;
        for (field, value) in [("id", Some(&id)), ("type", event_type.as_ref())] {
            if let Some(length) = value.map(String::len).filter(|n| *n > limit) {
                return Err(IngestError::EventFieldTooLong {
                    field,
                    length,
                    limit,
                });
            }
        }
        let ordering_keys = endpoint
            .ordering
            .iter()
            .map(|(target, source)| {
                let key = source.read(headers, &body).map(stored_ordering_key);
                (target.clone(), key)
            })
            .collect();
        let json = body.json;
        Ok(ExtractedEvent {
            inbound: self.inbound,
            id,
            event_type,
            json,
            ordering_keys,
        })
    }
}

/// Longest ordering key stored as read; a longer one is stored as its SHA-256 (same key, same
/// digest), so a body cannot make every job and the due index carry a huge key.
const MAX_ORDERING_KEY: usize = 128;

fn stored_ordering_key(key: String) -> String {
    use sha2::{Digest as _, Sha256};
    if key.len() <= MAX_ORDERING_KEY {
        return key;
    }
    format!("sha256:{}", hex::encode(Sha256::digest(key.as_bytes())))
}

impl ExtractedEvent<'_> {
    pub fn route(&self, endpoint: &Endpoint) -> Vec<Arc<str>> {
        crate::rules::route(
            &endpoint.rules,
            self.event_type.as_deref(),
            self.json.as_ref(),
        )
    }

    /// The ordering key of each routed target's job (empty when no target orders by key).
    fn ordering_keys_for(&self, targets: &[Arc<str>]) -> Vec<Option<String>> {
        if self.ordering_keys.is_empty() {
            return Vec::new();
        }
        targets
            .iter()
            .map(|t| {
                self.ordering_keys
                    .iter()
                    .find(|(name, _)| name == t)
                    .and_then(|(_, key)| key.clone())
            })
            .collect()
    }

    fn to_new_event<'b>(
        &'b self,
        endpoint: &'b Endpoint,
        targets: &'b [Arc<str>],
        ordering_keys: &'b [Option<String>],
    ) -> NewEvent<'b> {
        let received_at_ms = self
            .inbound
            .received_at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        NewEvent {
            endpoint: &endpoint.name,
            event_id: &self.id,
            event_type: self.event_type.as_deref(),
            received_at_ms,
            // Only what delivery and replay can use; never credentials (see stored_headers).
            headers: self
                .inbound
                .headers
                .iter()
                .filter(|(k, _)| endpoint.stored_headers.keeps(k.as_str()))
                .map(|(k, v)| (k.as_str().to_string(), v.as_bytes().to_vec()))
                .collect(),
            body: self.inbound.body,
            targets,
            ordering_keys,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_ordering_key_is_kept_and_a_long_one_becomes_its_digest() {
        assert_eq!(stored_ordering_key("obj_1".into()), "obj_1");
        let long = "x".repeat(MAX_ORDERING_KEY + 1);
        let stored = stored_ordering_key(long.clone());
        assert!(
            stored.starts_with("sha256:") && stored.len() == 7 + 64,
            "{stored}"
        );
        assert_eq!(
            stored,
            stored_ordering_key(long),
            "the same key, the same digest"
        );
    }
}
