//! docs/providers.md cannot fall behind the presets: every preset has a `## NAME` section, every
//! section is a preset, and every YAML snippet loads
//! with the real config loader.

use hookroute::config::{self, MapEnvironment};
use hookroute::signature::{self, preset_names, Scheme};
use std::path::Path;

fn doc() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/providers.md"))
        .unwrap()
}

fn headings(doc: &str) -> Vec<String> {
    doc.lines()
        .filter_map(|line| line.strip_prefix("## "))
        .map(|h| h.trim().to_string())
        .collect()
}

/// The ```yaml blocks, each with the section it is in.
fn yaml_snippets(doc: &str) -> Vec<(String, String)> {
    let mut snippets = Vec::new();
    let (mut section, mut current) = (String::new(), None::<String>);
    for line in doc.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            section = h.trim().to_string();
        } else if line.trim() == "```yaml" {
            current = Some(String::new());
        } else if line.trim() == "```" {
            if let Some(text) = current.take() {
                snippets.push((section.clone(), text));
            }
        } else if let Some(text) = current.as_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    snippets
}

/// A secret the scheme accepts, in the form a receiver configures.
fn verifying_secret(scheme: &Scheme) -> String {
    let signing = scheme.generate_signing_secret().unwrap();
    scheme.verifying_secret_text(&signing).unwrap()
}

#[test]
fn every_preset_has_a_section_in_docs_providers_md() {
    let headings = headings(&doc());
    let missing: Vec<&str> = preset_names()
        .into_iter()
        .filter(|name| !headings.iter().any(|h| h == name))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/providers.md lacks sections for {missing:?}"
    );
    let strays: Vec<&String> = headings
        .iter()
        .filter(|h| signature::preset(h).is_none())
        .collect();
    assert!(strays.is_empty(), "sections for no preset: {strays:?}");
}

#[test]
fn every_yaml_snippet_in_docs_providers_md_loads() {
    let snippets = yaml_snippets(&doc());
    assert!(snippets.len() >= preset_names().len(), "{}", snippets.len());
    let mut loaded = 0;
    for (section, snippet) in &snippets {
        let preset = signature::preset(section);
        let preset = preset.unwrap_or_else(|| panic!("section {section} names no preset"));
        assert!(
            snippet.contains(&format!("provider: {section}")),
            "the {section} snippet uses another provider:\n{snippet}"
        );
        let scheme = signature::scheme_from_value(preset.scheme.clone()).unwrap();
        let env = snippet
            .lines()
            .filter_map(|l| l.trim().strip_prefix("- env: "))
            .fold(MapEnvironment::default(), |env, name| {
                env.with(name.trim(), &verifying_secret(&scheme))
            });
        let text = format!("targets:\n  my-service:\n    url: http://127.0.0.1:9/hook\n{snippet}");
        let cfg = config::load_str(&text, Path::new("."), &env)
            .unwrap_or_else(|errors| panic!("the {section} snippet:\n{snippet}\n{errors:#?}"));
        let endpoint = &cfg.endpoints[0];
        assert_eq!(endpoint.provider.as_deref(), Some(section.as_str()));
        loaded += 1;
    }
    assert_eq!(loaded, preset_names().len());
}
