//! Targets: URL, headers (env-interpolated), timeout, concurrency, retry policy, outbound signing,
//! rate limit, circuit breaker and ordering key.

use super::take;
use crate::config::env::{interpolate, Environment};
use crate::config::error::ErrorSink;
use crate::config::raw::{Lenient, RawRetry, RawTarget};
use crate::signature;
use crate::target::{
    BreakerPolicy, OutboundSigner, RateLimit, RetryPolicy, Target, DEFAULT_CONCURRENCY,
    DEFAULT_COOL_DOWN, DEFAULT_TIMEOUT,
};
use indexmap::IndexMap;
use reqwest::header::{HeaderName, HeaderValue};
use std::path::Path;
use std::sync::Arc;

pub fn compile_all(
    raw: IndexMap<String, Lenient<RawTarget>>,
    base_dir: &Path,
    env: &dyn Environment,
    sink: &mut ErrorSink,
) -> IndexMap<Arc<str>, Arc<Target>> {
    let mut out = IndexMap::new();
    for (name, item) in raw {
        let path = format!("targets.{name}");
        if !valid_name(&name) {
            sink.push(&path, "target names use letters, digits, '-', '_' and '.'");
        }
        if let Some(t) =
            take(item, &path, sink).and_then(|t| compile(&name, t, &path, base_dir, env, sink))
        {
            out.insert(Arc::from(name.as_str()), Arc::new(t));
        }
    }
    out
}

pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn compile(
    name: &str,
    raw: RawTarget,
    path: &str,
    base_dir: &Path,
    env: &dyn Environment,
    sink: &mut ErrorSink,
) -> Option<Target> {
    let before = sink.len();
    let url = match reqwest::Url::parse(&raw.url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
        Ok(u) => {
            sink.push(
                format!("{path}.url"),
                format!("expected an http(s) URL, got scheme {:?}", u.scheme()),
            );
            None
        }
        Err(e) => {
            sink.push(
                format!("{path}.url"),
                format!("invalid URL {:?}: {e}", raw.url),
            );
            None
        }
    };
    let mut headers = Vec::new();
    for (hname, value) in &raw.headers {
        let hpath = format!("{path}.headers.{hname}");
        let Ok(header) = HeaderName::from_bytes(hname.as_bytes()) else {
            sink.push(hpath, "invalid header name");
            continue;
        };
        match interpolate(value, env).map(HeaderValue::try_from) {
            Ok(Ok(v)) => headers.push((header, v)),
            Ok(Err(_)) => sink.push(hpath, "the value is not a valid header value"),
            Err(msg) => sink.push(hpath, msg),
        }
    }
    if raw.concurrency == Some(0) {
        sink.push(format!("{path}.concurrency"), "must be at least 1");
    }
    if raw.timeout.is_some_and(|t| t.is_zero()) {
        sink.push(format!("{path}.timeout"), "must be greater than 0");
    }
    let retry = retry_policy(
        raw.retry.unwrap_or_default(),
        &format!("{path}.retry"),
        sink,
    );
    let signing = raw.signing.and_then(|s| {
        let spath = format!("{path}.signing.secret");
        let secret = super::verify::read_secret(&s.secret, &spath, base_dir, env, sink)?;
        let scheme = signature::preset("standard-webhooks")
            .and_then(|p| signature::scheme_from_value(p.scheme.clone()).ok())
            .expect("the built-in standard-webhooks preset compiles");
        match scheme.decode_secret(&secret) {
            Ok(key) => Some(OutboundSigner {
                scheme: Arc::new(scheme),
                key: key.with_label(format!("targets.{name}.signing")),
            }),
            Err(msg) => {
                sink.push(
                    spath,
                    format!(
                        "expected a Standard Webhooks secret (whsec_ followed by base64): {msg}"
                    ),
                );
                None
            }
        }
    });
    let rate_limit = raw.rate_limit.and_then(|r| {
        let rpath = format!("{path}.rate_limit");
        if !(r.per_second.is_finite() && r.per_second > 0.0) {
            sink.push(format!("{rpath}.per_second"), "must be greater than 0");
            return None;
        }
        if r.burst == Some(0) {
            sink.push(format!("{rpath}.burst"), "must be at least 1");
            return None;
        }
        Some(RateLimit {
            per_second: r.per_second,
            burst: r.burst.unwrap_or(r.per_second.ceil() as u32).max(1),
        })
    });
    let breaker = raw.breaker.and_then(|b| {
        let bpath = format!("{path}.breaker");
        if b.failures == 0 {
            sink.push(format!("{bpath}.failures"), "must be at least 1");
            return None;
        }
        if b.cool_down.is_some_and(|d| d.is_zero()) {
            sink.push(format!("{bpath}.cool_down"), "must be greater than 0");
            return None;
        }
        Some(BreakerPolicy {
            failures: b.failures,
            cool_down: b.cool_down.unwrap_or(DEFAULT_COOL_DOWN),
        })
    });
    let ordering_key = raw
        .ordering
        .and_then(|o| match crate::source::ValueSource::parse(&o.key) {
            Ok(source) => Some(source),
            Err(msg) => {
                sink.push(format!("{path}.ordering.key"), msg);
                None
            }
        });
    if sink.len() != before {
        return None;
    }
    Some(Target {
        name: Arc::from(name),
        url: url?,
        timeout: raw.timeout.unwrap_or(DEFAULT_TIMEOUT),
        headers,
        forward_headers: raw
            .forward_headers
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        concurrency: raw.concurrency.unwrap_or(DEFAULT_CONCURRENCY).max(1),
        retry,
        signing,
        rate_limit,
        breaker,
        ordering_key,
    })
}

fn retry_policy(raw: RawRetry, path: &str, sink: &mut ErrorSink) -> RetryPolicy {
    let d = RetryPolicy::default();
    let policy = RetryPolicy {
        max_attempts: raw.max_attempts.unwrap_or(d.max_attempts),
        initial_delay: raw.initial_delay.unwrap_or(d.initial_delay),
        max_delay: raw.max_delay.unwrap_or(d.max_delay),
        max_age: raw.max_age.unwrap_or(d.max_age),
    };
    if policy.max_attempts == 0 {
        sink.push(format!("{path}.max_attempts"), "must be at least 1");
    }
    if policy.max_delay < policy.initial_delay {
        sink.push(
            format!("{path}.max_delay"),
            format!(
                "must not be shorter than initial_delay ({})",
                humantime::format_duration(policy.initial_delay)
            ),
        );
    }
    policy
}
