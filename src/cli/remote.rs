//! The flags of every command that talks to a remote (SPEC 6), as one group.

use crate::settings::RemoteFlags;

/// `--api-url`, `--repo`, `--insecure`.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Remote options")]
pub(crate) struct RemoteArgs {
    /// The GitHub API URL (default: `[github] api_url`, `GITHUB_API_URL`, then
    /// `https://api.github.com`).
    #[arg(long, value_name = "URL")]
    api_url: Option<String>,
    /// The GitHub repository, `OWNER/REPO` (default: `[github] repo`, then the
    /// `origin` remote).
    #[arg(long, value_name = "OWNER/REPO")]
    repo: Option<String>,
    /// Allow plain HTTP to a host that is not loopback (certificates are always checked).
    #[arg(long)]
    insecure: bool,
}

impl RemoteArgs {
    pub(crate) fn flags(&self) -> RemoteFlags {
        RemoteFlags {
            api_url: self.api_url.clone(),
            repo: self.repo.clone(),
            insecure: self.insecure,
        }
    }
}
