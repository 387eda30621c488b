//! `hookroute events export ID --fixture` on the real binary: an event accepted by a running
//! router comes back as a fixture with the router's current answer, holding neither the secret
//! nor the request's signature, and `hookroute test` passes on it as it is.

mod common;

use common::*;
use hookroute::config;
use std::time::Duration;

#[actix_web::test]
async fn an_exported_event_is_a_passing_fixture_without_secret_or_signature() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    std::fs::write(
        &path,
        format!(
            "server: {{ listen: \"127.0.0.1:0\" }}\nstorage: {{ data_dir: \"{}\" }}\nadmin: {{ listen: \"127.0.0.1:0\" }}\n{}",
            dir.path().join("data").display(),
            routes("  orders: { url: \"http://127.0.0.1:9/orders\" }", &["orders"])
        ),
    )
    .unwrap();
    let secret = "in-secret-never-exported";
    let router = RouterProcess::start(&path, &[("IN_SECRET", secret)]);
    let admin = router.admin_addr().await;

    let env = hookroute::config::MapEnvironment::default().with("IN_SECRET", secret);
    let cfg = config::load(&path, &env).unwrap();
    let body = br#"{"id":"ord-1","type":"order.created","total":42}"#;
    let headers = sign(&cfg, "/in", body, "ord-1");
    let mut req = reqwest::Client::new()
        .post(router.url("/in"))
        .body(body.to_vec());
    for (k, v) in &headers {
        req = req.header(k, v);
    }
    assert_eq!(req.send().await.unwrap().status(), 200);

    let admin_url = format!("http://{admin}");
    let export = hookroute(
        &[
            "events",
            "export",
            "in/ord-1",
            "--fixture",
            "--admin-url",
            &admin_url,
        ],
        &[],
    )
    .await;
    assert_eq!(export.code, Some(0), "{}", export.stderr);
    let fixture = export.stdout;
    assert!(!fixture.contains(secret), "{fixture}");
    for (_, value) in &headers {
        assert!(
            !fixture.contains(value.as_str()),
            "the signature is in\n{fixture}"
        );
    }
    assert!(fixture.contains("sign: true"), "{fixture}");
    assert!(fixture.contains("endpoint: /in"), "{fixture}");
    assert!(fixture.contains("outcome: accepted"), "{fixture}");
    assert!(fixture.contains("- orders"), "{fixture}");

    let file = dir.path().join("exported.yaml");
    std::fs::write(&file, &fixture).unwrap();
    let run = hookroute(
        &[
            "test",
            "--config",
            &path.display().to_string(),
            &file.display().to_string(),
        ],
        &[("IN_SECRET", secret)],
    )
    .await;
    assert_eq!(run.code, Some(0), "{}{}\n{fixture}", run.stdout, run.stderr);

    let missing = tokio::time::timeout(
        Duration::from_secs(10),
        hookroute(
            &[
                "events",
                "export",
                "in/nope",
                "--fixture",
                "--admin-url",
                &admin_url,
            ],
            &[],
        ),
    )
    .await
    .unwrap();
    assert_eq!(missing.code, Some(1), "{}", missing.stderr);
}
