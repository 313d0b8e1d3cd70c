//! `manifest new`, `sign` and `verify` as operations: write a channel's manifest,
//! sign one, check one the way a device does.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::build_id::BuildId;
use crate::checklist::{Status, check_release_tag};
use crate::error::{Error, Result};
use crate::fsx::{self, Existing};
use crate::hash;
use crate::keys::PrivateKey;
use crate::lint::{self, FileReport, SignaturePolicy};
use crate::manifest::canonical::{house_layout, signed_bytes};
use crate::manifest::{
    Artifact, ArtifactKind, Finding, MAX_MANIFEST_BYTES, Manifest, Parsed, Rules, parse,
};
use crate::repo::{Repo, read_for_check};

type Object = Map<String, Value>;

/// `--from-file`'s size and SHA-256, when a file was hashed.
type Hashed = Option<(u64, String)>;

/// A new manifest for a channel.
#[derive(Clone, Debug, Default)]
pub struct NewRequest {
    /// The channel.
    pub channel: String,
    /// The build id, `YYYYMMDD-HHMM-<gitsha>`.
    pub build_id: String,
    /// Where devices download the artifact.
    pub url: String,
    /// The artifact's SHA-256 (computed from `from_file` when absent).
    pub sha256: Option<String>,
    /// What the artifact is (default: from the URL and the file).
    pub kind: Option<ArtifactKind>,
    /// Raises the channel's `min_build_id` (default: the current manifest's).
    pub min_build_id: Option<String>,
    /// `notes`.
    pub notes: String,
    /// The artifact file, to hash.
    pub from_file: Option<PathBuf>,
    /// Replace a signed manifest with other content (it becomes unsigned).
    pub force: bool,
}

/// What `new` did.
#[derive(Clone, Debug)]
pub struct Written {
    /// The manifest file.
    pub path: PathBuf,
    /// The build.
    pub build_id: BuildId,
    /// The file already held this build and artifact: nothing was written.
    pub unchanged: bool,
    /// `--from-file`'s size and SHA-256.
    pub hashed: Hashed,
    /// Warnings, each a line for the user.
    pub warnings: Vec<String>,
}

/// What `sign` did.
#[derive(Clone, Debug)]
pub struct Signed {
    /// The file written (or left as it was).
    pub path: PathBuf,
    /// The build.
    pub build_id: BuildId,
    /// The signing key's id.
    pub key_id: String,
    /// The file already held this very signature: nothing was written.
    pub unchanged: bool,
    /// Warnings on the input manifest, each a line for the user.
    pub warnings: Vec<String>,
}

/// Writes `channels/C/manifest.json`: refuses a downgrade of the channel's current
/// manifest (and keeps its `min_build_id` unless raised), leaves the same build and
/// artifact as it is, and replaces a signed manifest with other content only with
/// `force`.
pub fn new(repo: &Repo, request: &NewRequest) -> Result<Written> {
    new_reported(repo, request, &crate::progress::Silent)
}

