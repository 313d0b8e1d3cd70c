//! `otactl manifest new|sign|verify`.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use clap::Subcommand;
use serde::Serialize;
use serde_json::Value;

use super::{Ctx, display};
use crate::build_id::BuildId;
use crate::error::{Error, ExitCode, Result};
use crate::fsx::{self, Existing};
use crate::hash;
use crate::keys::PrivateKey;
use crate::lint::{self, FileReport, SignaturePolicy};
use crate::manifest::canonical::{house_layout, signed_bytes};
use crate::manifest::{
    Artifact, ArtifactKind, Finding, MAX_MANIFEST_BYTES, Manifest, Parsed, Rules, parse,
};

#[derive(Debug, Subcommand)]
pub(crate) enum ManifestCommand {
    /// Write a channel's new, unsigned manifest (`channels/C/manifest.json`).
    ///
    /// The channel's current manifest, when there is one, must be older: a new
    /// build id with an earlier or equal time part is refused (exit 4), and its
    /// `min_build_id` is kept unless `--min-build-id` raises it. Writing the same
    /// build again with the same content leaves the file untouched.
    New(NewArgs),
    /// Sign a manifest with an Ed25519 private key, in place or to `--out`.
    Sign(SignArgs),
    /// Check a manifest as a device does: schema, strict keys, signature.
    Verify(VerifyArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct NewArgs {
    /// The channel whose manifest is written.
    #[arg(long, value_name = "CHANNEL")]
    channel: String,
    /// The build id, `YYYYMMDD-HHMM-<gitsha>`.
    #[arg(long, value_name = "ID")]
    build_id: String,
    /// Where devices download the artifact (`https://`, `file://` or `oci://`).
    #[arg(long, value_name = "URL")]
    url: String,
    /// SHA-256 of the artifact, 64 lowercase hex digits (computed with `--from-file`).
    #[arg(long, value_name = "HEX", required_unless_present = "from_file")]
    sha256: Option<String>,
    /// What the artifact is (default: `oci` for `oci://` URLs, else from `--from-file`, else `source-tar`).
    #[arg(long, value_enum, value_name = "KIND")]
    kind: Option<ArtifactKind>,
    /// Devices below this build refuse to go back past it (default: the current manifest's).
    #[arg(long, value_name = "ID")]
    min_build_id: Option<String>,
    /// Short description, at most 500 characters.
    #[arg(long, value_name = "TEXT", default_value = "")]
    notes: String,
    /// The artifact file: its SHA-256 is computed (and checked against `--sha256`).
    #[arg(long, value_name = "FILE")]
    from_file: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct SignArgs {
    /// The manifest to sign.
    file: PathBuf,
    /// The private key (PKCS#8 PEM or DER); else `OTACTL_SIGNING_KEY` (PEM text), else `OTACTL_SIGNING_KEY_FILE`.
    #[arg(long, value_name = "PEM")]
    key: Option<PathBuf>,
    /// Write the signed manifest here instead of over FILE.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// The manifest to check.
    file: PathBuf,
    /// A trusted public key (repeatable); default: `[signing] public_keys` of otactl.toml.
    #[arg(long, value_name = "PEM")]
    pubkey: Vec<PathBuf>,
    /// Fail when the manifest carries no signature (default: `[signing] require`).
    #[arg(long)]
    require_signature: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = VerifyFormat::Text)]
    format: VerifyFormat,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum VerifyFormat {
    Text,
    Json,
}

impl ManifestCommand {
    pub(crate) fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        match self {
            ManifestCommand::New(args) => args.run(ctx),
            ManifestCommand::Sign(args) => args.run(ctx),
            ManifestCommand::Verify(args) => args.run(ctx),
        }
    }
}

/// Reads and parses a manifest file; `Err` only when it cannot be read.
fn read_manifest(path: &Path, rules: &Rules<'_>) -> Result<(Vec<u8>, Parsed)> {
    let bytes = fsx::read_limited(path, MAX_MANIFEST_BYTES, "a manifest")?;
    let parsed = parse(&bytes, rules);
    Ok((bytes, parsed))
}

/// Parses a manifest a writing command is given: errors refuse (exit 2), warnings are printed.
/// Returns the manifest and the JSON object it was read from (what is signed).
fn accept_manifest(ctx: &Ctx, path: &Path, parsed: Parsed) -> Result<(Manifest, Object)> {
    let (errors, warnings): (Vec<Finding>, Vec<Finding>) =
        parsed.findings.into_iter().partition(Finding::is_error);
    if !errors.is_empty() {
        return Err(Error::InvalidManifest {
            path: path.to_owned(),
            findings: errors,
        });
    }
    for w in &warnings {
        ctx.printer.finding_warning(&display(path), w);
    }
    parsed
        .manifest
        .zip(parsed.object)
        .ok_or_else(|| Error::InvalidManifest {
            path: path.to_owned(),
            findings: vec![],
        })
}

type Object = serde_json::Map<String, Value>;

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

impl NewArgs {
    fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let settings = ctx.settings()?;
        if !settings.channels.contains(&self.channel) {
            return Err(Error::InvalidArg {
                flag: "--channel",
                message: format!(
                    "`{}` is not one of the repository's channels ({})",
                    self.channel,
                    settings.channels.join(", ")
                ),
            });
        }
        let build_id: BuildId =
            self.build_id
                .parse()
                .map_err(|e: crate::build_id::BuildIdError| Error::InvalidArg {
                    flag: "--build-id",
                    message: e.to_string(),
                })?;
        let path = super::display_path(&settings.manifest_path(&self.channel));
        let rules = ctx.rules(&settings, &path);

