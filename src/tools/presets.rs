//! `hookroute presets` and `hookroute presets show NAME`: the built-in provider presets as the
//! binary has them (not as a document remembers them). The list is a table of each preset's
//! scheme, event id and type sources and the handshake it answers by default; `show` prints a
//! preset written out as an endpoint in the YAML a user writes, ready to copy and change:
//! the scheme (with its timestamp tolerance), the default event id and type, and the handshake.

use super::{CommandOutput, ToolError};
use crate::handshake;
use crate::signature::{self, Preset};
use serde_yaml::{Mapping, Value};
use std::fmt::Write;

/// The table of every preset.
pub fn list() -> Result<CommandOutput, ToolError> {
    let rows: Vec<[String; 5]> = signature::preset_names()
        .into_iter()
        .filter_map(signature::preset)
        .map(|preset| {
            let scheme = signature::scheme_from_value(preset.scheme.clone())
                .map(|s| s.describe())
                .unwrap_or_else(|_| "(does not compile)".into());
            [
                preset.name.clone(),
                preset.event_id.clone().unwrap_or_else(|| "(none)".into()),
                preset.event_type.clone().unwrap_or_else(|| "(none)".into()),
                automatic_handshake(&preset.name)
                    .map(|b| b.name.clone())
                    .unwrap_or_else(|| "-".into()),
                scheme,
            ]
        })
        .collect();
    let mut out = String::new();
    crate::check::table(
        &mut out,
        ["NAME", "EVENT ID", "EVENT TYPE", "HANDSHAKE", "SCHEME"],
        &rows,
    );
    out.push_str("\n`hookroute presets show NAME` prints one written out as YAML.\n");
    Ok(CommandOutput::ok(out))
}

/// One preset written out as an endpoint of `routes.yaml`.
pub fn show(name: &str) -> Result<CommandOutput, ToolError> {
    let preset = signature::preset(name).ok_or_else(|| {
        ToolError::usage(format!(
            "unknown preset {name:?}; the presets are: {}",
            signature::preset_names().join(", ")
        ))
    })?;
    Ok(CommandOutput::ok(written_out(preset)))
}

/// The YAML of `show`: comments on what to fill in, then a one-item endpoint list that loads
/// as it is (given the secret's environment variable) and verifies exactly as the preset does.
pub fn written_out(preset: &Preset) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Preset {name}, written out: the same as `verify: {{ provider: {name} }}`. Copy it under\n\
         # `endpoints:`, then change what you need (and add `rules:`).",
        name = preset.name
    );
    let mut verify = match &preset.scheme {
        Value::Mapping(m) => m.clone(),
        _ => Mapping::new(),
    };
    let mut secret = Mapping::new();
    secret.insert("env".into(), secret_variable(&preset.name).into());
    verify.insert(
        "secrets".into(),
        Value::Sequence(vec![Value::Mapping(secret)]),
    );
    let mut endpoint = Mapping::new();
    endpoint.insert("path".into(), format!("/webhook/{}", preset.name).into());
    endpoint.insert("verify".into(), Value::Mapping(verify));
    let mut event = Mapping::new();
    if let Some(id) = &preset.event_id {
        event.insert("id".into(), id.clone().into());
    }
    if let Some(event_type) = &preset.event_type {
        event.insert("type".into(), event_type.clone().into());
    }
    if !event.is_empty() {
        endpoint.insert("event".into(), Value::Mapping(event));
    }
    if let Some(builtin) = automatic_handshake(&preset.name) {
        endpoint.insert("handshake".into(), builtin.name.clone().into());
    }
    let yaml = serde_yaml::to_string(&Value::Sequence(vec![Value::Mapping(endpoint)]))
        .expect("a preset serializes");
    out.push_str(&yaml);
    if preset.event_id.is_none() {
        out.push_str(
            "  # event.id is required: the provider sends no event id, so name a unique field,\n  \
             # e.g. event: { id: \"json:$.id\" }\n",
        );
    }
    if preset.event_type.is_none() {
        out.push_str("  # no event type: rules match every event (no `match.type`)\n");
    }
    if let Some(builtin) = handshake::builtin(&preset.name).filter(|b| !b.automatic) {
        let _ = writeln!(
            out,
            "  # handshake: {{ builtin: {}, verify_token_env: NAME }}   # {} (not on by default)",
            builtin.name, builtin.about
        );
    }
    out
}

/// The handshake a preset's endpoints answer unless they say `handshake: false`.
fn automatic_handshake(preset: &str) -> Option<&'static handshake::Builtin> {
    handshake::builtin(preset).filter(|b| b.automatic)
}

/// `STRIPE_WEBHOOK_SECRET` for `stripe`, `TWILIO_JSON_WEBHOOK_SECRET` for `twilio-json`.
fn secret_variable(preset: &str) -> String {
    let stem: String = preset
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("{stem}_WEBHOOK_SECRET")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_prints_the_scheme_with_its_tolerance_event_sources_and_handshake() {
        let stripe = show("stripe").unwrap().stdout;
        assert!(stripe.contains("tolerance_seconds: 300"), "{stripe}");
        assert!(stripe.contains("id: json:$.id"), "{stripe}");
        assert!(stripe.contains("type: json:$.type"), "{stripe}");
        assert!(stripe.contains("- env: STRIPE_WEBHOOK_SECRET"), "{stripe}");
        assert!(!stripe.contains("handshake"), "{stripe}");
        let slack = show("slack").unwrap().stdout;
        assert!(slack.contains("handshake: slack"), "{slack}");
        let meta = show("meta").unwrap().stdout;
        assert!(
            meta.contains("# handshake: { builtin: meta, verify_token_env: NAME }"),
            "{meta}"
        );
    }

    #[test]
    fn an_unknown_preset_lists_the_real_ones() {
        let err = show("strype").unwrap_err();
        assert!(err.to_string().contains("stripe"), "{err}");
        assert_eq!(err.exit_code(), crate::cli::EXIT_USAGE);
    }

    #[test]
    fn secret_variables_are_shell_names() {
        assert_eq!(secret_variable("twilio-json"), "TWILIO_JSON_WEBHOOK_SECRET");
    }
}
