//! Declarative webhook signature schemes: a scheme written in YAML (`algorithm`, `key`,
//! `signature`, `vars`, `timestamp`, `payload`; see README.md, "routes.yaml") is parsed into
//! [`RawScheme`], compiled once into an immutable [`Scheme`] (every error collected with its
//! path), then used to verify requests against a list of secrets and to sign like a sender.
//! Built-in provider presets are data in `presets.yaml`.
//!
//! Files: `raw` (serde types), `compile` (validation), `describe` (one-line summary), `field`
//! (where a value is read: header, JSON body, form, query), `body_path` (plain JSON paths), `header` (signature header format),
//! `template` (the signed payload), `url` (URL spellings), `verify` (verify), `sign` (sign like
//! a sender, generate secrets), `keys` (ed25519 and ECDSA keys), `request` (what is verified),
//! `secret` (key bytes), `presets` (built-in presets), `reads` (the headers a scheme reads).

mod body_path;
mod compile;
mod describe;
mod field;
mod header;
mod keys;
mod presets;
mod raw;
mod reads;
mod request;
mod secret;
mod sign;
mod template;
mod url;
mod verify;

#[cfg(test)]
mod compile_tests;
#[cfg(test)]
mod roundtrip_tests;
#[cfg(test)]
mod verify_tests;

pub use compile::{compile_scheme, Scheme, SchemeError};
pub use presets::{merge_yaml, preset, preset_names, Preset};
pub use raw::{
    parse_scheme_value, DigestAlgorithm, KeyDecoding, RawAlgorithm, RawBodyDigest, RawKey,
    RawKvList, RawScheme, RawSignature, RawSignatureParse, RawTimestamp, RawUrl, SignatureEncoding,
    TimestampUnit, UrlVariant,
};
pub use request::{HeaderList, HeaderSource, SignInput, SignedMessage, SignedRequest};
pub use secret::SecretKey;
pub use verify::{SignatureError, VerifiedSignature};

/// Parses and compiles a scheme from a YAML value in one step (e.g. a preset merged with user
/// overrides).
pub fn scheme_from_value(value: serde_yaml::Value) -> Result<Scheme, Vec<SchemeError>> {
    let raw = parse_scheme_value(value).map_err(|err| vec![err])?;
    compile_scheme(&raw)
}
