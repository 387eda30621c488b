//! Configuration: `routes.yaml` is read (syntax), parsed into [`raw`] types (shape), then
//! compiled into an immutable [`Config`] (meaning: references resolved, secrets read, JSONPath,
//! regexes and templates compiled). One function, [`load`], serves `hookroute check`, start-up
//! and hot reload, and reports every error at once, each with its place in the file.

pub mod compile;
pub mod env;
pub mod error;
pub mod position;
pub mod raw;

use crate::endpoint::Endpoint;
use crate::target::Target;
pub use env::{Environment, MapEnvironment, ProcessEnvironment};
pub use error::{ConfigError, ConfigErrors};
use indexmap::IndexMap;
use position::PositionIndex;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A validated configuration, ready to serve.
#[derive(Debug)]
pub struct Config {
    pub server: ServerSettings,
    pub storage: StorageSettings,
    pub admin: AdminSettings,
    pub targets: IndexMap<Arc<str>, Arc<Target>>,
    pub endpoints: Vec<Arc<Endpoint>>,
    by_path: HashMap<String, Arc<Endpoint>>,
    /// Legal but suspicious: unused targets, endpoints with no rules, duplicate rules.
    pub warnings: Vec<ConfigError>,
    /// `tests:`, resolved: the fixtures `hookroute test` runs and start-up and reloads require
    /// to pass (see `crate::fixtures`).
    pub fixtures: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub max_body_size: usize,
    pub workers: Option<usize>,
    pub request_timeout: Duration,
    /// Rebuild provider URLs from `X-Forwarded-Proto` / `X-Forwarded-Host`.
    pub trust_forwarded_headers: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StorageSettings {
    /// Which engine holds the store (restart-only).
    pub backend: StorageBackend,
    /// The sled engine's directory (unused with PostgreSQL).
    pub data_dir: PathBuf,
    pub dedup_ttl: Duration,
    /// Finished events older than this are pruned with their jobs and attempts; `None` keeps
    /// them forever (`retention: off`).
    pub retention: Option<Duration>,
    /// How often the retention pass runs.
    pub prune_interval: Duration,
    /// The store's page cache in bytes (restart-only).
    pub cache_size: u64,
    /// Storage quota in bytes (`storage.max_size`); `None`: no limit.
    pub max_size: Option<u64>,
    /// Free space kept on the data directory's filesystem (`storage.min_free_space`); 0: off.
    pub min_free_space: u64,
}

/// The engine `storage.backend` names.
#[derive(Debug, Clone, PartialEq)]
pub enum StorageBackend {
    /// Embedded, in `data_dir`: one process.
    Sled,
    /// One PostgreSQL database shared by every instance.
    Postgres(PostgresSettings),
}

#[derive(Clone, PartialEq)]
pub struct PostgresSettings {
    /// The connection URL (a secret: its `Debug` is redacted).
    pub url: String,
    /// Where the URL came from (`env DATABASE_URL`, `file /run/secrets/db`), for messages.
    pub url_source: String,
    pub pool_size: u32,
    pub statement_timeout: Duration,
}

impl std::fmt::Debug for PostgresSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSettings")
            .field("url", &format_args!("<from {}>", self.url_source))
            .field("pool_size", &self.pool_size)
            .field("statement_timeout", &self.statement_timeout)
            .finish()
    }
}

impl StorageBackend {
    /// One line for `check` and the reload diff (never the URL itself).
    pub fn describe(&self) -> String {
        match self {
            StorageBackend::Sled => "sled".to_string(),
            StorageBackend::Postgres(pg) => format!(
                "postgres (url from {}, pool_size {}, statement_timeout {})",
                pg.url_source,
                pg.pool_size,
                humantime::format_duration(pg.statement_timeout)
            ),
        }
    }
}

impl StorageSettings {
    pub fn space_limits(&self) -> crate::store::quota::SpaceLimits {
        crate::store::quota::SpaceLimits {
            max_size: self.max_size,
            min_free_space: self.min_free_space,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AdminSettings {
    /// `None` when the admin API is off.
    pub listen: Option<SocketAddr>,
    pub token: Option<String>,
}

impl Config {
    pub fn endpoint(&self, path: &str) -> Option<&Arc<Endpoint>> {
        self.by_path.get(path)
    }

    pub fn target(&self, name: &str) -> Option<&Arc<Target>> {
        self.targets.get(name)
    }
}

/// Reads, parses and compiles the file at `path`. Relative paths inside it (data directory,
/// secret files) are taken from the file's own directory.
pub fn load(path: &Path, env: &dyn Environment) -> Result<Config, ConfigErrors> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigErrors {
        file: file.clone(),
        errors: vec![ConfigError::new("", format!("cannot read the file: {e}"))],
    })?;
    let base_dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    load_str(&text, base_dir, env).map_err(|errors| ConfigErrors { file, errors })
}

/// Parses and compiles configuration text.
pub fn load_str(
    text: &str,
    base_dir: &Path,
    env: &dyn Environment,
) -> Result<Config, Vec<ConfigError>> {
    let positions = PositionIndex::build(text);
    let locate = |mut errors: Vec<ConfigError>| {
        for e in &mut errors {
            if e.position.is_none() {
                e.position = positions.find(&e.path);
            }
        }
        errors
    };
    if text.trim().is_empty() {
        return Err(vec![ConfigError::new(
            "",
            "the file is empty: expected `endpoints:` and `targets:`",
        )]);
    }
    let raw: raw::RawConfig = match serde_yaml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let mut err = ConfigError::new("", e.to_string());
            if let Some(loc) = e.location() {
                err.position = Some((loc.line(), loc.column()));
                err.message = strip_location_suffix(&err.message);
            }
            return Err(vec![err]);
        }
    };
    let compiled = compile::compile(raw, base_dir, env);
    let mut compiled = compiled.map_err(locate)?;
    compiled.warnings = locate(std::mem::take(&mut compiled.warnings));
    Ok(compiled)
}

/// serde_yaml appends " at line L column C" to its messages; the position is shown apart.
fn strip_location_suffix(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

impl Config {
    pub(crate) fn assemble(
        server: ServerSettings,
        storage: StorageSettings,
        admin: AdminSettings,
        targets: IndexMap<Arc<str>, Arc<Target>>,
        endpoints: Vec<Arc<Endpoint>>,
        warnings: Vec<ConfigError>,
    ) -> Self {
        let by_path = endpoints
            .iter()
            .map(|e| (e.path.clone(), e.clone()))
            .collect();
        Self {
            server,
            storage,
            admin,
            targets,
            endpoints,
            by_path,
            warnings,
            fixtures: None,
        }
    }
}
