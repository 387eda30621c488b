//! Built-in handshakes: data in `builtins.yaml`, embedded at build time and parsed once, in the
//! same YAML an endpoint writes, so a built-in is never special: an endpoint's overrides are
//! deep-merged over [`Builtin::handshake`] before it is compiled.

use serde::Deserialize;
use serde_yaml::Value;
use std::sync::LazyLock;

#[derive(Debug, Clone)]
pub struct Builtin {
    pub name: String,
    pub about: String,
    /// Answered by default on endpoints whose provider preset has this name.
    pub automatic: bool,
    /// The handshake as a raw YAML mapping, ready for merging and compiling.
    pub handshake: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    about: String,
    #[serde(default)]
    automatic: bool,
    handshake: Value,
}

const BUILTINS_YAML: &str = include_str!("builtins.yaml");

static BUILTINS: LazyLock<Vec<Builtin>> = LazyLock::new(|| {
    let entries: serde_yaml::Mapping =
        serde_yaml::from_str(BUILTINS_YAML).expect("builtins.yaml is a YAML mapping");
    let mut all: Vec<Builtin> = entries
        .into_iter()
        .map(|(name, entry)| {
            let name = name
                .as_str()
                .expect("handshake names are strings")
                .to_string();
            let entry: Entry = serde_yaml::from_value(entry)
                .unwrap_or_else(|err| panic!("builtins.yaml: handshake {name}: {err}"));
            Builtin {
                name,
                about: entry.about,
                automatic: entry.automatic,
                handshake: entry.handshake,
            }
        })
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
});

pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

pub fn builtin_names() -> Vec<&'static str> {
    BUILTINS.iter().map(|b| b.name.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provider_handshakes_are_built_in_and_parse() {
        assert_eq!(
            builtin_names(),
            ["discord", "line", "meta", "slack", "zoom"]
        );
        for b in BUILTINS.iter() {
            serde_yaml::from_value::<crate::handshake::raw::RawHandshake>(b.handshake.clone())
                .unwrap_or_else(|e| panic!("{}: {e}", b.name));
        }
        assert!(builtin("slack").unwrap().automatic);
        assert!(!builtin("meta").unwrap().automatic);
    }
}
