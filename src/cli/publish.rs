//! `otactl publish github|dir` (the OCI target comes with its own issue).

use std::path::PathBuf;
use std::sync::Arc;

use clap::Subcommand;

use super::remote::RemoteArgs;
use super::{Ctx, display};
use crate::error::{ExitCode, Result};
use crate::ops::publish::{self, DirRequest, GithubRequest, OciRequest};
use crate::output::Format;
use crate::remote::Published;

#[derive(Debug, Subcommand)]
pub(crate) enum PublishCommand {
    /// Upload FILE as an asset of the GitHub release TAG and print its download URL.
    ///
    /// The release is found by its tag (drafts too) or created as a draft; the asset
    /// is uploaded, streamed from disk, and the release published last. Publishing the
    /// same file again is a no-op; other content under the same name is refused
    /// (exit 4). The token comes from `GH_TOKEN`, else `GITHUB_TOKEN`.
    Github(GithubArgs),
    /// Push FILE as an OCI artifact (ORAS conventions) and print its manifest digest and `oci://` URL.
    ///
    /// One layer, the file, with the empty config, as OtaFlux-style servers read it:
    /// they serve the first layer of the highest semver tag. The tag must be semver
    /// without a leading `v`, and not a pre-release. Blobs go first, then the
    /// manifest, the signature (`--sign`, cosign's tag convention, with the channel's
    /// Ed25519 key) and the tag last. The same content again is a no-op; a tag that
    /// holds anything else is refused (exit 4). Credentials: Docker's `config.json`
    /// (`DOCKER_CONFIG`), else `OTACTL_REGISTRY_USERNAME`/`OTACTL_REGISTRY_PASSWORD`.
    Oci(OciArgs),
    /// Copy FILE into a release folder, `DIR/<build_id>/<file>`, and print its URL.
    ///
    /// The copy goes through a temporary file, fsync and rename. Publishing the same
    /// content again is success; other content under the same name is refused (exit 4).
    Dir(DirArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct DirArgs {
    /// The file to publish.
    file: PathBuf,
    /// The release folder (default: `[dir] path` in otactl.toml).
    #[arg(long, value_name = "DIR")]
    path: Option<PathBuf>,
    /// The URL the release folder is served at (default: `[dir] base_url`; else a `file://` URL is printed).
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// The build id (default: from a file name `NAME-src-<build_id>.tar.gz`).
    #[arg(long, value_name = "ID")]
    build_id: Option<String>,
    /// Output format.
    #[arg(long, default_value = "text", value_parser = Format::parser(Format::DATA))]
    format: Format,
}

#[derive(Debug, clap::Args)]
pub(crate) struct GithubArgs {
    /// The file to upload; its name is the asset's (letters, digits, `.`, `_`, `+`, `-`).
    file: PathBuf,
    /// The release tag: the build id.
    #[arg(long, value_name = "TAG")]
    tag: String,
    /// The release title (default: the tag).
    #[arg(long, value_name = "TITLE")]
    title: Option<String>,
    /// The commit or branch GitHub creates the tag at (default: the default branch's head).
    #[arg(long, value_name = "COMMITISH")]
    target: Option<String>,
    /// Output format: `json` prints `url`, `asset_id`, `sha256`, `size`, `already_there`.
    #[arg(long, default_value = "text", value_parser = Format::parser(Format::DATA))]
    format: Format,
    #[command(flatten)]
    remote: RemoteArgs,
}

#[derive(Debug, clap::Args)]
#[allow(clippy::struct_excessive_bools)] // one per flag
pub(crate) struct OciArgs {
    /// The file to push: the artifact's one layer.
    file: PathBuf,
    /// Where: `REGISTRY/REPOSITORY:TAG`, the tag a semver version (`127.0.0.1:5000/fw/esp32:0.1.2`).
    #[arg(long = "ref", value_name = "REGISTRY/REPO:TAG")]
    reference: String,
    /// The layer's media type (default: `[oci] media_type`, else `application/vnd.otactl.artifact.v1`).
    #[arg(long, value_name = "MT")]
    media_type: Option<String>,
    /// The manifest's `artifactType` (default: the media type).
    #[arg(long, value_name = "AT")]
    artifact_type: Option<String>,
    /// A manifest annotation `KEY=VALUE` (repeatable); otactl's own keys cannot be set.
    #[arg(long, value_name = "K=V")]
    annotation: Vec<String>,
    /// The build id (default: `otactl build-id` of `source` at its `HEAD`); its time is `created`.
    #[arg(long, value_name = "ID")]
    build_id: Option<String>,
    /// Push a tag that is not semver (OtaFlux-style servers will ignore it).
    #[arg(long)]
    allow_non_semver: bool,
    /// Push a pre-release tag (OtaFlux-style servers will serve it to every device).
    #[arg(long)]
    allow_prerelease: bool,
    /// Sign it, cosign-compatible, with the channel's key (default with `[oci] cosign = true`).
    #[arg(long)]
    sign: bool,
    /// The signing key (default: `OTACTL_SIGNING_KEY`, then `OTACTL_SIGNING_KEY_FILE`).
    #[arg(long, value_name = "PEM")]
    key: Option<PathBuf>,
    /// Allow plain HTTP to a registry that is not loopback (certificates are always checked).
    #[arg(long)]
    insecure: bool,
    /// Output format: `json` prints `url`, `digest`, `sha256`, `size`, `already_there`, `signed`.
    #[arg(long, default_value = "text", value_parser = Format::parser(Format::DATA))]
    format: Format,
}

impl OciArgs {
    fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let repo = ctx.repo()?;
        // `[oci] cosign = true`: every push is signed (SPEC 3).
        let sign = if self.sign || repo.settings.oci.cosign == Some(true) {
            Some(Arc::new(crate::repo::load_signing_key(
                self.key.as_deref(),
            )?))
        } else {
            None
        };
        let client = ctx.client()?;
        let done = publish::oci(
            &repo,
            &client,
            &OciRequest {
                file: self.file,
                reference: self.reference,
                media_type: self.media_type,
                artifact_type: self.artifact_type,
                annotations: self.annotation,
                build_id: self.build_id,
                allow_non_semver: self.allow_non_semver,
                allow_prerelease: self.allow_prerelease,
                insecure: self.insecure,
                sign,
            },
            &(Arc::new(ctx.printer.reporter()) as Arc<dyn crate::progress::Reporter>),
        )?;
        for warning in &done.warnings {
            ctx.printer.warning(warning);
        }
        let published = &done.published;
        if published.already_there {
            ctx.printer
                .status("the tag already holds this artifact: nothing uploaded");
        } else {
            ctx.printer.status(&format!(
                "pushed {} bytes, sha256 {}",
                published.size, published.sha256
            ));
        }
        if self.format == Format::Json {
            return print(ctx, published, self.format);
        }
        ctx.printer
            .data(published.digest.as_deref().unwrap_or_default());
        print(ctx, published, self.format)
    }
}

impl PublishCommand {
    pub(crate) fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        match self {
            PublishCommand::Github(args) => args.run(ctx),
            PublishCommand::Oci(args) => args.run(ctx),
            PublishCommand::Dir(args) => args.run(ctx),
        }
    }
}

