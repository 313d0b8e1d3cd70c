//! `otactl tar`: the reproducible source tarball.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Ctx, display};
use crate::build_id::BuildId;
use crate::error::{Error, ExitCode, Result};
use crate::fsx::{self, Existing};
use crate::git;
use crate::secrets::AllowList;
use crate::tarball::{TarballSpec, write_tarball};

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
    #[arg(long, value_enum, default_value_t = TarFormat::Text)]
    format: TarFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum TarFormat {
    Text,
    Json,
}

#[derive(Serialize)]
struct TarReport {
    path: String,
    size: u64,
    sha256: String,
    build_id: String,
    commit: String,
    prefix: String,
}

impl TarArgs {
    pub(crate) fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let repo = ctx.repo()?;
        let settings = &repo.settings;
        let source = settings.source_dir(self.source.as_deref());
        let commit = git::resolve_commit(&source, &self.reference).map_err(super::source_or_ref)?;
        let build_id = self.build_id_for(&commit)?;
        let name = match self.name.clone().or_else(|| settings.name.clone()) {
            Some(name) => name,
            None => folder_name(&source)?,
        };
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return Err(Error::InvalidArg {
                flag: "--name",
                message: format!("`{name}` may hold only letters, digits, `.`, `_` and `-`"),
            });
        }
        let prefix = format!("{name}-{build_id}/");
        let output = self
            .output
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{name}-src-{build_id}.tar.gz")));
        let mut patterns = settings.allow_secrets.clone();
        patterns.extend(self.allow_secret.iter().cloned());
        let allow = AllowList::new(&patterns).map_err(|message| Error::InvalidArg {
            flag: "--allow-secret",
            message,
        })?;

        ctx.printer.detail(&format!(
            "archiving `{}` ({}) as `{prefix}`",
            self.reference, commit.id
        ));
        let reporter = ctx.printer.reporter();
        let spec = TarballSpec {
            reporter: &reporter,
            source: &source,
            commit: &commit,
            prefix: &prefix,
            allow: &allow,
        };
        let tarball = write_tarball(&spec, &output)?;
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
        let file_name = output.file_name().map_or_else(
            || output.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let sums = sha256sum_path(&output);
        fsx::write_atomic(
            &sums,
            format!("{}  {file_name}\n", tarball.sha256).as_bytes(),
            None,
            Existing::Replace,
        )?;
        ctx.printer.status(&format!(
            "wrote `{}` ({} entries, {} bytes) and `{}`",
            display(&output),
            tarball.entries,
            tarball.size,
            display(&sums)
        ));
        let report = TarReport {
            path: display(&output),
            size: tarball.size,
            sha256: tarball.sha256,
            build_id: build_id.to_string(),
            commit: commit.id,
            prefix,
        };
        match self.format {
            TarFormat::Json => ctx
                .printer
                .data(&serde_json::to_string_pretty(&report).unwrap_or_default()),
            TarFormat::Text => {
                ctx.printer.data(&format!("path: {}", report.path));
                ctx.printer.data(&format!("size: {}", report.size));
                ctx.printer.data(&format!("sha256: {}", report.sha256));
            }
        }
        Ok(ExitCode::Success)
    }
}

impl TarArgs {
    /// `--build-id` (which must name the commit), else the commit's own id.
    fn build_id_for(&self, commit: &git::Commit) -> Result<BuildId> {
        match &self.build_id {
            Some(given) => {
                let id: BuildId = given.parse().map_err(|e: crate::build_id::BuildIdError| {
                    Error::InvalidArg {
                        flag: "--build-id",
                        message: e.to_string(),
                    }
                })?;
                if !commit.id.starts_with(id.sha()) {
                    return Err(Error::InvalidArg {
                        flag: "--build-id",
                        message: format!(
                            "`{id}` names commit `{}`, but `{}` is `{}`",
                            id.sha(),
                            self.reference,
                            &commit.id[..12]
                        ),
                    });
                }
                Ok(id)
            }
            None => BuildId::from_parts(commit.committer_time, &commit.id[..7]).map_err(|e| {
                Error::InvalidArg {
                    flag: "--ref",
                    message: e.to_string(),
                }
            }),
        }
    }
}

/// `FILE.sha256` next to FILE.
fn sha256sum_path(output: &Path) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

fn folder_name(source: &Path) -> Result<String> {
    let abs = std::path::absolute(source).map_err(|e| Error::Read {
        path: source.to_owned(),
        source: e,
    })?;
    let top = git::top_level(&abs).unwrap_or(abs);
    Ok(top
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default())
}
