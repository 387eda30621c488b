//! Published provider test vectors (`shared/providers/vectors.json`) run through the built-in
//! presets: every vector maps to a preset and must give its `expected_valid` result at its clock
//! and tolerance, and every provider in the file must actually be checked. None is skipped.
//!
//! The project's own file, `tests/vectors/providers_sdk.json`, holds vectors made by providers'
//! official SDKs (`scripts/vectors/generate.mjs`; each vector names its SDK and version): each
//! names its preset and is checked the same way. Together the two files must give every preset a
//! valid and an invalid vector, except the few older presets listed in `PRESETS_WITHOUT_VECTORS`.
//!
//! Two conventions of the file are honoured as its notes say: `now: null` means "no freshness
//! check" (verified at the signed time), and an Adyen vector's body is ONE notification item, so
//! it is verified with the preset's `for_each` removed (an override a user could write too) and
//! again wrapped in the real notification shape through the unchanged preset.

use std::collections::BTreeMap;

use hookroute::signature::{merge_yaml, preset, scheme_from_value, SignedRequest};
use serde::Deserialize;
use std::time::Instant;

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/providers/vectors.json"
);

/// Vectors produced by providers' official SDKs (see `scripts/vectors/README.md`).
const SDK_VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/providers_sdk.json"
);

/// Presets older than this check that the two files do not yet give both a valid and an invalid
/// vector (some have only valid published vectors). This list may only shrink: a preset added
/// since comes with vectors from its provider's SDK or published example.
const PRESETS_WITHOUT_VECTORS: [&str; 10] = [
    "aghanim",
    "bitbucket",
    "github-sha1",
    "gitlab",
    "hookroute-seed",
    "intercom",
    "lemonsqueezy",
    "meta",
    "standard-webhooks-ed25519",
    "typeform",
];

/// Providers whose vectors must all be checked (none may be skipped).
const COVERED_PROVIDERS: [&str; 12] = [
    "standard-webhooks",
    "svix",
    "stripe",
    "github",
    "shopify",
    "slack",
    "paddle",
    "twilio",
    "square",
    "mailgun",
    "sendgrid",
    "adyen",
];

#[derive(Debug, Deserialize)]
struct Vector {
    id: String,
    provider: String,
    /// The preset to verify with (the SDK file names it; the shared file is mapped by `preset_for`).
    #[serde(default)]
    preset: Option<String>,
    #[serde(default)]
    scheme: String,
    secret: String,
    headers: Option<serde_json::Map<String, serde_json::Value>>,
    body: String,
    timestamp: Option<i64>,
    now: Option<i64>,
    tolerance_seconds: Option<u32>,
    url: Option<String>,
    expected_valid: bool,
}

/// The preset that verifies this vector.
fn preset_for(vector: &Vector) -> &str {
    if let Some(preset) = &vector.preset {
        return preset;
    }
    match vector.provider.as_str() {
        _ if vector.scheme.starts_with("standard-webhooks-v1a-ed25519") => {
            "standard-webhooks-ed25519"
        }
        "standard-webhooks" => "standard-webhooks",
        "svix" => "svix",
        "stripe" => "stripe",
        "github" if vector.scheme.contains("sha1") => "github-sha1",
        "github" => "github",
        "shopify" => "shopify",
        "slack" => "slack",
        "paddle" => "paddle",
        "twilio" if vector.scheme.contains("bodysha256") => "twilio-json",
        "twilio" => "twilio",
        "square" => "square",
        "mailgun" => "mailgun",
        "sendgrid" => "sendgrid",
        "adyen" => "adyen",
        other => panic!("vector provider {other:?} is not mapped to a preset"),
    }
}

