//! Shared test helpers: the real app in-process on port 0 with a temporary store, the real
//! binary as a child process, and signing with the endpoint's own compiled scheme.

#![allow(dead_code)]

use arc_swap::ArcSwap;
use hookroute::app::Application;
use hookroute::config::{Config, MapEnvironment};
use hookroute::store::SledStore;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tempfile::TempDir;

pub fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

pub fn repo_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// The development secrets of `examples/dev.env`.
pub fn dev_env() -> MapEnvironment {
    let text = std::fs::read_to_string(repo_file("examples/dev.env")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .fold(MapEnvironment::default(), |env, (k, v)| env.with(k, v))
}

/// The example config with its server, storage and admin sections replaced for a test.
pub fn example_endpoints_and_targets() -> String {
    let text = std::fs::read_to_string(repo_file("routes.example.yaml")).unwrap();
    let start = text.find("\ntargets:").unwrap();
    text[start..].to_string()
}

/// Headers a real sender would send, from the endpoint's compiled scheme and first secret.
pub fn sign(config: &Config, path: &str, body: &[u8], id: &str) -> Vec<(String, String)> {
    sign_at(config, path, body, id, now_secs(), 0)
}

pub fn sign_at(config: &Config, path: &str, body: &[u8], id: &str, at: i64, secret: usize) -> Vec<(String, String)> {
    let ep = config.endpoint(path).expect("endpoint exists");
    ep.scheme.sign(&ep.secrets[secret], body, at, id)
}

/// The real app, in this process, on a loopback port, with a fresh store.
pub struct TestRouter {
    pub base: String,
    pub config: Arc<ArcSwap<Config>>,
    pub store: Arc<SledStore>,
    pub client: reqwest::Client,
    pub dir: TempDir,
}

impl TestRouter {
    /// `body` holds `targets:` and `endpoints:`; server, storage and admin are set here.
    pub async fn start(body: &str, env: MapEnvironment) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("routes.yaml");
        let yaml = format!(
            "server:\n  listen: 127.0.0.1:0\n  workers: 2\n  max_body_size: 64KiB\nstorage:\n  data_dir: {}\nadmin:\n  listen: 'off'\n{body}",
            dir.path().join("data").display()
        );
        std::fs::write(&path, yaml).unwrap();
        let app = match Application::build(&path, Arc::new(env)) {
            Ok(app) => app,
            Err(e) => panic!("app did not start: {e}"),
        };
        let base = format!("http://{}", app.addr());
        let config = app.config.clone();
        let store = app.store.clone();
        actix_web::rt::spawn(app.run_until_stopped());
        Self {
            base,
            config,
            store,
            client: reqwest::Client::new(),
            dir,
        }
    }

    pub fn sign(&self, path: &str, body: &[u8], id: &str) -> Vec<(String, String)> {
        sign(&self.config.load(), path, body, id)
    }

    pub async fn post(&self, path: &str, body: &[u8], headers: &[(String, String)]) -> (u16, Value) {
        post(&self.client, &format!("{}{path}", self.base), body, headers).await
    }

    /// Signs `body` for `path` and posts it.
    pub async fn post_signed(&self, path: &str, body: &[u8], id: &str) -> (u16, Value) {
        let headers = self.sign(path, body, id);
        self.post(path, body, &headers).await
    }
}

pub async fn post(client: &reqwest::Client, url: &str, body: &[u8], headers: &[(String, String)]) -> (u16, Value) {
    let mut req = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, json)
}

/// The real `hookroute` binary, serving a config, its stderr collected.
pub struct RouterProcess {
    pub child: Child,
    pub addr: String,
    pub log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl RouterProcess {
    /// Starts `hookroute serve` and waits until it says where it listens.
    pub fn start(config: &Path, envs: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookroute"));
        cmd.arg("serve")
            .arg("--config")
            .arg(config)
            .env_remove("HOOKROUTE_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("binary starts");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on http://").nth(1) {
                    let addr = addr.split_whitespace().next().unwrap_or_default();
                    let _ = tx.send(addr.to_string());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = loop {
            if let Ok(addr) = rx.recv_timeout(Duration::from_millis(50)) {
                break addr;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("hookroute exited with {status}: {:?}", log.lock().unwrap());
            }
            assert!(Instant::now() < deadline, "hookroute did not start: {:?}", log.lock().unwrap());
        };
        Self { child, addr, log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RouterProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
