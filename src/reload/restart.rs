//! Settings a running process cannot change: the listeners are bound, the worker threads started
//! and the store opened at start-up. A reload that changes one of them still applies the rest;
//! the running value is kept in the new snapshot (so nothing reading the config sees a value
//! that is not in effect), and the difference is reported as "needs a restart". Because the
//! admin listener stays where it is until then, a reload that would leave it beyond loopback
//! without a token is refused ([`unguarded_admin`]), as start-up refuses such a file.

use super::status::RestartSetting;
use crate::config::{Config, ConfigError};

/// Settings of `wanted` (the file) that differ from `running` and need a restart to apply.
pub fn restart_settings(running: &Config, wanted: &Config) -> Vec<RestartSetting> {
    let mut out = Vec::new();
    let mut check = |name: &'static str, running: String, wanted: String| {
        if running != wanted {
            out.push(RestartSetting {
                name,
                running,
                wanted,
            });
        }
    };
    check(
        "server.listen",
        running.server.listen.to_string(),
        wanted.server.listen.to_string(),
    );
    check(
        "server.workers",
        workers(running.server.workers),
        workers(wanted.server.workers),
    );
    check(
        "storage.backend",
        running.storage.backend.describe(),
        wanted.storage.backend.describe(),
    );
    check(
        "storage.data_dir",
        running.storage.data_dir.display().to_string(),
        wanted.storage.data_dir.display().to_string(),
    );
    check(
        "storage.dedup_ttl",
        humantime::format_duration(running.storage.dedup_ttl).to_string(),
        humantime::format_duration(wanted.storage.dedup_ttl).to_string(),
    );
    check(
        "storage.cache_size",
        running.storage.cache_size.to_string(),
        wanted.storage.cache_size.to_string(),
    );
    check(
        "admin.listen",
        listen(running.admin.listen),
        listen(wanted.admin.listen),
    );
    out
}

/// Puts the running values of the restart-only settings into `new`.
pub fn keep_running(new: &mut Config, running: &Config) {
    new.server.listen = running.server.listen;
    new.server.workers = running.server.workers;
    new.storage.backend = running.storage.backend.clone();
    new.storage.data_dir = running.storage.data_dir.clone();
    new.storage.dedup_ttl = running.storage.dedup_ttl;
    new.storage.cache_size = running.storage.cache_size;
    new.admin.listen = running.admin.listen;
}

/// Why `wanted` cannot be applied while the admin API listens on `running`'s address: the
/// listener is bound beyond loopback and the new file has no token. The file alone may look
/// fine (it may move `admin.listen` back to loopback, or turn it off), but that move waits for a
/// restart while the token would be dropped now, leaving the open port unguarded.
pub fn unguarded_admin(running: &Config, wanted: &Config) -> Option<ConfigError> {
    let addr = running.admin.listen?;
    (!addr.ip().is_loopback() && wanted.admin.token.is_none()).then(|| {
        ConfigError::new(
            "admin.token_env",
            format!(
                "the running admin API listens on {addr}, beyond loopback: a bearer token is \
                 required until a restart moves it (token_env: NAME)"
            ),
        )
    })
}

fn workers(w: Option<usize>) -> String {
    w.map_or_else(|| "one per core".to_string(), |w| w.to_string())
}

fn listen(addr: Option<std::net::SocketAddr>) -> String {
    addr.map_or_else(|| "off".to_string(), |a| a.to_string())
}
