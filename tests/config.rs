//! Loading the configuration: every example in the repo loads; `hookroute check` prints a table
//! for a good file and every mistake, with its place, for a bad one (exit 64).

mod common;

use common::*;
use hookroute::config;
use std::process::Command;

fn check(path: &std::path::Path, envs: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookroute"));
    cmd.arg("check").arg("--config").arg(path);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_example_yaml_in_the_repo_loads_without_errors_or_warnings() {
    let mut files = vec![repo_file("routes.example.yaml")];
    for entry in std::fs::read_dir(repo_file("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            files.push(path);
        }
    }
    for file in files {
        let cfg = config::load(&file, &dev_env()).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            cfg.warnings.is_empty(),
            "{}: {:?}",
            file.display(),
            cfg.warnings
        );
        assert!(!cfg.endpoints.is_empty());
    }
}

#[test]
fn check_prints_endpoints_rules_and_targets_and_exits_0() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookroute"));
    let out = cmd
        .args(["check", "--env-file"])
        .arg(repo_file("examples/dev.env"))
        .arg("--config")
        .arg(repo_file("routes.example.yaml"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "/webhook/stripe",
        "stripe",
        "payment_intent.succeeded",
        "payments-service",
        "http://127.0.0.1:9002/payments",
        "2 secrets",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
}

const MANY_MISTAKES: &str = r#"server:
  listen: localhost-8080
targets:
  billing:
    url: http://127.0.0.1:9000/x
    timeout: 5s
    colour: red
endpoints:
  - path: /a
    verify:
      provider: stripe
      secrets: [{env: HOOKROUTE_TEST_UNSET_SECRET}]
    rules:
      - match: { type: "invoice.*" }
        forward: [billing-typo]
  - path: /b
    verify:
      algorithm: hmac-sha256
      signature: { from: "header:X-Sig", encoding: hexadecimal }
      secrets: [{env: HOME}]
    event: { id: "json:$.id" }
    rules:
      - match:
          type: x
        forward: [billing]
"#;

#[test]
fn check_reports_every_mistake_with_its_place_and_exits_64() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    std::fs::write(&path, MANY_MISTAKES).unwrap();
    let (code, _, stderr) = check(&path, &[]);
    assert_eq!(code, 64, "{stderr}");
    for expected in [
        "server.listen (line 2, column 3): expected an address",
        "targets.billing.colour (line 7, column 5): unknown field `colour`, expected one of",
        "endpoints[0].verify.secrets[0].env (line 12, column 18): environment variable HOOKROUTE_TEST_UNSET_SECRET is not set",
        "endpoints[0].rules[0].forward[0] (line 15, column 19): unknown target \"billing-typo\"; defined targets: billing",
        "endpoints[1].verify.signature.encoding (line 19, column 42): unknown variant `hexadecimal`, expected one of `hex`, `base64`, `base64url`",
        "endpoints[1].rules[0].match.type (line 24, column 11): this rule matches on the event type, but the endpoint has no `event.type` source: it can never match",
    ] {
        assert!(stderr.contains(expected), "missing {expected:?} in:\n{stderr}");
    }
    assert!(stderr.contains("7 errors"), "{stderr}");
}

#[test]
fn a_yaml_syntax_error_is_reported_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    std::fs::write(&path, "endpoints:\n  - path: /a\n   verify: {\n").unwrap();
    let (code, _, stderr) = check(&path, &[]);
    assert_eq!(code, 64);
    assert!(stderr.contains("line 3, column"), "{stderr}");
}

#[test]
fn serve_refuses_to_start_on_a_bad_config_with_exit_64() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    std::fs::write(&path, MANY_MISTAKES).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hookroute"))
        .arg("serve")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HOOKROUTE_TEST_UNSET_SECRET"));
}

#[test]
fn storage_cache_size_takes_a_size_defaults_to_32mib_and_refuses_zero() {
    let routes = example_endpoints_and_targets();
    let load = |storage: &str| {
        config::load_str(
            &format!("admin: {{listen: 'off'}}\n{storage}{routes}"),
            std::path::Path::new("."),
            &dev_env(),
        )
    };
    assert_eq!(load("").unwrap().storage.cache_size, 32 << 20);
    let set = load("storage: {cache_size: 16MiB}\n").unwrap();
    assert_eq!(set.storage.cache_size, 16 << 20);
    let errors = load("storage: {cache_size: 0}\n").unwrap_err();
    assert_eq!(errors[0].path, "storage.cache_size", "{errors:?}");
    assert!(errors[0].message.contains("greater than 0"), "{errors:?}");
}
