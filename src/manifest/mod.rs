//! The channel manifest (SPEC 2.1): its types, the strict reader and the canonical
//! bytes. Pure: no files, no clock; the caller passes bytes in and a `now` value.

pub mod canonical;
pub mod fields;
mod locate;
pub mod parse;

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::build_id::BuildId;

pub use parse::{Parsed, Rules, parse};

/// The largest manifest file otactl reads (SPEC 6).
pub const MAX_MANIFEST_BYTES: u64 = 64 * 1024;

/// The longest `notes`, in characters.
pub const MAX_NOTES_CHARS: usize = 500;

/// The channels a repository has when `otactl.toml` does not name them, in
/// promotion order.
pub const DEFAULT_CHANNELS: [&str; 3] = ["canary", "staging", "stable"];

/// A repository's channels in promotion order, looked up by name (a repository may
/// have thousands: `lint` asks for every file).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Channels {
    order: Vec<String>,
    index: HashMap<String, usize>,
}

impl Channels {
    /// The channels, first to last in promotion order (duplicates keep the first).
    pub fn new(order: Vec<String>) -> Channels {
        let mut index = HashMap::with_capacity(order.len());
        for (i, name) in order.iter().enumerate() {
            index.entry(name.clone()).or_insert(i);
        }
        Channels { order, index }
    }

    /// Whether `name` is one of the channels.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Where `name` stands in the promotion order.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The names, comma-separated, for messages.
    pub fn list(&self) -> String {
        self.order.join(", ")
    }
}

impl std::ops::Deref for Channels {
    type Target = [String];

    fn deref(&self) -> &[String] {
        &self.order
    }
}

impl<const N: usize> From<[&str; N]> for Channels {
    fn from(names: [&str; N]) -> Channels {
        Channels::new(names.map(String::from).to_vec())
    }
}

/// What `artifact.kind` says the payload is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArtifactKind {
    /// A gzip tarball built from git.
    SourceTar,
    /// A binary file such as a firmware image.
    Firmware,
    /// An OCI artifact.
    Oci,
}

impl ArtifactKind {
    /// Every kind.
    pub const ALL: [ArtifactKind; 3] = [
        ArtifactKind::SourceTar,
        ArtifactKind::Firmware,
        ArtifactKind::Oci,
    ];

    /// The string written in the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactKind::SourceTar => "source-tar",
            ArtifactKind::Firmware => "firmware",
            ArtifactKind::Oci => "oci",
        }
    }

    /// What the kind is, in a few words (for help texts).
    pub fn describe(self) -> &'static str {
        match self {
            ArtifactKind::SourceTar => "A gzip tarball built from git",
            ArtifactKind::Firmware => "A binary file such as a firmware image",
            ArtifactKind::Oci => "An OCI artifact",
        }
    }

    /// The kind a manifest's `artifact.kind` names.
    pub fn from_manifest(s: &str) -> Option<ArtifactKind> {
        match s {
            "source-tar" => Some(ArtifactKind::SourceTar),
            "firmware" => Some(ArtifactKind::Firmware),
            "oci" => Some(ArtifactKind::Oci),
            _ => None,
        }
    }
}

impl fmt::Display for ArtifactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `artifact` object of a manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    /// `artifact.kind`.
    pub kind: ArtifactKind,
    /// `artifact.url`.
    pub url: String,
    /// `artifact.sha256`, 64 lowercase hex digits.
    pub sha256: String,
}

/// A manifest that passed every rule of SPEC 2.1.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// `channel`.
    pub channel: String,
    /// `build_id`.
    pub build_id: BuildId,
    /// `created_utc`, exactly as written.
    pub created_utc: String,
    /// `min_build_id`, if any.
    pub min_build_id: Option<BuildId>,
    /// `notes`.
    pub notes: String,
    /// `signature`, decoded; `""` counts as absent.
    pub signature: Option<[u8; 64]>,
    /// `artifact`.
    pub artifact: Artifact,
}

