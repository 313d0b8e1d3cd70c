//! Rules over parsed manifests (SPEC 2, 4 `lint`, 5 items 1, 6 and 7). Pure: the
//! caller reads the files, the trusted keys and the base-branch copies, and passes
//! `now`; every problem of every file is returned, never just the first.

use serde::Serialize;
use serde_json::Value;

use crate::build_id::BuildId;
use crate::keys::PublicKey;
use crate::manifest::canonical::{house_layout, signed_bytes};
use crate::manifest::{Finding, Manifest, Parsed, Rules, parse};
use crate::text::code;

/// The signature policy of a check.
#[derive(Clone, Debug)]
pub struct SignaturePolicy<'a> {
    /// The keys devices trust.
    pub trusted: &'a [PublicKey],
    /// A manifest without a signature fails.
    pub require: bool,
}

/// The checks of one manifest file.
#[derive(Clone, Debug, Serialize)]
pub struct FileReport {
    /// The file as shown to the user.
    pub path: String,
    /// `channel`, when it could be read.
    pub channel: Option<String>,
    /// `build_id`, when it could be read.
    pub build_id: Option<String>,
    /// Key id of the trusted key whose signature verified.
    pub signed_by: Option<String>,
    /// Every problem found.
    pub findings: Vec<Finding>,
}

impl FileReport {
    /// A report with nothing but one error (e.g. the file could not be read).
    pub fn failed(path: String, message: String) -> FileReport {
        FileReport {
            path,
            channel: None,
            build_id: None,
            signed_by: None,
            findings: vec![Finding::error(None, None, message)],
        }
    }

    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.findings.iter().filter(|f| f.is_error()).count()
    }

    /// Number of warnings.
    pub fn warnings(&self) -> usize {
        self.findings.len() - self.errors()
    }
}

/// Everything `lint` knows about one file.
pub struct LintInput<'a> {
    /// The file as shown to the user.
    pub path: String,
    /// Its bytes.
    pub bytes: &'a [u8],
    /// The same file at the base ref, when `--base` was given and the file existed
    /// there.
    pub base: Option<Base>,
}

/// A manifest as it is at the base ref.
pub struct Base {
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Where it is, as shown in messages, e.g. "`origin/main`".
    pub name: String,
}

/// Checks one manifest file: schema, strict keys, channel folder, signature policy,
/// house layout and, with a base, no downgrade.
pub fn lint_file(
    input: &LintInput<'_>,
    rules: &Rules<'_>,
    policy: &SignaturePolicy<'_>,
) -> FileReport {
    let parsed = parse(input.bytes, rules);
    let mut findings = parsed.findings.clone();
    let signed_by = check_signature(&parsed, policy, &mut findings);
    if let Some(object) = &parsed.object
        && !input.bytes.starts_with(b"\xEF\xBB\xBF")
        && house_layout(object) != input.bytes
    {
        findings.push(
            Finding::warning(None, None, "not in the house layout (sorted keys, two-space indent, final newline)")
                .with_hint("`otactl manifest sign` rewrites it in that layout; the signature does not depend on it"),
        );
    }
    if let (Some(manifest), Some(base)) = (&parsed.manifest, &input.base) {
        match read_base(&base.bytes, rules) {
            BaseManifest::Valid(old) => {
                findings.extend(compare_with_base(manifest, &old, &parsed, &base.name));
            }
            BaseManifest::Legacy(old) => {
                let whose = format!("the manifest at {}", base.name);
                findings.push(legacy_base_warning(&old.build_id, &parsed, &whose));
                findings.extend(compare_with_base(manifest, &old, &parsed, &base.name));
            }
            BaseManifest::Template => findings.push(Finding::warning(
                None,
                None,
                format!("the manifest at {} is a template (empty `build_id`): it counts as no manifest at the base, so there is no earlier build to compare with", base.name),
            )),
            BaseManifest::Invalid => findings.push(Finding::warning(
                None,
                None,
                "the manifest on the base ref is not valid, so the downgrade check was not possible",
            )),
        }
    }
    findings.sort_by_key(|f| (f.line.unwrap_or(0), std::cmp::Reverse(f.severity)));
    FileReport {
        path: input.path.clone(),
        channel: parsed.string_field("channel"),
        build_id: parsed.string_field("build_id"),
        signed_by,
        findings,
    }
}

