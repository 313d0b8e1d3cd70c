//! `otactl init`.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::release::can_prompt;
use super::{Ctx, display};
use crate::error::{Error, ExitCode, Result};
use crate::fsx;
use crate::ops::init::{self, Answers, Entry, Found, Layout, Plan};
use crate::output::Format;

/// Scaffold a channel repository: `otactl.toml`, the channel folders, `keys/` and
/// the lint workflow.
///
/// At a terminal, `init` asks for what the flags did not give, offering what it
/// found as the default; without one (or with `--yes`) it takes the flags and
/// those defaults and never asks. In a channel repository that exists already
/// (channel folders at the root or under `channels/`), it reads the layout from the
/// folders, the manifests' artifact URLs and the `origin` remote, and writes only
/// what is missing. It never overwrites a file: when everything is there, or when
/// a flag would change an existing `otactl.toml`, it refuses (exit 4).
///
/// Written: `otactl.toml`; one empty folder per channel (`otactl lint` reports
/// each as not released yet); `keys/README.md`, saying that only public keys go
/// there; `.github/workflows/otactl-lint.yml`, which lints every pull request
/// against its base branch, with least permissions and every action pinned by
/// its commit SHA.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// The folder to scaffold; made when missing.
    #[arg(id = "folder", value_name = "DIR", default_value = ".")]
    folder: PathBuf,
    /// The stem of the source tarball (`NAME-src-BUILD_ID.tar.gz`) [default: found
    /// in the manifests' artifact names, else the folder's name].
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// The folder holding one folder per channel, `.` for the root [default:
    /// `channels`, or `.` when channel folders sit at the root].
    #[arg(long, value_name = "DIR")]
    channels_dir: Option<String>,
    /// The channels in promotion order, comma-separated [default:
    /// canary,staging,stable, or the channel folders found].
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    channels: Option<Vec<String>>,
    /// `[github] repo`: where releases and pull requests go [default: found in the
    /// manifests' GitHub links, else the `origin` remote; `""` for none].
    #[arg(long, value_name = "OWNER/REPO")]
    github_repo: Option<String>,
    /// `[oci] repository`: where `publish oci` pushes [default: found in the
    /// manifests' `oci://` links; `""` for none].
    #[arg(long, value_name = "REGISTRY/REPOSITORY")]
    oci_repository: Option<String>,
    /// `[dir] path`: the release folder `publish dir` copies into [default: none].
    #[arg(long, value_name = "PATH")]
    dir_path: Option<String>,
    /// Never ask, even at a terminal: take the flags and the defaults.
    #[arg(short = 'y', long)]
    yes: bool,
    /// Output format: what was written and kept.
    #[arg(long, default_value = "text", value_parser = Format::parser(Format::DATA))]
    format: Format,
}

/// `--format json`.
#[derive(Serialize)]
struct Report<'a> {
    root: String,
    written: Vec<String>,
    kept: Vec<String>,
    name: &'a str,
    channels_dir: &'a str,
    channels: &'a [String],
    github_repo: Option<&'a str>,
    oci_repository: Option<&'a str>,
    dir_path: Option<&'a str>,
}

impl InitArgs {
    pub(crate) fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        if ctx.config.is_some() {
            return Err(Error::InvalidArg {
                flag: "--config",
                message: "`otactl init` writes `otactl.toml` in the folder it scaffolds and reads no other: name the folder (`otactl init DIR`) instead".into(),
            });
        }
        let made_root = make_root(&self.folder)?;
        let result = self.scaffold(ctx);
        if result.is_err() {
            for dir in made_root.iter().rev() {
                fsx::remove_empty_dir(dir);
            }
        }
        result
    }

    fn scaffold(self, ctx: &Ctx) -> Result<ExitCode> {
        let layout = init::detect(&self.folder)?;
        tell_found(ctx, &layout);
        let mut answers = Answers {
            name: self.name,
            channels_dir: self.channels_dir,
            channels: self.channels,
            github_repo: self.github_repo,
            oci_repository: self.oci_repository,
            dir_path: self.dir_path,
        };
        if layout.config.is_none() && !self.yes && can_prompt() {
            ask_missing(&layout, &mut answers)?;
        }
        let plan = init::plan(&layout, &answers)?;
        init::apply(&plan)?;
        report(ctx, &plan, &layout, self.format)?;
        Ok(ExitCode::Success)
    }
}

