//! Tests for [`compile_scheme`]: what compiles, and every error reported at its place in the
//! scheme. Kept apart from `compile.rs` so that file stays about compiling.

use super::compile::*;
use super::raw::parse_scheme_value;

fn compile_yaml(yaml: &str) -> Result<Scheme, Vec<SchemeError>> {
    let raw = parse_scheme_value(serde_yaml::from_str(yaml).unwrap()).unwrap();
    compile_scheme(&raw)
}

fn paths(errors: &[SchemeError]) -> Vec<&str> {
    errors.iter().map(|e| e.path.as_str()).collect()
}

#[test]
fn stripe_like_scheme_compiles() {
    let scheme = compile_yaml(
        r#"
        algorithm: hmac-sha256
        signature: { from: "header:Stripe-Signature", parse: { type: kv_list, keys: [v1] } }
        timestamp: { from: "kv:t", reject_future: false }
        payload: "{timestamp}.{body}"
        "#,
    )
    .unwrap();
    assert_eq!(scheme.signature_header(), Some("Stripe-Signature"));
    assert_eq!(scheme.tolerance_seconds(), Some(300));
}

#[test]
fn compile_collects_every_error_with_its_path() {
    let errors = compile_yaml(
        r#"
        algorithm: hmac-sha256
        key: { strip_prefix: [""] }
        signature: { from: "foo:bar", parse: { type: kv_list, pair_sep: ",", kv_sep: ",", keys: [] } }
        vars: { id: "cookie:id", body: "header:X" }
        timestamp: { from: "cookie:ts" }
        payload: "{id}.{nope}.{timestamp}"
        "#,
    )
    .unwrap_err();
    assert_eq!(
        paths(&errors),
        vec![
            "key.strip_prefix[0]",
            "signature.from",
            "signature.parse.kv_sep",
            "signature.parse.keys",
            "vars.body",
            "vars.id",
            "timestamp.from",
            "payload",
            "payload",
        ],
        "{errors:#?}"
    );
    assert_eq!(
        errors[1].message,
        r#"expected "header:NAME", "json:$.path", "form:NAME" or "query:NAME", got "foo:bar""#
    );
    assert!(errors[6].message.contains(r#""cookie:ts""#));
    assert!(errors[6].message.contains("kv:LABEL"));
    // {id} failed as a var, so the template reports it as unknown too.
    assert!(errors[7].message.contains("{id}"));
    assert!(errors[8].message.contains("{nope}"));
    assert!(errors[1]
        .to_string()
        .starts_with(r#"signature.from: expected "header:NAME""#));
}

#[test]
fn kv_timestamp_needs_a_kv_list_signature() {
    let errors = compile_yaml(
        r#"{ algorithm: hmac-sha256, signature: { from: "header:S" }, timestamp: { from: "kv:t" } }"#,
    )
    .unwrap_err();
    assert_eq!(paths(&errors), vec!["timestamp.from"]);
    assert!(errors[0].message.contains("kv_list"));
}

#[test]
fn bad_header_names_are_rejected_everywhere() {
    let errors = compile_yaml(
        r#"
        algorithm: hmac-sha1
        signature: { from: "header:" }
        timestamp: { from: "header:Bad Name" }
        payload: "{header:a:b}{body}"
        "#,
    )
    .unwrap_err();
    assert_eq!(
        paths(&errors),
        vec!["signature.from", "timestamp.from", "payload"]
    );
}

#[test]
fn token_equals_rejects_a_parse_block() {
    let errors = compile_yaml(
        r#"{ algorithm: token-equals, signature: { from: "header:T", parse: { type: kv_list, keys: [a] } } }"#,
    )
    .unwrap_err();
    assert_eq!(paths(&errors), vec!["signature.parse"]);
}

#[test]
fn empty_prefix_means_no_prefix() {
    let scheme =
        compile_yaml(r#"{ algorithm: hmac-sha256, signature: { from: "header:S", prefix: "" } }"#)
            .unwrap();
    assert_eq!(scheme.signature.prefix, None);
}

#[test]
fn body_url_and_item_sources_compile_with_precise_errors() {
    let scheme = compile_yaml(
        r#"
        algorithm: hmac-sha256
        signature: { from: "json:$.signature.signature" }
        vars: { token: "json:$.signature.token" }
        timestamp: { from: "json:$.signature.timestamp", tolerance_seconds: 900 }
        payload: "{timestamp}{token}"
        "#,
    )
    .unwrap();
    assert!(scheme.reads_json_body() && !scheme.needs_url());
    assert_eq!(scheme.signature_header(), None);

    let errors = compile_yaml(
        r#"
        algorithm: hmac-sha256
        signature: { from: "json:$.sig" }
        url: { variants: [] }
        body_digest: { from: "json:$.digest" }
        for_each: "$.items"
        payload: "{body}"
        "#,
    )
    .unwrap_err();
    assert_eq!(
        paths(&errors),
        vec![
            "for_each",
            "body_digest.from",
            "url.variants",
            "url",
            "payload"
        ],
        "{errors:#?}"
    );
    assert!(errors[0].message.contains("[*]"), "{}", errors[0].message);
    assert!(
        errors[4].message.contains("cannot include the body"),
        "{}",
        errors[4].message
    );

    let errors = compile_yaml(
        r#"{ algorithm: hmac-sha1, signature: { from: "header:S" }, for_each: "$.a[*]", payload: "{body}" }"#,
    )
    .unwrap_err();
    assert_eq!(
        paths(&errors),
        vec!["payload", "signature.from"],
        "{errors:#?}"
    );

    let scheme = compile_yaml(
        r#"
        algorithm: hmac-sha1
        signature: { from: "header:X-Twilio-Signature", encoding: base64 }
        url: { variants: [as_is, strip_port] }
        body_digest: { from: "query:bodySHA256" }
        payload: "{url}"
        "#,
    )
    .unwrap();
    assert!(scheme.needs_url());
}
