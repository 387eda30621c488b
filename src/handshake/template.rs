//! Values a handshake reads from its request and the response templates built from them.
//! A [`RequestValue`] is `json:$.path` (the parsed body) or `query:NAME` (the URL's query). A
//! template is text with placeholders: `{json:$.path}`, `{query:NAME}`, and
//! `{hmac-sha256:hex|base64:SOURCE}` (the HMAC of a request value under the endpoint's first
//! secret, as Zoom's `encryptedToken`); `{{` and `}}` are literal braces. Compiled at load.

use crate::jsonpath::JsonPath;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::fmt;

/// What a handshake can read of its request.
pub struct RequestValues<'a> {
    pub json: Option<&'a Value>,
    /// Decoded query parameters, in order.
    pub query: &'a [(String, String)],
}

#[derive(Clone)]
pub enum RequestValue {
    Json(JsonPath),
    Query(String),
}

impl RequestValue {
    pub fn parse(spec: &str) -> Result<Self, String> {
        if let Some(path) = spec.strip_prefix("json:") {
            return JsonPath::compile(path.trim()).map(RequestValue::Json);
        }
        if let Some(name) = spec.strip_prefix("query:") {
            let name = name.trim();
            if name.is_empty() {
                return Err("expected a query parameter name after \"query:\"".into());
            }
            return Ok(RequestValue::Query(name.to_string()));
        }
        Err(format!(
            "expected \"json:<JSONPath>\" (e.g. json:$.challenge) or \"query:<NAME>\", got {spec:?}"
        ))
    }

    /// Strings verbatim, numbers and booleans as JSON text; `None` when absent or a container.
    pub fn read(&self, values: &RequestValues<'_>) -> Option<String> {
        match self {
            RequestValue::Query(name) => values
                .query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone()),
            RequestValue::Json(path) => match path.first(values.json?)? {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            },
        }
    }

    pub fn is_json(&self) -> bool {
        matches!(self, RequestValue::Json(_))
    }
}

impl fmt::Display for RequestValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestValue::Json(p) => write!(f, "json:{}", p.as_str()),
            RequestValue::Query(name) => write!(f, "query:{name}"),
        }
    }
}

impl fmt::Debug for RequestValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacEncoding {
    Hex,
    Base64,
}

#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Value(RequestValue),
    Hmac(MacEncoding, RequestValue),
}

/// Text with placeholders, compiled.
#[derive(Debug, Clone)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// A request value a template needs was not in the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingValue(pub String);

impl Template {
    pub fn compile(source: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = source;
        while let Some(i) = rest.find(['{', '}']) {
            text.push_str(&rest[..i]);
            let tail = &rest[i..];
            if tail.starts_with("{{") || tail.starts_with("}}") {
                text.push_str(&tail[..1]);
                rest = &tail[2..];
                continue;
            }
            if tail.starts_with('}') {
                return Err(format!(
                    "unmatched '}}' in {source:?} (write '}}}}' for a brace)"
                ));
            }
            let end = tail
                .find('}')
                .ok_or_else(|| format!("unterminated placeholder in {source:?}"))?;
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(placeholder(&tail[1..end])?);
            rest = &tail[end + 1..];
        }
        text.push_str(rest);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Self { pieces })
    }

    /// Every request value the template reads.
    pub fn values(&self) -> impl Iterator<Item = &RequestValue> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Value(v) | Piece::Hmac(_, v) => Some(v),
            Piece::Text(_) => None,
        })
    }

    pub fn uses_hmac(&self) -> bool {
        self.pieces.iter().any(|p| matches!(p, Piece::Hmac(..)))
    }

    /// The text for this request; `key` is the HMAC key (present whenever [`Self::uses_hmac`]).
    pub fn render(
        &self,
        values: &RequestValues<'_>,
        key: Option<&[u8]>,
    ) -> Result<String, MissingValue> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Value(v) => out.push_str(&read(v, values)?),
                Piece::Hmac(encoding, v) => {
                    let input = read(v, values)?;
                    let key = key.unwrap_or_default();
                    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
                        .expect("HMAC accepts keys of any length");
                    mac.update(input.as_bytes());
                    let tag = mac.finalize().into_bytes();
                    out.push_str(&match encoding {
                        MacEncoding::Hex => hex::encode(tag),
                        MacEncoding::Base64 => {
                            base64::engine::general_purpose::STANDARD.encode(tag)
                        }
                    });
                }
            }
        }
        Ok(out)
    }
}

fn read(v: &RequestValue, values: &RequestValues<'_>) -> Result<String, MissingValue> {
    v.read(values).ok_or_else(|| MissingValue(v.to_string()))
}

