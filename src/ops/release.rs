//! `release`: the whole flow as a composition of the operations — build id, artifact
//! (the source tarball, or a file), publish, manifest, sign, verify, pull request.
//! The [`Plan`] is decided first and nothing is done before the caller confirms it;
//! every step converges on a re-run (reproducible tarballs, `already_there` assets,
//! `unchanged` manifests that stay signed, the pull request updated).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::build_id::BuildId;
use crate::checklist::Report;
use crate::error::{Error, Result};
use crate::fsx;
use crate::git;
use crate::hash;
use crate::keys::PrivateKey;
use crate::manifest::{ArtifactKind, MAX_MANIFEST_BYTES};
use crate::ops::manifest::{self, NewRequest};
use crate::ops::pr::{self, Opened, Outcome as PrOutcome, PrRequest};
use crate::ops::publish::{self, DirRequest, GithubRequest, OciRequest};
use crate::ops::tar;
use crate::ops::verify;
use crate::progress::Reporter;
use crate::remote::http::Client;
use crate::remote::{Published, Target};
use crate::repo::Repo;
use crate::settings::{self, RemoteFlags};
use crate::text::code;

/// What to release.
#[derive(Clone, Debug, Default)]
#[allow(clippy::struct_excessive_bools)] // one per flag
pub struct ReleaseRequest {
    /// The channel.
    pub channel: String,
    /// The commit of `source` the build id (and tarball) come from.
    pub reference: String,
    /// A file to release instead of the source tarball (a firmware image).
    pub file: Option<PathBuf>,
    /// Where to publish (default: the one target otactl.toml configures).
    pub target: Option<Target>,
    /// The OCI tag (default: `version` of the source's `Cargo.toml`).
    pub version: Option<String>,
    /// Raises the channel's `min_build_id`.
    pub min_build_id: Option<String>,
    /// The pull request's base branch.
    pub base: Option<String>,
    /// No pull request.
    pub no_pr: bool,
    /// Build and hash only: nothing written, nothing sent.
    pub dry_run: bool,
    /// The build id to release under instead of the commit's (`rollback`: now and
    /// the earlier build's git sha).
    pub build_id: Option<BuildId>,
    /// `rollback`: the build whose content this release ships again.
    pub rollback_of: Option<String>,
    /// `--api-url`, `--repo`, `--insecure`.
    pub remote: RemoteFlags,
}

/// What `release` will do, decided before anything is done.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// The channel.
    pub channel: String,
    /// The target.
    pub target: Target,
    /// The channel's build now, if it has one.
    pub current: Option<String>,
    /// The new build.
    pub build_id: String,
    /// The commit it is built from.
    pub commit: String,
    /// The artifact's file name.
    pub artifact: String,
    /// What the artifact is.
    pub kind: String,
    /// Where it is published: the release folder, `OWNER/REPO`, or the OCI reference.
    pub destination: String,
    /// The manifest written.
    pub manifest: String,
    /// The channel is the last of the promotion order (devices in the field).
    pub last_channel: bool,
    /// A pull request follows.
    pub pr: bool,
    #[serde(skip)]
    oci_reference: Option<String>,
    #[serde(skip)]
    source: PathBuf,
}

/// A confirmation the caller is asked for.
#[derive(Clone, Debug)]
pub enum Question {
    /// Publish the artifact (its size and sha256 now known).
    Publish {
        /// What, where.
        summary: String,
    },
    /// Write the last channel of the promotion order.
    LastChannel {
        /// The channel.
        channel: String,
    },
}

/// What `release` did.
#[derive(Debug, Serialize)]
pub struct Released {
    /// The plan it followed.
    pub plan: Plan,
    /// The URL devices download from.
    pub url: String,
    /// The published artifact.
    pub published: Published,
    /// The manifest file.
    pub manifest: String,
    /// The channel already held this build and artifact: nothing was written.
    pub unchanged: bool,
    /// The checklist passed.
    pub checklist_ok: bool,
    /// The checklist.
    #[serde(skip)]
    pub checklist: Report,
    /// The pull request, opened or updated.
    pub pr: Option<Opened>,
}

