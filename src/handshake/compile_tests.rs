//! Tests of the handshake compile step through the real config loader: overrides merged over a
//! built-in, equality across reloads (what the reload diff compares), and matching details.

use crate::config::{load_str, Config, MapEnvironment};
use crate::handshake::{HandshakeOutcome, RequestValues};
use serde_json::json;
use std::path::Path;

fn load(handshake: &str, env: &MapEnvironment) -> Config {
    let yaml = format!(
        "targets:\n  t: {{ url: \"http://127.0.0.1:9/x\" }}\nendpoints:\n  - path: /a\n    verify: {{ provider: slack, secrets: [{{ env: S }}] }}\n    handshake: {handshake}\n    rules: [{{ name: r, forward: [t] }}]\n"
    );
    load_str(&yaml, Path::new("."), env).unwrap_or_else(|e| panic!("{e:?}"))
}

fn env() -> MapEnvironment {
    MapEnvironment::default()
        .with("S", "secret")
        .with("TOKEN", "tok-1")
}

fn answer(config: &Config, json: serde_json::Value) -> HandshakeOutcome {
    let h = config.endpoints[0].handshake.as_ref().expect("a handshake");
    h.answer(&RequestValues {
        json: Some(&json),
        query: &[],
    })
}

#[test]
fn an_override_changes_one_field_of_the_providers_built_in_and_keeps_the_rest() {
    let config = load("{ respond: { status: 201 } }", &env());
    let HandshakeOutcome::Answer(a) = answer(
        &config,
        json!({"type": "url_verification", "challenge": "c"}),
    ) else {
        panic!("not answered")
    };
    assert_eq!(a.handshake, "slack");
    assert_eq!(a.status, 201);
    assert_eq!(a.content_type, "application/json");
    assert_eq!(a.body, br#"{"challenge":"c"}"#);
}

#[test]
fn conditions_compare_json_values_with_their_type() {
    let config = load(
        "{ when: { json: { \"$.type\": 1 } }, respond: { json: { type: 1 } } }",
        &env(),
    );
    assert!(matches!(
        answer(&config, json!({"type": 1})),
        HandshakeOutcome::Answer(_)
    ));
    for other in [
        json!({"type": "1"}),
        json!({"type": 2}),
        json!({}),
        json!([1]),
    ] {
        assert!(
            matches!(
                answer(&config, other.clone()),
                HandshakeOutcome::NotHandshake
            ),
            "{other}"
        );
    }
}

#[test]
fn a_reload_sees_a_changed_verify_token_or_definition_and_nothing_else() {
    let meta = "{ builtin: meta, verify_token_env: TOKEN }";
    let handshake = |c: &Config| c.endpoints[0].handshake.as_ref().map(|h| h.describe());
    let a = load(meta, &env());
    let b = load(meta, &env());
    assert_eq!(a.endpoints[0].handshake, b.endpoints[0].handshake);
    let rotated = load(meta, &env().with("TOKEN", "tok-2"));
    assert_ne!(a.endpoints[0].handshake, rotated.endpoints[0].handshake);
    let other = load("slack", &env());
    assert_ne!(a.endpoints[0].handshake, other.endpoints[0].handshake);
    assert_eq!(handshake(&other), handshake(&load("null", &env())));
    assert_eq!(handshake(&load("false", &env())), None);
}

#[test]
fn the_verify_token_never_appears_in_debug_output() {
    let config = load("{ builtin: meta, verify_token_env: TOKEN }", &env());
    let text = format!("{:?}", config.endpoints[0].handshake);
    assert!(!text.contains("tok-1"), "{text}");
}