/// The manifest at a base ref, as the downgrade check sees it (SPEC 2.2).
#[derive(Clone, Debug)]
pub enum BaseManifest {
    /// A valid manifest.
    Valid(Manifest),
    /// Valid but for its legacy build id (`20260113-1917-ota1`, see
    /// [`BuildId::parse_legacy`]), which is compared by its time part.
    Legacy(Manifest),
    /// A template (`"build_id": ""`): counts as no manifest at the base.
    Template,
    /// Anything else: no downgrade check is possible against it.
    Invalid,
}

/// Reads the manifest at a base ref leniently (unknown keys allowed, any folder): a
/// template counts as no manifest, a legacy build id is kept by its time part when
/// every other rule holds.
pub fn read_base(bytes: &[u8], rules: &Rules<'_>) -> BaseManifest {
    let rules = Rules {
        folder: None,
        strict_keys: false,
        ..rules.clone()
    };
    let parsed = parse(bytes, &rules);
    if let Some(manifest) = parsed.manifest {
        return BaseManifest::Valid(manifest);
    }
    let Some(object) = &parsed.object else {
        return BaseManifest::Invalid;
    };
    if is_template(object) {
        return BaseManifest::Template;
    }
    let build_id = object.get("build_id").and_then(Value::as_str);
    let Some(legacy) = build_id
        .and_then(|s| BuildId::parse_legacy(s).ok())
        .filter(BuildId::is_legacy)
    else {
        return BaseManifest::Invalid;
    };
    let only_the_id_is_wrong = parsed
        .findings
        .iter()
        .filter(|f| f.is_error())
        .all(|f| f.key.as_deref() == Some("build_id"));
    if !only_the_id_is_wrong {
        return BaseManifest::Invalid;
    }
    // Every other rule holds: read it again with a valid id of the same time part.
    let mut stand_in = object.clone();
    stand_in.insert(
        "build_id".into(),
        Value::from(format!("{}-0000000", legacy.time_part())),
    );
    match parse(&house_layout(&stand_in), &rules).manifest {
        Some(mut manifest) => {
            manifest.build_id = legacy;
            BaseManifest::Legacy(manifest)
        }
        None => BaseManifest::Invalid,
    }
}

/// Whether a manifest object is a template: its `build_id` is `""` (the real channel
/// repository began with such files, every value empty).
pub fn is_template(object: &serde_json::Map<String, Value>) -> bool {
    object.get("build_id").and_then(Value::as_str) == Some("")
}

/// The warning that the replaced manifest's build id is a legacy one, compared by its
/// time part; `whose` names that manifest, e.g. "the manifest at `main`".
pub fn legacy_base_warning(old: &BuildId, parsed: &Parsed, whose: &str) -> Finding {
    Finding::warning(
        parsed.line_of("build_id"),
        Some("build_id"),
        format!(
            "{whose} has the legacy build id {} (its suffix is not a git sha); it is compared by its time part `{}` only",
            code(old.as_str()),
            old.time_part()
        ),
    )
}

/// The report of a configured channel whose folder holds no manifest yet (SPEC 6): a
/// warning, not a failure, so a repository fresh from `otactl init` lints clean.
pub fn not_released(path: String, channel: &str) -> FileReport {
    FileReport {
        path,
        channel: Some(channel.to_owned()),
        build_id: None,
        signed_by: None,
        findings: vec![
            Finding::warning(
                None,
                None,
                format!("not released yet: the channel `{channel}` has no manifest"),
            )
            .with_hint(format!(
                "`otactl manifest new --channel {channel} …` writes its first one"
            )),
        ],
    }
}

