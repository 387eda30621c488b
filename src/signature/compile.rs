//! Compilation of a [`RawScheme`] into an immutable, validated [`Scheme`]: sources such as
//! `header:NAME`, `json:$.path`, `form:NAME`, `query:NAME` and `kv:LABEL` are parsed, the
//! payload template is compiled, and every problem is collected as a [`SchemeError`] naming its
//! place in the scheme (`signature.from`, `payload`), so one run of `check` shows all of them.
//! Nothing here is re-parsed per request.

use std::collections::BTreeMap;

use super::field::{BodyPath, FieldSource};
use super::header::{KvListFormat, SignatureLayout};
use super::raw::{
    DigestAlgorithm, RawAlgorithm, RawScheme, RawSignatureParse, RawTimestamp, SignatureEncoding,
    TimestampUnit, UrlVariant,
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
    pub(crate) vars: BTreeMap<String, FieldSource>,
    pub(crate) timestamp: Option<TimestampRule>,
    pub(crate) payload: PayloadTemplate,
    pub(crate) payload_source: String,
    /// URL spellings tried when `{url}` is signed (at least `as_is`).
    pub(crate) url_variants: Vec<UrlVariant>,
    pub(crate) body_digest: Option<BodyDigestRule>,
    pub(crate) for_each: Option<BodyPath>,
}

/// Where the signature is and how it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignatureRule {
    pub(crate) source: FieldSource,
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
    Field(FieldSource),
}

