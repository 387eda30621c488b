//! The test-loop commands, end to end: `hookroute sign` output (and the `--curl` command it
//! prints) accepted by a real router for every preset while a flipped body byte is refused,
//! `hookroute send` against the real binary, and `hookroute explain` on matching, non-matching
//! and badly signed samples.

mod common;

use common::*;
use hookroute::config::MapEnvironment;
use hookroute::signature::{self, preset_names};
use hookroute::tools::signer::{SignOptions, Signer};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// Where the event id goes when a preset names no source (zoom, lemonsqueezy).
const FALLBACK_ID_PATH: &str = "sample_id";

fn set_json_path(root: &mut Value, path: &str, value: &str) {
    let mut node = root;
    let keys: Vec<&str> = path.split('.').collect();
    for (i, key) in keys.iter().enumerate() {
        let map = node
            .as_object_mut()
            .expect("sample paths go through objects");
        if i + 1 == keys.len() {
            map.insert(key.to_string(), json!(value));
            return;
        }
        node = map.entry(key.to_string()).or_insert_with(|| json!({}));
    }
}

/// A JSON body carrying the event id and type where `preset` reads them from the body.
fn sample_body(preset: &str, id: &str, event_type: &str) -> Vec<u8> {
    // Providers whose id and type sit deeper than `$.a.b`: their own body shapes.
    let shaped = match preset {
        // The signer adds Mailgun's `signature` object (timestamp, token = the id, signature).
        "mailgun" => Some(json!({ "event-data": { "id": id, "event": event_type } })),
        "sendgrid" => Some(json!([{ "sg_event_id": id, "event": event_type, "email": "a@b.c" }])),
        "adyen" => Some(json!({
            "live": "false",
            "notificationItems": [{ "NotificationRequestItem": {
                "pspReference": id,
                "originalReference": "",
                "merchantAccountCode": "DemoAccount",
                "merchantReference": "order-1",
                "amount": { "value": 1000, "currency": "EUR" },
                "eventCode": event_type,
                "success": "true",
                "additionalData": {}
            }}]
        })),
        // Batches whose first event stands for the post.
        "gocardless" => Some(json!({
            "events": [{ "id": "EV1", "resource_type": event_type, "action": "created" }],
            "meta": { "webhook_id": id }
        })),
        "hubspot" => Some(json!([{ "eventId": id, "subscriptionType": event_type }])),
        "line" => Some(json!({
            "destination": "U1",
            "events": [{ "type": event_type, "webhookEventId": id }]
        })),
        "pusher" => Some(json!({
            "time_ms": 1,
            "events": [{ "name": event_type, "channel": "c" }],
            FALLBACK_ID_PATH: id
        })),
        _ => None,
    };
    if let Some(body) = shaped {
        return serde_json::to_vec(&body).unwrap();
    }
    let preset = signature::preset(preset).unwrap();
    let mut body = json!({ "sample": "hello from hookroute sign", FALLBACK_ID_PATH: id });
    for (spec, value) in [(&preset.event_id, id), (&preset.event_type, event_type)] {
        if let Some(path) = spec.as_deref().and_then(|s| s.strip_prefix("json:$.")) {
            set_json_path(&mut body, path, value);
        }
    }
    serde_json::to_vec(&body).unwrap()
}

/// One endpoint `/p/NAME` per preset, each with its secret in `SECRET_<i>`, all forwarding
/// to `sink`.
fn preset_endpoints(presets: &[(&str, String)]) -> String {
    let mut yaml = String::from("endpoints:\n");
    for (i, (name, _)) in presets.iter().enumerate() {
        yaml.push_str(&format!(
            "  - path: /p/{name}\n    verify:\n      provider: {name}\n      secrets:\n        - env: SECRET_{i}\n"
        ));
        if signature::preset(name).unwrap().event_id.is_none() {
            yaml.push_str(&format!(
                "    event: {{ id: \"json:$.{FALLBACK_ID_PATH}\" }}\n"
            ));
        }
        yaml.push_str("    rules:\n      - name: all\n        forward: [sink]\n");
    }
    yaml
}

