//! Shared test helpers: the real app in-process on port 0 with a temporary store, the real
//! binary as a child process, and signing with the endpoint's own compiled scheme.

#![allow(dead_code)]

use arc_swap::ArcSwap;
use hookroute::app::Application;
use hookroute::config::{Config, MapEnvironment};
use hookroute::store::Stores;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tempfile::TempDir;

pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
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

pub fn sign_at(
    config: &Config,
    path: &str,
    body: &[u8],
    id: &str,
    at: i64,
    secret: usize,
) -> Vec<(String, String)> {
    let ep = config.endpoint(path).expect("endpoint exists");
    ep.scheme.sign(&ep.secrets[secret], body, at, id)
}

/// How many events `store` holds.
pub async fn event_count(store: &Stores) -> usize {
    store.events.counts().await.expect("counts").events
}

/// Every job of every stored event, with its id and attempts, in event order.
pub async fn all_jobs(store: &Stores) -> Vec<hookroute::store::JobDetail> {
    let mut jobs = Vec::new();
    let mut after = None;
    loop {
        let page = store.events.events_page(after, 500).await.expect("events");
        let Some(last) = page.last() else { break };
        after = Some(last.seq);
        for event in &page {
            let detail = store.events.event_detail(event.seq).await.expect("detail");
            jobs.extend(detail.map(|d| d.jobs).unwrap_or_default());
        }
    }
    jobs
}

/// The real app, in this process, on a loopback port, with a fresh store.
pub struct TestRouter {
    pub base: String,
    pub config: Arc<ArcSwap<Config>>,
    pub store: Stores,
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

    pub async fn post(
        &self,
        path: &str,
        body: &[u8],
        headers: &[(String, String)],
    ) -> (u16, Value) {
        post(&self.client, &format!("{}{path}", self.base), body, headers).await
    }

    /// Signs `body` for `path` and posts it.
    pub async fn post_signed(&self, path: &str, body: &[u8], id: &str) -> (u16, Value) {
        let headers = self.sign(path, body, id);
        self.post(path, body, &headers).await
    }
}

