//! `promote`: a build moved to the next channel of the promotion order, as reviewed:
//! C1's manifest as the base branch holds it (a local edit is refused), its build and
//! artifact written into C2's manifest, signed, checked, and proposed in a pull
//! request. A composition of `manifest new`, `manifest sign`, `verify` and `pr`.

use std::sync::Arc;

use crate::checklist::Report;
use crate::error::{Error, Result};
use crate::fsx;
use crate::git;
use crate::keys::PrivateKey;
use crate::manifest::{MAX_MANIFEST_BYTES, Manifest};
use crate::ops::manifest::{self, NewRequest};
use crate::ops::pr::{self, Opened, Outcome as PrOutcome, PrRequest};
use crate::ops::verify;
use crate::progress::Reporter;
use crate::remote::http::Client;
use crate::repo::Repo;
use crate::settings::RemoteFlags;
use crate::text::code;

/// What to promote.
#[derive(Clone, Debug, Default)]
pub struct PromoteRequest {
    /// The channel the build is on.
    pub from: String,
    /// The channel it moves to.
    pub to: String,
    /// The git ref holding the reviewed manifests (default: `origin/main`, else `main`).
    pub base: Option<String>,
    /// Allow skipping a channel of the promotion order.
    pub skip_order: bool,
    /// Raises C2's `min_build_id`.
    pub min_build_id: Option<String>,
    /// No pull request.
    pub no_pr: bool,
    /// `--api-url`, `--repo`, `--insecure`.
    pub remote: RemoteFlags,
}

/// The checked promotion, before anything is written.
#[derive(Clone, Debug)]
pub struct Checked {
    /// C1's manifest as reviewed.
    pub manifest: Manifest,
    /// The ref it was read at.
    pub base: String,
    /// C2 is the last channel of the promotion order.
    pub last_channel: bool,
}

/// What `promote` did.
#[derive(Debug)]
pub struct Promoted {
    /// C2's manifest file.
    pub path: String,
    /// C2 already held this build and artifact: nothing was written.
    pub unchanged: bool,
    /// The checklist of C2.
    pub checklist: Report,
    /// The pull request.
    pub pr: Option<Opened>,
}

fn bad(flag: &'static str, message: String) -> Error {
    Error::InvalidArg { flag, message }
}

/// Checks the promotion: both channels, the order, C1 as reviewed.
pub fn check(repo: &Repo, request: &PromoteRequest) -> Result<Checked> {
    let settings = &repo.settings;
    repo.require_channel(&request.from, "--from")?;
    repo.require_channel(&request.to, "--to")?;
    let (Some(from), Some(to)) = (
        settings.channels.position(&request.from),
        settings.channels.position(&request.to),
    ) else {
        return Err(bad(
            "--to",
            "both channels must be in the promotion order (`channels` of otactl.toml)".into(),
        ));
    };
    if to <= from {
        return Err(bad(
            "--to",
            format!(
                "`{}` does not come after `{}` in the promotion order ({}): a promotion moves a build forward",
                request.to,
                request.from,
                settings.channels.join(" → ")
            ),
        ));
    }
    if to > from + 1 && !request.skip_order {
        let skipped: Vec<&str> = (from + 1..to)
            .map(|i| settings.channels[i].as_str())
            .collect();
        return Err(Error::PublishRefused {
            message: format!(
                "promoting `{}` to `{}` skips {}: the promotion order is {}; promote through each channel, or pass `--skip-order`",
                request.from,
                request.to,
                skipped
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                settings.channels.join(" → ")
            ),
        });
    }
    let base = match &request.base {
        Some(base) => {
            git::verify_commit(&settings.root, base).map_err(|e| e.for_flag("--base"))?;
            base.clone()
        }
        None => ["origin/main", "main"]
            .into_iter()
            .find(|r| git::verify_commit(&settings.root, r).is_ok())
            .map(str::to_owned)
            .ok_or_else(|| {
                bad(
                    "--base",
                    "neither `origin/main` nor `main` exists: pass `--base GITREF`, the ref holding the reviewed manifests".into(),
                )
            })?,
    };
    let path = settings.manifest_path(&request.from);
    let reviewed = git::show_at(&settings.channel_dir(&request.from), &base, "manifest.json")?
        .ok_or_else(|| {
            bad(
                "--from",
                format!(
                    "`{}` has no manifest at `{base}`: nothing reviewed to promote",
                    request.from
                ),
            )
        })?;
    let local = fsx::read_limited(&path, MAX_MANIFEST_BYTES, "a manifest").ok();
    if local.as_deref() != Some(reviewed.as_slice()) {
        return Err(Error::PublishRefused {
            message: format!(
                "`{}` differs from its copy at `{base}`: a promotion moves what was reviewed, not a local edit; commit and merge the change first (or `git checkout {base} -- {}`)",
                fsx::display(&path),
                fsx::display(&path)
            ),
        });
    }
    let parsed = crate::manifest::parse(&reviewed, &repo.rules(&path));
    let manifest = parsed.manifest.ok_or_else(|| Error::InvalidManifest {
        path: path.clone(),
        findings: parsed.findings.clone(),
    })?;
    Ok(Checked {
        manifest,
        base,
        last_channel: to + 1 == settings.channels.len(),
    })
}

/// Writes C2's manifest from C1's, signs it, runs the checklist and opens the PR.
pub fn promote(
    repo: &Repo,
    client: &Client,
    request: &PromoteRequest,
    checked: &Checked,
    key: &Arc<PrivateKey>,
    reporter: &dyn Reporter,
) -> Result<Promoted> {
    repo.check_signer(key)?;
    let m = &checked.manifest;
    let written = manifest::new(
        repo,
        &NewRequest {
            channel: request.to.clone(),
            build_id: m.build_id.to_string(),
            url: m.artifact.url.clone(),
            sha256: Some(m.artifact.sha256.clone()),
            kind: Some(m.artifact.kind),
            min_build_id: request.min_build_id.clone(),
            notes: m.notes.clone(),
            from_file: None,
            force: false,
        },
    )?;
    manifest::sign(repo, &written.path, None, key)?;
    let mut check = verify::Request::new(written.path.clone());
    check.remote = request.remote.clone();
    check.base = Some(checked.base.clone());
    let checklist = verify::verify(repo, client, &check, reporter)?;
    let pr = if checklist.ok && !request.no_pr {
        match pr::pr(
            repo,
            client,
            &PrRequest {
                channel: request.to.clone(),
                base: None,
                draft: false,
                remote: request.remote.clone(),
            },
            reporter,
        )? {
            PrOutcome::Opened(opened) => Some(opened),
            PrOutcome::AlreadyOnBase { .. } | PrOutcome::ChecksFailed { .. } => None,
        }
    } else {
        None
    };
    Ok(Promoted {
        path: fsx::display(&written.path),
        unchanged: written.unchanged,
        checklist,
        pr,
    })
}

/// The promotion in words, for the plan line.
pub fn describe(checked: &Checked, request: &PromoteRequest) -> String {
    format!(
        "promote `{}` ({}) from `{}` to `{}`, as `{}` holds it",
        checked.manifest.build_id,
        code(&checked.manifest.artifact.url),
        request.from,
        request.to,
        checked.base
    )
}
