//! YAML read by PyYAML (from the tests' virtual environment), as JSON.
//!
//! The loader is PyYAML's `BaseLoader`: every scalar stays a string, as written,
//! so `on:` is the key `"on"` (YAML 1.1 would make it `true`) and `'true'` and
//! `true` both read as `"true"`, which is how the tests compare them.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::require_tool;

const TO_JSON: &str = "import json, sys, yaml\n\
    json.dump(yaml.load(sys.stdin.buffer, Loader=yaml.BaseLoader), sys.stdout)";

/// The YAML document in `text`; panics (with PyYAML's message) when it is not valid.
pub fn parse(text: &str) -> serde_json::Value {
    require_tool("python3");
    let mut child = Command::new("python3")
        .args(["-c", TO_JSON])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "not valid YAML:\n{}\n---\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The YAML file at `path`.
pub fn parse_file(path: &Path) -> serde_json::Value {
    parse(&std::fs::read_to_string(path).unwrap())
}
