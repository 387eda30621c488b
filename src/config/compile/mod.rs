//! The compile step: raw config -> [`Config`]. Every section is compiled even when an earlier
//! one failed, so all errors come out together; references between sections (rule -> target)
//! are checked here. Settings get their defaults here too.

mod endpoint;
mod rules;
mod settings;
mod target;
mod verify;

use super::env::Environment;
use super::error::{join_path, ConfigError, ErrorSink};
use super::raw::{Lenient, RawConfig};
use super::Config;
use std::path::Path;

/// Turns a [`Lenient`] item into its value, or records its error under `path`.
pub(crate) fn take<T>(item: Lenient<T>, path: &str, sink: &mut ErrorSink) -> Option<T> {
    match item {
        Lenient::Ok(t) => Some(t),
        Lenient::Err { path: rel, message } => {
            sink.push(
                unknown_field_path(&join_path(path, &rel), &message),
                message,
            );
            None
        }
    }
}

/// Points "unknown field `x`" errors at the field itself, so the position is the key's line.
fn unknown_field_path(path: &str, message: &str) -> String {
    message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())
        .filter(|field| !path.ends_with(&format!(".{field}")) && path != *field)
        .map(|field| join_path(path, field))
        .unwrap_or_else(|| path.to_string())
}

pub fn compile(
    raw: RawConfig,
    base_dir: &Path,
    env: &dyn Environment,
) -> Result<Config, Vec<ConfigError>> {
    let mut sink = ErrorSink::default();
    let mut warnings = ErrorSink::default();

    let server = take(raw.server, "server", &mut sink)
        .map(|s| settings::server(s, &mut sink))
        .unwrap_or_default();
    let storage = take(raw.storage, "storage", &mut sink)
        .map(|s| settings::storage(s, base_dir, env, &mut sink))
        .unwrap_or_else(|| settings::storage(Default::default(), base_dir, env, &mut sink));
    let admin = take(raw.admin, "admin", &mut sink)
        .map(|a| settings::admin(a, env, &mut sink))
        .unwrap_or_default();

    let declared_targets: Vec<String> = raw.targets.keys().cloned().collect();
    let targets = target::compile_all(raw.targets, base_dir, env, &mut sink);
    let endpoints = endpoint::compile_all(
        raw.endpoints,
        &server,
        &targets,
        &declared_targets,
        base_dir,
        env,
        &mut sink,
        &mut warnings,
    );
    if endpoints.is_empty() && sink.is_empty() {
        warnings.push(
            "endpoints",
            "no endpoints: every request will be answered 404",
        );
    }
    for (name, target) in &targets {
        for header in target
            .forward_headers
            .iter()
            .filter(|h| crate::stored_headers::is_credential(h))
        {
            warnings.push(
                format!("targets.{name}.forward_headers"),
                format!("{header} is a credential: it is never stored, so never forwarded"),
            );
        }
    }
    for name in targets.keys() {
        let used = endpoints
            .iter()
            .any(|e| e.rules.iter().any(|r| r.targets.contains(name)));
        if !used {
            warnings.push(format!("targets.{name}"), "no rule forwards to this target");
        }
    }

    let fixtures = raw.tests.map(|tests| match base_dir == Path::new(".") {
        true => tests,
        false => base_dir.join(tests),
    });
    if let Some(path) = fixtures.as_ref().filter(|p| !p.exists()) {
        sink.push(
            "tests",
            format!(
                "{} does not exist (a directory of fixtures, or one file)",
                path.display()
            ),
        );
    }

    if !sink.is_empty() {
        return Err(sink.into_vec());
    }
    let mut config = Config::assemble(
        server,
        storage,
        admin,
        targets,
        endpoints,
        warnings.into_vec(),
    );
    config.fixtures = fixtures;
    Ok(config)
}
