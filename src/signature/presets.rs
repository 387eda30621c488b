//! Built-in provider presets. The presets are data (`presets.yaml`, embedded at build time and
//! parsed once), written in the same scheme YAML a user writes, so a preset is never special:
//! a caller deep-merges the user's overrides over [`Preset::scheme`] with [`merge_yaml`], then
//! parses and compiles the result like any other scheme.

use std::sync::LazyLock;

use serde::Deserialize;
use serde_yaml::Value;

/// A named provider preset.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    pub name: String,
    /// The scheme as a raw YAML mapping, ready for [`merge_yaml`] and
    /// [`super::parse_scheme_value`].
    pub scheme: Value,
    /// Where the provider puts the event id (`json:$.id`, `header:X-GitHub-Delivery`), if anywhere.
    pub event_id: Option<String>,
    /// Where the provider puts the event type, if anywhere.
    pub event_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetEntry {
    scheme: Value,
    #[serde(default)]
    event: PresetEvent,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetEvent {
    id: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
}

const PRESETS_YAML: &str = include_str!("presets.yaml");

/// Every preset, sorted by name. The embedded file is checked by this module's tests.
static PRESETS: LazyLock<Vec<Preset>> = LazyLock::new(|| {
    let entries: serde_yaml::Mapping =
        serde_yaml::from_str(PRESETS_YAML).expect("presets.yaml is a YAML mapping");
    let mut presets: Vec<Preset> = entries
        .into_iter()
        .map(|(name, entry)| {
            let name = name.as_str().expect("preset names are strings").to_string();
            let entry: PresetEntry = serde_yaml::from_value(entry)
                .unwrap_or_else(|err| panic!("presets.yaml: preset {name}: {err}"));
            Preset {
                name,
                scheme: entry.scheme,
                event_id: entry.event.id,
                event_type: entry.event.event_type,
            }
        })
        .collect();
    presets.sort_by(|a, b| a.name.cmp(&b.name));
    presets
});

/// The preset with this name, if there is one.
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|preset| preset.name == name)
}

/// Names of all presets, sorted.
pub fn preset_names() -> Vec<&'static str> {
    PRESETS.iter().map(|preset| preset.name.as_str()).collect()
}

/// Deep-merges `overlay` into `base`: mappings are merged key by key (the overlay wins), any
/// other value is replaced. An explicit `null` in the overlay replaces too, which is how a user
/// removes an optional block such as `timestamp`.
pub fn merge_yaml(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Mapping(base), Value::Mapping(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) => merge_yaml(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{compile_scheme, parse_scheme_value};
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn every_preset_parses_and_compiles() {
        assert!(preset_names().len() >= 26, "{:?}", preset_names());
        for preset in PRESETS.iter() {
            let raw = parse_scheme_value(preset.scheme.clone())
                .unwrap_or_else(|err| panic!("{}: {err}", preset.name));
            compile_scheme(&raw).unwrap_or_else(|errs| panic!("{}: {errs:?}", preset.name));
        }
    }

    #[test]
    fn required_presets_exist_with_their_event_sources() {
        let stripe = preset("stripe").unwrap();
        assert_eq!(stripe.event_id.as_deref(), Some("json:$.id"));
        assert_eq!(stripe.event_type.as_deref(), Some("json:$.type"));
        let github = preset("github").unwrap();
        assert_eq!(github.event_id.as_deref(), Some("header:X-GitHub-Delivery"));
        assert_eq!(preset("zoom").unwrap().event_id, None);
        for name in [
            "standard-webhooks",
            "svix",
            "stripe",
            "github",
            "github-sha1",
            "shopify",
            "slack",
            "paddle",
            "lemonsqueezy",
            "typeform",
            "bitbucket",
            "intercom",
            "zoom",
            "gitlab",
            "aghanim",
            "hookroute-seed",
            "square",
            "twilio",
            "twilio-json",
            "linear",
            "mailgun",
            "sendgrid",
            "adyen",
            "meta",
            "discord",
            "standard-webhooks-ed25519",
        ] {
            assert!(preset(name).is_some(), "missing preset {name}");
        }
        assert!(preset("no-such-provider").is_none());
        let twilio = preset("twilio").unwrap();
        assert_eq!(
            twilio.event_id.as_deref(),
            Some("header:I-Twilio-Idempotency-Token")
        );
        let mailgun = preset("mailgun").unwrap();
        assert_eq!(
            mailgun.event_type.as_deref(),
            Some("json:$['event-data'].event")
        );
    }

    #[test]
    fn preset_names_are_sorted() {
        let names = preset_names();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
    }

    #[test]
    fn merge_overrides_a_nested_field_and_keeps_the_rest() {
        let mut base = preset("stripe").unwrap().scheme.clone();
        merge_yaml(&mut base, yaml("timestamp: { tolerance_seconds: 60 }"));
        let raw = parse_scheme_value(base).unwrap();
        let ts = raw.timestamp.unwrap();
        assert_eq!(ts.tolerance_seconds, 60);
        assert_eq!(ts.from, "kv:t");
        assert!(!ts.reject_future);
    }

    #[test]
    fn merge_replaces_non_mappings_and_null_removes_a_block() {
        let mut base = yaml("a: { b: [1, 2], c: x }\nt: { from: y }");
        merge_yaml(&mut base, yaml("a: { b: [3] }\nt: null\nn: 1"));
        assert_eq!(base, yaml("a: { b: [3], c: x }\nt: null\nn: 1"));
    }

    #[test]
    fn merged_override_with_a_typo_is_reported_with_its_path() {
        let mut base = preset("github").unwrap().scheme.clone();
        merge_yaml(&mut base, yaml("signature: { encodin: base64 }"));
        let err = parse_scheme_value(base).unwrap_err();
        assert_eq!(err.path, "signature.encodin", "{err}");
        assert!(err.message.contains("encodin"), "{err}");
    }
}
