//! `otactl release`: the whole flow, its plan shown first and confirmed.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::Arc;

use super::remote::RemoteArgs;
use super::{Ctx, verify};
use crate::error::{Error, ExitCode, Result};
use crate::ops::release::{self, Outcome, Plan, Question, ReleaseRequest};
use crate::output::Format;
use crate::progress::Reporter;
use crate::remote::Target;

/// Release a build to a channel: build id, artifact, publish, manifest, sign, verify, pull request.
///
/// The artifact is the source tarball of `source` at `--ref` (as `otactl tar` builds
/// it), or `--file` (a firmware image). The plan is shown first; at a terminal
/// otactl asks before publishing, and again before the last channel of the promotion
/// order. Without a terminal, or with `CI` set, it never asks and needs `--yes`.
/// A re-run after a failure resumes: every step converges (the same tarball bytes,
/// the same asset, an unchanged manifest that stays signed, the same pull request).
#[derive(Debug, clap::Args)]
#[allow(clippy::struct_excessive_bools)] // one per flag
#[command(disable_version_flag = true)] // `--version` is the OCI tag's
pub(crate) struct ReleaseArgs {
    /// The channel to release to.
    #[arg(long, value_name = "CHANNEL")]
    channel: String,
    /// The commit of `source` to build (its committer time and sha make the build id).
    #[arg(long = "ref", value_name = "REF", default_value = "HEAD")]
    reference: String,
    /// Release this file (a firmware image) instead of the source tarball.
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Where to publish (default: the one target otactl.toml configures).
    #[arg(long, value_enum, value_name = "TARGET")]
    target: Option<Target>,
    /// The OCI tag, a semver version (default: `version` of the source's `Cargo.toml`).
    #[arg(long, value_name = "SEMVER")]
    version: Option<String>,
    /// Raise the channel's `min_build_id` (default: the current one is kept).
    #[arg(long, value_name = "ID")]
    min_build_id: Option<String>,
    #[command(flatten)]
    run: RunArgs,
}

/// The flags of how a release runs, shared by `release` and `rollback`.
#[derive(Debug, clap::Args)]
#[allow(clippy::struct_excessive_bools)] // one per flag
pub(crate) struct RunArgs {
    /// The pull request's base branch; the checklist's downgrade check compares with `origin/BASE` (else `BASE`).
    #[arg(long, value_name = "BRANCH")]
    pub(crate) base: Option<String>,
    /// The signing key (default: `OTACTL_SIGNING_KEY`, then `OTACTL_SIGNING_KEY_FILE`).
    #[arg(long, value_name = "PEM")]
    key: Option<PathBuf>,
    /// Answer yes to every confirmation (required without a terminal).
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
    /// Build (or fetch) and hash, show the plan, and do nothing else: nothing written, nothing sent.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Stop after the checklist: no pull request.
    #[arg(long)]
    pub(crate) no_pr: bool,
    /// Output format: `json` prints the plan and what was done.
    #[arg(long, default_value = "text", value_parser = Format::parser(Format::DATA))]
    format: Format,
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
}

/// Whether otactl may ask (SPEC 6): stdin and stderr are terminals, and not in CI.
pub(crate) fn can_prompt() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal() && !crate::config::in_ci()
}

/// Without a terminal (or in CI) otactl never asks: a run that would ask needs `--yes`.
pub(crate) fn require_yes(dry_run: bool, yes: bool) -> Result<()> {
    if dry_run || yes || can_prompt() {
        return Ok(());
    }
    Err(Error::InvalidArg {
        flag: "--yes",
        message: "without a terminal (or with `CI` set) otactl never asks: pass `--yes` to go on, or `--dry-run` to see what would be done".into(),
    })
}

fn show_plan(ctx: &Ctx, plan: &Plan) {
    let current = plan.current.as_deref().unwrap_or("none");
    let lines = [
        format!(
            "plan: release `{}` to the channel `{}` ({} → {})",
            plan.artifact, plan.channel, current, plan.build_id
        ),
        format!("plan: publish to {:?} `{}`", plan.target, plan.destination).to_lowercase(),
        format!(
            "plan: write and sign `{}`, then run the checklist",
            plan.manifest
        ),
        if plan.pr {
            "plan: then open (or update) the pull request".to_owned()
        } else {
            "plan: no pull request (`--no-pr`)".to_owned()
        },
    ];
    for line in lines {
        ctx.printer.status(&line);
    }
}

