//! Unit tests of a reload step without files or threads: the diff line and what `apply` keeps.

use super::apply::{apply, ReloadOutcome};
use super::diff::ConfigDiff;
use super::status::ReloadStatus;
use crate::config::{load_str, Config, ConfigErrors, MapEnvironment};
use arc_swap::ArcSwap;
use std::path::Path;
use std::sync::RwLock;
use std::time::{Duration, SystemTime};

fn env() -> MapEnvironment {
    MapEnvironment::default()
        .with("S1", "secret-one")
        .with("S2", "secret-two")
}

fn config(listen: &str, targets: &str, endpoints: &str) -> Config {
    let text = format!(
        "server: {{ listen: \"{listen}\" }}\nstorage: {{ data_dir: /tmp/hookroute-unit }}\nadmin: {{ listen: 'off' }}\ntargets:\n{targets}\nendpoints:\n{endpoints}"
    );
    load_str(&text, Path::new("/tmp"), &env()).unwrap_or_else(|e| panic!("{e:?}\n{text}"))
}

const TARGETS: &str =
    "  a: { url: \"http://127.0.0.1:9/a\" }\n  b: { url: \"http://127.0.0.1:9/b\" }";

fn endpoint(path: &str, secret: &str, rules: &str) -> String {
    format!(
        "  - path: {path}\n    verify: {{ provider: stripe, secrets: [{{ env: {secret} }}] }}\n    rules:\n{rules}"
    )
}

const RULE_A: &str = "      - { name: to-a, match: { type: [charge.*] }, forward: [a] }\n";
const RULE_B: &str = "      - { name: to-b, forward: [b] }\n";

#[test]
fn diff_names_endpoints_rules_and_targets_added_removed_and_changed() {
    let old = config(
        "127.0.0.1:0",
        TARGETS,
        &format!(
            "{}{}",
            endpoint("/one", "S1", &format!("{RULE_A}{RULE_B}")),
            endpoint("/two", "S1", RULE_B)
        ),
    );
    let new_targets =
        "  a: { url: \"http://127.0.0.1:9/a2\" }\n  b: { url: \"http://127.0.0.1:9/b\" }\n  c: { url: \"http://127.0.0.1:9/c\" }";
    let rule_a_changed = RULE_A.replace("charge.*", "invoice.*");
    let new = config(
        "127.0.0.1:0",
        new_targets,
        &format!(
            "{}{}{}",
            endpoint("/one", "S1", &rule_a_changed),
            endpoint("/two", "S2", RULE_B),
            endpoint("/three", "S1", "      - { forward: [c] }\n")
        ),
    );
    let diff = ConfigDiff::between(&old, &new);
    assert_eq!(diff.endpoints.added, ["/three"]);
    assert_eq!(
        diff.endpoints.changed,
        ["/two"],
        "a new secret changes /two"
    );
    assert!(diff.endpoints.removed.is_empty());
    assert_eq!(diff.rules.changed, ["/one#to-a"]);
    assert_eq!(diff.rules.removed, ["/one#to-b"]);
    assert_eq!(diff.targets.added, ["c"]);
    assert_eq!(diff.targets.changed, ["a"]);
    assert_eq!(
        diff.to_string(),
        "endpoints +/three ~/two; rules -/one#to-b ~/one#to-a; targets +c ~a"
    );
    let line = ConfigDiff::between(&new, &old).to_string();
    assert!(
        line.starts_with("endpoints -/three ~/two; rules +/one#to-b"),
        "{line}"
    );
    assert!(
        !line.contains("secret-"),
        "secrets are never printed: {line}"
    );
}

#[test]
fn the_same_file_loaded_twice_is_no_change() {
    let text = endpoint("/one", "S1", &format!("{RULE_A}{RULE_B}"));
    let diff = ConfigDiff::between(
        &config("127.0.0.1:0", TARGETS, &text),
        &config("127.0.0.1:0", TARGETS, &text),
    );
    assert!(diff.is_empty());
    assert_eq!(diff.to_string(), "no changes");
}

