//! Round trips through every built-in preset: a fresh signing secret, a message signed as the
//! provider would send it, verified with the receiver's secret text; one flipped signed byte
//! (or a wrong token) is rejected.

use serde_json::Value;

use super::field::BodyPath;
use super::{
    preset, preset_names, scheme_from_value, Preset, RawAlgorithm, Scheme, SignInput, SignedRequest,
};

const NOW: i64 = 1_700_000_000;
/// The id handed to the signer (it lands in id headers and body vars such as Mailgun's token).
const SIGNER_ID: &str = "tok_1";
/// The event id placed in the body.
const EVENT_ID: &str = "evt_1";
const URL: &str = "https://hooks.example.com/in?x=1";

/// A body with the preset's event id and type present: form fields for a scheme that signs form
/// parameters, JSON otherwise.
fn sample_body(preset: &Preset, scheme: &Scheme) -> Vec<u8> {
    if scheme.payload_source.contains("{form_sorted_concat}") {
        return format!("MessageSid={EVENT_ID}&Body=Hello+there&From=%2B15550001111").into_bytes();
    }
    let mut doc = Value::Null;
    for (source, value) in [
        (&preset.event_id, EVENT_ID),
        (&preset.event_type, "test.event"),
    ] {
        if let Some(path) = source.as_deref().and_then(|s| s.strip_prefix("json:")) {
            BodyPath::parse(path, false)
                .and_then(|path| path.set(&mut doc, Value::String(value.into())))
                .unwrap_or_else(|err| panic!("{}: {err}", preset.name));
        }
    }
    match &mut doc {
        Value::Null => doc = serde_json::json!({ "sample": EVENT_ID }),
        Value::Object(map) => {
            map.insert("sample".into(), Value::String(EVENT_ID.into()));
        }
        _ => {}
    }
    serde_json::to_vec(&doc).unwrap()
}

/// The body with one signed byte changed: in the id the signer supplied if the body carries
/// it (Mailgun signs only its token), else in the event id.
fn flipped(body: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(body.to_vec()).unwrap();
    let target = if text.contains(SIGNER_ID) {
        SIGNER_ID
    } else {
        EVENT_ID
    };
    let at = text.find(target).expect("the body holds a signed id") + target.len() - 1;
    let mut out = body.to_vec();
    out[at] = b'2';
    out
}

