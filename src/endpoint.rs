//! An inbound endpoint, compiled: its path, signature scheme and secrets, where the event id
//! and type come from, the public URL the provider sends to, its rules, and how it answers what
//! it refuses, how long an event id or type may be, and which headers are stored.

use crate::config::raw::UnmatchedPolicy;
use crate::handshake::Handshake;
use crate::rules::Rule;
use crate::signature::{Scheme, SecretKey};
use crate::source::ValueSource;
use crate::stored_headers::StoredHeaders;
use std::sync::Arc;

#[derive(Debug)]
pub struct Endpoint {
    /// Stable name: logs, metrics and the dedup key.
    pub name: Arc<str>,
    pub path: String,
    /// The preset it started from, if any.
    pub provider: Option<String>,
    pub scheme: Scheme,
    pub secrets: Vec<SecretKey>,
    pub event_id: ValueSource,
    pub event_type: Option<ValueSource>,
    pub invalid_signature_status: u16,
    pub unmatched: UnmatchedPolicy,
    pub max_body_size: usize,
    pub rules: Vec<Rule>,
    /// The body must parse as JSON (an id, type or condition reads it).
    pub needs_json: bool,
    /// The provider handshake answered here instead of ingesting, if any.
    pub handshake: Option<Handshake>,
    /// The body is read as form fields (a `form:` id or type).
    pub needs_form: bool,
    /// The URL as registered with the provider (`public_url`), for schemes that sign it.
    pub public_url: Option<String>,
    /// The ordering key source of each target its rules forward to that orders by key.
    pub ordering: Vec<(Arc<str>, ValueSource)>,
    /// Longest event id and event type accepted, in bytes (`event.max_length`).
    pub max_event_field_length: usize,
    /// The inbound headers stored with an event.
    pub stored_headers: StoredHeaders,
}
