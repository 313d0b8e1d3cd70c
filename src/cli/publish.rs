//! `otactl publish github|dir` (the OCI target comes with its own issue).

use std::path::PathBuf;
use std::sync::Arc;

use clap::Subcommand;

use super::remote::RemoteArgs;
use super::{Ctx, display};
use crate::error::{ExitCode, Result};
use crate::ops::publish::{self, DirRequest, GithubRequest};
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

impl PublishCommand {
    pub(crate) fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        match self {
            PublishCommand::Github(args) => args.run(ctx),
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
