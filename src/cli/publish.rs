//! `otactl publish dir` (GitHub and OCI targets come with their own issues).

use std::path::PathBuf;

use clap::Subcommand;

use super::{Ctx, display};
use crate::build_id::BuildId;
use crate::error::{Error, ExitCode, Result};
use crate::output::Format;
use crate::remote::dir;

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
        let settings = &repo.settings;
        let root = self
            .path
            .clone()
            .or(settings.dir_path.clone())
            .ok_or_else(|| Error::InvalidArg {
                flag: "--path",
                message: "no release folder: pass `--path DIR` or set `[dir] path` in otactl.toml"
                    .into(),
            })?;
        let build_id = match &self.build_id {
            Some(id) => id.parse::<BuildId>().map_err(|e| Error::InvalidArg {
                flag: "--build-id",
                message: e.to_string(),
            })?,
            None => self
                .file
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(dir::build_id_from_file_name)
                .ok_or_else(|| Error::InvalidArg {
                    flag: "--build-id",
                    message: format!(
                        "`{}` is not named `NAME-src-<build_id>.tar.gz`; pass the build id",
                        display(&self.file)
                    ),
                })?,
        };
        let base_url = self.base_url.clone().or(settings.dir_base_url.clone());
        // A bad value is named by where it came from: the flag, or otactl.toml.
        let origin = |given: bool, flag, key| match &settings.config_path {
            Some(file) if !given => dir::Origin::Config { file, key, flag },
            _ => dir::Origin::Flag(flag),
        };
        let origins = dir::Origins {
            path: origin(self.path.is_some(), "--path", "[dir] path"),
            base_url: origin(self.base_url.is_some(), "--base-url", "[dir] base_url"),
        };
        let published = dir::publish(&self.file, &build_id, &root, base_url.as_deref(), origins)
            .map_err(|e| e.for_flag("FILE"))?;
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
