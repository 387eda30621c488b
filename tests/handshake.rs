//! Provider handshakes answered by the real server: Slack `url_verification`, Zoom
//! `endpoint.url_validation`, Discord PING and Meta's `GET ?hub.mode=subscribe`, each with its
//! exact body and content type, only when the signature (or verify token) holds, never stored;
//! normal events on the same endpoints still go through to a loopback downstream. Also the
//! config side: defaults, `handshake: false`, a handshake written by hand, and precise errors.

mod common;

use common::*;
use ed25519_dalek::{Signer, SigningKey};
use hmac::{KeyInit, Mac};
use hookroute::config::{load_str, MapEnvironment};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const ZOOM_SECRET: &str = "zoom-secret-token-123";
const META_TOKEN: &str = "meta-verify-token-xyz";
const META_APP_SECRET: &str = "meta-app-secret";

/// A fixed Ed25519 keypair standing in for a Discord application's.
fn discord_key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

fn env() -> MapEnvironment {
    MapEnvironment::default()
        .with("SLACK_SIGNING_SECRET", SLACK_SECRET)
        .with("ZOOM_SECRET_TOKEN", ZOOM_SECRET)
        .with(
            "DISCORD_PUBLIC_KEY",
            &hex::encode(discord_key().verifying_key().to_bytes()),
        )
        .with("META_APP_SECRET", META_APP_SECRET)
        .with("META_VERIFY_TOKEN", META_TOKEN)
}

/// Four endpoints, one per provider, all forwarding every event to `sink`.
fn config(sink_url: &str) -> String {
    format!(
        r#"
targets:
  sink:
    url: {sink_url}/hook
    retry: {{ max_attempts: 2, initial_delay: 50ms, max_delay: 100ms, max_age: 1h }}
endpoints:
  - path: /slack
    name: slack
    verify:
      provider: slack
      secrets: [{{ env: SLACK_SIGNING_SECRET }}]
    rules: [{{ name: all, forward: [sink] }}]
  - path: /zoom
    name: zoom
    verify:
      provider: zoom
      secrets: [{{ env: ZOOM_SECRET_TOKEN }}]
    event: {{ id: "json:$.payload.object.uuid" }}
    rules: [{{ name: all, forward: [sink] }}]
  - path: /discord
    name: discord
    verify:
      provider: discord
      secrets: [{{ env: DISCORD_PUBLIC_KEY }}]
    rules: [{{ name: all, forward: [sink] }}]
  - path: /meta
    name: meta
    verify:
      provider: github            # Meta signs like GitHub: X-Hub-Signature-256: sha256=<hex>
      secrets: [{{ env: META_APP_SECRET }}]
    event: {{ id: "json:$.entry[0].id", type: "json:$.object" }}
    handshake: {{ builtin: meta, verify_token_env: META_VERIFY_TOKEN }}
    rules: [{{ name: all, forward: [sink] }}]
"#
    )
}

async fn router() -> (TestRouter, Downstream) {
    let sink = Downstream::start(vec![Reply::status(200)]);
    let router = TestRouter::start(&config(&sink.url), env()).await;
    (router, sink)
}

/// An HTTP answer as received: status, content type and the exact body bytes.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

async fn send(req: reqwest::RequestBuilder) -> Answer {
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = resp.text().await.unwrap();
    Answer {
        status,
        content_type,
        body,
    }
}

async fn post(r: &TestRouter, path: &str, body: &[u8], headers: &[(String, String)]) -> Answer {
    let mut req = r
        .client
        .post(format!("{}{path}", r.base))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    send(req).await
}

async fn get(r: &TestRouter, path_and_query: &str) -> Answer {
    send(r.client.get(format!("{}{path_and_query}", r.base))).await
}

/// Discord's signature, computed here with ed25519-dalek: Ed25519 over `timestamp + body`.
fn discord_headers(body: &[u8], key: &SigningKey) -> Vec<(String, String)> {
    let ts = now_secs().to_string();
    let mut message = ts.as_bytes().to_vec();
    message.extend_from_slice(body);
    vec![
        (
            "X-Signature-Ed25519".into(),
            hex::encode(key.sign(&message).to_bytes()),
        ),
        ("X-Signature-Timestamp".into(), ts),
    ]
}

