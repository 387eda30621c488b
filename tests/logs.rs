//! What the real binary logs, at every level: run `hookroute serve` with `RUST_LOG=trace` and
//! `--log-format json` through a scripted sequence (an accepted event, a forged signature, a
//! delivery to a target that signs its requests and sends a configured `Authorization` header, a
//! dead letter, a good and a bad reload), then grep everything it wrote for the secrets, the
//! signature header values and the body's marker. None may appear; the events themselves must.
//! Then one endpoint per built-in preset, each sent hostile markers in every header its scheme
//! reads, and an extension method: no marker may appear either.

mod common;

use common::*;
use hmac::{KeyInit, Mac};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ENDPOINT_SECRET: &str = "endpoint-secret-MARKER-e1";
/// base64 of `ObsSigningKeyMarker42!!!`.
const SIGNING_KEY: &str = "T2JzU2lnbmluZ0tleU1hcmtlcjQyISEh";
const TARGET_TOKEN: &str = "target-token-MARKER-t3";
const BODY_MARKER: &str = "BODY-MARKER-b7f3a";

fn config(data: &std::path::Path, signed_url: &str, dead_url: &str, timeout: &str) -> String {
    format!(
        r#"server:
  listen: 127.0.0.1:0
  workers: 1
storage:
  data_dir: {data}
admin:
  listen: 127.0.0.1:0
targets:
  signed:
    url: {signed_url}/hook
    timeout: {timeout}
    headers: {{ Authorization: "Bearer ${{env:TARGET_TOKEN}}" }}
    signing: {{ secret: {{ env: SIGNING_SECRET }} }}
    retry: {{ max_attempts: 1, initial_delay: 1s, max_delay: 1s, max_age: 1h }}
  dead:
    url: {dead_url}/hook
    retry: {{ max_attempts: 1, initial_delay: 1s, max_delay: 1s, max_age: 1h }}
endpoints:
  - path: /in
    name: in
    verify:
      algorithm: hmac-sha256
      signature: {{ from: "header:X-Signature", prefix: "x-sha256=", encoding: hex }}
      payload: "{{body}}"
      secrets: [{{ env: IN_SECRET }}]
    event: {{ id: "json:$.id", type: "json:$.type" }}
    rules:
      - name: all
        forward: [signed, dead]
"#,
        data = data.display()
    )
}

