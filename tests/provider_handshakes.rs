//! Handshakes of presets added with the provider catalogue (issue 20), answered by the real
//! server: LINE's console "Verify" post (signed, `events: []`) gets 200 and is never stored,
//! only when its signature holds; a real LINE event on the same endpoint is accepted.

mod common;

use base64::Engine as _;
use common::*;
use hmac::{KeyInit, Mac};

const LINE_CHANNEL_SECRET: &str = "8c570fa6dd201bb328f1c1eac23a96d8";

fn config() -> String {
    r#"
targets:
  sink:
    url: http://127.0.0.1:9/hook
endpoints:
  - path: /line
    name: line
    verify:
      provider: line
      secrets: [{ env: LINE_CHANNEL_SECRET }]
    rules: [{ name: all, forward: [sink] }]
"#
    .to_string()
}

/// LINE's `x-line-signature`: base64 HMAC-SHA256 of the body under the channel secret, computed
/// here as LINE's SDK does (`@line/bot-sdk` `validateSignature`).
fn line_signature(body: &[u8]) -> String {
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(LINE_CHANNEL_SECRET.as_bytes())
            .unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

async fn post(r: &TestRouter, body: &[u8], signature: &str) -> (u16, String) {
    let resp = r
        .client
        .post(format!("{}/line", r.base))
        .header("content-type", "application/json")
        .header("x-line-signature", signature)
        .body(body.to_vec())
        .send()
        .await
        .expect("request sent");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

#[actix_web::test]
async fn line_verify_post_is_answered_200_after_its_signature_and_never_stored() {
    let env = hookroute::config::MapEnvironment::default()
        .with("LINE_CHANNEL_SECRET", LINE_CHANNEL_SECRET);
    let r = TestRouter::start(&config(), env).await;

    let verify = br#"{"destination":"Uxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","events":[]}"#;
    let (status, body) = post(&r, verify, &line_signature(verify)).await;
    assert_eq!((status, body.as_str()), (200, "{}"));
    assert_eq!(
        common::event_count(&r.store).await,
        0,
        "a handshake is never stored"
    );

    let forged = line_signature(b"something else");
    let (status, _) = post(&r, verify, &forged).await;
    assert_eq!(
        status, 401,
        "a verify post with a wrong signature gets the normal refusal"
    );

    let event = br#"{"destination":"Uxxx","events":[{"type":"message","webhookEventId":"01FZ74A0TDDPYRVKNK77XKC3ZR","message":{"type":"text","id":"1","text":"hi"}}]}"#;
    let (status, body) = post(&r, event, &line_signature(event)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("01FZ74A0TDDPYRVKNK77XKC3ZR"), "{body}");
    assert_eq!(common::event_count(&r.store).await, 1);
}
