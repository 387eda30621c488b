//! What the test-loop commands read: a body (a file or standard input), a secret (an
//! environment variable or a file; never echoed, not even in errors), and `Name: value` headers.

use super::ToolError;
use crate::config::Environment;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A body to sign or explain, and the file it came from (`None` for standard input).
#[derive(Debug, Clone)]
pub struct Body {
    pub bytes: Vec<u8>,
    pub file: Option<PathBuf>,
}

impl Body {
    /// Reads `path`, or standard input for `-`.
    pub fn read(path: &Path) -> Result<Self, ToolError> {
        if path == Path::new("-") {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|e| ToolError::usage(format!("cannot read the body from stdin: {e}")))?;
            return Ok(Self { bytes, file: None });
        }
        let bytes = std::fs::read(path).map_err(|e| {
            ToolError::usage(format!("cannot read the body file {}: {e}", path.display()))
        })?;
        Ok(Self {
            bytes,
            file: Some(path.to_path_buf()),
        })
    }
}

/// Reads a secret's text from the environment variable `env_name` or the file `file`
/// (surrounding whitespace removed). `None` when neither is given.
pub fn secret_text(
    env_name: Option<&str>,
    file: Option<&Path>,
    env: &dyn Environment,
) -> Result<Option<String>, ToolError> {
    let text = match (env_name, file) {
        (Some(name), _) => env
            .var(name)
            .ok_or_else(|| ToolError::usage(format!("environment variable {name} is not set")))?,
        (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
            ToolError::usage(format!("cannot read secret file {}: {e}", path.display()))
        })?,
        (None, None) => return Ok(None),
    };
    let text = text.trim().to_string();
    if text.is_empty() {
        return Err(ToolError::usage("the secret is empty"));
    }
    Ok(Some(text))
}

/// Parses `Name: value` lines as given to `--header`.
pub fn headers(lines: &[String]) -> Result<Vec<(String, String)>, ToolError> {
    lines
        .iter()
        .map(|line| {
            let (name, value) = line.split_once(':').ok_or_else(|| {
                ToolError::usage(format!("expected a header as `Name: value`, got {line:?}"))
            })?;
            let name = name.trim();
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ToolError::usage(format!("invalid header name {name:?}")));
            }
            Ok((name.to_string(), value.trim().to_string()))
        })
        .collect()
}

/// A content type for a body: JSON if it parses, a form if it looks like `a=1&b=2`, else
/// octet-stream.
pub fn content_type(body: &[u8]) -> &'static str {
    if serde_json::from_slice::<serde_json::Value>(body).is_ok() {
        return "application/json";
    }
    let looks_like_form = !body.is_empty()
        && body.contains(&b'=')
        && body
            .iter()
            .all(|b| b.is_ascii_graphic() && !b"\"{}<>".contains(b));
    if looks_like_form {
        "application/x-www-form-urlencoded"
    } else {
        "application/octet-stream"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MapEnvironment;

    #[test]
    fn headers_split_at_the_first_colon_and_are_trimmed() {
        let parsed = headers(&["Stripe-Signature: t=1,v1=ab:cd".to_string()]).unwrap();
        assert_eq!(
            parsed,
            vec![("Stripe-Signature".into(), "t=1,v1=ab:cd".into())]
        );
        assert!(headers(&["no colon".to_string()]).is_err());
        assert!(headers(&["bad name: x".to_string()]).is_err());
    }

    #[test]
    fn a_missing_secret_variable_is_named_and_the_value_never_shown() {
        let env = MapEnvironment::default().with("SET", "  s3cret\n");
        assert_eq!(
            secret_text(Some("SET"), None, &env).unwrap().as_deref(),
            Some("s3cret")
        );
        let err = secret_text(Some("UNSET"), None, &env).unwrap_err();
        assert!(err.to_string().contains("UNSET"), "{err}");
        assert_eq!(secret_text(None, None, &env).unwrap(), None);
    }

    #[test]
    fn content_type_follows_the_body() {
        assert_eq!(content_type(br#"{"a":1}"#), "application/json");
        assert_eq!(
            content_type(b"To=%2B1&Body=hi"),
            "application/x-www-form-urlencoded"
        );
        assert_eq!(content_type(b"\x00\x01"), "application/octet-stream");
    }
}
