//! `otactl tar`: the reproducible source tarball.

use std::path::PathBuf;

use super::{Ctx, display};
use crate::error::{ExitCode, Result};
use crate::ops::tar::{self, Request};
use crate::output::Format;

/// Build the source tarball of a commit, byte for byte what `git archive` writes.
///
/// The result equals `git archive --format=tar.gz --prefix=NAME-BUILD_ID/ COMMIT`
/// (git 2.38 or later), so anyone can rebuild and check it with plain git. Tracked
/// files that look like secrets (private keys, tokens, credential files such as
/// `.env` or `.npmrc`) refuse the build (exit 4) and nothing is written. Writes FILE
/// and `FILE.sha256`.
#[derive(Debug, clap::Args)]
pub(crate) struct TarArgs {
    /// The git repository (default: `source` in otactl.toml, else the working folder).
    #[arg(long, value_name = "DIR")]
    source: Option<PathBuf>,
    /// The commit to archive.
    #[arg(long = "ref", value_name = "REF", default_value = "HEAD")]
    reference: String,
    /// Tarball prefix and asset name stem (default: `name` in otactl.toml, else the source folder's name).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// The build id (default: from the commit's committer time and sha).
    #[arg(long, value_name = "ID")]
    build_id: Option<String>,
    /// Where to write the tarball (default: `NAME-src-BUILD_ID.tar.gz`).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Let tracked paths matching GLOB through the secret scan (repeatable).
    #[arg(long, value_name = "GLOB")]
    allow_secret: Vec<String>,
    /// Output format.
    #[arg(long, default_value = "text", value_parser = Format::parser(Format::DATA))]
    format: Format,
}

impl TarArgs {
    pub(crate) fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let repo = ctx.repo()?;
        let format = self.format;
        let request = Request {
            source: self.source,
            reference: self.reference,
            name: self.name,
            build_id: self.build_id,
            output: self.output,
            allow_secret: self.allow_secret,
        };
        let built = tar::build(&repo, &request, &ctx.printer.reporter())?;
        ctx.printer.detail(&format!(
            "archived `{}` ({}) as `{}`",
            request.reference, built.commit, built.prefix
        ));
        let tarball = &built.tarball;
        for path in &tarball.submodules {
            ctx.printer.warning(&format!(
                "`{path}` is a submodule: its content is not in the tarball"
            ));
        }
        for path in &tarball.lfs_pointers {
            ctx.printer.warning(&format!(
                "`{path}` is a Git LFS pointer: the tarball holds the pointer, not the file"
            ));
        }
        for link in &tarball.escaping_links {
            ctx.printer.warning(&format!(
                "{link}: `otactl verify` fails this tarball (item 5), and devices that extract it write outside its folder"
            ));
        }
        for finding in &tarball.allowed_secrets {
            ctx.printer
                .detail(&format!("allowed by pattern: {finding}"));
        }
        ctx.printer.status(&format!(
            "wrote `{}` ({} entries, {} bytes) and `{}`",
            display(&built.path),
            tarball.entries,
            tarball.size,
            display(&built.sums)
        ));
        let summary = built.summary();
        if format == Format::Json {
            ctx.printer.json(&summary)?;
        } else {
            ctx.printer.data(&format!("path: {}", summary.path));
            ctx.printer.data(&format!("size: {}", summary.size));
            ctx.printer.data(&format!("sha256: {}", summary.sha256));
        }
        Ok(ExitCode::Success)
    }
}
