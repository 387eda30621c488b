//! Endpoints: path, signature scheme (a provider preset with overrides, or a scheme written out),
//! secrets, event id and type sources and their length cap, refusal policy, rules, and the
//! headers stored with an event.

use super::rules;
use super::take;
use super::verify::{compile_verify, lookup_preset};
use crate::config::env::Environment;
use crate::config::error::ErrorSink;
use crate::config::raw::{Lenient, RawEndpoint};
use crate::config::ServerSettings;
use crate::endpoint::Endpoint;
use crate::handshake;
use crate::source::ValueSource;
use crate::stored_headers::StoredHeaders;
use crate::target::Target;
use indexmap::IndexMap;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Longest event id and type accepted unless `event.max_length` says otherwise: ids travel in
/// the `x-hookroute-event-id` delivery header, and targets refuse long headers (431).
pub const DEFAULT_MAX_EVENT_FIELD_LENGTH: usize = 1024;

#[allow(clippy::too_many_arguments)]
pub fn compile_all(
    raw: Vec<Lenient<RawEndpoint>>,
    server: &ServerSettings,
    targets: &IndexMap<Arc<str>, Arc<Target>>,
    declared_targets: &[String],
    base_dir: &Path,
    env: &dyn Environment,
    sink: &mut ErrorSink,
    warnings: &mut ErrorSink,
) -> Vec<Arc<Endpoint>> {
    let mut out: Vec<Arc<Endpoint>> = Vec::new();
    let mut seen_paths: HashMap<String, usize> = HashMap::new();
    let mut seen_names: HashMap<String, usize> = HashMap::new();
    for (i, item) in raw.into_iter().enumerate() {
        let path = format!("endpoints[{i}]");
        let Some(raw) = take(item, &path, sink) else {
            continue;
        };
        if let Some(first) = seen_paths.insert(raw.path.clone(), i) {
            sink.push(
                format!("{path}.path"),
                format!(
                    "duplicate path {:?}: endpoints[{first}] already uses it",
                    raw.path
                ),
            );
        }
        let name = raw.name.clone().unwrap_or_else(|| raw.path.clone());
        if raw.name.is_some() {
            if let Some(first) = seen_names.insert(name.clone(), i) {
                sink.push(
                    format!("{path}.name"),
                    format!("duplicate name {name:?}: endpoints[{first}] already uses it"),
                );
            }
        }
        if let Some(ep) = compile(
            raw,
            name,
            &path,
            server,
            targets,
            declared_targets,
            base_dir,
            env,
            sink,
            warnings,
        ) {
            out.push(Arc::new(ep));
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn compile(
    mut raw: RawEndpoint,
    name: String,
    path: &str,
    server: &ServerSettings,
    targets: &IndexMap<Arc<str>, Arc<Target>>,
    declared_targets: &[String],
    base_dir: &Path,
    env: &dyn Environment,
    sink: &mut ErrorSink,
    warnings: &mut ErrorSink,
) -> Option<Endpoint> {
    let before = sink.len();
    if !raw.path.starts_with('/') || raw.path.contains(['?', '#', ' ']) {
        sink.push(
            format!("{path}.path"),
            format!("expected an URL path starting with '/', got {:?}", raw.path),
        );
    }
    let verify_path = format!("{path}.verify");
    let preset = lookup_preset(&mut raw.verify, &verify_path, sink);
    let verified = preset
        .and_then(|preset| compile_verify(raw.verify, preset, &verify_path, base_dir, env, sink));

    let preset_event = preset.flatten();
    let event_id = source(
        raw.event
            .id
            .as_deref()
            .or(preset_event.and_then(|p| p.event_id.as_deref())),
        &format!("{path}.event.id"),
        sink,
    );
    if raw.event.id.is_none()
        && preset.is_some()
        && preset_event.and_then(|p| p.event_id.as_ref()).is_none()
    {
        sink.push(
            format!("{path}.event.id"),
            "required: where the event id comes from, e.g. \"json:$.id\" or \"header:X-Delivery-Id\"",
        );
    }
    // `type: none`: the endpoint reads no type, even where its preset has a default that
    // some of the provider's requests lack (a rule with `match.type` is then an error).
    let event_type = match raw.event.event_type.as_deref() {
        Some(NO_EVENT_TYPE) => None,
        spec => spec
            .or(preset_event.and_then(|p| p.event_type.as_deref()))
            .and_then(|spec| source(Some(spec), &format!("{path}.event.type"), sink)),
    };

    let status = raw.invalid_signature_status.unwrap_or(401);
    if !(400..=499).contains(&status) {
        sink.push(
            format!("{path}.invalid_signature_status"),
            format!("expected a 4xx status (401 or 403 are usual), got {status}"),
        );
    }
    let public_url = raw
        .public_url
        .as_deref()
        .and_then(|url| match public_url_error(url) {
            None => Some(url.trim_end_matches('?').to_string()),
            Some(problem) => {
                sink.push(format!("{path}.public_url"), problem);
                None
            }
        });
    if let Some(scheme) = verified.as_ref().map(|v| &v.scheme) {
        if scheme.needs_url() && raw.public_url.is_none() {
            warnings.push(
                format!("{path}.public_url"),
                "the scheme signs the URL the provider sent to; without public_url it is rebuilt \
                 from the request (Host, or X-Forwarded-* with server.trust_forwarded_headers), \
                 which behind a proxy may differ",
            );
        } else if !scheme.needs_url() && raw.public_url.is_some() {
            warnings.push(
                format!("{path}.public_url"),
                "the scheme does not sign the URL, so public_url has no effect",
            );
        }
    }
    let max_body_size = match raw.max_body_size {
        Some(b) if b.0 == 0 => {
            sink.push(format!("{path}.max_body_size"), "must be greater than 0");
            0
        }
        Some(b) => b.0 as usize,
        None => server.max_body_size,
    };
    let max_event_field_length = match raw.event.max_length {
        Some(b) if b.0 == 0 => {
            sink.push(format!("{path}.event.max_length"), "must be greater than 0");
            0
        }
        Some(b) => usize::try_from(b.0).unwrap_or(usize::MAX),
        None => DEFAULT_MAX_EVENT_FIELD_LENGTH,
    };
    let rules = rules::compile_all(
        raw.rules,
        path,
        event_type.is_some(),
        targets,
        declared_targets,
        sink,
        warnings,
    );
    if rules.is_empty() && sink.len() == before {
        warnings.push(
            format!("{path}.rules"),
            "no rules: every event will be ignored",
        );
    }
    let handshake = handshake::compile_endpoint_handshake(
        raw.handshake.take(),
        &handshake::EndpointContext {
            provider: preset_event.map(|p| p.name.as_str()),
            signing: verified.as_ref().map(|v| (&v.scheme, v.secrets.as_slice())),
            env,
        },
        &format!("{path}.handshake"),
        sink,
    );

    if sink.len() != before {
        return None;
    }
    let verified = verified?;
    let mut ordering: Vec<(Arc<str>, ValueSource)> = Vec::new();
    for name in rules.iter().flat_map(|r| &r.targets) {
        let source = targets.get(name).and_then(|t| t.ordering_key.clone());
        if let Some(source) = source.filter(|_| ordering.iter().all(|(n, _)| n != name)) {
            ordering.push((name.clone(), source));
        }
    }
    let stored_headers =
        StoredHeaders::for_endpoint(&verified.scheme, targets.values().map(|t| &**t));
    let needs_json = event_id.as_ref().is_some_and(ValueSource::needs_json)
        || event_type.as_ref().is_some_and(ValueSource::needs_json)
        || rules.iter().any(|r| !r.when.is_empty())
        || ordering.iter().any(|(_, s)| s.needs_json());
    let needs_form = event_id.as_ref().is_some_and(ValueSource::needs_form)
        || event_type.as_ref().is_some_and(ValueSource::needs_form)
        || ordering.iter().any(|(_, s)| s.needs_form());
    Some(Endpoint {
        name: Arc::from(name.as_str()),
        path: raw.path,
        provider: verified.preset.map(|p| p.name.to_string()),
        scheme: verified.scheme,
        secrets: verified.secrets,
        event_id: event_id?,
        event_type,
        invalid_signature_status: status,
        unmatched: raw.unmatched,
        max_body_size,
        rules,
        needs_json,
        handshake,
        needs_form,
        public_url,
        ordering,
        max_event_field_length,
        stored_headers,
    })
}

/// Why `url` cannot be an endpoint's public URL: it must be an absolute http(s) URL with a host
/// and without query or fragment (each request's own query is appended).
fn public_url_error(url: &str) -> Option<String> {
    let parsed = match url::Url::parse(url) {
        Ok(parsed) => parsed,
        Err(e) => {
            return Some(format!(
                "expected an absolute URL like https://hooks.example.com/twilio, got {url:?} ({e})"
            ))
        }
    };
    if !matches!(parsed.scheme(), "http" | "https") {
        return Some(format!(
            "expected an http:// or https:// URL, got scheme {:?} in {url:?}",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Some(format!("expected a host in {url:?}"));
    }
    if parsed.query().is_some_and(|q| !q.is_empty()) || parsed.fragment().is_some() {
        return Some(format!(
            "leave the query and fragment out of {url:?}: each request's own query string is \
             appended, as the provider signs it"
        ));
    }
    None
}

/// `event: { type: none }`: the endpoint reads no event type.
pub const NO_EVENT_TYPE: &str = "none";

fn source(spec: Option<&str>, path: &str, sink: &mut ErrorSink) -> Option<ValueSource> {
    match ValueSource::parse(spec?) {
        Ok(s) => Some(s),
        Err(msg) => {
            sink.push(path, msg);
            None
        }
    }
}
