//! Where a value of the request comes from: `json:$.path` into the parsed body, `form:NAME` (a
//! field of a form-encoded body, as Twilio posts) or `header:NAME`. Used for the event id and
//! type. Parsed at load; read per request.

use crate::jsonpath::JsonPath;
use actix_web::http::header::HeaderMap;
use serde_json::Value;
use std::fmt;

#[derive(Clone, PartialEq)]
pub enum ValueSource {
    Json(JsonPath),
    /// Lower-cased header name.
    Header(String),
    /// A field of an `application/x-www-form-urlencoded` body (decoded; the first if repeated).
    Form(String),
}

/// The body as parsed for reading sources: JSON when an endpoint reads JSON, form fields when
/// it reads form fields.
#[derive(Debug, Default)]
pub struct ParsedBody {
    pub json: Option<Value>,
    pub form: Option<Vec<(String, String)>>,
}

impl ValueSource {
    pub fn parse(spec: &str) -> Result<Self, String> {
        if let Some(path) = spec.strip_prefix("json:") {
            return JsonPath::compile(path.trim()).map(ValueSource::Json);
        }
        if let Some(name) = spec.strip_prefix("header:") {
            let name = name.trim();
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                return Err(format!("invalid header name {name:?}"));
            }
            return Ok(ValueSource::Header(name.to_ascii_lowercase()));
        }
        if let Some(name) = spec.strip_prefix("form:") {
            let name = name.trim();
            if name.is_empty() {
                return Err(format!(
                    "expected a form field name after \"form:\", got {spec:?}"
                ));
            }
            return Ok(ValueSource::Form(name.to_string()));
        }
        Err(format!(
            "expected \"json:<JSONPath>\" (e.g. json:$.id), \"header:<NAME>\" or \"form:<NAME>\", got {spec:?}"
        ))
    }

    pub fn needs_json(&self) -> bool {
        matches!(self, ValueSource::Json(_))
    }

    pub fn needs_form(&self) -> bool {
        matches!(self, ValueSource::Form(_))
    }

    /// The value as text: strings verbatim, numbers and booleans as JSON text; `None` when absent,
    /// null, or a container.
    pub fn read(&self, headers: &HeaderMap, body: &ParsedBody) -> Option<String> {
        match self {
            ValueSource::Header(name) => headers
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty()),
            ValueSource::Form(name) => body
                .form
                .as_ref()?
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
                .filter(|value| !value.is_empty()),
            ValueSource::Json(path) => match path.first(body.json.as_ref()?)? {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            },
        }
    }
}

impl fmt::Display for ValueSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueSource::Json(p) => write!(f, "json:{}", p.as_str()),
            ValueSource::Header(h) => write!(f, "header:{h}"),
            ValueSource::Form(name) => write!(f, "form:{name}"),
        }
    }
}

impl fmt::Debug for ValueSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};
    use serde_json::json;

    #[test]
    fn parses_both_kinds_and_explains_the_rest() {
        assert!(matches!(
            ValueSource::parse("json:$.id"),
            Ok(ValueSource::Json(_))
        ));
        assert!(
            matches!(ValueSource::parse("header:X-GitHub-Event"), Ok(ValueSource::Header(h)) if h == "x-github-event")
        );
        assert!(
            matches!(ValueSource::parse("form:CallSid"), Ok(ValueSource::Form(f)) if f == "CallSid")
        );
        let err = ValueSource::parse("body:$.id").unwrap_err();
        assert!(err.contains("expected \"json:<JSONPath>\""), "{err}");
        assert!(ValueSource::parse("json:$.a[").is_err());
    }

    #[test]
    fn reads_strings_numbers_and_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("x-event"),
            HeaderValue::from_static("push"),
        );
        let body = ParsedBody {
            json: Some(json!({"id": 42, "type": "a.b", "obj": {}, "event-data": {"id": "m"}})),
            form: None,
        };
        let read = |s: &str| ValueSource::parse(s).unwrap().read(&headers, &body);
        assert_eq!(read("json:$['event-data'].id").as_deref(), Some("m"));
        assert_eq!(read("json:$.id").as_deref(), Some("42"));
        assert_eq!(read("json:$.type").as_deref(), Some("a.b"));
        assert_eq!(read("json:$.obj"), None);
        assert_eq!(read("header:X-Event").as_deref(), Some("push"));
        assert_eq!(read("header:X-Missing"), None);
    }

    #[test]
    fn form_fields_are_read_decoded_and_absent_without_a_form() {
        let source = ValueSource::parse("form:MessageSid").unwrap();
        assert!(source.needs_form() && !source.needs_json());
        assert_eq!(source.to_string(), "form:MessageSid");
        let form: Vec<(String, String)> = form_urlencoded::parse(b"MessageSid=SM%201&Empty=")
            .into_owned()
            .collect();
        let body = ParsedBody {
            json: None,
            form: Some(form),
        };
        let headers = HeaderMap::new();
        assert_eq!(source.read(&headers, &body).as_deref(), Some("SM 1"));
        let empty = ValueSource::parse("form:Empty").unwrap();
        assert_eq!(empty.read(&headers, &body), None);
        assert_eq!(source.read(&headers, &ParsedBody::default()), None);
        assert!(ValueSource::parse("form:").is_err());
    }
}
