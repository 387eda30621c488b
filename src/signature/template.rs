//! The payload template (`"{id}.{timestamp}.{body}"`): compiled once into segments, rendered per
//! request into byte pieces that borrow the body, so the body is never copied for an HMAC.
//! Placeholders are `{body}`, `{timestamp}`, `{url}` (the URL the provider saw),
//! `{form_sorted_concat}` (Twilio's sorted form parameters), `{header:NAME}`, `{json:$.path}`,
//! `{form:NAME}`, `{query:NAME}` and `{<var>}`; `{{` and `}}` are literal braces. A missing
//! header is an error; a missing JSON, form or query value signs as the empty string.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::Value;

use super::field::{form_sorted_concat, FieldSource, RequestView};
use super::verify::SignatureError;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Body,
    Timestamp,
    Url,
    FormSortedConcat,
    /// A value of the request; `{<var>}` placeholders are resolved to their source at compile
    /// time.
    Field(FieldSource),
}

/// A compiled payload template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PayloadTemplate {
    segments: Vec<Segment>,
}

/// What a template is rendered from: the request, the current `for_each` item (JSON paths are
/// read inside it), the timestamp as received and the URL spelling being tried.
#[derive(Clone, Copy)]
pub(crate) struct RenderInput<'v, 'a> {
    pub(crate) view: &'v RequestView<'a>,
    pub(crate) item: Option<&'v Value>,
    pub(crate) timestamp: Option<&'v str>,
    pub(crate) url: Option<&'v str>,
}

impl PayloadTemplate {
    /// Compiles `source`. `vars` maps var names to their sources; `has_timestamp` says whether
    /// `{timestamp}` has a value. Returns every problem found, not just the first.
    pub(crate) fn compile(
        source: &str,
        vars: &BTreeMap<String, FieldSource>,
        has_timestamp: bool,
    ) -> Result<Self, Vec<String>> {
        let mut segments = Vec::new();
        let mut errors = Vec::new();
        let mut literal = String::new();
        let mut rest = source;
        let mut offset = 0;
        while let Some(pos) = rest.find(['{', '}']) {
            literal.push_str(&rest[..pos]);
            let brace_at = offset + pos;
            let after = &rest[pos + 1..];
            let consumed = if rest[pos..].starts_with("{{") {
                literal.push('{');
                2
            } else if rest[pos..].starts_with("}}") {
                literal.push('}');
                2
            } else if rest[pos..].starts_with('}') {
                errors.push(format!(
                    "unmatched `}}` at byte {brace_at}; write `}}}}` for a literal brace"
                ));
                1
            } else {
                match after.find(['{', '}']) {
                    Some(end) if after.as_bytes()[end] == b'}' => {
                        let name = &after[..end];
                        match placeholder(name, vars, has_timestamp) {
                            Ok(segment) => {
                                if !literal.is_empty() {
                                    segments.push(Segment::Literal(std::mem::take(&mut literal)));
                                }
                                segments.push(segment);
                            }
                            Err(message) => errors.push(message),
                        }
                        end + 2
                    }
                    _ => {
                        errors.push(format!(
                            "unclosed `{{` at byte {brace_at}; write `{{{{` for a literal brace"
                        ));
                        1
                    }
                }
            };
            rest = &rest[pos + consumed..];
            offset += pos + consumed;
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            segments.push(Segment::Literal(literal));
        }
        if errors.is_empty() {
            Ok(Self { segments })
        } else {
            Err(errors)
        }
    }

