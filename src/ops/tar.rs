//! `tar`: the source tarball of a commit, byte for byte what `git archive` writes,
//! with its `sha256sum` file; refused when tracked files look like secrets.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::build_id::BuildId;
use crate::error::{Error, Result};
use crate::fsx::{self, Existing};
use crate::git;
use crate::progress::Reporter;
use crate::repo::Repo;
use crate::secrets::AllowList;
use crate::tarball::{Tarball, TarballSpec, write_tarball};

/// What to archive.
#[derive(Clone, Debug)]
pub struct Request {
    /// The git repository (default: `source` in otactl.toml, else the working folder).
    pub source: Option<PathBuf>,
    /// The commit.
    pub reference: String,
    /// The prefix and asset stem (default: `name`, else the source folder's name).
    pub name: Option<String>,
    /// The build id (default: from the commit); it must name the commit.
    pub build_id: Option<String>,
    /// Where to write it (default: `NAME-src-BUILD_ID.tar.gz`).
    pub output: Option<PathBuf>,
    /// Tracked paths the secret scan lets through, besides `allow_secrets`.
    pub allow_secret: Vec<String>,
}

/// The tarball made.
#[derive(Clone, Debug)]
pub struct Built {
    /// The tarball file.
    pub path: PathBuf,
    /// Its `sha256sum` file.
    pub sums: PathBuf,
    /// The build.
    pub build_id: BuildId,
    /// The commit id.
    pub commit: String,
    /// `NAME-BUILD_ID/`.
    pub prefix: String,
    /// Its digest, size and what it holds.
    pub tarball: Tarball,
}

/// [`Built`] as `tar --format json` prints it.
#[derive(Serialize)]
pub struct Summary {
    /// The tarball, as shown.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256.
    pub sha256: String,
    /// The build id.
    pub build_id: String,
    /// The commit id.
    pub commit: String,
    /// The prefix of every entry.
    pub prefix: String,
}

impl Built {
    /// What `--format json` prints.
    pub fn summary(&self) -> Summary {
        Summary {
            path: fsx::display(&self.path),
            size: self.tarball.size,
            sha256: self.tarball.sha256.clone(),
            build_id: self.build_id.to_string(),
            commit: self.commit.clone(),
            prefix: self.prefix.clone(),
        }
    }
}

/// Builds the tarball and its `FILE.sha256`.
pub fn build(repo: &Repo, request: &Request, reporter: &dyn Reporter) -> Result<Built> {
    let settings = &repo.settings;
    let source = settings.source_dir(request.source.as_deref());
    let commit = git::resolve_commit(&source, &request.reference).map_err(super::source_or_ref)?;
    let build_id = build_id_for(request, &commit)?;
    let name = match request.name.clone().or_else(|| settings.name.clone()) {
        Some(name) => name,
        None => folder_name(&source)?,
    };
    if name.is_empty() || !name.chars().all(crate::config::is_name_char) {
        return Err(Error::InvalidArg {
            flag: "--name",
            message: format!("`{name}` may hold only letters, digits, `.`, `_` and `-`"),
        });
    }
    let prefix = format!("{name}-{build_id}/");
    let path = request
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{name}-src-{build_id}.tar.gz")));
    let mut patterns = settings.allow_secrets.clone();
    patterns.extend(request.allow_secret.iter().cloned());
    let allow = AllowList::new(&patterns).map_err(|message| Error::InvalidArg {
        flag: "--allow-secret",
        message,
    })?;
    let spec = TarballSpec {
        reporter,
        source: &source,
        commit: &commit,
        prefix: &prefix,
        allow: &allow,
    };
    let tarball = write_tarball(&spec, &path)?;
    let file_name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let sums = sha256sum_path(&path);
    fsx::write_atomic(
        &sums,
        format!("{}  {file_name}\n", tarball.sha256).as_bytes(),
        None,
        Existing::Replace,
    )?;
    Ok(Built {
        path,
        sums,
        build_id,
        commit: commit.id,
        prefix,
        tarball,
    })
}

/// The request's build id (which must name the commit), else the commit's own.
fn build_id_for(request: &Request, commit: &git::Commit) -> Result<BuildId> {
    match &request.build_id {
        Some(given) => {
            let id: BuildId =
                given
                    .parse()
                    .map_err(|e: crate::build_id::BuildIdError| Error::InvalidArg {
                        flag: "--build-id",
                        message: e.to_string(),
                    })?;
            if !commit.id.starts_with(id.sha()) {
                return Err(Error::InvalidArg {
                    flag: "--build-id",
                    message: format!(
                        "`{id}` names commit `{}`, but `{}` is `{}`",
                        id.sha(),
                        request.reference,
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

/// `FILE.sha256` next to FILE.
fn sha256sum_path(output: &Path) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

/// The name of the source's work tree folder.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sums_file_sits_beside_the_tarball() {
        assert_eq!(
            sha256sum_path(Path::new("out/evse-src-x.tar.gz")),
            Path::new("out/evse-src-x.tar.gz.sha256")
        );
    }
}
