//! The `git` subprocess: work tree detection and files at a ref.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};
use crate::fsx;

/// The git work tree that holds `path` (which need not exist yet), found by looking
/// for `.git` in it and its parents.
pub fn enclosing_work_tree(path: &Path) -> Option<PathBuf> {
    let abs = std::path::absolute(path).ok()?;
    abs.ancestors()
        .skip(1)
        .find(|dir| fsx::exists(&dir.join(".git")))
        .map(Path::to_owned)
}

fn git(dir: &Path, args: &[&str]) -> Result<std::process::Output> {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(Error::GitMissing)
}

/// Checks that `reference` names a commit, from inside `dir`; `flag` is the option
/// that gave it, for the error.
pub fn verify_commit(dir: &Path, reference: &str, flag: &'static str) -> Result<String> {
    let spec = format!("{reference}^{{commit}}");
    let out = git(
        dir,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &spec,
        ],
    )?;
    if !out.status.success() {
        return Err(Error::InvalidArg {
            flag,
            message: format!(
                "`{reference}` names no commit in the repository at `{}`",
                dir.display()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The content of `file` (in folder `dir`) at commit `reference`; `None` when the file
/// does not exist there.
pub fn show_at(dir: &Path, reference: &str, file: &str) -> Result<Option<Vec<u8>>> {
    let spec = format!("{reference}:./{file}");
    let out = git(dir, &["cat-file", "blob", &spec])?;
    if out.status.success() {
        return Ok(Some(out.stdout));
    }
    // Does the path exist at that commit at all (as anything)?
    let probe = git(dir, &["cat-file", "-e", &spec])?;
    if probe.status.success() {
        return Err(Error::Git {
            args: format!("cat-file blob {spec}"),
            dir: dir.to_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(None)
}
