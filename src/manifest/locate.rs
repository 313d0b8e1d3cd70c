//! Where each key of a manifest stands: the line of every key path, and the
//! duplicate keys that `serde_json` would silently merge. Runs over text that
//! `serde_json` already accepted, so it needs no error handling of its own.

use std::collections::{HashMap, HashSet};

/// Finds the line of every key path in valid JSON text, and the duplicate keys.
pub(crate) fn locate_keys(text: &str) -> (HashMap<String, usize>, Vec<(String, usize)>) {
    enum Frame {
        Object {
            seen: HashSet<String>,
            key: Option<String>,
            expect_key: bool,
        },
        Array,
    }
    let mut lines = HashMap::new();
    let mut duplicates = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut line = 1;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => line += 1,
            b'{' => stack.push(Frame::Object {
                seen: HashSet::new(),
                key: None,
                expect_key: true,
            }),
            b'[' => stack.push(Frame::Array),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => {
                if let Some(Frame::Object { expect_key, .. }) = stack.last_mut() {
                    *expect_key = true;
                }
            }
            b':' => {
                if let Some(Frame::Object { expect_key, .. }) = stack.last_mut() {
                    *expect_key = false;
                }
            }
            b'"' => {
                let start = i;
                i += 1;
                while bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                let is_key = matches!(
                    stack.last(),
                    Some(Frame::Object {
                        expect_key: true,
                        ..
                    })
                );
                if is_key {
                    let name: String = serde_json::from_str(&text[start..=i]).unwrap_or_default();
                    let mut path: Vec<&str> = stack
                        .iter()
                        .take(stack.len() - 1)
                        .map(|f| match f {
                            Frame::Object { key, .. } => key.as_deref().unwrap_or(""),
                            Frame::Array => "[]",
                        })
                        .collect();
                    path.push(&name);
                    let path = path.join(".");
                    if let Some(Frame::Object { seen, key, .. }) = stack.last_mut() {
                        if !seen.insert(name.clone()) {
                            duplicates.push((path.clone(), line));
                        }
                        *key = Some(name);
                    }
                    lines.entry(path).or_insert(line);
                }
            }
            _ => {}
        }
        i += 1;
    }
    (lines, duplicates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_nested_keys_and_duplicates() {
        let text = "{\n  \"a\": {\n    \"b\": \"x\",\n    \"b\": \"{\\\"c\\\": 1}\"\n  },\n  \"d\": [\"e\"]\n}\n";
        let (lines, duplicates) = locate_keys(text);
        assert_eq!(lines["a"], 2);
        assert_eq!(lines["a.b"], 3);
        assert_eq!(lines["d"], 6);
        assert!(!lines.contains_key("c"), "a key inside a string is no key");
        assert_eq!(duplicates, [("a.b".to_owned(), 4)]);
    }
}
