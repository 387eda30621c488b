//! Compilation of a [`RawScheme`] into an immutable, validated [`Scheme`]: sources such as
//! `header:NAME` and `kv:LABEL` are parsed, the payload template is compiled, and every problem
//! is collected as a [`SchemeError`] naming its place in the scheme (`signature.from`,
//! `payload`), so one run of `check` shows all of them. Nothing here is re-parsed per request.

use std::collections::BTreeMap;

use super::header::{KvListFormat, SignatureLayout};
use super::raw::{
    RawAlgorithm, RawScheme, RawSignatureParse, RawTimestamp, SignatureEncoding, TimestampUnit,
};
use super::secret::KeyFormat;
use super::template::PayloadTemplate;

/// One problem in a scheme: where (relative to the scheme) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct SchemeError {
    pub path: String,
    pub message: String,
}

impl SchemeError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// A validated signature scheme, ready to verify and sign. Immutable; share it through an `Arc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheme {
    pub(crate) algorithm: RawAlgorithm,
    pub(crate) key: KeyFormat,
    pub(crate) signature: SignatureRule,
    pub(crate) timestamp: Option<TimestampRule>,
    pub(crate) payload: PayloadTemplate,
    pub(crate) payload_source: String,
}

/// Where the signature is and how it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignatureRule {
    pub(crate) header: String,
    pub(crate) prefix: Option<String>,
    pub(crate) layout: SignatureLayout,
    pub(crate) encoding: SignatureEncoding,
}

/// Where the timestamp is and how fresh it must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TimestampRule {
    pub(crate) source: TimestampSource,
    pub(crate) unit: TimestampUnit,
    pub(crate) tolerance_seconds: i64,
    pub(crate) reject_future: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TimestampSource {
    /// A labelled field of the signature header (Stripe's `t`, Paddle's `ts`).
    SignatureField(String),
    Header(String),
}

/// Validates `raw`, returning every problem found.
pub fn compile_scheme(raw: &RawScheme) -> Result<Scheme, Vec<SchemeError>> {
    let mut errors = Vec::new();
    let mut error = |path: &str, message: String| errors.push(SchemeError::new(path, message));

    for (i, prefix) in raw.key.strip_prefix.iter().enumerate() {
        if prefix.is_empty() {
            error(
                &format!("key.strip_prefix[{i}]"),
                "expected a non-empty prefix".into(),
            );
        }
    }

    let header = header_source(&raw.signature.from)
        .map_err(|message| error("signature.from", message))
        .unwrap_or_default();

    let layout = match &raw.signature.parse {
        None => SignatureLayout::Whole,
        Some(_) if raw.algorithm == RawAlgorithm::TokenEquals => {
            error(
                "signature.parse",
                "token-equals compares the whole header value with the secret; remove `parse`"
                    .into(),
            );
            SignatureLayout::Whole
        }
        Some(RawSignatureParse::KvList(kv)) => {
            if kv.pair_sep.is_empty() {
                error(
                    "signature.parse.pair_sep",
                    "expected a non-empty separator".into(),
                );
            }
            if kv.kv_sep.is_empty() {
                error(
                    "signature.parse.kv_sep",
                    "expected a non-empty separator".into(),
                );
            } else if kv.kv_sep == kv.pair_sep {
                error(
                    "signature.parse.kv_sep",
                    format!("must differ from pair_sep (both are {:?})", kv.kv_sep),
                );
            }
            if kv.keys.is_empty() {
                error(
                    "signature.parse.keys",
                    "expected at least one label holding a signature, e.g. [v1]".into(),
                );
            }
            for (i, key) in kv.keys.iter().enumerate() {
                if key.trim().is_empty() {
                    error(
                        &format!("signature.parse.keys[{i}]"),
                        "expected a non-empty label".into(),
                    );
                }
            }
            SignatureLayout::KvList(KvListFormat {
                pair_sep: kv.pair_sep.clone(),
                kv_sep: kv.kv_sep.clone(),
                keys: kv.keys.clone(),
            })
        }
    };

    let mut var_headers = BTreeMap::new();
    for (name, source) in &raw.vars {
        let path = format!("vars.{name}");
        if let Some(problem) = var_name_error(name) {
            error(&path, problem);
        }
        match header_source(source) {
            Ok(header) => {
                var_headers.insert(name.clone(), header);
            }
            Err(message) => error(&path, message),
        }
    }

    let timestamp = raw.timestamp.as_ref().and_then(|ts| {
        timestamp_rule(ts, &layout)
            .map_err(|m| error("timestamp.from", m))
            .ok()
    });

    let payload = PayloadTemplate::compile(&raw.payload, &var_headers, raw.timestamp.is_some())
        .map_err(|messages| {
            for message in messages {
                error("payload", message);
            }
        })
        .ok();

    match payload {
        Some(payload) if errors.is_empty() => Ok(Scheme {
            algorithm: raw.algorithm,
            key: KeyFormat {
                decode: raw.key.decode,
                strip_prefix: raw.key.strip_prefix.clone(),
            },
            signature: SignatureRule {
                header,
                prefix: raw.signature.prefix.clone().filter(|p| !p.is_empty()),
                layout,
                encoding: raw.signature.encoding,
            },
            timestamp,
            payload,
            payload_source: raw.payload.clone(),
        }),
        _ => Err(errors),
    }
}

