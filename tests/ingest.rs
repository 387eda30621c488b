//! End-to-end ingest through the real HTTP server: the seed systems of routes.example.yaml,
//! GitHub and Standard Webhooks, and every refusal the ingress answers.

mod common;

use common::*;
use hookroute::store::JobState;
use serde_json::json;

async fn example_router() -> TestRouter {
    TestRouter::start(&example_endpoints_and_targets(), dev_env()).await
}

async fn targets_of(router: &TestRouter, endpoint: &str, event_id: &str) -> Vec<String> {
    let seq = router
        .store
        .events
        .find_event(endpoint, event_id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{event_id} not stored"));
    let detail = router
        .store
        .events
        .event_detail(seq)
        .await
        .unwrap()
        .unwrap();
    let mut t: Vec<String> = detail
        .jobs
        .into_iter()
        .map(|j| {
            assert_eq!(j.job.state, JobState::Pending);
            j.job.target
        })
        .collect();
    t.sort();
    t
}

#[actix_web::test]
async fn seed_000_orders_accepts_a_signed_event_and_stores_it_byte_for_byte() {
    let r = example_router().await;
    let body = br#"{"event_id":"ord_1","event_type":"order.created","total":10}"#;
    let headers = r.sign("/webhook/orders", body, "ord_1");
    assert!(headers
        .iter()
        .any(|(k, v)| k == "X-Signature" && v.starts_with("x-sha256=")));

    let (status, answer) = r.post("/webhook/orders", body, &headers).await;
    assert_eq!(
        (status, answer.clone()),
        (
            200,
            json!({"status": "accepted", "event_id": "ord_1", "deliveries": 1})
        )
    );

    let seq = r
        .store
        .events
        .find_event("orders", "ord_1")
        .await
        .unwrap()
        .unwrap();
    let event = r.store.events.event(seq).await.unwrap().unwrap();
    assert_eq!(event.event_type.as_deref(), Some("order.created"));
    assert_eq!(r.store.events.body(seq).await.unwrap(), body.to_vec());
    assert_eq!(
        targets_of(&r, "orders", "ord_1").await,
        vec!["orders-service"]
    );

    let (status, answer) = r.post("/webhook/orders", body, &headers).await;
    assert_eq!(
        (status, answer),
        (200, json!({"status": "duplicate", "event_id": "ord_1"}))
    );
    assert_eq!(event_count(&r.store).await, 1);
}

#[actix_web::test]
async fn seed_000_orders_answers_401_on_a_wrong_signature_and_stores_nothing() {
    let r = example_router().await;
    let body = br#"{"event_id":"ord_2","event_type":"order.created"}"#;
    let bad = vec![(
        "X-Signature".to_string(),
        format!("x-sha256={}", "ab".repeat(32)),
    )];
    let (status, answer) = r.post("/webhook/orders", body, &bad).await;
    assert_eq!(status, 401);
    assert_eq!(answer["error"], "invalid_signature");

    let (status, answer) = r.post("/webhook/orders", body, &[]).await;
    assert_eq!(status, 401);
    assert_eq!(answer["error"], "missing_signature");

    let mut tampered = body.to_vec();
    let headers = r.sign("/webhook/orders", &tampered, "x");
    tampered[5] ^= 1;
    assert_eq!(r.post("/webhook/orders", &tampered, &headers).await.0, 401);
    assert_eq!(event_count(&r.store).await, 0);
}

#[actix_web::test]
async fn seed_002_aghanim_uses_403_for_bad_signatures_and_400_for_unknown_types() {
    let r = example_router().await;
    let body = br#"{"event_id":"agh_1","event_type":"item.add","item":"sword"}"#;
    let (status, answer) = r.post_signed("/webhook/aghanim", body, "agh_1").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "accepted");
    assert_eq!(
        targets_of(&r, "aghanim", "agh_1").await,
        vec!["game-backend"]
    );

    let mut headers = r.sign("/webhook/aghanim", body, "agh_1");
    for (k, v) in &mut headers {
        if k.eq_ignore_ascii_case("x-aghanim-signature") {
            *v = "00".repeat(32);
        }
    }
    let (status, answer) = r.post("/webhook/aghanim", body, &headers).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("invalid_signature"))
    );

    let unknown = br#"{"event_id":"agh_2","event_type":"guild.dissolve"}"#;
    let (status, answer) = r.post_signed("/webhook/aghanim", unknown, "agh_2").await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("unmatched_event"))
    );

    let stale = sign_at(
        &r.config.load(),
        "/webhook/aghanim",
        body,
        "agh_1",
        now_secs() - 3600,
        0,
    );
    let (status, answer) = r.post("/webhook/aghanim", body, &stale).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("stale_timestamp"))
    );
    assert_eq!(event_count(&r.store).await, 1);
}

