//! Published provider test vectors (`shared/providers/vectors.json`) run through the built-in
//! presets: every vector whose provider maps to a preset must give its `expected_valid` result,
//! and every vector of the providers the presets cover must actually be checked. Vectors that
//! need features the scheme model lacks yet are listed as skipped, with the reason.

use std::collections::BTreeMap;

use hookroute::signature::{merge_yaml, preset, scheme_from_value, SignedRequest};
use serde::Deserialize;

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/providers/vectors.json"
);

/// Providers whose vectors must all be checked (none may be skipped).
const COVERED_PROVIDERS: [&str; 7] = [
    "standard-webhooks",
    "svix",
    "stripe",
    "github",
    "shopify",
    "slack",
    "paddle",
];

#[derive(Debug, Deserialize)]
struct Vector {
    id: String,
    provider: String,
    scheme: String,
    secret: String,
    headers: Option<serde_json::Map<String, serde_json::Value>>,
    body: String,
    timestamp: Option<i64>,
    now: Option<i64>,
    tolerance_seconds: Option<u32>,
    expected_valid: bool,
}

/// The preset that verifies this vector, or why none can yet.
fn preset_for(vector: &Vector) -> Result<&'static str, &'static str> {
    match vector.provider.as_str() {
        _ if vector.scheme.starts_with("standard-webhooks-v1a-ed25519") => {
            Ok("standard-webhooks-ed25519")
        }
        "standard-webhooks" => Ok("standard-webhooks"),
        "svix" => Ok("svix"),
        "stripe" => Ok("stripe"),
        "github" if vector.scheme.contains("sha1") => Ok("github-sha1"),
        "github" => Ok("github"),
        "shopify" => Ok("shopify"),
        "slack" => Ok("slack"),
        "paddle" => Ok("paddle"),
        "twilio" => Err("signs the public URL and form parameters ({url}, form sources)"),
        "square" => Err("signs the registered notification URL ({url})"),
        "mailgun" => Err("signature and signed fields are in the body (json:/form: sources)"),
        "adyen" => Err("one signature per notification item inside the body (for_each)"),
        "sendgrid" => Err("ECDSA P-256 with an SPKI public key (no ecdsa algorithm)"),
        other => panic!("vector provider {other:?} is neither mapped to a preset nor skipped"),
    }
}

/// Verifies one vector and prints the outcome; `Ok(true)` if it verified, `Err` if it could not
/// be run (bad preset override, undecodable secret, no clock).
fn run(vector: &Vector, preset_name: &str) -> Result<bool, String> {
    let mut scheme_value = preset(preset_name).expect("preset exists").scheme.clone();
    let has_timestamp = scheme_value.get("timestamp").is_some();
    if let (true, Some(tolerance)) = (has_timestamp, vector.tolerance_seconds) {
        let overlay = format!("timestamp: {{ tolerance_seconds: {tolerance} }}");
        merge_yaml(&mut scheme_value, serde_yaml::from_str(&overlay).unwrap());
    }
    let scheme = scheme_from_value(scheme_value).map_err(|errs| format!("{errs:?}"))?;
    let secret = scheme.decode_secret(&vector.secret)?;

    let headers: Vec<(String, String)> = vector
        .headers
        .iter()
        .flatten()
        .map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_string()))
        .collect();
    // now = null means "no freshness check": verifying at the signed time gives exactly that.
    let now = match (vector.now, vector.timestamp, has_timestamp) {
        (Some(now), _, _) => now,
        (None, Some(ts), _) => ts,
        (None, None, false) => 0,
        (None, None, true) => return Err("timestamped scheme but no clock in vector".into()),
    };
    let request = SignedRequest::new(&headers, vector.body.as_bytes());
    let outcome = scheme.verify(&request, &[secret], now);
    let code = outcome.as_ref().map_or_else(|e| e.code(), |_| "valid");
    println!(
        "  {:<28} preset {:<26} expected {:<5} got {code}",
        vector.id, preset_name, vector.expected_valid
    );
    Ok(outcome.is_ok())
}

#[test]
fn every_published_vector_of_a_covered_provider_gives_its_expected_result() {
    let text = std::fs::read_to_string(VECTORS).unwrap_or_else(|e| panic!("{VECTORS}: {e}"));
    let vectors: Vec<Vector> = serde_json::from_str(&text).expect("vectors.json parses");

    let mut checked: BTreeMap<&str, usize> = BTreeMap::new();
    let mut skipped = Vec::new();
    let mut failures = Vec::new();
    for vector in &vectors {
        match preset_for(vector) {
            Err(reason) => skipped.push(format!("  {:<28} skipped: {reason}", vector.id)),
            Ok(preset_name) => {
                *checked.entry(vector.provider.as_str()).or_default() += 1;
                match run(vector, preset_name) {
                    Ok(valid) if valid == vector.expected_valid => {}
                    Ok(valid) => failures.push(format!(
                        "{}: expected valid={}, got valid={valid}",
                        vector.id, vector.expected_valid
                    )),
                    Err(problem) => failures.push(format!("{}: {problem}", vector.id)),
                }
            }
        }
    }
    println!("skipped {} vectors:\n{}", skipped.len(), skipped.join("\n"));
    println!("checked per provider: {checked:?}");
    assert!(
        failures.is_empty(),
        "vectors with the wrong result:\n{}",
        failures.join("\n")
    );

    for provider in COVERED_PROVIDERS {
        let published = vectors.iter().filter(|v| v.provider == provider).count();
        assert!(
            published > 0,
            "vectors.json has no {provider} vectors any more"
        );
        assert_eq!(
            checked.get(provider).copied().unwrap_or(0),
            published,
            "not every {provider} vector was checked"
        );
    }
}