        let (sha256, kind) = self.artifact_facts(ctx)?;
        let current = current_manifest(ctx, &path, &rules)?;
        let min_build_id = match &self.min_build_id {
            Some(min) => Some(min.parse::<BuildId>().map_err(|e| Error::InvalidArg {
                flag: "--min-build-id",
                message: e.to_string(),
            })?),
            None => current.as_ref().and_then(|(m, _)| m.clone()?.min_build_id),
        };
        let created = ctx
            .now
            .format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .unwrap_or_default();
        let artifact = Artifact {
            kind,
            url: self.url.clone(),
            sha256,
        };
        let mut object = Manifest::new_object(
            &self.channel,
            &build_id,
            &created,
            min_build_id.as_ref(),
            &self.notes,
            &artifact,
        );
        crate::manifest::keep_optional_keys(&mut object, current.as_ref().map(|(_, o)| o));
        let bytes = house_layout(&object);

        // The new manifest obeys every rule, or a flag was wrong.
        let parsed = parse(&bytes, &rules);
        if let Some(bad) = parsed.findings.iter().find(|f| f.is_error()) {
            return Err(Error::InvalidArg {
                flag: flag_of(bad.key.as_deref()),
                message: bad.message.clone(),
            });
        }
        for w in &parsed.findings {
            ctx.printer.finding_warning(&display(&path), w);
        }
        let Some(new) = parsed.manifest.as_ref() else {
            return Err(Error::InvalidArg {
                flag: "--build-id",
                message: "the manifest could not be formed".into(),
            });
        };
        let tag = crate::checklist::check_release_tag(&new.build_id, &new.artifact.url);
        if tag.status == crate::checklist::Status::Fail {
            ctx.printer.warning(&format!(
                "`--url`: {}; `otactl verify` will fail item 2",
                tag.reason
            ));
        }
        if let Some((Some(current), current_object)) = &current {
            let refusals = lint::compare_with_base(new, current, &parsed, "the current manifest");
            if !refusals.is_empty() {
                return Err(Error::Downgrade {
                    path,
                    findings: refusals,
                });
            }
            if same_content(current_object, &object) {
                ctx.printer.status(&format!(
                    "`{}` already holds build `{build_id}`; unchanged",
                    display(&path)
                ));
                ctx.printer.data(&display(&path));
                return Ok(ExitCode::Success);
            }
        }
        fsx::create_dir_all(&settings.channel_dir(&self.channel))?;
        fsx::write_atomic(&path, &bytes, fsx::permissions_of(&path), Existing::Replace)?;
        ctx.printer.status(&format!(
            "wrote `{}` for build `{build_id}` (unsigned; sign it with `otactl manifest sign {}`)",
            display(&path),
            display(&path)
        ));
        ctx.printer.data(&display(&path));
        Ok(ExitCode::Success)
    }

