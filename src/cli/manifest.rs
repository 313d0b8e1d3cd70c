//! `otactl manifest new|sign|verify`.

use std::path::PathBuf;

use clap::Subcommand;
use serde::Serialize;

use super::{Ctx, display};
use crate::error::{ExitCode, Result};
use crate::lint::FileReport;
use crate::manifest::ArtifactKind;
use crate::ops::manifest::{self, NewRequest};
use crate::output::Format;
use crate::repo::load_signing_key;

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
#[command(group = clap::ArgGroup::new("digest").required(true).multiple(true))]
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
    #[arg(long, value_name = "HEX", group = "digest")]
    sha256: Option<String>,
    /// What the artifact is (default: `oci` for `oci://` URLs, else from `--from-file`, else `source-tar`).
    #[arg(long, value_name = "KIND", value_parser = kind_parser())]
    kind: Option<ArtifactKind>,
    /// Devices below this build refuse to go back past it (default: the current manifest's).
    #[arg(long, value_name = "ID")]
    min_build_id: Option<String>,
    /// Short description, at most 500 characters.
    #[arg(long, value_name = "TEXT", default_value = "")]
    notes: String,
    /// The artifact file: its SHA-256 is computed (and checked against `--sha256`).
    #[arg(long, value_name = "FILE", group = "digest")]
    from_file: Option<PathBuf>,
    /// Replace a signed manifest of the same build with other content (it must be
    /// signed again).
    #[arg(long)]
    force: bool,
}

/// `--kind`: the kinds of SPEC 2.1, named as in the manifest.
fn kind_parser() -> impl clap::builder::TypedValueParser<Value = ArtifactKind> {
    use clap::builder::TypedValueParser as _;
    let values =
        ArtifactKind::ALL.map(|k| clap::builder::PossibleValue::new(k.as_str()).help(k.describe()));
    clap::builder::PossibleValuesParser::new(values)
        .map(|name| ArtifactKind::from_manifest(&name).unwrap_or(ArtifactKind::SourceTar))
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
    /// Output format; `github` prints workflow commands and appends a table to
    /// `$GITHUB_STEP_SUMMARY` when set.
    #[arg(long, default_value = "text", value_parser = Format::parser(Format::LINT))]
    format: Format,
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

impl NewArgs {
    fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let repo = ctx.repo()?;
        let written = manifest::new_reported(
            &repo,
            &NewRequest {
                channel: self.channel,
                build_id: self.build_id,
                url: self.url,
                sha256: self.sha256,
                kind: self.kind,
                min_build_id: self.min_build_id,
                notes: self.notes,
                from_file: self.from_file.clone(),
                force: self.force,
            },
            &ctx.printer.reporter(),
        )?;
        if let (Some(file), Some((size, sha))) = (&self.from_file, &written.hashed) {
            ctx.printer
                .detail(&format!("`{}`: {size} bytes, sha256 {sha}", display(file)));
        }
        for warning in &written.warnings {
            ctx.printer.warning(warning);
        }
        let path = display(&written.path);
        if written.unchanged {
            ctx.printer.status(&format!(
                "`{path}` already holds build `{}`; unchanged",
                written.build_id
            ));
        } else {
            ctx.printer.status(&format!(
                "wrote `{path}` for build `{}` (unsigned; sign it with `otactl manifest sign {path}`)",
                written.build_id
            ));
        }
        ctx.printer.data(&path);
        Ok(ExitCode::Success)
    }
}

impl SignArgs {
    fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let repo = ctx.repo()?;
        let key = load_signing_key(self.key.as_deref())?;
        let signed = manifest::sign(&repo, &self.file, self.out.as_deref(), &key)?;
        for warning in &signed.warnings {
            ctx.printer.warning(warning);
        }
        let path = display(&signed.path);
        if signed.unchanged {
            ctx.printer.status(&format!(
                "`{path}` is already signed by key {}; unchanged",
                signed.key_id
            ));
        } else {
            ctx.printer.status(&format!(
                "signed `{path}` (build `{}`) with key {}",
                signed.build_id, signed.key_id
            ));
        }
        ctx.printer.data(&path);
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
        let repo = ctx.repo()?;
        let report = manifest::check(&repo, &self.file, &self.pubkey, self.require_signature)?;
        let ok = report.errors() == 0;
        if self.format == Format::Json {
            ctx.printer.json(&VerifyReport { ok, file: &report })?;
        } else if self.format == Format::Github {
            let title = "otactl manifest verify";
            for line in crate::output::github::annotations(std::slice::from_ref(&report), title) {
                ctx.printer.data(&line);
            }
            crate::output::github::append_step_summary(&crate::output::github::summary_table(
                std::slice::from_ref(&report),
                title,
            ))?;
        } else {
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
        Ok(if ok {
            ExitCode::Success
        } else {
            ExitCode::ChecksFailed
        })
    }
}
