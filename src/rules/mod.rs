//! Routing rules, compiled: which targets an event goes to. A rule matches on the event type
//! (exact names or globs such as `invoice.*`) and on payload conditions (JSONPath with exists,
//! equals, in, regex and numeric comparisons, combined with all/any/not). Every rule that matches
//! contributes its targets; an event reaches each target at most once.

use crate::jsonpath::JsonPath;
use globset::GlobMatcher;
use regex::Regex;
use serde_json::Value;
use std::sync::Arc;

mod explain;
pub use explain::{ConditionFailure, RuleMismatch};

/// Equality compares what the file declares: glob and regex patterns by their source text,
/// never by the compiled matchers, whose `Debug` text changes as they are used.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub types: TypeMatcher,
    /// All must hold.
    pub when: Vec<Condition>,
    pub targets: Vec<Arc<str>>,
}

/// Event-type patterns; `Any` when the rule names none.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeMatcher {
    Any,
    OneOf(Vec<TypePattern>),
}

#[derive(Debug, Clone)]
pub enum TypePattern {
    Exact(String),
    Glob(String, GlobMatcher),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    /// Holds when some node selected by `path` passes every test (for `exists: false`, when
    /// no node is selected).
    Leaf {
        path: JsonPath,
        tests: Vec<ValueTest>,
    },
}

#[derive(Debug, Clone)]
pub enum ValueTest {
    Exists(bool),
    Equals(Value),
    In(Vec<Value>),
    Regex(Regex),
    Compare(Comparison, f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl PartialEq for TypePattern {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (TypePattern::Exact(a), TypePattern::Exact(b)) => a == b,
            (TypePattern::Glob(a, _), TypePattern::Glob(b, _)) => a == b,
            _ => false,
        }
    }
}

impl PartialEq for ValueTest {
    fn eq(&self, other: &Self) -> bool {
        use ValueTest::*;
        match (self, other) {
            (Exists(a), Exists(b)) => a == b,
            (Equals(a), Equals(b)) => a == b,
            (In(a), In(b)) => a == b,
            (Regex(a), Regex(b)) => a.as_str() == b.as_str(),
            (Compare(op_a, a), Compare(op_b, b)) => op_a == op_b && a == b,
            _ => false,
        }
    }
}

impl TypePattern {
    pub fn matches(&self, event_type: &str) -> bool {
        match self {
            TypePattern::Exact(t) => t == event_type,
            TypePattern::Glob(_, m) => m.is_match(event_type),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            TypePattern::Exact(t) | TypePattern::Glob(t, _) => t,
        }
    }
}

impl TypeMatcher {
    pub fn matches(&self, event_type: Option<&str>) -> bool {
        match self {
            TypeMatcher::Any => true,
            TypeMatcher::OneOf(patterns) => {
                event_type.is_some_and(|t| patterns.iter().any(|p| p.matches(t)))
            }
        }
    }
}

impl Condition {
    pub fn holds(&self, body: &Value) -> bool {
        match self {
            Condition::All(cs) => cs.iter().all(|c| c.holds(body)),
            Condition::Any(cs) => cs.iter().any(|c| c.holds(body)),
            Condition::Not(c) => !c.holds(body),
            Condition::Leaf { path, tests } => {
                let nodes = path.all(body);
                if tests.iter().any(|t| matches!(t, ValueTest::Exists(false))) {
                    return nodes.is_empty();
                }
                nodes
                    .iter()
                    .any(|node| tests.iter().all(|t| t.passes(node)))
            }
        }
    }
}

impl ValueTest {
    fn passes(&self, node: &Value) -> bool {
        match self {
            ValueTest::Exists(expected) => *expected,
            ValueTest::Equals(v) => json_equal(node, v),
            ValueTest::In(vs) => vs.iter().any(|v| json_equal(node, v)),
            ValueTest::Regex(re) => node.as_str().is_some_and(|s| re.is_match(s)),
            ValueTest::Compare(op, bound) => number(node).is_some_and(|n| match op {
                Comparison::Gt => n > *bound,
                Comparison::Gte => n >= *bound,
                Comparison::Lt => n < *bound,
                Comparison::Lte => n <= *bound,
            }),
        }
    }
}

/// Equality that treats `1` and `1.0` alike (YAML and JSON spell numbers differently).
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Numbers, and strings holding numbers (providers send amounts both ways).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Rule {
    pub fn matches(&self, event_type: Option<&str>, body: Option<&Value>) -> bool {
        self.types.matches(event_type)
            && (self.when.is_empty() || body.is_some_and(|b| self.when.iter().all(|c| c.holds(b))))
    }
}