fn env_of(presets: &[(&str, String)]) -> MapEnvironment {
    presets
        .iter()
        .enumerate()
        .fold(MapEnvironment::default(), |env, (i, (_, secret))| {
            env.with(&format!("SECRET_{i}"), secret)
        })
}

fn flip_a_byte(body: &[u8]) -> Vec<u8> {
    let mut flipped = body.to_vec();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    flipped
}

/// The body with one byte changed inside the LAST copy of the id, which every scheme signs:
/// the whole body for most, the item fields for Adyen, and for Mailgun the `signature.token`
/// the signer set to the id (Mailgun signs only its timestamp and token, not `event-data`;
/// that key sorts first). In the middle when the body does not carry the id.
fn flip_a_signed_byte(body: &[u8], id: &str) -> Vec<u8> {
    let Some(at) = String::from_utf8_lossy(body).rfind(id) else {
        return flip_a_byte(body);
    };
    let mut flipped = body.to_vec();
    flipped[at + id.len() - 1] ^= 0x01;
    flipped
}

/// `Name: value` lines as `hookroute sign` prints them.
fn header_lines(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .map(|line| {
            let (name, value) = line.split_once(": ").expect("a `Name: value` line");
            (name.to_string(), value.to_string())
        })
        .collect()
}

#[actix_web::test]
async fn every_preset_round_trips_through_the_router_and_a_flipped_byte_is_refused() {
    let mut failures: Vec<(String, String)> = Vec::new();
    // Signing and verifying secrets per preset, from the signing interface itself.
    let mut usable: Vec<(&str, String, String)> = Vec::new();
    for name in preset_names() {
        let scheme =
            signature::scheme_from_value(signature::preset(name).unwrap().scheme.clone()).unwrap();
        let keys = scheme.generate_signing_secret().and_then(|signing| {
            let verifying = scheme.verifying_secret_text(&signing)?;
            Ok((signing, verifying))
        });
        match keys {
            Ok((signing, verifying)) => usable.push((name, signing, verifying)),
            Err(e) => failures.push((name.to_string(), format!("no key pair: {e}"))),
        }
    }
    let verifying: Vec<(&str, String)> = usable
        .iter()
        .map(|(name, _, verifying)| (*name, verifying.clone()))
        .collect();
    let sink = Downstream::start(vec![Reply::status(200)]);
    let body = format!(
        "targets:\n  sink:\n    url: {}/sink\n{}",
        sink.url,
        preset_endpoints(&verifying)
    );
    let router = TestRouter::start(&body, env_of(&verifying)).await;
    let mut accepted = 0;
    for (name, signing, _) in &usable {
        let path = format!("/p/{name}");
        let id = format!("evt_{}", name.replace('-', "_"));
        let body = sample_body(name, &id, "demo.created");
        let signer = Signer::from_provider(name)
            .and_then(|s| s.with_secret_text(signing))
            .unwrap();
        let options = SignOptions {
            id: id.clone(),
            event_type: Some("demo.created".into()),
            now_unix_secs: now_secs(),
            url: Some(format!("{}{path}", router.base)),
        };
        let signed = match signer.sign(&body, &options) {
            Ok(signed) => signed,
            Err(e) => {
                failures.push((name.to_string(), format!("sign: {e}")));
                continue;
            }
        };
        let message = &signed.message;
        // Schemes that sign the URL may add to it (twilio-json's bodySHA256): post where signed.
        let target = match &message.url {
            Some(url) => url.strip_prefix(&router.base).unwrap_or(&path).to_string(),
            None => path.clone(),
        };
        let path = target;
        let (status, answer) = router.post(&path, &message.body, &message.headers).await;
        if status != 200 || answer["status"] != "accepted" {
            failures.push((
                name.to_string(),
                format!("signed request answered {status} {answer}"),
            ));
            continue;
        }
        accepted += 1;
        let flipped = flip_a_signed_byte(&message.body, &id);
        let scheme =
            signature::scheme_from_value(signature::preset(name).unwrap().scheme.clone()).unwrap();
        let covers_body = scheme.algorithm() != signature::RawAlgorithm::TokenEquals;
        let (what, status, answer) = if covers_body {
            let (status, answer) = router.post(&path, &flipped, &message.headers).await;
            ("a flipped body byte", status, answer)
        } else {
            // A shared token (GitLab) proves who sent, not what: a wrong token must fail.
            let other_secret = scheme.generate_signing_secret().unwrap();
            assert_ne!(&other_secret, signing);
            let other = Signer::from_provider(name)
                .and_then(|s| s.with_secret_text(&other_secret))
                .unwrap();
            let wrong = other.sign(&body, &options).unwrap().message;
            let (status, answer) = router.post(&path, &wrong.body, &wrong.headers).await;
            ("a wrong secret", status, answer)
        };
        if status != 401 {
            failures.push((
                name.to_string(),
                format!("{what} answered {status} {answer}, not 401"),
            ));
        }
    }
    // Accepted means delivered: the sink sees each accepted event once.
    eventually(
        Duration::from_secs(20),
        "every accepted event delivered",
        || (sink.count() >= accepted).then_some(()),
    )
    .await;

    assert!(
        failures.is_empty(),
        "presets whose round trip fails: {failures:#?}"
    );
    assert_eq!(accepted, preset_names().len());
}

