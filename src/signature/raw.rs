//! The serde mirror of a signature scheme as written in YAML (see README.md, "routes.yaml"). These
//! types hold no logic beyond defaults: [`super::compile_scheme`] validates them into a
//! [`super::Scheme`], and [`parse_scheme_value`] turns a YAML value into them with a precise path
//! on every serde error.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::compile::SchemeError;

/// One signature scheme as configured: what to read, how to decode it, what was signed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawScheme {
    pub algorithm: RawAlgorithm,
    #[serde(default)]
    pub key: RawKey,
    pub signature: RawSignature,
    /// Named template inputs, each a source such as `header:webhook-id`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<RawTimestamp>,
    /// The bytes that were signed, e.g. `"{timestamp}.{body}"`.
    #[serde(default = "default_payload")]
    pub payload: String,
    /// How the URL the provider saw is matched when the scheme signs it (`{url}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<RawUrl>,
    /// A digest of the body carried beside the signature (Twilio's `bodySHA256` query
    /// parameter), which must match the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_digest: Option<RawBodyDigest>,
    /// A JSON body holding several signed items (Adyen's notification items), e.g.
    /// `$.notificationItems[*].NotificationRequestItem`: every item must verify, and `json:`
    /// sources are read inside the item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_each: Option<String>,
}

/// Which spellings of the URL are tried (Twilio signs the URL as its client wrote it, with or
/// without the port).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawUrl {
    #[serde(default = "default_url_variants")]
    pub variants: Vec<UrlVariant>,
}