/// How the run ended.
#[derive(Debug)]
pub enum Outcome {
    /// `--dry-run`: the plan, with the artifact's size and sha256.
    DryRun {
        /// The plan.
        plan: Box<Plan>,
        /// The artifact's size and sha256.
        artifact: (u64, String),
    },
    /// A confirmation was answered no: nothing published.
    Cancelled,
    /// Done (the checklist may have failed: then no pull request).
    Released(Box<Released>),
}

fn bad(flag: &'static str, message: String) -> Error {
    Error::InvalidArg { flag, message }
}

/// The one target otactl.toml configures, or the error naming `--target`.
fn target(repo: &Repo, given: Option<Target>) -> Result<Target> {
    if let Some(target) = given {
        return Ok(target);
    }
    let settings = &repo.settings;
    let configured: Vec<Target> = [
        (settings.github.repo.is_some(), Target::Github),
        (settings.oci.repository.is_some(), Target::Oci),
        (settings.dir_path.is_some(), Target::Dir),
    ]
    .into_iter()
    .filter_map(|(set, t)| set.then_some(t))
    .collect();
    match configured.as_slice() {
        [one] => Ok(*one),
        [] => Err(bad(
            "--target",
            "no target: pass `--target github|oci|dir`, or configure one of `[github] repo`, `[oci] repository`, `[dir] path` in otactl.toml".into(),
        )),
        _ => Err(bad(
            "--target",
            "otactl.toml configures more than one target (`[github] repo`, `[oci] repository`, `[dir] path`): pass `--target` to choose".into(),
        )),
    }
}

/// The `version` of `[package]` in the source's `Cargo.toml`, if any.
fn cargo_version(source: &Path) -> Option<String> {
    let bytes = fsx::read_limited(&source.join("Cargo.toml"), 1024 * 1024, "a Cargo.toml").ok()?;
    let value: toml::Value = toml::from_str(std::str::from_utf8(&bytes).ok()?).ok()?;
    value
        .get("package")?
        .get("version")?
        .as_str()
        .map(str::to_owned)
}

