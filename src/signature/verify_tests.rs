//! Behaviour tests for [`Scheme::verify`] and [`Scheme::sign`] across every built-in preset:
//! round trips, tampering, secret rotation, freshness and the error codes. Kept apart from
//! `verify.rs` so that file stays about the verifier itself.

use rand::Rng as _;

use super::*;

const NOW: i64 = 1_700_000_000;

fn preset_scheme(name: &str) -> Scheme {
    scheme_from_value(preset(name).unwrap().scheme.clone()).unwrap()
}

fn scheme_yaml(text: &str) -> Scheme {
    scheme_from_value(serde_yaml::from_str(text).unwrap()).unwrap()
}

/// A usable key for the scheme: an Ed25519 keypair, a printable token, or random HMAC bytes.
fn random_secret(scheme: &Scheme, label: &str) -> SecretKey {
    let mut rng = rand::rng();
    let bytes: Vec<u8> = match scheme.algorithm() {
        RawAlgorithm::Ed25519 => {
            let seed: [u8; 32] = rng.random();
            ed25519_dalek::SigningKey::from_bytes(&seed)
                .to_keypair_bytes()
                .to_vec()
        }
        RawAlgorithm::EcdsaP256Sha256 => super::keys::ecdsa_generate(),
        RawAlgorithm::TokenEquals => (0..24).map(|_| rng.random_range(b'a'..=b'z')).collect(),
        _ => (0..32).map(|_| rng.random()).collect(),
    };
    SecretKey::new(label, bytes)
}

/// Presets that sign any body with headers alone (no URL, nothing read from or written into
/// the body): the ones [`Scheme::sign`] serves and random bytes exercise. The others are covered
/// by `roundtrip_tests`.
fn header_only_presets() -> Vec<&'static str> {
    preset_names()
        .into_iter()
        .filter(|name| {
            let scheme = preset_scheme(name);
            !scheme.needs_url()
                && !scheme.reads_json_body()
                && !scheme.payload_source.contains("form")
        })
        .collect()
}

fn random_body() -> Vec<u8> {
    let mut rng = rand::rng();
    let len = rng.random_range(1..512);
    (0..len).map(|_| rng.random()).collect()
}

fn verify(
    scheme: &Scheme,
    headers: &dyn HeaderSource,
    body: &[u8],
    secrets: &[SecretKey],
    now: i64,
) -> Result<VerifiedSignature, SignatureError> {
    scheme.verify(&SignedRequest::new(headers, body), secrets, now)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers.header(name).unwrap()
}

#[test]
fn every_preset_verifies_what_it_signs() {
    assert!(header_only_presets().len() >= 20);
    for name in header_only_presets() {
        let scheme = preset_scheme(name);
        let secret = random_secret(&scheme, "current");
        let body = random_body();
        let headers = scheme.sign(&secret, &body, NOW, "msg_1");
        let verified = verify(&scheme, &headers, &body, &[secret], NOW + 1)
            .unwrap_or_else(|err| panic!("{name}: {err} with headers {headers:?}"));
        assert_eq!(verified.secret_index, 0, "{name}");
        let expected_ts = scheme.tolerance_seconds().map(|_| NOW);
        assert_eq!(verified.timestamp, expected_ts, "{name}");
    }
}

#[test]
fn every_signing_preset_rejects_a_flipped_body_byte() {
    for name in header_only_presets() {
        let scheme = preset_scheme(name);
        if scheme.algorithm() == RawAlgorithm::TokenEquals {
            continue; // the token does not cover the body
        }
        let secret = random_secret(&scheme, "current");
        let mut body = random_body();
        let headers = scheme.sign(&secret, &body, NOW, "msg_1");
        let i = rand::rng().random_range(0..body.len());
        body[i] ^= 0x01;
        let err = verify(&scheme, &headers, &body, &[secret], NOW).unwrap_err();
        assert_eq!(err, SignatureError::NoMatch, "{name}");
    }
}

#[test]
fn a_rotated_secret_still_verifies_and_reports_its_index() {
    for name in header_only_presets() {
        let scheme = preset_scheme(name);
        let old = random_secret(&scheme, "previous");
        let new = random_secret(&scheme, "current");
        let headers = scheme.sign(&old, b"{}", NOW, "msg_1");
        let verified = verify(&scheme, &headers, b"{}", &[new, old], NOW).unwrap();
        assert_eq!(verified.secret_index, 1, "{name}");
    }
}

