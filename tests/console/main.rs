//! The web console end to end, in a real headless Chromium driven over WebDriver: the real
//! binary serves a config with a token-protected admin listener on a loopback port, real
//! downstreams answer from scripts, and the browser logs in, finds an event by id, replays it
//! and watches the new attempt appear, retries dead letters (one, then all shown with the
//! progress script), reads the targets, and sees a rejected reload's errors. The CSRF,
//! escaping and session checks (a reload that changes the admin token ends the sessions) use
//! plain HTTP. `screenshots_of_each_page` (ignored) regenerates
//! `docs/console/*.png`: `scripts/console-screenshots.sh`.

#[path = "../common/mod.rs"]
mod common;
mod webdriver;

use common::*;
use hmac::{KeyInit, Mac};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;
use webdriver::{Browser, ENTER};

const IN_SECRET: &str = "in-secret";
const TOKEN: &str = "console-token-123";
/// The token a reload switches to (`admin.token_env: OTHER_TOKEN`).
const OTHER_TOKEN: &str = "console-token-456";

/// The real binary with the admin listener (token from `ADMIN_TOKEN`) and two targets:
/// `sink` (always 200) and `flaky` (400 for its first `failures` requests, then 200).
struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    yaml: String,
    router: RouterProcess,
    admin: String,
    sink: Downstream,
    flaky: Downstream,
    http: reqwest::Client,
}

