//! `hookroute presets` and `presets show NAME` on the real binary, and `event: { type: none }`:
//! the list names every preset the binary has; each preset written out by `show` loads as an
//! endpoint that verifies, reads the event and answers handshakes exactly as
//! `verify: { provider: NAME }` does; an endpoint with `type: none` lets a catch-all rule take
//! a request that has no type.

mod common;

use common::*;
use hookroute::config::{self, Config, MapEnvironment};
use hookroute::signature::{self, preset_names};
use std::path::Path;

const TARGETS: &str = "targets:\n  my-service:\n    url: http://127.0.0.1:9/hook\n";
const RULES: &str = "    rules:\n      - name: everything\n        forward: [my-service]\n";

/// A secret the preset's scheme accepts, in the form a receiver configures.
fn receiver_secret(name: &str) -> String {
    let scheme =
        signature::scheme_from_value(signature::preset(name).unwrap().scheme.clone()).unwrap();
    let signing = scheme.generate_signing_secret().unwrap();
    scheme.verifying_secret_text(&signing).unwrap()
}

fn load(yaml: &str, env: &MapEnvironment) -> Config {
    config::load_str(yaml, Path::new("."), env).unwrap_or_else(|e| panic!("{yaml}\n{e:#?}"))
}

#[actix_web::test]
async fn presets_lists_every_preset_with_its_event_sources_and_handshake() {
    let run = hookroute(&["presets"], &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    for name in preset_names() {
        assert!(
            run.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{name} "))),
            "no row for {name}:\n{}",
            run.stdout
        );
    }
    let row = |name: &str| {
        run.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap()
            .to_string()
    };
    assert!(row("stripe").contains("json:$.type"), "{}", row("stripe"));
    assert!(row("stripe").contains("kv:t-300s"), "{}", row("stripe"));
    assert!(row("slack").contains(" slack "), "{}", row("slack"));
    assert!(row("zoom").contains("(none)"), "{}", row("zoom"));
}

#[actix_web::test]
async fn every_preset_written_out_by_show_behaves_as_the_preset_itself() {
    for name in preset_names() {
        let run = hookroute(&["presets", "show", name], &[]).await;
        assert_eq!(run.code, Some(0), "{name}: {}", run.stderr);
        let preset = signature::preset(name).unwrap();
        // The output is an endpoint list item; an id is added where the provider sends none.
        let mut written = run.stdout.clone();
        if preset.event_id.is_none() {
            assert!(written.contains("event.id is required"), "{written}");
            let mut items: serde_yaml::Value = serde_yaml::from_str(&written).unwrap();
            let endpoint = items[0].as_mapping_mut().unwrap();
            let event = endpoint
                .entry("event".into())
                .or_insert_with(|| serde_yaml::Mapping::new().into());
            event["id"] = "json:$.id".into();
            written = serde_yaml::to_string(&items).unwrap();
        }
        let variable = written
            .lines()
            .find_map(|l| l.trim().strip_prefix("- env: "))
            .unwrap_or_else(|| panic!("{name}: no secret variable in\n{written}"))
            .to_string();
        let env = MapEnvironment::default().with(&variable, &receiver_secret(name));
        let indented: String = written.lines().map(|l| format!("  {l}\n")).collect();
        let from_show = load(&format!("{TARGETS}endpoints:\n{indented}{RULES}"), &env);

        let id = if preset.event_id.is_none() {
            "    event: { id: \"json:$.id\" }\n"
        } else {
            ""
        };
        let from_preset = load(
            &format!(
                "{TARGETS}endpoints:\n  - path: /webhook/{name}\n    verify:\n      provider: {name}\n      secrets: [{{ env: {variable} }}]\n{id}{RULES}"
            ),
            &env,
        );
        let (a, b) = (&from_show.endpoints[0], &from_preset.endpoints[0]);
        assert_eq!(a.scheme, b.scheme, "{name}: the scheme differs");
        assert_eq!(a.event_id.to_string(), b.event_id.to_string(), "{name}");
        assert_eq!(
            a.event_type.as_ref().map(ToString::to_string),
            b.event_type.as_ref().map(ToString::to_string),
            "{name}"
        );
        assert_eq!(
            a.handshake.as_ref().map(|h| h.describe()),
            b.handshake.as_ref().map(|h| h.describe()),
            "{name}: the handshake differs"
        );
    }
}

#[actix_web::test]
async fn presets_show_an_unknown_name_exits_64_and_lists_the_presets() {
    let run = hookroute(&["presets", "show", "strype"], &[]).await;
    assert_eq!(run.code, Some(64));
    assert!(run.stderr.contains("stripe"), "{}", run.stderr);
}

fn slack_config(dir: &Path, event: &str) -> std::path::PathBuf {
    let path = dir.join("routes.yaml");
    std::fs::write(
        &path,
        format!(
            "{TARGETS}endpoints:\n  - path: /webhook/slack\n    verify: {{ provider: slack, secrets: [{{ env: SLACK_SIGNING_SECRET }}] }}\n{event}{RULES}"
        ),
    )
    .unwrap();
    path
}

#[actix_web::test]
async fn event_type_none_lets_a_catch_all_rule_take_a_request_without_a_type() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "slack-test-secret";
    // A Slack Events API callback without `$.event.type` (an app rate-limit notice).
    let body = r#"{"type":"app_rate_limited","event_id":"Ev1","team_id":"T1"}"#;
    std::fs::write(dir.path().join("body.txt"), body).unwrap();
    let env = MapEnvironment::default().with("SLACK_SIGNING_SECRET", secret);
    let headers = |config: &Path| {
        let cfg = config::load(config, &env).unwrap();
        sign(&cfg, "/webhook/slack", body.as_bytes(), "Ev1")
    };
    let explain = |config: std::path::PathBuf, headers: Vec<(String, String)>| async move {
        let mut args = vec![
            "explain".to_string(),
            "--config".into(),
            config.display().to_string(),
            "--endpoint".into(),
            "/webhook/slack".into(),
            "--body".into(),
            config
                .parent()
                .unwrap()
                .join("body.txt")
                .display()
                .to_string(),
            "--json".into(),
        ];
        for (name, value) in headers {
            args.push("--header".into());
            args.push(format!("{name}: {value}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        hookroute(&args, &[("SLACK_SIGNING_SECRET", secret)]).await
    };

    let without = slack_config(dir.path(), "");
    let run = explain(without.clone(), headers(&without)).await;
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("missing_event_type"), "{}", run.stdout);

    let with = slack_config(dir.path(), "    event: { type: none }\n");
    let run = explain(with.clone(), headers(&with)).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("\"accepted\""), "{}", run.stdout);
    assert!(run.stdout.contains("my-service"), "{}", run.stdout);
}

#[test]
fn event_type_none_with_a_rule_on_the_type_is_an_error_with_its_place() {
    let env = MapEnvironment::default().with("SLACK_SIGNING_SECRET", "s");
    let yaml = format!(
        "{TARGETS}endpoints:\n  - path: /webhook/slack\n    verify: {{ provider: slack, secrets: [{{ env: SLACK_SIGNING_SECRET }}] }}\n    event: {{ type: none }}\n    rules:\n      - name: messages\n        match: {{ type: message }}\n        forward: [my-service]\n"
    );
    let errors = config::load_str(&yaml, Path::new("."), &env).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.path == "endpoints[0].rules[0].match.type"
                && e.message.contains("no `event.type` source")),
        "{errors:#?}"
    );
}
