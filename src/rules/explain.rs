//! Why a rule does not match, for `hookroute explain`: the first check that failed, derived
//! from the matcher's own tests in `super` (so the explanation and the decision cannot disagree;
//! a test in `super` checks that they agree).

use super::{Comparison, Condition, Rule, TypeMatcher, ValueTest};
use serde_json::Value;
use std::fmt;

/// Why a rule does not match an event: the first check that failed, in the order the matcher
/// tries them (event type, then each `when` condition). For `hookroute explain`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RuleMismatch {
    /// The event type is not one the rule names (`None`: the event has no type).
    EventType {
        event_type: Option<String>,
        expected: Vec<String>,
    },
    /// The rule has conditions but the body was not parsed as JSON.
    NoJsonBody,
    /// `when[index]` does not hold.
    Condition {
        index: usize,
        failure: ConditionFailure,
    },
}

/// Why a condition does not hold.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConditionFailure {
    /// The path selects nothing in the body.
    PathMissing { path: String },
    /// `exists: false`, but the path selects something.
    PathPresent { path: String, found: Value },
    /// The path selects values, and none passes every test; `found` is the first value and
    /// `test` the first test it fails.
    ValueFailed {
        path: String,
        found: Value,
        test: String,
    },
    /// No alternative of an `any` holds; why each does not.
    NoAlternative { failures: Vec<ConditionFailure> },
    /// The condition under a `not` holds.
    NegatedHolds,
}

impl fmt::Display for RuleMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleMismatch::EventType {
                event_type: Some(t),
                expected,
            } => write!(
                f,
                "event type {t:?} is not one of [{}]",
                expected.join(", ")
            ),
            RuleMismatch::EventType {
                event_type: None,
                expected,
            } => write!(
                f,
                "the event has no type, and the rule needs one of [{}]",
                expected.join(", ")
            ),
            RuleMismatch::NoJsonBody => {
                write!(f, "the rule has conditions but the body is not JSON")
            }
            RuleMismatch::Condition { index, failure } => write!(f, "when[{index}]: {failure}"),
        }
    }
}

impl fmt::Display for ConditionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConditionFailure::PathMissing { path } => write!(f, "{path} is missing"),
            ConditionFailure::PathPresent { path, found } => {
                write!(f, "{path} should be absent but is {found}")
            }
            ConditionFailure::ValueFailed { path, found, test } => {
                write!(f, "{path} is {found}, which fails `{test}`")
            }
            ConditionFailure::NoAlternative { failures } => {
                let each: Vec<String> = failures.iter().map(|e| e.to_string()).collect();
                write!(f, "no alternative of `any` holds ({})", each.join("; "))
            }
            ConditionFailure::NegatedHolds => write!(f, "the condition under `not` holds"),
        }
    }
}

impl fmt::Display for ValueTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueTest::Exists(e) => write!(f, "exists: {e}"),
            ValueTest::Equals(v) => write!(f, "equals: {v}"),
            ValueTest::In(vs) => {
                let each: Vec<String> = vs.iter().map(Value::to_string).collect();
                write!(f, "in: [{}]", each.join(", "))
            }
            ValueTest::Regex(re) => write!(f, "regex: {}", re.as_str()),
            ValueTest::Compare(op, bound) => {
                let op = match op {
                    Comparison::Gt => "gt",
                    Comparison::Gte => "gte",
                    Comparison::Lt => "lt",
                    Comparison::Lte => "lte",
                };
                write!(f, "{op}: {bound}")
            }
        }
    }
}

impl Condition {
    /// `Ok` exactly when [`Condition::holds`]; otherwise why not. The matcher decides, this only
    /// describes its decision, so the two cannot disagree.
    pub fn explain(&self, body: &Value) -> Result<(), ConditionFailure> {
        if self.holds(body) {
            return Ok(());
        }
        Err(match self {
            Condition::All(cs) => return cs.iter().try_for_each(|c| c.explain(body)),
            Condition::Any(cs) => ConditionFailure::NoAlternative {
                failures: cs.iter().filter_map(|c| c.explain(body).err()).collect(),
            },
            Condition::Not(_) => ConditionFailure::NegatedHolds,
            Condition::Leaf { path, tests } => {
                let nodes = path.all(body);
                let path = path.as_str().to_string();
                match nodes.first() {
                    None => ConditionFailure::PathMissing { path },
                    Some(found) if tests.iter().any(|t| matches!(t, ValueTest::Exists(false))) => {
                        ConditionFailure::PathPresent {
                            path,
                            found: (*found).clone(),
                        }
                    }
                    Some(found) => ConditionFailure::ValueFailed {
                        path,
                        found: (*found).clone(),
                        test: tests
                            .iter()
                            .find(|t| !t.passes(found))
                            .map(ToString::to_string)
                            .unwrap_or_default(),
                    },
                }
            }
        })
    }
}

impl Rule {
    /// `Ok` exactly when [`Rule::matches`]; otherwise the first check that failed.
    pub fn explain(
        &self,
        event_type: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(), RuleMismatch> {
        if let TypeMatcher::OneOf(patterns) = &self.types {
            if !self.types.matches(event_type) {
                return Err(RuleMismatch::EventType {
                    event_type: event_type.map(str::to_string),
                    expected: patterns.iter().map(|p| p.as_str().to_string()).collect(),
                });
            }
        }
        if self.when.is_empty() {
            return Ok(());
        }
        let body = body.ok_or(RuleMismatch::NoJsonBody)?;
        for (index, condition) in self.when.iter().enumerate() {
            condition
                .explain(body)
                .map_err(|failure| RuleMismatch::Condition { index, failure })?;
        }
        Ok(())
    }
}
