//! Providers whose signatures are not in headers alone, end to end through the real app on
//! loopback: Twilio (a form body, signed together with the URL Twilio requested, set as the
//! endpoint's `public_url` or rebuilt from the request) and Mailgun (the signature inside the
//! JSON body). Each: a request signed as the provider would send it is accepted and delivered
//! byte for byte to a loopback downstream; one flipped byte is answered 401.

mod common;

use common::{eventually, now_secs, Downstream, Reply, TestRouter};
use hookroute::config::MapEnvironment;
use hookroute::signature::SignInput;
use serde_json::Value;
use std::time::Duration;

const FORM: &str = "application/x-www-form-urlencoded";

fn config(downstream: &str) -> String {
    format!(
        r#"
targets:
  sink:
    url: {downstream}/sink
endpoints:
  - path: /twilio
    name: twilio
    public_url: https://hooks.example.com/twilio
    verify:
      provider: twilio
      secrets:
        - env: TWILIO_AUTH_TOKEN
    event: {{ id: "form:MessageSid", type: "form:SmsStatus" }}
    rules:
      - name: all
        forward: [sink]
  - path: /twilio-direct
    name: twilio-direct
    verify:
      provider: twilio
      secrets:
        - env: TWILIO_AUTH_TOKEN
    event: {{ id: "form:MessageSid" }}
    rules:
      - name: all
        forward: [sink]
  - path: /mailgun
    name: mailgun
    verify:
      provider: mailgun
      secrets:
        - env: MAILGUN_SIGNING_KEY
    rules:
      - name: all
        forward: [sink]
"#
    )
}

async fn start() -> (TestRouter, Downstream) {
    let downstream = Downstream::start(vec![Reply::status(200)]);
    let env = MapEnvironment::default()
        .with("TWILIO_AUTH_TOKEN", "12345-twilio-auth-token")
        .with("MAILGUN_SIGNING_KEY", "key-mailgun-signing-key");
    let router = TestRouter::start(&config(&downstream.url), env).await;
    (router, downstream)
}

/// Signs `body` with the endpoint's own scheme and first secret, as the provider would send it
/// to `url`.
fn sign(
    router: &TestRouter,
    path: &str,
    body: &[u8],
    url: Option<&str>,
) -> hookroute::signature::SignedMessage {
    let config = router.config.load();
    let endpoint = config.endpoint(path).expect("endpoint exists");
    endpoint
        .scheme
        .sign_message(SignInput {
            secret: &endpoint.secrets[0],
            body,
            url,
            now_unix_secs: now_secs(),
            id: "",
        })
        .expect("signs")
}

async fn post(
    router: &TestRouter,
    path_and_query: &str,
    content_type: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (u16, Value) {
    let mut request = router
        .client
        .post(format!("{}{path_and_query}", router.base))
        .header("content-type", content_type)
        .body(body.to_vec());
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn flip_last_byte_of(body: &[u8], needle: &str) -> Vec<u8> {
    let text = std::str::from_utf8(body).unwrap();
    let at = text.find(needle).expect("needle in body") + needle.len() - 1;
    let mut out = body.to_vec();
    out[at] ^= 0x01;
    out
}

#[actix_web::test]
async fn twilio_form_post_signed_over_the_public_url_is_accepted_delivered_and_a_flipped_byte_is_401(
) {
    let (router, downstream) = start().await;
    let body = b"MessageSid=SM0001&SmsStatus=received&Body=Hello+there&From=%2B15550001111";
    // Twilio signs the URL it was configured with, query included; the router is reached on
    // 127.0.0.1, so only public_url makes this verify.
    let signed = sign(
        &router,
        "/twilio",
        body,
        Some("https://hooks.example.com/twilio?src=e2e"),
    );
    assert_eq!(
        signed.body, body,
        "twilio carries the signature in a header"
    );

    let (status, answer) = post(&router, "/twilio?src=e2e", FORM, &signed.headers, body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "accepted", "{answer}");
    assert_eq!(answer["event_id"], "SM0001", "{answer}");
    let received = eventually(Duration::from_secs(10), "delivery to the sink", || {
        downstream.received().into_iter().next()
    })
    .await;
    assert_eq!(received.body, body);
    assert_eq!(received.header("content-type"), Some(FORM));

    let tampered = flip_last_byte_of(body, "Hello");
    let (status, answer) = post(&router, "/twilio?src=e2e", FORM, &signed.headers, &tampered).await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["error"], "invalid_signature", "{answer}");

    // The same request with another query string is another URL.
    let (status, _) = post(&router, "/twilio?src=other", FORM, &signed.headers, body).await;
    assert_eq!(status, 401);
    assert_eq!(downstream.count(), 1);
}

#[actix_web::test]
async fn twilio_without_public_url_verifies_against_the_url_rebuilt_from_the_host() {
    let (router, downstream) = start().await;
    let body = b"MessageSid=SM0002&Body=Hi";
    let url = format!("{}/twilio-direct?a=1", router.base);
    let signed = sign(&router, "/twilio-direct", body, Some(&url));
    let (status, answer) = post(&router, "/twilio-direct?a=1", FORM, &signed.headers, body).await;
    assert_eq!(status, 200, "{answer}");
    eventually(Duration::from_secs(10), "delivery", || {
        (downstream.count() == 1).then_some(())
    })
    .await;

    // Signed for the public host, but this endpoint does not know it: fails closed.
    let signed = sign(
        &router,
        "/twilio-direct",
        body,
        Some("https://hooks.example.com/twilio-direct?a=1"),
    );
    let (status, answer) = post(&router, "/twilio-direct?a=1", FORM, &signed.headers, body).await;
    assert_eq!(status, 401, "{answer}");
}

#[actix_web::test]
async fn mailgun_signature_inside_the_json_body_is_accepted_delivered_and_a_flipped_byte_is_401() {
    let (router, downstream) = start().await;
    let event =
        br#"{"event-data":{"id":"mg-0001","event":"delivered","recipient":"a@example.com"}}"#;
    let signed = sign(&router, "/mailgun", event, None);
    let doc: Value = serde_json::from_slice(&signed.body).unwrap();
    let token = doc["signature"]["token"].as_str().unwrap().to_string();
    assert_eq!(doc["signature"]["signature"].as_str().unwrap().len(), 64);
    assert!(
        signed.headers.is_empty(),
        "mailgun sends no signature header"
    );

    let json = "application/json";
    let (status, answer) = post(&router, "/mailgun", json, &[], &signed.body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["event_id"], "mg-0001", "{answer}");
    let received = eventually(Duration::from_secs(10), "delivery to the sink", || {
        downstream.received().into_iter().next()
    })
    .await;
    assert_eq!(received.body, signed.body, "delivered byte for byte");

    let tampered = flip_last_byte_of(&signed.body, &token);
    let (status, answer) = post(&router, "/mailgun", json, &[], &tampered).await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["error"], "invalid_signature", "{answer}");

    let (status, answer) = post(&router, "/mailgun", json, &[], event).await;
    assert_eq!(status, 401, "an unsigned body: {answer}");
    assert_eq!(answer["error"], "missing_signature", "{answer}");
    assert_eq!(downstream.count(), 1);
}