#[actix_web::test]
async fn seed_004_stripe_routes_two_event_types_to_two_targets() {
    let r = example_router().await;
    let paid = br#"{"id":"evt_pay","type":"payment_intent.succeeded","data":{"object":{"amount":500,"currency":"usd"}}}"#;
    let checkout = br#"{"id":"evt_co","type":"checkout.session.completed","data":{"object":{}}}"#;
    let big = br#"{"id":"evt_big","type":"payment_intent.succeeded","data":{"object":{"amount":250000,"currency":"eur"}}}"#;
    for (body, id) in [
        (&paid[..], "evt_pay"),
        (&checkout[..], "evt_co"),
        (&big[..], "evt_big"),
    ] {
        let (status, answer) = r.post_signed("/webhook/stripe", body, id).await;
        assert_eq!(
            (status, answer["status"].as_str()),
            (200, Some("accepted")),
            "{answer}"
        );
    }
    assert_eq!(
        targets_of(&r, "stripe", "evt_pay").await,
        vec!["payments-service"]
    );
    assert_eq!(
        targets_of(&r, "stripe", "evt_co").await,
        vec!["checkout-service"]
    );
    assert_eq!(
        targets_of(&r, "stripe", "evt_big").await,
        vec!["audit-log", "payments-service"]
    );

    let other = br#"{"id":"evt_other","type":"customer.created"}"#;
    let (status, answer) = r.post_signed("/webhook/stripe", other, "evt_other").await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("ignored")));
    assert!(r
        .store
        .events
        .find_event("stripe", "evt_other")
        .await
        .unwrap()
        .is_none());
}

#[actix_web::test]
async fn stripe_accepts_any_v1_entry_and_the_previous_secret_during_rotation() {
    let r = example_router().await;
    let body =
        br#"{"id":"evt_rot","type":"payment_intent.succeeded","data":{"object":{"amount":1}}}"#;
    let config = r.config.load();
    let with_old = sign_at(&config, "/webhook/stripe", body, "evt_rot", now_secs(), 1);
    let header = &with_old[0].1;
    let (t, v1) = header.split_once(",v1=").unwrap();
    let several = vec![(
        "Stripe-Signature".to_string(),
        format!("{t},v1={},v1={v1},v0=zz", "0".repeat(64)),
    )];
    let (status, answer) = r.post("/webhook/stripe", body, &several).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("accepted")),
        "{answer}"
    );

    let future_is_fine = sign_at(
        &config,
        "/webhook/stripe",
        br#"{"id":"evt_f","type":"x"}"#,
        "evt_f",
        now_secs() + 3600,
        0,
    );
    let (status, _) = r
        .post(
            "/webhook/stripe",
            br#"{"id":"evt_f","type":"x"}"#,
            &future_is_fine,
        )
        .await;
    assert_eq!(status, 200, "Stripe checks only the past, as its SDKs do");
    let stale = sign_at(
        &config,
        "/webhook/stripe",
        body,
        "evt_rot",
        now_secs() - 301,
        0,
    );
    let (status, answer) = r.post("/webhook/stripe", body, &stale).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("stale_timestamp"))
    );
}

