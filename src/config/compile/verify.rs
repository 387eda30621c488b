//! An endpoint's `verify:` block: the provider preset it names, the user's overrides merged over
//! it and compiled into a [`Scheme`], and its secrets read from the environment or files (also
//! used for targets' outbound signing secrets).

use crate::config::env::Environment;
use crate::config::error::{join_path, ErrorSink};
use crate::config::raw::RawSecretRef;
use crate::signature::{self, Scheme, SecretKey};
use serde_yaml::{Mapping, Value};
use std::path::Path;

pub(super) struct CompiledVerify {
    pub preset: Option<&'static signature::Preset>,
    pub scheme: Scheme,
    pub secrets: Vec<SecretKey>,
}

/// Takes `provider` out of `verify:`: `Some(None)` for a scheme written out, `None` when the
/// named provider does not exist (already reported).
pub(super) fn lookup_preset(
    verify: &mut Mapping,
    path: &str,
    sink: &mut ErrorSink,
) -> Option<Option<&'static signature::Preset>> {
    match verify.remove("provider") {
        None => Some(None),
        Some(Value::String(name)) => match signature::preset(&name) {
            Some(p) => Some(Some(p)),
            None => {
                sink.push(
                    format!("{path}.provider"),
                    format!(
                        "unknown provider {name:?}, expected one of: {}",
                        signature::preset_names().join(", ")
                    ),
                );
                None
            }
        },
        Some(_) => {
            sink.push(format!("{path}.provider"), "expected a provider name");
            None
        }
    }
}

/// `verify:` holds `provider` (a preset, already taken out), `secrets`, and scheme fields that
/// override the preset's (or, with no provider, the whole scheme).
pub(super) fn compile_verify(
    mut verify: Mapping,
    preset: Option<&'static signature::Preset>,
    path: &str,
    base_dir: &Path,
    env: &dyn Environment,
    sink: &mut ErrorSink,
) -> Option<CompiledVerify> {
    let before = sink.len();
    let secret_refs: Vec<RawSecretRef> = match verify.remove("secrets") {
        None => {
            sink.push(
                format!("{path}.secrets"),
                "required: at least one secret, e.g. `secrets: [{env: STRIPE_WEBHOOK_SECRET}]`",
            );
            Vec::new()
        }
        Some(v) => match serde_path_to_error::deserialize::<_, Vec<RawSecretRef>>(v) {
            Ok(refs) if refs.is_empty() => {
                sink.push(format!("{path}.secrets"), "at least one secret is required");
                refs
            }
            Ok(refs) => refs,
            Err(e) => {
                sink.push(
                    join_path(&format!("{path}.secrets"), &e.path().to_string()),
                    e.into_inner().to_string(),
                );
                Vec::new()
            }
        },
    };
    // Read every secret first, so a missing variable is reported even if the scheme is wrong.
    let secret_texts: Vec<(usize, String, String)> = secret_refs
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let text = read_secret(r, &format!("{path}.secrets[{i}]"), base_dir, env, sink)?;
            let label = r
                .env
                .clone()
                .or_else(|| r.file.as_ref().map(|f| f.display().to_string()))
                .unwrap_or_default();
            Some((i, label, text))
        })
        .collect();
    let scheme_value = match preset {
        Some(p) => {
            let mut base = p.scheme.clone();
            signature::merge_yaml(&mut base, Value::Mapping(verify));
            base
        }
        None if verify.is_empty() => {
            sink.push(
                path,
                format!(
                    "expected `provider:` (one of: {}) or a scheme (`algorithm`, `signature`, `payload`, ...)",
                    signature::preset_names().join(", ")
                ),
            );
            return None;
        }
        None => Value::Mapping(verify),
    };
    let scheme = match signature::parse_scheme_value(scheme_value) {
        Ok(raw) => match signature::compile_scheme(&raw) {
            Ok(s) => Some(s),
            Err(errors) => {
                for e in errors {
                    sink.push(join_path(path, &e.path), e.message);
                }
                None
            }
        },
        Err(e) => {
            sink.push(join_path(path, &e.path), e.message);
            None
        }
    }?;
    let mut secrets = Vec::new();
    for (i, label, text) in secret_texts {
        match scheme.decode_secret(&text) {
            Ok(key) => secrets.push(key.with_label(label)),
            Err(msg) => sink.push(
                format!("{path}.secrets[{i}]"),
                format!("the secret from {label} cannot be used: {msg}"),
            ),
        }
    }
    if sink.len() != before {
        return None;
    }
    Some(CompiledVerify {
        preset,
        scheme,
        secrets,
    })
}

/// Reads one secret reference: exactly one of `env` and `file`; missing or empty fails.
pub(crate) fn read_secret(
    r: &RawSecretRef,
    path: &str,
    base_dir: &Path,
    env: &dyn Environment,
    sink: &mut ErrorSink,
) -> Option<String> {
    let value = match (&r.env, &r.file) {
        (Some(name), None) => match env.var(name) {
            Some(v) => v,
            None => {
                sink.push(
                    format!("{path}.env"),
                    format!("environment variable {name} is not set"),
                );
                return None;
            }
        },
        (None, Some(file)) => {
            let full = base_dir.join(file);
            match env.read_file(&full) {
                Ok(v) => v,
                Err(e) => {
                    sink.push(
                        format!("{path}.file"),
                        format!("cannot read secret file {}: {e}", full.display()),
                    );
                    return None;
                }
            }
        }
        _ => {
            sink.push(
                path,
                "expected exactly one of `env: VAR_NAME` or `file: PATH`",
            );
            return None;
        }
    };
    let value = value.trim_end_matches(['\n', '\r']).to_string();
    if value.is_empty() {
        sink.push(path, "the secret is empty");
        return None;
    }
    Some(value)
}
