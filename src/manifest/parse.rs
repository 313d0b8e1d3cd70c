//! The strict manifest reader: every rule of SPEC 2.1, every problem reported with
//! its key path and line, none swallowed after the first.
//!
//! `serde_json` checks the syntax (and reports trailing data and bad escapes with a
//! line); the `locate` module then finds the line of every key and the duplicate
//! keys that `serde_json` would silently merge, and each value is checked by the
//! rules of [`fields`](super::fields).

use std::collections::HashMap;

use base64::Engine as _;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use unicode_normalization::{IsNormalized, is_nfc_quick};

use super::fields::{
    check_created_utc, check_url, describe_forbidden, describe_hex, escape_forbidden, is_sha256_hex,
};
use super::locate::locate_keys;
use super::{Artifact, ArtifactKind, Channels, Finding, MAX_NOTES_CHARS, Manifest};
use crate::build_id::BuildId;
use crate::text::{cap, code};

/// What a manifest is checked against besides its own content.
#[derive(Clone, Debug)]
pub struct Rules<'a> {
    /// The repository's channels.
    pub channels: &'a Channels,
    /// The name of the folder holding the file, when it is a channel folder.
    pub folder: Option<&'a str>,
    /// Unknown keys are errors (true) or warnings.
    pub strict_keys: bool,
    /// Non-ASCII text is an error (true) or a warning.
    pub ascii_only: bool,
    /// The current time, for the "more than a day in the future" rule.
    pub now: OffsetDateTime,
}

/// The result of reading one manifest.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    /// The JSON object, when the text was a JSON object at all.
    pub object: Option<Map<String, Value>>,
    /// The manifest, when no rule failed.
    pub manifest: Option<Manifest>,
    /// Every problem found, in file order.
    pub findings: Vec<Finding>,
    /// The line of each key path (`artifact.url`), first occurrence.
    pub lines: HashMap<String, usize>,
}

impl Parsed {
    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(Finding::is_error)
    }

    /// A top-level string value as written, valid or not (for reports), with the
    /// characters no manifest string may hold escaped (`\u{202e}`).
    pub fn string_field(&self, key: &str) -> Option<String> {
        self.object
            .as_ref()?
            .get(key)?
            .as_str()
            .map(|s| escape_forbidden(s).into_owned())
    }

    /// The line of a key path, if the key is present.
    pub fn line_of(&self, key: &str) -> Option<usize> {
        self.lines.get(key).copied()
    }
}

const TOP_KEYS: [&str; 7] = [
    "artifact",
    "build_id",
    "channel",
    "created_utc",
    "min_build_id",
    "notes",
    "signature",
];
const REQUIRED_TOP: [&str; 5] = ["artifact", "build_id", "channel", "created_utc", "notes"];
const ARTIFACT_KEYS: [&str; 3] = ["kind", "sha256", "url"];

/// Reads a manifest from its bytes and checks every rule of SPEC 2.1.
pub fn parse(bytes: &[u8], rules: &Rules<'_>) -> Parsed {
    let mut parsed = Parsed::default();
    let findings = &mut parsed.findings;
    if bytes.is_empty() {
        findings.push(Finding::error(
            None,
            None,
            "the file is empty; a manifest is a JSON object",
        ));
        return parsed;
    }
    let mut bytes = bytes;
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        findings.push(
            Finding::error(
                Some(1),
                None,
                "the file starts with a byte-order mark (U+FEFF)",
            )
            .with_hint("save it as UTF-8 without a BOM"),
        );
        bytes = rest;
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            #[allow(clippy::naive_bytecount)] // at most 64 KiB, once
            let line = 1 + bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            findings.push(Finding::error(
                Some(line),
                None,
                "the file is not valid UTF-8",
            ));
            return parsed;
        }
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            findings.push(syntax_finding(&e));
            return parsed;
        }
    };
    let Value::Object(object) = value else {
        findings.push(Finding::error(
            Some(1),
            None,
            format!(
                "the manifest must be a JSON object, found {}",
                type_name(&value)
            ),
        ));
        return parsed;
    };
    let (lines, duplicates) = locate_keys(text);
    for (key, line) in duplicates {
        findings.push(
            Finding::error(
                Some(line),
                Some(&key),
                format!("duplicate key \"{}\"", cap(&key)),
            )
            .with_hint("a key may appear once; devices would read only one of the values"),
        );
    }
    parsed.lines = lines;
    let manifest = Checker {
        rules,
        lines: &parsed.lines,
        findings: &mut parsed.findings,
    }
    .check(&object);
    parsed.manifest = if parsed.findings.iter().any(Finding::is_error) {
        None
    } else {
        manifest
    };
    parsed.object = Some(object);
    // Messages quote keys and values: never with a raw control character or
    // bidirectional override in them (the finding names it as `U+202E`).
    for finding in &mut parsed.findings {
        finding.message = escape_forbidden(&finding.message).into_owned();
        finding.key = finding
            .key
            .take()
            .map(|k| escape_forbidden(&k).into_owned());
    }
    parsed
}