/// The targets an event goes to: the union of every matching rule's targets, in rule order.
pub fn route(rules: &[Rule], event_type: Option<&str>, body: Option<&Value>) -> Vec<Arc<str>> {
    let mut targets: Vec<Arc<str>> = Vec::new();
    for rule in rules.iter().filter(|r| r.matches(event_type, body)) {
        for t in &rule.targets {
            if !targets.contains(t) {
                targets.push(t.clone());
            }
        }
    }
    targets
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn glob(p: &str) -> TypePattern {
        TypePattern::Glob(p.into(), globset::Glob::new(p).unwrap().compile_matcher())
    }

    fn leaf(path: &str, tests: Vec<ValueTest>) -> Condition {
        Condition::Leaf {
            path: JsonPath::compile(path).unwrap(),
            tests,
        }
    }

    #[test]
    fn types_match_exactly_or_by_glob() {
        let m = TypeMatcher::OneOf(vec![TypePattern::Exact("a.b".into()), glob("invoice.*")]);
        assert!(m.matches(Some("a.b")));
        assert!(m.matches(Some("invoice.paid")));
        assert!(!m.matches(Some("invoice")));
        assert!(!m.matches(Some("a.bc")));
        assert!(!m.matches(None));
        assert!(TypeMatcher::Any.matches(None));
    }

    #[test]
    fn conditions_cover_every_test_and_combinator() {
        let body =
            json!({"amount": "1500", "currency": "eur", "tags": ["vip", "new"], "live": true});
        assert!(leaf(
            "$.amount",
            vec![
                ValueTest::Compare(Comparison::Gte, 1000.0),
                ValueTest::Compare(Comparison::Lt, 2000.0)
            ]
        )
        .holds(&body));
        assert!(!leaf("$.amount", vec![ValueTest::Compare(Comparison::Gt, 1500.0)]).holds(&body));
        assert!(leaf(
            "$.currency",
            vec![ValueTest::In(vec![json!("usd"), json!("eur")])]
        )
        .holds(&body));
        assert!(leaf("$.tags[*]", vec![ValueTest::Equals(json!("vip"))]).holds(&body));
        assert!(leaf(
            "$.currency",
            vec![ValueTest::Regex(Regex::new("^e").unwrap())]
        )
        .holds(&body));
        assert!(leaf("$.missing", vec![ValueTest::Exists(false)]).holds(&body));
        assert!(!leaf("$.live", vec![ValueTest::Exists(false)]).holds(&body));
        let not_live = Condition::Not(Box::new(leaf(
            "$.live",
            vec![ValueTest::Equals(json!(true))],
        )));
        assert!(!not_live.holds(&body));
        assert!(Condition::Any(vec![
            not_live.clone(),
            leaf("$.live", vec![ValueTest::Exists(true)])
        ])
        .holds(&body));
        assert!(!Condition::All(vec![
            not_live,
            leaf("$.live", vec![ValueTest::Exists(true)])
        ])
        .holds(&body));
    }

    #[test]
    fn route_unions_targets_of_matching_rules_once_each() {
        let rule = |name: &str, types: TypeMatcher, targets: &[&str]| Rule {
            name: name.into(),
            types,
            when: vec![],
            targets: targets.iter().map(|t| Arc::from(*t)).collect(),
        };
        let rules = vec![
            rule("all", TypeMatcher::Any, &["audit"]),
            rule(
                "inv",
                TypeMatcher::OneOf(vec![glob("invoice.*")]),
                &["billing", "audit"],
            ),
            rule(
                "pay",
                TypeMatcher::OneOf(vec![TypePattern::Exact("payment".into())]),
                &["pay"],
            ),
        ];
        let got = route(&rules, Some("invoice.paid"), None);
        assert_eq!(got, vec![Arc::from("audit"), Arc::from("billing")]);
    }

    #[test]
    fn explain_names_the_first_failing_check_and_agrees_with_matches() {
        let rule = Rule {
            name: "big-payments".into(),
            types: TypeMatcher::OneOf(vec![glob("payment_intent.*")]),
            when: vec![
                leaf(
                    "$.amount",
                    vec![ValueTest::Compare(Comparison::Gte, 1000.0)],
                ),
                Condition::Any(vec![
                    leaf("$.currency", vec![ValueTest::In(vec![json!("usd")])]),
                    Condition::Not(Box::new(leaf("$.live", vec![ValueTest::Exists(true)]))),
                ]),
            ],
            targets: vec![Arc::from("audit")],
        };
        let cases = [
            (
                Some("payment_intent.succeeded"),
                json!({"amount": 5000, "currency": "usd"}),
            ),
            (
                Some("charge.succeeded"),
                json!({"amount": 5000, "currency": "usd"}),
            ),
            (None, json!({})),
            (Some("payment_intent.created"), json!({"currency": "usd"})),
            (Some("payment_intent.created"), json!({"amount": 10})),
            (
                Some("payment_intent.created"),
                json!({"amount": 2000, "currency": "eur", "live": true}),
            ),
        ];
        for (event_type, body) in &cases {
            assert_eq!(
                rule.explain(*event_type, Some(body)).is_ok(),
                rule.matches(*event_type, Some(body)),
                "{event_type:?} {body}"
            );
        }
        let why =
            |t: &str, body: Value| rule.explain(Some(t), Some(&body)).unwrap_err().to_string();
        assert_eq!(
            why("charge.succeeded", json!({})),
            "event type \"charge.succeeded\" is not one of [payment_intent.*]"
        );
        assert_eq!(
            why("payment_intent.x", json!({})),
            "when[0]: $.amount is missing"
        );
        assert_eq!(
            why("payment_intent.x", json!({"amount": "10"})),
            "when[0]: $.amount is \"10\", which fails `gte: 1000`"
        );
        assert_eq!(
            why(
                "payment_intent.x",
                json!({"amount": 1000, "currency": "eur", "live": 1})
            ),
            "when[1]: no alternative of `any` holds ($.currency is \"eur\", which fails \
             `in: [\"usd\"]`; the condition under `not` holds)"
        );
        assert_eq!(
            rule.explain(Some("payment_intent.x"), None),
            Err(RuleMismatch::NoJsonBody)
        );
        assert_eq!(
            leaf("$.x", vec![ValueTest::Exists(false)]).explain(&json!({"x": 1})),
            Err(ConditionFailure::PathPresent {
                path: "$.x".into(),
                found: json!(1)
            })
        );
    }
}
