//! The one error type of the library and the exit codes of SPEC section 6.
//!
//! Each variant carries what the user must see (a path, a key, a flag) and says only
//! its own layer; the cause, where there is one, is its `#[source]`, printed once by
//! the binary. "Checks failed" is not an error: `lint` and `verify` return reports.

use std::path::PathBuf;

use crate::manifest::Finding;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The process exit codes of SPEC section 6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitCode {
    /// Everything succeeded.
    Success = 0,
    /// A check failed: lint, verify, a bad signature.
    ChecksFailed = 1,
    /// Usage, configuration or input error.
    Usage = 2,
    /// A remote (network, GitHub, registry) failed after retries.
    Remote = 3,
    /// Refused for safety: downgrade, secret, existing key file, key in a work tree.
    Refused = 4,
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}

/// Everything that can stop an otactl command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A result could not be written as JSON (a bug in otactl).
    #[error("cannot write the result as JSON (a bug in otactl; please report it)")]
    Json(#[source] serde_json::Error),
    /// A file could not be written.
    #[error("cannot write `{path}`")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file is larger than otactl reads for its kind.
    #[error("`{path}` is {size} bytes, larger than the limit of {limit} bytes for {what}")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
        /// What kind of file it was read as.
        what: &'static str,
    },
    /// A file that is a pipe did not deliver its content in time or under the limit.
    #[error("`{path}` {message}")]
    Pipe {
        /// The pipe (a FIFO, or `/dev/fd/N` of a process substitution).
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A manifest given to a writing command is invalid.
    #[error("{}", render_findings(&format!("`{}` is not a valid manifest:", path.display()), path, findings))]
    InvalidManifest {
        /// The manifest file.
        path: PathBuf,
        /// Every error found in it.
        findings: Vec<Finding>,
    },
    /// A value given on the command line is invalid.
    #[error("invalid value for `{flag}`: {message}")]
    InvalidArg {
        /// The flag, e.g. `--build-id`.
        flag: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A git ref names no commit (the command says which flag gave it, with
    /// [`Error::for_flag`]).
    #[error("`{reference}` names no commit in the repository at `{}`", dir.display())]
    NoCommit {
        /// The ref.
        reference: String,
        /// The repository.
        dir: PathBuf,
    },
    /// A git ref names a tree or a blob, which has no committer time.
    #[error(
        "`{reference}` names a {kind}, not a commit; a {kind} has no committer time, so its tarball would not be reproducible"
    )]
    NotACommit {
        /// The ref.
        reference: String,
        /// What it names: `tree`, `blob`.
        kind: String,
    },
    /// A folder is not a git repository.
    #[error("`{}` is not a git repository", dir.display())]
    NotARepository {
        /// The folder.
        dir: PathBuf,
    },
    /// An artifact is not a regular file (a FIFO, a device, a folder…).
    #[error("`{}` is {kind}, not a regular file; give the artifact file itself", path.display())]
    NotRegularFile {
        /// The path.
        path: PathBuf,
        /// What it is, with its article: `a FIFO (named pipe)`.
        kind: &'static str,
    },
    /// A key file is not a usable Ed25519 key.
    #[error("`{path}` {message}")]
    Key {
        /// The key file (or the environment variable that held it).
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A key file of `[signing] public_keys` holds a private key.
    #[error("`{path}` is a private key; a trusted key file must hold only the public key")]
    PrivateKeyTrusted {
        /// The key file.
        path: PathBuf,
        /// What to do: its public half in its place, and a new key.
        hint: String,
    },
    /// `key generate` would overwrite a file.
    #[error("`{path}` already exists; otactl never overwrites a key file")]
    KeyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// A command would overwrite a file it never overwrites (`init`'s scaffold).
    #[error("refusing to overwrite `{path}`: {message}")]
    WouldOverwrite {
        /// The existing file.
        path: PathBuf,
        /// What is there, and what to do.
        message: String,
    },
    /// `key generate` would put a private key inside a git work tree.
    #[error(
        "refusing to write a private key to `{path}`: it is inside the git work tree `{worktree}`"
    )]
    KeyInWorkTree {
        /// The requested private key path.
        path: PathBuf,
        /// The work tree that holds it.
        worktree: PathBuf,
    },
    /// No signing key was given.
    #[error(
        "no signing key: pass `--key FILE`, or set `OTACTL_SIGNING_KEY` (PEM text) or `OTACTL_SIGNING_KEY_FILE`"
    )]
    MissingSigningKey,
    /// The signing key is not one that the repository trusts.
    #[error(
        "the signing key `{key_id}` is not among the trusted public keys of `{config}` ({trusted})"
    )]
    UntrustedSigner {
        /// Key id of the signing key.
        key_id: String,
        /// The config file naming the trusted keys.
        config: PathBuf,
        /// Key ids that are trusted.
        trusted: String,
    },
    /// The configuration file is invalid.
    #[error("`{path}`: {message}")]
    Config {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A new manifest would move a channel backwards or sideways.
    #[error("{}", render_findings(&format!("refusing to replace `{}`:", path.display()), path, findings))]
    Downgrade {
        /// The manifest that would be replaced.
        path: PathBuf,
        /// What the new manifest would do wrong.
        findings: Vec<Finding>,
    },
    /// A git command failed.
    #[error("git {args} failed in `{dir}`: {stderr}")]
    Git {
        /// The arguments given to git.
        args: String,
        /// Where it ran.
        dir: PathBuf,
        /// What git said.
        stderr: String,
    },
    /// Tracked files hold secrets; the tarball was not written.
    #[error("{}", render_secrets(findings))]
    Secrets {
        /// Every secret found, by file and line.
        findings: Vec<crate::secrets::SecretFinding>,
    },
    /// A published file or asset exists with other content.
    #[error(
        "`{location}` already exists with other content (sha256 {existing}, not {new}); a published artifact is never replaced"
    )]
    AssetConflict {
        /// Where it is.
        location: String,
        /// SHA-256 of what is there.
        existing: String,
        /// SHA-256 of what was to be published.
        new: String,
    },
    /// `manifest new` would replace a signed manifest with other, unsigned content.
    #[error(
        "`{}` holds a signed manifest of the same build with other content; writing the new one would leave the channel unsigned",
        path.display()
    )]
    WouldUnsign {
        /// The manifest file.
        path: PathBuf,
    },
    /// A path in the release folder is not what otactl writes there: a symlink that
    /// would send the file (and the printed URL) elsewhere, or a FIFO, a device….
    #[error("refusing to publish through `{path}`: {message}")]
    UnsafePath {
        /// The entry in the release folder.
        path: PathBuf,
        /// What it is and why that is refused.
        message: String,
    },
    /// A remote failed after retries (network, GitHub, a registry).
    #[error("{message}")]
    Remote {
        /// What was asked, of which URL, and what went wrong.
        message: String,
    },
    /// A publish the remote's state makes unsafe: two releases with one tag, a
    /// published immutable release without the asset, a full release.
    #[error("{message}")]
    PublishRefused {
        /// What is wrong and what to do.
        message: String,
    },
    /// No token for a remote that needs one.
    #[error(
        "no GitHub token: {why}; set `GH_TOKEN` (or `GITHUB_TOKEN`) to a token that may write releases of the repository (in GitHub Actions: `GH_TOKEN: ${{{{ github.token }}}}` with `permissions: contents: write`)"
    )]
    MissingToken {
        /// What needs it.
        why: String,
    },
    /// No registry login for a registry that asks for one, or one that cannot be read
    /// (the message names where it was looked for).
    #[error("{message}")]
    MissingLogin {
        /// Where the login was looked for and what to do.
        message: String,
    },
    /// A step of `release` failed; those before it are done and a re-run resumes.
    #[error(
        "{step} failed: {message}\nthe steps before it are done; run the same command again to resume (every step converges)"
    )]
    Step {
        /// The step, as words.
        step: &'static str,
        /// Its error, with causes.
        message: String,
        /// Its error's exit code.
        code: ExitCode,
    },
    /// git could not be started.
    #[error("cannot run `git`; install git and make sure it is on PATH")]
    GitMissing(#[source] std::io::Error),
}