/// A digest of the body the sender carries beside the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BodyDigestRule {
    pub(crate) source: FieldSource,
    pub(crate) algorithm: DigestAlgorithm,
    pub(crate) encoding: SignatureEncoding,
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

    let signature_source = FieldSource::parse(&raw.signature.from)
        .map_err(|message| error("signature.from", message))
        .ok();
    if raw.algorithm == RawAlgorithm::TokenEquals
        && signature_source
            .as_ref()
            .is_some_and(|s| !matches!(s, FieldSource::Header(_)))
    {
        error(
            "signature.from",
            "token-equals compares a header with the secret; expected \"header:NAME\"".into(),
        );
    }

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

    let mut vars = BTreeMap::new();
    for (name, source) in &raw.vars {
        let path = format!("vars.{name}");
        if let Some(problem) = var_name_error(name) {
            error(&path, problem);
        }
        match FieldSource::parse(source) {
            Ok(source) => {
                vars.insert(name.clone(), source);
            }
            Err(message) => error(&path, message),
        }
    }

    let timestamp = raw.timestamp.as_ref().and_then(|ts| {
        timestamp_rule(ts, &layout)
            .map_err(|m| error("timestamp.from", m))
            .ok()
    });

    let payload = PayloadTemplate::compile(&raw.payload, &vars, raw.timestamp.is_some())
        .map_err(|messages| {
            for message in messages {
                error("payload", message.clone());
            }
        })
        .ok();

    let for_each = raw.for_each.as_deref().and_then(|path| {
        let path = path.strip_prefix("json:").unwrap_or(path).trim();
        BodyPath::parse(path, true)
            .map_err(|m| error("for_each", m))
            .ok()
    });

    let body_digest = raw.body_digest.as_ref().and_then(|digest| {
        match FieldSource::parse(&digest.from) {
            Ok(source @ (FieldSource::Query(_) | FieldSource::Header(_))) => Some(BodyDigestRule {
                source,
                algorithm: digest.algorithm,
                encoding: digest.encoding,
            }),
            Ok(other) => {
                error(
                    "body_digest.from",
                    format!("expected \"query:NAME\" or \"header:NAME\" (a digest cannot live in the body it covers), got \"{other}\""),
                );
                None
            }
            Err(message) => {
                error("body_digest.from", message);
                None
            }
        }
    });

    let url_variants = match &raw.url {
        None => vec![UrlVariant::AsIs],
        Some(url) => {
            if url.variants.is_empty() {
                error(
                    "url.variants",
                    "expected at least one of as_is, strip_port, add_default_port".into(),
                );
            }
            if payload.as_ref().is_some_and(|p| !p.signs_url()) {
                error(
                    "url",
                    "the payload does not sign `{url}`, so `url:` has no effect; remove it or \
                     add `{url}` to the payload"
                        .into(),
                );
            }
            let mut variants = url.variants.clone();
            variants.dedup();
            variants
        }
    };

    // A signature carried inside the body cannot sign a payload holding that body.
    if let (Some(source), Some(payload)) = (&signature_source, &payload) {
        if matches!(source, FieldSource::Json(_) | FieldSource::Form(_)) && payload.uses_body() {
            error(
                "payload",
                format!(
                    "the signature is read from the body ({source}), so the payload cannot \
                     include the body ({{body}} or {{form_sorted_concat}})"
                ),
            );
        }
    }
    if let (Some(_), Some(payload)) = (&for_each, &payload) {
        if payload.uses_body() {
            error(
                "payload",
                "with for_each each item is signed on its own: use {json:$.field} of the item, \
                 not {body}"
                    .into(),
            );
        }
        if !matches!(signature_source, Some(FieldSource::Json(_)) | None) {
            error(
                "signature.from",
                "with for_each the signature is read inside each item: expected \"json:$.path\""
                    .into(),
            );
        }
    }

    match (payload, signature_source) {
        (Some(payload), Some(source)) if errors.is_empty() => Ok(Scheme {
            algorithm: raw.algorithm,
            key: KeyFormat {
                decode: raw.key.decode,
                strip_prefix: raw.key.strip_prefix.clone(),
            },
            signature: SignatureRule {
                source,
                prefix: raw.signature.prefix.clone().filter(|p| !p.is_empty()),
                layout,
                encoding: raw.signature.encoding,
            },
            vars,
            timestamp,
            payload,
            payload_source: raw.payload.clone(),
            url_variants,
            body_digest,
            for_each,
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
    } else {
        let field = FieldSource::parse(&raw.from).map_err(|problem| {
            if problem.starts_with("expected") {
                format!("expected \"kv:LABEL\" or a value source: {problem}")
            } else {
                problem
            }
        })?;
        TimestampSource::Field(field)
    };
    Ok(TimestampRule {
        source,
        unit: raw.unit,
        tolerance_seconds: i64::from(raw.tolerance_seconds),
        reject_future: raw.reject_future,
    })
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
    if ["body", "timestamp", "url", "form_sorted_concat"].contains(&name) {
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

    /// Where the signature is read, e.g. `header:Stripe-Signature` or
    /// `json:$.signature.signature`.
    pub fn signature_source(&self) -> String {
        self.signature.source.to_string()
    }

    /// The header the signature is read from, if it is in a header.
    pub fn signature_header(&self) -> Option<&str> {
        match &self.signature.source {
            FieldSource::Header(name) => Some(name),
            _ => None,
        }
    }

    /// The freshness window in seconds, if the scheme checks one.
    pub fn tolerance_seconds(&self) -> Option<i64> {
        self.timestamp.as_ref().map(|ts| ts.tolerance_seconds)
    }

    /// Whether verifying needs the URL the provider sent the request to (`{url}`, a `query:`
    /// source, or a digest in the query).
    pub fn needs_url(&self) -> bool {
        let query = |source: &FieldSource| source.reads_url();
        self.payload.uses_url()
            || query(&self.signature.source)
            || self.vars.values().any(query)
            || self.body_digest.as_ref().is_some_and(|d| query(&d.source))
            || matches!(&self.timestamp, Some(TimestampRule { source: TimestampSource::Field(f), .. }) if query(f))
    }

    /// Whether every byte of the body is covered: `{body}` is signed, or its digest is. False
    /// for schemes that sign fields (Mailgun, Adyen, Twilio's form parameters) or a token.
    pub fn signs_raw_body(&self) -> bool {
        self.algorithm != RawAlgorithm::TokenEquals
            && self.for_each.is_none()
            && (self.payload.signs_raw_body() || self.body_digest.is_some())
    }

    /// Whether the signature, a signed value or the items are read from a JSON body.
    pub fn reads_json_body(&self) -> bool {
        self.for_each.is_some()
            || self.signature.source.reads_json()
            || self.vars.values().any(FieldSource::reads_json)
            || self.payload.fields().any(FieldSource::reads_json)
            || matches!(&self.timestamp, Some(TimestampRule { source: TimestampSource::Field(f), .. }) if f.reads_json())
    }
}