    /// Headers the template reads directly or through vars, in order of first use.
    pub(crate) fn header_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for segment in &self.segments {
            if let Segment::Field(FieldSource::Header(name)) = segment {
                if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                    names.push(name);
                }
            }
        }
        names
    }

    /// Every request value the template reads.
    pub(crate) fn fields(&self) -> impl Iterator<Item = &FieldSource> {
        self.segments.iter().filter_map(|segment| match segment {
            Segment::Field(source) => Some(source),
            _ => None,
        })
    }

    /// Whether the URL is signed, directly or through a query parameter.
    pub(crate) fn uses_url(&self) -> bool {
        self.segments.iter().any(|segment| match segment {
            Segment::Url => true,
            Segment::Field(source) => source.reads_url(),
            _ => false,
        })
    }

    /// Whether `{url}` itself is signed (so URL spellings matter).
    pub(crate) fn signs_url(&self) -> bool {
        self.segments.contains(&Segment::Url)
    }

    /// Whether the raw body bytes themselves are signed (`{body}`; not form fields).
    pub(crate) fn signs_raw_body(&self) -> bool {
        self.segments.contains(&Segment::Body)
    }

    pub(crate) fn uses_body(&self) -> bool {
        self.segments
            .iter()
            .any(|segment| matches!(segment, Segment::Body | Segment::FormSortedConcat))
    }

    /// The signed bytes as a list of pieces, in order; the body is borrowed.
    pub(crate) fn render<'v, 'a: 'v>(
        &'v self,
        input: RenderInput<'v, 'a>,
    ) -> Result<Vec<Cow<'v, [u8]>>, SignatureError> {
        self.segments
            .iter()
            .map(|segment| match segment {
                Segment::Literal(text) => Ok(Cow::Borrowed(text.as_bytes())),
                Segment::Body => Ok(Cow::Borrowed(input.view.request.body)),
                // Compile guarantees a timestamp block exists when {timestamp} is used.
                Segment::Timestamp => Ok(Cow::Borrowed(
                    input.timestamp.unwrap_or_default().as_bytes(),
                )),
                Segment::Url => input
                    .url
                    .map(|url| Cow::Borrowed(url.as_bytes()))
                    .ok_or(SignatureError::UrlUnknown),
                Segment::FormSortedConcat => Ok(Cow::Owned(
                    form_sorted_concat(input.view.form()).into_bytes(),
                )),
                Segment::Field(FieldSource::Header(name)) => input
                    .view
                    .request
                    .headers
                    .header(name)
                    .map(|value| Cow::Borrowed(value.as_bytes()))
                    .ok_or_else(|| SignatureError::MissingHeader(name.clone())),
                Segment::Field(source) => {
                    if source.reads_url() && input.view.request.url.is_none() {
                        return Err(SignatureError::UrlUnknown);
                    }
                    Ok(match input.view.read(source, input.item) {
                        Some(Cow::Borrowed(text)) => Cow::Borrowed(text.as_bytes()),
                        Some(Cow::Owned(text)) => Cow::Owned(text.into_bytes()),
                        None => Cow::Borrowed(&b""[..]),
                    })
                }
            })
            .collect()
    }
}