fn render_secrets(findings: &[crate::secrets::SecretFinding]) -> String {
    use std::fmt::Write;
    let mut out = format!(
        "refusing to build the tarball: {} secret{} in tracked files (values not shown)",
        findings.len(),
        if findings.len() == 1 { "" } else { "s" },
    );
    for finding in findings {
        let _ = write!(out, "\n  {finding}");
    }
    out
}

fn render_findings(heading: &str, path: &std::path::Path, findings: &[Finding]) -> String {
    use std::fmt::Write;
    let mut out = heading.to_owned();
    for finding in findings {
        let _ = write!(
            out,
            "\n  {}",
            finding.render_plain(&path.display().to_string())
        );
    }
    out
}

impl Error {
    /// The exit code this error ends the process with (SPEC section 6).
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::KeyExists { .. }
            | Error::WouldOverwrite { .. }
            | Error::KeyInWorkTree { .. }
            | Error::UntrustedSigner { .. }
            | Error::Downgrade { .. }
            | Error::Secrets { .. }
            | Error::UnsafePath { .. }
            | Error::AssetConflict { .. }
            | Error::WouldUnsign { .. }
            | Error::PublishRefused { .. } => ExitCode::Refused,
            Error::Remote { .. } => ExitCode::Remote,
            Error::Step { code, .. } => *code,
            Error::Read { .. }
            | Error::Write { .. }
            | Error::TooLarge { .. }
            | Error::Pipe { .. }
            | Error::InvalidManifest { .. }
            | Error::InvalidArg { .. }
            | Error::NoCommit { .. }
            | Error::NotACommit { .. }
            | Error::NotARepository { .. }
            | Error::NotRegularFile { .. }
            | Error::Key { .. }
            | Error::PrivateKeyTrusted { .. }
            | Error::MissingSigningKey
            | Error::Config { .. }
            | Error::Git { .. }
            | Error::GitMissing(_)
            | Error::MissingToken { .. }
            | Error::MissingLogin { .. }
            | Error::Json(_) => ExitCode::Usage,
        }
    }

    /// The error as a bad value of `flag`, when it says that an input names nothing
    /// usable (a ref, a repository, an artifact): the edges that find it do not know
    /// the command line, the command does. Other errors are returned as they are.
    #[must_use]
    pub fn for_flag(self, flag: &'static str) -> Error {
        match self {
            Error::NoCommit { .. }
            | Error::NotACommit { .. }
            | Error::NotARepository { .. }
            | Error::NotRegularFile { .. } => Error::InvalidArg {
                flag,
                message: self.to_string(),
            },
            other => other,
        }
    }

    /// The message and its causes on one line, `: `-separated (for a report that
    /// holds an error as a finding).
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }

    /// A line that tells the user what to do next, where there is more to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::KeyInWorkTree { .. } => Some(
                "keep private keys outside every repository, e.g. `~/.config/otactl/` or an offline medium".into(),
            ),
            Error::PrivateKeyTrusted { hint, .. } => Some(hint.clone()),
            Error::KeyExists { .. } => {
                Some("choose another file name, or move the old key away yourself".into())
            }
            Error::UntrustedSigner { .. } => Some(
                "add the key's public half to `[signing] public_keys` first (devices must trust it before they see it), or sign with a trusted key".into(),
            ),
            Error::Secrets { .. } => Some(
                "remove the secret from the repository (and rotate it: it is in the git history), or let a path through with `--allow-secret GLOB` or `allow_secrets` in otactl.toml".into(),
            ),
            Error::WouldUnsign { .. } => Some(
                "pass `--force` to replace it, then sign it again with `otactl manifest sign`".into(),
            ),
            Error::AssetConflict { .. } => Some(
                "publish the new content under a new build id; devices may already have the old one".into(),
            ),
            Error::UnsafePath { .. } => Some(
                "a release folder holds its build folders and files itself: look at where that entry points, then remove it".into(),
            ),
            Error::Downgrade { findings, .. } => {
                // Each refusal says what to do about itself.
                let mut hints: Vec<&str> = Vec::new();
                for hint in findings.iter().filter_map(|f| f.hint.as_deref()) {
                    if !hints.contains(&hint) {
                        hints.push(hint);
                    }
                }
                Some(if hints.is_empty() {
                    "a channel only moves forward: publish a build with a later time part".into()
                } else {
                    hints.join("\nhint: ")
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_have_the_spec_values() {
        assert_eq!(ExitCode::Success as u8, 0);
        assert_eq!(ExitCode::ChecksFailed as u8, 1);
        assert_eq!(ExitCode::Usage as u8, 2);
        assert_eq!(ExitCode::Remote as u8, 3);
        assert_eq!(ExitCode::Refused as u8, 4);
    }

    #[test]
    fn each_error_maps_to_its_class() {
        let path = PathBuf::from("k.pem");
        assert_eq!(
            Error::KeyExists { path: path.clone() }.exit_code(),
            ExitCode::Refused
        );
        assert_eq!(
            Error::KeyInWorkTree {
                path: path.clone(),
                worktree: PathBuf::from(".")
            }
            .exit_code(),
            ExitCode::Refused
        );
        assert_eq!(Error::MissingSigningKey.exit_code(), ExitCode::Usage);
        assert_eq!(
            Error::Key {
                path,
                message: "not a key".into()
            }
            .exit_code(),
            ExitCode::Usage
        );
        assert_eq!(
            Error::Downgrade {
                path: PathBuf::from("m.json"),
                findings: vec![]
            }
            .exit_code(),
            ExitCode::Refused
        );
    }
}
