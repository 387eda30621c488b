//! JSONPath compiled once at config load. Plain member paths (`$.data.object.id`, `$.items[0]`),
//! which is what nearly every event id and type lives at, are walked directly over the parsed
//! body; everything else (filters, wildcards, recursive descent) goes through jsonpath-rust's
//! pre-parsed query. Both answer the same question: which nodes does the path select?

use jsonpath_rust::parser::model::JpQuery;
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::Value;
use std::fmt;

#[derive(Clone)]
pub struct JsonPath {
    source: String,
    route: Route,
}

#[derive(Clone)]
enum Route {
    /// `$.a.b[0]`: member names and indices only.
    Plain(Vec<Step>),
    Query(Box<JpQuery>),
}

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Member(String),
    Index(usize),
}

impl JsonPath {
    /// Compiles a path, or says what is wrong with it.
    pub fn compile(source: &str) -> Result<Self, String> {
        let query = parse_json_path(source)
            .map_err(|e| format!("invalid JSONPath {source:?}: {}", one_line(&e.to_string())))?;
        let route = match plain_steps(source) {
            Some(steps) => Route::Plain(steps),
            None => Route::Query(Box::new(query)),
        };
        Ok(Self {
            source: source.to_string(),
            route,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The first node the path selects, if any.
    pub fn first<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        match &self.route {
            Route::Plain(steps) => walk(root, steps),
            Route::Query(q) => js_path_process(q, root)
                .ok()
                .and_then(|nodes| nodes.into_iter().next().map(|n| n.val())),
        }
    }

    /// Every node the path selects.
    pub fn all<'v>(&self, root: &'v Value) -> Vec<&'v Value> {
        match &self.route {
            Route::Plain(steps) => walk(root, steps).into_iter().collect(),
            Route::Query(q) => js_path_process(q, root)
                .map(|nodes| nodes.into_iter().map(|n| n.val()).collect())
                .unwrap_or_default(),
        }
    }
}

/// Two paths are equal when they were compiled from the same text.
impl PartialEq for JsonPath {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl fmt::Debug for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsonPath({})", self.source)
    }
}

/// The parser's multi-line report (`--> 1:5 ... = expected selector`) as one line.
fn one_line(report: &str) -> String {
    let column = report
        .split("-->")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|pos| pos.split(':').nth(1));
    let reason = report
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("= "))
        .unwrap_or_else(|| report.lines().next().unwrap_or(report));
    match column {
        Some(c) => format!("{reason} at character {c}"),
        None => reason.to_string(),
    }
}

fn walk<'v>(root: &'v Value, steps: &[Step]) -> Option<&'v Value> {
    steps.iter().try_fold(root, |node, step| match step {
        Step::Member(name) => node.as_object()?.get(name),
        Step::Index(i) => node.as_array()?.get(*i),
    })
}

/// Splits `$.a.b[0].c` into steps; `None` when the path uses anything else.
fn plain_steps(source: &str) -> Option<Vec<Step>> {
    let mut rest = source.strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(after.len());
            if end == 0 || after.as_bytes()[0].is_ascii_digit() {
                return None;
            }
            steps.push(Step::Member(after[..end].to_string()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let index: usize = after[..end].parse().ok()?;
            steps.push(Step::Index(index));
            rest = &after[end + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_paths_take_the_direct_route() {
        assert_eq!(
            plain_steps("$.data.object[2].id"),
            Some(vec![
                Step::Member("data".into()),
                Step::Member("object".into()),
                Step::Index(2),
                Step::Member("id".into())
            ])
        );
        assert_eq!(plain_steps("$..id"), None);
        assert_eq!(plain_steps("$.items[*]"), None);
        assert_eq!(plain_steps("$['a b']"), None);
    }

    #[test]
    fn both_routes_select_the_same_nodes() {
        let doc = json!({"data": {"object": {"id": "x", "amount": 5}}, "items": [{"sku": "a"}, {"sku": "b"}]});
        let plain = JsonPath::compile("$.data.object.id").unwrap();
        assert!(matches!(plain.route, Route::Plain(_)));
        assert_eq!(plain.first(&doc), Some(&json!("x")));
        let query = JsonPath::compile("$.items[*].sku").unwrap();
        assert!(matches!(query.route, Route::Query(_)));
        assert_eq!(query.all(&doc), vec![&json!("a"), &json!("b")]);
        let filter = JsonPath::compile("$.data[?(@.amount > 1)].id").unwrap();
        assert_eq!(filter.first(&doc), Some(&json!("x")));
        assert_eq!(JsonPath::compile("$.missing.x").unwrap().first(&doc), None);
    }

    #[test]
    fn invalid_paths_are_refused_with_the_reason() {
        let err = JsonPath::compile("$.a[").unwrap_err();
        assert!(err.contains("invalid JSONPath"), "{err}");
        assert!(JsonPath::compile("data.id").is_err());
    }
}