    /// The artifact's sha256 and kind, from the flags and `--from-file`.
    fn artifact_facts(&self, ctx: &Ctx) -> Result<(String, ArtifactKind)> {
        let from_file = match &self.from_file {
            Some(file) => {
                // A FIFO would block and `/dev/zero` never ends: regular files only.
                let (input, _) = fsx::open_regular(file, "--from-file")?;
                let (sha, size) = hash::sha256_reader(input).map_err(|source| Error::Read {
                    path: file.clone(),
                    source,
                })?;
                ctx.printer
                    .detail(&format!("`{}`: {size} bytes, sha256 {sha}", display(file)));
                Some((sha, guess_kind(file)?))
            }
            None => None,
        };
        let sha256 = match (&self.sha256, &from_file) {
            (Some(given), Some((computed, _))) if given != computed => {
                return Err(Error::InvalidArg {
                    flag: "--sha256",
                    message: format!("`{given}` is not the SHA-256 of `--from-file` ({computed})"),
                });
            }
            (Some(given), _) => given.clone(),
            (None, Some((computed, _))) => computed.clone(),
            (None, None) => {
                return Err(Error::InvalidArg {
                    flag: "--sha256",
                    message: "give the digest or `--from-file`".into(),
                });
            }
        };
        let kind = self.kind.unwrap_or_else(|| {
            if self.url.starts_with("oci://") {
                ArtifactKind::Oci
            } else {
                from_file.map_or(ArtifactKind::SourceTar, |(_, k)| k)
            }
        });
        Ok((sha256, kind))
    }
}