/// Checks the signature of a parsed manifest against the policy; returns the key id
/// of the trusted key it verified under.
pub fn check_signature(
    parsed: &Parsed,
    policy: &SignaturePolicy<'_>,
    findings: &mut Vec<Finding>,
) -> Option<String> {
    let object = parsed.object.as_ref()?;
    let line = parsed.line_of("signature");
    let signature = match object.get("signature").and_then(|v| v.as_str()) {
        None | Some("") => {
            if policy.require {
                findings.push(
                    Finding::error(
                        line,
                        Some("signature"),
                        "the manifest is not signed, and signatures are required",
                    )
                    .with_hint("sign it with `otactl manifest sign FILE --key PRIVATE.pem`"),
                );
            }
            return None;
        }
        Some(_) => match parsed.manifest.as_ref().map(|m| m.signature) {
            Some(Some(sig)) => sig,
            // The manifest is invalid; try the signature anyway if it decodes.
            _ => decode_signature(object.get("signature")?.as_str()?)?,
        },
    };
    if policy.trusted.is_empty() {
        let hint = "list the public keys devices trust in `[signing] public_keys` of otactl.toml";
        // A required signature must be a valid one; with no key to check it, it is not.
        let finding = if policy.require {
            Finding::error(
                line,
                Some("signature"),
                "signatures are required, but there is no trusted public key to check this one",
            )
        } else {
            Finding::warning(
                line,
                Some("signature"),
                "the signature was not checked: no trusted public key",
            )
        };
        findings.push(finding.with_hint(hint));
        return None;
    }
    let Ok(message) = signed_bytes(object) else {
        findings.push(Finding::error(
            line,
            Some("signature"),
            "the signed bytes cannot be formed",
        ));
        return None;
    };
    if let Some(key) = policy
        .trusted
        .iter()
        .find(|k| k.verify(&message, &signature))
    {
        return Some(key.key_id());
    }
    let ids: Vec<String> = policy.trusted.iter().map(PublicKey::key_id).collect();
    findings.push(
        Finding::error(
            line,
            Some("signature"),
            format!("the signature does not verify under any trusted key ({})", ids.join(", ")),
        )
        .with_hint("the manifest changed after signing, or it was signed with another key; re-sign it with a trusted key"),
    );
    None
}

fn decode_signature(s: &str) -> Option<[u8; 64]> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .ok()?
        .try_into()
        .ok()
}