impl GithubArgs {
    fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let repo = ctx.repo()?;
        let client = ctx.client()?;
        let published = publish::github(
            &repo,
            &client,
            &GithubRequest {
                file: self.file,
                tag: self.tag,
                title: self.title,
                target: self.target,
                remote: self.remote.flags(),
            },
            &(Arc::new(ctx.printer.reporter()) as Arc<dyn crate::progress::Reporter>),
        )?;
        if published.already_there {
            ctx.printer.status(
                "the release already has this asset with the same content: nothing uploaded",
            );
        } else {
            ctx.printer.status(&format!(
                "uploaded {} bytes, sha256 {}",
                published.size, published.sha256
            ));
        }
        print(ctx, &published, self.format)
    }
}

/// The URL, or the JSON document.
fn print(ctx: &Ctx, published: &Published, format: Format) -> Result<ExitCode> {
    match format {
        Format::Json => ctx.printer.json(published)?,
        _ => ctx.printer.data(&published.url),
    }
    Ok(ExitCode::Success)
}

impl DirArgs {
    fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let repo = ctx.repo()?;
        let published = publish::dir(
            &repo,
            &DirRequest {
                file: self.file,
                path: self.path,
                base_url: self.base_url,
                build_id: self.build_id,
            },
            &ctx.printer.reporter(),
        )?;
        let path = published.path.as_deref().map(display).unwrap_or_default();
        if published.already_there {
            ctx.printer.status(&format!(
                "`{path}` is already published with the same content"
            ));
        } else {
            ctx.printer
                .status(&format!("published `{path}` ({} bytes)", published.size));
        }
        print(ctx, &published, self.format)
    }
}
