//! Server, storage and admin settings: defaults and checks.

use crate::config::compile::verify::read_secret;
use crate::config::env::Environment;
use crate::config::error::ErrorSink;
use crate::config::raw::{RawAdmin, RawServer, RawStorage};
use crate::config::{
    AdminSettings, PostgresSettings, ServerSettings, StorageBackend, StorageSettings,
};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9090";
pub const DEFAULT_MAX_BODY: usize = 1 << 20;
pub const DEFAULT_DEDUP_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Free space kept on the data directory's filesystem unless `storage.min_free_space` says
/// otherwise: sled 0.34 does not fail cleanly on a full disk (its writers block forever), so
/// the router stops accepting well before.
pub const DEFAULT_MIN_FREE_SPACE: u64 = 64 << 20;
/// Smallest `storage.max_size` accepted.
pub const MIN_STORAGE_QUOTA: u64 = 1 << 20;
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
pub const DEFAULT_PRUNE_INTERVAL: Duration = Duration::from_secs(60);
pub const DEFAULT_PG_POOL_SIZE: u32 = 10;
pub const DEFAULT_PG_STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);
pub use crate::store::DEFAULT_CACHE_SIZE;

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.parse().expect("valid default"),
            max_body_size: DEFAULT_MAX_BODY,
            workers: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            trust_forwarded_headers: false,
        }
    }
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self {
            listen: Some(DEFAULT_ADMIN_LISTEN.parse().expect("valid default")),
            token: None,
        }
    }
}

pub fn server(raw: RawServer, sink: &mut ErrorSink) -> ServerSettings {
    let defaults = ServerSettings::default();
    let listen = match raw.listen.as_deref() {
        None => defaults.listen,
        Some(s) => parse_addr(s, "server.listen", sink).unwrap_or(defaults.listen),
    };
    let max_body_size = match raw.max_body_size {
        None => defaults.max_body_size,
        Some(b) if b.0 == 0 => {
            sink.push("server.max_body_size", "must be greater than 0");
            defaults.max_body_size
        }
        Some(b) => b.0 as usize,
    };
    if raw.workers == Some(0) {
        sink.push("server.workers", "must be at least 1");
    }
    ServerSettings {
        listen,
        max_body_size,
        workers: raw.workers.filter(|w| *w > 0),
        request_timeout: raw.request_timeout.unwrap_or(defaults.request_timeout),
        trust_forwarded_headers: raw
            .trust_forwarded_headers
            .unwrap_or(defaults.trust_forwarded_headers),
    }
}

pub fn storage(
    raw: RawStorage,
    base_dir: &Path,
    env: &dyn Environment,
    sink: &mut ErrorSink,
) -> StorageSettings {
    let backend = backend(&raw, base_dir, env, sink);
    let data_dir = raw.data_dir.unwrap_or_else(|| "data".into());
    let prune_interval = match raw.prune_interval {
        None => DEFAULT_PRUNE_INTERVAL,
        Some(d) if d.is_zero() => {
            sink.push("storage.prune_interval", "must be greater than 0");
            DEFAULT_PRUNE_INTERVAL
        }
        Some(d) => d,
    };
    let max_size = match raw.max_size {
        Some(b) if b.0 < MIN_STORAGE_QUOTA => {
            sink.push(
                "storage.max_size",
                format!(
                    "must be at least {MIN_STORAGE_QUOTA} bytes (1MiB): an empty store already takes some space, got {}",
                    b.0
                ),
            );
            None
        }
        other => other.map(|b| b.0),
    };
    let cache_size = match raw.cache_size {
        None => DEFAULT_CACHE_SIZE,
        Some(b) if b.0 == 0 => {
            sink.push("storage.cache_size", "must be greater than 0");
            DEFAULT_CACHE_SIZE
        }
        Some(b) => b.0,
    };
    StorageSettings {
        backend,
        cache_size,
        data_dir: if data_dir.is_absolute() || base_dir == Path::new(".") {
            data_dir
        } else {
            base_dir.join(data_dir)
        },
        dedup_ttl: raw.dedup_ttl.unwrap_or(DEFAULT_DEDUP_TTL),
        retention: retention(raw.retention.as_deref(), sink),
        prune_interval,
        max_size,
        min_free_space: raw.min_free_space.map_or(DEFAULT_MIN_FREE_SPACE, |b| b.0),
    }
}