#[test]
fn empty_secret_list_fails_closed() {
    let scheme = preset_scheme("github");
    let headers = scheme.sign(&SecretKey::new("k", b"k".to_vec()), b"x", NOW, "id");
    let err = verify(&scheme, &headers, b"x", &[], NOW).unwrap_err();
    assert_eq!(err, SignatureError::NoSecrets);
    assert_eq!(err.code(), "no_secret");
}

#[test]
fn signed_headers_look_like_the_providers_own() {
    let key = SecretKey::new("k", b"key".to_vec());
    let stripe = preset_scheme("stripe").sign(&key, b"b", NOW, "id");
    let value = header(&stripe, "stripe-signature");
    assert!(value.starts_with("t=1700000000,v1="), "{value}");
    assert_eq!(stripe.len(), 1);

    let std = preset_scheme("standard-webhooks").sign(&key, b"b", NOW, "msg_9");
    assert!(header(&std, "webhook-signature").starts_with("v1,"));
    assert_eq!(header(&std, "webhook-id"), "msg_9");
    assert_eq!(header(&std, "webhook-timestamp"), "1700000000");

    let paddle = preset_scheme("paddle").sign(&key, b"b", NOW, "id");
    assert!(header(&paddle, "paddle-signature").starts_with("ts=1700000000;h1="));

    let seed = preset_scheme("hookroute-seed").sign(&key, b"b", NOW, "id");
    let value = header(&seed, "X-Signature");
    assert!(
        value.starts_with("x-sha256=") && value.len() == 9 + 64,
        "{value}"
    );

    let gitlab = preset_scheme("gitlab").sign(&key, b"b", NOW, "id");
    assert_eq!(
        gitlab,
        vec![("X-Gitlab-Token".to_string(), "key".to_string())]
    );
}

#[test]
fn freshness_is_checked_before_a_correct_mac_is_accepted() {
    let scheme = preset_scheme("standard-webhooks");
    let key = random_secret(&scheme, "k");
    let headers = scheme.sign(&key, b"b", NOW, "id");
    let keys = [key];
    assert!(verify(&scheme, &headers, b"b", &keys, NOW + 300).is_ok());
    let stale = verify(&scheme, &headers, b"b", &keys, NOW + 301).unwrap_err();
    assert_eq!(
        stale,
        SignatureError::Stale {
            timestamp: NOW,
            now: NOW + 301,
            tolerance: 300
        }
    );
    assert_eq!(stale.code(), "stale_timestamp");
    let future = verify(&scheme, &headers, b"b", &keys, NOW - 301).unwrap_err();
    assert_eq!(future.code(), "future_timestamp");
}

#[test]
fn past_only_schemes_accept_a_timestamp_from_the_future() {
    let scheme = preset_scheme("stripe");
    let key = random_secret(&scheme, "k");
    let headers = scheme.sign(&key, b"b", NOW, "id");
    assert!(verify(&scheme, &headers, b"b", &[key], NOW - 10_000).is_ok());
}

#[test]
fn millisecond_timestamps_are_signed_and_checked_in_milliseconds() {
    let scheme = scheme_yaml(
        r#"{ algorithm: hmac-sha512, signature: { from: "header:S", encoding: base64url },
             timestamp: { from: "header:T", unit: ms, tolerance_seconds: 60 },
             payload: "{timestamp}{body}" }"#,
    );
    let key = random_secret(&scheme, "k");
    let headers = scheme.sign(&key, b"b", NOW, "id");
    assert_eq!(header(&headers, "T"), "1700000000000");
    let keys = [key];
    assert_eq!(
        verify(&scheme, &headers, b"b", &keys, NOW + 60)
            .unwrap()
            .timestamp,
        Some(NOW)
    );
    assert_eq!(
        verify(&scheme, &headers, b"b", &keys, NOW + 61)
            .unwrap_err()
            .code(),
        "stale_timestamp"
    );
}

#[test]
fn a_non_integer_timestamp_is_malformed() {
    let scheme = preset_scheme("stripe");
    let key = SecretKey::new("k", b"k".to_vec());
    for value in [
        "t=12a,v1=00",
        "t=,v1=00",
        "t=-5,v1=00",
        "t=99999999999999999999,v1=00",
        "v1=00",
    ] {
        let headers = vec![("Stripe-Signature".to_string(), value.to_string())];
        let err = verify(&scheme, &headers, b"b", std::slice::from_ref(&key), NOW).unwrap_err();
        assert_eq!(err.code(), "malformed_signature", "{value}: {err}");
    }
}