/// The channel's current manifest and its object; it must be valid to be replaced
/// safely, but a template counts as no manifest (`None`), and a legacy build id is
/// compared by its time part.
fn current_manifest(
    ctx: &Ctx,
    path: &Path,
    rules: &Rules<'_>,
) -> Result<Option<(Option<Manifest>, Object)>> {
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
    match lint::read_base(&bytes, rules) {
        lint::BaseManifest::Template => {
            ctx.printer.status(&format!(
                "`{}` is a template (empty `build_id`): it counts as no current manifest",
                display(path)
            ));
            return Ok(Some((None, object)));
        }
        lint::BaseManifest::Legacy(current) => {
            let warning =
                lint::legacy_base_warning(&current.build_id, &parsed, "the current manifest");
            ctx.printer.finding_warning(&display(path), &warning);
            return Ok(Some((Some(current), object)));
        }
        lint::BaseManifest::Valid(_) | lint::BaseManifest::Invalid => {}
    }
    let accepted = accept_manifest(ctx, path, parsed);
    accepted.map(|(m, o)| Some((Some(m), o))).map_err(|e| match e {
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
fn same_content(a: &serde_json::Map<String, Value>, b: &serde_json::Map<String, Value>) -> bool {
    let strip = |m: &serde_json::Map<String, Value>| {
        let mut m = m.clone();
        m.remove("created_utc");
        m.remove("signature");
        m
    };
    strip(a) == strip(b)
}

/// Loads the signing key from `--key`, `OTACTL_SIGNING_KEY` or `OTACTL_SIGNING_KEY_FILE`.
fn signing_key(flag: Option<&Path>) -> Result<PrivateKey> {
    let load = |bytes: &[u8], origin: PathBuf| {
        PrivateKey::from_bytes(bytes).map_err(|message| Error::Key {
            path: origin,
            message,
        })
    };
    if let Some(path) = flag {
        let bytes = zeroize::Zeroizing::new(fsx::read_limited(path, 64 * 1024, "a key file")?);
        return load(&bytes, path.to_owned());
    }
    if let Some(pem) = std::env::var_os("OTACTL_SIGNING_KEY").filter(|v| !v.is_empty()) {
        let pem = zeroize::Zeroizing::new(pem.into_encoded_bytes());
        return load(&pem, PathBuf::from("$OTACTL_SIGNING_KEY"));
    }
    if let Some(path) = std::env::var_os("OTACTL_SIGNING_KEY_FILE").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        let bytes = zeroize::Zeroizing::new(fsx::read_limited(&path, 64 * 1024, "a key file")?);
        return load(&bytes, path);
    }
    Err(Error::MissingSigningKey)
}

impl SignArgs {
    fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let settings = ctx.settings()?;
        let rules = ctx.rules(&settings, &self.file);
        let (bytes, parsed) = read_manifest(&self.file, &rules)?;
        let (manifest, mut object) = accept_manifest(ctx, &self.file, parsed)?;
        let key = signing_key(self.key.as_deref())?;
        let public = key.public_key();
        let trusted = Ctx::trusted_keys(&settings, &[])?;
        if !trusted.is_empty() && !trusted.contains(&public) {
            return Err(Error::UntrustedSigner {
                key_id: public.key_id(),
                config: settings
                    .config_path
                    .as_deref()
                    .map(super::display_path)
                    .unwrap_or_default(),
                trusted: trusted
                    .iter()
                    .map(super::super::keys::PublicKey::key_id)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let message = signed_bytes(&object).map_err(|message| Error::InvalidArg {
            flag: "FILE",
            message,
        })?;
        let signature = key.sign(&message);
        if !public.verify(&message, &signature) {
            return Err(Error::Key {
                path: self.key.clone().unwrap_or_default(),
                message: "produced a signature that does not verify".into(),
            });
        }
        object.insert(
            "signature".into(),
            Value::from(base64::engine::general_purpose::STANDARD.encode(signature)),
        );
        let signed = house_layout(&object);
        let out = self.out.as_deref().unwrap_or(&self.file);
        if out == self.file && signed == bytes {
            ctx.printer.status(&format!(
                "`{}` is already signed by key {}; unchanged",
                display(out),
                public.key_id()
            ));
        } else {
            // The file replaced keeps its mode (a 0444 or 0640 manifest stays so).
            fsx::write_atomic(out, &signed, fsx::permissions_of(out), Existing::Replace)?;
            ctx.printer.status(&format!(
                "signed `{}` (build `{}`) with key {}",
                display(out),
                manifest.build_id,
                public.key_id()
            ));
        }
        ctx.printer.data(&display(out));
        Ok(ExitCode::Success)
    }
}

#[derive(Serialize)]
struct VerifyReport<'a> {
    ok: bool,
    #[serde(flatten)]
    file: &'a FileReport,
}

impl VerifyArgs {
    fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let settings = ctx.settings()?;
        let trusted = Ctx::trusted_keys(&settings, &self.pubkey)?;
        let rules = ctx.rules(&settings, &self.file);
        let parsed = super::read_for_check(&self.file, &rules)?;
        let mut findings = parsed.findings.clone();
        let policy = SignaturePolicy {
            trusted: &trusted,
            require: self.require_signature || settings.require_signature,
        };
        let signed_by = lint::check_signature(&parsed, &policy, &mut findings);
        findings.sort_by_key(|f| f.line.unwrap_or(0));
        let report = FileReport {
            path: display(&self.file),
            channel: parsed.string_field("channel"),
            build_id: parsed.string_field("build_id"),
            signed_by,
            findings,
        };
        let ok = report.errors() == 0;
        match self.format {
            VerifyFormat::Json => {
                ctx.printer.data(
                    &serde_json::to_string_pretty(&VerifyReport { ok, file: &report })
                        .unwrap_or_default(),
                );
            }
            VerifyFormat::Text => {
                for f in &report.findings {
                    ctx.printer.finding(&report.path, f);
                }
                if ok {
                    let signer = match &report.signed_by {
                        Some(id) => format!("signed by key {id}"),
                        None => "not signed".to_owned(),
                    };
                    ctx.printer.data(&format!(
                        "{}: {}: build `{}` on `{}`, {signer}",
                        ctx.printer.ok_label(),
                        report.path,
                        report.build_id.as_deref().unwrap_or("?"),
                        report.channel.as_deref().unwrap_or("?"),
                    ));
                }
            }
        }
        Ok(if ok {
            ExitCode::Success
        } else {
            ExitCode::ChecksFailed
        })
    }
}
