//! `otactl promote` and `otactl status`: builds moving through the channels.

use std::path::PathBuf;
use std::sync::Arc;

use super::release::{ask, can_prompt, last_channel_prompt, require_yes};
use super::remote::RemoteArgs;
use super::{Ctx, verify};
use crate::error::{Error, ExitCode, Result};
use crate::ops::promote::{self, PromoteRequest};
use crate::ops::status::{self, Status};
use crate::output::Format;

/// Move a channel's build to the next channel of the promotion order.
///
/// Reads the build from C1's manifest as the base ref holds it (a local edit is
/// refused), writes it into C2's manifest with a new `created_utc` (kept when C2
/// already holds it), signs, runs the checklist on C2 and opens the pull request.
/// Skipping a channel of the order needs `--skip-order`; a downgrade of C2 is refused
/// (exit 4). At a terminal it asks before the last channel of the order; without one
/// it needs `--yes`.
#[derive(Debug, clap::Args)]
#[allow(clippy::struct_excessive_bools)] // one per flag
pub(crate) struct PromoteArgs {
    /// The channel the build is on.
    #[arg(long, value_name = "C1")]
    from: String,
    /// The channel it moves to.
    #[arg(long, value_name = "C2")]
    to: String,
    /// The git ref holding the reviewed manifests (default: `origin/main`, else `main`).
    #[arg(long, value_name = "BRANCH")]
    base: Option<String>,
    /// Allow skipping a channel of the promotion order.
    #[arg(long)]
    skip_order: bool,
    /// Raise C2's `min_build_id` (default: C2's is kept).
    #[arg(long, value_name = "ID")]
    min_build_id: Option<String>,
    /// The signing key (default: `OTACTL_SIGNING_KEY`, then `OTACTL_SIGNING_KEY_FILE`).
    #[arg(long, value_name = "PEM")]
    key: Option<PathBuf>,
    /// Answer yes to every confirmation (required without a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
    /// Stop after the checklist: no pull request.
    #[arg(long)]
    no_pr: bool,
    #[command(flatten)]
    remote: RemoteArgs,
}

impl PromoteArgs {
    pub(crate) fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let repo = ctx.repo()?;
        let request = PromoteRequest {
            from: self.from,
            to: self.to,
            base: self.base,
            skip_order: self.skip_order,
            min_build_id: self.min_build_id,
            no_pr: self.no_pr,
            remote: self.remote.flags(),
        };
        let checked = promote::check(&repo, &request)?;
        ctx.printer
            .status(&format!("plan: {}", promote::describe(&checked, &request)));
        require_yes(false, self.yes)?;
        let key = Arc::new(crate::repo::load_signing_key(self.key.as_deref())?);
        if checked.last_channel
            && !self.yes
            && can_prompt()
            && !ask(&last_channel_prompt(&request.to))
        {
            return Err(Error::InvalidArg {
                flag: "--yes",
                message: "cancelled at the prompt: nothing was written".into(),
            });
        }
        let client = ctx.client()?;
        let done = promote::promote(
            &repo,
            &client,
            &request,
            &checked,
            &key,
            &ctx.printer.reporter(),
        )?;
        verify::explain_items(ctx, "promote", &done.checklist);
        let state = if done.unchanged {
            "unchanged"
        } else {
            "written and signed"
        };
        ctx.printer.status(&format!("`{}` {state}", done.path));
        ctx.printer.data(&done.path);
        if let Some(pr) = &done.pr {
            ctx.printer.data(&pr.url);
        }
        if done.checklist.ok {
            Ok(ExitCode::Success)
        } else {
            ctx.printer
                .explain("the checklist failed: no pull request; fix what it names and run the same command again");
            Ok(ExitCode::ChecksFailed)
        }
    }
}

/// Show each channel's build, age, `min_build_id` and signer, and which lag behind.
///
/// Reads the work tree (or `--base`), nothing remote.
#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// Read the manifests at this git ref instead of the work tree.
    #[arg(long, value_name = "GITREF")]
    base: Option<String>,
    /// Output format.
    #[arg(long, default_value = "text", value_parser = Format::parser(Format::DATA))]
    format: Format,
}

/// An age as people read it: `3d 4h`, `5h 10m`, `12m`.
fn age(seconds: i64) -> String {
    let (d, h, m) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
    );
    match (d, h) {
        (0, 0) => format!("{m}m"),
        (0, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

impl StatusArgs {
    pub(crate) fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let repo = ctx.repo()?;
        let status = status::status(&repo, self.base.as_deref())?;
        if self.format == Format::Json {
            ctx.printer.json(&status)?;
        } else {
            print_table(ctx, &status);
        }
        Ok(ExitCode::Success)
    }
}

fn print_table(ctx: &Ctx, status: &Status) {
    ctx.printer.data(&format!(
        "{:<10} {:<24} {:<34} {:<24} {}",
        "channel", "build", "age (created)", "min_build_id", "signer"
    ));
    for c in &status.channels {
        let build = c
            .build_id
            .clone()
            .unwrap_or_else(|| format!("({})", c.state));
        let created = match (&c.age_seconds, &c.created_utc) {
            (Some(s), Some(at)) => format!("{} ({at})", age(*s)),
            _ => "-".into(),
        };
        ctx.printer.data(&format!(
            "{:<10} {:<24} {:<34} {:<24} {}",
            c.channel,
            build,
            created,
            c.min_build_id.as_deref().unwrap_or("-"),
            c.signer
        ));
    }
    for lag in &status.lags {
        if lag.ahead {
            ctx.printer.data(&format!(
                "`{}` runs a later build than `{}`, the channel before it: that build did not come through `{}`",
                lag.later, lag.earlier, lag.earlier
            ));
        }
        if lag.behind {
            let builds = lag
                .builds
                .map(|n| format!(", {n} build{} behind", if n == 1 { "" } else { "s" }))
                .unwrap_or_default();
            let time = lag
                .seconds
                .map(|s| format!(" ({} older)", age(s)))
                .unwrap_or_default();
            ctx.printer.data(&format!(
                "`{}` lags behind `{}`{builds}{time}",
                lag.later, lag.earlier
            ));
        }
    }
    ctx.printer
        .status(&format!("read from {}", status.read_from));
}
