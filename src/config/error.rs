//! Configuration errors: each names its place in the file (`endpoints[1].rules[0].match.type`),
//! with a line and column where the YAML gives one, and says what was expected. Loading collects
//! every error before it reports, so one `hookroute check` shows all the mistakes of a file.

use std::fmt;

/// One mistake in the configuration, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted path into the document, e.g. `endpoints[0].verify.secrets[1].env`; empty for the
    /// document as a whole (a syntax error, an unreadable file).
    pub path: String,
    /// 1-based line and column, where known.
    pub position: Option<(usize, usize)>,
    pub message: String,
}

impl ConfigError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            position: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.position, self.path.is_empty()) {
            (Some((line, col)), false) => {
                write!(
                    f,
                    "{} (line {line}, column {col}): {}",
                    self.path, self.message
                )
            }
            (Some((line, col)), true) => write!(f, "line {line}, column {col}: {}", self.message),
            (None, false) => write!(f, "{}: {}", self.path, self.message),
            (None, true) => f.write_str(&self.message),
        }
    }
}

/// Every error found in one load, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    pub file: String,
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        writeln!(
            f,
            "{}: {n} error{} in the configuration",
            self.file,
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.errors {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Collects errors under a path prefix while compiling.
#[derive(Debug, Default)]
pub struct ErrorSink {
    errors: Vec<ConfigError>,
}

impl ErrorSink {
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigError::new(path, message));
    }

    pub fn len(&self) -> usize {
        self.errors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn into_vec(self) -> Vec<ConfigError> {
        self.errors
    }
}

/// Joins a relative path (as serde_path_to_error prints it) under a prefix.
pub fn join_path(prefix: &str, relative: &str) -> String {
    match (prefix.is_empty(), relative) {
        (_, "" | ".") => prefix.to_string(),
        (true, rel) => rel.to_string(),
        (false, rel) if rel.starts_with('[') => format!("{prefix}{rel}"),
        (false, rel) => format!("{prefix}.{rel}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_path_handles_roots_indices_and_keys() {
        assert_eq!(join_path("endpoints[0]", "."), "endpoints[0]");
        assert_eq!(join_path("", "server.listen"), "server.listen");
        assert_eq!(
            join_path("endpoints[0]", "rules[1]"),
            "endpoints[0].rules[1]"
        );
        assert_eq!(
            join_path("endpoints[0].forward", "[2]"),
            "endpoints[0].forward[2]"
        );
    }

    #[test]
    fn display_names_place_and_position() {
        let mut e = ConfigError::new("server.listen", "expected host:port");
        e.position = Some((3, 11));
        assert_eq!(
            e.to_string(),
            "server.listen (line 3, column 11): expected host:port"
        );
    }
}