/// `storage.backend` and the PostgreSQL keys: `url` (a secret reference), `pool_size`,
/// `statement_timeout`, accepted only with `backend: postgres`. DECISION: the sled-only keys
/// (`data_dir`, `cache_size`, `max_size`, `min_free_space`) are errors with `postgres` rather
/// than silently unused: a file that sets them expects them to apply.
fn backend(
    raw: &RawStorage,
    base_dir: &Path,
    env: &dyn Environment,
    sink: &mut ErrorSink,
) -> StorageBackend {
    let postgres_keys = [
        ("storage.url", raw.url.is_some()),
        ("storage.pool_size", raw.pool_size.is_some()),
        ("storage.statement_timeout", raw.statement_timeout.is_some()),
    ];
    match raw.backend.as_deref().map(str::trim) {
        None | Some("sled") => {
            for (key, set) in postgres_keys {
                if set {
                    sink.push(key, "only applies with `backend: postgres`");
                }
            }
            StorageBackend::Sled
        }
        Some("postgres") => {
            let sled_keys = [
                ("storage.data_dir", raw.data_dir.is_some()),
                ("storage.cache_size", raw.cache_size.is_some()),
                ("storage.max_size", raw.max_size.is_some()),
                ("storage.min_free_space", raw.min_free_space.is_some()),
            ];
            for (key, set) in sled_keys {
                if set {
                    sink.push(key, "applies to the sled backend only (`backend: postgres` keeps its data in the database)");
                }
            }
            let pool_size = match raw.pool_size {
                None => DEFAULT_PG_POOL_SIZE,
                Some(0) => {
                    sink.push("storage.pool_size", "must be at least 1");
                    DEFAULT_PG_POOL_SIZE
                }
                Some(n) => n,
            };
            let statement_timeout = match raw.statement_timeout {
                None => DEFAULT_PG_STATEMENT_TIMEOUT,
                Some(d) if d < Duration::from_millis(1) => {
                    sink.push("storage.statement_timeout", "must be at least 1ms");
                    DEFAULT_PG_STATEMENT_TIMEOUT
                }
                Some(d) => d,
            };
            let Some(url_ref) = &raw.url else {
                sink.push(
                    "storage.url",
                    "required with `backend: postgres`: `url: { env: NAME }` or `url: { file: PATH }`",
                );
                return StorageBackend::Sled;
            };
            let Some(url) = read_secret(url_ref, "storage.url", base_dir, env, sink) else {
                return StorageBackend::Sled;
            };
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                sink.push(
                    "storage.url",
                    "expected a URL like postgres://user:password@host:5432/dbname (the value is not shown: it is a secret)",
                );
            }
            let url_source = match (&url_ref.env, &url_ref.file) {
                (Some(name), _) => format!("env {name}"),
                (_, Some(file)) => format!("file {}", file.display()),
                _ => String::new(),
            };
            StorageBackend::Postgres(PostgresSettings {
                url,
                url_source,
                pool_size,
                statement_timeout,
            })
        }
        Some(other) => {
            sink.push(
                "storage.backend",
                format!("unknown backend {other:?}: expected `sled` or `postgres`"),
            );
            StorageBackend::Sled
        }
    }
}

/// `storage.retention`: a duration, or `off` to keep finished events forever. DECISION: `0` is
/// an error rather than a synonym of either "prune at once" or "off": both readings are
/// plausible, so the file must say which.
fn retention(raw: Option<&str>, sink: &mut ErrorSink) -> Option<Duration> {
    let Some(text) = raw else {
        return Some(DEFAULT_RETENTION);
    };
    if text.trim() == "off" {
        return None;
    }
    match humantime::parse_duration(text.trim()) {
        Ok(d) if d.is_zero() => {
            sink.push(
                "storage.retention",
                "must be greater than 0 (write `off` to keep events forever)",
            );
            Some(DEFAULT_RETENTION)
        }
        Ok(d) => Some(d),
        Err(e) => {
            sink.push(
                "storage.retention",
                format!("expected a duration like 30d or 12h, or `off`, got {text:?} ({e})"),
            );
            Some(DEFAULT_RETENTION)
        }
    }
}

