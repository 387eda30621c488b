//! Asymmetric key material for the `ed25519` and `ecdsa-p256-sha256` algorithms: reading the
//! public (verifying) and private (signing) halves from decoded secret bytes, verifying and
//! making signatures, and generating fresh key pairs.
//!
//! Forms, as bytes (the scheme's `key.decode` turns the configured text into these bytes):
//! - ed25519: a 32-byte public key verifies; a 64-byte seed+public key pair verifies and signs
//!   (a 32-byte secret given for signing is taken as the seed).
//! - ecdsa-p256-sha256: a DER SubjectPublicKeyInfo verifies (SendGrid hands this out, base64);
//!   a DER PKCS#8 private key verifies and signs. Signatures are DER; both low and high `s` are
//!   accepted, as the providers' own SDKs do.

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};

/// The signing key of an ed25519 secret: a 32-byte seed or a 64-byte seed+public pair.
pub(crate) fn ed25519_signing_key(secret: &[u8]) -> Option<SigningKey> {
    match secret.len() {
        32 => Some(SigningKey::from_bytes(secret.try_into().ok()?)),
        64 => SigningKey::from_keypair_bytes(secret.try_into().ok()?).ok(),
        _ => None,
    }
}

/// A 32-byte secret is a public key; a 64-byte one a seed+public keypair (which must agree).
pub(crate) fn ed25519_verifying_key(secret: &[u8]) -> Option<VerifyingKey> {
    if let Ok(public) = <[u8; 32]>::try_from(secret) {
        return VerifyingKey::from_bytes(&public).ok();
    }
    let keypair = <[u8; 64]>::try_from(secret).ok()?;
    SigningKey::from_keypair_bytes(&keypair)
        .ok()
        .map(|key| key.verifying_key())
}

pub(crate) fn ed25519_matches(secret: &[u8], message: &[u8], signatures: &[Vec<u8>]) -> bool {
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

pub(crate) fn ed25519_sign(secret: &[u8], message: &[u8]) -> Option<Vec<u8>> {
    Some(
        ed25519_signing_key(secret)?
            .sign(message)
            .to_bytes()
            .to_vec(),
    )
}

/// A fresh 64-byte seed+public key pair.
pub(crate) fn ed25519_generate() -> Vec<u8> {
    let seed: [u8; 32] = rand::random();
    SigningKey::from_bytes(&seed).to_keypair_bytes().to_vec()
}

/// The 32-byte public key of a signing secret.
pub(crate) fn ed25519_public(secret: &[u8]) -> Option<Vec<u8>> {
    Some(
        ed25519_signing_key(secret)?
            .verifying_key()
            .to_bytes()
            .to_vec(),
    )
}

fn ecdsa_signing_key(secret: &[u8]) -> Option<p256::ecdsa::SigningKey> {
    p256::ecdsa::SigningKey::from_pkcs8_der(secret).ok()
}

pub(crate) fn ecdsa_verifying_key(secret: &[u8]) -> Option<p256::ecdsa::VerifyingKey> {
    p256::ecdsa::VerifyingKey::from_public_key_der(secret)
        .ok()
        .or_else(|| ecdsa_signing_key(secret).map(|key| *key.verifying_key()))
}

pub(crate) fn ecdsa_matches(secret: &[u8], message: &[u8], signatures: &[Vec<u8>]) -> bool {
    let Some(key) = ecdsa_verifying_key(secret) else {
        return false;
    };
    let mut any = false;
    for signature in signatures {
        if let Ok(signature) = p256::ecdsa::Signature::from_der(signature) {
            // (r, s) verifies exactly when (r, n - s) does: checking the low-s form once accepts
            // both forms (senders are not required to normalize s).
            any |= key.verify(message, &signature.normalize_s()).is_ok();
        }
    }
    any
}

/// A DER signature of `message` under a PKCS#8 private key.
pub(crate) fn ecdsa_sign(secret: &[u8], message: &[u8]) -> Option<Vec<u8>> {
    let signature: p256::ecdsa::Signature = ecdsa_signing_key(secret)?.sign(message);
    Some(signature.to_der().as_bytes().to_vec())
}

/// A fresh private key as DER PKCS#8.
pub(crate) fn ecdsa_generate() -> Vec<u8> {
    loop {
        let bytes: [u8; 32] = rand::random();
        // Fails only for zero or a value at or above the group order: retry.
        if let Ok(key) = p256::ecdsa::SigningKey::from_bytes(&bytes.into()) {
            return key
                .to_pkcs8_der()
                .expect("a P-256 key encodes as PKCS#8")
                .as_bytes()
                .to_vec();
        }
    }
}

/// The DER SubjectPublicKeyInfo of a PKCS#8 private key.
pub(crate) fn ecdsa_public(secret: &[u8]) -> Option<Vec<u8>> {
    let key = ecdsa_signing_key(secret)?;
    Some(
        key.verifying_key()
            .to_public_key_der()
            .ok()?
            .as_bytes()
            .to_vec(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_key_pair_signs_and_its_public_half_verifies() {
        let private = ecdsa_generate();
        let public = ecdsa_public(&private).unwrap();
        let signature = ecdsa_sign(&private, b"1600112502payload").unwrap();
        assert!(ecdsa_matches(
            &public,
            b"1600112502payload",
            std::slice::from_ref(&signature)
        ));
        assert!(ecdsa_matches(
            &private,
            b"1600112502payload",
            std::slice::from_ref(&signature)
        ));
        assert!(!ecdsa_matches(&public, b"1600112502payloaD", &[signature]));
        assert!(ecdsa_verifying_key(b"not a key").is_none());
        assert!(ecdsa_public(&public).is_none(), "a public key cannot sign");
    }

    #[test]
    fn ed25519_pair_and_seed_give_the_same_public_key() {
        let pair = ed25519_generate();
        let public = ed25519_public(&pair).unwrap();
        assert_eq!(ed25519_public(&pair[..32]).unwrap(), public);
        let signature = ed25519_sign(&pair, b"m").unwrap();
        assert!(ed25519_matches(
            &public,
            b"m",
            std::slice::from_ref(&signature)
        ));
        assert!(!ed25519_matches(&public, b"n", &[signature]));
    }
}
