//! Which request headers are stored with an event, on the real app: `Content-Type`, the
//! headers a target may forward and the ones the endpoint's scheme reads; never credentials
//! (regression: every inbound header was stored, `Authorization` and `Cookie` included), and
//! never the token a `token-equals` scheme compares with its secret. What is kept is still
//! forwarded to the target.

mod common;

use common::*;
use hookroute::config::MapEnvironment;
use std::time::Duration;

fn body(sink: &str) -> String {
    format!(
        r#"targets:
  sink:
    url: {sink}/hook
    forward_headers: [X-Trace, Authorization]
  other:
    url: {sink}/other
    forward_headers: [X-Request-Id]
endpoints:
  - path: /stripe
    name: stripe
    verify: {{ provider: stripe, secrets: [{{ env: STRIPE_SECRET }}] }}
    rules: [{{ forward: [sink] }}]
  - path: /gitlab
    name: gitlab
    verify: {{ provider: gitlab, secrets: [{{ env: GITLAB_TOKEN }}] }}
    event: {{ id: "json:$.id" }}
    rules: [{{ forward: [other] }}]
"#
    )
}

async fn stored_names(r: &TestRouter, endpoint: &str, id: &str) -> Vec<String> {
    let seq = r
        .store
        .events
        .find_event(endpoint, id)
        .await
        .unwrap()
        .expect("stored");
    let event = r.store.events.event(seq).await.unwrap().expect("stored");
    let mut names: Vec<String> = event.headers.into_iter().map(|(k, _)| k).collect();
    names.sort();
    names
}

#[actix_web::test]
async fn only_content_type_forwardable_and_scheme_headers_are_stored_never_credentials() {
    let sink = Downstream::start(vec![Reply::status(200)]);
    let env = MapEnvironment::default()
        .with("STRIPE_SECRET", "whsec_stored_headers")
        .with("GITLAB_TOKEN", "gitlab-token-secret");
    let r = TestRouter::start(&body(&sink.url), env).await;
    let extra = |signed: Vec<(String, String)>| {
        let mut headers = signed;
        for (k, v) in [
            ("Authorization", "Bearer inbound-credential"),
            ("Cookie", "session=inbound-cookie"),
            ("Proxy-Authorization", "Basic cHJveHk="),
            ("User-Agent", "provider/1.0"),
            ("X-Trace", "trace-1"),
            ("X-Request-Id", "req-1"),
            ("X-Unused", "nobody reads this"),
        ] {
            headers.push((k.to_string(), v.to_string()));
        }
        headers
    };

    let body = br#"{"id":"evt_h","type":"order.paid"}"#;
    let headers = extra(r.sign("/stripe", body, "evt_h"));
    let (status, answer) = r.post("/stripe", body, &headers).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        stored_names(&r, "stripe", "evt_h").await,
        [
            "content-type",
            "stripe-signature",
            "x-request-id",
            "x-trace"
        ]
    );

    let body = br#"{"id":"evt_g"}"#;
    let mut headers = extra(vec![]);
    headers.push(("X-Gitlab-Token".into(), "gitlab-token-secret".into()));
    headers.push(("X-Gitlab-Event".into(), "Push Hook".into()));
    let (status, answer) = r.post("/gitlab", body, &headers).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        stored_names(&r, "gitlab", "evt_g").await,
        ["content-type", "x-request-id", "x-trace"],
        "the token compared with the secret is the secret: not stored"
    );

    // What is kept is still forwarded; the credential a target lists is not.
    let received = eventually(Duration::from_secs(10), "the delivery", || {
        sink.received()
            .into_iter()
            .find(|d| d.header("x-trace").is_some() && d.header("stripe-signature").is_none())
    })
    .await;
    assert_eq!(received.header("x-trace"), Some("trace-1"));
    assert_eq!(received.header("authorization"), None);
    assert_eq!(received.header("cookie"), None);
}

#[test]
fn a_target_forwarding_a_credential_gets_a_warning() {
    let config = hookroute::config::load_str(
        &body("http://127.0.0.1:9"),
        std::path::Path::new("."),
        &MapEnvironment::default()
            .with("STRIPE_SECRET", "whsec_x")
            .with("GITLAB_TOKEN", "t"),
    )
    .unwrap();
    assert!(
        config.warnings.iter().any(
            |w| w.path == "targets.sink.forward_headers" && w.message.contains("authorization")
        ),
        "{:?}",
        config.warnings
    );
}
