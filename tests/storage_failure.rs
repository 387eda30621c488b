//! When the event cannot be stored, or cannot be made durable, the answer is 503 with
//! Retry-After: never a 2xx (the provider would drop it) and never a 4xx (it would not retry).

mod common;

use arc_swap::ArcSwap;
use common::*;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use hookroute::config;
use hookroute::ingress::{self, Ingress};
use hookroute::store::{AcceptOutcome, IngestStore, NewEvent, StoreError};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

/// Fails where it is told to: the transaction, or the fsync after it (both reach the pipeline
/// as the error of `accept_durable`; the message is what the sled store would say).
struct BrokenStore {
    fail_accept: bool,
}

impl IngestStore for BrokenStore {
    fn accept_durable(
        &self,
        _: NewEvent<'_>,
    ) -> BoxFuture<'static, Result<AcceptOutcome, StoreError>> {
        let cause = if self.fail_accept {
            "No space left on device (os error 28)"
        } else {
            "fdatasync: Input/output error (os error 5)"
        };
        async move { Err(StoreError::storage(cause)) }.boxed()
    }
}

async fn serve_with(store: BrokenStore) -> (String, Arc<ArcSwap<config::Config>>) {
    let yaml = format!(
        "admin: {{listen: 'off'}}\n{}",
        example_endpoints_and_targets()
    );
    let cfg = config::load_str(&yaml, Path::new("."), &dev_env()).expect("example loads");
    let cfg = Arc::new(ArcSwap::from_pointee(cfg));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let ingress = Arc::new(Ingress {
        config: cfg.clone(),
        store: Arc::new(store),
        metrics: Default::default(),
    });
    actix_web::rt::spawn(ingress::server(listener, ingress, Some(1)).unwrap());
    (base, cfg)
}

async fn assert_503_for(store: BrokenStore) {
    let (base, cfg) = serve_with(store).await;
    let body = br#"{"id":"evt_disk","type":"payment_intent.succeeded","data":{"object":{}}}"#;
    let headers = sign(&cfg.load(), "/webhook/stripe", body, "evt_disk");
    let client = reqwest::Client::new();
    let resp = client
        .post(format!("{base}/webhook/stripe"))
        .headers(
            headers
                .iter()
                .map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap()))
                .collect(),
        )
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(resp.headers()["retry-after"], "5");
    let answer: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(answer["error"], "storage_unavailable");
    assert!(
        !answer.to_string().contains("os error"),
        "the cause is logged, not shown: {answer}"
    );
}

#[actix_web::test]
async fn a_failed_write_is_answered_503_with_retry_after() {
    assert_503_for(BrokenStore { fail_accept: true }).await;
}

#[actix_web::test]
async fn a_failed_fsync_is_answered_503_even_though_the_write_went_through() {
    assert_503_for(BrokenStore { fail_accept: false }).await;
}