/// An Ed25519 key pair in Standard Webhooks' text forms: `whsk_` keypair, `whpk_` public key.
fn standard_webhooks_ed25519_keys() -> (String, String) {
    use base64::Engine as _;
    let key = ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    let b64 = base64::engine::general_purpose::STANDARD;
    (
        format!("whsk_{}", b64.encode(key.to_keypair_bytes())),
        format!("whpk_{}", b64.encode(key.verifying_key().to_bytes())),
    )
}

#[actix_web::test]
async fn sign_output_from_the_binary_is_accepted_and_a_flipped_byte_refused() {
    let (ed_signing, ed_verifying) = standard_webhooks_ed25519_keys();
    let presets: Vec<(&str, String, String)> = vec![
        (
            "stripe",
            "whsec_cli_stripe".into(),
            "whsec_cli_stripe".into(),
        ),
        ("github", "cli-github".into(), "cli-github".into()),
        (
            "standard-webhooks",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        ),
        ("slack", "cli-slack".into(), "cli-slack".into()),
        ("standard-webhooks-ed25519", ed_signing, ed_verifying),
    ];
    let verifying: Vec<(&str, String)> = presets.iter().map(|(n, _, v)| (*n, v.clone())).collect();
    let sink = Downstream::start(vec![Reply::status(200)]);
    let routes = format!(
        "targets:\n  sink:\n    url: {}/sink\n{}",
        sink.url,
        preset_endpoints(&verifying)
    );
    let router = TestRouter::start(&routes, env_of(&verifying)).await;
    let dir = tempfile::tempdir().unwrap();
    for (name, signing, _) in &presets {
        let path = format!("/p/{name}");
        let id = format!("evt_cli_{}", name.replace('-', "_"));
        let body = sample_body(name, &id, "demo.created");
        let body_file = dir.path().join(format!("{name}.json"));
        std::fs::write(&body_file, &body).unwrap();
        let run = hookroute(
            &[
                "sign",
                "--provider",
                name,
                "--secret-env",
                "SIGNING_SECRET",
                "--body",
                body_file.to_str().unwrap(),
                "--id",
                &id,
                "--event-type",
                "demo.created",
            ],
            &[("SIGNING_SECRET", signing)],
        )
        .await;
        assert_eq!(run.code, Some(0), "{name}: {run:?}");
        assert!(
            !run.stdout.contains(signing.as_str()),
            "{name}: secret printed"
        );
        assert!(run.stderr.is_empty(), "{name}: unexpected notes {run:?}");
        let headers = header_lines(&run.stdout);
        let (status, answer) = router.post(&path, &body, &headers).await;
        assert_eq!(
            (status, answer["status"].as_str()),
            (200, Some("accepted")),
            "{name}: {answer} for {headers:?}"
        );
        let (status, answer) = router.post(&path, &flip_a_byte(&body), &headers).await;
        assert_eq!(status, 401, "{name}: flipped byte answered {answer}");
    }
}