/// The artifact's file name and kind: `--file`'s, or the tarball's.
fn artifact_name(
    settings: &crate::config::Settings,
    request: &ReleaseRequest,
    source: &Path,
    build_id: &BuildId,
) -> Result<(String, ArtifactKind)> {
    if let Some(file) = &request.file {
        fsx::open_regular(file).map_err(|e| e.for_flag("--file"))?;
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        return Ok((name, ArtifactKind::Firmware));
    }
    let name = settings
        .name
        .clone()
        .or_else(|| {
            fsx::canonical_existing(source)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "source".into());
    Ok((
        format!("{name}-src-{build_id}.tar.gz"),
        ArtifactKind::SourceTar,
    ))
}

/// Decides what will be done, touching nothing.
pub fn plan(repo: &Repo, request: &ReleaseRequest) -> Result<Plan> {
    let settings = &repo.settings;
    repo.require_channel(&request.channel, "--channel")?;
    let target = target(repo, request.target)?;
    let source = settings.source_dir(None);
    let commit =
        git::resolve_commit(&source, &request.reference).map_err(|e| match e {
            // `release` has no `--source`: the folder comes from otactl.toml.
            Error::NotARepository { dir } => Error::InvalidArg {
                flag: "source",
                message: format!(
                    "{} is not a git repository: set `source` in otactl.toml to the repository the build comes from",
                    code(fsx::canonical_existing(&dir).display().to_string())
                ),
            },
            other => other.for_flag("--ref"),
        })?;
    let build_id = match &request.build_id {
        Some(id) => id.clone(),
        None => BuildId::from_parts(commit.committer_time, &commit.id[..7])
            .map_err(|e| bad("--ref", e.to_string()))?,
    };
    let manifest_path = settings.manifest_path(&request.channel);
    let current = fsx::read_limited(&manifest_path, MAX_MANIFEST_BYTES, "a manifest")
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.get("build_id")?.as_str().map(str::to_owned))
        .filter(|id| !id.is_empty());
    let (artifact, kind) = artifact_name(settings, request, &source, &build_id)?;
    let (destination, oci_reference, kind) = match target {
        Target::Dir => {
            let path = settings.dir_path.clone().ok_or_else(|| {
                bad(
                    "--target",
                    "`--target dir` needs `[dir] path` in otactl.toml".into(),
                )
            })?;
            (fsx::display(&path), None, kind)
        }
        Target::Github => {
            let merged = settings::github_here(settings, &request.remote)?;
            (merged.require_repository()?.to_string(), None, kind)
        }
        Target::Oci => {
            let repository = settings::oci(settings, None, None)
                .repository
                .map(|(r, _)| r)
                .ok_or_else(|| {
                    bad(
                        "--target",
                        "`--target oci` needs `[oci] repository` in otactl.toml".into(),
                    )
                })?;
            let version = request
                .version
                .clone()
                .or_else(|| cargo_version(&source))
                .ok_or_else(|| {
                    bad(
                        "--version",
                        format!(
                            "no version for the OCI tag: pass `--version SEMVER`, or set `version` in `[package]` of {}",
                            code(fsx::display(&source.join("Cargo.toml")))
                        ),
                    )
                })?;
            let reference = format!("{repository}:{version}");
            (reference.clone(), Some(reference), ArtifactKind::Oci)
        }
    };
    let last_channel = settings.channels.position(&request.channel)
        == Some(settings.channels.len().saturating_sub(1));
    Ok(Plan {
        channel: request.channel.clone(),
        target,
        current,
        build_id: build_id.to_string(),
        commit: commit.id,
        artifact,
        kind: kind.to_string(),
        destination,
        manifest: fsx::display(&manifest_path),
        last_channel,
        pr: !request.no_pr,
        oci_reference,
        source,
    })
}

/// Follows `plan`: builds the artifact in a temporary folder, asks `confirm`
/// before publishing (and before the last channel), then publishes, writes and signs
/// the manifest, runs the checklist and opens the pull request. With `dry_run`, stops
/// after the build. Each long step is reported to `reporter`, and each step ends in
/// one line ([`Reporter::step`]).
pub fn run(
    repo: &Repo,
    client: &Client,
    request: &ReleaseRequest,
    plan: Plan,
    key: Option<&Arc<PrivateKey>>,
    confirm: &mut dyn FnMut(&Question) -> bool,
    reporter: &Arc<dyn Reporter>,
) -> Result<Outcome> {
    let work = tempfile::Builder::new()
        .prefix("otactl-release-")
        .tempdir()
        .map_err(|source| Error::Write {
            path: std::env::temp_dir(),
            source,
        })?;
    let artifact = if let Some(file) = &request.file {
        file.clone()
    } else {
        let built = tar::build(
            repo,
            &tar::Request {
                source: Some(plan.source.clone()),
                reference: plan.commit.clone(),
                name: None,
                build_id: Some(plan.build_id.clone()),
                output: Some(work.path().join(&plan.artifact)),
                allow_secret: Vec::new(),
            },
            reporter.as_ref(),
        )?;
        reporter.step(&format!(
            "built `{}` from commit {} ({} entries, {} bytes)",
            plan.artifact,
            &built.commit[..built.commit.len().min(12)],
            built.tarball.entries,
            built.tarball.size
        ));
        built.path
    };
    let (sha256, size) = hash::sha256_file_reported(&artifact, reporter.as_ref())?;
    // A dry run says it in its plan.
    if !request.dry_run {
        reporter.step(&format!(
            "hashed `{}`: {size} bytes, sha256 {sha256}",
            plan.artifact
        ));
    }
    if request.dry_run {
        return Ok(Outcome::DryRun {
            plan: Box::new(plan),
            artifact: (size, sha256),
        });
    }
    let Some(key) = key else {
        return Err(Error::MissingSigningKey);
    };
    repo.check_signer(key)?;
    no_downgrade(repo, &plan)?;
    let summary = format!(
        "publish {} ({size} bytes, sha256 {sha256}) to {} `{}`, then write `{}` for build {}",
        plan.artifact,
        target_name(plan.target),
        plan.destination,
        plan.manifest,
        plan.build_id
    );
    if !confirm(&Question::Publish { summary }) {
        return Ok(Outcome::Cancelled);
    }
    if plan.last_channel
        && !confirm(&Question::LastChannel {
            channel: plan.channel.clone(),
        })
    {
        return Ok(Outcome::Cancelled);
    }
    let published = publish_to(repo, client, request, &plan, &artifact, key, reporter)
        .map_err(|e| step("publish", &e))?;
    // The manifest takes the hash of the bytes published, read once on the way; a
    // file that changed since it was hashed is not released under either hash.
    if published.sha256 != sha256 {
        let e = Error::PublishRefused {
            message: format!(
                "`{}` changed while otactl released it: hashed as {sha256}, published as {}; no manifest was written. Leave the file alone and run the same command again",
                fsx::display(&artifact),
                published.sha256
            ),
        };
        return Err(step("publish", &e));
    }
    reporter.step(&if published.already_there {
        format!(
            "`{}` was published already, with the same content: {}",
            plan.artifact, published.url
        )
    } else {
        format!(
            "published `{}` ({} bytes): {}",
            plan.artifact, published.size, published.url
        )
    });
    finish(repo, client, request, plan, published, key, reporter)
}

