//! `otactl lint`: every manifest of the repository (or the PATHs given), every
//! problem of every file.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Ctx, display, load_public_key};
use crate::config::Settings;
use crate::error::{Error, ExitCode, Result};
use crate::fsx;
use crate::git;
use crate::keys::PublicKey;
use crate::lint::{Base, FileReport, LintInput, SignaturePolicy, lint_file};
use crate::manifest::{Finding, MAX_MANIFEST_BYTES};
use crate::output::github;

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
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    format: LintFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LintFormat {
    Text,
    Json,
    Github,
}

#[derive(Serialize)]
struct LintReport {
    #[serde(skip)]
    manifests: usize,
    ok: bool,
    errors: usize,
    warnings: usize,
    files: Vec<FileReport>,
}

impl LintArgs {
    pub(crate) fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let settings = ctx.settings()?;
        let mut reports = Vec::new();
        let trusted = trusted_keys(&settings, &mut reports);
        let key_reports = reports.len();
        let files = self.files(&settings, &mut reports)?;
        if let Some(base) = &self.base {
            git::verify_commit(&settings.root, base, "--base")?;
        }
        reports.extend(check_files(
            ctx,
            &settings,
            &trusted,
            &files,
            self.base.as_deref(),
        ));
        let manifests = reports.len() - key_reports;
        // Configured channels without a manifest are warnings (SPEC 6); finding
        // nothing at all to check is an error, never a pass.
        let unreleased: Vec<FileReport> = if self.paths.is_empty() {
            settings
                .unreleased_channels()
                .into_iter()
                .map(|c| crate::lint::not_released(display(&settings.manifest_path(c)), c))
                .collect()
        } else {
            Vec::new()
        };
        if manifests == 0 && unreleased.is_empty() {
            return Err(if self.paths.is_empty() {
                settings.no_channel_error()
            } else {
                Error::InvalidArg {
                    flag: "PATH",
                    message: "no `manifest.json` found under the paths given; a check that finds no manifest is not a pass".into(),
                }
            });
        }
        reports.extend(unreleased);
        let errors = reports.iter().map(FileReport::errors).sum();
        let warnings = reports.iter().map(FileReport::warnings).sum();
        let report = LintReport {
            manifests,
            ok: errors == 0,
            errors,
            warnings,
            files: reports,
        };
        self.print(ctx, &report)?;
        Ok(if errors == 0 {
            ExitCode::Success
        } else {
            ExitCode::ChecksFailed
        })
    }

    /// The manifest files (or folders to search) to check; folders that are not
    /// channels become findings.
    fn files(&self, settings: &Settings, reports: &mut Vec<FileReport>) -> Result<Vec<Unit>> {
        if !self.paths.is_empty() {
            // Each folder is split into its entries, so that the walk below it runs
            // on every core too (reading folders costs as much as checking files).
            let mut units = Vec::new();
            for path in &self.paths {
                if fsx::is_dir(path) {
                    units.extend(fsx::list_dir(path)?.into_iter().filter_map(|(p, dir)| {
                        if dir {
                            Some(Unit::Folder(p))
                        } else {
                            p.file_name()
                                .is_some_and(|n| n == "manifest.json")
                                .then_some(Unit::File(p))
                        }
                    }));
                } else if fsx::exists(path) {
                    units.push(Unit::File(path.clone()));
                } else {
                    return Err(Error::Read {
                        path: path.clone(),
                        source: std::io::Error::from(std::io::ErrorKind::NotFound),
                    });
                }
            }
            return Ok(units);
        }
        let channels_dir = settings.root.join(&settings.channels_dir);
        let files: Vec<PathBuf> = settings
            .channels
            .iter()
            .map(|c| settings.manifest_path(c))
            .filter(|p| fsx::exists(p))
            .collect();
        if fsx::is_dir(&channels_dir) {
            for found in fsx::find_files(&channels_dir, "manifest.json")? {
                let is_channel = found.parent().and_then(Path::parent)
                    == Some(channels_dir.as_path())
                    && settings
                        .folder_channel(&found)
                        .is_some_and(|f| settings.channels.iter().any(|c| c == f));
                if !is_channel && !files.contains(&found) {
                    reports.push(FileReport::failed(
                        display(&found),
                        format!(
                            "this manifest is not in a channel folder; channels are {} under `{}`",
                            settings.channels.join(", "),
                            settings.channels_dir.display()
                        ),
                    ));
                }
            }
        }
        Ok(files.into_iter().map(Unit::File).collect())
    }

    fn print(&self, ctx: &Ctx, report: &LintReport) -> Result<()> {
        match self.format {
            LintFormat::Json => ctx
                .printer
                .data(&serde_json::to_string_pretty(report).unwrap_or_default()),
            LintFormat::Github => {
                for line in github::annotations(&report.files, "otactl lint") {
                    ctx.printer.data(&line);
                }
                if let Some(summary) =
                    std::env::var_os("GITHUB_STEP_SUMMARY").filter(|v| !v.is_empty())
                {
                    let table = github::summary_table(&report.files, "otactl lint");
                    fsx::append(Path::new(&summary), table.as_bytes())?;
                }
            }
            LintFormat::Text => {
                for file in &report.files {
                    for f in &file.findings {
                        ctx.printer.finding(&file.path, f);
                    }
                }
            }
        }
        let files = report.manifests;
        let status = format!(
            "checked {files} manifest{}: {} error{}, {} warning{}",
            if files == 1 { "" } else { "s" },
            report.errors,
            if report.errors == 1 { "" } else { "s" },
            report.warnings,
            if report.warnings == 1 { "" } else { "s" },
        );
        ctx.printer.status(&status);
        Ok(())
    }
}

