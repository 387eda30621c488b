//! A ready-to-paste `curl` command for a signed request: every header and the URL quoted for a
//! POSIX shell, the body as `--data-binary @FILE` when it is an unchanged file, else inline.

use super::signer::SignedRequest;
use super::ToolError;
use std::path::Path;

/// The command, one argument group per line. `body_file` is the file the body was read from;
/// it is used only if the scheme did not change the body.
pub fn command(
    url: &str,
    signed: &SignedRequest,
    content_type: &str,
    body_file: Option<&Path>,
) -> Result<String, ToolError> {
    let url = signed.message.url.as_deref().unwrap_or(url);
    let mut lines = vec![format!("curl -sS -X POST {}", shell_quote(url))];
    let has_content_type = signed
        .message
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
    let mut headers = signed.message.headers.clone();
    if !has_content_type {
        headers.push(("Content-Type".to_string(), content_type.to_string()));
    }
    for (name, value) in &headers {
        lines.push(format!("-H {}", shell_quote(&format!("{name}: {value}"))));
    }
    let data = match body_file.filter(|_| !signed.body_changed) {
        Some(file) => format!(
            "--data-binary {}",
            shell_quote(&format!("@{}", file.display()))
        ),
        None => {
            let text = std::str::from_utf8(&signed.message.body)
                .ok()
                .filter(|t| !t.contains('\0'))
                .ok_or_else(|| {
                    ToolError::usage(
                        "the body is binary and cannot be written inline: give it with --body FILE",
                    )
                })?;
            format!("--data-binary {}", shell_quote(text))
        }
    };
    lines.push(data);
    Ok(format!("{}\n", lines.join(" \\\n  ")))
}

/// Quotes `text` as one word for a POSIX shell: as it is when it holds only safe characters,
/// else in single quotes (a `'` inside written as `'\''`).
pub fn shell_quote(text: &str) -> String {
    let safe = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:@%+=,".contains(&b));
    if safe {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::SignedMessage;

    fn signed(body: &str) -> SignedRequest {
        SignedRequest {
            message: SignedMessage {
                headers: vec![("X-Sig".into(), "sha256=ab".into())],
                body: body.as_bytes().to_vec(),
                url: None,
            },
            body_changed: false,
            url_changed: false,
            notes: vec![],
        }
    }

    #[test]
    fn quoting_survives_single_quotes_and_spaces() {
        assert_eq!(shell_quote("http://h:1/a"), "http://h:1/a");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn a_file_body_is_referenced_and_a_stdin_body_inlined() {
        let cmd = command(
            "http://h/x",
            &signed("{}"),
            "application/json",
            Some(Path::new("b.json")),
        )
        .unwrap();
        assert!(cmd.starts_with("curl -sS -X POST http://h/x \\\n"), "{cmd}");
        assert!(cmd.contains("-H 'X-Sig: sha256=ab'"), "{cmd}");
        assert!(cmd.contains("-H 'Content-Type: application/json'"), "{cmd}");
        assert!(cmd.ends_with("--data-binary @b.json\n"), "{cmd}");
        let cmd = command(
            "http://h/x",
            &signed(r#"{"a":"it's"}"#),
            "application/json",
            None,
        )
        .unwrap();
        let expected = "--data-binary '{\"a\":\"it'\\''s\"}'\n";
        assert!(cmd.ends_with(expected), "{cmd}");
    }
}