pub fn admin(raw: RawAdmin, env: &dyn Environment, sink: &mut ErrorSink) -> AdminSettings {
    let listen = match raw.listen.as_deref() {
        None => AdminSettings::default().listen,
        Some("off") => None,
        Some(s) => parse_addr(s, "admin.listen", sink),
    };
    let token = raw
        .token_env
        .as_deref()
        .and_then(|name| match env.var(name) {
            Some(t) if !t.is_empty() => Some(t),
            _ => {
                sink.push(
                    "admin.token_env",
                    format!("environment variable {name} is not set"),
                );
                None
            }
        });
    if let Some(addr) = listen {
        if !addr.ip().is_loopback() && token.is_none() {
            sink.push(
                "admin.token_env",
                format!("the admin API listens on {addr}, beyond loopback: a bearer token is required (token_env: NAME)"),
            );
        }
    }
    AdminSettings { listen, token }
}

fn parse_addr(s: &str, path: &str, sink: &mut ErrorSink) -> Option<SocketAddr> {
    match s.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            sink.push(
                path,
                format!("expected an address like 127.0.0.1:8080 or [::]:8080, got {s:?}"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{load_str, MapEnvironment, StorageBackend};
    use std::path::Path;
    use std::time::Duration;

    const REST: &str = "targets:\n  t: { url: \"http://127.0.0.1:9/x\" }\nendpoints:\n  - path: /in\n    verify: { provider: github, secrets: [{ env: S }] }\n    rules: [{ forward: t }]\n";

    fn load(storage: &str, env: MapEnvironment) -> Result<crate::config::Config, Vec<String>> {
        let text = format!("storage:\n{storage}{REST}");
        load_str(&text, Path::new("."), &env.with("S", "secret")).map_err(|errs| {
            errs.iter()
                .map(|e| format!("{}: {}", e.path, e.message))
                .collect()
        })
    }

    #[test]
    fn a_postgres_backend_reads_its_url_like_a_secret_with_defaults_for_the_rest() {
        let env = MapEnvironment::default().with("DB", "postgres://u:p@db:5432/hooks");
        let cfg = load("  backend: postgres\n  url: { env: DB }\n", env).unwrap();
        let StorageBackend::Postgres(pg) = &cfg.storage.backend else {
            panic!("expected postgres");
        };
        assert_eq!(pg.url, "postgres://u:p@db:5432/hooks");
        assert_eq!(
            (pg.pool_size, pg.statement_timeout),
            (10, Duration::from_secs(10))
        );
        assert!(
            !format!("{pg:?}").contains("u:p@"),
            "the URL is redacted in Debug"
        );
        assert!(!cfg.storage.backend.describe().contains("u:p@"));
        let sled = load("  dedup_ttl: 1h\n", MapEnvironment::default()).unwrap();
        assert_eq!(
            sled.storage.backend,
            StorageBackend::Sled,
            "sled stays the default"
        );
    }

    #[test]
    fn postgres_settings_errors_name_their_key() {
        let env = MapEnvironment::default().with("DB", "mysql://nope");
        let errors = load(
            "  backend: postgres\n  url: { env: DB }\n  pool_size: 0\n  statement_timeout: 0s\n  cache_size: 1MiB\n",
            env,
        )
        .unwrap_err();
        let joined = errors.join("\n");
        for key in [
            "storage.url:",
            "storage.pool_size:",
            "storage.statement_timeout:",
            "storage.cache_size:",
        ] {
            assert!(joined.contains(key), "{key} missing from {joined}");
        }
        assert!(!joined.contains("mysql://nope"), "the URL is never echoed");
        let missing = load("  backend: postgres\n", MapEnvironment::default()).unwrap_err();
        assert!(
            missing[0].starts_with("storage.url: required"),
            "{missing:?}"
        );
        let unset = load(
            "  backend: postgres\n  url: { env: NOPE }\n",
            MapEnvironment::default(),
        )
        .unwrap_err();
        assert!(unset[0].contains("NOPE is not set"), "{unset:?}");
        let unknown = load("  backend: mongo\n", MapEnvironment::default()).unwrap_err();
        assert!(
            unknown[0].contains("expected `sled` or `postgres`"),
            "{unknown:?}"
        );
        let stray = load("  pool_size: 4\n", MapEnvironment::default()).unwrap_err();
        assert!(
            stray[0].starts_with("storage.pool_size: only applies"),
            "{stray:?}"
        );
    }
}
