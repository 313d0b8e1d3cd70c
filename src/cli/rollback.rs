//! `otactl rollback`: an earlier build's content shipped again under a new build id.

use super::Ctx;
use super::release::{RunArgs, execute, require_yes};
use crate::error::{ExitCode, Result};
use crate::ops::rollback::{self, RollbackRequest};

/// Ship an earlier build's content again, when a bad build reached a channel.
///
/// A channel never moves to an earlier build id (devices would ignore it, and lint
/// refuses it), so the way back is forward: the content of `--to` under a new build
/// id made of now and that build's git sha. A source tarball is rebuilt from that
/// commit; a firmware or OCI artifact is fetched from where that build shipped it,
/// checked against its sha256, and published again (for OCI under `--version`, which
/// must be above the repository's highest tag). Then manifest, sign, checklist and
/// pull request, as `otactl release` does.
#[derive(Debug, clap::Args)]
#[allow(clippy::struct_excessive_bools)] // one per flag
#[command(disable_version_flag = true)] // `--version` is the OCI tag's
pub(crate) struct RollbackArgs {
    /// The channel to roll back.
    #[arg(long, value_name = "CHANNEL")]
    channel: String,
    /// The earlier build whose content ships again (it must be in the channel's history).
    #[arg(long, value_name = "BUILD_ID")]
    to: String,
    /// The OCI tag for an OCI artifact, above the repository's highest.
    #[arg(long, value_name = "SEMVER")]
    version: Option<String>,
    #[command(flatten)]
    run: RunArgs,
}

impl RollbackArgs {
    pub(crate) fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let repo = ctx.repo()?;
        // Asked before the earlier artifact is fetched: without `--yes` nothing is sent.
        require_yes(self.run.dry_run, self.run.yes)?;
        let client = ctx.client()?;
        let prepared = rollback::prepare(
            &repo,
            &client,
            &RollbackRequest {
                channel: self.channel,
                to: self.to,
                version: self.version,
                base: self.run.base.clone(),
                no_pr: self.run.no_pr,
                dry_run: self.run.dry_run,
                remote: self.run.remote.flags(),
            },
            &ctx.printer.reporter(),
        )?;
        let new_id = prepared
            .release
            .build_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        ctx.printer.status(&format!(
            "rollback: the content of `{}` ({}, from commit {} of the channel repository) ships again as `{new_id}`",
            prepared.earlier.build_id, prepared.earlier.kind, prepared.earlier.commit
        ));
        let code = execute(ctx, &repo, &prepared.release, &self.run)?;
        ctx.printer.status(
            "devices enforce the channel's `min_build_id` as before (kept; raise it with `otactl release --min-build-id` to keep the bad build from coming back)",
        );
        Ok(code)
    }
}
