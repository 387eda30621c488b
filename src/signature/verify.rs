//! Checking a request against a compiled [`Scheme`]: check the body digest if the scheme has
//! one, then for the request (or each `for_each` item) read the signature, check the
//! timestamp's freshness, render the signed payload (for each URL spelling the scheme allows)
//! and try every secret against every signature entry with constant-time comparisons. Fails
//! closed: no secrets, no signature, an unknown URL or no match is an error with a stable code.

use std::borrow::Cow;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha1::Sha1;
use sha2::{Digest as _, Sha256, Sha512};
use subtle::ConstantTimeEq;

use super::compile::{BodyDigestRule, Scheme, TimestampRule, TimestampSource};
use super::field::{FieldSource, RequestView};
use super::header::{decode_signature, split_signature_header, SignatureHeader};
use super::keys::{ecdsa_matches, ecdsa_verifying_key, ed25519_matches};
use super::raw::{DigestAlgorithm, RawAlgorithm, TimestampUnit};
use super::request::SignedRequest;
use super::secret::SecretKey;
use super::template::RenderInput;
use super::url::url_spellings;

/// A request whose signature matched: which secret matched, and the timestamp (unix seconds)
/// when the scheme has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedSignature {
    pub secret_index: usize,
    pub timestamp: Option<i64>,
}

/// Why a request was not accepted (or, for [`SignatureError::CannotSign`], not signed).
/// Messages are logged, so they say where a value came from and what kind of value was wrong,
/// never the value itself: a header's text is chosen by whoever sends the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing header {0}")]
    MissingHeader(String),
    /// A value the scheme reads from the body or the URL (`json:$.signature.signature`).
    #[error("missing {0}")]
    MissingField(String),
    #[error("malformed signature: {0}")]
    Malformed(String),
    #[error("the timestamp is more than {tolerance} s before now")]
    Stale {
        timestamp: i64,
        now: i64,
        tolerance: i64,
    },
    #[error("the timestamp is more than {tolerance} s after now")]
    Future {
        timestamp: i64,
        now: i64,
        tolerance: i64,
    },
    #[error("no signature matched any secret")]
    NoMatch,
    #[error("the body does not match the digest sent with it")]
    BodyDigestMismatch,
    #[error(
        "the scheme signs the URL the provider sent the request to, and that URL is not known \
         (set the endpoint's public_url)"
    )]
    UrlUnknown,
    #[error("no secret is configured, so nothing can be verified")]
    NoSecrets,
    #[error("cannot sign: {0}")]
    CannotSign(String),
}

impl SignatureError {
    /// A stable snake_case code for responses, logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) | Self::MissingField(_) => "missing_signature",
            Self::Malformed(_) => "malformed_signature",
            Self::Stale { .. } => "stale_timestamp",
            Self::Future { .. } => "future_timestamp",
            Self::NoMatch => "invalid_signature",
            Self::BodyDigestMismatch => "body_digest_mismatch",
            Self::UrlUnknown => "url_unknown",
            Self::NoSecrets => "no_secret",
            Self::CannotSign(_) => "cannot_sign",
        }
    }
}

/// A timestamp as received (for the payload) and in unix seconds (for freshness).
pub(crate) struct ReceivedTimestamp<'a> {
    pub(crate) text: Cow<'a, str>,
    pub(crate) unix_secs: i64,
}

impl Scheme {
    /// Turns a configured secret string into key bytes (prefix stripped, decoded). The key is
    /// labelled `""`; use [`SecretKey::with_label`]. Errors never quote the secret.
    pub fn decode_secret(&self, raw: &str) -> Result<SecretKey, String> {
        let bytes = self.key.decode(raw)?;
        match self.algorithm {
            RawAlgorithm::Ed25519 if ![32, 64].contains(&bytes.len()) => {
                return Err(format!(
                    "an ed25519 secret must decode to a 32-byte public key or a 64-byte \
                     seed+public keypair, got {} bytes",
                    bytes.len()
                ))
            }
            RawAlgorithm::EcdsaP256Sha256 if ecdsa_verifying_key(&bytes).is_none() => {
                return Err(
                    "an ecdsa-p256-sha256 secret must be a P-256 public key as DER \
                     SubjectPublicKeyInfo (or a DER PKCS#8 private key)"
                        .to_string(),
                )
            }
            _ => {}
        }
        Ok(SecretKey::new("", bytes))
    }

