//! The command line: global flags, the command enum and dispatch. Each command lives
//! in its own file with an `Args` struct and a `run` method; they gather facts at the
//! edge (files, git, clock), call the pure core and print through the `Printer`.

mod build_id;
mod key;
mod lint;
mod manifest;
mod publish;
mod tar;
mod verify;

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::config::{self, Settings};
use crate::error::{Error, ExitCode, Result};
use crate::fsx;
use crate::keys::PublicKey;
use crate::output::{ColorChoice, Printer};

/// Publish, sign, verify and lint OTA channel manifests for device fleets.
///
/// otactl writes the small JSON manifest that devices poll on their channel
/// (`stable`, `staging`, `canary`), signs it with Ed25519 over canonical JSON and
/// checks it the way a device will, so that no fleet is downgraded by a typo.
#[derive(Debug, Parser)]
#[command(
    name = "otactl",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
struct GlobalArgs {
    /// Run as if otactl was started in DIR.
    #[arg(short = 'C', global = true, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Read the configuration from FILE instead of looking for `otactl.toml`.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Say more about what is done.
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    verbose: bool,
    /// Print only results and errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// When to color the output (`NO_COLOR` is honoured).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    color: ColorChoice,
    /// Report unknown manifest keys as warnings instead of errors.
    #[arg(long, global = true)]
    no_strict_keys: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    // In the order of a release. Commands whose `Args` struct carries the doc
    // comment take their help (short and long) from it.
    /// Make and inspect Ed25519 signing keys.
    #[command(subcommand)]
    Key(key::KeyCommand),
    BuildId(build_id::BuildIdArgs),
    Tar(tar::TarArgs),
    /// Publish an artifact to a release target.
    #[command(subcommand)]
    Publish(publish::PublishCommand),
    /// Write, sign and verify one channel manifest.
    #[command(subcommand)]
    Manifest(manifest::ManifestCommand),
    Verify(verify::VerifyArgs),
    Lint(lint::LintArgs),
}

/// What every command gets: the printer, the working folder and the run's options.
pub(crate) struct Ctx {
    printer: Printer,
    config: Option<PathBuf>,
    strict_keys: bool,
    now: time::OffsetDateTime,
}

impl Ctx {
    /// The repository settings: `--config`, else `otactl.toml` found from the
    /// working folder up to the git work tree root, else defaults.
    fn settings(&self) -> Result<Settings> {
        let cwd = std::env::current_dir().map_err(|source| Error::Read {
            path: PathBuf::from("."),
            source,
        })?;
        let path = match &self.config {
            Some(path) => Some(cwd.join(path)),
            None => config::find_config(&cwd),
        };
        let root = path
            .as_deref()
            .and_then(Path::parent)
            .map_or(cwd.clone(), Path::to_owned);
        let shown = path.as_deref().map(display_path);
        let settings = Settings::load(&root, shown.as_deref())?;
        if let Some(path) = &settings.config_path {
            self.printer
                .detail(&format!("using configuration `{}`", display(path)));
        }
        if let Some(note) = &settings.layout_note {
            self.printer.detail(note);
        }
        Ok(settings)
    }

    /// The rules a manifest at `path` is read with: the repository's channels, the
    /// channel folder holding it (when it is one), `--no-strict-keys`, `ascii_only`.
    fn rules<'a>(&self, settings: &'a Settings, path: &'a Path) -> crate::manifest::Rules<'a> {
        crate::manifest::Rules {
            channels: &settings.channels,
            folder: settings
                .folder_channel(path)
                .filter(|f| settings.channels.iter().any(|c| c == f)),
            strict_keys: self.strict_keys,
            ascii_only: settings.ascii_only,
            now: self.now,
        }
    }

    /// The trusted public keys: `--pubkey` flags when given, else `[signing] public_keys`.
    fn trusted_keys(settings: &Settings, flags: &[PathBuf]) -> Result<Vec<PublicKey>> {
        let paths: Vec<PathBuf> = if flags.is_empty() {
            settings
                .public_keys
                .iter()
                .map(|p| settings.root.join(p))
                .collect()
        } else {
            flags.to_vec()
        };
        paths.iter().map(|p| load_public_key(p)).collect()
    }
}

/// Reads a manifest for a checking command: a file over the size limit is a failed
/// check (exit 1), as `lint` reports it; a file that cannot be read is an error.
pub(crate) fn read_for_check(
    path: &Path,
    rules: &crate::manifest::Rules<'_>,
) -> Result<crate::manifest::Parsed> {
    match fsx::read_limited(path, crate::manifest::MAX_MANIFEST_BYTES, "a manifest") {
        Ok(bytes) => Ok(crate::manifest::parse(&bytes, rules)),
        Err(Error::TooLarge { size, limit, .. }) => Ok(crate::manifest::Parsed {
            findings: vec![crate::manifest::Finding::error(
                None,
                None,
                format!(
                    "the file is {size} bytes, larger than the limit of {limit} bytes for a manifest; it was not read"
                ),
            )],
            ..crate::manifest::Parsed::default()
        }),
        Err(e) => Err(e),
    }
}

/// Reads a public key file.
pub(crate) fn load_public_key(path: &Path) -> Result<PublicKey> {
    let bytes = fsx::read_limited(path, 64 * 1024, "a key file")?;
    PublicKey::from_bytes(&bytes).map_err(|message| Error::Key {
        path: display_path(path),
        message,
    })
}

/// A path as shown to the user: relative to the working folder when under it.
pub(crate) fn display(path: &Path) -> String {
    display_path(path).display().to_string()
}

pub(crate) fn display_path(path: &Path) -> PathBuf {
    // The working folder is fixed once `-C` is applied; ask the OS once.
    static CWD: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let cwd = CWD.get_or_init(|| std::env::current_dir().unwrap_or_default());
    path.strip_prefix(cwd)
        .map_or_else(|_| path.to_owned(), Path::to_owned)
}

/// Runs the parsed command line; returns the exit code or the error that stopped it.
pub fn run(cli: Cli) -> (Printer, Result<ExitCode>) {
    let printer = Printer::new(cli.global.quiet, cli.global.verbose, cli.global.color);
    let result = run_with(&printer, cli);
    (printer, result)
}

fn run_with(printer: &Printer, cli: Cli) -> Result<ExitCode> {
    if let Some(dir) = &cli.global.dir {
        std::env::set_current_dir(dir).map_err(|source| Error::Read {
            path: dir.clone(),
            source,
        })?;
    }
    let ctx = Ctx {
        printer: printer.clone(),
        config: cli.global.config,
        strict_keys: !cli.global.no_strict_keys,
        now: time::OffsetDateTime::now_utc(),
    };
    match cli.command {
        Command::Key(cmd) => cmd.run(&ctx),
        Command::Manifest(cmd) => cmd.run(&ctx),
        Command::Lint(args) => args.run(&ctx),
        Command::BuildId(args) => args.run(&ctx),
        Command::Tar(args) => args.run(&ctx),
        Command::Publish(cmd) => cmd.run(&ctx),
        Command::Verify(args) => args.run(&ctx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
