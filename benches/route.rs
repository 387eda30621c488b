//! Criterion: the stages between verification and the store, on a 1 KiB Stripe-style body, for
//! endpoints with 1, 10 and 100 rules: `extract` (parse the JSON once, read id and type through
//! the endpoint's compiled sources), `match` (route through the rules: every rule but the last
//! is a non-matching type glob, the last matches by type and two payload conditions), and
//! `pipeline` (verify -> extract -> route, as `ingress::pipeline` runs them).
//!
//! Run: `cargo bench --bench route`

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use hookroute::config::{load_str, MapEnvironment};
use hookroute::endpoint::Endpoint;
use hookroute::ingress::pipeline::{verify, InboundRequest};
use hookroute::signature::SecretKey;
use std::hint::black_box;
use std::sync::Arc;
use std::time::SystemTime;

const SECRET: &str = "whsec_bench_secret";

fn endpoint_with_rules(rules: usize) -> Arc<Endpoint> {
    let mut yaml = String::from(
        "admin: { listen: \"off\" }\ntargets:\n  sink: { url: \"http://127.0.0.1:9/\" }\nendpoints:\n  - path: /stripe\n    verify: { provider: stripe, secrets: [{ env: SECRET }] }\n    rules:\n",
    );
    for i in 0..rules - 1 {
        yaml += &format!("      - match: {{ type: \"kind_{i}.*\" }}\n        forward: [sink]\n");
    }
    yaml += "      - match:\n          type: \"payment_intent.*\"\n          when:\n            - { path: $.data.object.amount, gte: 100 }\n            - { path: $.data.object.currency, in: [usd, eur] }\n        forward: [sink]\n";
    let env = MapEnvironment::default().with("SECRET", SECRET);
    let config = load_str(&yaml, std::path::Path::new("."), &env).expect("bench config loads");
    config.endpoints[0].clone()
}

fn body() -> Vec<u8> {
    let pad = "x".repeat(860);
    format!(r#"{{"id":"evt_bench_1","type":"payment_intent.succeeded","created":1700000000,"data":{{"object":{{"id":"pi_1","amount":1000,"currency":"usd","pad":"{pad}"}}}}}}"#)
        .into_bytes()
}

fn signed_headers(endpoint: &Endpoint, body: &[u8], now: i64) -> HeaderMap {
    let secret = SecretKey::new("bench", SECRET.as_bytes().to_vec());
    let mut headers = HeaderMap::new();
    for (k, v) in endpoint.scheme.sign(&secret, body, now, "msg_1") {
        headers.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(&v).unwrap(),
        );
    }
    headers
}

fn extract_and_match(c: &mut Criterion) {
    let body = body();
    let received_at = SystemTime::now();
    let now = received_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut group = c.benchmark_group("route");
    for rules in [1, 10, 100] {
        let endpoint = endpoint_with_rules(rules);
        let headers = signed_headers(&endpoint, &body, now);
        let inbound = || InboundRequest {
            headers: &headers,
            body: &body,
            received_at,
            url: None,
        };
        let ep = &*endpoint;
        // The same calls as VerifiedRequest::extract, without the signature stage.
        let extract = |body: &[u8]| {
            let parsed = hookroute::source::ParsedBody {
                json: Some(serde_json::from_slice(body).unwrap()),
                form: None,
            };
            let id = ep.event_id.read(&headers, &parsed).unwrap();
            let ty = ep
                .event_type
                .as_ref()
                .and_then(|s| s.read(&headers, &parsed));
            (parsed.json.unwrap(), id, ty)
        };
        group.bench_with_input(BenchmarkId::new("extract", rules), &body, |b, body| {
            b.iter(|| extract(black_box(body)))
        });
        let (json, _, ty) = extract(&body);
        group.bench_with_input(BenchmarkId::new("match", rules), &json, |b, json| {
            b.iter(|| {
                let targets =
                    hookroute::rules::route(&ep.rules, ty.as_deref(), Some(black_box(json)));
                assert_eq!(targets.len(), 1);
                targets
            })
        });
        group.bench_function(BenchmarkId::new("pipeline", rules), |b| {
            b.iter(|| {
                let event = verify(ep, inbound()).unwrap().extract(ep).unwrap();
                event.route(ep)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, extract_and_match);
criterion_main!(benches);