fn placeholder(
    name: &str,
    vars: &BTreeMap<String, FieldSource>,
    has_timestamp: bool,
) -> Result<Segment, String> {
    if ["header:", "json:", "form:", "query:"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
    {
        return FieldSource::parse(name)
            .map(Segment::Field)
            .map_err(|problem| format!("placeholder `{{{name}}}`: {problem}"));
    }
    match name {
        "body" => Ok(Segment::Body),
        "url" => Ok(Segment::Url),
        "form_sorted_concat" => Ok(Segment::FormSortedConcat),
        "timestamp" if has_timestamp => Ok(Segment::Timestamp),
        "timestamp" => Err(
            "placeholder `{timestamp}` needs a `timestamp:` block saying where it is read"
                .to_string(),
        ),
        _ => match vars.get(name) {
            Some(source) => Ok(Segment::Field(source.clone())),
            None => {
                let mut known: Vec<String> = ["body", "timestamp", "url", "form_sorted_concat"]
                    .map(String::from)
                    .to_vec();
                known.extend(vars.keys().cloned());
                known.extend(
                    ["header:NAME", "json:$.path", "form:NAME", "query:NAME"].map(String::from),
                );
                Err(format!(
                    "unknown placeholder `{{{name}}}`; expected one of {}",
                    known.join(", ")
                ))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::request::{HeaderList, SignedRequest};
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, FieldSource> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), FieldSource::Header(v.to_string())))
            .collect()
    }

    fn try_render(
        template: &PayloadTemplate,
        request: SignedRequest<'_>,
        ts: Option<&str>,
    ) -> Result<Vec<u8>, SignatureError> {
        let view = RequestView::new(request);
        let url = request.url;
        let input = RenderInput {
            view: &view,
            item: None,
            timestamp: ts,
            url,
        };
        template.render(input).map(|pieces| pieces.concat())
    }

    fn rendered(
        template: &PayloadTemplate,
        body: &[u8],
        ts: Option<&str>,
        h: &HeaderList,
    ) -> Vec<u8> {
        try_render(template, SignedRequest::new(h, body), ts).unwrap()
    }

    #[test]
    fn url_form_json_and_query_placeholders_render() {
        let t = PayloadTemplate::compile(
            "{url}|{form_sorted_concat}|{json:$.a}|{query:q}|{form:x}",
            &vars(&[]),
            false,
        )
        .unwrap();
        assert!(t.uses_url() && t.signs_url() && t.uses_body());
        let headers = HeaderList::new();
        let request = SignedRequest::new(&headers, b"x=1&b=2").with_url("https://h/p?q=9");
        assert_eq!(
            try_render(&t, request, None).unwrap(),
            b"https://h/p?q=9|b2x1||9|1"
        );
        let err = try_render(&t, SignedRequest::new(&headers, b"x=1"), None).unwrap_err();
        assert_eq!(err, SignatureError::UrlUnknown);
        let t = PayloadTemplate::compile("{json:$.a}:{json:$.n}", &vars(&[]), false).unwrap();
        let request = SignedRequest::new(&headers, br#"{"a":"s","n":10}"#);
        assert_eq!(try_render(&t, request, None).unwrap(), b"s:10");
    }

    #[test]
    fn standard_webhooks_template_renders_id_timestamp_and_body() {
        let t = PayloadTemplate::compile(
            "{id}.{timestamp}.{body}",
            &vars(&[("id", "webhook-id")]),
            true,
        )
        .unwrap();
        let headers = HeaderList::new().with("Webhook-Id", "msg_1");
        assert_eq!(rendered(&t, b"{}", Some("17"), &headers), b"msg_1.17.{}");
        assert_eq!(t.header_names(), vec!["webhook-id"]);
    }

    #[test]
    fn doubled_braces_are_literal_braces() {
        let t = PayloadTemplate::compile("{{x}}:{body}}}", &vars(&[]), false).unwrap();
        assert_eq!(rendered(&t, b"B", None, &HeaderList::new()), b"{x}:B}");
    }

    #[test]
    fn header_placeholder_reads_the_header_and_reports_it_missing() {
        let t = PayloadTemplate::compile("v0:{header:X-Ts}:{body}", &vars(&[]), false).unwrap();
        let headers = HeaderList::new().with("x-ts", "9");
        assert_eq!(rendered(&t, b"b", None, &headers), b"v0:9:b");
        let empty = HeaderList::new();
        let err = try_render(&t, SignedRequest::new(&empty, b"b"), None).unwrap_err();
        assert_eq!(err, SignatureError::MissingHeader("X-Ts".to_string()));
    }

    #[test]
    fn unknown_placeholder_is_named_in_the_error() {
        let errors = PayloadTemplate::compile("{bdy}", &vars(&[("id", "h")]), false).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("`{bdy}`"), "{}", errors[0]);
        assert!(errors[0].contains("id"), "{}", errors[0]);
    }

    #[test]
    fn timestamp_placeholder_without_timestamp_block_is_an_error() {
        let errors = PayloadTemplate::compile("{timestamp}.{body}", &vars(&[]), false).unwrap_err();
        assert!(errors[0].contains("timestamp:"), "{}", errors[0]);
    }

    #[test]
    fn every_template_problem_is_reported() {
        let errors =
            PayloadTemplate::compile("{nope}.{header:}.}.{body", &vars(&[]), false).unwrap_err();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].contains("nope"));
        assert!(errors[1].contains("header:"));
        assert!(errors[2].contains("unmatched `}`"));
        assert!(errors[3].contains("unclosed `{`"));
    }

    #[test]
    fn nested_open_brace_is_unclosed() {
        let errors = PayloadTemplate::compile("{a{body}", &vars(&[]), false).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("byte 0"));
    }

    #[test]
    fn empty_template_signs_nothing() {
        let t = PayloadTemplate::compile("", &vars(&[]), false).unwrap();
        assert!(rendered(&t, b"body", None, &HeaderList::new()).is_empty());
    }
}