/// Checks a channel's new manifest against the one it replaces (SPEC 2.2): a
/// strictly later time part, unless it is the same build; `min_build_id` never
/// decreasing. Each finding carries a hint of its own.
///
/// `base_name` says where the old manifest is, e.g. "`origin/main`" or "the current
/// manifest". The findings' lines are those of the keys in `lines`: the file being
/// checked for `lint`, the file being replaced for `manifest new` (the new manifest
/// is never written, so its lines would point at nothing).
pub fn compare_with_base(
    new: &Manifest,
    base: &Manifest,
    lines: &Parsed,
    base_name: &str,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let line = lines.line_of("build_id");
    let (id, old) = (&new.build_id, &base.build_id);
    if id == old {
        if new.artifact != base.artifact {
            findings.push(Finding::error(
                lines.line_of("artifact"),
                Some("artifact"),
                format!("`build_id` `{id}` is unchanged but its artifact differs from {base_name}; a build id names one artifact"),
            ).with_hint("publish the new artifact under a new build id"));
        }
    } else {
        match id.cmp_time(old) {
            std::cmp::Ordering::Less => findings.push(Finding::error(
                line,
                Some("build_id"),
                format!("downgrade: `build_id` `{id}` is earlier than `{old}` in {base_name}"),
            ).with_hint(format!(
                "the channel is at `{old}` and only moves forward. To roll back to `{id}`, ship its content again under a new build id made of now: `otactl rollback --channel CHANNEL --to {id}` (by hand: `otactl build-id --ref {} --at now` prints that id)",
                id.sha()
            ))),
            std::cmp::Ordering::Equal => findings.push(Finding::error(
                line,
                Some("build_id"),
                format!("`build_id` `{id}` has the same time part as `{old}` in {base_name}; two builds in one minute are refused, not ordered by hash"),
            ).with_hint(format!(
                "release a build of a later minute than `{}`: a later commit, or this one under a build id made of now (`otactl build-id --ref {} --at now`)",
                old.time_part(),
                id.sha()
            ))),
            std::cmp::Ordering::Greater => {}
        }
    }
    if let Some(old_min) = &base.min_build_id {
        let line = lines.line_of("min_build_id").or(Some(1));
        let hint = format!(
            "`min_build_id` may only stay or rise (devices refuse to go back below it): keep `{old_min}`, or set a later build"
        );
        match &new.min_build_id {
            None => findings.push(Finding::error(
                line,
                Some("min_build_id"),
                format!("`min_build_id` was removed; {base_name} has `{old_min}` and it may never decrease"),
            ).with_hint(hint)),
            Some(min) if min != old_min && min.cmp_time(old_min).is_le() => findings.push(Finding::error(
                line,
                Some("min_build_id"),
                format!("`min_build_id` `{min}` is not later than `{old_min}` in {base_name}; it may never decrease"),
            ).with_hint(hint)),
            Some(_) => {}
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::PrivateKey;
    use crate::manifest::{Artifact, ArtifactKind, Channels};
    use serde_json::Value;

    fn channels() -> Channels {
        Channels::from(["stable"])
    }

    fn rules(channels: &Channels) -> Rules<'_> {
        Rules {
            channels,
            folder: Some("stable"),
            strict_keys: true,
            ascii_only: false,
            now: time::macros::datetime!(2026-02-01 00:00 UTC),
        }
    }

    fn manifest_text(build: &str, min: Option<&str>, key: Option<&PrivateKey>) -> Vec<u8> {
        let artifact = Artifact {
            kind: ArtifactKind::SourceTar,
            url: format!("https://example.com/releases/download/{build}/x.tar.gz"),
            sha256: "a".repeat(64),
        };
        let min = min.map(|m| m.parse().unwrap());
        let mut obj = Manifest::new_object(
            "stable",
            &build.parse().unwrap(),
            "2026-01-15T13:55:03Z",
            min.as_ref(),
            "n",
            &artifact,
        );
        if let Some(key) = key {
            use base64::Engine as _;
            let sig = key.sign(&signed_bytes(&obj).unwrap());
            obj.insert(
                "signature".into(),
                Value::from(base64::engine::general_purpose::STANDARD.encode(sig)),
            );
        }
        house_layout(&obj)
    }

    fn lint(
        bytes: &[u8],
        base: Option<Vec<u8>>,
        trusted: &[PublicKey],
        require: bool,
    ) -> FileReport {
        let channels = channels();
        let base = base.map(|bytes| Base {
            bytes,
            name: "`main`".into(),
        });
        let input = LintInput {
            path: "m.json".into(),
            bytes,
            base,
        };
        lint_file(
            &input,
            &rules(&channels),
            &SignaturePolicy { trusted, require },
        )
    }

    fn messages(r: &FileReport) -> Vec<String> {
        r.findings.iter().map(|f| f.message.clone()).collect()
    }

    #[test]
    fn signed_manifest_passes() {
        let key = PrivateKey::generate();
        let text = manifest_text("20260115-1614-9121078", None, Some(&key));
        let r = lint(&text, None, &[key.public_key()], true);
        assert!(r.findings.is_empty(), "{:?}", r.findings);
        assert_eq!(r.signed_by, Some(key.public_key().key_id()));
    }

    #[test]
    fn missing_or_bad_signature_fails() {
        let key = PrivateKey::generate();
        let other = PrivateKey::generate();
        let text = manifest_text("20260115-1614-9121078", None, None);
        let r = lint(&text, None, &[key.public_key()], true);
        assert_eq!(
            messages(&r),
            ["the manifest is not signed, and signatures are required"]
        );
        let r = lint(&text, None, &[key.public_key()], false);
        assert!(r.findings.is_empty());
        let text = manifest_text("20260115-1614-9121078", None, Some(&other));
        let r = lint(&text, None, &[key.public_key()], false);
        assert_eq!(r.errors(), 1);
        assert!(messages(&r)[0].starts_with("the signature does not verify under any trusted key"));
    }

    #[test]
    fn tampered_manifest_fails_and_all_problems_are_reported() {
        let key = PrivateKey::generate();
        let text =
            String::from_utf8(manifest_text("20260115-1614-9121078", None, Some(&key))).unwrap();
        let text = text
            .replace("\"n\"", "\"changed\"")
            .replace("\"channel\": \"stable\"", "\"channel\": \"beta\"");
        let r = lint(text.as_bytes(), None, &[key.public_key()], true);
        assert_eq!(r.errors(), 2, "{:?}", r.findings);
    }

    #[test]
    fn layout_warning() {
        let text = manifest_text("20260115-1614-9121078", None, None);
        let compact: Value = serde_json::from_slice(&text).unwrap();
        let r = lint(compact.to_string().as_bytes(), None, &[], false);
        assert_eq!(r.errors(), 0);
        assert_eq!(r.warnings(), 1);
    }

    #[test]
    fn downgrade_rules() {
        let base = manifest_text("20260115-1614-9121078", Some("20260101-0000-1111111"), None);
        let later = manifest_text("20260116-0000-2222222", Some("20260101-0000-1111111"), None);
        assert_eq!(lint(&later, Some(base.clone()), &[], false).errors(), 0);
        let same = base.clone();
        assert_eq!(lint(&same, Some(base.clone()), &[], false).errors(), 0);
        let earlier = manifest_text("20260114-0000-2222222", Some("20260101-0000-1111111"), None);
        assert!(
            messages(&lint(&earlier, Some(base.clone()), &[], false))[0].starts_with("downgrade")
        );
        let sideways = manifest_text("20260115-1614-3333333", Some("20260101-0000-1111111"), None);
        assert!(
            messages(&lint(&sideways, Some(base.clone()), &[], false))[0]
                .contains("same time part")
        );
        let min_removed = manifest_text("20260116-0000-2222222", None, None);
        assert!(
            messages(&lint(&min_removed, Some(base.clone()), &[], false))[0]
                .contains("was removed")
        );
        let min_lower = manifest_text("20260116-0000-2222222", Some("20251231-0000-1111111"), None);
        assert!(
            messages(&lint(&min_lower, Some(base), &[], false))[0].contains("may never decrease")
        );
    }

    #[test]
    fn a_template_base_counts_as_no_base() {
        let new = manifest_text("20260115-1614-9121078", None, None);
        let template = String::from_utf8(manifest_text("20260101-0000-1111111", None, None))
            .unwrap()
            .replace("\"20260101-0000-1111111\"", "\"\"")
            .replace("2026-01-15T13:55:03Z", "");
        assert!(matches!(
            read_base(template.as_bytes(), &rules(&channels())),
            BaseManifest::Template
        ));
        let r = lint(&new, Some(template.into_bytes()), &[], false);
        assert_eq!(r.errors(), 0, "{:?}", r.findings);
        assert_eq!(r.warnings(), 1);
        assert!(
            messages(&r)[0].contains("is a template"),
            "{:?}",
            r.findings
        );
    }

    #[test]
    fn a_legacy_base_is_compared_by_its_time_part_with_a_warning() {
        let legacy = String::from_utf8(manifest_text("20260113-1917-0000000", None, None))
            .unwrap()
            .replace("20260113-1917-0000000", "20260113-1917-ota1");
        match read_base(legacy.as_bytes(), &rules(&channels())) {
            BaseManifest::Legacy(m) => assert_eq!(m.build_id.as_str(), "20260113-1917-ota1"),
            other => panic!("{other:?}"),
        }
        let later = manifest_text("20260113-2017-722fd33", None, None);
        let r = lint(&later, Some(legacy.clone().into_bytes()), &[], false);
        assert_eq!(r.errors(), 0, "{:?}", r.findings);
        assert_eq!(r.warnings(), 1);
        assert!(
            messages(&r)[0].contains("legacy build id"),
            "{:?}",
            r.findings
        );
        let earlier = manifest_text("20260113-1800-722fd33", None, None);
        let r = lint(&earlier, Some(legacy.clone().into_bytes()), &[], false);
        assert_eq!(r.errors(), 1);
        assert!(messages(&r).iter().any(|m| m.starts_with("downgrade")));
        let same_minute = manifest_text("20260113-1917-722fd33", None, None);
        let r = lint(&same_minute, Some(legacy.clone().into_bytes()), &[], false);
        assert!(messages(&r).iter().any(|m| m.contains("same time part")));
        // A legacy id with another problem is no base to compare with.
        let broken = legacy.replace("\"kind\": \"source-tar\"", "\"kind\": \"zip\"");
        assert!(matches!(
            read_base(broken.as_bytes(), &rules(&channels())),
            BaseManifest::Invalid
        ));
    }
}
