//! Checking a request against a compiled [`Scheme`] (and the reverse, signing like a sender):
//! read the signature header, check the timestamp's freshness, render the signed payload, then
//! try every secret against every signature entry with constant-time comparisons. Fails closed:
//! no secrets, no header or no match is an error with a stable code.

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;

use super::compile::{Scheme, TimestampRule, TimestampSource};
use super::header::{
    decode_signature, encode_signature, format_signature_header, split_signature_header,
    SignatureHeader,
};
use super::raw::{KeyDecoding, RawAlgorithm, TimestampUnit};
use super::request::{HeaderList, HeaderSource, SignInput, SignedMessage, SignedRequest};
use super::secret::SecretKey;
use super::template::MissingHeader;
use base64::Engine as _;

/// A request whose signature matched: which secret matched, and the timestamp (unix seconds)
/// when the scheme has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedSignature {
    pub secret_index: usize,
    pub timestamp: Option<i64>,
}

/// Why a request was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing header {0}")]
    MissingHeader(String),
    #[error("malformed signature: {0}")]
    Malformed(String),
    #[error("timestamp {timestamp} is more than {tolerance} s before now ({now})")]
    Stale {
        timestamp: i64,
        now: i64,
        tolerance: i64,
    },
    #[error("timestamp {timestamp} is more than {tolerance} s after now ({now})")]
    Future {
        timestamp: i64,
        now: i64,
        tolerance: i64,
    },
    #[error("no signature matched any secret")]
    NoMatch,
    #[error("no secret is configured, so nothing can be verified")]
    NoSecrets,
}

impl SignatureError {
    /// A stable snake_case code for responses, logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing_signature",
            Self::Malformed(_) => "malformed_signature",
            Self::Stale { .. } => "stale_timestamp",
            Self::Future { .. } => "future_timestamp",
            Self::NoMatch => "invalid_signature",
            Self::NoSecrets => "no_secret",
        }
    }
}

impl From<MissingHeader> for SignatureError {
    fn from(MissingHeader(name): MissingHeader) -> Self {
        Self::MissingHeader(name)
    }
}

/// A timestamp as received (for the payload) and in unix seconds (for freshness).
struct ReceivedTimestamp<'a> {
    text: &'a str,
    unix_secs: i64,
}

impl Scheme {
    /// Turns a configured secret string into key bytes (prefix stripped, decoded). The key is
    /// labelled `""`; use [`SecretKey::with_label`]. Errors never quote the secret.
    pub fn decode_secret(&self, raw: &str) -> Result<SecretKey, String> {
        let bytes = self.key.decode(raw)?;
        if self.algorithm == RawAlgorithm::Ed25519 && ![32, 64].contains(&bytes.len()) {
            return Err(format!(
                "an ed25519 secret must decode to a 32-byte public key or a 64-byte \
                 seed+public keypair, got {} bytes",
                bytes.len()
            ));
        }
        Ok(SecretKey::new("", bytes))
    }

    /// Verifies `req` at clock `now_unix_secs`. Every secret is tried against every signature
    /// entry; the timestamp is checked before anything is accepted.
    pub fn verify(
        &self,
        req: &SignedRequest<'_>,
        secrets: &[SecretKey],
        now_unix_secs: i64,
    ) -> Result<VerifiedSignature, SignatureError> {
        if secrets.is_empty() {
            return Err(SignatureError::NoSecrets);
        }
        let rule = &self.signature;
        let value = req
            .headers
            .header(&rule.header)
            .filter(|value| !value.trim().is_empty())
            .ok_or_else(|| SignatureError::MissingHeader(rule.header.clone()))?;
        let parsed = split_signature_header(value, &rule.layout, rule.prefix.as_deref());
        let timestamp = match &self.timestamp {
            Some(ts_rule) => Some(read_fresh_timestamp(
                ts_rule,
                &parsed,
                req.headers,
                now_unix_secs,
            )?),
            None => None,
        };
        let payload =
            self.payload
                .render(req.body, timestamp.as_ref().map(|ts| ts.text), req.headers)?;

        let matched = if self.algorithm == RawAlgorithm::TokenEquals {
            first_match(secrets, |secret| {
                any_equal(
                    parsed.candidates.iter().map(|c| c.as_bytes()),
                    secret.bytes(),
                )
            })
        } else {
            let signatures: Vec<Vec<u8>> = parsed
                .candidates
                .iter()
                .filter_map(|candidate| decode_signature(candidate, rule.encoding))
                .collect();
            if signatures.is_empty() {
                return Err(SignatureError::NoMatch);
            }
            match self.algorithm {
                RawAlgorithm::Ed25519 => {
                    let message = payload.concat();
                    first_match(secrets, |secret| {
                        ed25519_matches(secret, &message, &signatures)
                    })
                }
                _ => first_match(secrets, |secret| {
                    let tag = self.mac(secret.bytes(), &payload);
                    any_equal(signatures.iter().map(Vec::as_slice), &tag)
                }),
            }
        };
        matched
            .map(|secret_index| VerifiedSignature {
                secret_index,
                timestamp: timestamp.map(|ts| ts.unix_secs),
            })
            .ok_or(SignatureError::NoMatch)
    }

