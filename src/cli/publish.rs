//! `otactl publish dir` (GitHub and OCI targets come with their own issues).

use std::path::PathBuf;

use clap::Subcommand;

use super::{Ctx, display};
use crate::error::{ExitCode, Result};
use crate::ops::publish::{self, DirRequest};
use crate::output::Format;

#[derive(Debug, Subcommand)]
pub(crate) enum PublishCommand {
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

impl PublishCommand {
    pub(crate) fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        match self {
            PublishCommand::Dir(args) => args.run(ctx),
        }
    }
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
        if published.already_present {
            ctx.printer.status(&format!(
                "`{}` is already published with the same content",
                display(&published.path)
            ));
        } else {
            ctx.printer.status(&format!(
                "published `{}` ({} bytes)",
                display(&published.path),
                published.size
            ));
        }
        match self.format {
            Format::Json => ctx.printer.json(&published)?,
            _ => ctx.printer.data(&published.url),
        }
        Ok(ExitCode::Success)
    }
}