/// [`new`], the hashing of `from_file` reported to `reporter`.
pub fn new_reported(
    repo: &Repo,
    request: &NewRequest,
    reporter: &dyn crate::progress::Reporter,
) -> Result<Written> {
    let settings = &repo.settings;
    repo.require_channel(&request.channel, "--channel")?;
    let build_id = parse_id(&request.build_id, "--build-id")?;
    let path = fsx::display_path(&settings.manifest_path(&request.channel));
    let rules = repo.rules(&path);
    let mut warnings = Vec::new();

    let (sha256, kind, hashed) = artifact_facts(request, reporter)?;
    let current = current_manifest(&path, &rules, &mut warnings)?;
    let min_build_id = match &request.min_build_id {
        Some(min) => Some(parse_id(min, "--min-build-id")?),
        None => current
            .as_ref()
            .and_then(|(m, _, _)| m.as_ref()?.min_build_id.clone()),
    };
    let created = repo
        .now
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap_or_default();
    let artifact = Artifact {
        kind,
        url: request.url.clone(),
        sha256,
    };
    let mut object = Manifest::new_object(
        &request.channel,
        &build_id,
        &created,
        min_build_id.as_ref(),
        &request.notes,
        &artifact,
    );
    crate::manifest::keep_optional_keys(&mut object, current.as_ref().map(|(_, o, _)| o));
    let bytes = house_layout(&object);

    // The new manifest obeys every rule, or a flag was wrong.
    let parsed = parse(&bytes, &rules);
    if let Some(bad) = parsed.findings.iter().find(|f| f.is_error()) {
        return Err(Error::InvalidArg {
            flag: flag_of(bad.key.as_deref()),
            message: bad.message.clone(),
        });
    }
    let shown = fsx::display(&path);
    warnings.extend(parsed.findings.iter().map(|w| w.render_plain(&shown)));
    let Some(new) = parsed.manifest.as_ref() else {
        return Err(Error::InvalidArg {
            flag: "--build-id",
            message: "the manifest could not be formed".into(),
        });
    };
    let tag = check_release_tag(&new.build_id, &new.artifact.url);
    if tag.status == Status::Fail {
        warnings.push(format!(
            "`--url`: {}; `otactl verify` will fail item 2",
            tag.reason
        ));
    }
    if let Some((Some(current), current_object, current_lines)) = &current {
        // The refusals point at the lines of the file that stays as it is.
        let mut refusals =
            lint::compare_with_base(new, current, current_lines, "the current manifest");
        for refusal in &mut refusals {
            if refusal.key.as_deref() == Some("min_build_id")
                && let Some(hint) = &mut refusal.hint
            {
                hint.push_str(" (without `--min-build-id`, the current one is kept)");
            }
        }
        if !refusals.is_empty() {
            return Err(Error::Downgrade {
                path,
                findings: refusals,
            });
        }
        if same_content(current_object, &object) {
            return Ok(Written {
                path,
                build_id,
                unchanged: true,
                hashed,
                warnings,
            });
        }
        // A new build replaces the manifest as a matter of course; the same build with
        // other notes would silently drop the signature devices check.
        let signed = current_object
            .get("signature")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        if signed && current.build_id == build_id && !request.force {
            return Err(Error::WouldUnsign { path });
        }
    }
    fsx::create_dir_all(&settings.channel_dir(&request.channel))?;
    fsx::write_atomic(&path, &bytes, fsx::permissions_of(&path), Existing::Replace)?;
    Ok(Written {
        path,
        build_id,
        unchanged: false,
        hashed,
        warnings,
    })
}

fn parse_id(s: &str, flag: &'static str) -> Result<BuildId> {
    s.parse()
        .map_err(|e: crate::build_id::BuildIdError| Error::InvalidArg {
            flag,
            message: e.to_string(),
        })
}

/// The flag that sets a manifest key.
fn flag_of(key: Option<&str>) -> &'static str {
    match key {
        Some("build_id") => "--build-id",
        Some("min_build_id") => "--min-build-id",
        Some("notes") => "--notes",
        Some("artifact.url") => "--url",
        Some("artifact.sha256") => "--sha256",
        Some("artifact.kind") => "--kind",
        _ => "--channel",
    }
}

/// The artifact's sha256 and kind from the request and its file, and the file's
/// size and sha256 when one was hashed.
fn artifact_facts(
    request: &NewRequest,
    reporter: &dyn crate::progress::Reporter,
) -> Result<(String, ArtifactKind, Hashed)> {
    let from_file = match &request.from_file {
        Some(file) => {
            // A FIFO would block and `/dev/zero` never ends: regular files only.
            let (input, len) = fsx::open_regular(file).map_err(|e| e.for_flag("--from-file"))?;
            let name = hash::file_name(file);
            let (sha, size) =
                hash::sha256_reported(input, Some(len), &name, reporter).map_err(|source| {
                    Error::Read {
                        path: file.clone(),
                        source,
                    }
                })?;
            Some((sha, size, guess_kind(file)?))
        }
        None => None,
    };
    let sha256 = match (&request.sha256, &from_file) {
        (Some(given), Some((computed, _, _))) if given != computed => {
            return Err(Error::InvalidArg {
                flag: "--sha256",
                message: format!("`{given}` is not the SHA-256 of `--from-file` ({computed})"),
            });
        }
        (Some(given), _) => given.clone(),
        (None, Some((computed, _, _))) => computed.clone(),
        (None, None) => {
            return Err(Error::InvalidArg {
                flag: "--sha256",
                message: "give the digest with `--sha256 HEX`, or the file with `--from-file FILE`"
                    .into(),
            });
        }
    };
    let kind = request.kind.unwrap_or_else(|| {
        if request.url.starts_with("oci://") {
            ArtifactKind::Oci
        } else {
            from_file
                .as_ref()
                .map_or(ArtifactKind::SourceTar, |(_, _, k)| *k)
        }
    });
    let hashed = from_file.map(|(sha, size, _)| (size, sha));
    Ok((sha256, kind, hashed))
}

