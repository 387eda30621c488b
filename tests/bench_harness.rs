//! The benchmark harness (`bench/`, `BENCHMARKS.md`) stays runnable: its shell scripts and Python
//! files parse, the hookroute config `bench/run.sh` writes loads, and the requests
//! `bench/gen_requests.py` signs are verified by that config's endpoint and routed to its one
//! target. Measures nothing; the measuring is `bench/run.sh`.

mod common;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use common::*;
use hookroute::config::{load_str, MapEnvironment};
use hookroute::ingress::pipeline::{verify, InboundRequest};
use std::process::Command;
use std::time::SystemTime;

const SECRET: &str = "whsec_bench_secret";

fn bench_files(ext: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(repo_file("bench"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

#[test]
fn every_bench_script_parses() {
    for script in bench_files("sh") {
        let out = Command::new("bash")
            .arg("-n")
            .arg(&script)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for file in bench_files("py") {
        let out = Command::new("python3")
            .args(["-c", "import ast, sys; ast.parse(open(sys.argv[1]).read())"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The YAML between `<<YAML` and `YAML` in bench/run.sh, its shell variables filled in (the
/// sled storage block).
fn run_sh_config(dir: &std::path::Path) -> String {
    run_sh_config_with(dir, &format!("{{ data_dir: \"{}/data\" }}", dir.display()))
}

/// The same with `storage` as the storage block.
fn run_sh_config_with(dir: &std::path::Path, storage: &str) -> String {
    let script = std::fs::read_to_string(repo_file("bench/run.sh")).unwrap();
    let start = script.find("<<YAML\n").expect("run.sh writes a config") + "<<YAML\n".len();
    let end = start + script[start..].find("\nYAML\n").unwrap();
    script[start..end]
        .replace("$storage", storage)
        .replace("$admin_port", "18091")
        .replace("$sink_port", "18090")
        .replace("$port", "18080")
        .replace("$1", &dir.display().to_string())
        .replace("$2", "10s")
}

#[test]
fn the_postgres_rows_config_loads() {
    let dir = tempfile::tempdir().unwrap();
    let script = std::fs::read_to_string(repo_file("bench/run.sh")).unwrap();
    let pg_block = r#"{ backend: postgres, url: { env: BENCH_PG_URL } }"#;
    assert!(
        script.contains(pg_block),
        "run.sh writes this block for pg-* rows"
    );
    let env = MapEnvironment::default()
        .with("BENCH_STRIPE_SECRET", SECRET)
        .with("BENCH_PG_URL", "postgres://postgres@127.0.0.1:18092/bench");
    let config = load_str(&run_sh_config_with(dir.path(), pg_block), dir.path(), &env)
        .expect("the pg bench config loads");
    assert!(matches!(
        config.storage.backend,
        hookroute::config::StorageBackend::Postgres(_)
    ));
}

#[test]
fn the_bench_config_accepts_and_routes_the_generated_requests() {
    let dir = tempfile::tempdir().unwrap();
    let env = MapEnvironment::default().with("BENCH_STRIPE_SECRET", SECRET);
    let config =
        load_str(&run_sh_config(dir.path()), dir.path(), &env).expect("bench config loads");
    let endpoint = config.endpoint("/stripe").expect("the bench endpoint");

    let pool = dir.path().join("reqs.tsv");
    let status = Command::new("python3")
        .arg(repo_file("bench/gen_requests.py"))
        .args(["3", SECRET])
        .arg(&pool)
        .status()
        .unwrap();
    assert!(status.success());
    let lines = std::fs::read_to_string(&pool).unwrap();
    let mut ids = std::collections::BTreeSet::new();
    for line in lines.lines() {
        let (signature, body) = line.split_once('\t').unwrap();
        assert_eq!(body.len(), 1024, "every body is 1 KiB");
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("stripe-signature"),
            HeaderValue::from_str(signature).unwrap(),
        );
        let inbound = InboundRequest {
            headers: &headers,
            body: body.as_bytes(),
            received_at: SystemTime::now(),
            url: None,
        };
        let event = verify(endpoint, inbound)
            .expect("signed with the bench secret")
            .extract(endpoint)
            .unwrap();
        assert_eq!(event.route(endpoint).len(), 1, "one rule, one target");
        ids.insert(event.id.clone());
    }
    assert_eq!(ids.len(), 3, "unique event ids: {ids:?}");
}
