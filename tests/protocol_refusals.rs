//! Refusals made by the HTTP layer itself, before any handler runs, against the real binary
//! over raw TCP: each must answer the JSON shape of every other refusal (regression: control
//! characters in a signature header got a 400 with an empty body, as did a malformed length,
//! and a head that never finished got an empty 408).

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `raw` and reads until the server closes (or `wait`): status and parsed JSON body.
async fn exchange(addr: &str, raw: &[u8], wait: Duration) -> (u16, Value, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(raw).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let json = serde_json::from_str(body).unwrap_or(Value::Null);
    (status, json, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_level_refusals_answer_the_same_json_shape_as_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    let text = format!(
        "server: {{ listen: 127.0.0.1:0, workers: 1, request_timeout: 1s }}\nstorage: {{ data_dir: {} }}\n\
         admin: {{ listen: 'off' }}\ntargets:\n  sink: {{ url: \"http://127.0.0.1:9/hook\" }}\n\
         endpoints:\n  - path: /in\n    name: in\n    verify: {{ provider: stripe, secrets: [{{ env: IN_SECRET }}] }}\n    \
         rules: [{{ forward: [sink] }}]\n",
        dir.path().join("data").display()
    );
    std::fs::write(&path, text).unwrap();
    let router = RouterProcess::start(&path, &[("IN_SECRET", "whsec_protocol")]);
    let addr = router.addr.clone();
    let body = br#"{"id":"evt_1","type":"a.b"}"#;
    let request = |headers: &[u8]| {
        let mut raw = b"POST /in HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".to_vec();
        raw.extend_from_slice(headers);
        raw.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        raw.extend_from_slice(body);
        raw
    };
    let second = Duration::from_secs(3);

    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "control characters in a signature header",
            request(b"Stripe-Signature: t=1\x01\x02,v1=00\r\n"),
            400,
            "bad_request",
        ),
        (
            "DEL in a signature header",
            request(b"Stripe-Signature: t=1\x7f,v1=00\r\n"),
            400,
            "bad_request",
        ),
        (
            "a malformed Content-Length",
            b"POST /in HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n".to_vec(),
            400,
            "bad_request",
        ),
        (
            "a request line that is not HTTP",
            b"GARBAGE\r\n\r\n".to_vec(),
            400,
            "bad_request",
        ),
        // For comparison: refusals made by the router.
        ("no signature", request(b""), 401, "missing_signature"),
    ];
    for (what, raw, status, code) in cases {
        let (got, json, text) = exchange(&addr, &raw, second).await;
        assert_eq!(got, status, "{what}: {text:?}");
        assert_eq!(json["error"], code, "{what}: {text:?}");
        assert!(json["message"].is_string(), "{what}: {text:?}");
        assert!(
            text.contains("content-type: application/json"),
            "{what}: {text:?}"
        );
    }

    // A head that never finishes: 408 after request_timeout, in the same shape.
    let (got, json, text) = exchange(
        &addr,
        b"POST /in HTTP/1.1\r\nHost: x\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(
        (got, json["error"].as_str()),
        (408, Some("request_timeout")),
        "{text:?}"
    );

    // A request that parses still reaches the router and gets its own answer.
    let (got, json, _) =
        exchange(&addr, &request(b"Stripe-Signature: t=1,v1=00\r\n"), second).await;
    assert_eq!(
        (got, json["error"].as_str()),
        (401, Some("stale_timestamp"))
    );
}