    /// The headers a sender would send for `body` at `now_unix_secs`: the signature header in
    /// the scheme's format, the timestamp header if the timestamp has its own header, and every
    /// other header the payload reads (vars such as `webhook-id`) set to `id`.
    ///
    /// # Panics
    /// For ed25519, if `secret` is neither a 32-byte seed nor a 64-byte seed+public keypair
    /// ([`Scheme::decode_secret`] never produces another length).
    pub fn sign(
        &self,
        secret: &SecretKey,
        body: &[u8],
        now_unix_secs: i64,
        id: &str,
    ) -> Vec<(String, String)> {
        let rule = &self.signature;
        if self.algorithm == RawAlgorithm::TokenEquals {
            let token = String::from_utf8_lossy(secret.bytes());
            let value = format!("{}{token}", rule.prefix.as_deref().unwrap_or(""));
            return vec![(rule.header.clone(), value)];
        }
        let mut headers = HeaderList::new();
        let mut timestamp_field = None;
        let timestamp_text = self.timestamp.as_ref().map(|ts_rule| {
            let text = match ts_rule.unit {
                TimestampUnit::S => now_unix_secs.to_string(),
                TimestampUnit::Ms => now_unix_secs.saturating_mul(1000).to_string(),
            };
            match &ts_rule.source {
                TimestampSource::Header(name) => headers.0.push((name.clone(), text.clone())),
                TimestampSource::SignatureField(label) => timestamp_field = Some(label.as_str()),
            }
            text
        });
        for name in self.payload.header_names() {
            if headers.header(name).is_none() {
                headers.0.push((name.to_string(), id.to_string()));
            }
        }
        let payload = self
            .payload
            .render(body, timestamp_text.as_deref(), &headers)
            .expect("sign supplies every header the payload reads");
        let signature = match self.algorithm {
            RawAlgorithm::Ed25519 => ed25519_signing_key(secret)
                .expect("an ed25519 signing secret is a 32-byte seed or a 64-byte keypair")
                .sign(&payload.concat())
                .to_bytes()
                .to_vec(),
            _ => self.mac(secret.bytes(), &payload),
        };
        let encoded = encode_signature(&signature, rule.encoding);
        let timestamp_field = timestamp_field.zip(timestamp_text.as_deref());
        let value = format_signature_header(
            &rule.layout,
            rule.prefix.as_deref(),
            timestamp_field,
            &encoded,
        );
        let mut all = vec![(rule.header.clone(), value)];
        all.extend(headers.0);
        all
    }

    /// Signs a whole message as a sender would: headers, and for schemes that carry the
    /// signature in the body or the URL, the changed body or URL.
    pub fn sign_message(&self, input: SignInput<'_>) -> Result<SignedMessage, SignatureError> {
        Ok(SignedMessage {
            headers: self.sign(input.secret, input.body, input.now_unix_secs, input.id),
            body: input.body.to_vec(),
            url: input.url.map(str::to_string),
        })
    }

    /// The secret text a receiver configures to verify what `signing_secret` signs: the same
    /// text for shared-secret (HMAC, token) schemes, the encoded public key for asymmetric ones.
    pub fn verifying_secret_text(&self, signing_secret: &str) -> Result<String, String> {
        match self.algorithm {
            RawAlgorithm::Ed25519 => Err("deriving an ed25519 public key is not done yet".into()),
            _ => Ok(signing_secret.to_string()),
        }
    }

