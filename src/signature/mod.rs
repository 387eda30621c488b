//! Declarative webhook signature schemes: a scheme written in YAML (`algorithm`, `key`,
//! `signature`, `vars`, `timestamp`, `payload`; see `SCHEMES.md` section 4) is parsed into
//! [`RawScheme`], compiled once into an immutable [`Scheme`] (every error collected with its
//! path), then used to verify requests against a list of secrets and to sign like a sender.
//! Built-in provider presets are data in `presets.yaml`.
//!
//! Files: `raw` (serde types), `compile` (validation), `describe` (one-line summary), `header`
//! (signature header format), `template` (the signed payload), `verify` (verify and sign),
//! `request` (header access), `secret` (key bytes), `presets` (built-in presets).

mod compile;
mod describe;
mod header;
mod presets;
mod raw;
mod request;
mod secret;
mod template;
mod verify;

#[cfg(test)]
mod verify_tests;

pub use compile::{compile_scheme, Scheme, SchemeError};
pub use presets::{merge_yaml, preset, preset_names, Preset};
pub use raw::{
    parse_scheme_value, KeyDecoding, RawAlgorithm, RawKey, RawKvList, RawScheme, RawSignature,
    RawSignatureParse, RawTimestamp, SignatureEncoding, TimestampUnit,
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