#[test]
fn bad_public_url_form_source_and_custom_scheme_are_reported_with_their_place() {
    let text = r#"
server:
  trust_forwarded_headers: yes please
targets:
  sink:
    url: http://127.0.0.1:1/sink
endpoints:
  - path: /a
    public_url: ftp://hooks.example.com/a
    verify:
      provider: twilio
      secrets: [{ env: TOKEN }]
    event: { id: "form:" }
    rules: [{ name: all, forward: [sink] }]
  - path: /b
    public_url: https://hooks.example.com/b?x=1
    verify:
      provider: square
      secrets: [{ env: TOKEN }]
    rules: [{ name: all, forward: [sink] }]
  - path: /c
    verify:
      algorithm: ecdsa-p256-sha256
      signature: { from: "json:$.sig[*]" }
      timestamp: { from: "cookie:ts" }
      body_digest: { from: "json:$.digest" }
      payload: "{url}{form:}"
      secrets: [{ env: TOKEN }]
    event: { id: "json:$.id" }
    rules: [{ name: all, forward: [sink] }]
"#;
    let env = MapEnvironment::default().with("TOKEN", "t");
    let errors = hookroute::config::load_str(text, std::path::Path::new("."), &env).unwrap_err();
    let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    let find = |path: &str, needle: &str| {
        assert!(
            errors
                .iter()
                .any(|e| e.path == path && e.to_string().contains(needle)),
            "no error at {path} containing {needle:?} in:\n{}",
            shown.join("\n")
        )
    };
    find("server.trust_forwarded_headers", "bool");
    find("endpoints[0].public_url", "http:// or https://");
    find("endpoints[0].event.id", "form field name");
    find("endpoints[1].public_url", "leave the query");
    find("endpoints[2].verify.signature.from", "single value");
    find("endpoints[2].verify.timestamp.from", "kv:LABEL");
    find("endpoints[2].verify.body_digest.from", "query:NAME");
    find("endpoints[2].verify.payload", "form field name");
    let with_line = errors
        .iter()
        .find(|e| e.path == "endpoints[1].public_url")
        .unwrap();
    assert!(with_line.to_string().contains("line 16"), "{with_line}");
}

#[test]
fn a_url_signing_scheme_without_public_url_gets_a_warning_not_an_error() {
    let text = r#"
targets:
  sink:
    url: http://127.0.0.1:1/sink
endpoints:
  - path: /sq
    verify:
      provider: square
      secrets: [{ env: TOKEN }]
    rules: [{ name: all, forward: [sink] }]
"#;
    let env = MapEnvironment::default().with("TOKEN", "t");
    let config = hookroute::config::load_str(text, std::path::Path::new("."), &env).unwrap();
    assert!(
        config
            .warnings
            .iter()
            .any(|w| w.path == "endpoints[0].public_url"),
        "{:?}",
        config.warnings
    );
}