#[test]
fn missing_signature_timestamp_or_var_header_is_missing_signature() {
    let scheme = preset_scheme("standard-webhooks");
    let key = random_secret(&scheme, "k");
    let headers = scheme.sign(&key, b"b", NOW, "id");
    for dropped in ["webhook-signature", "webhook-timestamp", "webhook-id"] {
        let partial: Vec<(String, String)> = headers
            .iter()
            .filter(|(name, _)| name != dropped)
            .cloned()
            .collect();
        let err = verify(&scheme, &partial, b"b", std::slice::from_ref(&key), NOW).unwrap_err();
        assert_eq!(err, SignatureError::MissingHeader(dropped.to_string()));
        assert_eq!(err.code(), "missing_signature");
    }
    let blank = vec![("webhook-signature".to_string(), "  ".to_string())];
    assert_eq!(
        verify(&scheme, &blank, b"b", &[key], NOW)
            .unwrap_err()
            .code(),
        "missing_signature"
    );
}

#[test]
fn any_matching_entry_among_garbage_and_other_versions_passes() {
    let scheme = preset_scheme("stripe");
    let key = SecretKey::new("k", b"whsec_test".to_vec());
    let signed = scheme.sign(&key, b"body", NOW, "id");
    let good = header(&signed, "Stripe-Signature")
        .split("v1=")
        .nth(1)
        .unwrap()
        .to_uppercase();
    let value = format!("t={NOW},v1=dummy,v0={good},v1=zz,v1={good}");
    let headers = vec![("Stripe-Signature".to_string(), value)];
    assert!(verify(&scheme, &headers, b"body", &[key], NOW).is_ok());
}

#[test]
fn truncated_or_extended_signature_is_no_match_not_an_error() {
    let scheme = preset_scheme("github");
    let key = SecretKey::new("k", b"k".to_vec());
    let signed = header(&scheme.sign(&key, b"b", NOW, "id"), "X-Hub-Signature-256").to_string();
    for value in [
        &signed[..signed.len() - 2],
        &format!("{signed}00"),
        "sha256=",
        "sha1=00",
    ] {
        let headers = vec![("X-Hub-Signature-256".to_string(), value.to_string())];
        let err = verify(&scheme, &headers, b"b", std::slice::from_ref(&key), NOW).unwrap_err();
        assert_eq!(err.code(), "invalid_signature", "{value}");
    }
}

#[test]
fn wrong_token_is_rejected_and_right_one_accepted() {
    let scheme = preset_scheme("gitlab");
    let keys = [SecretKey::new("k", b"tok".to_vec())];
    let with = |token: &str| vec![("x-gitlab-token".to_string(), token.to_string())];
    assert!(verify(&scheme, &with("tok"), b"", &keys, NOW).is_ok());
    for wrong in ["to", "tok2", "TOK"] {
        assert_eq!(
            verify(&scheme, &with(wrong), b"", &keys, NOW).unwrap_err(),
            SignatureError::NoMatch
        );
    }
}

#[test]
fn ed25519_verifies_with_the_public_key_alone() {
    let scheme = preset_scheme("standard-webhooks-ed25519");
    let keypair = random_secret(&scheme, "k");
    let public = SecretKey::new("pub", keypair.bytes()[32..].to_vec());
    let headers = scheme.sign(&keypair, b"b", NOW, "id");
    assert!(header(&headers, "webhook-signature").starts_with("v1a,"));
    assert!(verify(&scheme, &headers, b"b", &[public], NOW).is_ok());
}

#[test]
fn decode_secret_applies_the_schemes_key_rules() {
    let std = preset_scheme("standard-webhooks");
    let key = std
        .decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .unwrap();
    assert_eq!(key.bytes().len(), 24);
    let stripe = preset_scheme("stripe");
    assert_eq!(
        stripe.decode_secret("whsec_abc").unwrap().bytes(),
        b"whsec_abc"
    );
    let ed = preset_scheme("standard-webhooks-ed25519");
    let err = ed.decode_secret("whpk_AAAA").unwrap_err();
    assert!(err.contains("32-byte"), "{err}");
}
