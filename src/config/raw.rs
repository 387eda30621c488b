//! The configuration as written: serde types that mirror `routes.yaml` and hold no logic.
//! Unknown keys are errors everywhere. Each top-level item (a target, an endpoint, a rule) is
//! read on its own through [`Lenient`], so one mistake does not hide the next: the compile step
//! reports all of them at once.

use indexmap::IndexMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use std::path::PathBuf;
use std::time::Duration;

/// A value read on its own: a mistake inside it is kept (with its path relative to the item)
/// instead of failing the whole document.
#[derive(Debug)]
pub enum Lenient<T> {
    Ok(T),
    Err { path: String, message: String },
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_yaml::Value::deserialize(d)?;
        Ok(match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(t) => Lenient::Ok(t),
            Err(e) => Lenient::Err {
                path: e.path().to_string(),
                message: e.into_inner().to_string(),
            },
        })
    }
}

impl<T: Default> Default for Lenient<T> {
    fn default() -> Self {
        Lenient::Ok(T::default())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: Lenient<RawServer>,
    #[serde(default)]
    pub storage: Lenient<RawStorage>,
    #[serde(default)]
    pub admin: Lenient<RawAdmin>,
    #[serde(default)]
    pub targets: IndexMap<String, Lenient<RawTarget>>,
    #[serde(default)]
    pub endpoints: Vec<Lenient<RawEndpoint>>,
    /// Fixtures (a directory of `*.yaml`, or one file) that `hookroute test` runs and that gate
    /// start-up and reloads; relative to the config's directory.
    pub tests: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// `host:port` the webhook listener binds.
    pub listen: Option<String>,
    /// Largest request body accepted: bytes, or a size like `512KiB`, `1MiB`.
    pub max_body_size: Option<ByteSize>,
    /// HTTP worker threads (default: one per core).
    pub workers: Option<usize>,
    /// How long a client may take to send its request head and body.
    #[serde(default, with = "humantime_serde")]
    pub request_timeout: Option<Duration>,
    /// Trust `X-Forwarded-Proto` / `X-Forwarded-Host` when rebuilding the URL a provider signed
    /// (only behind a proxy that sets them; default false).
    pub trust_forwarded_headers: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    /// `sled` (the default: embedded, one process) or `postgres` (shared by several instances).
    pub backend: Option<String>,
    /// The PostgreSQL URL, read like a secret: `{ env: NAME }` or `{ file: PATH }`.
    pub url: Option<RawSecretRef>,
    /// PostgreSQL connections per instance (default 10).
    pub pool_size: Option<u32>,
    /// PostgreSQL `statement_timeout` of every session (default 10s).
    #[serde(default, with = "humantime_serde")]
    pub statement_timeout: Option<Duration>,
    pub data_dir: Option<PathBuf>,
    /// How long an `(endpoint, event id)` pair is remembered for deduplication.
    #[serde(default, with = "humantime_serde")]
    pub dedup_ttl: Option<Duration>,
    /// How long finished events (every job delivered or dead-lettered) and their attempts are
    /// kept: a duration like `30d`, or `off` to keep them forever. Read in compile.
    pub retention: Option<String>,
    /// How often the retention pass runs.
    #[serde(default, with = "humantime_serde")]
    pub prune_interval: Option<Duration>,
    /// Largest the store may grow on disk (bytes, or a size like `512MiB`); past it, new events
    /// are answered 503 with `Retry-After` instead of filling the disk. Default: no limit.
    pub max_size: Option<ByteSize>,
    /// Free space the filesystem of `data_dir` must keep; below it, new events are answered
    /// 503 with `Retry-After` before the store runs into a full disk. `0` turns the check off.
    pub min_free_space: Option<ByteSize>,
    /// The store's page cache (sled's `cache_capacity`): bytes, or a size like `32MiB`.
    pub cache_size: Option<ByteSize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    /// `host:port` of the admin API; `off` disables it.
    pub listen: Option<String>,
    /// Environment variable holding the bearer token the admin API requires.
    pub token_env: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub url: String,
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// Extra headers; values may use `${env:NAME}`.
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// Original request headers passed through to the target (case-insensitive names).
    #[serde(default)]
    pub forward_headers: Vec<String>,
    /// Deliveries in flight at once to this target.
    pub concurrency: Option<usize>,
    pub retry: Option<RawRetry>,
    /// Sign outbound requests with the Standard Webhooks scheme.
    pub signing: Option<RawOutboundSigning>,
    /// Most attempts started per second (token bucket).
    pub rate_limit: Option<RawRateLimit>,
    /// Stop sending after consecutive failures, for a cool-down.
    pub breaker: Option<RawBreaker>,
    /// Deliver events with the same key one at a time, in acceptance order.
    pub ordering: Option<RawOrdering>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOrdering {
    /// A value source, as for event ids: `json:$.data.object.id`, `header:NAME`, `form:NAME`.
    pub key: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    pub per_second: f64,
    /// Attempts that may start at once after a quiet spell (default: `per_second`, at least 1).
    pub burst: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBreaker {
    pub failures: u32,
    #[serde(default, with = "humantime_serde")]
    pub cool_down: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    pub max_attempts: Option<u32>,
    #[serde(default, with = "humantime_serde")]
    pub initial_delay: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub max_delay: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub max_age: Option<Duration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutboundSigning {
    pub secret: RawSecretRef,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEndpoint {
    pub path: String,
    /// Stable name used in logs, metrics and the dedup key (default: the path).
    pub name: Option<String>,
    /// A provider preset and/or scheme fields, plus `secrets`. Split and checked by the
    /// compile step, since preset fields may be overridden one by one.
    pub verify: serde_yaml::Mapping,
    #[serde(default)]
    pub event: RawEventSpec,
    /// Status answered to a request whose signature does not verify (default 401).
    pub invalid_signature_status: Option<u16>,
    /// What to do with an event that no rule matches.
    #[serde(default)]
    pub unmatched: UnmatchedPolicy,
    /// Largest body for this endpoint, overriding `server.max_body_size`.
    pub max_body_size: Option<ByteSize>,
    /// The URL as registered with the provider (`https://hooks.example.com/twilio`), for
    /// schemes that sign the URL; each request's query string is appended.
    pub public_url: Option<String>,
    #[serde(default)]
    pub rules: Vec<Lenient<RawRule>>,
    /// The provider handshake answered on this endpoint: a built-in's name, a mapping, or
    /// `false`. Checked by the compile step (see `crate::handshake`).
    pub handshake: Option<serde_yaml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEventSpec {
    /// Where the event id comes from: `json:$.path`, `header:NAME` or `form:NAME`.
    pub id: Option<String>,
    /// Where the event type comes from: `json:$.path`, `header:NAME` or `form:NAME`; `none`
    /// for no type (even where the preset names one).
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// Longest event id and event type accepted (bytes, or a size like `1KiB`; default 1KiB):
    /// both travel in delivery headers, which targets cap.
    pub max_length: Option<ByteSize>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnmatchedPolicy {
    /// Answer `200 {"status":"ignored"}` and store nothing.
    #[default]
    Ignore,
    /// Answer `400` so the sender sees the event was not routed.
    Reject,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecretRef {
    /// Name of the environment variable holding the secret.
    pub env: Option<String>,
    /// Path of a file holding the secret (as Docker and Kubernetes mount them).
    pub file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub name: Option<String>,
    #[serde(rename = "match", default)]
    pub matcher: RawMatch,
    pub forward: OneOrMany,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMatch {
    /// Event types: exact names or globs (`invoice.*`); absent means any type.
    #[serde(rename = "type")]
    pub event_type: Option<OneOrMany>,
    /// Payload conditions, all of which must hold.
    #[serde(default)]
    pub when: Vec<RawCondition>,
}

/// A leaf `{path, <tests>...}` or one combinator (`all`, `any`, `not`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCondition {
    pub path: Option<String>,
    pub exists: Option<bool>,
    pub equals: Option<serde_json::Value>,
    #[serde(rename = "in")]
    pub one_of: Option<Vec<serde_json::Value>>,
    pub regex: Option<String>,
    pub gt: Option<f64>,
    pub gte: Option<f64>,
    pub lt: Option<f64>,
    pub lte: Option<f64>,
    pub all: Option<Vec<RawCondition>>,
    pub any: Option<Vec<RawCondition>>,
    pub not: Option<Box<RawCondition>>,
}

/// A string or a list of strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OneOrMany(pub Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match serde_yaml::Value::deserialize(d)? {
            serde_yaml::Value::String(s) => Ok(OneOrMany(vec![s])),
            serde_yaml::Value::Sequence(items) => items
                .into_iter()
                .map(|v| match v {
                    serde_yaml::Value::String(s) => Ok(s),
                    other => Err(D::Error::custom(format!(
                        "expected a string in the list, got {}",
                        describe(&other)
                    ))),
                })
                .collect::<Result<_, _>>()
                .map(OneOrMany),
            other => Err(D::Error::custom(format!(
                "expected a string or a list of strings, got {}",
                describe(&other)
            ))),
        }
    }
}

/// A size in bytes: an integer, or a number with a unit (`B`, `KB`, `KiB`, `MB`, `MiB`, `GiB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match serde_yaml::Value::deserialize(d)? {
            serde_yaml::Value::Number(n) => n
                .as_u64()
                .map(ByteSize)
                .ok_or_else(|| D::Error::custom("expected a positive whole number of bytes")),
            serde_yaml::Value::String(s) => parse_byte_size(&s).map(ByteSize).ok_or_else(|| {
                D::Error::custom(format!(
                    "expected a size like 1048576, 512KiB or 1MiB, got {s:?}"
                ))
            }),
            other => Err(D::Error::custom(format!(
                "expected a size like 1048576, 512KiB or 1MiB, got {}",
                describe(&other)
            ))),
        }
    }
}

fn parse_byte_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let factor = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1_000,
        "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(factor)
}

fn describe(v: &serde_yaml::Value) -> &'static str {
    match v {
        serde_yaml::Value::Null => "nothing",
        serde_yaml::Value::Bool(_) => "a boolean",
        serde_yaml::Value::Number(_) => "a number",
        serde_yaml::Value::String(_) => "a string",
        serde_yaml::Value::Sequence(_) => "a list",
        serde_yaml::Value::Mapping(_) => "a mapping",
        serde_yaml::Value::Tagged(_) => "a tagged value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_accept_numbers_and_units() {
        assert_eq!(parse_byte_size("1MiB"), Some(1 << 20));
        assert_eq!(parse_byte_size("512KiB"), Some(512 << 10));
        assert_eq!(parse_byte_size("100"), Some(100));
        assert_eq!(parse_byte_size("1 MB"), Some(1_000_000));
        assert_eq!(parse_byte_size("1 parsec"), None);
    }

    #[test]
    fn lenient_items_keep_their_own_error_and_path() {
        let raw: RawConfig = serde_yaml::from_str(
            "endpoints:\n  - path: /a\n    verify: {}\n    rules:\n      - forward: t\n        colour: red\n",
        )
        .unwrap();
        let Lenient::Ok(ep) = &raw.endpoints[0] else {
            panic!("endpoint should parse")
        };
        match &ep.rules[0] {
            Lenient::Err { path, message } => {
                assert_eq!(path, "colour");
                assert!(message.contains("unknown field `colour`"), "{message}");
            }
            Lenient::Ok(_) => panic!("unknown key must be an error"),
        }
    }
}