/// The same headers with the signature's first byte changed.
fn tampered(mut headers: Vec<(String, String)>, signature_header: &str) -> Vec<(String, String)> {
    let (_, value) = headers
        .iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case(signature_header))
        .expect("signature header present");
    let digit = value.find(|c: char| c.is_ascii_hexdigit()).unwrap();
    let flipped = if &value[digit..digit + 1] == "0" {
        "1"
    } else {
        "0"
    };
    value.replace_range(digit..digit + 1, flipped);
    headers
}

fn hmac_sha256_hex(key: &str, data: &str) -> String {
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

async fn delivered(sink: &Downstream, n: usize) -> Vec<Received> {
    eventually(Duration::from_secs(10), "deliveries to the sink", || {
        let got = sink.received();
        (got.len() >= n).then_some(got)
    })
    .await
}

#[actix_web::test]
async fn slack_url_verification_is_answered_after_the_signature_and_never_stored() {
    let (r, sink) = router().await;
    let challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P";
    let body = format!(
        r#"{{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"{challenge}","type":"url_verification"}}"#
    );
    let headers = r.sign("/slack", body.as_bytes(), "");

    let answer = post(&r, "/slack", body.as_bytes(), &headers).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.content_type, "application/json");
    assert_eq!(answer.body, format!(r#"{{"challenge":"{challenge}"}}"#));

    let forged = post(
        &r,
        "/slack",
        body.as_bytes(),
        &tampered(headers, "X-Slack-Signature"),
    )
    .await;
    assert_eq!(forged.status, 401, "{forged:?}");
    assert_eq!(forged.json()["error"], "invalid_signature");
    assert!(!forged.body.contains(challenge), "{forged:?}");
    let unsigned = post(&r, "/slack", body.as_bytes(), &[]).await;
    assert_eq!(unsigned.status, 401, "{unsigned:?}");
    assert!(!unsigned.body.contains(challenge));
    assert_eq!(
        common::event_count(&r.store).await,
        0,
        "a handshake is never stored"
    );

    // A normal event on the same endpoint goes through the pipeline and is delivered.
    let event = br#"{"type":"event_callback","event_id":"Ev123","event":{"type":"app_mention"}}"#;
    let (status, accepted) = r.post_signed("/slack", event, "").await;
    assert_eq!(
        (status, accepted),
        (
            200,
            json!({"status": "accepted", "event_id": "Ev123", "deliveries": 1})
        )
    );
    let got = delivered(&sink, 1).await;
    assert_eq!(got.len(), 1, "only the event reaches the sink");
    assert_eq!(got[0].body, event.to_vec());
    assert_eq!(common::event_count(&r.store).await, 1);
}

#[actix_web::test]
async fn zoom_url_validation_answers_the_hmac_of_the_plain_token_under_the_secret_token() {
    let (r, sink) = router().await;
    let plain = "qgg8vlvZRS6UYooatFL8Aw";
    let body = format!(
        r#"{{"payload":{{"plainToken":"{plain}"}},"event_ts":1654503849680,"event":"endpoint.url_validation"}}"#
    );
    let headers = r.sign("/zoom", body.as_bytes(), "");
    assert!(headers.iter().any(|(k, _)| k == "x-zm-signature"));

    let answer = post(&r, "/zoom", body.as_bytes(), &headers).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.content_type, "application/json");
    assert_eq!(
        answer.json(),
        json!({"plainToken": plain, "encryptedToken": hmac_sha256_hex(ZOOM_SECRET, plain)})
    );
    assert_eq!(answer.json().as_object().unwrap().len(), 2);

    let forged = post(
        &r,
        "/zoom",
        body.as_bytes(),
        &tampered(headers, "x-zm-signature"),
    )
    .await;
    assert_eq!(forged.status, 401, "{forged:?}");
    assert!(!forged.body.contains("encryptedToken"));
    assert_eq!(common::event_count(&r.store).await, 0);

    let event = br#"{"event":"meeting.started","payload":{"object":{"uuid":"m-1"}}}"#;
    let (status, accepted) = r.post_signed("/zoom", event, "").await;
    assert_eq!((status, &accepted["status"]), (200, &json!("accepted")));
    assert_eq!(delivered(&sink, 1).await[0].body, event.to_vec());
}

#[actix_web::test]
async fn discord_ping_is_answered_with_type_1_only_when_the_ed25519_signature_holds() {
    let (r, sink) = router().await;
    let ping = br#"{"id":"1100","application_id":"42","type":1,"version":1}"#;
    let key = discord_key();

    let answer = post(&r, "/discord", ping, &discord_headers(ping, &key)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.content_type, "application/json");
    assert_eq!(answer.body, r#"{"type":1}"#);

    // Signed with another key: Discord's own check sends exactly this, and expects a 401.
    let other = SigningKey::from_bytes(&[9u8; 32]);
    let forged = post(&r, "/discord", ping, &discord_headers(ping, &other)).await;
    assert_eq!(forged.status, 401, "{forged:?}");
    assert_ne!(forged.body, r#"{"type":1}"#);
    assert_eq!(common::event_count(&r.store).await, 0);

    let command = br#"{"id":"1101","application_id":"42","type":2,"data":{"name":"hi"}}"#;
    let accepted = post(&r, "/discord", command, &discord_headers(command, &key)).await;
    assert_eq!(
        accepted.json(),
        json!({"status": "accepted", "event_id": "1101", "deliveries": 1})
    );
    assert_eq!(delivered(&sink, 1).await[0].body, command.to_vec());
}

#[actix_web::test]
async fn meta_subscribe_echoes_the_challenge_only_for_the_right_verify_token() {
    let (r, sink) = router().await;
    let answer = get(
        &r,
        &format!("/meta?hub.mode=subscribe&hub.verify_token={META_TOKEN}&hub.challenge=1158201444"),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.content_type, "text/plain");
    assert_eq!(answer.body, "1158201444");

    // Query values are URL-decoded before they are compared and echoed.
    let answer = get(
        &r,
        "/meta?hub.mode=subscribe&hub.verify_token=meta-verify-token-xyz&hub.challenge=a%20b%2Bc",
    )
    .await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "a b+c"));

    for wrong in [
        "wrong",
        "",
        "meta-verify-token-xy",
        "meta-verify-token-xyzz",
    ] {
        let refused = get(
            &r,
            &format!("/meta?hub.mode=subscribe&hub.verify_token={wrong}&hub.challenge=1158201444"),
        )
        .await;
        assert_eq!(refused.status, 403, "{wrong:?}: {refused:?}");
        assert_eq!(refused.json()["error"], "invalid_verify_token");
        assert!(!refused.body.contains("1158201444"));
    }
    let no_token = get(&r, "/meta?hub.mode=subscribe&hub.challenge=1158201444").await;
    assert_eq!(no_token.status, 403, "{no_token:?}");

    // A GET that is not the handshake gets a clear JSON 4xx, not the challenge.
    let other = get(&r, "/meta?hub.mode=unsubscribe&hub.challenge=1").await;
    assert_eq!(other.status, 400, "{other:?}");
    assert_eq!(other.json()["error"], "not_a_handshake");
    assert!(
        other.json()["message"]
            .as_str()
            .unwrap()
            .contains("hub.mode=subscribe"),
        "{other:?}"
    );
    let no_challenge = get(
        &r,
        &format!("/meta?hub.mode=subscribe&hub.verify_token={META_TOKEN}"),
    )
    .await;
    assert_eq!(no_challenge.status, 400, "{no_challenge:?}");
    assert_eq!(no_challenge.json()["error"], "invalid_handshake");

    // Endpoints without a GET handshake still refuse GET with 405.
    assert_eq!(get(&r, "/slack?hub.mode=subscribe").await.status, 405);
    assert_eq!(common::event_count(&r.store).await, 0);

    // Signed POSTs on the Meta endpoint are ordinary events.
    let event = br#"{"object":"page","entry":[{"id":"e-77","time":1}]}"#;
    let (status, accepted) = r.post_signed("/meta", event, "").await;
    assert_eq!((status, &accepted["event_id"]), (200, &json!("e-77")));
    assert_eq!(delivered(&sink, 1).await[0].body, event.to_vec());
}

#[actix_web::test]
async fn a_signed_handshake_missing_its_value_is_refused_with_a_json_400() {
    let (r, _sink) = router().await;
    let body = br#"{"type":"url_verification"}"#;
    let headers = r.sign("/slack", body, "");
    let answer = post(&r, "/slack", body, &headers).await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(answer.json()["error"], "invalid_handshake");
    assert!(answer.body.contains("json:$.challenge"), "{answer:?}");
    assert_eq!(common::event_count(&r.store).await, 0);
}

#[actix_web::test]
async fn handshake_false_turns_the_default_off_and_a_hand_written_one_is_answered() {
    let sink = Downstream::start(vec![Reply::status(200)]);
    let yaml = format!(
        r#"
targets:
  sink: {{ url: "{}/hook" }}
endpoints:
  - path: /slack-raw
    verify: {{ provider: slack, secrets: [{{ env: SLACK_SIGNING_SECRET }}] }}
    handshake: false
    unmatched: reject
    rules: [{{ name: all, forward: [sink] }}]
  - path: /custom
    verify:
      algorithm: hmac-sha256
      signature: {{ from: "header:X-Signature", prefix: "x-sha256=", encoding: hex }}
      secrets: [{{ env: SLACK_SIGNING_SECRET }}]
    event: {{ id: "json:$.id" }}
    handshake:
      when: {{ json: {{ "$.kind": ping, "$.version": 2 }} }}
      respond:
        status: 202
        content_type: text/plain; charset=utf-8
        body: "pong {{json:$.nonce}} {{hmac-sha256:base64:json:$.nonce}}"
    rules: [{{ name: all, forward: [sink] }}]
"#,
        sink.url
    );
    let r = TestRouter::start(&yaml, env()).await;

    // With the default off, Slack's check is an ordinary event: it has no event_id.
    let body = br#"{"type":"url_verification","challenge":"c-1"}"#;
    let headers = r.sign("/slack-raw", body, "");
    let answer = post(&r, "/slack-raw", body, &headers).await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(answer.json()["error"], "missing_event_id");

    let ping = br#"{"kind":"ping","version":2,"nonce":"n-5"}"#;
    let headers = r.sign("/custom", ping, "");
    let answer = post(&r, "/custom", ping, &headers).await;
    assert_eq!(answer.status, 202, "{answer:?}");
    assert_eq!(answer.content_type, "text/plain; charset=utf-8");
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(SLACK_SECRET.as_bytes()).unwrap();
    mac.update(b"n-5");
    use base64::Engine;
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(answer.body, format!("pong n-5 {expected}"));

    // Only when every condition holds: version 1 is an ordinary event.
    let event = br#"{"kind":"ping","version":1,"nonce":"n-6","id":"ev-6"}"#;
    let (status, accepted) = r.post_signed("/custom", event, "").await;
    assert_eq!((status, &accepted["status"]), (200, &json!("accepted")));
    assert_eq!(delivered(&sink, 1).await[0].body, event.to_vec());
    assert_eq!(common::event_count(&r.store).await, 1);
}

#[test]
fn handshake_config_errors_name_their_place_in_the_file() {
    let yaml = r#"
targets:
  t: { url: "http://127.0.0.1:9/x" }
endpoints:
  - path: /a
    verify: { provider: github, secrets: [{ env: META_APP_SECRET }] }
    handshake: metaa
    rules: [{ name: r, forward: [t] }]
  - path: /b
    verify: { provider: github, secrets: [{ env: META_APP_SECRET }] }
    handshake: meta
    rules: [{ name: r, forward: [t] }]
  - path: /c
    verify: { provider: github, secrets: [{ env: META_APP_SECRET }] }
    handshake: { builtin: meta, verify_token_env: NOT_SET_ANYWHERE }
    rules: [{ name: r, forward: [t] }]
  - path: /d
    verify: { provider: discord, secrets: [{ env: DISCORD_PUBLIC_KEY }] }
    handshake:
      builtin: zoom
      respond: { status: 302 }
    rules: [{ name: r, forward: [t] }]
  - path: /e
    verify: { provider: github, secrets: [{ env: META_APP_SECRET }] }
    handshake:
      method: GET
      when: { json: { "$.x": 1 } }
      respond: { body: "{json:$.x}", colour: red }
    rules: [{ name: r, forward: [t] }]
  - path: /f
    verify: { provider: slack, secrets: [{ env: SLACK_SIGNING_SECRET }] }
    handshake: { verify_token_env: META_VERIFY_TOKEN }
    rules: [{ name: r, forward: [t] }]
"#;
    let errors = load_str(yaml, Path::new("."), &env()).unwrap_err();
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    let find = |needle: &str| {
        text.iter()
            .find(|e| e.contains(needle))
            .unwrap_or_else(|| panic!("no error with {needle:?} in {text:#?}"))
            .clone()
    };
    assert_eq!(
        find("unknown handshake"),
        "endpoints[0].handshake (line 7, column 5): unknown handshake \"metaa\", expected one of: discord, line, meta, slack, zoom"
    );
    assert!(
        find("endpoints[1].handshake").contains("add `verify_token_env: VAR_NAME`"),
        "{text:#?}"
    );
    assert!(find("endpoints[1].handshake").contains("(line 11, column 5)"));
    assert_eq!(
        find("NOT_SET_ANYWHERE"),
        "endpoints[2].handshake.verify_token_env (line 15, column 33): environment variable NOT_SET_ANYWHERE is not set"
    );
    assert!(find("endpoints[3].handshake.respond.status").contains("expected a 2xx status"));
    assert!(find("ed25519 public keys").starts_with("endpoints[3].handshake.respond.json"));
    assert!(find("colour").starts_with("endpoints[4].handshake.respond.colour"));
    assert!(find("endpoints[5].handshake.verify_token_env").contains("reads no verify token"));
    assert_eq!(errors.len(), 7, "{text:#?}");
}

#[test]
fn a_get_handshake_must_read_the_query_and_a_post_one_the_body() {
    let yaml = r#"
targets:
  t: { url: "http://127.0.0.1:9/x" }
endpoints:
  - path: /e
    verify: { provider: github, secrets: [{ env: META_APP_SECRET }] }
    handshake:
      method: GET
      when: { json: { "$.x": 1 } }
      respond: { body: "{json:$.x}" }
    rules: [{ name: r, forward: [t] }]
  - path: /p
    verify: { provider: github, secrets: [{ env: META_APP_SECRET }] }
    handshake:
      when: {}
      respond: { json: { a: "{query:x}" }, body: "b" }
    rules: [{ name: r, forward: [t] }]
"#;
    let errors = load_str(yaml, Path::new("."), &env()).unwrap_err();
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    let has = |path: &str, needle: &str| {
        assert!(
            text.iter()
                .any(|e| e.starts_with(path) && e.contains(needle)),
            "no {path} error with {needle:?} in {text:#?}"
        )
    };
    has(
        "endpoints[0].handshake.when.json",
        "a GET handshake has no body",
    );
    has("endpoints[0].handshake.respond.body", "not json:$.x");
    has(
        "endpoints[1].handshake.when",
        "expected at least one condition",
    );
    has("endpoints[1].handshake.respond", "exactly one of");
}

#[test]
fn provider_defaults_and_check_output_show_each_handshake() {
    let config = load_str(&config("http://127.0.0.1:9"), Path::new("."), &env()).unwrap();
    let described: Vec<(String, Option<String>)> = config
        .endpoints
        .iter()
        .map(|e| (e.path.clone(), e.handshake.as_ref().map(|h| h.describe())))
        .collect();
    assert_eq!(
        described,
        vec![
            (
                "/slack".into(),
                Some(r#"slack: POST when $.type = "url_verification""#.into())
            ),
            (
                "/zoom".into(),
                Some(r#"zoom: POST when $.event = "endpoint.url_validation""#.into())
            ),
            (
                "/discord".into(),
                Some("discord: POST when $.type = 1".into())
            ),
            (
                "/meta".into(),
                Some(
                    "meta: GET when hub.mode=subscribe, verify token query:hub.verify_token".into()
                )
            ),
        ]
    );
    let summary = hookroute::check::summary(&config);
    assert!(summary.contains("HANDSHAKES"), "{summary}");
    assert!(
        summary.contains("/discord  discord: POST when $.type = 1"),
        "{summary}"
    );
}

#[actix_web::test]
async fn the_real_binary_answers_handshakes_check_lists_them_and_a_reload_turns_one_off() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    let yaml = format!(
        "server:\n  listen: 127.0.0.1:0\nstorage:\n  data_dir: {}\nadmin:\n  listen: 'off'\n{}",
        dir.path().join("data").display(),
        config("http://127.0.0.1:9")
    );
    std::fs::write(&path, &yaml).unwrap();
    let vars = [
        ("SLACK_SIGNING_SECRET", SLACK_SECRET.to_string()),
        ("ZOOM_SECRET_TOKEN", ZOOM_SECRET.to_string()),
        (
            "DISCORD_PUBLIC_KEY",
            hex::encode(discord_key().verifying_key().to_bytes()),
        ),
        ("META_APP_SECRET", META_APP_SECRET.to_string()),
        ("META_VERIFY_TOKEN", META_TOKEN.to_string()),
    ];
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let check = hookroute(&["check", "--config", path.to_str().unwrap()], &vars).await;
    assert_eq!(check.code, Some(0), "{check:?}");
    assert!(check.stdout.contains("HANDSHAKES"), "{}", check.stdout);
    assert!(
        check.stdout.contains(
            "/meta     meta: GET when hub.mode=subscribe, verify token query:hub.verify_token"
        ),
        "{}",
        check.stdout
    );

    let router = RouterProcess::start(&path, &vars);
    let client = reqwest::Client::new();
    let answer = send(client.get(router.url(&format!(
        "/meta?hub.mode=subscribe&hub.verify_token={META_TOKEN}&hub.challenge=987654"
    ))))
    .await;
    assert_eq!(
        (
            answer.status,
            answer.content_type.as_str(),
            answer.body.as_str()
        ),
        (200, "text/plain", "987654")
    );

    let loaded = hookroute::config::load(&path, &env()).unwrap();
    let body = br#"{"type":"url_verification","challenge":"from-the-binary"}"#;
    let mut req = client
        .post(router.url("/slack"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (k, v) in sign(&loaded, "/slack", body, "") {
        req = req.header(k, v);
    }
    let answer = send(req).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body, r#"{"challenge":"from-the-binary"}"#);
    router
        .wait_for_log("answered handshake", 2, Duration::from_secs(5))
        .await;

    // A hot reload turns Slack's handshake off: the same check is then an ordinary event,
    // refused for its missing event id.
    let off = yaml.replace(
        "    name: slack\n",
        "    name: slack\n    handshake: false\n",
    );
    assert_ne!(off, yaml);
    write_by_rename(&path, &off);
    router
        .wait_for_log("endpoints ~/slack", 1, Duration::from_secs(10))
        .await;
    let mut req = client
        .post(router.url("/slack"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (k, v) in sign(&loaded, "/slack", body, "") {
        req = req.header(k, v);
    }
    let answer = send(req).await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(answer.json()["error"], "missing_event_id");
}

#[test]
fn the_example_in_docs_handshakes_md_loads_and_declares_three_handshakes() {
    let doc = std::fs::read_to_string(repo_file("docs/handshakes.md")).unwrap();
    let start = doc.find("```yaml\n").expect("a yaml block") + 8;
    let block = &doc[start..start + doc[start..].find("```").unwrap()];
    let yaml = format!(
        "targets:\n  slack-bot: {{ url: \"http://127.0.0.1:9/a\" }}\n  meta-service: {{ url: \"http://127.0.0.1:9/b\" }}\n  custom-service: {{ url: \"http://127.0.0.1:9/c\" }}\n{block}"
    );
    let env = env().with("CUSTOM_SECRET", "c");
    let config = load_str(&yaml, Path::new("."), &env).unwrap_or_else(|e| panic!("{e:#?}"));
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    let names: Vec<Option<&str>> = config
        .endpoints
        .iter()
        .map(|e| e.handshake.as_ref().map(|h| h.name.as_str()))
        .collect();
    assert_eq!(names, [Some("slack"), Some("meta"), Some("custom")]);
}