/// The channel's current manifest, its object and the file as parsed (for the lines
/// of its keys); it must be valid to be replaced safely, but a template counts as no
/// manifest (`None`), and a legacy build id is compared by its time part.
fn current_manifest(
    path: &Path,
    rules: &Rules<'_>,
    warnings: &mut Vec<String>,
) -> Result<Option<(Option<Manifest>, Object, Parsed)>> {
    if !fsx::exists(path) {
        return Ok(None);
    }
    let lenient = Rules {
        strict_keys: false,
        folder: None,
        ..rules.clone()
    };
    let (bytes, parsed) = read_manifest(path, &lenient)?;
    let object = parsed.object.clone().unwrap_or_default();
    let lines = parsed.clone();
    let shown = fsx::display(path);
    match lint::read_base(&bytes, rules) {
        lint::BaseManifest::Template => {
            warnings.push(format!(
                "`{shown}` is a template (empty `build_id`): it counts as no current manifest"
            ));
            return Ok(Some((None, object, lines)));
        }
        lint::BaseManifest::Legacy(current) => {
            let warning =
                lint::legacy_base_warning(&current.build_id, &parsed, "the current manifest");
            warnings.push(warning.render_plain(&shown));
            return Ok(Some((Some(current), object, lines)));
        }
        lint::BaseManifest::Valid(_) | lint::BaseManifest::Invalid => {}
    }
    accept(path, parsed, warnings)
        .map(|(m, o)| Some((Some(m), o, lines)))
        .map_err(|e| match e {
            Error::InvalidManifest { path, findings } => Error::Config {
                path,
                message: format!(
                    "the current manifest is invalid ({} errors), so a downgrade cannot be ruled out; fix it with `otactl lint` first",
                    findings.len()
                ),
            },
            other => other,
        })
}

/// A gzip file named `.tar.gz`/`.tgz` is a source tarball; anything else firmware.
fn guess_kind(file: &Path) -> Result<ArtifactKind> {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if [".tar.gz", ".tgz"].iter().any(|ext| name.ends_with(ext)) {
        let head = fsx::read_head(file, 2)?;
        if head == [0x1f, 0x8b] {
            return Ok(ArtifactKind::SourceTar);
        }
    }
    Ok(ArtifactKind::Firmware)
}

/// Whether two manifest objects say the same, apart from `created_utc` and `signature`.
fn same_content(a: &Object, b: &Object) -> bool {
    let strip = |m: &Object| {
        let mut m = m.clone();
        m.remove("created_utc");
        m.remove("signature");
        m
    };
    strip(a) == strip(b)
}

/// Reads and parses a manifest file; `Err` only when it cannot be read.
fn read_manifest(path: &Path, rules: &Rules<'_>) -> Result<(Vec<u8>, Parsed)> {
    let bytes = fsx::read_limited(path, MAX_MANIFEST_BYTES, "a manifest")?;
    let parsed = parse(&bytes, rules);
    Ok((bytes, parsed))
}

/// A manifest a writing command is given: errors refuse (exit 2), warnings are
/// collected. Returns the manifest and the JSON object it was read from.
fn accept(path: &Path, parsed: Parsed, warnings: &mut Vec<String>) -> Result<(Manifest, Object)> {
    let (errors, found): (Vec<Finding>, Vec<Finding>) =
        parsed.findings.into_iter().partition(Finding::is_error);
    if !errors.is_empty() {
        return Err(Error::InvalidManifest {
            path: path.to_owned(),
            findings: errors,
        });
    }
    let shown = fsx::display(path);
    warnings.extend(found.iter().map(|w| w.render_plain(&shown)));
    parsed
        .manifest
        .zip(parsed.object)
        .ok_or_else(|| Error::InvalidManifest {
            path: path.to_owned(),
            findings: vec![],
        })
}

/// Signs `file` with `key`, in place or to `out`. The key must be one the repository
/// trusts (when it lists any); the file replaced keeps its mode.
pub fn sign(repo: &Repo, file: &Path, out: Option<&Path>, key: &PrivateKey) -> Result<Signed> {
    let mut warnings = Vec::new();
    let (bytes, parsed) = read_manifest(file, &repo.rules(file))?;
    let (manifest, mut object) = accept(file, parsed, &mut warnings)?;
    let public = key.public_key();
    repo.check_signer(key)?;
    let message = signed_bytes(&object).map_err(|message| Error::InvalidArg {
        flag: "FILE",
        message,
    })?;
    let signature = key.sign(&message);
    if !public.verify(&message, &signature) {
        return Err(Error::Key {
            path: PathBuf::new(),
            message: "produced a signature that does not verify".into(),
        });
    }
    object.insert(
        "signature".into(),
        Value::from(base64::engine::general_purpose::STANDARD.encode(signature)),
    );
    let signed = house_layout(&object);
    let out = out.unwrap_or(file);
    let unchanged = out == file && signed == bytes;
    if !unchanged {
        fsx::write_atomic(out, &signed, fsx::permissions_of(out), Existing::Replace)?;
    }
    Ok(Signed {
        path: out.to_owned(),
        build_id: manifest.build_id,
        key_id: public.key_id(),
        unchanged,
        warnings,
    })
}