fn timestamp_rule(raw: &RawTimestamp, layout: &SignatureLayout) -> Result<TimestampRule, String> {
    let source = if let Some(label) = raw.from.strip_prefix("kv:") {
        let SignatureLayout::KvList(kv) = layout else {
            return Err(format!(
                "{:?} reads the signature header's fields, which needs `signature.parse` \
                 of type kv_list",
                raw.from
            ));
        };
        if label.trim().is_empty() {
            return Err(format!(
                "expected \"kv:LABEL\" with a label, got {:?}",
                raw.from
            ));
        }
        if kv.keys.iter().any(|key| key == label) {
            return Err(format!(
                "label {label:?} is also listed in signature.parse.keys"
            ));
        }
        TimestampSource::SignatureField(label.to_string())
    } else if raw.from.starts_with("header:") {
        TimestampSource::Header(header_source(&raw.from)?)
    } else {
        return Err(format!(
            "expected \"kv:LABEL\" or \"header:NAME\", got {:?}",
            raw.from
        ));
    };
    Ok(TimestampRule {
        source,
        unit: raw.unit,
        tolerance_seconds: i64::from(raw.tolerance_seconds),
        reject_future: raw.reject_future,
    })
}

/// Parses `header:NAME`, returning the name.
pub(crate) fn header_source(source: &str) -> Result<String, String> {
    let Some(name) = source.strip_prefix("header:") else {
        return Err(format!("expected \"header:NAME\", got {source:?}"));
    };
    match header_name_error(name) {
        None => Ok(name.to_string()),
        Some(problem) => Err(format!("in {source:?}: {problem}")),
    }
}

/// Why `name` is not a valid HTTP header name (an RFC 9110 token), if it is not.
pub(crate) fn header_name_error(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("expected a header name after \"header:\"".to_string());
    }
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    name.chars()
        .find(|c| !is_token_char(*c))
        .map(|c| format!("header name {name:?} contains {c:?}, which a header name cannot hold"))
}

fn var_name_error(name: &str) -> Option<String> {
    if name == "body" || name == "timestamp" {
        return Some(format!(
            "{name:?} is a built-in placeholder; pick another var name"
        ));
    }
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    (!valid).then(|| format!("var name {name:?} must be letters, digits, '_' or '-'"))
}

impl Scheme {
    pub fn algorithm(&self) -> RawAlgorithm {
        self.algorithm
    }

    /// The header the signature is read from.
    pub fn signature_header(&self) -> &str {
        &self.signature.header
    }

