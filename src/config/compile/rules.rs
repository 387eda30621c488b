//! Rules: type patterns, payload conditions and target references. Also reports rules that can
//! never match (an empty type list, a type match on an endpoint with no event type, an empty
//! `in`, an empty numeric range, `exists: false` beside other tests).

use super::take;
use crate::config::error::ErrorSink;
use crate::config::raw::{Lenient, RawCondition, RawRule};
use crate::jsonpath::JsonPath;
use crate::rules::{Comparison, Condition, Rule, TypeMatcher, TypePattern, ValueTest};
use crate::target::Target;
use indexmap::IndexMap;
use regex::Regex;
use std::sync::Arc;

pub fn compile_all(
    raw: Vec<Lenient<RawRule>>,
    endpoint_path: &str,
    has_event_type: bool,
    targets: &IndexMap<Arc<str>, Arc<Target>>,
    declared_targets: &[String],
    sink: &mut ErrorSink,
    warnings: &mut ErrorSink,
) -> Vec<Rule> {
    let mut rules: Vec<Rule> = Vec::new();
    let mut signatures: Vec<(String, usize)> = Vec::new();
    for (i, item) in raw.into_iter().enumerate() {
        let path = format!("{endpoint_path}.rules[{i}]");
        let Some(raw) = take(item, &path, sink) else {
            continue;
        };
        let shape = format!(
            "{:?}|{:?}|{:?}",
            raw.matcher.event_type, raw.matcher.when, raw.forward
        );
        if let Some((_, first)) = signatures.iter().find(|(s, _)| *s == shape) {
            warnings.push(
                &path,
                format!("same match and targets as rules[{first}]: it adds nothing"),
            );
        }
        signatures.push((shape, i));
        if let Some(rule) = compile(
            raw,
            i,
            &path,
            has_event_type,
            targets,
            declared_targets,
            sink,
        ) {
            rules.push(rule);
        }
    }
    rules
}

fn compile(
    raw: RawRule,
    index: usize,
    path: &str,
    has_event_type: bool,
    targets: &IndexMap<Arc<str>, Arc<Target>>,
    declared_targets: &[String],
    sink: &mut ErrorSink,
) -> Option<Rule> {
    let before = sink.len();
    let types = match raw.matcher.event_type {
        None => TypeMatcher::Any,
        Some(list) => {
            let tpath = format!("{path}.match.type");
            if list.0.is_empty() {
                sink.push(
                    &tpath,
                    "an empty type list matches nothing: this rule can never match",
                );
            } else if !has_event_type {
                sink.push(
                    &tpath,
                    "this rule matches on the event type, but the endpoint has no `event.type` source: it can never match",
                );
            }
            let patterns = list
                .0
                .iter()
                .enumerate()
                .filter_map(|(j, p)| type_pattern(p, &format!("{tpath}[{j}]"), sink))
                .collect();
            TypeMatcher::OneOf(patterns)
        }
    };
    let when = raw
        .matcher
        .when
        .iter()
        .enumerate()
        .filter_map(|(j, c)| condition(c, &format!("{path}.match.when[{j}]"), sink))
        .collect();
    let fpath = format!("{path}.forward");
    if raw.forward.0.is_empty() {
        sink.push(&fpath, "expected at least one target name");
    }
    let mut rule_targets = Vec::new();
    for (j, name) in raw.forward.0.iter().enumerate() {
        match targets.get_key_value(name.as_str()) {
            Some((key, _)) => rule_targets.push(key.clone()),
            // Declared but with errors of its own: those are reported at the target.
            None if declared_targets.contains(name) => sink.push(
                format!("{fpath}[{j}]"),
                format!("target {name:?} has errors (see above)"),
            ),
            None => sink.push(
                format!("{fpath}[{j}]"),
                format!(
                    "unknown target {name:?}; defined targets: {}",
                    names(declared_targets)
                ),
            ),
        }
    }
    if sink.len() != before {
        return None;
    }
    Some(Rule {
        name: raw.name.unwrap_or_else(|| format!("rules[{index}]")),
        types,
        when,
        targets: rule_targets,
    })
}

fn names(declared: &[String]) -> String {
    if declared.is_empty() {
        return "(none)".into();
    }
    declared.join(", ")
}