impl Fixture {
    async fn start(failures: usize) -> Self {
        let sink = Downstream::start(vec![Reply::status(200).body("ok")]);
        let mut script = vec![Reply::status(400).body(r#"{"error":"no such customer"}"#); failures];
        script.push(Reply::status(200).body("thanks"));
        let flaky = Downstream::start(script);
        let dir = tempfile::tempdir().unwrap();
        let yaml = format!(
            r#"server:
  listen: 127.0.0.1:0
  workers: 1
storage:
  data_dir: {data}
admin:
  listen: 127.0.0.1:0
  token_env: ADMIN_TOKEN
targets:
  sink:
    url: {sink}/orders
    forward_headers: [X-Note, User-Agent]
  flaky:
    url: {flaky}/billing
    retry: {{ max_attempts: 2, initial_delay: 50ms, max_delay: 100ms, max_age: 1h }}
endpoints:
  - path: /in
    name: shop
    verify:
      algorithm: hmac-sha256
      signature: {{ from: "header:X-Signature", prefix: "x-sha256=", encoding: hex }}
      secrets: [{{ env: IN_SECRET }}]
    event: {{ id: "json:$.id", type: "json:$.type" }}
    rules:
      - name: billing
        match: {{ type: "invoice.*" }}
        forward: [flaky]
      - name: orders
        match:
          type: "order.*"
          when: [{{ path: $.total, gte: 0 }}]
        forward: [sink]
"#,
            data = dir.path().join("data").display(),
            sink = sink.url,
            flaky = flaky.url,
        );
        let path = dir.path().join("routes.yaml");
        std::fs::write(&path, &yaml).unwrap();
        let router = RouterProcess::start(
            &path,
            &[
                ("IN_SECRET", IN_SECRET),
                ("ADMIN_TOKEN", TOKEN),
                ("OTHER_TOKEN", OTHER_TOKEN),
            ],
        );
        let admin = format!("http://{}", router.admin_addr().await);
        Self {
            _dir: dir,
            path,
            yaml,
            router,
            admin,
            sink,
            flaky,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// Sends a signed event with `extra` headers; returns its sequence number.
    async fn send(&self, id: &str, kind: &str, extra: &[(&str, &str)]) -> u64 {
        let body =
            format!(r#"{{"id":"{id}","type":"{kind}","total":42,"customer":{{"name":"Ada"}}}}"#);
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(IN_SECRET.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        let mut headers = vec![(
            "X-Signature".to_string(),
            format!("x-sha256={}", hex::encode(mac.finalize().into_bytes())),
        )];
        headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let (status, answer) = post(
            &self.http,
            &self.router.url("/in"),
            body.as_bytes(),
            &headers,
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["status"], "accepted", "{answer}");
        let shown = self.api(&format!("/events/shop/{id}")).await;
        shown["seq"].as_u64().unwrap()
    }

    /// The JSON admin API, with the bearer token.
    async fn api(&self, path: &str) -> Value {
        let resp = self
            .http
            .get(format!("{}{path}", self.admin))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        resp.json().await.unwrap()
    }

    async fn dead_letters(&self) -> usize {
        self.api("/dlq").await.as_array().unwrap().len()
    }

    fn ui(&self, path: &str) -> String {
        format!("{}{path}", self.admin)
    }

    /// Replaces the config with one the loader rejects (an unknown key in a target) and waits
    /// until the router says so.
    async fn break_config(&self) {
        let before = self.router.log_count("config reload failed");
        let broken = self.yaml.replacen("    retry:", "    retries:", 1);
        write_by_rename(&self.path, &broken);
        self.router
            .wait_for_log("config reload failed", before + 1, Duration::from_secs(10))
            .await;
    }

    /// Logs in over plain HTTP; returns the `Cookie` header value.
    async fn login(&self) -> String {
        let resp = self
            .http
            .post(self.ui("/ui/login"))
            .form_pairs(&[("token", TOKEN), ("next", "/ui/events")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 303);
        let set = resp.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(set.contains("HttpOnly"), "{set}");
        assert!(set.contains("SameSite=Strict"), "{set}");
        set.split(';').next().unwrap().to_string()
    }
}

/// A form body (`application/x-www-form-urlencoded`; this reqwest is built without `form`).
trait FormPairs {
    fn form_pairs(self, pairs: &[(&str, &str)]) -> Self;
}

impl FormPairs for reqwest::RequestBuilder {
    fn form_pairs(self, pairs: &[(&str, &str)]) -> Self {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
    }
}

async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "not within 10 s: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn an_operator_logs_in_finds_replays_and_retries_in_a_real_browser() {
    let f = Fixture::start(3).await;
    for n in 1..=3 {
        f.send(&format!("inv_{n}"), "invoice.paid", &[]).await;
    }
    wait_until("three dead letters", || async {
        f.dead_letters().await == 3
    })
    .await;
    let seq = f.send("ord_42", "order.created", &[]).await;
    wait_until("the order delivered", || async { f.sink.count() == 1 }).await;

    let b = Browser::start(1280, 800).await;

    // Log in with the token, from the keyboard (Enter submits).
    b.goto(&f.ui("/ui/events")).await;
    let token = b.find("#token").await;
    assert!(b.url().await.contains("/ui/login"), "{}", b.url().await);
    b.send_keys(&token, &format!("{TOKEN}{ENTER}")).await;
    b.find("form.filters").await;

    // Find the event by id and open it.
    let id_field = b.find("#f-id").await;
    b.send_keys(&id_field, &format!("ord_42{ENTER}")).await;
    b.wait_for("one matching row", || async {
        (b.url().await.contains("event_id=ord_42") && b.find_all("tr[data-seq]").await.len() == 1)
            .then_some(())
    })
    .await;
    b.click(&b.find("a.event-link").await).await;
    assert_eq!(b.text_of("#event-id").await, "ord_42");
    assert_eq!(b.find_all("tr.attempt").await.len(), 1);
    assert!(
        b.text_of("pre.body").await.contains("\"customer\": {"),
        "pretty body"
    );

    // Replay it to every matching target: the new attempt appears without a reload.
    b.click(&b.find("#replay").await).await;
    let flash = b.text_of(".flash").await;
    assert_eq!(flash, "Replayed: 1 new delivery queued.");
    b.wait_for("the replayed attempt on the page", || async {
        (b.find_all("tr.attempt").await.len() == 2).then_some(())
    })
    .await;
    assert_eq!(f.sink.count(), 2);
    let detail = f.api(&format!("/events/{seq}")).await;
    assert_eq!(detail["jobs"].as_array().unwrap().len(), 2, "{detail}");

    // Retry one dead letter: it is delivered (the downstream answers 200 now).
    b.goto(&f.ui("/ui/dlq")).await;
    assert_eq!(b.find_all("tr[data-job]").await.len(), 3);
    b.click(&b.find("tr[data-job] button").await).await;
    assert!(b.text_of(".flash").await.ends_with("is queued again."));
    wait_until("the retried delivery", || async { f.flaky.count() == 4 }).await;

    // Retry all shown: the script posts them in batches, then reports.
    b.goto(&f.ui("/ui/dlq")).await;
    b.wait_for("two dead letters left", || async {
        (b.find_all("tr[data-job]").await.len() == 2).then_some(())
    })
    .await;
    b.click(&b.find("#retry-all").await).await;
    b.wait_for("the retry-all report", || async {
        let flash = b.find_all(".flash").await;
        match flash.first() {
            Some(e) => (b.text(e).await == "2 dead letters queued again.").then_some(()),
            None => None,
        }
    })
    .await;
    wait_until("every dead letter delivered", || async {
        f.flaky.count() == 6 && f.dead_letters().await == 0
    })
    .await;

    // Targets: the flaky target's recent attempts.
    b.goto(&f.ui("/ui/targets")).await;
    let row = b.text_of(r#"tr[data-target="flaky"]"#).await;
    assert!(row.contains("50% of 6 attempts"), "{row}");

    // A rejected reload shows on the configuration page with its place in the file.
    f.break_config().await;
    b.goto(&f.ui("/ui/config")).await;
    assert!(b.text_of("#reload-state").await.contains("rejected"));
    let errors = b.text_of("ul.reload-errors").await;
    assert!(
        errors.contains("targets.flaky.retries (line 15, column 5)"),
        "{errors}"
    );
}

#[actix_web::test]
async fn actions_need_the_session_and_its_csrf_token_and_sender_values_are_escaped() {
    let f = Fixture::start(0).await;
    let seq = f
        .send(
            "ord_<b>1</b>",
            "order.<script>alert(1)</script>",
            &[("X-Note", "<img src=x onerror=alert(2)>")],
        )
        .await;
    let replay = f.ui(&format!("/ui/events/{seq}/replay"));

    // No session: pages send to the log-in form, actions are refused; the JSON API still
    // wants its bearer token.
    let page = f.http.get(f.ui("/ui/events")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 303);
    assert!(page.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/ui/login"));
    let action = f
        .http
        .post(&replay)
        .form_pairs(&[("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(action.status().as_u16(), 401);
    let api = f.http.get(f.ui("/events")).send().await.unwrap();
    assert_eq!(api.status().as_u16(), 401);
    let wrong = f
        .http
        .post(f.ui("/ui/login"))
        .form_pairs(&[("token", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());

    // A session without the CSRF token (or with another) is refused, and nothing is queued.
    let cookie = f.login().await;
    for form in [vec![], vec![("csrf", "0123456789abcdef0123456789abcdef")]] {
        let refused = f
            .http
            .post(&replay)
            .header("Cookie", &cookie)
            .form_pairs(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status().as_u16(), 403, "{form:?}");
    }
    let detail = f.api(&format!("/events/{seq}")).await;
    assert_eq!(
        detail["jobs"].as_array().unwrap().len(),
        1,
        "no replay happened"
    );

    // The page's token works; everything the sender chose is escaped on the page.
    let page = f
        .http
        .get(f.ui(&format!("/ui/events/{seq}")))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(!html.contains("<b>1</b>"), "{html}");
    assert!(
        html.contains("order.&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(
        html.contains("&lt;img src=x onerror=alert(2)&gt;"),
        "{html}"
    );
    let csrf = html
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let accepted = f
        .http
        .post(&replay)
        .header("Cookie", &cookie)
        .form_pairs(&[("csrf", csrf.as_str()), ("target", "sink")])
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status().as_u16(), 303);
    let detail = f.api(&format!("/events/{seq}")).await;
    assert_eq!(detail["jobs"].as_array().unwrap().len(), 2, "{detail}");

    // Logging out needs the token too, and clears the cookie.
    let out = f
        .http
        .post(f.ui("/ui/logout"))
        .header("Cookie", &cookie)
        .form_pairs(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status().as_u16(), 303);
    assert!(out.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
}

#[actix_web::test]
async fn the_targets_page_shows_pause_and_breaker_state_and_pauses_and_resumes_a_target() {
    let f = Fixture::start(0).await;
    let cookie = f.login().await;
    let page = |cookie: String| {
        let f = &f;
        async move {
            f.http
                .get(f.ui("/ui/targets"))
                .header("Cookie", &cookie)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let html = page(cookie.clone()).await;
    let row = |html: &str| {
        let start = html
            .find(r#"<tr data-target="sink">"#)
            .expect("the sink's row");
        html[start..start + html[start..].find("</tr>").unwrap()].to_string()
    };
    assert!(row(&html).contains("delivering"), "{}", row(&html));
    assert!(row(&html).contains(">closed<"), "{}", row(&html));
    let csrf = html
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();

    // Without the CSRF token nothing changes.
    let refused = f
        .http
        .post(f.ui("/ui/targets/sink/pause"))
        .header("Cookie", &cookie)
        .form_pairs(&[("csrf", "0123456789abcdef0123456789abcdef")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    let api = f.api("/targets").await;
    let sink = |v: &Value| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "sink")
            .cloned()
            .unwrap()
    };
    assert_eq!(sink(&api)["paused"], false, "{api}");

    // With it: paused (as the admin API sees it), then resumed.
    let paused = f
        .http
        .post(f.ui("/ui/targets/sink/pause"))
        .header("Cookie", &cookie)
        .form_pairs(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(paused.status().as_u16(), 303);
    assert_eq!(sink(&f.api("/targets").await)["paused"], true);
    let html = page(cookie.clone()).await;
    assert!(
        row(&html).contains("paused") && row(&html).contains("Resume"),
        "{}",
        row(&html)
    );
    let resumed = f
        .http
        .post(f.ui("/ui/targets/sink/resume"))
        .header("Cookie", &cookie)
        .form_pairs(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status().as_u16(), 303);
    assert_eq!(sink(&f.api("/targets").await)["paused"], false);
    let unknown = f
        .http
        .post(f.ui("/ui/targets/nope/pause"))
        .header("Cookie", &cookie)
        .form_pairs(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
}

#[actix_web::test]
async fn a_reload_that_changes_the_admin_token_ends_the_console_sessions() {
    let f = Fixture::start(0).await;
    let cookie = f.login().await;
    let events = f.ui("/ui/events");
    let page = f
        .http
        .get(&events)
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);

    let before = f.router.log_count("config reloaded");
    write_by_rename(
        &f.path,
        &f.yaml
            .replace("token_env: ADMIN_TOKEN", "token_env: OTHER_TOKEN"),
    );
    f.router
        .wait_for_log("config reloaded", before + 1, Duration::from_secs(10))
        .await;
    let page = f
        .http
        .get(&events)
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 303, "the old session is gone");
    assert!(page.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/ui/login"));
    let old = f
        .http
        .post(f.ui("/ui/login"))
        .form_pairs(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        old.status().as_u16(),
        401,
        "the old token no longer logs in"
    );
    let new = f
        .http
        .post(f.ui("/ui/login"))
        .form_pairs(&[("token", OTHER_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(new.status().as_u16(), 303);
}

/// Regenerates `docs/console/*.png` (run `scripts/console-screenshots.sh`).
#[actix_web::test]
#[ignore = "writes docs/console/*.png; run scripts/console-screenshots.sh"]
async fn screenshots_of_each_page() {
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/console");
    std::fs::create_dir_all(&out).unwrap();
    let f = Fixture::start(2).await;
    f.send("in_1001", "invoice.paid", &[("User-Agent", "Billing/2.1")])
        .await;
    f.send("in_1002", "invoice.payment_failed", &[]).await;
    wait_until("two dead letters", || async { f.dead_letters().await == 2 }).await;
    let mut order = 0;
    for n in 0..8 {
        order = f
            .send(
                &format!("ord_{}", 5100 + n),
                "order.created",
                &[("User-Agent", "Shop/3.4")],
            )
            .await;
    }
    f.send("in_1003", "invoice.paid", &[]).await;
    wait_until("deliveries done", || async {
        f.sink.count() == 8 && f.flaky.count() == 3
    })
    .await;
    let b = Browser::start(1280, 800).await;
    let shot = |name: &'static str| {
        let b = &b;
        let out = out.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            std::fs::write(out.join(name), b.screenshot().await).unwrap();
        }
    };
    b.goto(&f.ui("/ui/login")).await;
    b.find("#token").await;
    shot("login.png").await;
    b.send_keys(&b.find("#token").await, &format!("{TOKEN}{ENTER}"))
        .await;
    b.find("form.filters").await;
    shot("events.png").await;
    b.goto(&f.ui(&format!("/ui/events/{order}?done=replay&n=1")))
        .await;
    b.find("#event-id").await;
    shot("event.png").await;
    b.goto(&f.ui("/ui/dlq")).await;
    b.find("tr[data-job]").await;
    shot("dead-letters.png").await;
    b.goto(&f.ui("/ui/targets")).await;
    b.find("tr[data-target]").await;
    shot("targets.png").await;
    f.break_config().await;
    b.goto(&f.ui("/ui/config")).await;
    b.find("ul.reload-errors").await;
    shot("configuration.png").await;
    b.viewport(390, 844, true).await;
    b.goto(&f.ui("/ui/events")).await;
    b.find("form.filters").await;
    shot("events-phone.png").await;
    b.goto(&f.ui(&format!("/ui/events/{order}"))).await;
    b.find("#event-id").await;
    shot("event-phone.png").await;
}

#[actix_web::test]
async fn an_open_admin_listener_hands_out_sessions_but_actions_still_need_the_csrf_token() {
    let env = hookroute::config::MapEnvironment::default().with("IN_SECRET", IN_SECRET);
    let router = ObservedRouter::start(
        &routes("  sink:\n    url: http://127.0.0.1:9/hook", &["sink"]),
        "",
        env,
    )
    .await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http
        .get(format!("{}/ui/dlq", router.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200, "no log-in without a token");
    let set = page.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_string();
    let html = page.text().await.unwrap();
    let csrf = html
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let retry = format!("{}/ui/dlq/retry", router.admin);
    let refused = http
        .post(&retry)
        .header("Cookie", &cookie)
        .form_pairs(&[("ids", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    let done = http
        .post(&retry)
        .header("Cookie", &cookie)
        .form_pairs(&[("ids", ""), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status().as_u16(), 303);
    // Another session's token does not do.
    let other = http
        .get(format!("{}/ui/dlq", router.admin))
        .send()
        .await
        .unwrap();
    let other_cookie = other.headers()["set-cookie"].to_str().unwrap();
    let other_cookie = other_cookie.split(';').next().unwrap().to_string();
    let crossed = http
        .post(&retry)
        .header("Cookie", &other_cookie)
        .form_pairs(&[("ids", ""), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(crossed.status().as_u16(), 403);
}