#[actix_web::test]
async fn sign_with_config_uses_the_endpoints_first_secret_and_its_curl_command_works() {
    let router = TestRouter::start(&example_endpoints_and_targets(), dev_env()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("routes.yaml");
    std::fs::write(
        &config,
        format!(
            "storage:\n  data_dir: {}\n{}",
            dir.path().join("data").display(),
            example_endpoints_and_targets()
        ),
    )
    .unwrap();
    let env_file = repo_file("examples/dev.env");
    let body_file = dir.path().join("it's a body.json");
    let body = br#"{"id":"evt_curl","type":"checkout.session.completed","note":"it's quoted"}"#;
    std::fs::write(&body_file, body).unwrap();
    let url = format!("{}/webhook/stripe", router.base);
    let run = hookroute(
        &[
            "sign",
            "--env-file",
            env_file.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--endpoint",
            "/webhook/stripe",
            "--body",
            body_file.to_str().unwrap(),
            "--curl",
            &url,
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.starts_with("curl "), "{}", run.stdout);
    assert!(
        run.stdout.contains("Stripe-Signature: t="),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("whsec_dev_stripe_secret"),
        "secret printed"
    );
    // The printed command, run by a real shell and curl, is accepted.
    let out = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(run.stdout.trim())
        .output()
        .await
        .unwrap();
    let answer: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("curl printed {:?}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(answer["status"], "accepted", "{answer}");
    assert_eq!(answer["event_id"], "evt_curl");

    // The same from standard input: the body is inlined, quoted for the shell.
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_hookroute"))
        .args(["sign", "--env-file", env_file.to_str().unwrap()])
        .args([
            "--config",
            config.to_str().unwrap(),
            "--endpoint",
            "/webhook/stripe",
        ])
        .args(["--body", "-", "--curl", &url])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdin_body = br#"{"id":"evt_curl_stdin","type":"x","note":"it's inline"}"#;
    use tokio::io::AsyncWriteExt as _;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(stdin_body).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    let command = String::from_utf8(out.stdout).unwrap();
    assert!(command.contains("--data-binary '{"), "{command}");
    let out = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command.trim())
        .output()
        .await
        .unwrap();
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["event_id"], "evt_curl_stdin", "{answer}");
}

#[actix_web::test]
async fn sign_refuses_without_a_secret_and_prints_one_only_with_new_secret() {
    let run = hookroute(&["sign", "--provider", "stripe", "--body", "-"], &[]).await;
    assert_eq!(run.code, Some(64), "{run:?}");
    assert!(run.stderr.contains("--secret-env"), "{}", run.stderr);
    let run = hookroute(
        &[
            "sign",
            "--provider",
            "stripe",
            "--secret-env",
            "NOPE",
            "--body",
            "-",
        ],
        &[],
    )
    .await;
    assert_eq!(run.code, Some(64), "{run:?}");
    assert!(run.stderr.contains("NOPE is not set"), "{}", run.stderr);
    let run = hookroute(&["sign", "--provider", "nope", "--new-secret"], &[]).await;
    assert_eq!(run.code, Some(64), "{run:?}");
    assert!(
        run.stderr.contains("stripe"),
        "lists the presets: {}",
        run.stderr
    );

    // An asymmetric endpoint holds the public key, which cannot sign: the private key is asked for.
    let dir = tempfile::tempdir().unwrap();
    let (private_key, public_key) = standard_webhooks_ed25519_keys();
    let routes = format!(
        "targets:\n  sink:\n    url: http://127.0.0.1:9/\n{}",
        preset_endpoints(&[("standard-webhooks-ed25519", public_key.clone())])
    );
    let config = write_config(dir.path(), "127.0.0.1:0", &routes);
    let body_file = dir.path().join("body.json");
    std::fs::write(&body_file, br#"{"type":"demo"}"#).unwrap();
    let mut args = vec![
        "sign",
        "--config",
        config.to_str().unwrap(),
        "--endpoint",
        "/p/standard-webhooks-ed25519",
        "--body",
        body_file.to_str().unwrap(),
    ];
    let run = hookroute(&args, &[("SECRET_0", &public_key)]).await;
    assert_eq!(run.code, Some(64), "{run:?}");
    assert!(
        run.stderr.contains("public key, which cannot sign"),
        "{}",
        run.stderr
    );
    args.extend(["--secret-env", "PRIVATE_KEY"]);
    let run = hookroute(
        &args,
        &[("SECRET_0", &public_key), ("PRIVATE_KEY", &private_key)],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.contains("webhook-signature: v1a,"),
        "{}",
        run.stdout
    );

    let run = hookroute(
        &["sign", "--provider", "standard-webhooks", "--new-secret"],
        &[],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let lines = header_lines(&run.stdout);
    assert_eq!(lines[0].0, "signing_secret");
    assert_eq!(lines[1].0, "verifying_secret");
    let scheme = signature::scheme_from_value(
        signature::preset("standard-webhooks")
            .unwrap()
            .scheme
            .clone(),
    )
    .unwrap();
    assert!(scheme.decode_secret(&lines[1].1).is_ok(), "{}", run.stdout);
}

fn write_config(dir: &Path, listen: &str, routes: &str) -> std::path::PathBuf {
    let path = dir.join("routes.yaml");
    std::fs::write(
        &path,
        format!(
            "server:\n  listen: {listen}\nstorage:\n  data_dir: {}\nadmin:\n  listen: 'off'\n{routes}",
            dir.join("data").display()
        ),
    )
    .unwrap();
    path
}

#[actix_web::test]
async fn send_posts_a_signed_event_to_the_running_binary_and_reports_its_answer() {
    let sink = Downstream::start(vec![Reply::status(200)]);
    let dir = tempfile::tempdir().unwrap();
    let verifying = vec![("stripe", "whsec_send_test".to_string())];
    let routes = format!(
        "targets:\n  sink:\n    url: {}/sink\n{}",
        sink.url,
        preset_endpoints(&verifying)
    );
    let config = write_config(dir.path(), "127.0.0.1:0", &routes);
    let router = RouterProcess::start(&config, &[("SECRET_0", "whsec_send_test")]);
    let body_file = dir.path().join("body.json");
    std::fs::write(&body_file, br#"{"id":"evt_send","type":"demo.created"}"#).unwrap();
    let to = format!("http://{}", router.addr);
    let args = [
        "send",
        "--config",
        config.to_str().unwrap(),
        "--endpoint",
        "/p/stripe",
        "--body",
        body_file.to_str().unwrap(),
        "--to",
        &to,
    ];
    let run = hookroute(&args, &[("SECRET_0", "whsec_send_test")]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("HTTP 200"), "{}", run.stdout);
    assert!(
        run.stdout.contains("\"status\": \"accepted\""),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("evt_send"), "{}", run.stdout);
    eventually(Duration::from_secs(10), "the sent event delivered", || {
        (sink.count() == 1).then_some(())
    })
    .await;
    assert_eq!(
        sink.received()[0].body,
        br#"{"id":"evt_send","type":"demo.created"}"#
    );

    // Signed with another secret: the router's refusal is shown and the exit code says so.
    let run = hookroute(
        &[
            "send",
            "--provider",
            "stripe",
            "--secret-env",
            "WRONG",
            "--body",
            body_file.to_str().unwrap(),
            "--to",
            &router.url("/p/stripe"),
        ],
        &[("WRONG", "whsec_wrong")],
    )
    .await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.contains("HTTP 401"), "{}", run.stdout);
    assert!(run.stdout.contains("invalid_signature"), "{}", run.stdout);

    // Nobody listening: 69.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = format!("http://{}/p/stripe", closed.local_addr().unwrap());
    drop(closed);
    let run = hookroute(
        &[
            "send",
            "--provider",
            "stripe",
            "--secret-env",
            "WRONG",
            "--body",
            body_file.to_str().unwrap(),
            "--to",
            &gone,
        ],
        &[("WRONG", "whsec_wrong")],
    )
    .await;
    assert_eq!(run.code, Some(69), "{run:?}");
}

/// The example config with the development secrets, for `explain`.
fn example_config(dir: &Path, unmatched_stripe: &str) -> std::path::PathBuf {
    let routes = example_endpoints_and_targets().replace(
        "      timestamp: { tolerance_seconds: 300 }\n",
        &format!(
            "      timestamp: {{ tolerance_seconds: 300 }}\n    unmatched: {unmatched_stripe}\n"
        ),
    );
    assert!(routes.contains("unmatched: "));
    write_config(dir, "127.0.0.1:0", &routes)
}

async fn explain(
    config: &Path,
    body: &[u8],
    headers: &[(String, String)],
    extra: &[&str],
) -> CliRun {
    let body_file = config.with_file_name("sample.json");
    std::fs::write(&body_file, body).unwrap();
    let env_file = repo_file("examples/dev.env");
    let mut args = vec![
        "explain".to_string(),
        "--env-file".into(),
        env_file.display().to_string(),
        "--config".into(),
        config.display().to_string(),
        "--endpoint".into(),
        "/webhook/stripe".into(),
        "--body".into(),
        body_file.display().to_string(),
    ];
    for (name, value) in headers {
        args.push("--header".into());
        args.push(format!("{name}: {value}"));
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    hookroute(&args, &[]).await
}

fn stripe_headers(body: &[u8]) -> Vec<(String, String)> {
    let env = dev_env();
    let cfg = hookroute::config::load_str(&example_endpoints_and_targets(), Path::new("."), &env)
        .unwrap();
    sign(&cfg, "/webhook/stripe", body, "unused")
}

#[actix_web::test]
async fn explain_a_matching_sample_names_the_rules_targets_and_answer() {
    let dir = tempfile::tempdir().unwrap();
    let config = example_config(dir.path(), "ignore");
    let body = br#"{"id":"evt_big","type":"payment_intent.succeeded","data":{"object":{"amount":250000,"currency":"usd"}}}"#;
    let run = explain(&config, body, &stripe_headers(body), &[]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let out = &run.stdout;
    assert!(
        out.contains("signature  verifies with secret STRIPE_WEBHOOK_SECRET"),
        "{out}"
    );
    assert!(out.contains("event id   evt_big (from json:$.id)"), "{out}");
    assert!(
        out.contains("event type payment_intent.succeeded (from json:$.type)"),
        "{out}"
    );
    assert!(
        out.contains("payments        matches -> payments-service"),
        "{out}"
    );
    assert!(
        out.contains("large-payments  matches -> audit-log"),
        "{out}"
    );
    assert!(
        out.contains("checkouts       does not match: event type \"payment_intent.succeeded\" is not one of [checkout.session.completed]"),
        "{out}"
    );
    assert!(
        out.contains("targets    payments-service, audit-log"),
        "{out}"
    );
    assert!(out.contains("answer     200 "), "{out}");
    assert!(out.contains("\"status\":\"accepted\""), "{out}");
    // Offline: nothing was stored (the data directory was never created).
    assert!(!dir.path().join("data").exists());

    // The same as JSON, for scripts.
    let run = explain(&config, body, &stripe_headers(body), &["--json"]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let verdict: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(verdict["signature"]["verified"], true);
    assert_eq!(verdict["event"]["id"], "evt_big");
    assert_eq!(verdict["targets"], json!(["payments-service", "audit-log"]));
    assert_eq!(verdict["answer"]["status"], 200);
    assert_eq!(verdict["answer"]["body"]["deliveries"], 2);
    assert_eq!(verdict["rules"][1]["mismatch"]["kind"], "event_type");
}

#[actix_web::test]
async fn explain_a_non_matching_sample_says_which_condition_failed() {
    let dir = tempfile::tempdir().unwrap();
    // A small payment: `payments` matches, `large-payments` fails its amount condition.
    let config = example_config(dir.path(), "reject");
    let body = br#"{"id":"evt_small","type":"payment_intent.created","data":{"object":{"amount":500,"currency":"usd"}}}"#;
    let run = explain(&config, body, &stripe_headers(body), &[]).await;
    let out = &run.stdout;
    assert!(
        out.contains("large-payments  does not match: when[0]: $.data.object.amount is 500, which fails `gte: 100000`"),
        "{out}"
    );
    assert!(
        out.contains("payments        does not match: event type \"payment_intent.created\""),
        "{out}"
    );
    // No rule matches and the endpoint rejects such events: 400 and exit 1.
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(out.contains("targets    none"), "{out}");
    assert!(out.contains("answer     400 "), "{out}");
    assert!(out.contains("unmatched_event"), "{out}");

    // With `unmatched: ignore` the same event is answered 200 ignored: exit 0.
    let dir = tempfile::tempdir().unwrap();
    let config = example_config(dir.path(), "ignore");
    let run = explain(&config, body, &stripe_headers(body), &[]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.contains("\"status\":\"ignored\""),
        "{}",
        run.stdout
    );
}

#[actix_web::test]
async fn explain_a_bad_signature_says_which_check_failed() {
    let dir = tempfile::tempdir().unwrap();
    let config = example_config(dir.path(), "ignore");
    let body = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;
    let headers = stripe_headers(body);
    let run = explain(&config, &flip_a_byte(body), &headers, &[]).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stdout
            .contains("signature  FAILS: invalid_signature: no signature matched any secret"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("answer     401 "), "{}", run.stdout);
    assert!(
        !run.stdout.contains("event id"),
        "stops at the signature: {}",
        run.stdout
    );

    // The right signature, judged an hour later: stale.
    let later = (now_secs() + 3600).to_string();
    let run = explain(&config, body, &headers, &["--now", &later]).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stdout.contains("FAILS: stale_timestamp"),
        "{}",
        run.stdout
    );

    // No signature header at all.
    let run = explain(&config, body, &[], &[]).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stdout
            .contains("FAILS: missing_signature: missing header Stripe-Signature"),
        "{}",
        run.stdout
    );

    // A config that does not load: 64 with the error's place.
    std::fs::write(&config, "endpoints: [").unwrap();
    let run = explain(&config, body, &headers, &[]).await;
    assert_eq!(run.code, Some(64), "{run:?}");
}

#[actix_web::test]
async fn explain_answers_a_signed_slack_challenge_as_a_handshake_and_refuses_a_forged_one() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("routes.yaml");
    std::fs::write(
        &config,
        "targets:\n  sink: { url: \"http://127.0.0.1:9/hook\" }\nendpoints:\n  - path: /slack\n    verify: { provider: slack, secrets: [{ env: SLACK_SECRET }] }\n    rules:\n      - { name: all, forward: [sink] }\n",
    )
    .unwrap();
    let body = br#"{"token":"t","challenge":"c-3eZbrw1aBm","type":"url_verification"}"#;
    let body_file = dir.path().join("challenge.json");
    std::fs::write(&body_file, body).unwrap();
    let signer = Signer::from_provider("slack")
        .and_then(|s| s.with_secret_text("slack-signing-secret"))
        .unwrap();
    let options = SignOptions {
        id: "unused".into(),
        event_type: None,
        now_unix_secs: now_secs(),
        url: None,
    };
    let headers = signer.sign(body, &options).unwrap().message.headers;
    let run_with = |headers: Vec<(String, String)>| {
        let (config, body_file) = (config.clone(), body_file.clone());
        async move {
            let mut args: Vec<String> = [
                "explain",
                "--config",
                "",
                "--endpoint",
                "/slack",
                "--body",
                "",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            args[2] = config.display().to_string();
            args[6] = body_file.display().to_string();
            for (name, value) in headers {
                args.push("--header".into());
                args.push(format!("{name}: {value}"));
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            hookroute(&args, &[("SLACK_SECRET", "slack-signing-secret")]).await
        }
    };

    let run = run_with(headers.clone()).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.contains("handshake  slack: answered"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(r#"answer     200 {"challenge":"c-3eZbrw1aBm"}"#),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("event id"), "{}", run.stdout);

    let forged: Vec<(String, String)> = headers
        .into_iter()
        .map(|(k, v)| {
            if k.eq_ignore_ascii_case("x-slack-signature") {
                (k, format!("v0={}", "0".repeat(64)))
            } else {
                (k, v)
            }
        })
        .collect();
    let run = run_with(forged).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.contains("signature  FAILS"), "{}", run.stdout);
    assert!(!run.stdout.contains("c-3eZbrw1aBm\"}"), "{}", run.stdout);
}
