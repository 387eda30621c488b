//! The length cap on event ids and types, on the real app: an id or type longer than the
//! endpoint's `event.max_length` (default 1 KiB) is answered 400 with a JSON error before
//! anything is stored (regression: a 70,000-character id was acknowledged, then every delivery
//! of it was refused by the target with 431 and dead-lettered).

mod common;

use common::*;
use hookroute::config::MapEnvironment;

fn body(max_length: Option<&str>) -> String {
    let cap = max_length.map_or(String::new(), |m| format!(", max_length: {m}"));
    let endpoint = |path: &str, name: &str| {
        format!(
            r#"  - path: {path}
    name: {name}
    verify:
      algorithm: hmac-sha256
      signature: {{ from: "header:X-Signature", prefix: "x-sha256=", encoding: hex }}
      secrets: [{{ env: IN_SECRET }}]
    event: {{ id: "json:$.id", type: "json:$.type"{cap} }}
    rules: [{{ forward: [sink] }}]
"#
        )
    };
    format!(
        "targets:\n  sink: {{ url: \"http://127.0.0.1:9/hook\" }}\nendpoints:\n{}",
        endpoint("/in", "in")
    )
}

async fn router(max_length: Option<&str>) -> TestRouter {
    TestRouter::start(
        &body(max_length),
        MapEnvironment::default().with("IN_SECRET", "length-secret"),
    )
    .await
}

fn event(id: &str, event_type: &str) -> Vec<u8> {
    serde_json::json!({"id": id, "type": event_type})
        .to_string()
        .into_bytes()
}

#[actix_web::test]
async fn an_id_or_type_over_the_default_1kib_is_refused_with_400_json_and_nothing_is_stored() {
    let r = router(None).await;
    let long = "i".repeat(60_000);
    let (status, answer) = r.post_signed("/in", &event(&long, "a.b"), "x").await;
    // Not the whole answer in a failure message: it would hold the 60,000-byte id.
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("event_id_too_long"))
    );
    assert!(
        answer["message"].as_str().unwrap().contains("at most 1024"),
        "{answer}"
    );
    assert!(
        !answer.to_string().contains(&long[..100]),
        "the id is not echoed"
    );

    let (status, answer) = r
        .post_signed("/in", &event("evt_1", &"t".repeat(1025)), "x")
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "event_type_too_long", "{answer}");
    assert_eq!(event_count(&r.store).await, 0, "nothing refused is stored");

    // Exactly at the cap is accepted.
    let at_cap = "i".repeat(1024);
    let (status, answer) = r
        .post_signed("/in", &event(&at_cap, &"t".repeat(1024)), "x")
        .await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("accepted")));
    assert_eq!(event_count(&r.store).await, 1);
}

#[actix_web::test]
async fn the_cap_is_set_per_endpoint_with_event_max_length() {
    let r = router(Some("16")).await;
    let (status, answer) = r
        .post_signed("/in", &event(&"i".repeat(17), "a.b"), "x")
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("event_id_too_long"))
    );
    let (status, _) = r
        .post_signed("/in", &event(&"i".repeat(16), "a.b"), "x")
        .await;
    assert_eq!(status, 200);
}

#[test]
fn a_zero_max_length_is_a_config_error_with_its_place() {
    let text = body(Some("0"));
    let errors = hookroute::config::load_str(
        &text,
        std::path::Path::new("."),
        &MapEnvironment::default().with("IN_SECRET", "s"),
    )
    .unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.path == "endpoints[0].event.max_length"),
        "{errors:?}"
    );
}
