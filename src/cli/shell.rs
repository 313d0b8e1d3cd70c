//! `otactl completions SHELL` and `otactl man`: what a shell and `man` need, made
//! from the command line's own definition, so they never drift from it.

use std::path::PathBuf;

use clap::CommandFactory as _;

use super::{Cli, Ctx};
use crate::error::{Error, ExitCode, Result};
use crate::fsx;

/// Print the shell completion script for SHELL.
///
/// bash: `otactl completions bash > ~/.local/share/bash-completion/completions/otactl`;
/// zsh: into a folder of `$fpath` as `_otactl`; fish:
/// `~/.config/fish/completions/otactl.fish`.
#[derive(Debug, clap::Args)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

impl CompletionsArgs {
    pub(crate) fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let mut command = Cli::command();
        let mut out = Vec::new();
        clap_complete::generate(self.shell, &mut command, "otactl", &mut out);
        ctx.printer.raw(&out)?;
        Ok(ExitCode::Success)
    }
}

/// Print the man page (roff): every command on one page, or one page per command
/// with `--out DIR`.
///
/// `otactl man | man -l -` shows it; `otactl man --out /usr/local/share/man/man1`
/// installs `otactl.1` and `otactl-COMMAND.1`.
#[derive(Debug, clap::Args)]
pub(crate) struct ManArgs {
    /// Write one page per command into DIR instead.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// The page of `command`, titled `title`.
fn render(command: clap::Command, title: &str) -> std::io::Result<Vec<u8>> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .title(title.to_uppercase())
        .render(&mut page)?;
    Ok(page)
}

/// Each page: `otactl`, then `otactl-COMMAND` for every command.
fn pages(command: &clap::Command) -> Vec<(String, clap::Command)> {
    let mut pages = vec![("otactl".to_owned(), command.clone())];
    pages.extend(
        command
            .get_subcommands()
            .filter(|s| s.get_name() != "help")
            .map(|s| (format!("otactl-{}", s.get_name()), s.clone())),
    );
    pages
}

impl ManArgs {
    pub(crate) fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let mut command = Cli::command();
        command.build();
        let failed = |source| Error::Write {
            path: PathBuf::from("-"),
            source,
        };
        let Some(dir) = self.out else {
            let mut all = Vec::new();
            for (title, page) in pages(&command) {
                all.extend(render(page, &title).map_err(failed)?);
            }
            ctx.printer.raw(&all)?;
            return Ok(ExitCode::Success);
        };
        fsx::create_dir_all(&dir)?;
        for (name, page) in pages(&command) {
            let path = dir.join(format!("{name}.1"));
            let bytes = render(page, &name).map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
            fsx::write_atomic(&path, &bytes, None, fsx::Existing::Replace)?;
            ctx.printer.data(&fsx::display(&path));
        }
        Ok(ExitCode::Success)
    }
}
