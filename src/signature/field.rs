//! Where a scheme reads one value of a request: `header:NAME`, `json:$.path` (in the JSON body,
//! or inside the current item when the scheme has `for_each`), `form:NAME` (a field of a
//! form-encoded body) or `query:NAME` (a parameter of the URL the provider saw). Sources are
//! parsed at compile time; [`RequestView`] parses the body and the URL's query at most once per
//! request, and only when a source needs them.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt;

use serde_json::Value;

pub(crate) use super::body_path::BodyPath;
use super::compile::header_name_error;
use super::request::SignedRequest;

/// One place in a request a value is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FieldSource {
    Header(String),
    Json(BodyPath),
    Form(String),
    Query(String),
}

impl FieldSource {
    /// Parses `header:NAME`, `json:$.path`, `form:NAME` or `query:NAME`.
    pub(crate) fn parse(spec: &str) -> Result<Self, String> {
        if let Some(name) = spec.strip_prefix("header:") {
            return match header_name_error(name) {
                None => Ok(Self::Header(name.to_string())),
                Some(problem) => Err(format!("in {spec:?}: {problem}")),
            };
        }
        if let Some(path) = spec.strip_prefix("json:") {
            return BodyPath::parse(path.trim(), false)
                .map(Self::Json)
                .map_err(|problem| format!("in {spec:?}: {problem}"));
        }
        for (prefix, kind) in [("form:", "form field"), ("query:", "query parameter")] {
            if let Some(name) = spec.strip_prefix(prefix) {
                if name.is_empty() {
                    return Err(format!("expected a {kind} name after {prefix:?}"));
                }
                return Ok(if prefix == "form:" {
                    Self::Form(name.to_string())
                } else {
                    Self::Query(name.to_string())
                });
            }
        }
        Err(format!(
            "expected \"header:NAME\", \"json:$.path\", \"form:NAME\" or \"query:NAME\", got {spec:?}"
        ))
    }

    pub(crate) fn reads_url(&self) -> bool {
        matches!(self, Self::Query(_))
    }

    pub(crate) fn reads_json(&self) -> bool {
        matches!(self, Self::Json(_))
    }
}

impl fmt::Display for FieldSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Header(name) => write!(f, "header:{name}"),
            Self::Json(path) => write!(f, "json:{}", path.as_str()),
            Self::Form(name) => write!(f, "form:{name}"),
            Self::Query(name) => write!(f, "query:{name}"),
        }
    }
}

/// A JSON value as the text that was signed: strings verbatim, numbers and booleans as JSON
/// text; `None` for null, containers and absence.
pub(crate) fn json_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A request being verified or signed, with its body parsed lazily as JSON or form fields and
/// its URL's query split lazily.
pub(crate) struct RequestView<'a> {
    pub(crate) request: SignedRequest<'a>,
    json: OnceCell<Option<Value>>,
    form: OnceCell<Vec<(String, String)>>,
    query: OnceCell<Vec<(String, String)>>,
}

impl<'a> RequestView<'a> {
    pub(crate) fn new(request: SignedRequest<'a>) -> Self {
        Self {
            request,
            json: OnceCell::new(),
            form: OnceCell::new(),
            query: OnceCell::new(),
        }
    }

    /// The body parsed as JSON, if it is JSON.
    pub(crate) fn json(&self) -> Option<&Value> {
        self.json
            .get_or_init(|| serde_json::from_slice(self.request.body).ok())
            .as_ref()
    }

    /// The body's form fields, decoded, in order (empty if the body is not a form).
    pub(crate) fn form(&self) -> &[(String, String)] {
        self.form.get_or_init(|| {
            form_urlencoded::parse(self.request.body)
                .into_owned()
                .collect()
        })
    }

    /// The URL's query parameters, decoded, in order.
    pub(crate) fn query(&self) -> &[(String, String)] {
        self.query.get_or_init(|| {
            let query = self
                .request
                .url
                .and_then(|url| url.split_once('?'))
                .map(|(_, q)| q.split('#').next().unwrap_or(q))
                .unwrap_or("");
            form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect()
        })
    }

    /// Reads `source`; JSON paths are read inside `item` when there is one. `None` when absent.
    pub(crate) fn read(&self, source: &FieldSource, item: Option<&Value>) -> Option<Cow<'a, str>> {
        match source {
            FieldSource::Header(name) => self.request.headers.header(name).map(Cow::Borrowed),
            FieldSource::Json(path) => {
                let root = match item {
                    Some(item) => item,
                    None => self.json()?,
                };
                json_text(path.get(root)).map(Cow::Owned)
            }
            FieldSource::Form(name) => first(self.form(), name).map(Cow::Owned),
            FieldSource::Query(name) => first(self.query(), name).map(Cow::Owned),
        }
    }
}

fn first(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
}

/// Twilio's rule for form parameters: names sorted, each name's distinct values sorted, and
/// `name + value` concatenated for each.
pub(crate) fn form_sorted_concat(pairs: &[(String, String)]) -> String {
    let mut sorted: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    sorted.sort_unstable();
    sorted.dedup();
    sorted.into_iter().map(|(k, v)| format!("{k}{v}")).collect()
}

#[cfg(test)]
mod tests {
    use super::super::request::HeaderList;
    use super::*;

    #[test]
    fn sources_parse_and_explain_the_rest() {
        assert_eq!(
            FieldSource::parse("header:X-A"),
            Ok(FieldSource::Header("X-A".into()))
        );
        assert_eq!(
            FieldSource::parse("form:Digits"),
            Ok(FieldSource::Form("Digits".into()))
        );
        assert!(matches!(
            FieldSource::parse("json:$.signature['token']"),
            Ok(FieldSource::Json(_))
        ));
        let err = FieldSource::parse("body:x").unwrap_err();
        assert!(err.contains("\"query:NAME\""), "{err}");
        let err = FieldSource::parse("json:$.a[*]").unwrap_err();
        assert!(err.contains("single value"), "{err}");
        let err = FieldSource::parse("json:$.a[?(@.b)]").unwrap_err();
        assert!(err.contains("character 3"), "{err}");
        assert!(FieldSource::parse("query:").is_err());
    }

    #[test]
    fn view_reads_form_query_and_json() {
        let headers = HeaderList::new().with("X-A", "h");
        let body = b"b=2&a=1&a=0&c=%2B1";
        let request = SignedRequest::new(&headers, body).with_url("https://x.test/p?q=%20v#frag");
        let view = RequestView::new(request);
        let read = |spec: &str| view.read(&FieldSource::parse(spec).unwrap(), None);
        assert_eq!(read("form:c").as_deref(), Some("+1"));
        assert_eq!(read("form:a").as_deref(), Some("1"));
        assert_eq!(read("query:q").as_deref(), Some(" v"));
        assert_eq!(read("header:x-a").as_deref(), Some("h"));
        assert_eq!(read("json:$.a"), None);
        assert_eq!(form_sorted_concat(view.form()), "a0a1b2c+1");
    }
}