    /// A fresh random signing secret written the way this scheme's senders hand it out (for
    /// `hookroute sign --new-secret` and round-trip tests). For asymmetric schemes it is the
    /// private key; [`Scheme::verifying_secret_text`] gives the receiver's side.
    pub fn generate_signing_secret(&self) -> Result<String, String> {
        if self.algorithm == RawAlgorithm::Ed25519 {
            return Err("generating an ed25519 key is not done yet".into());
        }
        let bytes: [u8; 32] = rand::random();
        let prefix = self.key.strip_prefix.first().cloned().unwrap_or_default();
        let text = match self.key.decode {
            KeyDecoding::Utf8 => hex::encode(bytes),
            KeyDecoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
            KeyDecoding::Hex => hex::encode(bytes),
        };
        Ok(format!("{prefix}{text}"))
    }

    /// The HMAC of the payload pieces under `key`.
    fn mac(&self, key: &[u8], payload: &[&[u8]]) -> Vec<u8> {
        match self.algorithm {
            RawAlgorithm::HmacSha1 => hmac_tag::<Hmac<Sha1>>(key, payload),
            RawAlgorithm::HmacSha512 => hmac_tag::<Hmac<Sha512>>(key, payload),
            _ => hmac_tag::<Hmac<Sha256>>(key, payload),
        }
    }
}

fn hmac_tag<M: Mac + KeyInit>(key: &[u8], payload: &[&[u8]]) -> Vec<u8> {
    let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for piece in payload {
        mac.update(piece);
    }
    mac.finalize().into_bytes().to_vec()
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

fn ed25519_signing_key(secret: &SecretKey) -> Option<SigningKey> {
    let seed: [u8; 32] = match secret.bytes().len() {
        32 | 64 => secret.bytes()[..32].try_into().ok()?,
        _ => return None,
    };
    Some(SigningKey::from_bytes(&seed))
}

/// A 32-byte secret is a public key; a 64-byte one a seed+public keypair (which must agree).
fn ed25519_verifying_key(secret: &SecretKey) -> Option<VerifyingKey> {
    let bytes = secret.bytes();
    if let Ok(public) = <[u8; 32]>::try_from(bytes) {
        return VerifyingKey::from_bytes(&public).ok();
    }
    let keypair = <[u8; 64]>::try_from(bytes).ok()?;
    SigningKey::from_keypair_bytes(&keypair)
        .ok()
        .map(|key| key.verifying_key())
}

fn ed25519_matches(secret: &SecretKey, message: &[u8], signatures: &[Vec<u8>]) -> bool {
    let Some(key) = ed25519_verifying_key(secret) else {
        return false;
    };
    let mut any = false;
    for signature in signatures {
        if let Ok(bytes) = <[u8; 64]>::try_from(signature.as_slice()) {
            let signature = ed25519_dalek::Signature::from_bytes(&bytes);
            any |= key.verify_strict(message, &signature).is_ok();
        }
    }
    any
}

/// Reads the timestamp and rejects it if it is outside the tolerance.
fn read_fresh_timestamp<'a>(
    rule: &TimestampRule,
    parsed: &SignatureHeader<'a>,
    headers: &'a dyn HeaderSource,
    now: i64,
) -> Result<ReceivedTimestamp<'a>, SignatureError> {
    let text = match &rule.source {
        TimestampSource::SignatureField(label) => parsed.field(label).ok_or_else(|| {
            SignatureError::Malformed(format!("signature header has no `{label}` timestamp field"))
        })?,
        TimestampSource::Header(name) => headers
            .header(name)
            .ok_or_else(|| SignatureError::MissingHeader(name.clone()))?,
    };
    let digits_only =
        !text.is_empty() && text.len() <= 19 && text.bytes().all(|b| b.is_ascii_digit());
    let value = digits_only
        .then(|| text.parse::<i64>().ok())
        .flatten()
        .ok_or_else(|| {
            let shown: String = text.chars().take(32).collect();
            SignatureError::Malformed(format!("timestamp {shown:?} is not an integer"))
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
