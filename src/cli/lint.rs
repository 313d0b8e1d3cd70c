//! `otactl lint`: every manifest of the repository (or the PATHs given), every
//! problem of every file.

use std::path::PathBuf;

use super::Ctx;
use crate::error::{ExitCode, Result};
use crate::ops::lint::{self, Report, Request};
use crate::output::{Format, github};

/// Check every channel manifest of the repository.
///
/// Schema and strict keys, `channel` equal to its folder, the signature policy of
/// `otactl.toml`, the house layout, and with `--base` no downgrade and no
/// `min_build_id` decrease against that git ref. Exits 1 when any error is found.
#[derive(Debug, clap::Args)]
pub(crate) struct LintArgs {
    /// Manifest files or folders to search for `manifest.json` (default: every channel's manifest).
    paths: Vec<PathBuf>,
    /// A git ref holding the manifests being replaced, e.g. `origin/main`.
    #[arg(long, value_name = "GITREF")]
    base: Option<String>,
    /// Output format: `github` prints workflow commands and appends to `$GITHUB_STEP_SUMMARY`.
    #[arg(long, default_value = "text", value_parser = Format::parser(Format::LINT))]
    format: Format,
}

impl LintArgs {
    pub(crate) fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let repo = ctx.repo()?;
        let format = self.format;
        let report = lint::lint(
            &repo,
            &Request {
                paths: self.paths,
                base: self.base,
            },
        )?;
        print(ctx, format, &report)?;
        Ok(if report.ok {
            ExitCode::Success
        } else {
            ExitCode::ChecksFailed
        })
    }
}

fn print(ctx: &Ctx, format: Format, report: &Report) -> Result<()> {
    match format {
        Format::Json => ctx.printer.json(report)?,
        Format::Github => {
            for line in github::annotations(&report.files, "otactl lint") {
                ctx.printer.data(&line);
            }
            github::append_step_summary(&github::summary_table(&report.files, "otactl lint"))?;
        }
        Format::Text | Format::Markdown => print_findings(ctx, report),
    }
    print_count(ctx, report);
    Ok(())
}

/// Every finding, then the count.
pub(crate) fn print_text(ctx: &Ctx, report: &Report) {
    print_findings(ctx, report);
    print_count(ctx, report);
}

fn print_findings(ctx: &Ctx, report: &Report) {
    for file in &report.files {
        for f in &file.findings {
            ctx.printer.finding(&file.path, f);
        }
    }
}

fn print_count(ctx: &Ctx, report: &Report) {
    let files = report.manifests;
    ctx.printer.status(&format!(
        "checked {files} manifest{}: {} error{}, {} warning{}",
        plural(files),
        report.errors,
        plural(report.errors),
        report.warnings,
        plural(report.warnings),
    ));
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
