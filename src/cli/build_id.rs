//! `otactl build-id`.

use std::path::PathBuf;

use super::Ctx;
use crate::build_id::BuildId;
use crate::error::{Error, ExitCode, Result};
use crate::git;

/// Print the build id of a commit, `YYYYMMDD-HHMM-<sha7>`.
///
/// By default the time is the commit's committer time in UTC, so the same commit
/// always gives the same id; `--at now` takes the clock instead.
#[derive(Debug, clap::Args)]
pub(crate) struct BuildIdArgs {
    /// The git repository (default: `source` in otactl.toml, else the working folder).
    #[arg(long, value_name = "DIR")]
    source: Option<PathBuf>,
    /// The commit (a branch, tag or commit id; a tree is refused).
    #[arg(long = "ref", value_name = "REF", default_value = "HEAD")]
    reference: String,
    /// Where the time part comes from.
    #[arg(long, value_enum, default_value_t = At::Commit, value_name = "WHEN")]
    at: At,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum At {
    /// The commit's committer time (reproducible).
    Commit,
    /// The current time.
    Now,
}

impl BuildIdArgs {
    pub(crate) fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let repo = ctx.repo()?;
        let settings = &repo.settings;
        let source = settings.source_dir(self.source.as_deref());
        let commit =
            git::resolve_commit(&source, &self.reference).map_err(crate::ops::source_or_ref)?;
        let at = match self.at {
            At::Commit => commit.committer_time,
            At::Now => ctx.now,
        };
        let id = BuildId::from_parts(at, &commit.id[..7]).map_err(|e| Error::InvalidArg {
            flag: "--ref",
            message: e.to_string(),
        })?;
        ctx.printer.data(id.as_str());
        Ok(ExitCode::Success)
    }
}
