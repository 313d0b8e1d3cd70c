//! The command line: global flags, the command enum and dispatch. Each command lives
//! in its own file with an `Args` struct and a `run` method; they gather facts at the
//! edge (files, git, clock), call the pure core and print through the `Printer`.

mod build_id;
mod init;
mod key;
mod lint;
mod manifest;
mod pr;
mod promote;
mod publish;
mod release;
mod remote;
mod rollback;
mod shell;
mod tar;
mod verify;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::error::{Error, ExitCode, Result};
use crate::output::{ColorChoice, Printer};
use crate::repo::Repo;

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

impl Cli {
    /// This process's command line, parsed; clap's own words (help, usage errors)
    /// follow `--color` as the rest of the output does.
    pub fn from_env() -> Cli {
        use clap::{CommandFactory as _, FromArgMatches as _};
        let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        let mut command = Cli::command().color(clap_color(&args));
        let parsed = command
            .try_get_matches_from_mut(&args)
            .and_then(|matches| Cli::from_arg_matches(&matches));
        parsed.unwrap_or_else(|e| e.format(&mut command).exit())
    }
}

/// The `--color` of `args` (the last one before `--`) as clap's choice; `auto`
/// leaves `NO_COLOR` and the terminal to decide, as [`Printer::new`] does.
fn clap_color(args: &[std::ffi::OsString]) -> clap::ColorChoice {
    let mut choice = clap::ColorChoice::Auto;
    let mut args = args.iter().skip(1).map(|a| a.to_str().unwrap_or_default());
    while let Some(arg) = args.next() {
        let value = match arg {
            "--" => break,
            "--color" => args.next().unwrap_or_default(),
            _ => match arg.strip_prefix("--color=") {
                Some(value) => value,
                None => continue,
            },
        };
        choice = match value {
            "always" => clap::ColorChoice::Always,
            "never" => clap::ColorChoice::Never,
            _ => clap::ColorChoice::Auto,
        };
    }
    choice
}

/// Flags every command accepts.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
struct GlobalArgs {
    /// Run as if otactl was started in DIR.
    #[arg(short = 'C', global = true, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Read the configuration from FILE instead of looking for `otactl.toml`.
    ///
    /// FILE's folder is the repository root, as the folder of a found `otactl.toml` is
    /// (like `cargo --manifest-path`): `channels_dir`, `public_keys`, `source` and
    /// `[dir] path` are relative to it. Paths given on the command line stay relative
    /// to the working folder (see `-C`).
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
    Init(init::InitArgs),
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
    Lint(lint::LintArgs),
    Verify(verify::VerifyArgs),
    Pr(pr::PrArgs),
    Release(release::ReleaseArgs),
    Rollback(rollback::RollbackArgs),
    Promote(promote::PromoteArgs),
    Status(promote::StatusArgs),
    Completions(shell::CompletionsArgs),
    Man(shell::ManArgs),
}

/// What every command gets: the printer and the run's options.
pub(crate) struct Ctx {
    printer: Printer,
    config: Option<PathBuf>,
    strict_keys: bool,
    now: time::OffsetDateTime,
}

impl Ctx {
    /// The channel repository: `--config`, else `otactl.toml` found from the working
    /// folder up to the git work tree root, else defaults.
    fn repo(&self) -> Result<Repo> {
        let cwd = std::env::current_dir().map_err(|source| Error::Read {
            path: PathBuf::from("."),
            source,
        })?;
        let repo = Repo::discover(&cwd, self.config.as_deref(), self.strict_keys, self.now)?;
        if let Some(path) = &repo.settings.config_path {
            self.printer
                .detail(&format!("using configuration `{}`", display(path)));
            if repo.settings.root != cwd {
                self.printer.detail(&format!(
                    "the repository root is `{}`, the folder of `{}`: the paths it names are relative to it",
                    display(&repo.settings.root),
                    display(path)
                ));
            }
        }
        if let Some(note) = &repo.settings.layout_note {
            self.printer.detail(note);
        }
        Ok(repo)
    }
}

impl Ctx {
    /// The HTTP client, its `-v` traces going to stderr.
    fn client(&self) -> Result<crate::remote::http::Client> {
        let printer = self.printer.clone();
        let trace: crate::remote::http::Trace =
            std::sync::Arc::new(move |line: &str| printer.detail(line));
        Ok(crate::remote::http::Client::new(Some(trace))?)
    }
}

pub(crate) use crate::fsx::display;

/// Runs the parsed command line; returns the exit code or the error that stopped it.
pub fn run(cli: Cli) -> (Printer, Result<ExitCode>) {
    let printer = Printer::new(cli.global.quiet, cli.global.verbose, cli.global.color);
    let result = run_with(&printer, cli);
    (printer, result)
}

fn run_with(printer: &Printer, cli: Cli) -> Result<ExitCode> {
    if let Some(dir) = &cli.global.dir {
        std::env::set_current_dir(dir).map_err(|source| dash_c_error(dir, &source))?;
    }
    let ctx = Ctx {
        printer: printer.clone(),
        config: cli.global.config,
        strict_keys: !cli.global.no_strict_keys,
        now: time::OffsetDateTime::now_utc(),
    };
    match cli.command {
        Command::Init(args) => args.run(&ctx),
        Command::Key(cmd) => cmd.run(&ctx),
        Command::Manifest(cmd) => cmd.run(&ctx),
        Command::Lint(args) => args.run(&ctx),
        Command::BuildId(args) => args.run(&ctx),
        Command::Tar(args) => args.run(&ctx),
        Command::Publish(cmd) => cmd.run(&ctx),
        Command::Verify(args) => args.run(&ctx),
        Command::Pr(args) => args.run(&ctx),
        Command::Release(args) => args.run(&ctx),
        Command::Rollback(args) => args.run(&ctx),
        Command::Promote(args) => args.run(&ctx),
        Command::Status(args) => args.run(&ctx),
        Command::Completions(args) => args.run(&ctx),
        Command::Man(args) => args.run(&ctx),
    }
}

/// Why otactl cannot run in the folder given to `-C`: it does not exist, it is not a
/// folder, or it cannot be entered.
fn dash_c_error(dir: &std::path::Path, source: &std::io::Error) -> Error {
    let shown = crate::text::code(dir.display().to_string());
    let message = if crate::fsx::real_path(dir).is_none() {
        format!("the folder {shown} does not exist")
    } else if !crate::fsx::is_dir(dir) {
        format!("{shown} is not a folder")
    } else {
        format!("cannot enter the folder {shown}: {source}")
    };
    Error::InvalidArg {
        flag: "-C",
        message,
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

    #[test]
    fn clap_follows_the_last_color_flag_before_a_double_dash() {
        let color = |args: &[&str]| {
            let args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
            clap_color(&args)
        };
        assert_eq!(color(&["otactl", "lint"]), clap::ColorChoice::Auto);
        assert_eq!(
            color(&["otactl", "--color", "never", "lint"]),
            clap::ColorChoice::Never
        );
        assert_eq!(
            color(&["otactl", "lint", "--color=always"]),
            clap::ColorChoice::Always
        );
        assert_eq!(
            color(&["otactl", "--color=never", "x", "--color", "always"]),
            clap::ColorChoice::Always
        );
        assert_eq!(
            color(&["otactl", "lint", "--", "--color=never"]),
            clap::ColorChoice::Auto
        );
    }
}