/// Loads `[signing] public_keys`; a key file that fails becomes a finding on that file.
fn trusted_keys(settings: &Settings, reports: &mut Vec<FileReport>) -> Vec<PublicKey> {
    let mut keys = Vec::new();
    for path in &settings.public_keys {
        match load_public_key(&settings.root.join(path)) {
            Ok(key) => keys.push(key),
            Err(e) => {
                let message = match e {
                    Error::Key { message, .. } => format!("trusted key file {message}"),
                    other => other.to_string(),
                };
                reports.push(FileReport::failed(
                    display(&settings.root.join(path)),
                    message,
                ));
            }
        }
    }
    keys
}

/// Checks the files on every core, keeping their order.
/// A manifest file, or a folder to search for them.
enum Unit {
    File(PathBuf),
    Folder(PathBuf),
}

fn check_files(
    ctx: &Ctx,
    settings: &Settings,
    trusted: &[PublicKey],
    files: &[Unit],
    base: Option<&str>,
) -> Vec<FileReport> {
    let policy = SignaturePolicy {
        trusted,
        require: settings.require_signature,
    };
    let one = |path: &PathBuf| -> FileReport {
        let shown = display(path);
        let bytes = match fsx::read_limited(path, MAX_MANIFEST_BYTES, "a manifest") {
            Ok(bytes) => bytes,
            Err(e) => return FileReport::failed(shown, error_text(&e)),
        };
        let mut extra = Vec::new();
        let base_bytes = match base {
            Some(base) => match git::show_at(
                path.parent().unwrap_or(Path::new(".")),
                base,
                "manifest.json",
            ) {
                Ok(b) => b.map(|bytes| Base {
                    bytes,
                    name: format!("`{base}`"),
                }),
                Err(e) => {
                    extra.push(Finding::error(
                        None,
                        None,
                        format!("cannot read the base manifest: {e}"),
                    ));
                    None
                }
            },
            None => None,
        };
        let rules = ctx.rules(settings, path);
        let mut report = lint_file(
            &LintInput {
                path: shown,
                bytes: &bytes,
                base: base_bytes,
            },
            &rules,
            &policy,
        );
        report.findings.extend(extra);
        report
    };
    // A bug must never hide other files' problems: a panic on one file becomes an
    // error on that file.
    let guarded = |path: &PathBuf| -> FileReport {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| one(path))).unwrap_or_else(|_| {
            FileReport::failed(
                display(path),
                "internal error while checking this file (a bug in otactl; please report it)"
                    .to_owned(),
            )
        })
    };
    // A unit is a manifest file or a folder to search for them.
    let unit = |unit: &Unit| -> Vec<FileReport> {
        match unit {
            Unit::File(path) => vec![guarded(path)],
            Unit::Folder(path) => match fsx::find_files(path, "manifest.json") {
                Ok(files) => files.iter().map(guarded).collect(),
                Err(e) => vec![FileReport::failed(display(path), error_text(&e))],
            },
        }
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(files.len().max(1));
    if threads <= 1 || files.len() < 16 {
        return files.iter().flat_map(unit).collect();
    }
    // Work is handed out one unit at a time, so a slow folder does not hold up a core.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut done: Vec<(usize, Vec<FileReport>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(path) = files.get(i) else { break };
                        mine.push((i, unit(path)));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().flat_map(|(_, reports)| reports).collect()
}

fn error_text(e: &Error) -> String {
    match std::error::Error::source(e) {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    }
}
