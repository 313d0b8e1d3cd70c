//! `pr`: the channel's pull request, a composition of [`verify`] and [`lint`] with
//! the GitHub API. The checklist runs first; only when it and lint pass is anything
//! written, and then only to the branch `otactl/CHANNEL-BUILD_ID`: its commit of the
//! manifest (byte for byte the local file) and one pull request, found and updated
//! on a re-run, never duplicated.

use std::path::Path;

use serde::Serialize;

use crate::checklist;
use crate::error::{Error, Result};
use crate::fsx;
use crate::git;
use crate::manifest::MAX_MANIFEST_BYTES;
use crate::ops::lint::{self, Report as LintReport};
use crate::ops::verify;
use crate::output::github::summary_table;
use crate::progress::Reporter;
use crate::remote::github::{GitHub, Pull, Put, token_from_env};
use crate::remote::http::{Client, RemoteError};
use crate::repo::Repo;
use crate::settings::{self, RemoteFlags};
use crate::text::code;

/// The pull request to open.
#[derive(Clone, Debug, Default)]
pub struct PrRequest {
    /// The channel.
    pub channel: String,
    /// The branch to merge into (default: the repository's default branch).
    pub base: Option<String>,
    /// Open it as a draft.
    pub draft: bool,
    /// `--api-url`, `--repo`, `--insecure`.
    pub remote: RemoteFlags,
}

/// The pull request, opened or updated.
#[derive(Clone, Debug, Serialize)]
pub struct Opened {
    /// Its page.
    pub url: String,
    /// Its number.
    pub number: u64,
    /// The head branch.
    pub branch: String,
    /// Opened by this run (`false`: an open one was updated).
    pub created: bool,
    /// The manifest was committed by this run (`false`: the branch held it already).
    #[serde(skip)]
    pub committed: bool,
}

/// What `pr` did.
#[derive(Debug)]
pub enum Outcome {
    /// The checklist or lint failed: nothing was written.
    ChecksFailed {
        /// The checklist.
        checklist: Box<checklist::Report>,
        /// Lint of the channel's manifest.
        lint: LintReport,
    },
    /// The base branch holds this manifest already (the pull request was merged):
    /// nothing to propose, nothing written.
    AlreadyOnBase {
        /// The base branch.
        base: String,
    },
    /// The pull request.
    Opened(Opened),
}

/// Runs the checklist and lint on the channel's manifest, then commits it to its
/// branch and opens (or updates) the pull request whose body is the checklist.
pub fn pr(
    repo: &Repo,
    client: &Client,
    request: &PrRequest,
    reporter: &dyn Reporter,
) -> Result<Outcome> {
    let channel = &request.channel;
    let path = verify::channel_manifest(repo, channel)?;
    let merged = settings::github_here(&repo.settings, &request.remote)?;
    let repository = merged.require_repository()?.clone();
    let token = token_from_env().ok_or_else(|| Error::MissingToken {
        why: format!("`pr` opens a pull request on {repository}"),
    })?;
    let in_repo = path_in_work_tree(&path)?;
    let mut check = verify::Request::new(path.clone());
    check.remote = request.remote.clone();
    let report = verify::verify(repo, client, &check, reporter)?;
    let lint = lint::lint(
        repo,
        &lint::Request {
            paths: vec![path.clone()],
            base: None,
        },
    )?;
    if !report.ok || !lint.ok {
        return Ok(Outcome::ChecksFailed {
            checklist: Box::new(report),
            lint,
        });
    }
    let bytes = fsx::read_limited(&path, MAX_MANIFEST_BYTES, "a manifest")?;
    let build_id = report.build_id.clone().unwrap_or_default();
    let gh = GitHub::new(client, merged.api.clone(), repository, Some(token));
    let base = match &request.base {
        Some(base) => base.clone(),
        None => gh.default_branch()?,
    };
    let base_head = gh.branch_head(&base)?.ok_or_else(|| Error::InvalidArg {
        flag: "--base",
        message: format!("{} has no branch {}", gh.repository, code(&base)),
    })?;
    let branch = format!("otactl/{channel}-{build_id}");
    let on_base = gh.file(&in_repo, &base)?;
    if on_base.as_ref().is_some_and(|f| f.bytes == bytes) {
        return Ok(Outcome::AlreadyOnBase { base });
    }
    let old = on_base
        .and_then(|f| serde_json::from_slice::<serde_json::Value>(&f.bytes).ok())
        .and_then(|v| {
            v.get("build_id")
                .and_then(|b| b.as_str())
                .map(str::to_owned)
        })
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| "none".into());
    let message = format!("{channel}: {old} -> {build_id}");
    prepare_branch(&gh, &base, &base_head, &branch, channel, &build_id)?;
    let committed = commit(&gh, &in_repo, &branch, &bytes, &message)?;
    let title = format!("{channel}: release {build_id}");
    let body = body(channel, &build_id, &report, &lint);
    let (pull, created) = open_or_update(&gh, &title, &branch, &base, &body, request.draft)?;
    Ok(Outcome::Opened(Opened {
        url: pull.html_url,
        number: pull.number,
        branch,
        created,
        committed,
    }))
}