fn default_url_variants() -> Vec<UrlVariant> {
    vec![UrlVariant::AsIs]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UrlVariant {
    /// The URL exactly as received.
    AsIs,
    /// Without an explicit port (`https://a.com:8443/x` -> `https://a.com/x`).
    StripPort,
    /// With the scheme's default port added when none is written (`https://a.com:443/x`).
    AddDefaultPort,
}

/// `body_digest: { from: "query:bodySHA256", algorithm: sha256, encoding: hex }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawBodyDigest {
    /// `query:NAME` or `header:NAME`.
    pub from: String,
    #[serde(default)]
    pub algorithm: DigestAlgorithm,
    #[serde(default)]
    pub encoding: SignatureEncoding,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DigestAlgorithm {
    #[default]
    Sha256,
    Sha512,
}

fn default_payload() -> String {
    "{body}".to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawAlgorithm {
    HmacSha1,
    HmacSha256,
    HmacSha512,
    /// The header carries the shared secret itself (GitLab); compared in constant time.
    TokenEquals,
    /// The secret is an Ed25519 public key (or a 64-byte seed+public keypair, which can also sign).
    Ed25519,
    /// ECDSA over P-256 with SHA-256 (SendGrid). The secret is a DER SubjectPublicKeyInfo
    /// public key (or a DER PKCS#8 private key, which can also sign); signatures are DER.
    EcdsaP256Sha256,
}

impl RawAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HmacSha1 => "hmac-sha1",
            Self::HmacSha256 => "hmac-sha256",
            Self::HmacSha512 => "hmac-sha512",
            Self::TokenEquals => "token-equals",
            Self::Ed25519 => "ed25519",
            Self::EcdsaP256Sha256 => "ecdsa-p256-sha256",
        }
    }

    /// Whether the secret is a key pair's public half (the sender signs with the private half).
    pub fn is_asymmetric(self) -> bool {
        matches!(self, Self::Ed25519 | Self::EcdsaP256Sha256)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawKey {
    #[serde(default)]
    pub decode: KeyDecoding,
    /// Prefixes removed from the configured secret when present (e.g. `whsec_`). When a secret
    /// is generated, a prefix ending in `sk_` marks a private key and one ending in `pk_` a
    /// public key (`whsk_` / `whpk_`); otherwise the first prefix is used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub strip_prefix: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyDecoding {
    #[default]
    Utf8,
    Base64,
    Hex,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSignature {
    /// Where the signature is read: `header:NAME`, `json:$.path` (in the body), `form:NAME`
    /// (a field of a form-encoded body) or `query:NAME` (a parameter of the URL).
    pub from: String,
    /// A literal prefix every signature value must carry, e.g. `sha256=`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// How to split the header into entries; absent means the whole value is one signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse: Option<RawSignatureParse>,
    #[serde(default)]
    pub encoding: SignatureEncoding,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RawSignatureParse {
    KvList(RawKvList),
}

/// A list like `t=1,v1=ab,v1=cd` (Stripe) or `v1,AB== v1,CD==` (Standard Webhooks).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawKvList {
    #[serde(default = "default_pair_sep")]
    pub pair_sep: String,
    /// Splits each entry on its first occurrence.
    #[serde(default = "default_kv_sep")]
    pub kv_sep: String,
    /// Labels whose values are signatures; other labels are ignored.
    pub keys: Vec<String>,
}

fn default_pair_sep() -> String {
    ",".to_string()
}

fn default_kv_sep() -> String {
    "=".to_string()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureEncoding {
    /// Hex digits in any case.
    #[default]
    Hex,
    /// Standard alphabet, padding optional.
    Base64,
    /// URL-safe alphabet, padding optional.
    Base64url,
}

impl SignatureEncoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hex => "hex",
            Self::Base64 => "base64",
            Self::Base64url => "base64url",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimestamp {
    /// `kv:LABEL` (a field of the parsed signature header), `header:NAME`, `json:$.path`,
    /// `form:NAME` or `query:NAME`.
    pub from: String,
    #[serde(default)]
    pub unit: TimestampUnit,
    #[serde(default = "default_tolerance_seconds")]
    pub tolerance_seconds: u32,
    /// `false` checks only the past (Stripe, Paddle).
    #[serde(default = "default_reject_future")]
    pub reject_future: bool,
}

fn default_tolerance_seconds() -> u32 {
    300
}

fn default_reject_future() -> bool {
    true
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimestampUnit {
    #[default]
    S,
    Ms,
}

/// Deserializes a scheme from a YAML value (e.g. a preset with user overrides merged in). Unknown
/// fields and variants are reported with their path (`signature.encoding`) and serde's list of
/// the accepted values.
pub fn parse_scheme_value(value: serde_yaml::Value) -> Result<RawScheme, SchemeError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let path = if path == "." { String::new() } else { path };
        SchemeError::new(path, err.into_inner().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<RawScheme, SchemeError> {
        parse_scheme_value(serde_yaml::from_str(yaml).unwrap())
    }

    #[test]
    fn minimal_scheme_gets_defaults() {
        let raw = parse("algorithm: hmac-sha256\nsignature: { from: 'header:X-Sig' }").unwrap();
        assert_eq!(raw.key, RawKey::default());
        assert_eq!(raw.signature.encoding, SignatureEncoding::Hex);
        assert_eq!(raw.payload, "{body}");
        assert!(raw.timestamp.is_none());
        assert!(raw.vars.is_empty());
    }

    #[test]
    fn timestamp_defaults_are_300_seconds_both_directions() {
        let raw = parse(
            "algorithm: hmac-sha256\nsignature: { from: 'header:X' }\ntimestamp: { from: 'header:T' }",
        )
        .unwrap();
        let ts = raw.timestamp.unwrap();
        assert_eq!(ts.tolerance_seconds, 300);
        assert!(ts.reject_future);
        assert_eq!(ts.unit, TimestampUnit::S);
    }

    #[test]
    fn unknown_variant_names_its_path_and_the_valid_options() {
        let err = parse("algorithm: hmac-md5\nsignature: { from: 'header:X' }").unwrap_err();
        assert_eq!(err.path, "algorithm");
        assert!(err.message.contains("hmac-sha256"), "{}", err.message);

        let err = parse("algorithm: hmac-sha256\nsignature: { from: 'header:X', encoding: b32 }")
            .unwrap_err();
        assert_eq!(err.path, "signature.encoding");
        assert!(err.message.contains("base64url"), "{}", err.message);
    }

    #[test]
    fn unknown_field_is_rejected_with_its_path() {
        let err = parse("algorithm: hmac-sha256\nsignature: { from: 'header:X', prefx: 'a=' }")
            .unwrap_err();
        assert_eq!(err.path, "signature.prefx");
        assert!(err.message.contains("prefix"), "{}", err.message);
    }

    #[test]
    fn missing_required_field_is_reported() {
        let err = parse("algorithm: hmac-sha256").unwrap_err();
        assert!(err.message.contains("signature"), "{}", err.message);
    }

    #[test]
    fn kv_list_parse_block_is_type_tagged() {
        let raw = parse(
            "algorithm: hmac-sha256\nsignature: { from: 'header:S', parse: { type: kv_list, keys: [v1] } }",
        )
        .unwrap();
        let Some(RawSignatureParse::KvList(kv)) = raw.signature.parse else {
            panic!("expected kv_list");
        };
        assert_eq!((kv.pair_sep.as_str(), kv.kv_sep.as_str()), (",", "="));
        assert_eq!(kv.keys, vec!["v1"]);

        let err = parse(
            "algorithm: hmac-sha256\nsignature: { from: 'header:S', parse: { type: regex, keys: [v1] } }",
        )
        .unwrap_err();
        assert!(err.message.contains("kv_list"), "{}", err.message);
    }
}
