//! `otactl pr`: the channel's pull request, its body the checklist.

use super::remote::RemoteArgs;
use super::{Ctx, lint, verify};
use crate::error::{ExitCode, Result};
use crate::ops::pr::{self, Outcome, PrRequest};
use crate::output::Format;

/// Open the pull request that ships a channel's manifest.
///
/// Runs the release checklist (`otactl verify`) and lint on the channel's manifest
/// first; when either fails, prints them and exits 1 with nothing created. Otherwise
/// commits the manifest, byte for byte, to the branch `otactl/CHANNEL-BUILD_ID` made
/// from the base's head (through the GitHub API: the local git state is not pushed),
/// and opens a pull request whose body is the checklist and the lint result; a re-run
/// updates that pull request instead of opening another. The base branch is never
/// written.
///
/// The token comes from `GH_TOKEN`, else `GITHUB_TOKEN`; it needs `contents: write`
/// and `pull-requests: write`. A pull request opened with GitHub Actions' own
/// `GITHUB_TOKEN` starts no workflow run: that is why the checklist is in its body.
#[derive(Debug, clap::Args)]
pub(crate) struct PrArgs {
    /// The channel whose manifest ships.
    #[arg(long, value_name = "CHANNEL")]
    channel: String,
    /// The branch to merge into (default: the repository's default branch).
    #[arg(long, value_name = "BRANCH")]
    base: Option<String>,
    /// Open the pull request as a draft.
    #[arg(long)]
    draft: bool,
    /// Output format: `json` prints `url`, `number`, `branch`, `created`.
    #[arg(long, default_value = "text", value_parser = Format::parser(Format::DATA))]
    format: Format,
    #[command(flatten)]
    remote: RemoteArgs,
}

impl PrArgs {
    pub(crate) fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let repo = ctx.repo()?;
        let client = ctx.client()?;
        let request = PrRequest {
            channel: self.channel,
            base: self.base,
            draft: self.draft,
            remote: self.remote.flags(),
        };
        match pr::pr(&repo, &client, &request, &ctx.printer.reporter())? {
            // Why nothing was opened goes to stderr, even with `-q`: stdout is
            // for the pull request's URL.
            Outcome::ChecksFailed { checklist, lint } => {
                verify::explain_items(ctx, "pr", &checklist);
                lint::print_text(ctx, &lint);
                ctx.printer.explain(
                    "no pull request: the checklist or lint failed; fix the manifest (or the release) and run again",
                );
                Ok(ExitCode::ChecksFailed)
            }
            Outcome::AlreadyOnBase { base } => {
                ctx.printer.status(&format!(
                    "`{base}` already holds this manifest byte for byte: nothing to propose"
                ));
                Ok(ExitCode::Success)
            }
            Outcome::Opened(opened) => {
                let what = if opened.created { "opened" } else { "updated" };
                let commit = if opened.committed {
                    "the manifest committed"
                } else {
                    "the branch already held the manifest"
                };
                ctx.printer.status(&format!(
                    "{what} pull request #{} from `{}` ({commit})",
                    opened.number, opened.branch
                ));
                match self.format {
                    Format::Json => ctx.printer.json(&opened)?,
                    _ => ctx.printer.data(&opened.url),
                }
                Ok(ExitCode::Success)
            }
        }
    }
}
