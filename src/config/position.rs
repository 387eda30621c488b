//! Maps a path in the YAML document (`endpoints[1].rules[0].match`) to the line and column where
//! that node starts, so errors found after parsing (compile-time checks) can still point into the
//! file. serde_yaml gives positions only for its own syntax errors; this index comes from a second,
//! event-level read of the same text with yaml-rust2.

use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// Path -> 1-based (line, column) of the key (for mapping entries) or item (for sequences).
#[derive(Debug, Default)]
pub struct PositionIndex {
    positions: HashMap<String, (usize, usize)>,
}

impl PositionIndex {
    pub fn build(text: &str) -> Self {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(text);
        // A syntax error is reported by serde_yaml with its own position; here it only
        // truncates the index.
        let _ = parser.load(&mut builder, false);
        Self {
            positions: builder.positions,
        }
    }

    /// Position of the deepest node on `path` that the index knows.
    pub fn find(&self, path: &str) -> Option<(usize, usize)> {
        let mut candidate = path;
        loop {
            if let Some(p) = self.positions.get(candidate) {
                return Some(*p);
            }
            let cut = candidate.rfind(['.', '['])?;
            candidate = &candidate[..cut];
        }
    }
}

enum Frame {
    Mapping { path: String, key: Option<String> },
    Sequence { path: String, next: usize },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    positions: HashMap<String, (usize, usize)>,
}

impl Builder {
    /// Called when a node (scalar or collection) starts: returns its path, and records the
    /// position of sequence items (mapping entries are recorded at their key; an item that is a
    /// mapping, at its first key, since the parser's mark for a mapping start is imprecise).
    fn enter_value(&mut self, mark: Marker, record: bool) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Mapping { path, key }) => {
                let key = key.take()?;
                Some(child(path, &key))
            }
            Some(Frame::Sequence { path, next }) => {
                let item = format!("{path}[{next}]");
                *next += 1;
                if record {
                    self.positions
                        .entry(item.clone())
                        .or_insert((mark.line(), mark.col() + 1));
                }
                Some(item)
            }
        }
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(value, ..) => {
                if let Some(Frame::Mapping { path, key }) = self.stack.last_mut() {
                    if key.is_none() {
                        let here = (mark.line(), mark.col() + 1);
                        self.positions.entry(path.clone()).or_insert(here);
                        self.positions.entry(child(path, &value)).or_insert(here);
                        *key = Some(value);
                        return;
                    }
                }
                self.enter_value(mark, true);
            }
            Event::MappingStart(..) => {
                let path = self.enter_value(mark, false).unwrap_or_default();
                self.stack.push(Frame::Mapping { path, key: None });
            }
            Event::SequenceStart(..) => {
                let path = self.enter_value(mark, true).unwrap_or_default();
                self.stack.push(Frame::Sequence { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            Event::Alias(_) => {
                self.enter_value(mark, true);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "server:\n  listen: 1.2.3.4:80\nendpoints:\n  - path: /a\n    rules:\n      - match:\n          type: x\n        forward: [t1, t2]\n";

    #[test]
    fn finds_keys_and_sequence_items() {
        let idx = PositionIndex::build(DOC);
        assert_eq!(idx.find("server.listen"), Some((2, 3)));
        assert_eq!(idx.find("endpoints[0]"), Some((4, 5)));
        assert_eq!(idx.find("endpoints[0].rules[0].match.type"), Some((7, 11)));
    }

    #[test]
    fn falls_back_to_the_nearest_known_parent() {
        let idx = PositionIndex::build(DOC);
        assert_eq!(
            idx.find("endpoints[0].rules[0].match.when[3]"),
            Some((6, 9))
        );
        assert_eq!(idx.find("nothing.here"), None);
    }
}