fn verify(
    scheme: &Scheme,
    secret_text: &str,
    headers: &[(String, String)],
    body: &[u8],
    url: Option<&str>,
) -> Result<(), String> {
    let secret = scheme.decode_secret(secret_text)?;
    let headers = headers.to_vec();
    let mut request = SignedRequest::new(&headers, body);
    if let Some(url) = url {
        request = request.with_url(url);
    }
    scheme
        .verify(&request, &[secret], NOW + 1)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn every_preset_signs_what_its_verifier_accepts_and_rejects_a_flipped_byte() {
    assert!(preset_names().len() >= 26, "{:?}", preset_names());
    for name in preset_names() {
        let preset = preset(name).unwrap();
        let scheme = scheme_from_value(preset.scheme.clone()).unwrap();
        let signing = scheme.generate_signing_secret().unwrap();
        let verifying = scheme.verifying_secret_text(&signing).unwrap();
        if scheme.algorithm().is_asymmetric() {
            assert_ne!(signing, verifying, "{name}: the public half differs");
        }
        let key = scheme
            .decode_secret(&signing)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let body = sample_body(preset, &scheme);
        let message = scheme
            .sign_message(SignInput {
                secret: &key,
                body: &body,
                url: Some(URL),
                now_unix_secs: NOW,
                id: SIGNER_ID,
            })
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let url = message.url.as_deref();
        verify(&scheme, &verifying, &message.headers, &message.body, url).unwrap_or_else(|e| {
            panic!("{name}: the signed message did not verify: {e}\n{message:?}")
        });

        if scheme.algorithm() == RawAlgorithm::TokenEquals {
            let other = scheme.generate_signing_secret().unwrap();
            assert!(
                verify(&scheme, &other, &message.headers, &message.body, url).is_err(),
                "{name}"
            );
            continue;
        }
        let tampered = flipped(&message.body);
        assert!(
            verify(&scheme, &verifying, &message.headers, &tampered, url).is_err(),
            "{name}: a flipped byte was accepted: {}",
            String::from_utf8_lossy(&tampered)
        );
    }
}

#[test]
fn url_signing_presets_refuse_to_sign_or_verify_without_a_url() {
    for name in ["square", "twilio", "twilio-json"] {
        let scheme = scheme_from_value(preset(name).unwrap().scheme.clone()).unwrap();
        let key = scheme.decode_secret("secret").unwrap();
        let input = SignInput {
            secret: &key,
            body: b"a=1",
            url: None,
            now_unix_secs: NOW,
            id: "",
        };
        assert_eq!(
            scheme.sign_message(input).unwrap_err().code(),
            "url_unknown",
            "{name}"
        );
        let with_url = scheme
            .sign_message(SignInput {
                url: Some(URL),
                ..input
            })
            .unwrap();
        let request = SignedRequest::new(&with_url.headers, &with_url.body);
        assert_eq!(
            scheme
                .verify(&request, std::slice::from_ref(&key), NOW)
                .unwrap_err()
                .code(),
            "url_unknown",
            "{name}"
        );
    }
}

#[test]
fn twilio_json_puts_the_body_digest_in_the_url() {
    let scheme = scheme_from_value(preset("twilio-json").unwrap().scheme.clone()).unwrap();
    let key = scheme.decode_secret("12345").unwrap();
    let body = br#"{"property": "value", "boolean": true}"#;
    let message = scheme
        .sign_message(SignInput {
            secret: &key,
            body,
            url: Some("https://mycompany.com/myapp.php?foo=1&bar=2"),
            now_unix_secs: NOW,
            id: "",
        })
        .unwrap();
    // The published twilio-python vector (twilio-7-json-bodysha256).
    assert_eq!(
        message.url.as_deref(),
        Some("https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620")
    );
    assert_eq!(
        message.headers,
        vec![(
            "X-Twilio-Signature".to_string(),
            "a9nBmqA0ju/hNViExpshrM61xv4=".to_string()
        )]
    );
}

#[test]
fn adyen_signs_every_item_and_one_bad_item_fails_the_request() {
    let scheme = scheme_from_value(preset("adyen").unwrap().scheme.clone()).unwrap();
    let secret = scheme.generate_signing_secret().unwrap();
    let key = scheme.decode_secret(&secret).unwrap();
    let item = |psp: &str| serde_json::json!({"NotificationRequestItem": {"pspReference": psp, "merchantAccountCode": "M", "amount": {"value": 100, "currency": "EUR"}, "eventCode": "AUTHORISATION", "success": "true"}});
    let body = serde_json::to_vec(
        &serde_json::json!({"live": "false", "notificationItems": [item("a"), item("b")]}),
    )
    .unwrap();
    let message = scheme
        .sign_message(SignInput {
            secret: &key,
            body: &body,
            url: None,
            now_unix_secs: NOW,
            id: "",
        })
        .unwrap();
    let mut doc: Value = serde_json::from_slice(&message.body).unwrap();
    let signatures: Vec<&Value> = doc["notificationItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["NotificationRequestItem"]["additionalData"]["hmacSignature"])
        .collect();
    assert!(signatures.iter().all(|s| s.is_string()) && signatures[0] != signatures[1]);
    let headers: Vec<(String, String)> = Vec::new();
    let ok = scheme.verify(
        &SignedRequest::new(&headers, &message.body),
        std::slice::from_ref(&key),
        NOW,
    );
    assert!(ok.is_ok(), "{ok:?}");
    doc["notificationItems"][1]["NotificationRequestItem"]["amount"]["value"] = 101.into();
    let tampered = serde_json::to_vec(&doc).unwrap();
    let err = scheme
        .verify(&SignedRequest::new(&headers, &tampered), &[key], NOW)
        .unwrap_err();
    assert_eq!(err.code(), "invalid_signature");
}