/// Checks one manifest as a device does: schema, strict keys, signature.
pub fn check(repo: &Repo, file: &Path, pubkeys: &[PathBuf], require: bool) -> Result<FileReport> {
    let trusted = repo.trusted_keys(pubkeys)?;
    let parsed = read_for_check(file, &repo.rules(file))?;
    let mut findings = parsed.findings.clone();
    let policy = SignaturePolicy {
        trusted: &trusted,
        require: require || repo.settings.require_signature,
    };
    let signed_by = lint::check_signature(&parsed, &policy, &mut findings);
    findings.sort_by_key(|f| f.line.unwrap_or(0));
    Ok(FileReport {
        path: fsx::display(file),
        channel: parsed.string_field("channel"),
        build_id: parsed.string_field("build_id"),
        signed_by,
        findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "20260115-1614-9121078";
    const SHA: &str = "3f0c2b4a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a";
    /// RFC 8032 test 1's secret key, as PKCS#8 PEM.
    const KEY: &str = include_str!("../../tests/fixtures/vectors/rfc8032-test1.private.pem");

    fn request(build_id: &str, notes: &str) -> NewRequest {
        NewRequest {
            channel: "stable".into(),
            build_id: build_id.into(),
            url: format!(
                "https://github.com/o/r/releases/download/{build_id}/evse-src-{build_id}.tar.gz"
            ),
            sha256: Some(SHA.into()),
            notes: notes.into(),
            ..NewRequest::default()
        }
    }

    #[test]
    fn new_writes_then_leaves_the_same_build_alone() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::for_tests(dir.path());
        let written = new(&repo, &request(ID, "n")).unwrap();
        assert!(!written.unchanged);
        assert!(written.path.ends_with("channels/stable/manifest.json"));
        let again = new(&repo, &request(ID, "n")).unwrap();
        assert!(again.unchanged);
        let earlier = new(&repo, &request("20260114-1614-9121078", "n")).unwrap_err();
        assert!(matches!(earlier, Error::Downgrade { .. }), "{earlier:?}");
    }

    #[test]
    fn from_file_is_hashed_with_its_progress_reported() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::for_tests(dir.path());
        let file = dir.path().join(format!("evse-src-{ID}.tar.gz"));
        fsx::write_atomic(&file, &vec![1u8; 100_000], None, fsx::Existing::Refuse).unwrap();
        let told = crate::progress::testing::Recording::default();
        let from_file = NewRequest {
            sha256: None,
            from_file: Some(file),
            ..request(ID, "n")
        };
        let written = new_reported(&repo, &from_file, &told).unwrap();
        assert_eq!(written.hashed.map(|(size, _)| size), Some(100_000));
        assert_eq!(
            told.told(),
            [format!(
                "hashing `evse-src-{ID}.tar.gz` (100000): 100000 bytes"
            )]
        );
    }

    #[test]
    fn sign_then_new_with_other_notes_needs_force() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::for_tests(dir.path());
        let written = new(&repo, &request(ID, "n")).unwrap();
        let key = PrivateKey::from_bytes(KEY.as_bytes()).unwrap();
        let signed = sign(&repo, &written.path, None, &key).unwrap();
        assert!(!signed.unchanged);
        assert_eq!(signed.key_id, key.public_key().key_id());
        assert!(sign(&repo, &written.path, None, &key).unwrap().unchanged);
        let refused = new(&repo, &request(ID, "other")).unwrap_err();
        assert!(matches!(refused, Error::WouldUnsign { .. }), "{refused:?}");
        let forced = NewRequest {
            force: true,
            ..request(ID, "other")
        };
        assert!(!new(&repo, &forced).unwrap().unchanged);
    }

    #[test]
    fn check_reports_the_signer() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::for_tests(dir.path());
        let written = new(&repo, &request(ID, "n")).unwrap();
        let key = PrivateKey::from_bytes(KEY.as_bytes()).unwrap();
        let public = dir.path().join("pub.pem");
        fsx::write_atomic(
            &public,
            key.public_key().to_pem().as_bytes(),
            None,
            Existing::Refuse,
        )
        .unwrap();
        let unsigned = check(&repo, &written.path, std::slice::from_ref(&public), true).unwrap();
        assert_eq!(unsigned.errors(), 1);
        sign(&repo, &written.path, None, &key).unwrap();
        let report = check(&repo, &written.path, &[public], true).unwrap();
        assert_eq!(report.errors(), 0);
        assert_eq!(report.signed_by, Some(key.public_key().key_id()));
    }
}