#[test]
fn live_storage_settings_are_named_in_the_diff() {
    let endpoints = endpoint("/one", "S1", RULE_B);
    let with_storage = |storage: &str| {
        let text = format!(
            "storage: {{ data_dir: /tmp/hookroute-unit{storage} }}\nadmin: {{ listen: 'off' }}\ntargets:\n{TARGETS}\nendpoints:\n{endpoints}"
        );
        load_str(&text, Path::new("/tmp"), &env()).unwrap_or_else(|e| panic!("{e:?}\n{text}"))
    };
    let diff = ConfigDiff::between(
        &with_storage(""),
        &with_storage(", retention: 'off', max_size: 64MiB"),
    );
    assert_eq!(diff.settings, ["storage.retention", "storage.max_size"]);
    assert!(!diff.is_empty());
    assert!(diff.needs_restart.is_empty());
}

#[test]
fn a_new_listen_address_needs_a_restart_and_the_rest_of_the_change_applies() {
    let before = config("127.0.0.1:0", TARGETS, &endpoint("/one", "S1", RULE_A));
    let current = ArcSwap::from_pointee(before);
    let status = RwLock::new(ReloadStatus::started(SystemTime::UNIX_EPOCH));
    let wanted = config(
        "127.0.0.1:9999",
        TARGETS,
        &format!(
            "{}{}",
            endpoint("/one", "S1", RULE_A),
            endpoint("/two", "S1", RULE_B)
        ),
    );
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(10);
    let ReloadOutcome::Applied(diff) = apply(&current, Ok(wanted), &status, now) else {
        panic!("expected the change to apply");
    };
    assert_eq!(
        diff.to_string(),
        "endpoints +/two; needs a restart: server.listen (127.0.0.1:0 -> 127.0.0.1:9999)"
    );
    let served = current.load();
    assert!(served.endpoint("/two").is_some());
    assert_eq!(
        served.server.listen.to_string(),
        "127.0.0.1:0",
        "the running value stays in the snapshot"
    );
    let status = status.read().unwrap();
    assert_eq!((status.applied, status.last_success), (1, now));
    assert_eq!(status.needs_restart[0].name, "server.listen");
}

#[test]
fn an_invalid_file_changes_nothing_and_is_recorded() {
    let before = config("127.0.0.1:0", TARGETS, &endpoint("/one", "S1", RULE_A));
    let current = ArcSwap::from_pointee(before);
    let snapshot = current.load_full();
    let status = RwLock::new(ReloadStatus::started(SystemTime::UNIX_EPOCH));
    let errors = load_str("endpoints: [", Path::new("/tmp"), &env()).unwrap_err();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(5);
    let loaded = Err(ConfigErrors {
        file: "routes.yaml".into(),
        errors,
    });
    assert!(matches!(
        apply(&current, loaded, &status, now),
        ReloadOutcome::Rejected(_)
    ));
    assert!(std::sync::Arc::ptr_eq(&snapshot, &current.load_full()));
    let status = status.read().unwrap();
    assert_eq!(status.failed, 1);
    assert_eq!(status.last_failure.as_ref().unwrap().at, now);
    assert!(status.last_failure.as_ref().unwrap().errors[0].contains("line"));
    assert!(!status.file_in_effect());
}

#[test]
fn a_valid_reload_after_a_failure_puts_the_file_back_in_effect() {
    let text = endpoint("/one", "S1", RULE_A);
    let current = ArcSwap::from_pointee(config("127.0.0.1:0", TARGETS, &text));
    let status = RwLock::new(ReloadStatus::started(SystemTime::UNIX_EPOCH));
    let t = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
    let bad = Err(ConfigErrors {
        file: "routes.yaml".into(),
        errors: vec![],
    });
    apply(&current, bad, &status, t(1));
    let outcome = apply(
        &current,
        Ok(config("127.0.0.1:0", TARGETS, &text)),
        &status,
        t(2),
    );
    assert!(matches!(outcome, ReloadOutcome::Unchanged(_)));
    let status = status.read().unwrap();
    assert!(status.file_in_effect());
    assert_eq!((status.failed, status.unchanged), (1, 1));
}
