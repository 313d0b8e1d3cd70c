//! The `git` subprocess: work tree detection and files at a ref.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};
use crate::fsx;

/// The git work tree that holds `path` (which need not exist yet), found by looking
/// for `.git` in the folder it resolves to on disk and that folder's parents.
pub fn enclosing_work_tree(path: &Path) -> Option<PathBuf> {
    let abs = std::path::absolute(path).ok()?;
    let folder = resolve_on_disk(abs.parent().unwrap_or(&abs));
    folder
        .ancestors()
        .find(|dir| fsx::exists(&dir.join(".git")))
        .map(Path::to_owned)
}

/// Where an absolute path leads on disk, one part at a time, as the kernel walks it
/// and `create_dir_all` would make it: a part that exists is resolved there (symlinks
/// included, so `link/..` is the folder above the link's target, not the folder
/// holding the link), and below the first part that does not exist every folder
/// will be a new, real one, where `..` is the folder above.
fn resolve_on_disk(abs: &Path) -> PathBuf {
    let mut real = PathBuf::new();
    let mut exists = true;
    for part in abs.components() {
        match part {
            std::path::Component::CurDir => {}
            // `real` holds no symlink (resolved, or made below a resolved folder):
            // its parent by name is its parent on disk.
            std::path::Component::ParentDir => {
                real.pop();
                exists = fsx::exists(&real);
            }
            other => {
                real.push(other);
                if exists {
                    match fsx::real_path(&real) {
                        Some(resolved) => real = resolved,
                        None => exists = false,
                    }
                }
            }
        }
    }
    real
}

fn git(dir: &Path, args: &[&str]) -> Result<std::process::Output> {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(Error::GitMissing)
}

/// Checks that `reference` names a commit, from inside `dir`; returns its full id.
pub fn verify_commit(dir: &Path, reference: &str) -> Result<String> {
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
        return Err(Error::NoCommit {
            reference: reference.to_owned(),
            dir: dir.to_owned(),
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

/// A commit resolved from a ref: full id and committer time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    /// The full commit id.
    pub id: String,
    /// The committer time.
    pub committer_time: time::OffsetDateTime,
}

fn run_ok(dir: &Path, args: &[&str]) -> Result<String> {
    let out = git(dir, args)?;
    if !out.status.success() {
        return Err(Error::Git {
            args: args.join(" "),
            dir: dir.to_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
}

/// Resolves `reference` in the repository at `dir` to a commit; a tree or blob is
/// refused, since only a commit has a committer time to make a tarball reproducible.
pub fn resolve_commit(dir: &Path, reference: &str) -> Result<Commit> {
    let kind = git(dir, &["cat-file", "-t", "--end-of-options", reference])?;
    if !kind.status.success() {
        let stderr = String::from_utf8_lossy(&kind.stderr);
        let shown = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
        if stderr.contains("not a git repository") {
            return Err(Error::NotARepository { dir: shown });
        }
        return Err(Error::NoCommit {
            reference: reference.to_owned(),
            dir: shown,
        });
    }
    let kind = String::from_utf8_lossy(&kind.stdout).trim().to_owned();
    if kind != "commit" && kind != "tag" {
        return Err(Error::NotACommit {
            reference: reference.to_owned(),
            kind,
        });
    }
    let id = verify_commit(dir, reference)?;
    let stamp = run_ok(dir, &["show", "-s", "--format=%ct", &id])?;
    let seconds: i64 = stamp.trim().parse().map_err(|_| Error::Git {
        args: format!("show -s --format=%ct {id}"),
        dir: dir.to_owned(),
        stderr: format!("unexpected output `{stamp}`"),
    })?;
    let committer_time =
        time::OffsetDateTime::from_unix_timestamp(seconds).map_err(|_| Error::Git {
            args: format!("show -s --format=%ct {id}"),
            dir: dir.to_owned(),
            stderr: format!("committer time `{seconds}` is out of range"),
        })?;
    Ok(Commit { id, committer_time })
}

/// Paths of submodules (gitlinks) in the tree of `commit`.
pub fn submodules(dir: &Path, commit: &str) -> Result<Vec<String>> {
    let listing = run_ok(dir, &["ls-tree", "-r", "-z", "--full-tree", commit])?;
    Ok(listing
        .split('\0')
        .filter_map(|line| {
            let (meta, path) = line.split_once('\t')?;
            meta.starts_with("160000 ").then(|| path.to_owned())
        })
        .collect())
}

/// Starts `git archive --format=tar --prefix=PREFIX COMMIT` with its stdout piped.
pub fn spawn_archive(dir: &Path, prefix: &str, commit: &str) -> Result<std::process::Child> {
    Command::new("git")
        .args([
            "archive",
            "--format=tar",
            &format!("--prefix={prefix}"),
            commit,
        ])
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(Error::GitMissing)
}

/// The top folder of the work tree holding `dir`.
pub fn top_level(dir: &Path) -> Result<PathBuf> {
    run_ok(dir, &["rev-parse", "--show-toplevel"]).map(PathBuf::from)
}

/// Short ids of the commits (reachable from HEAD) that added or removed `needle`
/// in `file` (git's pickaxe, `log -S`).
pub fn commits_touching(dir: &Path, needle: &str, file: &Path) -> Result<Vec<String>> {
    let file = file.to_string_lossy();
    let pickaxe = format!("-S{needle}");
    let out = run_ok(dir, &["log", "--format=%h", &pickaxe, "--", &file])?;
    Ok(out.lines().map(str::to_owned).collect())
}

/// Whether `dir` is inside a git work tree.
pub fn is_work_tree(dir: &Path) -> bool {
    git(dir, &["rev-parse", "--is-inside-work-tree"]).is_ok_and(|o| o.status.success())
}

/// The URL of the remote `name` of the work tree at `dir`, if it has one.
pub fn remote_url(dir: &Path, name: &str) -> Option<String> {
    let key = format!("remote.{name}.url");
    let out = git(dir, &["config", "--get", &key]).ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|url| !url.is_empty())
}

/// The `build_id`s that commits reachable from `rev` wrote into `file` (from the
/// added lines of `git log -p`), newest first, at most `max` commits read.
pub fn build_ids_in_history(dir: &Path, rev: &str, file: &Path, max: usize) -> Result<Vec<String>> {
    let file = file.to_string_lossy();
    let limit = format!("-n{max}");
    let out = run_ok(
        dir,
        &[
            "log",
            &limit,
            "-p",
            "--format=",
            "--end-of-options",
            rev,
            "--",
            &file,
        ],
    )?;
    Ok(out
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix('+')?.trim();
            let value = rest.strip_prefix("\"build_id\": \"")?;
            Some(value.split('"').next()?.to_owned())
        })
        .filter(|id| !id.is_empty())
        .collect())
}
