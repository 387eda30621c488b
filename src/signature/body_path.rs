//! A plain JSON path into a body (`$.a.b`, `$['event-data']`, `$.items[0]`, and in `for_each`
//! also `[*]`): simple enough to read, select and write without a query engine, which signing
//! needs (it writes signatures and timestamps into the body, or into each item).

use serde_json::Value;

/// A plain JSON path (`$.a.b`, `$['event-data']`, `$.items[0]`, and in `for_each` also
/// `[*]`): simple enough to read, and to write when signing, without a query engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BodyPath {
    source: String,
    steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Member(String),
    Index(usize),
    /// `[*]`: every element of an array.
    Each,
}

impl BodyPath {
    /// Parses a path; `[*]` only when `allow_each`.
    pub(crate) fn parse(source: &str, allow_each: bool) -> Result<Self, String> {
        let mut rest = source
            .strip_prefix('$')
            .ok_or_else(|| format!("expected a JSON path starting with `$`, got {source:?}"))?;
        let mut steps = Vec::new();
        let at = |rest: &str| source.len() - rest.len();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                    .unwrap_or(after.len());
                if end == 0 {
                    return Err(format!(
                        "expected a member name at character {} of {source:?}",
                        at(after)
                    ));
                }
                steps.push(Step::Member(after[..end].to_string()));
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix("['") {
                let end = after.find("']").ok_or_else(|| {
                    format!("unclosed `['` at character {} of {source:?}", at(rest))
                })?;
                steps.push(Step::Member(after[..end].to_string()));
                rest = &after[end + 2..];
            } else if let Some(after) = rest.strip_prefix("[*]") {
                if !allow_each {
                    return Err(format!(
                        "`[*]` selects several values; a single value is needed here ({source:?})"
                    ));
                }
                steps.push(Step::Each);
                rest = after;
            } else if let Some(after) = rest.strip_prefix('[') {
                let end = after.find(']').ok_or_else(|| {
                    format!("unclosed `[` at character {} of {source:?}", at(rest))
                })?;
                let index = after[..end].parse().map_err(|_| {
                    format!(
                        "expected an index, `[*]` or `['name']` at character {} of {source:?}",
                        at(rest)
                    )
                })?;
                steps.push(Step::Index(index));
                rest = &after[end + 1..];
            } else {
                return Err(format!(
                    "unexpected {:?} at character {} of {source:?}; only `.name`, `['name']`, \
                     `[N]`{} are supported here",
                    rest.chars().next().unwrap_or_default(),
                    at(rest),
                    if allow_each { " and `[*]`" } else { "" }
                ));
            }
        }
        if allow_each && !steps.contains(&Step::Each) {
            return Err(format!(
                "expected a path selecting every item with `[*]`, e.g. $.items[*], got {source:?}"
            ));
        }
        Ok(Self {
            source: source.to_string(),
            steps,
        })
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.source
    }

    /// The value at this path (a path without `[*]`).
    pub(crate) fn get<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        self.steps.iter().try_fold(root, |node, step| match step {
            Step::Member(name) => node.as_object()?.get(name),
            Step::Index(i) => node.as_array()?.get(*i),
            Step::Each => None,
        })
    }

    /// Every value the path selects, in document order.
    pub(crate) fn select<'v>(&self, root: &'v Value) -> Vec<&'v Value> {
        let mut nodes = vec![root];
        for step in &self.steps {
            nodes = nodes
                .into_iter()
                .flat_map(|node| -> Vec<&'v Value> {
                    match step {
                        Step::Member(name) => node.get(name).into_iter().collect(),
                        Step::Index(i) => node.get(*i).into_iter().collect(),
                        Step::Each => node
                            .as_array()
                            .map(|a| a.iter().collect())
                            .unwrap_or_default(),
                    }
                })
                .collect();
        }
        nodes
    }

    /// Every value the path selects, mutably, in document order.
    pub(crate) fn select_mut<'v>(&self, root: &'v mut Value) -> Vec<&'v mut Value> {
        let mut nodes = vec![root];
        for step in &self.steps {
            nodes = nodes
                .into_iter()
                .flat_map(|node| -> Vec<&'v mut Value> {
                    match step {
                        Step::Member(name) => node.get_mut(name).into_iter().collect(),
                        Step::Index(i) => node.get_mut(*i).into_iter().collect(),
                        Step::Each => node
                            .as_array_mut()
                            .map(|a| a.iter_mut().collect())
                            .unwrap_or_default(),
                    }
                })
                .collect();
        }
        nodes
    }

    /// Writes `value` at this path, creating objects on the way. Fails where the document has
    /// a non-object in the way or an index is out of range.
    pub(crate) fn set(&self, root: &mut Value, value: Value) -> Result<(), String> {
        let mut node = root;
        for step in &self.steps {
            node = match step {
                Step::Member(name) => {
                    if node.is_null() {
                        *node = Value::Object(Default::default());
                    }
                    let object = node.as_object_mut().ok_or_else(|| {
                        format!("cannot write {}: a non-object is in the way", self.source)
                    })?;
                    object.entry(name.clone()).or_insert(Value::Null)
                }
                Step::Index(i) => {
                    if node.is_null() {
                        *node = Value::Array(vec![Value::Null; i + 1]);
                    }
                    node.get_mut(*i)
                        .ok_or_else(|| format!("cannot write {}: no element [{i}]", self.source))?
                }
                Step::Each => return Err(format!("cannot write {}: `[*]`", self.source)),
            };
        }
        *node = value;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn body_path_reads_selects_and_writes() {
        let mut doc = json!({"items": [{"a": {"b": 1}}, {"a": {"b": "x"}}], "e-d": true});
        let each = BodyPath::parse("$.items[*].a", true).unwrap();
        assert_eq!(each.select(&doc).len(), 2);
        let b = BodyPath::parse("$.b", false).unwrap();
        for item in each.select_mut(&mut doc) {
            b.set(item, json!("signed")).unwrap();
        }
        assert_eq!(doc["items"][1]["a"]["b"], json!("signed"));
        let dashed = BodyPath::parse("$['e-d']", false).unwrap();
        assert_eq!(dashed.get(&doc), Some(&json!(true)));
        let new = BodyPath::parse("$.sig.value", false).unwrap();
        new.set(&mut doc, json!(1)).unwrap();
        assert_eq!(doc["sig"]["value"], json!(1));
        assert!(BodyPath::parse("$.items", true).is_err());
        assert!(BodyPath::parse("$.items[0].x", false)
            .unwrap()
            .set(&mut json!({"items": []}), json!(1))
            .is_err());
    }
}