/// Verifies `body` as the vector says (its headers, URL, secret, clock and tolerance) through
/// the preset with `overlay` merged in; `Ok(true)` if it verified, `Err` if it could not be run.
fn verify(
    vector: &Vector,
    preset_name: &str,
    overlay: Option<&str>,
    body: &[u8],
) -> Result<(bool, &'static str), String> {
    let mut scheme_value = preset(preset_name).expect("preset exists").scheme.clone();
    let has_timestamp = scheme_value.get("timestamp").is_some();
    if let (true, Some(tolerance)) = (has_timestamp, vector.tolerance_seconds) {
        let overlay = format!("timestamp: {{ tolerance_seconds: {tolerance} }}");
        merge_yaml(&mut scheme_value, serde_yaml::from_str(&overlay).unwrap());
    }
    if let Some(overlay) = overlay {
        merge_yaml(&mut scheme_value, serde_yaml::from_str(overlay).unwrap());
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
    let mut request = SignedRequest::new(&headers, body);
    if let Some(url) = &vector.url {
        request = request.with_url(url);
    }
    let outcome = scheme.verify(&request, &[secret], now);
    let code = outcome.as_ref().map_or_else(|e| e.code(), |_| "valid");
    Ok((outcome.is_ok(), code))
}

/// Every way this vector is checked: `(label, result)`.
fn run(vector: &Vector, preset_name: &str) -> Vec<(String, Result<bool, String>)> {
    let mut runs = Vec::new();
    let mut record = |label: String, result: Result<(bool, &str), String>| {
        let shown = match &result {
            Ok((_, code)) => code.to_string(),
            Err(problem) => format!("error: {problem}"),
        };
        println!(
            "  {:<34} {:<40} expected {:<5} got {shown}",
            vector.id, label, vector.expected_valid
        );
        runs.push((label, result.map(|(valid, _)| valid)));
    };
    if vector.provider == "adyen" {
        // The vector body is one NotificationRequestItem (see its notes).
        let item = vector.body.as_bytes();
        record(
            format!("{preset_name} without for_each"),
            verify(vector, preset_name, Some("for_each: null"), item),
        );
        let wrapped = format!(
            r#"{{"live":"false","notificationItems":[{{"NotificationRequestItem":{}}}]}}"#,
            vector.body
        );
        record(
            format!("{preset_name} (item wrapped)"),
            verify(vector, preset_name, None, wrapped.as_bytes()),
        );
    } else {
        record(
            preset_name.to_string(),
            verify(vector, preset_name, None, vector.body.as_bytes()),
        );
    }
    runs
}

#[test]
fn every_published_vector_gives_its_expected_result() {
    let text = std::fs::read_to_string(VECTORS).unwrap_or_else(|e| panic!("{VECTORS}: {e}"));
    let vectors: Vec<Vector> = serde_json::from_str(&text).expect("vectors.json parses");

    let mut checked: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for vector in &vectors {
        let preset_name = preset_for(vector);
        *checked.entry(vector.provider.as_str()).or_default() += 1;
        for (label, result) in run(vector, preset_name) {
            match result {
                Ok(valid) if valid == vector.expected_valid => {}
                Ok(valid) => failures.push(format!(
                    "{} ({label}): expected valid={}, got valid={valid}",
                    vector.id, vector.expected_valid
                )),
                Err(problem) => failures.push(format!("{} ({label}): {problem}", vector.id)),
            }
        }
    }
    println!("checked per provider: {checked:?}");
    assert!(
        failures.is_empty(),
        "vectors with the wrong result:\n{}",
        failures.join("\n")
    );

    let providers: std::collections::BTreeSet<&str> =
        vectors.iter().map(|v| v.provider.as_str()).collect();
    for provider in &providers {
        assert!(
            COVERED_PROVIDERS.contains(provider),
            "vectors.json has {provider} vectors, which COVERED_PROVIDERS does not list"
        );
    }
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

fn load(path: &str) -> Vec<Vector> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn every_sdk_vector_gives_its_expected_result_through_its_preset() {
    let vectors = load(SDK_VECTORS);
    let mut failures = Vec::new();
    for vector in &vectors {
        let preset_name = vector
            .preset
            .as_deref()
            .unwrap_or_else(|| panic!("{}: an SDK vector names its preset", vector.id));
        assert!(
            preset(preset_name).is_some(),
            "{}: no preset {preset_name}",
            vector.id
        );
        for (label, result) in run(vector, preset_name) {
            match result {
                Ok(valid) if valid == vector.expected_valid => {}
                Ok(valid) => failures.push(format!(
                    "{} ({label}): expected valid={}, got valid={valid}",
                    vector.id, vector.expected_valid
                )),
                Err(problem) => failures.push(format!("{} ({label}): {problem}", vector.id)),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "SDK vectors with the wrong result:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_sdk_vector_names_the_sdk_and_script_that_made_it() {
    let text = std::fs::read_to_string(SDK_VECTORS).unwrap();
    let raw: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    for vector in &raw {
        let id = vector["id"].as_str().unwrap_or("?");
        let sdk = vector["source"]["sdk"].as_str().unwrap_or_default();
        let (name, version) = sdk.rsplit_once('@').unwrap_or_default();
        assert!(
            !name.is_empty() && version.chars().next().is_some_and(|c| c.is_ascii_digit()),
            "{id}: source.sdk must be package@version, got {sdk:?}"
        );
        let script = vector["source"]["script"].as_str().unwrap_or_default();
        assert!(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(script)
                .is_file(),
            "{id}: source.script {script:?} is not in the repository"
        );
    }
}

#[test]
fn every_preset_has_a_valid_and_an_invalid_vector() {
    let mut shared = load(VECTORS);
    shared.extend(load(SDK_VECTORS));
    let mut seen: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    for vector in &shared {
        let entry = seen.entry(preset_for(vector).to_string()).or_default();
        if vector.expected_valid {
            entry.0 = true;
        } else {
            entry.1 = true;
        }
    }
    let mut lacking = Vec::new();
    for name in hookroute::signature::preset_names() {
        let (valid, invalid) = seen.get(name).copied().unwrap_or_default();
        let listed = PRESETS_WITHOUT_VECTORS.contains(&name);
        if listed {
            assert!(
                !(valid && invalid),
                "{name} has both vectors now: remove it from PRESETS_WITHOUT_VECTORS"
            );
        } else if !(valid && invalid) {
            lacking.push(format!("{name} (valid: {valid}, invalid: {invalid})"));
        }
    }
    assert!(
        lacking.is_empty(),
        "presets without both a valid and an invalid vector: {lacking:?}"
    );
}

/// The cost of one verification per valid vector, printed (never asserted). Run with
/// `cargo test --release --test vectors -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
fn verification_cost_per_valid_vector_is_printed() {
    let text = std::fs::read_to_string(VECTORS).unwrap();
    let vectors: Vec<Vector> = serde_json::from_str(&text).unwrap();
    for vector in vectors.iter().filter(|v| v.expected_valid) {
        let preset_name = preset_for(vector);
        let overlay = (vector.provider == "adyen").then_some("for_each: null");
        let mut scheme_value = preset(preset_name).unwrap().scheme.clone();
        if let Some(overlay) = overlay {
            merge_yaml(&mut scheme_value, serde_yaml::from_str(overlay).unwrap());
        }
        if scheme_value.get("timestamp").is_some() {
            merge_yaml(
                &mut scheme_value,
                serde_yaml::from_str("timestamp: { tolerance_seconds: 4000000000 }").unwrap(),
            );
        }
        let scheme = scheme_from_value(scheme_value).unwrap();
        let secrets = [scheme.decode_secret(&vector.secret).unwrap()];
        let headers: Vec<(String, String)> = vector
            .headers
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect();
        let mut request = SignedRequest::new(&headers, vector.body.as_bytes());
        if let Some(url) = &vector.url {
            request = request.with_url(url);
        }
        let now = vector.now.or(vector.timestamp).unwrap_or(0);
        let rounds = if scheme.algorithm().is_asymmetric() {
            2_000
        } else {
            50_000
        };
        let started = Instant::now();
        for _ in 0..rounds {
            assert!(scheme.verify(&request, &secrets, now).is_ok());
        }
        let per = started.elapsed() / rounds;
        println!(
            "  {:<28} {:<26} {:>8.2} us/verify",
            vector.id,
            preset_name,
            per.as_secs_f64() * 1e6
        );
    }
}
