//! Where secrets and `${env:NAME}` values come from. Read through a trait so that tests give
//! their own values without touching the process environment.

use std::collections::HashMap;
use std::path::Path;

pub trait Environment: Send + Sync {
    fn var(&self, name: &str) -> Option<String>;
    fn read_file(&self, path: &Path) -> std::io::Result<String>;
}

/// The real process environment and file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn read_file(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// Fixed variables (files still come from disk), for tests.
#[derive(Debug, Default, Clone)]
pub struct MapEnvironment(pub HashMap<String, String>);

impl MapEnvironment {
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.0.insert(name.to_string(), value.to_string());
        self
    }
}

impl Environment for MapEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }

    fn read_file(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// Replaces every `${env:NAME}` in `text`; the error names the first variable that is unset.
pub fn interpolate(text: &str, env: &dyn Environment) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${env:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 6..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unterminated ${{env:...}} in {text:?}"))?;
        let name = &after[..end];
        let value = env
            .var(name)
            .ok_or_else(|| format!("environment variable {name} is not set"))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_and_names_missing_variables() {
        let env = MapEnvironment::default().with("TOKEN", "abc");
        assert_eq!(
            interpolate("Bearer ${env:TOKEN}", &env).unwrap(),
            "Bearer abc"
        );
        assert_eq!(interpolate("plain", &env).unwrap(), "plain");
        let err = interpolate("${env:NOPE}", &env).unwrap_err();
        assert!(err.contains("NOPE"), "{err}");
    }
}

/// Variables from a `KEY=VALUE` file (`#` comments, optional quotes) under the process
/// environment, which wins.
#[derive(Debug, Default, Clone)]
pub struct LayeredEnvironment {
    file_vars: HashMap<String, String>,
}

impl LayeredEnvironment {
    pub fn from_env_file(path: &Path) -> std::io::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        let file_vars = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.strip_prefix("export ").unwrap_or(l).split_once('='))
            .map(|(k, v)| {
                let v = v.trim();
                let v = v
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                    .unwrap_or(v);
                (k.trim().to_string(), v.to_string())
            })
            .collect();
        Ok(Self { file_vars })
    }
}

impl Environment for LayeredEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name)
            .ok()
            .or_else(|| self.file_vars.get(name).cloned())
    }

    fn read_file(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}