/// Makes `dir` and its missing parents; returns those it made, outermost first.
fn make_root(dir: &Path) -> Result<Vec<PathBuf>> {
    let missing: Vec<&Path> = dir
        .ancestors()
        .filter(|p| !p.as_os_str().is_empty())
        .take_while(|p| !fsx::exists(p))
        .collect();
    let mut made: Vec<PathBuf> = Vec::new();
    for path in missing.into_iter().rev() {
        if let Err(e) = fsx::create_dir(path) {
            for dir in made.iter().rev() {
                fsx::remove_empty_dir(dir);
            }
            return Err(e);
        }
        made.push(path.to_owned());
    }
    if !fsx::is_dir(dir) {
        return Err(Error::InvalidArg {
            flag: "DIR",
            message: format!("`{}` is not a folder", display(dir)),
        });
    }
    Ok(made)
}

fn tell_found(ctx: &Ctx, layout: &Layout) {
    if layout.config.is_some() {
        ctx.printer.status(&format!(
            "found `otactl.toml`: its layout is kept (channels {} in `{}`)",
            layout.channels.value.join(", "),
            layout.channels_dir.value
        ));
    } else if layout.manifests > 0 {
        ctx.printer.status(&format!(
            "found {} channel manifest{} in `{}` (channels {}, from {})",
            layout.manifests,
            if layout.manifests == 1 { "" } else { "s" },
            layout.channels_dir.value,
            layout.channels.value.join(", "),
            layout.channels.from
        ));
    }
    for path in &layout.not_public_keys {
        ctx.printer.warning(&format!(
            "`{}` is not a public key, and only public keys belong in `keys/`: if it is a private key, remove it from the repository (and its history) and make a new pair",
            path.display()
        ));
    }
}

/// Asks, at a terminal, for each value the flags did not give.
fn ask_missing(layout: &Layout, answers: &mut Answers) -> Result<()> {
    type Check = fn(&str) -> std::result::Result<(), String>;
    let required: [(_, _, _, Check); 2] = [
        (
            &mut answers.name,
            "Name (the tarball is NAME-src-BUILD_ID.tar.gz)",
            &layout.name,
            init::check_name,
        ),
        (
            &mut answers.channels_dir,
            "Folder of the channel folders (`.` for the root)",
            &layout.channels_dir,
            init::check_channels_dir,
        ),
    ];
    for (slot, prompt, default, check) in required {
        if slot.is_none() {
            *slot = Some(ask(prompt, Some(default), false, check)?);
        }
    }
    if answers.channels.is_none() {
        let shown = Found {
            value: layout.channels.value.join(","),
            from: layout.channels.from,
        };
        let text = ask(
            "Channels, in promotion order (comma-separated)",
            Some(&shown),
            false,
            |text| init::parse_channels(text).map(drop),
        )?;
        answers.channels = init::parse_channels(&text).ok();
    }
    let optional: [(_, _, _, Check); 3] = [
        (
            &mut answers.github_repo,
            "GitHub repository for releases and pull requests (OWNER/REPO, empty for none)",
            layout.github_repo.as_ref(),
            init::check_github_repo,
        ),
        (
            &mut answers.oci_repository,
            "OCI repository (REGISTRY/REPOSITORY, empty for none)",
            layout.oci_repository.as_ref(),
            init::check_oci_repository,
        ),
        (
            &mut answers.dir_path,
            "Release folder for `publish dir` (empty for none)",
            layout.dir_path.as_ref(),
            init::check_dir_path,
        ),
    ];
    for (slot, prompt, default, check) in optional {
        if slot.is_none() {
            *slot = Some(ask(prompt, default, true, check)?);
        }
    }
    Ok(())
}