    /// The freshness window in seconds, if the scheme checks one.
    pub fn tolerance_seconds(&self) -> Option<i64> {
        self.timestamp.as_ref().map(|ts| ts.tolerance_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::super::raw::parse_scheme_value;
    use super::*;

    fn compile_yaml(yaml: &str) -> Result<Scheme, Vec<SchemeError>> {
        let raw = parse_scheme_value(serde_yaml::from_str(yaml).unwrap()).unwrap();
        compile_scheme(&raw)
    }

    fn paths(errors: &[SchemeError]) -> Vec<&str> {
        errors.iter().map(|e| e.path.as_str()).collect()
    }

    #[test]
    fn stripe_like_scheme_compiles() {
        let scheme = compile_yaml(
            r#"
            algorithm: hmac-sha256
            signature: { from: "header:Stripe-Signature", parse: { type: kv_list, keys: [v1] } }
            timestamp: { from: "kv:t", reject_future: false }
            payload: "{timestamp}.{body}"
            "#,
        )
        .unwrap();
        assert_eq!(scheme.signature_header(), "Stripe-Signature");
        assert_eq!(scheme.tolerance_seconds(), Some(300));
    }

    #[test]
    fn compile_collects_every_error_with_its_path() {
        let errors = compile_yaml(
            r#"
            algorithm: hmac-sha256
            key: { strip_prefix: [""] }
            signature: { from: "foo:bar", parse: { type: kv_list, pair_sep: ",", kv_sep: ",", keys: [] } }
            vars: { id: "query:id", body: "header:X" }
            timestamp: { from: "json:$.ts" }
            payload: "{id}.{nope}.{timestamp}"
            "#,
        )
        .unwrap_err();
        assert_eq!(
            paths(&errors),
            vec![
                "key.strip_prefix[0]",
                "signature.from",
                "signature.parse.kv_sep",
                "signature.parse.keys",
                "vars.body",
                "vars.id",
                "timestamp.from",
                "payload",
                "payload",
            ],
            "{errors:#?}"
        );
        assert_eq!(
            errors[1].message,
            r#"expected "header:NAME", got "foo:bar""#
        );
        assert!(errors[6].message.contains(r#""json:$.ts""#));
        // {id} failed as a var, so the template reports it as unknown too.
        assert!(errors[7].message.contains("{id}"));
        assert!(errors[8].message.contains("{nope}"));
        assert_eq!(
            errors[1].to_string(),
            r#"signature.from: expected "header:NAME", got "foo:bar""#
        );
    }

    #[test]
    fn kv_timestamp_needs_a_kv_list_signature() {
        let errors = compile_yaml(
            r#"{ algorithm: hmac-sha256, signature: { from: "header:S" }, timestamp: { from: "kv:t" } }"#,
        )
        .unwrap_err();
        assert_eq!(paths(&errors), vec!["timestamp.from"]);
        assert!(errors[0].message.contains("kv_list"));
    }

    #[test]
    fn bad_header_names_are_rejected_everywhere() {
        let errors = compile_yaml(
            r#"
            algorithm: hmac-sha1
            signature: { from: "header:" }
            timestamp: { from: "header:Bad Name" }
            payload: "{header:a:b}{body}"
            "#,
        )
        .unwrap_err();
        assert_eq!(
            paths(&errors),
            vec!["signature.from", "timestamp.from", "payload"]
        );
    }

    #[test]
    fn token_equals_rejects_a_parse_block() {
        let errors = compile_yaml(
            r#"{ algorithm: token-equals, signature: { from: "header:T", parse: { type: kv_list, keys: [a] } } }"#,
        )
        .unwrap_err();
        assert_eq!(paths(&errors), vec!["signature.parse"]);
    }

    #[test]
    fn empty_prefix_means_no_prefix() {
        let scheme = compile_yaml(
            r#"{ algorithm: hmac-sha256, signature: { from: "header:S", prefix: "" } }"#,
        )
        .unwrap();
        assert_eq!(scheme.signature.prefix, None);
    }
}