/// After the publish: the manifest written and signed, the checklist, the PR.
#[allow(clippy::too_many_arguments)] // the steps' inputs, passed on
fn finish(
    repo: &Repo,
    client: &Client,
    request: &ReleaseRequest,
    plan: Plan,
    published: Published,
    key: &PrivateKey,
    reporter: &Arc<dyn Reporter>,
) -> Result<Outcome> {
    let written = manifest::new_reported(
        repo,
        &manifest_request(request, &plan, &published),
        reporter.as_ref(),
    )
    .map_err(|e| step("manifest", &e))?;
    let shown = fsx::display(&written.path);
    reporter.step(&if written.unchanged {
        format!(
            "`{shown}` already holds build `{}`; unchanged",
            written.build_id
        )
    } else {
        format!("wrote `{shown}` for build `{}`", written.build_id)
    });
    let signed = manifest::sign(repo, &written.path, None, key).map_err(|e| step("sign", &e))?;
    reporter.step(&if signed.unchanged {
        format!(
            "`{shown}` is already signed by key {}; unchanged",
            signed.key_id
        )
    } else {
        format!("signed `{shown}` with key {}", signed.key_id)
    });
    let mut check = verify::Request::new(written.path.clone());
    check.remote = request.remote.clone();
    check.base = request.base.as_ref().map(|base| {
        let remote = format!("origin/{base}");
        if git::verify_commit(&repo.settings.root, &remote).is_ok() {
            remote
        } else {
            base.clone()
        }
    });
    let checklist =
        verify::verify(repo, client, &check, reporter.as_ref()).map_err(|e| step("verify", &e))?;
    let checklist_ok = checklist.ok;
    let pr = if checklist_ok && !request.no_pr {
        let outcome = pr::pr(
            repo,
            client,
            &PrRequest {
                channel: plan.channel.clone(),
                base: request.base.clone(),
                draft: false,
                remote: request.remote.clone(),
            },
            reporter.as_ref(),
        )
        .map_err(|e| step("pr", &e))?;
        match outcome {
            PrOutcome::Opened(opened) => {
                let done = if opened.created { "opened" } else { "updated" };
                reporter.step(&format!(
                    "{done} the pull request #{} from `{}`",
                    opened.number, opened.branch
                ));
                Some(opened)
            }
            PrOutcome::AlreadyOnBase { .. } | PrOutcome::ChecksFailed { .. } => None,
        }
    } else {
        None
    };
    Ok(Outcome::Released(Box::new(Released {
        manifest: fsx::display(&written.path),
        unchanged: written.unchanged,
        url: published.url.clone(),
        published,
        checklist_ok,
        checklist,
        pr,
        plan,
    })))
}