pub async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &[u8],
    headers: &[(String, String)],
) -> (u16, Value) {
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

/// Like [`eventually`], with a check that awaits (a store read).
pub async fn wait_for<T, F>(timeout: Duration, what: &str, mut check: impl FnMut() -> F) -> T
where
    F: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl RouterProcess {
    /// Starts `hookroute serve` and waits until it says where it listens.
    pub fn start(config: &Path, envs: &[(&str, &str)]) -> Self {
        Self::spawn(Self::serve_command(None, config, envs))
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

impl RouterProcess {
    /// How many log lines so far contain `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Waits until at least `n` log lines contain `needle`; panics with the log after `timeout`.
    pub async fn wait_for_log(&self, needle: &str, n: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.log_count(needle) < n {
            assert!(
                Instant::now() < deadline,
                "no {n} log lines with {needle:?} within {timeout:?}:\n{}",
                self.log.lock().unwrap().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Sends SIGHUP to the router (with the `kill` command, no libc).
    pub fn hangup(&self) {
        let status = Command::new("kill")
            .arg("-HUP")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -HUP failed: {status}");
    }
}

/// Replaces `path` as editors and deploy tools do: a temporary file in the same directory,
/// then a rename over the old one.
pub fn write_by_rename(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp-write");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The real app on a data directory the test owns, so it can be stopped and started again.
pub struct RunningApp {
    pub base: String,
    pub config: Arc<ArcSwap<Config>>,
    pub store: Stores,
    pub client: reqwest::Client,
    stop: actix_web::dev::ServerHandle,
    run: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningApp {
    /// Writes `dir/routes.yaml` (server, storage in `dir/data`, admin off, then `body`) and
    /// starts the app, retrying for a while if a previous app's store is still being released.
    pub async fn start_in(dir: &Path, body: &str, env: MapEnvironment) -> Self {
        let path = dir.join("routes.yaml");
        let yaml = format!(
            "server:\n  listen: 127.0.0.1:0\n  workers: 2\nstorage:\n  data_dir: {}\nadmin:\n  listen: 'off'\n{body}",
            dir.join("data").display()
        );
        std::fs::write(&path, yaml).unwrap();
        let env: Arc<MapEnvironment> = Arc::new(env);
        let deadline = Instant::now() + Duration::from_secs(10);
        let app = loop {
            match Application::build(&path, env.clone()) {
                Ok(app) => break app,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("app not started yet: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("app did not start: {e}"),
            }
        };
        let base = format!("http://{}", app.addr());
        let (config, store, stop) = (app.config.clone(), app.store.clone(), app.stop_handle());
        let run = actix_web::rt::spawn(app.run_until_stopped());
        Self {
            base,
            config,
            store,
            client: reqwest::Client::new(),
            stop,
            run,
        }
    }

    pub async fn post_signed(&self, path: &str, body: &[u8], id: &str) -> (u16, Value) {
        let headers = sign(&self.config.load(), path, body, id);
        post(
            &self.client,
            &format!("{}{path}", self.base),
            body,
            &headers,
        )
        .await
    }

    /// Stops the server as SIGTERM would and waits until `run_until_stopped` has returned.
    pub async fn stop(self) {
        self.stop.stop(true).await;
        self.run.await.unwrap().unwrap();
    }
}

/// One scripted answer of a [`Downstream`].
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: vec![],
            body: String::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body(mut self, body: &str) -> Self {
        self.body = body.into();
        self
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A request a [`Downstream`] received.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct DownstreamState {
    script: Vec<Reply>,
    received: std::sync::Mutex<Vec<Received>>,
}

/// A real HTTP server on loopback that records every request and answers from a script (the
/// last reply repeats once the script runs out).
pub struct Downstream {
    pub url: String,
    state: Arc<DownstreamState>,
}

impl Downstream {
    pub fn start(script: Vec<Reply>) -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap(), script)
    }

    pub fn start_on(addr: std::net::SocketAddr, script: Vec<Reply>) -> Self {
        use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
        assert!(!script.is_empty());
        let state = Arc::new(DownstreamState {
            script,
            received: Default::default(),
        });
        let data = web::Data::from(state.clone());
        let handler = |req: HttpRequest, body: web::Bytes, state: web::Data<DownstreamState>| async move {
            let reply = {
                let mut received = state.received.lock().unwrap();
                received.push(Received {
                    at: Instant::now(),
                    path: req.path().to_string(),
                    headers: req
                        .headers()
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.as_str().to_string(),
                                String::from_utf8_lossy(v.as_bytes()).into_owned(),
                            )
                        })
                        .collect(),
                    body: body.to_vec(),
                });
                state.script[(received.len() - 1).min(state.script.len() - 1)].clone()
            };
            tokio::time::sleep(reply.delay).await;
            let mut resp =
                HttpResponse::build(actix_web::http::StatusCode::from_u16(reply.status).unwrap());
            for (k, v) in &reply.headers {
                resp.insert_header((k.as_str(), v.as_str()));
            }
            resp.body(reply.body)
        };
        let listener = std::net::TcpListener::bind(addr).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(handler))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        Self { url, state }
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.state.received.lock().unwrap().len()
    }
}

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T>(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl RouterProcess {
    /// The admin API's address, from the "admin listening on http://ADDR" log line.
    pub async fn admin_addr(&self) -> String {
        self.wait_for_log("admin listening on http://", 1, Duration::from_secs(10))
            .await;
        let log = self.log.lock().unwrap();
        let line = log
            .iter()
            .find(|l| l.contains("admin listening on http://"))
            .unwrap();
        let addr = line.split("admin listening on http://").nth(1).unwrap();
        addr.split_whitespace().next().unwrap().to_string()
    }
}

/// What a `hookroute` CLI run printed, and its exit code.
#[derive(Debug)]
pub struct CliRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the real `hookroute` binary with `args` (without waiting on the test's runtime thread).
pub async fn hookroute(args: &[&str], envs: &[(&str, &str)]) -> CliRun {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_hookroute"));
    cmd.args(args)
        .env_remove("HOOKROUTE_ADMIN_URL")
        .env_remove("HOOKROUTE_ADMIN_TOKEN");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().await.expect("hookroute runs");
    CliRun {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `targets` (YAML lines under `targets:`) and one endpoint `/in` forwarding to `forward`.
pub fn routes(targets: &str, forward: &[&str]) -> String {
    format!(
        r#"
targets:
{targets}
endpoints:
  - path: /in
    name: in
    verify:
      algorithm: hmac-sha256
      signature: {{ from: "header:X-Signature", prefix: "x-sha256=", encoding: hex }}
      payload: "{{body}}"
      secrets:
        - env: IN_SECRET
    event:
      id: "json:$.id"
    rules:
      - name: all
        forward: [{}]
"#,
        forward.join(", ")
    )
}

/// The real app in this process with its admin API on a loopback port (no token), a fresh
/// store, and `storage_extra` (YAML lines, each indented two spaces) added under `storage:`.
/// For tests of `/metrics`, `/readyz` and retention.
pub struct ObservedRouter {
    pub base: String,
    pub admin: String,
    pub config: Arc<ArcSwap<Config>>,
    pub store: Stores,
    pub client: reqwest::Client,
    pub config_path: PathBuf,
    pub dir: TempDir,
}

impl ObservedRouter {
    pub async fn start(body: &str, storage_extra: &str, env: MapEnvironment) -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), body, storage_extra, env).await
    }

    /// Like [`ObservedRouter::start`], on `dir` (whose `data` may already hold a store).
    pub async fn start_in(
        dir: TempDir,
        body: &str,
        storage_extra: &str,
        env: MapEnvironment,
    ) -> Self {
        let path = dir.path().join("routes.yaml");
        let yaml = format!(
            "server:\n  listen: 127.0.0.1:0\n  workers: 2\nstorage:\n  data_dir: {}\n{storage_extra}admin:\n  listen: 127.0.0.1:0\n{body}",
            dir.path().join("data").display()
        );
        std::fs::write(&path, yaml).unwrap();
        let app = match Application::build(&path, Arc::new(env)) {
            Ok(app) => app,
            Err(e) => panic!("app did not start: {e}"),
        };
        let base = format!("http://{}", app.addr());
        let admin = format!("http://{}", app.admin_addr().expect("admin API on"));
        let (config, store) = (app.config.clone(), app.store.clone());
        actix_web::rt::spawn(app.run_until_stopped());
        Self {
            base,
            admin,
            config,
            store,
            client: reqwest::Client::new(),
            config_path: path,
            dir,
        }
    }

    pub async fn post_signed(&self, path: &str, body: &[u8], id: &str) -> (u16, Value) {
        let headers = sign(&self.config.load(), path, body, id);
        post(
            &self.client,
            &format!("{}{path}", self.base),
            body,
            &headers,
        )
        .await
    }

    /// GET on the admin API: status and JSON body.
    pub async fn admin_get(&self, path: &str) -> (u16, Value) {
        let resp = self
            .client
            .get(format!("{}{path}", self.admin))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// `/metrics`, parsed.
    pub async fn scrape(&self) -> Scrape {
        let resp = self
            .client
            .get(format!("{}/metrics", self.admin))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        Scrape(resp.text().await.unwrap())
    }
}

/// A `/metrics` page: look series up by name and labels.
#[derive(Debug, Clone)]
pub struct Scrape(pub String);

impl Scrape {
    /// The value of the series `name` whose labels are exactly `labels` (in any order).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut wanted: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        wanted.sort();
        self.0
            .lines()
            .filter(|l| !l.starts_with('#'))
            .find_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                let (series_name, mut have) = match series.split_once('{') {
                    Some((n, rest)) => (
                        n,
                        rest.trim_end_matches('}')
                            .split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect::<Vec<_>>(),
                    ),
                    None => (series, vec![]),
                };
                have.sort();
                (series_name == name && have == wanted).then(|| value.parse().ok())?
            })
    }

    /// Like [`Scrape::value`], panicking with the page when the series is missing.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels)
            .unwrap_or_else(|| panic!("no series {name}{labels:?} in:\n{}", self.0))
    }
}

impl RouterProcess {
    /// `hookroute serve --config CONFIG` with `envs`, stderr piped; run under `wrapper` (a
    /// program and its arguments, e.g. strace) when given.
    pub fn serve_command(
        wrapper: Option<&[&str]>,
        config: &Path,
        envs: &[(&str, &str)],
    ) -> Command {
        let mut cmd = match wrapper {
            Some([program, args @ ..]) => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg(env!("CARGO_BIN_EXE_hookroute"));
                cmd
            }
            _ => Command::new(env!("CARGO_BIN_EXE_hookroute")),
        };
        cmd.arg("serve")
            .arg("--config")
            .arg(config)
            .env_remove("HOOKROUTE_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd
    }

    /// Spawns `cmd` (see [`RouterProcess::serve_command`]) and waits until the router says
    /// where it listens.
    pub fn spawn(mut cmd: Command) -> Self {
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
            assert!(
                Instant::now() < deadline,
                "hookroute did not start: {:?}",
                log.lock().unwrap()
            );
        };
        Self { child, addr, log }
    }
}

pub mod checker;
pub mod postgres;