fn signature(key: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    format!("x-sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Everything the process writes on stdout and stderr, line by line.
#[derive(Clone, Default)]
struct Output(Arc<Mutex<Vec<String>>>);

impl Output {
    fn collect(&self, stream: impl Read + Send + 'static) {
        let sink = self.0.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
    }

    fn text(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }

    /// The `message` of JSON lines, to find the addresses and progress.
    fn messages(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| v["fields"]["message"].as_str().map(str::to_string))
            .collect()
    }

    /// Waits for a message containing every one of `needles`.
    async fn wait_for_all(&self, needles: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = self
                .messages()
                .into_iter()
                .find(|m| needles.iter().all(|n| m.contains(n)));
            if let Some(m) = found {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "no log message with {needles:?}:\n{}",
                self.text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_for(&self, needle: &str) -> String {
        self.wait_for_all(&[needle]).await
    }
}

fn after(message: &str, prefix: &str) -> String {
    let rest = message.split(prefix).nth(1).unwrap();
    rest.split_whitespace().next().unwrap().to_string()
}

#[actix_web::test]
async fn no_secret_signature_or_body_appears_in_the_logs_at_any_level() {
    let signed = Downstream::start(vec![Reply::status(200)]);
    let dead = Downstream::start(vec![Reply::status(400)]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    let data = dir.path().join("data");
    std::fs::write(&path, config(&data, &signed.url, &dead.url, "10s")).unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_hookroute"))
        .args(["serve", "--config"])
        .arg(&path)
        .args(["--log-format", "json"])
        .env_remove("HOOKROUTE_LOG")
        .env("RUST_LOG", "trace")
        .env("IN_SECRET", ENDPOINT_SECRET)
        .env("SIGNING_SECRET", format!("whsec_{SIGNING_KEY}"))
        .env("TARGET_TOKEN", TARGET_TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let output = Output::default();
    output.collect(child.stdout.take().unwrap());
    output.collect(child.stderr.take().unwrap());
    let addr = after(
        &output.wait_for("hookroute listening on http://").await,
        "http://",
    );
    let client = reqwest::Client::new();

    // Accepted, then delivered to `signed` and dead-lettered at `dead`.
    let body = format!(r#"{{"id":"evt_logged","type":"order.paid","note":"{BODY_MARKER}"}}"#);
    let good_sig = signature(ENDPOINT_SECRET, body.as_bytes());
    let url = format!("http://{addr}/in");
    let (status, answer) = post(
        &client,
        &url,
        body.as_bytes(),
        &[("X-Signature".into(), good_sig.clone())],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    // A forged signature.
    let forged_body = format!(r#"{{"id":"evt_forged","note":"{BODY_MARKER}"}}"#);
    let forged_sig = signature("not-the-secret", forged_body.as_bytes());
    let (status, _) = post(
        &client,
        &url,
        forged_body.as_bytes(),
        &[("X-Signature".into(), forged_sig.clone())],
    )
    .await;
    assert_eq!(status, 401);
    output.wait_for("delivered").await;
    output.wait_for("dead-lettered").await;

    // A good reload, then a bad one.
    write_by_rename(&path, &config(&data, &signed.url, &dead.url, "9s"));
    // The change names the target whose timeout changed.
    output.wait_for_all(&["config reloaded", "signed"]).await;
    write_by_rename(
        &path,
        &config(&data, &signed.url, &dead.url, "9s")
            .replace("forward: [signed, dead]", "forward: [nowhere]"),
    );
    output.wait_for("config reload failed").await;

    let _ = child.kill();
    let _ = child.wait();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = output.text();

    // What the target received carries the values that must not be logged.
    let received = signed.received();
    assert_eq!(received.len(), 1);
    let outbound_sig = received[0].header("webhook-signature").unwrap().to_string();
    assert_eq!(
        received[0].header("authorization"),
        Some(format!("Bearer {TARGET_TOKEN}").as_str())
    );

    // The run logged at full volume, with the event's span and each failure.
    assert!(
        log.contains(r#""level":"TRACE""#),
        "RUST_LOG=trace took effect"
    );
    assert!(
        log.contains("evt_logged") && log.contains(r#""endpoint":"in""#),
        "the event span is logged"
    );
    assert!(log.contains("signature rejected"));

    let forbidden = [
        ("the endpoint secret", ENDPOINT_SECRET.to_string()),
        ("the outbound signing key", SIGNING_KEY.to_string()),
        ("the target's Authorization value", TARGET_TOKEN.to_string()),
        (
            "the good inbound signature",
            good_sig.trim_start_matches("x-sha256=").to_string(),
        ),
        (
            "the forged inbound signature",
            forged_sig.trim_start_matches("x-sha256=").to_string(),
        ),
        (
            "the outbound signature",
            outbound_sig.trim_start_matches("v1,").to_string(),
        ),
        ("the body's marker", BODY_MARKER.to_string()),
    ];
    for (what, value) in forbidden {
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(&value)).collect();
        assert!(
            lines.is_empty(),
            "{what} appears in the logs:\n{}",
            lines.join("\n")
        );
    }
}

/// Text logs written to a pipe or a file carry no terminal colour codes (a log collector would
/// store them as garbage).
#[test]
fn text_logs_to_a_pipe_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    let targets = "  sink:\n    url: \"http://127.0.0.1:9/hook\"\n";
    std::fs::write(
        &path,
        checker::scenario_config(&dir.path().join("data"), "", targets),
    )
    .unwrap();
    let mut router = RouterProcess::start(&path, &[("IN_SECRET", "pipe-secret")]);
    // The reader thread reports the address before it stores the line: wait for the line.
    let deadline = Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let lines = router.log.lock().unwrap().clone();
        if lines.iter().any(|l| l.contains("listening on http://")) || Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    router.kill();
    assert!(
        lines.iter().any(|l| l.contains("listening on http://")),
        "{lines:?}"
    );
    let coloured: Vec<&String> = lines.iter().filter(|l| l.contains('\u{1b}')).collect();
    assert!(
        coloured.is_empty(),
        "ANSI escapes in piped logs: {coloured:?}"
    );
}

/// A marker that is every preset's hostile header value: a kv list whose fields (`t`, `ts`,
/// `v1`) and whole text are the sender's, as `Stripe-Signature: t=ANYTEXT,v1=00` was.
fn hostile(preset: usize, header: usize) -> (String, String) {
    let marker = format!("HOSTILE{preset}x{header}Q");
    let value = format!("t={marker},ts={marker},v1={marker},{marker}");
    (marker, value)
}

/// Regression: a malformed timestamp was logged with up to 32 characters of its text (`timestamp
/// "ANYTEXT" is not an integer`) at the default level. One endpoint per built-in preset; each is
/// sent attacker text in every header its scheme reads; the real binary logs at trace, and no
/// marker may appear.
#[actix_web::test]
async fn hostile_text_in_every_header_a_scheme_reads_never_reaches_the_logs() {
    use hookroute::signature::{preset, preset_names, scheme_from_value};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    let mut text = format!(
        "server: {{ listen: 127.0.0.1:0, workers: 1 }}\nstorage: {{ data_dir: {} }}\n\
         admin: {{ listen: 'off' }}\ntargets:\n  sink: {{ url: \"http://127.0.0.1:9/hook\" }}\n\
         endpoints:\n",
        dir.path().join("data").display()
    );
    let mut env = hookroute::config::MapEnvironment::default();
    let mut secrets = Vec::new();
    for (i, name) in preset_names().into_iter().enumerate() {
        let scheme = scheme_from_value(preset(name).unwrap().scheme.clone()).unwrap();
        let secret = scheme
            .verifying_secret_text(&scheme.generate_signing_secret().unwrap())
            .unwrap();
        env = env.with(&format!("SECRET_{i}"), &secret);
        secrets.push((format!("SECRET_{i}"), secret));
        text += &format!(
            "  - path: /p/{name}\n    name: {name}\n    verify: {{ provider: {name}, secrets: [{{ env: SECRET_{i} }}] }}\n    \
             event: {{ id: \"json:$.id\" }}\n    rules: [{{ forward: [sink] }}]\n"
        );
    }
    std::fs::write(&path, &text).unwrap();
    let config = hookroute::config::load(&path, &env).expect("every preset loads");

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookroute"));
    cmd.args(["serve", "--config"])
        .arg(&path)
        .args(["--log-format", "json"])
        .env_remove("HOOKROUTE_LOG")
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in &secrets {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("binary starts");
    let output = Output::default();
    output.collect(child.stdout.take().unwrap());
    output.collect(child.stderr.take().unwrap());
    let addr = after(
        &output.wait_for("hookroute listening on http://").await,
        "http://",
    );
    let client = reqwest::Client::new();
    let mut markers = Vec::new();
    let mut sent = 0;
    for (i, endpoint) in config.endpoints.iter().enumerate() {
        let headers: Vec<(String, String)> = endpoint
            .scheme
            .headers_read()
            .into_iter()
            .enumerate()
            .map(|(j, name)| {
                let (marker, value) = hostile(i, j);
                markers.push((format!("{} on {}", name, endpoint.path), marker));
                (name, value)
            })
            .collect();
        if headers.is_empty() {
            continue; // the scheme reads only the body (Mailgun, Adyen)
        }
        let url = format!("http://{addr}{}", endpoint.path);
        let (status, answer) = post(&client, &url, br#"{"id":"evt_hostile"}"#, &headers).await;
        assert!(
            (400..500).contains(&status),
            "{}: {status} {answer}",
            endpoint.path
        );
        sent += 1;
    }
    assert!(sent >= 10, "most presets read headers: {sent}");
    // An extension method is the sender's text too.
    let method = reqwest::Method::from_bytes(b"HOSTILEMETHODQ").unwrap();
    let url = format!("http://{addr}{}", config.endpoints[0].path);
    let answer = client.request(method, &url).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 405);
    markers.push(("the request method".into(), "HOSTILEMETHODQ".into()));
    // Each refusal is logged (at warn, or debug for a handshake); wait for the last one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = child.kill();
    let _ = child.wait();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = output.text();
    assert!(log.contains("signature rejected"), "{log}");
    for (what, marker) in markers {
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(&marker)).collect();
        assert!(
            lines.is_empty(),
            "text sent in {what} appears in the logs:\n{}",
            lines.join("\n")
        );
    }
}
