//! `lint`: every manifest of the repository (or under the paths given), every
//! problem of every file, the files read on every core.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::fsx;
use crate::git;
use crate::keys::PublicKey;
use crate::lint::{Base, FileReport, LintInput, SignaturePolicy, lint_file};
use crate::manifest::{Finding, MAX_MANIFEST_BYTES};
use crate::repo::Repo;

/// What to lint.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// Manifest files or folders to search; empty: every channel's manifest.
    pub paths: Vec<PathBuf>,
    /// A git ref holding the manifests being replaced.
    pub base: Option<String>,
}

/// The result of a lint run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Manifest files checked (trusted key files that failed are reports too).
    #[serde(skip)]
    pub manifests: usize,
    /// No error in any file.
    pub ok: bool,
    /// Errors in all.
    pub errors: usize,
    /// Warnings in all.
    pub warnings: usize,
    /// One report per file, in order.
    pub files: Vec<FileReport>,
}

/// Lints the repository's manifests (or `request.paths`).
pub fn lint(repo: &Repo, request: &Request) -> Result<Report> {
    let mut reports = Vec::new();
    let trusted = trusted_keys(repo, &mut reports);
    let key_reports = reports.len();
    let mut unreleased = Vec::new();
    let units = units(repo, &request.paths, &mut reports, &mut unreleased)?;
    if let Some(base) = &request.base {
        git::verify_commit(&repo.settings.root, base).map_err(|e| e.for_flag("--base"))?;
    }
    reports.extend(check_units(repo, &trusted, &units, request.base.as_deref()));
    let manifests = reports.len() - key_reports;
    // Configured channels without a manifest are warnings (SPEC 6); finding nothing
    // at all to check is an error, never a pass.
    let settings = &repo.settings;
    if manifests == 0 && unreleased.is_empty() {
        return Err(if request.paths.is_empty() {
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
    Ok(Report {
        manifests,
        ok: errors == 0,
        errors,
        warnings,
        files: reports,
    })
}

/// A manifest file, or a folder to search for them.
enum Unit {
    File(PathBuf),
    Folder(PathBuf),
}

/// The manifest files (or folders to search) to check; manifests outside the
/// channel folders become findings, and so do configured channels (named in
/// `channels`, or whose folder exists) without a manifest yet: not released yet
/// (SPEC 6), a warning.
fn units(
    repo: &Repo,
    paths: &[PathBuf],
    reports: &mut Vec<FileReport>,
    unreleased: &mut Vec<FileReport>,
) -> Result<Vec<Unit>> {
    if !paths.is_empty() {
        // Each folder is split into its entries, so that the walk below it runs on
        // every core too (reading folders costs as much as checking files).
        let mut units = Vec::new();
        for path in paths {
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
    let settings = &repo.settings;
    let channels_dir = settings.root.join(&settings.channels_dir);
    let mut files = Vec::new();
    for channel in settings.channels.iter() {
        let path = settings.manifest_path(channel);
        if fsx::exists(&path) {
            files.push(path);
        } else if settings.channels_configured || fsx::is_dir(&settings.channel_dir(channel)) {
            unreleased.push(crate::lint::not_released(fsx::display(&path), channel));
        }
    }
    if fsx::is_dir(&channels_dir) {
        let folder = ChannelsFolder::new(settings);
        for found in fsx::find_files(&channels_dir, "manifest.json")? {
            if folder.is_misplaced(&found) {
                reports.push(folder.report(&found));
            }
        }
    }
    Ok(files.into_iter().map(Unit::File).collect())
}

/// The channels folder, for the rule that a `manifest.json` inside it is a
/// channel's (`channels/beta/manifest.json` when `beta` is no channel, or one deeper
/// down, is polled by no device). The same rule holds for the files `lint` finds
/// itself and for those under the PATHs given.
struct ChannelsFolder<'a> {
    settings: &'a Settings,
    /// The folder, absolute, `.` and `..` applied.
    dir: PathBuf,
    /// The working folder, to make the PATHs given absolute.
    cwd: PathBuf,
}

impl ChannelsFolder<'_> {
    fn new(settings: &Settings) -> ChannelsFolder<'_> {
        let cwd = std::env::current_dir().unwrap_or_default();
        ChannelsFolder {
            settings,
            dir: lexical(&cwd.join(&settings.root).join(&settings.channels_dir)),
            cwd,
        }
    }

    /// Whether `path` is a `manifest.json` inside the channels folder but not a
    /// channel's.
    fn is_misplaced(&self, path: &Path) -> bool {
        if path.file_name().is_none_or(|n| n != "manifest.json") {
            return false;
        }
        let path = lexical(&self.cwd.join(path));
        if !path.starts_with(&self.dir) {
            return false;
        }
        let settings = self.settings;
        let is_channel = path.parent().and_then(Path::parent) == Some(self.dir.as_path())
            && settings
                .folder_channel(&path)
                .is_some_and(|f| settings.channels.contains(f));
        !is_channel
    }

    /// The report on a misplaced manifest.
    fn report(&self, path: &Path) -> FileReport {
        FileReport::failed(
            fsx::display(path),
            format!(
                "this manifest is not in a channel folder; channels are {} under `{}`",
                self.settings.channels.list(),
                self.settings.channels_dir.display()
            ),
        )
    }
}

/// `path` with `.` and `..` applied to its text (links are not followed), so that
/// `channels/../channels/beta` and `channels/beta` compare equal.
fn lexical(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push(part);
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Loads `[signing] public_keys`; a key file that fails becomes a report on that file.
fn trusted_keys(repo: &Repo, reports: &mut Vec<FileReport>) -> Vec<PublicKey> {
    let mut keys = Vec::new();
    for path in repo.trusted_key_paths(&[]) {
        match repo.load_trusted_key(&path) {
            Ok(key) => keys.push(key),
            Err(e) => {
                let mut report = FileReport::failed(fsx::display(&path), String::new());
                let finding = &mut report.findings[0];
                match e {
                    Error::Key { message, .. } => {
                        finding.message = format!("trusted key file {message}");
                    }
                    Error::PrivateKeyTrusted { hint, .. } => {
                        finding.message = "trusted key file is a private key; a trusted key file must hold only the public key".into();
                        finding.hint = Some(hint);
                    }
                    other => finding.message = other.chain(),
                }
                reports.push(report);
            }
        }
    }
    keys
}

/// Checks one manifest file.
fn check_file(
    repo: &Repo,
    policy: &SignaturePolicy<'_>,
    path: &Path,
    base: Option<&str>,
) -> FileReport {
    let shown = fsx::display(path);
    let bytes = match fsx::read_limited(path, MAX_MANIFEST_BYTES, "a manifest") {
        Ok(bytes) => bytes,
        Err(e) => return FileReport::failed(shown, e.chain()),
    };
    let mut extra = Vec::new();
    let base_bytes = base.and_then(|base| {
        match git::show_at(
            path.parent().unwrap_or(Path::new(".")),
            base,
            "manifest.json",
        ) {
            Ok(bytes) => bytes.map(|bytes| Base {
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
        }
    });
    let mut report = lint_file(
        &LintInput {
            path: shown,
            bytes: &bytes,
            base: base_bytes,
        },
        &repo.rules(path),
        policy,
    );
    report.findings.extend(extra);
    report
}

/// Checks the units on every core, keeping their order.
fn check_units(
    repo: &Repo,
    trusted: &[PublicKey],
    units: &[Unit],
    base: Option<&str>,
) -> Vec<FileReport> {
    let policy = SignaturePolicy {
        trusted,
        require: repo.settings.require_signature,
    };
    // A bug must never hide other files' problems: a panic on one file becomes an
    // error on that file.
    let guarded = |path: &PathBuf| -> FileReport {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check_file(repo, &policy, path, base)
        }))
        .unwrap_or_else(|_| {
            FileReport::failed(
                fsx::display(path),
                "internal error while checking this file (a bug in otactl; please report it)"
                    .to_owned(),
            )
        })
    };
    // A file under a PATH that lies in the channels folder obeys the rule of the
    // files `lint` finds there itself.
    let folder = ChannelsFolder::new(&repo.settings);
    let checked = |path: &PathBuf| -> FileReport {
        if folder.is_misplaced(path) {
            folder.report(path)
        } else {
            guarded(path)
        }
    };
    let unit = |unit: &Unit| -> Vec<FileReport> {
        match unit {
            Unit::File(path) => vec![checked(path)],
            Unit::Folder(path) => match fsx::find_files(path, "manifest.json") {
                Ok(files) => files.iter().map(checked).collect(),
                Err(e) => vec![FileReport::failed(fsx::display(path), e.chain())],
            },
        }
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(units.len().max(1));
    if threads <= 1 || units.len() < 16 {
        return units.iter().flat_map(unit).collect();
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
                        let Some(path) = units.get(i) else { break };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_outside_the_channel_folders_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fsx::create_dir_all(&dir.path().join("channels/beta")).unwrap();
        fsx::write_atomic(
            &dir.path().join("channels/beta/manifest.json"),
            b"{}",
            None,
            fsx::Existing::Replace,
        )
        .unwrap();
        let report = lint(&Repo::for_tests(dir.path()), &Request::default()).unwrap();
        assert_eq!(report.manifests, 1);
        assert!(!report.ok);
        assert!(
            report.files[0].findings[0]
                .message
                .contains("not in a channel folder")
        );
    }

    #[test]
    fn every_file_is_reported_in_order_on_every_core() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..40 {
            let folder = dir.path().join(format!("m/{i:02}/stable"));
            fsx::create_dir_all(&folder).unwrap();
            fsx::write_atomic(
                &folder.join("manifest.json"),
                b"not json",
                None,
                fsx::Existing::Replace,
            )
            .unwrap();
        }
        let request = Request {
            paths: vec![dir.path().join("m")],
            base: None,
        };
        let report = lint(&Repo::for_tests(dir.path()), &request).unwrap();
        assert_eq!(report.manifests, 40);
        assert_eq!(report.errors, 40);
        let mut sorted = report
            .files
            .iter()
            .map(|f| f.path.clone())
            .collect::<Vec<_>>();
        sorted.sort();
        assert_eq!(
            report
                .files
                .iter()
                .map(|f| f.path.clone())
                .collect::<Vec<_>>(),
            sorted
        );
    }
}