impl ReleaseArgs {
    pub(crate) fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let repo = ctx.repo()?;
        let request = ReleaseRequest {
            channel: self.channel,
            reference: self.reference,
            file: self.file,
            target: self.target,
            version: self.version,
            min_build_id: self.min_build_id,
            base: self.run.base.clone(),
            no_pr: self.run.no_pr,
            dry_run: self.run.dry_run,
            remote: self.run.remote.flags(),
            build_id: None,
            rollback_of: None,
        };
        execute(ctx, &repo, &request, &self.run)
    }
}

/// Asks `prompt` at the terminal (stderr); no answer is no.
pub(crate) fn ask(prompt: &str) -> bool {
    dialoguer::Confirm::new()
        .with_prompt(prompt)
        .default(false)
        .interact_on(&dialoguer::console::Term::stderr())
        .unwrap_or(false)
}

/// The question before the last channel of the promotion order.
pub(crate) fn last_channel_prompt(channel: &str) -> String {
    format!(
        "`{channel}` is the last channel of the promotion order: every device on it gets this build. Go on?"
    )
}

/// Plans `request`, shows the plan, and runs it as `how` says (shared with `rollback`).
pub(crate) fn execute(
    ctx: &Ctx,
    repo: &crate::repo::Repo,
    request: &ReleaseRequest,
    how: &RunArgs,
) -> Result<ExitCode> {
    let plan = release::plan(repo, request)?;
    show_plan(ctx, &plan);
    require_yes(request.dry_run, how.yes)?;
    let key = if request.dry_run {
        None
    } else {
        Some(Arc::new(crate::repo::load_signing_key(how.key.as_deref())?))
    };
    let client = ctx.client()?;
    let yes = how.yes;
    let mut confirm = |question: &Question| {
        yes || ask(&match question {
            Question::Publish { summary } => format!("{summary}?"),
            Question::LastChannel { channel } => last_channel_prompt(channel),
        })
    };
    let reporter: Arc<dyn Reporter> = Arc::new(ctx.printer.reporter());
    let outcome = release::run(
        repo,
        &client,
        request,
        plan,
        key.as_ref(),
        &mut confirm,
        &reporter,
    )?;
    report(ctx, outcome, how.format)
}

/// What was done, as text or JSON; the exit code.
fn report(ctx: &Ctx, outcome: Outcome, format: Format) -> Result<ExitCode> {
    {
        match outcome {
            Outcome::DryRun { plan, artifact } => {
                ctx.printer.status(&format!(
                    "plan: `{}` is {} bytes, sha256 {}",
                    plan.artifact, artifact.0, artifact.1
                ));
                ctx.printer
                    .status("dry run: nothing was published, written or sent");
                if format == Format::Json {
                    ctx.printer.json(&serde_json::json!({
                        "plan": plan, "size": artifact.0, "sha256": artifact.1, "dry_run": true,
                    }))?;
                }
                Ok(ExitCode::Success)
            }
            Outcome::Cancelled => Err(Error::InvalidArg {
                flag: "--yes",
                message: "cancelled at the prompt: nothing was published".into(),
            }),
            Outcome::Released(done) => {
                verify::explain_items(ctx, "release", &done.checklist);
                let state = if done.unchanged {
                    "unchanged"
                } else {
                    "written and signed"
                };
                ctx.printer.status(&format!(
                    "`{}` {state}; the artifact is at {}",
                    done.manifest, done.published.url
                ));
                if format == Format::Json {
                    ctx.printer.json(&done)?;
                } else {
                    ctx.printer.data(&done.manifest);
                    ctx.printer.data(&done.published.url);
                    if let Some(pr) = &done.pr {
                        ctx.printer.data(&pr.url);
                    }
                }
                if done.checklist_ok {
                    Ok(ExitCode::Success)
                } else {
                    ctx.printer.explain("the checklist failed: no pull request; fix what it names and run the same command again");
                    Ok(ExitCode::ChecksFailed)
                }
            }
        }
    }
}
