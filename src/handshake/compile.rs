//! An endpoint's `handshake:` value -> a [`Handshake`]: absent (the provider's built-in if it is
//! automatic), `false` (none), a built-in's name, or a mapping: overrides deep-merged over
//! `builtin: NAME`, or over the provider's built-in when the mapping has no `when` of its own;
//! otherwise a handshake written out in full. Every error is reported with its place under
//! `endpoints[i].handshake`.

use super::answer::{Condition, Handshake, ResponseBody};
use super::builtins::{builtin, builtin_names, Builtin};
use super::raw::{HandshakeMethod, RawHandshake};
use super::template::{JsonTemplate, RequestValue, Template};
use crate::config::env::Environment;
use crate::config::error::{join_path, ErrorSink};
use crate::jsonpath::JsonPath;
use crate::signature::{merge_yaml, RawAlgorithm, Scheme, SecretKey};
use serde_yaml::Value;

/// What the endpoint's own compile step already knows and a handshake may need.
pub struct EndpointContext<'a> {
    /// The `verify.provider` preset's name, if any.
    pub provider: Option<&'a str>,
    /// The compiled scheme and secrets (absent when `verify:` had errors).
    pub signing: Option<(&'a Scheme, &'a [SecretKey])>,
    pub env: &'a dyn Environment,
}

/// Compiles an endpoint's `handshake:` (`None` when absent or `null`). `path` is the key's place,
/// e.g. `endpoints[2].handshake`. Returns `None` for no handshake and on error (reported).
pub fn compile_endpoint_handshake(
    spec: Option<Value>,
    ctx: &EndpointContext<'_>,
    path: &str,
    sink: &mut ErrorSink,
) -> Option<Handshake> {
    let provider_builtin = ctx.provider.and_then(builtin);
    let (base, overrides) = match spec {
        // A built-in that needs more (Meta's verify token) is answered only when asked for.
        None => match provider_builtin {
            Some(b) if b.automatic => (Some(b), Value::Null),
            _ => return None,
        },
        Some(Value::Bool(false)) => return None,
        Some(Value::String(name)) => (Some(lookup(&name, path, sink)?), Value::Null),
        Some(Value::Mapping(mut map)) => {
            let base = match map.remove("builtin") {
                Some(Value::String(name)) => Some(lookup(&name, &format!("{path}.builtin"), sink)?),
                Some(_) => {
                    sink.push(format!("{path}.builtin"), names_expected("a built-in name"));
                    return None;
                }
                // Its own `when` makes it another handshake, written out in full.
                None if map.contains_key("when") => None,
                None => provider_builtin,
            };
            (base, Value::Mapping(map))
        }
        Some(_) => {
            sink.push(
                path,
                names_expected("a built-in handshake name, a mapping, or `false`"),
            );
            return None;
        }
    };
    let mut merged = base.map(|b| b.handshake.clone()).unwrap_or(Value::Null);
    if !overrides.is_null() {
        merge_yaml(&mut merged, overrides);
    }
    let raw: RawHandshake = match serde_path_to_error::deserialize(merged) {
        Ok(raw) => raw,
        Err(e) => {
            sink.push(
                join_path(path, &e.path().to_string()),
                e.into_inner().to_string(),
            );
            return None;
        }
    };
    let name = base.map_or("custom", |b| b.name.as_str());
    compile(raw, name, ctx, path, sink)
}

fn lookup(name: &str, path: &str, sink: &mut ErrorSink) -> Option<&'static Builtin> {
    let found = builtin(name);
    if found.is_none() {
        sink.push(
            path,
            format!(
                "unknown handshake {name:?}, expected one of: {}",
                builtin_names().join(", ")
            ),
        );
    }
    found
}

fn names_expected(what: &str) -> String {
    format!(
        "expected {what} (built-ins: {})",
        builtin_names().join(", ")
    )
}