    /// Verifies `req` at clock `now_unix_secs`. Every secret is tried against every signature
    /// entry; the timestamp is checked before anything is accepted. With `for_each`, every item
    /// must verify, and the first item's result is returned.
    pub fn verify(
        &self,
        req: &SignedRequest<'_>,
        secrets: &[SecretKey],
        now_unix_secs: i64,
    ) -> Result<VerifiedSignature, SignatureError> {
        if secrets.is_empty() {
            return Err(SignatureError::NoSecrets);
        }
        let view = RequestView::new(*req);
        if let Some(rule) = &self.body_digest {
            check_body_digest(&view, rule)?;
        }
        let Some(path) = &self.for_each else {
            return self.verify_item(&view, None, secrets, now_unix_secs);
        };
        let root = view.json().ok_or_else(|| {
            SignatureError::Malformed(format!(
                "the body is not JSON, so it has no items at {}",
                path.as_str()
            ))
        })?;
        let items = path.select(root);
        if items.is_empty() {
            return Err(SignatureError::MissingField(format!(
                "items at {}",
                path.as_str()
            )));
        }
        let mut first = None;
        for item in items {
            let verified = self.verify_item(&view, Some(item), secrets, now_unix_secs)?;
            first.get_or_insert(verified);
        }
        Ok(first.expect("at least one item"))
    }

    /// Verifies the request, or one item of it.
    fn verify_item(
        &self,
        view: &RequestView<'_>,
        item: Option<&Value>,
        secrets: &[SecretKey],
        now: i64,
    ) -> Result<VerifiedSignature, SignatureError> {
        let rule = &self.signature;
        let value = read_required(view, &rule.source, item)?;
        if value.trim().is_empty() {
            return Err(missing(&rule.source));
        }
        let parsed = split_signature_header(&value, &rule.layout, rule.prefix.as_deref());
        let timestamp = match &self.timestamp {
            Some(ts_rule) => Some(read_fresh_timestamp(ts_rule, &parsed, view, item, now)?),
            None => None,
        };
        let urls: Vec<Option<String>> = if self.payload.signs_url() {
            let url = view.request.url.ok_or(SignatureError::UrlUnknown)?;
            url_spellings(url, &self.url_variants)
                .into_iter()
                .map(Some)
                .collect()
        } else {
            vec![None]
        };
        let signatures: Vec<Vec<u8>> = if self.algorithm == RawAlgorithm::TokenEquals {
            parsed
                .candidates
                .iter()
                .map(|c| c.as_bytes().to_vec())
                .collect()
        } else {
            parsed
                .candidates
                .iter()
                .filter_map(|candidate| decode_signature(candidate, rule.encoding))
                .collect()
        };
        if signatures.is_empty() {
            return Err(SignatureError::NoMatch);
        }
        let mut matched = None;
        for url in &urls {
            if self.algorithm == RawAlgorithm::TokenEquals {
                matched = first_match(secrets, |secret| {
                    any_equal(signatures.iter().map(Vec::as_slice), secret.bytes())
                });
                break;
            }
            let payload = self.payload.render(RenderInput {
                view,
                item,
                timestamp: timestamp.as_ref().map(|ts| ts.text.as_ref()),
                url: url.as_deref(),
            })?;
            matched = match self.algorithm {
                RawAlgorithm::Ed25519 => {
                    let message = payload.concat();
                    first_match(secrets, |secret| {
                        ed25519_matches(secret.bytes(), &message, &signatures)
                    })
                }
                RawAlgorithm::EcdsaP256Sha256 => {
                    let message = payload.concat();
                    first_match(secrets, |secret| {
                        ecdsa_matches(secret.bytes(), &message, &signatures)
                    })
                }
                _ => first_match(secrets, |secret| {
                    let tag = self.mac(secret.bytes(), &payload);
                    any_equal(signatures.iter().map(Vec::as_slice), &tag)
                }),
            };
            if matched.is_some() {
                break;
            }
        }
        matched
            .map(|secret_index| VerifiedSignature {
                secret_index,
                timestamp: timestamp.map(|ts| ts.unix_secs),
            })
            .ok_or(SignatureError::NoMatch)
    }