fn placeholder(inner: &str) -> Result<Piece, String> {
    if let Some(rest) = inner.strip_prefix("hmac-sha256:") {
        let (encoding, source) = rest.split_once(':').ok_or_else(|| {
            format!("expected {{hmac-sha256:hex:SOURCE}} or {{hmac-sha256:base64:SOURCE}}, got {{{inner}}}")
        })?;
        let encoding = match encoding {
            "hex" => MacEncoding::Hex,
            "base64" => MacEncoding::Base64,
            other => {
                return Err(format!(
                    "unknown HMAC encoding {other:?} in {{{inner}}}, expected hex or base64"
                ))
            }
        };
        return Ok(Piece::Hmac(encoding, RequestValue::parse(source)?));
    }
    RequestValue::parse(inner)
        .map(Piece::Value)
        .map_err(|e| format!("in placeholder {{{inner}}}: {e}"))
}

/// A JSON response body whose strings are templates.
#[derive(Debug, Clone)]
pub enum JsonTemplate {
    Literal(Value),
    Text(Template),
    Array(Vec<JsonTemplate>),
    Object(Vec<(String, JsonTemplate)>),
}

impl JsonTemplate {
    /// Compiles every string in `value`; errors carry their path relative to the value.
    pub fn compile(value: &Value, errors: &mut Vec<(String, String)>, at: &str) -> Self {
        match value {
            Value::String(s) => match Template::compile(s) {
                Ok(t) => JsonTemplate::Text(t),
                Err(e) => {
                    errors.push((at.to_string(), e));
                    JsonTemplate::Literal(Value::Null)
                }
            },
            Value::Array(items) => JsonTemplate::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Self::compile(v, errors, &format!("{at}[{i}]")))
                    .collect(),
            ),
            Value::Object(map) => JsonTemplate::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Self::compile(v, errors, &format!("{at}.{k}"))))
                    .collect(),
            ),
            other => JsonTemplate::Literal(other.clone()),
        }
    }

    pub fn templates(&self) -> Vec<&Template> {
        match self {
            JsonTemplate::Literal(_) => Vec::new(),
            JsonTemplate::Text(t) => vec![t],
            JsonTemplate::Array(items) => items.iter().flat_map(Self::templates).collect(),
            JsonTemplate::Object(fields) => {
                fields.iter().flat_map(|(_, v)| v.templates()).collect()
            }
        }
    }

    pub fn render(
        &self,
        values: &RequestValues<'_>,
        key: Option<&[u8]>,
    ) -> Result<Value, MissingValue> {
        Ok(match self {
            JsonTemplate::Literal(v) => v.clone(),
            JsonTemplate::Text(t) => Value::String(t.render(values, key)?),
            JsonTemplate::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| i.render(values, key))
                    .collect::<Result<_, _>>()?,
            ),
            JsonTemplate::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), v.render(values, key)?)))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values<'a>(json: &'a Value, query: &'a [(String, String)]) -> RequestValues<'a> {
        RequestValues {
            json: Some(json),
            query,
        }
    }

    #[test]
    fn renders_placeholders_literals_and_escaped_braces() {
        let body = json!({"challenge": "abc", "n": 3});
        let query = vec![("hub.challenge".to_string(), "xyz".to_string())];
        let t =
            Template::compile("{{{json:$.challenge}}}-{json:$.n}-{query:hub.challenge}").unwrap();
        assert_eq!(
            t.render(&values(&body, &query), None).unwrap(),
            "{abc}-3-xyz"
        );
    }

    #[test]
    fn hmac_placeholder_is_the_hex_or_base64_hmac_sha256_of_the_value() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let body = json!({"t": "what do ya want for nothing?"});
        let hex = Template::compile("{hmac-sha256:hex:json:$.t}").unwrap();
        assert_eq!(
            hex.render(&values(&body, &[]), Some(b"Jefe")).unwrap(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let b64 = Template::compile("{hmac-sha256:base64:json:$.t}").unwrap();
        assert_eq!(
            b64.render(&values(&body, &[]), Some(b"Jefe")).unwrap(),
            "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="
        );
    }

    #[test]
    fn a_missing_value_is_named() {
        let t = Template::compile("{json:$.challenge}").unwrap();
        let err = t.render(&values(&json!({}), &[]), None).unwrap_err();
        assert_eq!(err, MissingValue("json:$.challenge".into()));
    }

    #[test]
    fn bad_templates_say_what_is_wrong() {
        for (src, needle) in [
            ("{json:$.a", "unterminated"),
            ("a}", "unmatched"),
            ("{body}", "expected \"json:<JSONPath>\""),
            ("{hmac-sha256:hex}", "expected {hmac-sha256:hex:SOURCE}"),
            ("{hmac-sha256:b32:json:$.a}", "unknown HMAC encoding"),
        ] {
            let err = Template::compile(src).unwrap_err();
            assert!(err.contains(needle), "{src}: {err}");
        }
    }

    #[test]
    fn json_templates_fill_strings_and_keep_other_values() {
        let mut errors = Vec::new();
        let t = JsonTemplate::compile(
            &json!({"type": 1, "challenge": "{json:$.c}", "list": ["x{json:$.c}"]}),
            &mut errors,
            "respond.json",
        );
        assert!(errors.is_empty());
        let out = t.render(&values(&json!({"c": "q"}), &[]), None).unwrap();
        assert_eq!(out, json!({"type": 1, "challenge": "q", "list": ["xq"]}));
    }
}