/// One prompt on stderr; the default is what was found. An empty answer is allowed
/// (meaning "none") when `optional`.
fn ask(
    prompt: &str,
    default: Option<&Found<String>>,
    optional: bool,
    check: impl Fn(&str) -> std::result::Result<(), String>,
) -> Result<String> {
    let mut input = dialoguer::Input::<String>::new()
        .with_prompt(prompt)
        .allow_empty(optional)
        .validate_with(move |text: &String| {
            if optional && text.is_empty() {
                Ok(())
            } else {
                check(text)
            }
        });
    if let Some(default) = default.filter(|d| !d.value.is_empty()) {
        input = input.default(default.value.clone());
    }
    input
        .interact_text_on(&dialoguer::console::Term::stderr())
        .map_err(|e| Error::InvalidArg {
            flag: "--yes",
            message: format!(
                "the prompt ended without an answer ({e}); nothing was written. Pass the values as flags with `--yes` to run without prompts"
            ),
        })
}

fn report(ctx: &Ctx, plan: &Plan, layout: &Layout, format: Format) -> Result<()> {
    let shown = |path: &Path, dir: bool| {
        let full = init::under(&plan.root, path);
        let mut text = display(&full);
        if dir {
            text.push('/');
        }
        text
    };
    let written: Vec<String> = plan
        .make
        .iter()
        .map(|e| shown(e.path(), matches!(e, Entry::Dir(_))))
        .collect();
    let kept: Vec<String> = plan.kept.iter().map(|p| shown(p, false)).collect();
    if format == Format::Json {
        let s = &plan.settings;
        return ctx.printer.json(&Report {
            root: display(&plan.root),
            written,
            kept,
            name: &s.name,
            channels_dir: &s.channels_dir,
            channels: &s.channels,
            github_repo: s.github_repo.as_deref(),
            oci_repository: s.oci_repository.as_deref(),
            dir_path: s.dir_path.as_deref(),
        });
    }
    for path in &written {
        ctx.printer.data(path);
    }
    for path in &kept {
        ctx.printer.status(&format!("kept `{path}` (it exists)"));
    }
    let files = plan
        .make
        .iter()
        .filter(|e| matches!(e, Entry::File(..)))
        .count();
    ctx.printer.status(&format!(
        "scaffolded the channel repository `{}`: {files} file{} and {} folder{} written",
        display(&plan.root),
        if files == 1 { "" } else { "s" },
        plan.make.len() - files,
        if plan.make.len() - files == 1 {
            ""
        } else {
            "s"
        },
    ));
    next_steps(ctx, plan, layout);
    Ok(())
}

fn next_steps(ctx: &Ctx, plan: &Plan, layout: &Layout) {
    let s = &plan.settings;
    if layout.config.is_none() && s.public_keys.is_empty() {
        let first = init::FIRST_PUBLIC_KEY;
        if layout.manifests == 0 {
            ctx.printer.hint(&format!(
                "make the signing key, its private half outside this repository: `otactl key generate --private ~/.config/otactl/{}.pem --public {first}`, then list `{first}` in `[signing] public_keys` of otactl.toml",
                s.name
            ));
        } else {
            ctx.printer.hint(&format!(
                "put the public key these manifests are signed with in `{first}` (`otactl key show PRIVATE_KEY > {first}` prints it), list it in `[signing] public_keys` of otactl.toml and set `require = true`"
            ));
        }
    }
    if !layout.in_git {
        ctx.printer.hint(
            "this folder is not a git repository yet: `git init -b main && git add -A && git commit -m \"otactl init\"`; channel folders stay empty until their first manifest, so git keeps them only then (lint reports them as not released yet either way)",
        );
    }
    ctx.printer.hint("check the repository with `otactl lint`");
}