impl Manifest {
    /// Builds a new, unsigned manifest object from its fields.
    pub fn new_object(
        channel: &str,
        build_id: &BuildId,
        created_utc: &str,
        min_build_id: Option<&BuildId>,
        notes: &str,
        artifact: &Artifact,
    ) -> Map<String, Value> {
        let mut art = Map::new();
        art.insert("kind".into(), Value::from(artifact.kind.as_str()));
        art.insert("sha256".into(), Value::from(artifact.sha256.as_str()));
        art.insert("url".into(), Value::from(artifact.url.as_str()));
        let mut obj = Map::new();
        obj.insert("artifact".into(), Value::Object(art));
        obj.insert("build_id".into(), Value::from(build_id.as_str()));
        obj.insert("channel".into(), Value::from(channel));
        obj.insert("created_utc".into(), Value::from(created_utc));
        if let Some(min) = min_build_id {
            obj.insert("min_build_id".into(), Value::from(min.as_str()));
        }
        obj.insert("notes".into(), Value::from(notes));
        obj
    }
}

/// Keeps the key set of the manifest a new one replaces (SPEC 2.1: `""` counts as
/// absent): a `min_build_id` the new object does not set is written `""` when the
/// replaced one carried the key, so a channel whose manifests all carry
/// `"min_build_id": ""` keeps it (in the signed bytes too); an empty `"signature": ""`
/// stays as that placeholder. A real signature is not carried over: the new manifest
/// is unsigned until `manifest sign` gives it the key back.
pub fn keep_optional_keys(new: &mut Map<String, Value>, replaced: Option<&Map<String, Value>>) {
    let Some(replaced) = replaced else {
        return;
    };
    if replaced.contains_key("min_build_id") && !new.contains_key("min_build_id") {
        new.insert("min_build_id".into(), Value::from(""));
    }
    if replaced.get("signature").and_then(Value::as_str) == Some("")
        && !new.contains_key("signature")
    {
        new.insert("signature".into(), Value::from(""));
    }
}

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Reported, does not fail the check.
    Warning,
    /// Fails the check.
    Error,
}

/// One problem found in a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// The 1-based line of the key (or of the syntax error), when known.
    pub line: Option<usize>,
    /// The key path, e.g. `artifact.url`, when the finding is about one key.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What to do about it, when there is more to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Finding {
    /// An error about `key` at `line`.
    pub fn error(line: Option<usize>, key: Option<&str>, message: impl Into<String>) -> Finding {
        Finding {
            severity: Severity::Error,
            line,
            key: key.map(str::to_owned),
            message: message.into(),
            hint: None,
        }
    }

    /// A warning about `key` at `line`.
    pub fn warning(line: Option<usize>, key: Option<&str>, message: impl Into<String>) -> Finding {
        Finding {
            severity: Severity::Warning,
            ..Finding::error(line, key, message)
        }
    }

    /// Adds a hint.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Finding {
        self.hint = Some(hint.into());
        self
    }

    /// Whether this finding fails a check.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `PATH:LINE: message`, without the severity label.
    pub fn render_plain(&self, path: &str) -> String {
        match self.line {
            Some(line) => format!("{path}:{line}: {}", self.message),
            None => format!("{path}: {}", self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_optional_keys_adds_only_the_missing_ones_as_empty() {
        let replaced: Map<String, Value> = serde_json::from_str(
            r#"{"build_id": "x", "min_build_id": "", "signature": "", "notes": "n"}"#,
        )
        .unwrap();
        let mut new: Map<String, Value> =
            serde_json::from_str(r#"{"build_id": "y", "notes": "m"}"#).unwrap();
        keep_optional_keys(&mut new, Some(&replaced));
        assert_eq!(
            Value::Object(new),
            serde_json::json!({"build_id": "y", "min_build_id": "", "notes": "m", "signature": ""})
        );
        // A real signature does not cover the new manifest: it is not carried over.
        let signed: Map<String, Value> =
            serde_json::from_str(r#"{"min_build_id": "", "signature": "c2ln"}"#).unwrap();
        let mut new = Map::new();
        keep_optional_keys(&mut new, Some(&signed));
        assert_eq!(Value::Object(new), serde_json::json!({"min_build_id": ""}));
        let mut with_min: Map<String, Value> =
            serde_json::from_str(r#"{"min_build_id": "20260101-0000-1111111"}"#).unwrap();
        keep_optional_keys(&mut with_min, None);
        assert_eq!(with_min.len(), 1);
        keep_optional_keys(&mut with_min, Some(&replaced));
        assert_eq!(with_min["min_build_id"], "20260101-0000-1111111");
    }
}