    /// The HMAC of the payload pieces under `key`.
    pub(crate) fn mac(&self, key: &[u8], payload: &[Cow<'_, [u8]>]) -> Vec<u8> {
        match self.algorithm {
            RawAlgorithm::HmacSha1 => hmac_tag::<Hmac<Sha1>>(key, payload),
            RawAlgorithm::HmacSha512 => hmac_tag::<Hmac<Sha512>>(key, payload),
            _ => hmac_tag::<Hmac<Sha256>>(key, payload),
        }
    }
}

fn hmac_tag<M: Mac + KeyInit>(key: &[u8], payload: &[Cow<'_, [u8]>]) -> Vec<u8> {
    let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for piece in payload {
        mac.update(piece);
    }
    mac.finalize().into_bytes().to_vec()
}

/// The digest of `body` under `algorithm`.
pub(crate) fn body_digest(algorithm: DigestAlgorithm, body: &[u8]) -> Vec<u8> {
    match algorithm {
        DigestAlgorithm::Sha256 => Sha256::digest(body).to_vec(),
        DigestAlgorithm::Sha512 => Sha512::digest(body).to_vec(),
    }
}

/// The digest sent with the request must be the body's, compared in constant time.
fn check_body_digest(view: &RequestView<'_>, rule: &BodyDigestRule) -> Result<(), SignatureError> {
    let text = read_required(view, &rule.source, None)?;
    let sent =
        decode_signature(text.trim(), rule.encoding).ok_or(SignatureError::BodyDigestMismatch)?;
    let actual = body_digest(rule.algorithm, view.request.body);
    if bool::from(sent.ct_eq(&actual)) {
        Ok(())
    } else {
        Err(SignatureError::BodyDigestMismatch)
    }
}

fn missing(source: &FieldSource) -> SignatureError {
    match source {
        FieldSource::Header(name) => SignatureError::MissingHeader(name.clone()),
        other => SignatureError::MissingField(other.to_string()),
    }
}

/// Reads a value the scheme cannot do without.
fn read_required<'a>(
    view: &RequestView<'a>,
    source: &FieldSource,
    item: Option<&Value>,
) -> Result<Cow<'a, str>, SignatureError> {
    if source.reads_url() && view.request.url.is_none() {
        return Err(SignatureError::UrlUnknown);
    }
    view.read(source, item).ok_or_else(|| missing(source))
}

/// The index of the first secret for which `matches` holds. Every secret is tried, so the time
/// taken does not depend on which one matched.
fn first_match(
    secrets: &[SecretKey],
    mut matches: impl FnMut(&SecretKey) -> bool,
) -> Option<usize> {
    let mut found = None;
    for (index, secret) in secrets.iter().enumerate() {
        if matches(secret) && found.is_none() {
            found = Some(index);
        }
    }
    found
}

/// Whether any candidate equals `expected`, comparing each in constant time. A length mismatch
/// is simply unequal.
fn any_equal<'a>(candidates: impl Iterator<Item = &'a [u8]>, expected: &[u8]) -> bool {
    let mut any = subtle::Choice::from(0);
    for candidate in candidates {
        any |= candidate.ct_eq(expected);
    }
    any.into()
}

/// Where a scheme reads its timestamp, as the configuration names it.
fn timestamp_place(source: &TimestampSource) -> String {
    match source {
        TimestampSource::SignatureField(label) => format!("`{label}` in the signature"),
        TimestampSource::Field(field) => field.to_string(),
    }
}

/// Reads the timestamp and rejects it if it is outside the tolerance.
fn read_fresh_timestamp<'s>(
    rule: &TimestampRule,
    parsed: &SignatureHeader<'s>,
    view: &RequestView<'s>,
    item: Option<&Value>,
    now: i64,
) -> Result<ReceivedTimestamp<'s>, SignatureError> {
    let text: Cow<'s, str> = match &rule.source {
        TimestampSource::SignatureField(label) => {
            Cow::Borrowed(parsed.field(label).ok_or_else(|| {
                SignatureError::Malformed(format!(
                    "signature header has no `{label}` timestamp field"
                ))
            })?)
        }
        TimestampSource::Field(source) => read_required(view, source, item)?,
    };
    let digits_only =
        !text.is_empty() && text.len() <= 19 && text.bytes().all(|b| b.is_ascii_digit());
    let value = digits_only
        .then(|| text.parse::<i64>().ok())
        .flatten()
        .ok_or_else(|| {
            // Where it came from, never what it was: the text is the sender's.
            SignatureError::Malformed(format!(
                "the timestamp ({}) is not an integer of at most 19 digits",
                timestamp_place(&rule.source)
            ))
        })?;
    let unix_secs = match rule.unit {
        TimestampUnit::S => value,
        TimestampUnit::Ms => value / 1000,
    };
    let tolerance = rule.tolerance_seconds;
    let age = i128::from(now) - i128::from(unix_secs);
    if age > i128::from(tolerance) {
        return Err(SignatureError::Stale {
            timestamp: unix_secs,
            now,
            tolerance,
        });
    }
    if rule.reject_future && -age > i128::from(tolerance) {
        return Err(SignatureError::Future {
            timestamp: unix_secs,
            now,
            tolerance,
        });
    }
    Ok(ReceivedTimestamp { text, unix_secs })
}