fn type_pattern(p: &str, path: &str, sink: &mut ErrorSink) -> Option<TypePattern> {
    if p.is_empty() {
        sink.push(path, "an empty event type matches nothing");
        return None;
    }
    if !p.contains(['*', '?', '[', '{']) {
        return Some(TypePattern::Exact(p.to_string()));
    }
    match globset::GlobBuilder::new(p)
        .literal_separator(false)
        .build()
    {
        Ok(g) => Some(TypePattern::Glob(p.to_string(), g.compile_matcher())),
        Err(e) => {
            sink.push(path, format!("invalid glob {p:?}: {e}"));
            None
        }
    }
}

fn condition(raw: &RawCondition, path: &str, sink: &mut ErrorSink) -> Option<Condition> {
    let combinators = [raw.all.is_some(), raw.any.is_some(), raw.not.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    let has_tests = raw.exists.is_some()
        || raw.equals.is_some()
        || raw.one_of.is_some()
        || raw.regex.is_some()
        || raw.gt.is_some()
        || raw.gte.is_some()
        || raw.lt.is_some()
        || raw.lte.is_some();
    if combinators > 1 || (combinators == 1 && (has_tests || raw.path.is_some())) {
        sink.push(
            path,
            "a condition is either one of `all`, `any`, `not`, or a `path` with tests, not both",
        );
        return None;
    }
    let list =
        |items: &Vec<RawCondition>, key: &str, sink: &mut ErrorSink| -> Option<Vec<Condition>> {
            if items.is_empty() {
                sink.push(format!("{path}.{key}"), "expected at least one condition");
            }
            let before = sink.len();
            let out: Vec<_> = items
                .iter()
                .enumerate()
                .filter_map(|(i, c)| condition(c, &format!("{path}.{key}[{i}]"), sink))
                .collect();
            (sink.len() == before && !items.is_empty()).then_some(out)
        };
    if let Some(items) = &raw.all {
        return list(items, "all", sink).map(Condition::All);
    }
    if let Some(items) = &raw.any {
        return list(items, "any", sink).map(Condition::Any);
    }
    if let Some(inner) = &raw.not {
        return condition(inner, &format!("{path}.not"), sink).map(|c| Condition::Not(Box::new(c)));
    }
    leaf(raw, path, has_tests, sink)
}

fn leaf(
    raw: &RawCondition,
    path: &str,
    has_tests: bool,
    sink: &mut ErrorSink,
) -> Option<Condition> {
    let Some(source) = &raw.path else {
        sink.push(path, "expected `path: $.json.path` with tests (exists, equals, in, regex, gt, gte, lt, lte), or one of all/any/not");
        return None;
    };
    if !has_tests {
        sink.push(
            path,
            "expected at least one test: exists, equals, in, regex, gt, gte, lt, lte",
        );
        return None;
    }
    let before = sink.len();
    let json_path = JsonPath::compile(source)
        .map_err(|m| sink.push(format!("{path}.path"), m))
        .ok();
    let mut tests = Vec::new();
    if let Some(e) = raw.exists {
        tests.push(ValueTest::Exists(e));
    }
    if let Some(v) = &raw.equals {
        tests.push(ValueTest::Equals(v.clone()));
    }
    if let Some(vs) = &raw.one_of {
        if vs.is_empty() {
            sink.push(
                format!("{path}.in"),
                "an empty list matches nothing: this condition can never hold",
            );
        }
        tests.push(ValueTest::In(vs.clone()));
    }
    if let Some(re) = &raw.regex {
        match Regex::new(re) {
            Ok(r) => tests.push(ValueTest::Regex(r)),
            Err(e) => sink.push(format!("{path}.regex"), format!("invalid regex: {e}")),
        }
    }
    for (op, bound) in [
        (Comparison::Gt, raw.gt),
        (Comparison::Gte, raw.gte),
        (Comparison::Lt, raw.lt),
        (Comparison::Lte, raw.lte),
    ] {
        if let Some(b) = bound {
            tests.push(ValueTest::Compare(op, b));
        }
    }
    let low = raw.gt.map(|v| (v, true)).or(raw.gte.map(|v| (v, false)));
    let high = raw.lt.map(|v| (v, true)).or(raw.lte.map(|v| (v, false)));
    if let (Some((lo, lo_strict)), Some((hi, hi_strict))) = (low, high) {
        if lo > hi || (lo == hi && (lo_strict || hi_strict)) {
            sink.push(
                path,
                format!("the range {lo}..{hi} is empty: this condition can never hold"),
            );
        }
    }
    if raw.exists == Some(false) && tests.len() > 1 {
        sink.push(
            format!("{path}.exists"),
            "`exists: false` beside other tests can never hold",
        );
    }
    if sink.len() != before {
        return None;
    }
    Some(Condition::Leaf {
        path: json_path?,
        tests,
    })
}