fn syntax_finding(e: &serde_json::Error) -> Finding {
    let full = e.to_string();
    let message = full.split(" at line ").next().unwrap_or(&full);
    let message = match e.classify() {
        serde_json::error::Category::Eof if e.line() <= 1 && e.column() == 0 => {
            "the file holds no JSON value".to_owned()
        }
        serde_json::error::Category::Eof => {
            "the JSON ends too early (unclosed object or string)".to_owned()
        }
        _ if message == "trailing characters" => {
            format!(
                "trailing data after the JSON object (column {})",
                e.column()
            )
        }
        _ => format!("invalid JSON: {message} (column {})", e.column()),
    };
    Finding::error(Some(e.line().max(1)), None, message)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

struct Checker<'a, 'r> {
    rules: &'a Rules<'r>,
    lines: &'a HashMap<String, usize>,
    findings: &'a mut Vec<Finding>,
}

impl Checker<'_, '_> {
    fn line(&self, key: &str) -> Option<usize> {
        self.lines.get(key).copied()
    }

    fn error(&mut self, key: &str, message: String) {
        let line = self.line(key);
        self.findings.push(Finding::error(line, Some(key), message));
    }

    fn error_hint(&mut self, key: &str, message: String, hint: &str) {
        let line = self.line(key);
        self.findings
            .push(Finding::error(line, Some(key), message).with_hint(hint));
    }

    fn check(&mut self, object: &Map<String, Value>) -> Option<Manifest> {
        self.check_keys(object, "", &TOP_KEYS, &REQUIRED_TOP, Some(1));
        let mut strings = HashMap::new();
        for (key, value) in object {
            if key == "artifact" {
                continue;
            }
            if let Some(s) = self.string(key, value) {
                strings.insert(key.as_str(), s);
            }
        }
        let artifact = match object.get("artifact") {
            Some(Value::Object(art)) => self.check_artifact(art),
            Some(other) => {
                self.error(
                    "artifact",
                    format!("`artifact` must be an object, found {}", type_name(other)),
                );
                None
            }
            None => None,
        };

        let channel = strings.get("channel").copied();
        if let Some(channel) = channel {
            self.check_channel(channel);
        }
        let build_id = strings
            .get("build_id")
            .and_then(|s| self.build_id("build_id", s));
        if let Some(id) = &build_id
            && id.is_too_far_in_future(self.rules.now)
        {
            self.error_hint(
                "build_id",
                format!("`build_id` `{id}` is more than a day in the future"),
                "a future build id would lock devices out of every later real build; check the clock that made it",
            );
        }
        // `""` counts as absent (SPEC 2.1: every manifest of the real channel
        // repository carries `"min_build_id": ""`); the object, and so the signed
        // bytes, keep it.
        let min_build_id = strings
            .get("min_build_id")
            .filter(|s| !s.is_empty())
            .and_then(|s| self.build_id("min_build_id", s));
        if let (Some(id), Some(min)) = (&build_id, &min_build_id)
            && min.cmp_time(id).is_gt()
        {
            self.error(
                "min_build_id",
                format!("`min_build_id` `{min}` is later than `build_id` `{id}`; devices would refuse this very build"),
            );
        }
        let created = strings.get("created_utc").copied();
        if let Some(created) = created
            && let Err(reason) = check_created_utc(created)
        {
            self.error(
                "created_utc",
                format!(
                    "`created_utc` {} {reason}; expected `YYYY-MM-DDTHH:MM:SSZ` in UTC",
                    code(created)
                ),
            );
        }
        let notes = strings.get("notes").copied();
        if let Some(notes) = notes {
            let count = notes.chars().count();
            if count > MAX_NOTES_CHARS {
                self.error(
                    "notes",
                    format!("`notes` is {count} characters long, more than {MAX_NOTES_CHARS}"),
                );
            }
        }
        let signature = match strings.get("signature").copied() {
            None | Some("") => None,
            Some(sig) => self.signature(sig),
        };

        Some(Manifest {
            channel: channel?.to_owned(),
            build_id: build_id?,
            created_utc: created?.to_owned(),
            min_build_id,
            notes: notes?.to_owned(),
            signature,
            artifact: artifact?,
        })
    }

    /// Unknown and missing keys of one object (`prefix` is `""` or `"artifact."`).
    fn check_keys(
        &mut self,
        object: &Map<String, Value>,
        prefix: &str,
        known: &[&str],
        required: &[&str],
        object_line: Option<usize>,
    ) {
        for key in object.keys() {
            if let Some((problem, hint)) = describe_forbidden(key) {
                let path = format!("{prefix}{key}");
                let line = self.line(&path);
                self.findings.push(
                    Finding::error(
                        line,
                        Some(&path),
                        format!("the key \"{}\" contains {problem}", cap(&path)),
                    )
                    .with_hint(hint),
                );
            }
            if known.contains(&key.as_str()) {
                continue;
            }
            let path = format!("{prefix}{key}");
            let line = self.line(&path);
            let message = format!("unknown key \"{}\"", cap(&path));
            if self.rules.strict_keys {
                self.findings.push(
                    Finding::error(line, Some(&path), format!("{message} (strict keys)"))
                        .with_hint("remove it, or pass `--no-strict-keys` to report unknown keys as warnings; devices with strict keys refuse it"),
                );
            } else {
                self.findings
                    .push(Finding::warning(line, Some(&path), message));
            }
        }
        for key in required {
            if !object.contains_key(*key) {
                let path = format!("{prefix}{key}");
                self.findings.push(Finding::error(
                    object_line,
                    Some(&path),
                    format!("missing required key \"{path}\""),
                ));
            }
        }
    }

    fn check_artifact(&mut self, art: &Map<String, Value>) -> Option<Artifact> {
        let line = self.line("artifact");
        self.check_keys(art, "artifact.", &ARTIFACT_KEYS, &ARTIFACT_KEYS, line);
        let mut strings = HashMap::new();
        for (key, value) in art {
            let path = format!("artifact.{key}");
            if let Some(s) = self.string(&path, value) {
                strings.insert(key.as_str(), s);
            }
        }
        let kind = strings.get("kind").and_then(|k| {
            let kind = ArtifactKind::from_manifest(k);
            if kind.is_none() {
                self.error(
                    "artifact.kind",
                    format!(
                        "`artifact.kind` {} is not one of `source-tar`, `firmware`, `oci`",
                        code(k)
                    ),
                );
            }
            kind
        });
        let sha256 = strings.get("sha256").copied().filter(|sha| {
            let ok = is_sha256_hex(sha);
            if !ok {
                self.error(
                    "artifact.sha256",
                    format!(
                        "`artifact.sha256` must be 64 lowercase hex digits, found {}",
                        describe_hex(sha)
                    ),
                );
            }
            ok
        });
        let url = strings
            .get("url")
            .copied()
            .filter(|url| match check_url(url, kind) {
                Ok(()) => true,
                Err(reason) => {
                    self.error("artifact.url", format!("`artifact.url` {reason}"));
                    false
                }
            });
        Some(Artifact {
            kind: kind?,
            url: url?.to_owned(),
            sha256: sha256?.to_owned(),
        })
    }

    fn check_channel(&mut self, channel: &str) {
        if !self.rules.channels.contains(channel) {
            self.error_hint(
                "channel",
                format!(
                    "`channel` {} is not one of the repository's channels ({})",
                    code(channel),
                    self.rules.channels.list()
                ),
                "use one of those, or add the channel to `channels` in otactl.toml",
            );
        } else if let Some(folder) = self.rules.folder
            && folder != channel
        {
            self.error_hint(
                "channel",
                format!(
                    "`channel` is {} but the file is in the folder {}",
                    code(channel),
                    code(folder)
                ),
                "a manifest must sit in the folder of its own channel",
            );
        }
    }

    fn build_id(&mut self, key: &str, s: &str) -> Option<BuildId> {
        match s.parse::<BuildId>() {
            Ok(id) => Some(id),
            Err(e) => {
                let message = format!("`{key}`: {e}");
                if key == "build_id" && s.is_empty() {
                    self.error_hint(key, message, "the file is a template, not a release: write the channel's first manifest with `otactl manifest new` (it replaces a template), or remove the file until the channel's first release");
                } else if let Ok(legacy) = BuildId::parse_legacy(s) {
                    self.error_hint(
                        key,
                        format!("`{key}` {} is not a build id: its suffix {} is not a git sha (7 to 40 lowercase hex digits)", code(s), code(legacy.sha())),
                        "a legacy id like this one is read only in the manifest of a `--base`, compared by its time part; a new manifest needs `YYYYMMDD-HHMM-<gitsha>` as `otactl build-id` makes it",
                    );
                } else {
                    self.error(key, message);
                }
                None
            }
        }
    }

    fn signature(&mut self, sig: &str) -> Option<[u8; 64]> {
        match base64::engine::general_purpose::STANDARD.decode(sig) {
            Ok(bytes) => match <[u8; 64]>::try_from(bytes.as_slice()) {
                Ok(arr) if sig.len() == 88 => Some(arr),
                _ => {
                    self.error(
                        "signature",
                        format!("`signature` decodes to {} bytes; an Ed25519 signature is 64 bytes (88 base64 characters)", bytes.len()),
                    );
                    None
                }
            },
            Err(e) => {
                self.error_hint(
                    "signature",
                    format!(
                        "`signature` is not standard base64 with padding ({})",
                        e.to_string().trim_end_matches('.').to_lowercase()
                    ),
                    "re-sign the manifest with `otactl manifest sign`",
                );
                None
            }
        }
    }

    /// Checks that a value is a string obeying the text rules; returns it if so.
    fn string<'v>(&mut self, key: &str, value: &'v Value) -> Option<&'v str> {
        let Value::String(s) = value else {
            self.error(
                key,
                format!("`{key}` must be a string, found {}", type_name(value)),
            );
            return None;
        };
        let mut ok = true;
        if let Some((problem, hint)) = describe_forbidden(s) {
            self.error_hint(key, format!("`{key}` contains {problem}"), hint);
            ok = false;
        }
        if is_nfc_quick(s.chars()) != IsNormalized::Yes && !unicode_normalization::is_nfc(s) {
            self.error_hint(
                key,
                format!("`{key}` is not in Unicode NFC form"),
                "normalise the text to NFC (composed characters), e.g. `uconv -x any-nfc` or Python's `unicodedata.normalize(\"NFC\", s)`",
            );
            ok = false;
        }
        if !s.is_ascii() {
            let message = format!("`{key}` contains non-ASCII text");
            let hint = "a verifier that escapes non-ASCII when it forms the signed bytes (Python's `json.dumps` with its default `ensure_ascii=True`) computes other bytes, and the signature fails there; set `[signing] ascii_only = true` in otactl.toml to make this an error";
            let line = self.line(key);
            if self.rules.ascii_only {
                self.findings.push(
                    Finding::error(line, Some(key), format!("{message} (`ascii_only` is set)"))
                        .with_hint(hint),
                );
                ok = false;
            } else {
                self.findings
                    .push(Finding::warning(line, Some(key), message).with_hint(hint));
            }
        }
        ok.then_some(s.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{
  "artifact": {
    "kind": "source-tar",
    "sha256": "3f0c2b4a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a",
    "url": "https://github.com/o/r/releases/download/20260115-1614-9121078/evse-src-20260115-1614-9121078.tar.gz"
  },
  "build_id": "20260115-1614-9121078",
  "channel": "stable",
  "created_utc": "2026-01-15T13:55:03Z",
  "min_build_id": "20251201-0930-1a2b3c4",
  "notes": "short description"
}
"#;

    fn channels() -> Channels {
        Channels::from(["canary", "staging", "stable"])
    }

    fn check(text: &str) -> Parsed {
        let channels = channels();
        let rules = Rules {
            channels: &channels,
            folder: Some("stable"),
            strict_keys: true,
            ascii_only: false,
            now: time::macros::datetime!(2026-01-16 00:00 UTC),
        };
        parse(text.as_bytes(), &rules)
    }

    fn errors(text: &str) -> Vec<(Option<usize>, String)> {
        check(text)
            .findings
            .into_iter()
            .filter(Finding::is_error)
            .map(|f| (f.line, crate::text::plain(&f.message).into_owned()))
            .collect()
    }

    fn replace(from: &str, to: &str) -> String {
        assert!(GOOD.contains(from), "{from}");
        GOOD.replacen(from, to, 1)
    }

    #[test]
    fn good_manifest_parses() {
        let p = check(GOOD);
        assert!(p.findings.is_empty(), "{:?}", p.findings);
        let m = p.manifest.unwrap();
        assert_eq!(m.build_id.as_str(), "20260115-1614-9121078");
        assert_eq!(m.artifact.kind, ArtifactKind::SourceTar);
        assert_eq!(p.lines["artifact.url"], 5);
        assert_eq!(p.lines["notes"], 11);
    }

    #[test]
    fn unknown_keys_are_errors_under_strict_keys() {
        let text = replace("\"notes\"", "\"extra\": \"x\",\n  \"notes\"");
        assert_eq!(
            errors(&text),
            [(Some(11), "unknown key \"extra\" (strict keys)".into())]
        );
        let text = replace("\"kind\"", "\"size\": \"1\",\n    \"kind\"");
        assert_eq!(
            errors(&text),
            [(
                Some(3),
                "unknown key \"artifact.size\" (strict keys)".into()
            )]
        );
    }

    #[test]
    fn unknown_keys_are_warnings_otherwise() {
        let text = replace("\"notes\"", "\"extra\": \"x\",\n  \"notes\"");
        let channels = channels();
        let rules = Rules {
            channels: &channels,
            folder: None,
            strict_keys: false,
            ascii_only: false,
            now: time::macros::datetime!(2026-01-16 00:00 UTC),
        };
        let p = parse(text.as_bytes(), &rules);
        assert_eq!(p.findings.len(), 1);
        assert_eq!(p.findings[0].severity, super::super::Severity::Warning);
        assert!(p.manifest.is_some());
    }

    #[test]
    fn duplicate_keys_at_any_level() {
        let text = replace(
            "\"notes\": \"short description\"",
            "\"notes\": \"a\",\n  \"notes\": \"b\"",
        );
        assert_eq!(
            errors(&text),
            [(Some(12), "duplicate key \"notes\"".into())]
        );
        let text = replace(
            "\"kind\": \"source-tar\",",
            "\"kind\": \"source-tar\",\n    \"kind\": \"firmware\",",
        );
        assert_eq!(
            errors(&text),
            [(Some(4), "duplicate key \"artifact.kind\"".into())]
        );
        // An escaped spelling of the same key is the same key.
        let text = replace(
            "\"notes\": \"short description\"",
            "\"notes\": \"a\",\n  \"n\\u006ftes\": \"b\"",
        );
        assert_eq!(
            errors(&text),
            [(Some(12), "duplicate key \"notes\"".into())]
        );
    }

    #[test]
    fn non_string_values() {
        assert_eq!(
            errors(&replace("\"short description\"", "12")),
            [(Some(11), "`notes` must be a string, found a number".into())]
        );
        assert_eq!(
            errors(&replace("\"short description\"", "null")),
            [(Some(11), "`notes` must be a string, found null".into())]
        );
        assert_eq!(
            errors(&replace("\"short description\"", "[\"a\"]")),
            [(Some(11), "`notes` must be a string, found an array".into())]
        );
        assert_eq!(
            errors(&replace("\"short description\"", "true")),
            [(Some(11), "`notes` must be a string, found a boolean".into())]
        );
    }

    #[test]
    fn missing_keys() {
        for key in ["build_id", "channel", "created_utc", "notes"] {
            let obj: Map<String, Value> = serde_json::from_str(GOOD).unwrap();
            let mut obj = obj;
            obj.remove(key);
            let text = serde_json::to_string_pretty(&obj).unwrap();
            assert_eq!(
                errors(&text),
                [(Some(1), format!("missing required key \"{key}\""))]
            );
        }
        for key in ["kind", "sha256", "url"] {
            let mut obj: Map<String, Value> = serde_json::from_str(GOOD).unwrap();
            obj["artifact"].as_object_mut().unwrap().remove(key);
            let text = serde_json::to_string_pretty(&obj).unwrap();
            assert_eq!(
                errors(&text),
                [(Some(2), format!("missing required key \"artifact.{key}\""))]
            );
        }
    }

    #[test]
    fn build_id_rules() {
        let e = errors(&replace(
            "\"20260115-1614-9121078\"",
            "\"20261315-1614-9121078\"",
        ));
        assert_eq!(e.len(), 1);
        assert!(e[0].1.contains("month 13 does not exist"), "{e:?}");
        let e = errors(&replace(
            "\"20260115-1614-9121078\"",
            "\"20260115-2414-9121078\"",
        ));
        assert!(e[0].1.contains("hour 24 does not exist"), "{e:?}");
        let e = errors(&replace(
            "\"20260115-1614-9121078\"",
            "\"20260115-1614-9121O78\"",
        ));
        assert!(e[0].1.contains("lowercase hex"), "{e:?}");
        let e = errors(&replace(
            "\"20260115-1614-9121078\"",
            "\"20260115-1614-912107\"",
        ));
        assert!(e[0].1.contains("three parts"), "{e:?}");
        let e = errors(&replace(
            "\"20260115-1614-9121078\"",
            "\"20260117-0001-9121078\"",
        ));
        assert!(e[0].1.contains("more than a day in the future"), "{e:?}");
        let e = errors(&replace(
            "\"20251201-0930-1a2b3c4\"",
            "\"20260115-1615-1a2b3c4\"",
        ));
        assert!(e[0].1.contains("is later than `build_id`"), "{e:?}");
        assert_eq!(e[0].0, Some(10));
    }

    #[test]
    fn empty_min_build_id_counts_as_absent_and_stays_in_the_object() {
        let p = check(&replace("\"20251201-0930-1a2b3c4\"", "\"\""));
        assert!(p.findings.is_empty(), "{:?}", p.findings);
        assert_eq!(p.manifest.unwrap().min_build_id, None);
        let object = p.object.unwrap();
        assert_eq!(object["min_build_id"], "");
        let signed = String::from_utf8(super::super::canonical::signed_bytes(&object).unwrap());
        assert!(signed.unwrap().contains(",\"min_build_id\":\"\","));
    }

    #[test]
    fn template_and_legacy_build_ids_are_errors_with_a_hint() {
        let p = check(&replace("\"20260115-1614-9121078\"", "\"\""));
        let f = p.findings.iter().find(|f| f.is_error()).unwrap();
        assert_eq!(f.key.as_deref(), Some("build_id"));
        assert!(f.hint.as_deref().unwrap().contains("template"), "{f:?}");
        let p = check(&replace(
            "\"20260115-1614-9121078\"",
            "\"20260113-1917-ota1\"",
        ));
        let f = p.findings.iter().find(|f| f.is_error()).unwrap();
        let message = crate::text::plain(&f.message);
        assert!(
            message.contains("its suffix `ota1` is not a git sha"),
            "{f:?}"
        );
        assert!(f.hint.as_deref().unwrap().contains("legacy id"), "{f:?}");
        assert!(p.manifest.is_none());
    }

    #[test]
    fn created_utc_rules() {
        for (bad, reason) in [
            ("2026-01-15T13:55:03", "does not end with `Z`"),
            ("2026-01-15T13:55:03.5Z", "has a fraction of a second"),
            (
                "2026-01-15T13:55:03+00:00",
                "has a UTC offset instead of `Z`",
            ),
            ("2026-02-30T13:55:03Z", "is not a real date and time"),
            ("2026-01-15 13:55:03Z", "is not a real date and time"),
            ("2026-01-15T13:55:0ş", "does not end with `Z`"),
            ("2026-01-15T13:55:0şZ", "is not in the required form"),
        ] {
            let e = errors(&replace("2026-01-15T13:55:03Z", bad));
            assert_eq!(e.len(), 1, "{bad}");
            assert!(e[0].1.contains(reason), "{bad}: {e:?}");
        }
    }

    #[test]
    fn sha256_rules() {
        let upper = "3F0C2B4A9D8E7F6A5B4C3D2E1F0A9B8C7D6E5F4A3B2C1D0E9F8A7B6C5D4E3F2A";
        let e = errors(&replace(
            "3f0c2b4a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a",
            upper,
        ));
        assert_eq!(
            e,
            [(
                Some(4),
                "`artifact.sha256` must be 64 lowercase hex digits, found uppercase hex digits"
                    .into()
            )]
        );
        let e = errors(&replace(
            "3f0c2b4a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a\"",
            "3f0c\"",
        ));
        assert!(e[0].1.contains("found 4 characters"));
    }

    #[test]
    fn signature_rules() {
        let sig = "A".repeat(86) + "==";
        assert!(
            errors(&replace(
                "\"notes\"",
                &format!("\"signature\": \"{sig}\",\n  \"notes\"")
            ))
            .is_empty()
        );
        let e = errors(&replace(
            "\"notes\"",
            "\"signature\": \"not base64!\",\n  \"notes\"",
        ));
        assert!(e[0].1.contains("not standard base64"), "{e:?}");
        let e = errors(&replace(
            "\"notes\"",
            "\"signature\": \"AAAA\",\n  \"notes\"",
        ));
        assert!(e[0].1.contains("decodes to 3 bytes"), "{e:?}");
        // Python's b64decode ignores the 4 spare bits of the last character, so 16
        // spellings would carry one signature; otactl accepts only the canonical one.
        let spare_bits = "A".repeat(85) + "B==";
        let e = errors(&replace(
            "\"notes\"",
            &format!("\"signature\": \"{spare_bits}\",\n  \"notes\""),
        ));
        assert!(e[0].1.contains("not standard base64"), "{e:?}");
        let p = check(&replace("\"notes\"", "\"signature\": \"\",\n  \"notes\""));
        assert!(p.manifest.unwrap().signature.is_none());
    }

    #[test]
    fn text_rules() {
        let e = errors(&replace("short description", "short\\u0007description"));
        assert!(
            e[0].1.contains("control character U+0007 at character 6"),
            "{e:?}"
        );
        let e = errors(&replace("short description", "caf\\u0065\\u0301"));
        assert!(e[0].1.contains("not in Unicode NFC"), "{e:?}");
        let e = errors(&replace("short description", &"x".repeat(501)));
        assert!(e[0].1.contains("501 characters long"), "{e:?}");
        assert!(errors(&replace("short description", &"ş".repeat(500))).is_empty());
        let p = check(&replace("short description", "Şarj güncellemesi"));
        assert_eq!(p.findings.len(), 1);
        assert!(p.findings[0].message.contains("non-ASCII"));
        assert!(!p.findings[0].is_error());
    }

    #[test]
    fn c1_controls_and_bidi_overrides_are_refused_in_values_and_keys() {
        for (text, expected) in [
            (
                "no\\u0085tes",
                "`notes` contains the control character U+0085 at character 3",
            ),
            (
                "no\u{9f}tes",
                "`notes` contains the control character U+009F at character 3",
            ),
            (
                "no\u{202e}tes",
                "`notes` contains the bidirectional override U+202E at character 3",
            ),
            (
                "no\\u202ates",
                "`notes` contains the bidirectional override U+202A at character 3",
            ),
            (
                "no\u{2067}tes",
                "`notes` contains the bidirectional override U+2067 at character 3",
            ),
            (
                "no\\u2069tes",
                "`notes` contains the bidirectional override U+2069 at character 3",
            ),
        ] {
            let e = errors(&replace("short description", text));
            assert!(
                e.iter().any(|(line, m)| *line == Some(11) && m == expected),
                "{text}: {e:?}"
            );
        }
        // Neighbours of the ranges are fine (as non-ASCII text, a warning).
        for ok in ["\u{a0}", "\u{2029}", "\u{202f}", "\u{2065}", "\u{206a}"] {
            assert!(
                errors(&replace("short description", ok)).is_empty(),
                "{ok:?}"
            );
        }
        // In a key, named with its path; never raw in a message or key path.
        let p = check(&replace("\"notes\"", "\"x\u{202e}y\": \"a\",\n  \"notes\""));
        let messages: Vec<&str> = p.findings.iter().map(|f| f.message.as_str()).collect();
        assert!(
            messages.contains(
                &"the key \"x\\u{202e}y\" contains the bidirectional override U+202E at character 2"
            ),
            "{messages:?}"
        );
        assert!(p.findings.iter().all(|f| !f.message.contains('\u{202e}')
            && !f.key.as_deref().unwrap_or("").contains('\u{202e}')));
        let e = errors(&replace("\"kind\"", "\"s\\u0085\": \"1\",\n    \"kind\""));
        assert!(
            e.iter().any(|(line, m)| *line == Some(3)
                && m == "the key \"artifact.s\\u{0085}\" contains the control character U+0085 at character 2"),
            "{e:?}"
        );
        // In artifact.url, and in a report's fields.
        let p = check(&replace("/o/r/", "/o/r\u{202e}/"));
        assert!(
            p.findings
                .iter()
                .any(|f| f.key.as_deref() == Some("artifact.url") && f.message.contains("U+202E")),
            "{:?}",
            p.findings
        );
        let p = check(&replace(
            "\"channel\": \"stable\"",
            "\"channel\": \"st\\u009fable\"",
        ));
        assert_eq!(p.string_field("channel").unwrap(), "st\\u{009f}able");
    }

    #[test]
    fn file_level_rules() {
        assert_eq!(
            errors(""),
            [(
                None,
                "the file is empty; a manifest is a JSON object".into()
            )]
        );
        assert_eq!(
            errors("  \n"),
            [(
                Some(2),
                "the JSON ends too early (unclosed object or string)".into()
            )]
        );
        let bom = format!("\u{feff}{GOOD}");
        assert_eq!(
            errors(&bom),
            [(
                Some(1),
                "the file starts with a byte-order mark (U+FEFF)".into()
            )]
        );
        let e = errors(&format!("{GOOD}x"));
        assert_eq!(
            e,
            [(
                Some(13),
                "trailing data after the JSON object (column 1)".into()
            )]
        );
        assert_eq!(
            errors("[]"),
            [(
                Some(1),
                "the manifest must be a JSON object, found an array".into()
            )]
        );
        let p = parse(b"{\"a\": \"\xff\"}", &rules_for_test());
        assert_eq!(p.findings[0].message, "the file is not valid UTF-8");
    }

    #[test]
    fn channel_rules() {
        let e = errors(&replace(
            "\"channel\": \"stable\"",
            "\"channel\": \"canary\"",
        ));
        assert_eq!(
            e,
            [(
                Some(8),
                "`channel` is `canary` but the file is in the folder `stable`".into()
            )]
        );
        let e = errors(&replace("\"channel\": \"stable\"", "\"channel\": \"beta\""));
        assert!(
            e[0].1
                .contains("is not one of the repository's channels (canary, staging, stable)")
        );
    }

    fn rules_for_test() -> Rules<'static> {
        static CHANNELS: std::sync::OnceLock<Channels> = std::sync::OnceLock::new();
        Rules {
            channels: CHANNELS.get_or_init(channels),
            folder: None,
            strict_keys: true,
            ascii_only: false,
            now: time::macros::datetime!(2026-01-16 00:00 UTC),
        }
    }
}