/// Validates a merged definition: conditions, verify token, response, and that each request
/// value comes from where the method has it (a GET has a query, a POST's body is JSON).
fn compile(
    raw: RawHandshake,
    name: &str,
    ctx: &EndpointContext<'_>,
    path: &str,
    sink: &mut ErrorSink,
) -> Option<Handshake> {
    let before = sink.len();
    let method = raw.method;
    let check_source = |v: &RequestValue, at: &str, sink: &mut ErrorSink| match method {
        HandshakeMethod::Get if v.is_json() => sink.push(
            at,
            format!("a GET handshake has no body: read the query (`query:NAME`), not {v}"),
        ),
        HandshakeMethod::Post if !v.is_json() => sink.push(
            at,
            format!("a POST handshake is read from its JSON body (`json:$.path`), not {v}"),
        ),
        _ => {}
    };

    let mut conditions = Vec::new();
    for (p, expected) in &raw.when.json {
        let at = format!("{path}.when.json");
        if method == HandshakeMethod::Get {
            sink.push(
                &at,
                "a GET handshake has no body: use `when: { query: { NAME: VALUE } }`",
            );
            break;
        }
        match JsonPath::compile(p) {
            Ok(jp) => conditions.push(Condition::Json(jp, expected.clone())),
            Err(e) => sink.push(at, e),
        }
    }
    for (q, expected) in &raw.when.query {
        if method == HandshakeMethod::Post {
            sink.push(
                format!("{path}.when.query"),
                "a POST handshake is matched on its JSON body: use `when: { json: { PATH: VALUE } }`",
            );
            break;
        }
        conditions.push(Condition::Query(q.clone(), expected.clone()));
    }
    if raw.when.json.is_empty() && raw.when.query.is_empty() {
        sink.push(
            format!("{path}.when"),
            "expected at least one condition, e.g. `{ json: { \"$.type\": url_verification } }` \
             or `{ query: { hub.mode: subscribe } }`",
        );
    }

    let verify_token = match (&raw.verify_token, &raw.verify_token_env) {
        (None, None) => None,
        (None, Some(_)) => {
            sink.push(
                format!("{path}.verify_token_env"),
                format!(
                    "the {name} handshake reads no verify token: add `verify_token: \"query:NAME\"` or remove this"
                ),
            );
            None
        }
        (Some(at), env_name) => {
            let source = match RequestValue::parse(at) {
                Ok(v) => {
                    check_source(&v, &format!("{path}.verify_token"), sink);
                    Some(v)
                }
                Err(e) => {
                    sink.push(format!("{path}.verify_token"), e);
                    None
                }
            };
            let token = read_token(env_name.as_deref(), name, at, ctx.env, path, sink);
            source.zip(token)
        }
    };

    let respond = &raw.respond;
    let status = respond.status.unwrap_or(200);
    if !(200..=299).contains(&status) {
        sink.push(
            format!("{path}.respond.status"),
            format!("expected a 2xx status for a handshake answer, got {status}"),
        );
    }
    let mut template_errors = Vec::new();
    let (body, default_type) = match (&respond.json, &respond.body) {
        (Some(json), None) => (
            Some(ResponseBody::Json(JsonTemplate::compile(
                json,
                &mut template_errors,
                "respond.json",
            ))),
            "application/json",
        ),
        (None, Some(text)) => match Template::compile(text) {
            Ok(t) => (Some(ResponseBody::Text(t)), "text/plain"),
            Err(e) => {
                template_errors.push(("respond.body".to_string(), e));
                (None, "text/plain")
            }
        },
        _ => {
            sink.push(
                format!("{path}.respond"),
                "expected exactly one of `json: {...}` or `body: \"...\"`",
            );
            (None, "")
        }
    };
    for (at, e) in template_errors {
        sink.push(join_path(path, &at), e);
    }
    let content_type = respond
        .content_type
        .clone()
        .unwrap_or_else(|| default_type.to_string());
    if respond.content_type.is_some()
        && (content_type.is_empty() || !content_type.bytes().all(|b| (b' '..=b'~').contains(&b)))
    {
        sink.push(
            format!("{path}.respond.content_type"),
            format!("expected a media type such as text/plain, got {content_type:?}"),
        );
    }
    let templates: Vec<&Template> = match &body {
        Some(ResponseBody::Json(t)) => t.templates(),
        Some(ResponseBody::Text(t)) => vec![t],
        None => Vec::new(),
    };
    let at = format!(
        "{path}.respond.{}",
        if respond.json.is_some() {
            "json"
        } else {
            "body"
        }
    );
    for v in templates.iter().flat_map(|t| t.values()) {
        check_source(v, &at, sink);
    }
    let hmac_key = if templates.iter().any(|t| t.uses_hmac()) {
        match ctx.signing {
            Some((scheme, _)) if scheme.algorithm == RawAlgorithm::Ed25519 => {
                sink.push(
                    &at,
                    "{hmac-sha256:...} is keyed with the endpoint's secret, but this endpoint's \
                     secrets are ed25519 public keys",
                );
                None
            }
            Some((_, secrets)) => secrets.first().cloned(),
            None => None,
        }
    } else {
        None
    };

    if sink.len() != before {
        return None;
    }
    Some(Handshake {
        name: name.to_string(),
        method,
        raw,
        conditions,
        verify_token,
        status,
        content_type,
        body: body?,
        hmac_key,
    })
}

/// The expected verify token, from its environment variable (required; empty or unset fails).
fn read_token(
    env_name: Option<&str>,
    handshake: &str,
    at: &str,
    env: &dyn Environment,
    path: &str,
    sink: &mut ErrorSink,
) -> Option<SecretKey> {
    let Some(var) = env_name else {
        sink.push(
            path,
            format!(
                "the {handshake} handshake compares {at} with a verify token: add \
                 `verify_token_env: VAR_NAME` (the environment variable holding it)"
            ),
        );
        return None;
    };
    let at = format!("{path}.verify_token_env");
    match env.var(var) {
        None => sink.push(at, format!("environment variable {var} is not set")),
        Some(v) if v.is_empty() => sink.push(at, format!("environment variable {var} is empty")),
        Some(v) => return Some(SecretKey::new(var, v.into_bytes())),
    }
    None
}