#[actix_web::test]
async fn github_takes_type_and_id_from_headers_and_matches_payload_conditions() {
    let r = example_router().await;
    let push_main = br#"{"ref":"refs/heads/main","after":"abc"}"#;
    let push_dev = br#"{"ref":"refs/heads/dev"}"#;
    let r = &r;
    let send = |body: &'static [u8], delivery: &'static str| {
        let mut h = r.sign("/webhook/github", body, delivery);
        h.push(("X-GitHub-Event".into(), "push".into()));
        h.push(("X-GitHub-Delivery".into(), delivery.into()));
        async move { r.post("/webhook/github", body, &h).await }
    };
    let (status, answer) = send(push_main, "d-1").await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("accepted")),
        "{answer}"
    );
    assert_eq!(targets_of(r, "github", "d-1").await, vec!["ci-bot"]);
    let (status, answer) = send(push_dev, "d-2").await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("ignored")));

    let mut no_id = r.sign("/webhook/github", push_main, "");
    no_id.push(("X-GitHub-Event".into(), "push".into()));
    let (status, answer) = r.post("/webhook/github", push_main, &no_id).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("missing_event_id"))
    );
}

#[actix_web::test]
async fn standard_webhooks_verifies_id_timestamp_and_body() {
    let r = example_router().await;
    let body = br#"{"type":"user.created","data":{}}"#;
    let (status, answer) = r.post_signed("/webhook/standard", body, "msg_1").await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("accepted")),
        "{answer}"
    );
    assert_eq!(targets_of(&r, "standard", "msg_1").await, vec!["audit-log"]);

    let mut headers = r.sign("/webhook/standard", body, "msg_2");
    for (k, v) in &mut headers {
        if k == "webhook-id" {
            *v = "msg_forged".into();
        }
    }
    assert_eq!(r.post("/webhook/standard", body, &headers).await.0, 401);
}

#[actix_web::test]
async fn unknown_paths_wrong_methods_and_bad_bodies_get_json_errors() {
    let r = example_router().await;
    let (status, answer) = r.post("/nope", b"{}", &[]).await;
    assert_eq!((status, answer["error"].as_str()), (404, Some("not_found")));

    let resp = r
        .client
        .get(format!("{}/webhook/orders", r.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
    let answer: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(answer["error"], "method_not_allowed");

    let not_json = b"event_id=1";
    let (status, answer) = r.post_signed("/webhook/orders", not_json, "x").await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_json"))
    );

    let no_id = br#"{"event_type":"order.created"}"#;
    let (status, answer) = r.post_signed("/webhook/orders", no_id, "x").await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("missing_event_id"))
    );
    assert_eq!(event_count(&r.store).await, 0);
}

#[actix_web::test]
async fn bodies_over_the_limit_get_413_whether_declared_or_streamed() {
    let r = example_router().await;
    let big = vec![b'a'; 65 * 1024];
    let (status, answer) = r.post("/webhook/orders", &big, &[]).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (413, Some("payload_too_large"))
    );

    // Chunked, no Content-Length: refused once the stream passes the limit.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = r.base.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /webhook/orders HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("2000\r\n{}\r\n", "a".repeat(0x2000));
    for _ in 0..20 {
        if conn.write_all(chunk.as_bytes()).await.is_err() {
            break; // the server answered and closed
        }
    }
    let mut answer = vec![0u8; 4096];
    let n = conn.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(event_count(&r.store).await, 0);
}

#[actix_web::test]
async fn a_hundred_concurrent_copies_of_one_event_are_stored_once() {
    let r = example_router().await;
    let body =
        br#"{"id":"evt_same","type":"payment_intent.succeeded","data":{"object":{"amount":7}}}"#;
    let headers = r.sign("/webhook/stripe", body, "evt_same");
    let url = format!("{}/webhook/stripe", r.base);
    let sends = (0..100).map(|_| {
        let (client, url, headers) = (r.client.clone(), url.clone(), headers.clone());
        tokio::spawn(async move { post(&client, &url, body, &headers).await })
    });
    let mut answers = Vec::new();
    for s in sends {
        answers.push(s.await.unwrap());
    }
    let accepted = answers
        .iter()
        .filter(|(s, a)| *s == 200 && a["status"] == "accepted")
        .count();
    let duplicate = answers
        .iter()
        .filter(|(s, a)| *s == 200 && a["status"] == "duplicate")
        .count();
    assert_eq!((accepted, duplicate), (1, 99));
    assert_eq!(event_count(&r.store).await, 1);
    assert_eq!(all_jobs(&r.store).await.len(), 1);
}