/// The PR body (SPEC 5): a one-line heading, the checklist as `verify --format
/// markdown` prints it, and the lint result.
fn body(channel: &str, build_id: &str, report: &checklist::Report, lint: &LintReport) -> String {
    format!(
        "## otactl: {channel} → {build_id}\n\n{}\n{}",
        report.markdown(),
        summary_table(&lint.files, "otactl lint")
    )
}

/// The manifest's path in the repository: relative to the work tree's top, `/`-separated.
fn path_in_work_tree(path: &Path) -> Result<String> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let top = fsx::canonical_existing(&git::top_level(dir)?);
    let full = fsx::canonical_existing(path);
    let relative = full.strip_prefix(&top).map_err(|_| Error::InvalidArg {
        flag: "--channel",
        message: format!(
            "`{}` is not inside the git work tree `{}`",
            fsx::display(path),
            fsx::display(&top)
        ),
    })?;
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Ok(parts.join("/"))
}

/// Whether a commit message is otactl's for this channel and build.
fn is_ours(message: &str, channel: &str, build_id: &str) -> bool {
    let first = message.lines().next().unwrap_or_default();
    first.starts_with(&format!("{channel}: ")) && first.ends_with(&format!(" -> {build_id}"))
}

/// The head branch at the base's head, or the one there when it holds nothing but
/// otactl's commits for this build.
fn prepare_branch(
    gh: &GitHub<'_>,
    base: &str,
    base_head: &str,
    branch: &str,
    channel: &str,
    build_id: &str,
) -> Result<()> {
    if gh.branch_head(branch)?.is_none() {
        match gh.create_branch(branch, base_head) {
            Ok(_) => return Ok(()),
            // It may have been made (an answer lost): look before anything else.
            Err(e) if e.is_uncertain() => {
                if gh.branch_head(branch)?.is_none() {
                    gh.create_branch(branch, base_head)?;
                }
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
    }
    let foreign: Vec<String> = gh
        .commits_beyond(base, branch)?
        .into_iter()
        .filter(|m| !is_ours(m, channel, build_id))
        .collect();
    if foreign.is_empty() {
        return Ok(());
    }
    Err(Error::PublishRefused {
        message: format!(
            "the branch {} of {} holds {} commit{} that otactl did not make for this build (the first: {}); delete the branch or merge it, then run again",
            code(branch),
            gh.repository,
            foreign.len(),
            if foreign.len() == 1 { "" } else { "s" },
            code(foreign[0].lines().next().unwrap_or_default())
        ),
    })
}

/// Commits the manifest to the branch unless it holds those bytes already; a stale
/// blob sha (`409`) is read again and the commit retried once.
fn commit(gh: &GitHub<'_>, path: &str, branch: &str, bytes: &[u8], message: &str) -> Result<bool> {
    for _ in 0..2 {
        let current = gh.file(path, branch)?;
        if current.as_ref().is_some_and(|f| f.bytes == bytes) {
            return Ok(false);
        }
        let sha = current.as_ref().map(|f| f.sha.as_str());
        match gh.put_file(path, branch, bytes, message, sha)? {
            Put::Done => return Ok(true),
            Put::Stale => {}
        }
    }
    Err(Error::from(RemoteError::Unreadable {
        what: format!("commit {} to {}", code(path), code(branch)),
        url: String::new(),
        message: "the file changed on the branch twice while otactl committed it (409); run again"
            .into(),
    }))
}

/// The open pull request of `branch`, updated; else a new one. A failed or refused
/// `POST` is settled by looking again, never by a second blind one.
fn open_or_update(
    gh: &GitHub<'_>,
    title: &str,
    branch: &str,
    base: &str,
    body: &str,
    draft: bool,
) -> Result<(Pull, bool)> {
    if let Some(open) = gh.open_pulls(branch)?.into_iter().next() {
        return Ok((gh.update_pull(open.number, title, body)?, false));
    }
    let error = match gh.create_pull(title, branch, base, body, draft) {
        Ok(pull) => return Ok((pull, true)),
        Err(e) => e,
    };
    let exists = matches!(&error, RemoteError::Status { message: Some(m), .. } if m.contains("already exists"));
    if !(exists || error.is_uncertain()) {
        return Err(error.into());
    }
    if let Some(open) = gh.open_pulls(branch)?.into_iter().next() {
        // A lost answer: the POST took effect; this run opened it.
        return Ok((gh.update_pull(open.number, title, body)?, !exists));
    }
    if exists {
        return Err(error.into());
    }
    Ok((gh.create_pull(title, branch, base, body, draft)?, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_otactls_commit_for_the_build_is_ours() {
        let id = "20260115-1614-9121078";
        assert!(is_ours(&format!("canary: none -> {id}"), "canary", id));
        assert!(is_ours(
            &format!("canary: 20260101-0000-aaaaaaa -> {id}\n\nbody"),
            "canary",
            id
        ));
        assert!(!is_ours(&format!("stable: none -> {id}"), "canary", id));
        assert!(!is_ours(
            "canary: none -> 20260116-0000-bbbbbbb",
            "canary",
            id
        ));
        assert!(!is_ours("fix the readme", "canary", id));
    }
}
