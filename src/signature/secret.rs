//! Secret key material for signature schemes: [`SecretKey`] holds decoded key bytes under a
//! human label, and [`KeyFormat`] turns the string an operator configured (`whsec_...`, hex,
//! plain text) into those bytes. Neither the `Debug` output nor any error message ever contains
//! the key itself.

use std::fmt;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

use super::raw::KeyDecoding;

/// Standard-alphabet base64 that accepts input with or without `=` padding.
pub(crate) const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// URL-safe base64 that accepts input with or without `=` padding and encodes without it.
pub(crate) const BASE64URL_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decoded key bytes (an HMAC key, a shared token or an Ed25519 key) and a label for logs.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey {
    label: String,
    bytes: Vec<u8>,
}

impl SecretKey {
    pub fn new(label: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            label: label.into(),
            bytes: bytes.into(),
        }
    }

    /// The same key under another label (e.g. `current`, `previous`).
    pub fn with_label(self, label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            ..self
        }
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("label", &self.label)
            .field(
                "bytes",
                &format_args!("<redacted {} bytes>", self.bytes.len()),
            )
            .finish()
    }
}

/// How a configured secret string becomes key bytes: an optional prefix is stripped, then the
/// rest is decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyFormat {
    pub(crate) decode: KeyDecoding,
    pub(crate) strip_prefix: Vec<String>,
}

impl KeyFormat {
    /// Strips the first matching prefix (if any) and decodes. Errors describe the problem
    /// without quoting the secret.
    pub(crate) fn decode(&self, raw: &str) -> Result<Vec<u8>, String> {
        let stripped = self
            .strip_prefix
            .iter()
            .find_map(|prefix| raw.strip_prefix(prefix.as_str()))
            .unwrap_or(raw);
        let bytes = match self.decode {
            KeyDecoding::Utf8 => stripped.as_bytes().to_vec(),
            KeyDecoding::Base64 => BASE64_LENIENT
                .decode(stripped.trim())
                .map_err(|_| "secret is not valid base64".to_string())?,
            KeyDecoding::Hex => hex::decode(stripped.trim())
                .map_err(|_| "secret is not valid hex (expected an even number of hex digits)")?,
        };
        if bytes.is_empty() {
            return Err("secret is empty".to_string());
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(decode: KeyDecoding, prefixes: &[&str]) -> KeyFormat {
        KeyFormat {
            decode,
            strip_prefix: prefixes.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn debug_output_never_shows_key_bytes() {
        let key = SecretKey::new("current", b"hunter2".to_vec());
        let shown = format!("{key:?}");
        assert!(shown.contains("current"));
        assert!(shown.contains("7 bytes"));
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains("104")); // 'h' as a number
    }

    #[test]
    fn base64_secret_has_prefix_stripped_and_padding_optional() {
        let f = format(KeyDecoding::Base64, &["whsec_"]);
        assert_eq!(f.decode("whsec_aGVsbG8=").unwrap(), b"hello");
        assert_eq!(f.decode("whsec_aGVsbG8").unwrap(), b"hello");
        assert_eq!(f.decode("aGVsbG8").unwrap(), b"hello");
    }

    #[test]
    fn utf8_secret_keeps_a_prefix_it_is_not_told_to_strip() {
        let f = format(KeyDecoding::Utf8, &[]);
        assert_eq!(f.decode("whsec_abc").unwrap(), b"whsec_abc");
    }

    #[test]
    fn decode_errors_do_not_quote_the_secret() {
        let f = format(KeyDecoding::Base64, &[]);
        let err = f.decode("not*base64*SECRETVALUE").unwrap_err();
        assert!(!err.contains("SECRETVALUE"), "{err}");
        let f = format(KeyDecoding::Hex, &[]);
        let err = f.decode("zzSECRET").unwrap_err();
        assert!(!err.contains("SECRET"), "{err}");
        assert_eq!(f.decode("DEADbeef").unwrap(), vec![0xde, 0xad, 0xbe, 0xef]);
    }

    #[test]
    fn empty_secret_is_rejected() {
        let f = format(KeyDecoding::Utf8, &["whsec_"]);
        assert!(f.decode("whsec_").is_err());
        assert!(f.decode("").is_err());
    }
}
