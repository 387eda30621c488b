//! The payload template (`"{id}.{timestamp}.{body}"`): compiled once into segments, rendered per
//! request into borrowed byte slices so the body is never copied for an HMAC. Placeholders are
//! `{body}`, `{timestamp}`, `{header:NAME}` and `{<var>}`; `{{` and `}}` are literal braces.

use std::collections::BTreeMap;

use super::compile::header_name_error;
use super::request::HeaderSource;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Body,
    Timestamp,
    /// A header value; `{<var>}` placeholders are resolved to their header at compile time.
    Header(String),
}

/// A compiled payload template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PayloadTemplate {
    segments: Vec<Segment>,
}

/// A header the template reads was absent from the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MissingHeader(pub(crate) String);

impl PayloadTemplate {
    /// Compiles `source`. `vars` maps var names to header names; `has_timestamp` says whether
    /// `{timestamp}` has a value. Returns every problem found, not just the first.
    pub(crate) fn compile(
        source: &str,
        vars: &BTreeMap<String, String>,
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
            if let Segment::Header(name) = segment {
                if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                    names.push(name);
                }
            }
        }
        names
    }

    /// The signed bytes as a list of borrowed pieces, in order.
    pub(crate) fn render<'a>(
        &'a self,
        body: &'a [u8],
        timestamp: Option<&'a str>,
        headers: &'a dyn HeaderSource,
    ) -> Result<Vec<&'a [u8]>, MissingHeader> {
        self.segments
            .iter()
            .map(|segment| match segment {
                Segment::Literal(text) => Ok(text.as_bytes()),
                Segment::Body => Ok(body),
                // Compile guarantees a timestamp block exists when {timestamp} is used.
                Segment::Timestamp => Ok(timestamp.unwrap_or_default().as_bytes()),
                Segment::Header(name) => headers
                    .header(name)
                    .map(str::as_bytes)
                    .ok_or_else(|| MissingHeader(name.clone())),
            })
            .collect()
    }
}

fn placeholder(
    name: &str,
    vars: &BTreeMap<String, String>,
    has_timestamp: bool,
) -> Result<Segment, String> {
    if let Some(header) = name.strip_prefix("header:") {
        return match header_name_error(header) {
            None => Ok(Segment::Header(header.to_string())),
            Some(problem) => Err(format!("placeholder `{{{name}}}`: {problem}")),
        };
    }
    match name {
        "body" => Ok(Segment::Body),
        "timestamp" if has_timestamp => Ok(Segment::Timestamp),
        "timestamp" => Err(
            "placeholder `{timestamp}` needs a `timestamp:` block saying where it is read"
                .to_string(),
        ),
        _ => match vars.get(name) {
            Some(header) => Ok(Segment::Header(header.clone())),
            None => {
                let mut known = vec!["body".to_string(), "timestamp".to_string()];
                known.extend(vars.keys().cloned());
                known.push("header:NAME".to_string());
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
    use super::super::request::HeaderList;
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn rendered(
        template: &PayloadTemplate,
        body: &[u8],
        ts: Option<&str>,
        h: &HeaderList,
    ) -> Vec<u8> {
        template.render(body, ts, h).unwrap().concat()
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
        let err = t.render(b"b", None, &HeaderList::new()).unwrap_err();
        assert_eq!(err, MissingHeader("X-Ts".to_string()));
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
