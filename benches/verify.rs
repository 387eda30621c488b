//! Criterion: signature verification of a 1 KiB body, per built-in preset (the hot first stage
//! of every request). Each preset signs the body as its sender would, then the bench verifies
//! it against one secret, headers in an actix `HeaderMap` as the ingress has them. Presets whose
//! signature is not in the headers (in the URL or body) are left out.
//!
//! Run: `cargo bench --bench verify`

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use criterion::{criterion_group, criterion_main, Criterion};
use hookroute::signature::{
    preset, preset_names, scheme_from_value, RawAlgorithm, SecretKey, SignedRequest,
};
use std::hint::black_box;

const NOW: i64 = 1_700_000_000;

fn body() -> Vec<u8> {
    let pad = "x".repeat(900);
    format!(r#"{{"id":"evt_1","type":"payment_intent.succeeded","data":{{"object":{{"amount":1000,"currency":"usd","pad":"{pad}"}}}}}}"#)
        .into_bytes()
}

fn secret_for(algorithm: RawAlgorithm) -> SecretKey {
    match algorithm {
        RawAlgorithm::Ed25519 => {
            let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
            SecretKey::new("bench", key.to_keypair_bytes().to_vec())
        }
        RawAlgorithm::TokenEquals => SecretKey::new("bench", b"bench-token-0123456789".to_vec()),
        _ => SecretKey::new("bench", (0u8..32).collect::<Vec<_>>()),
    }
}

fn verify_per_preset(c: &mut Criterion) {
    let body = body();
    let mut group = c.benchmark_group("verify");
    for name in preset_names() {
        let scheme = scheme_from_value(preset(name).unwrap().scheme.clone()).unwrap();
        let secret = secret_for(scheme.algorithm());
        let mut headers = HeaderMap::new();
        for (k, v) in scheme.sign(&secret, &body, NOW, "msg_1") {
            headers.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(&v).unwrap(),
            );
        }
        let secrets = [secret];
        let request = SignedRequest::new(&headers, &body);
        if let Err(e) = scheme.verify(&request, &secrets, NOW) {
            // e.g. a signature over the URL: not the ingress's header path
            eprintln!("verify/{name}: left out ({e})");
            continue;
        }
        group.bench_function(name, |b| {
            b.iter(|| scheme.verify(black_box(&request), &secrets, NOW).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, verify_per_preset);
criterion_main!(benches);