/// A channel never moves to an earlier build (SPEC 2.2): refused before anything is
/// published, which `manifest new` would refuse only after.
fn no_downgrade(repo: &Repo, plan: &Plan) -> Result<()> {
    let Some(current) = plan
        .current
        .as_deref()
        .and_then(|c| c.parse::<BuildId>().ok())
    else {
        return Ok(());
    };
    let new: BuildId = plan
        .build_id
        .parse()
        .map_err(|e: crate::build_id::BuildIdError| bad("--ref", e.to_string()))?;
    let earlier = match new.cmp_time(&current) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Equal => new != current,
        std::cmp::Ordering::Greater => false,
    };
    if !earlier {
        return Ok(());
    }
    Err(Error::PublishRefused {
        message: format!(
            "`{}` holds build {current}, later than {new} (or of the same minute): a channel never moves to an earlier build; release a later commit{}",
            fsx::display(&repo.settings.manifest_path(&plan.channel)),
            ", or use `otactl rollback` to ship an earlier build's content under a new build id"
        ),
    })
}

fn target_name(target: Target) -> &'static str {
    match target {
        Target::Github => "the GitHub repository",
        Target::Oci => "the OCI reference",
        Target::Dir => "the release folder",
    }
}

/// An error of a step, naming the step and that a re-run resumes.
fn step(name: &'static str, e: &Error) -> Error {
    let code = e.exit_code();
    let what = match name {
        "publish" => "publishing the artifact",
        "manifest" => "writing the manifest",
        "sign" => "signing the manifest",
        "verify" => "running the checklist",
        _ => "opening the pull request",
    };
    Error::Step {
        step: what,
        message: e.chain(),
        code,
    }
}

fn manifest_request(request: &ReleaseRequest, plan: &Plan, published: &Published) -> NewRequest {
    NewRequest {
        channel: plan.channel.clone(),
        build_id: plan.build_id.clone(),
        url: published.url.clone(),
        sha256: Some(published.sha256.clone()),
        kind: ArtifactKind::from_manifest(&plan.kind),
        min_build_id: request.min_build_id.clone(),
        notes: request
            .rollback_of
            .as_ref()
            .map(|old| format!("rollback: the content of {old}"))
            .unwrap_or_default(),
        from_file: None,
        force: false,
    }
}

fn publish_to(
    repo: &Repo,
    client: &Client,
    request: &ReleaseRequest,
    plan: &Plan,
    artifact: &Path,
    key: &Arc<PrivateKey>,
    reporter: &Arc<dyn Reporter>,
) -> Result<Published> {
    match plan.target {
        Target::Dir => publish::dir(
            repo,
            &DirRequest {
                file: artifact.to_owned(),
                path: None,
                base_url: None,
                build_id: Some(plan.build_id.clone()),
            },
            reporter.as_ref(),
        ),
        Target::Github => publish::github(
            repo,
            client,
            &GithubRequest {
                file: artifact.to_owned(),
                tag: plan.build_id.clone(),
                title: None,
                target: Some(plan.commit.clone()).filter(|_| request.file.is_none()),
                remote: request.remote.clone(),
            },
            reporter,
        ),
        Target::Oci => {
            let sign = (repo.settings.oci.cosign == Some(true)).then(|| key.clone());
            publish::oci(
                repo,
                client,
                &OciRequest {
                    file: artifact.to_owned(),
                    reference: plan.oci_reference.clone().unwrap_or_default(),
                    build_id: Some(plan.build_id.clone()),
                    insecure: request.remote.insecure,
                    sign,
                    ..OciRequest::default()
                },
                reporter,
            )
            .map(|done| done.published)
        }
    }
}
