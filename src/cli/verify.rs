//! `otactl verify`: the release checklist (SPEC 5).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Ctx, display};
use crate::build_id::BuildId;
use crate::checklist::{self, Item, Report, Status};
use crate::config::Settings;
use crate::error::{Error, ExitCode, Result};
use crate::fsx;
use crate::git;
use crate::hash::HashingReader;
use crate::inspect::{UnpackLimit, inspect_tar_gz};
use crate::keys::PublicKey;
use crate::lint::{self, SignaturePolicy};
use crate::manifest::{ArtifactKind, Finding, MAX_MANIFEST_BYTES, Manifest, Parsed, Rules};
use crate::output::github;
use crate::progress::{ProgressReader, Reporter as _};
use crate::remote::fetch::{self, Cutoff, FetchError, FileUrls, Limits, Retry};
use crate::text::code;

/// Run the release checklist on a channel's manifest.
///
/// Items: 1 schema and strict keys, 2 build id = release tag, 3 the asset exists,
/// 4 the downloaded sha256 matches, 5 the tarball's entries and commit, 6 the
/// signature, 7 no downgrade against the base ref, 8 promotion order. Exits 1 when
/// an item fails, 3 when a remote could not be reached.
#[derive(Debug, clap::Args)]
#[allow(clippy::struct_excessive_bools)] // one per flag
pub(crate) struct VerifyArgs {
    /// The manifest file (or use `--channel`).
    #[arg(required_unless_present = "channel", conflicts_with = "channel")]
    file: Option<PathBuf>,
    /// The channel whose manifest is checked.
    #[arg(long, value_name = "CHANNEL")]
    channel: Option<String>,
    /// The git ref holding the channel's current manifest (default: `origin/main`, else `main`).
    #[arg(long, value_name = "GITREF")]
    base: Option<String>,
    /// Skip items 3 to 5 (no download).
    #[arg(long)]
    offline: bool,
    /// A trusted public key (repeatable); default: `[signing] public_keys`.
    #[arg(long, value_name = "PEM")]
    pubkey: Vec<PathBuf>,
    /// Fail when the manifest carries no signature (default: `[signing] require`).
    #[arg(long)]
    require_signature: bool,
    /// A build that skipped the previous channel fails instead of warning.
    #[arg(long)]
    strict_order: bool,
    /// Stop a download larger than this many bytes (suffixes K, M, G, KiB, MiB, GiB).
    #[arg(long, value_name = "SIZE", default_value = "4GiB", value_parser = parse_size)]
    max_size: u64,
    /// Fail item 5 when a tarball inflates to more than this (default: 64 × the
    /// download, at least 1 GiB, at most 16 GiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_unpacked: Option<u64>,
    /// Stop a download that takes longer than this, retries included (`90s`, `30m`, `1h`, or seconds).
    ///
    /// A download also stops when the server sends less than 1 KiB/s for 30 s.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = fetch::parse_deadline)]
    deadline: Duration,
    /// In CI, read a `file://` artifact even outside the release folder `[dir] path`.
    ///
    /// When `CI` is set (and not `0` or `false`), a `file://` URL must otherwise name a
    /// file under `[dir] path`, symlinks resolved: the manifest of a pull request must not
    /// learn the size and hash of any file the runner can read.
    #[arg(long)]
    allow_file_url: bool,
    /// Output format: `markdown` is the PR body; `github` prints workflow commands.
    #[arg(long, value_enum, default_value_t = VerifyFormat::Text)]
    format: VerifyFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum VerifyFormat {
    Text,
    Json,
    Markdown,
    Github,
}

fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a size, e.g. `4GiB` or `500M`"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit `{other}`; use K, M, G (powers of 1024)"
            ));
        }
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("`{s}` is too large"))
}

impl VerifyArgs {
    pub(crate) fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let settings = ctx.settings()?;
        let path = match (&self.file, &self.channel) {
            (Some(file), _) => file.clone(),
            (None, Some(channel)) => {
                if !settings.channels.contains(channel) {
                    return Err(Error::InvalidArg {
                        flag: "--channel",
                        message: format!(
                            "`{channel}` is not one of the repository's channels ({})",
                            settings.channels.join(", ")
                        ),
                    });
                }
                let path = settings.manifest_path(channel);
                if !fsx::exists(&path) {
                    return Err(Error::InvalidArg {
                        flag: "--channel",
                        message: format!("`{channel}` has no manifest yet (`{}`)", display(&path)),
                    });
                }
                path
            }
            (None, None) => unreachable!("clap requires FILE or --channel"),
        };
        let trusted = super::Ctx::trusted_keys(&settings, &self.pubkey)?;
        let rules = ctx.rules(&settings, &path);
        let parsed = super::read_for_check(&path, &rules)?;
        let items = self.items(ctx, &settings, &path, &parsed, &trusted);
        let report = Report::new(
            display(&path),
            parsed.string_field("channel"),
            parsed.string_field("build_id"),
            items,
        );
        self.print(ctx, &report)?;
        let failed = report.items.iter().any(|i| i.status == Status::Fail);
        let errored = report.items.iter().any(|i| i.status == Status::Error);
        Ok(if failed {
            ExitCode::ChecksFailed
        } else if errored {
            ExitCode::Remote
        } else {
            ExitCode::Success
        })
    }

    fn items(
        &self,
        ctx: &Ctx,
        settings: &Settings,
        path: &Path,
        parsed: &Parsed,
        trusted: &[PublicKey],
    ) -> Vec<Item> {
        let mut items = vec![schema_item(parsed)];
        let manifest = parsed.manifest.as_ref();
        let invalid = || "the manifest is invalid (item 1)".to_owned();
        match manifest {
            Some(m) => items.push(checklist::check_release_tag(&m.build_id, &m.artifact.url)),
            None => items.push(Item::new(2, Status::Skip, invalid())),
        }
        match manifest {
            Some(m) if !self.offline => items.extend(self.download_items(ctx, settings, m)),
            Some(_) => {
                items.extend((3..=5).map(|n| Item::new(n, Status::Skip, "skipped: `--offline`")));
            }
            None => items.extend((3..=5).map(|n| Item::new(n, Status::Skip, invalid()))),
        }
        items.push(signature_item(
            parsed,
            trusted,
            self.require_signature || settings.require_signature,
        ));
        if let Some(m) = manifest {
            items.push(self.downgrade_item(ctx, path, m, parsed));
            items.push(self.order_item(settings, m));
        } else {
            items.push(Item::new(7, Status::Skip, invalid()));
            items.push(Item::new(8, Status::Skip, invalid()));
        }
        items
    }

    /// Items 3, 4 and 5 from one streamed read of the artifact.
    fn download_items(&self, ctx: &Ctx, settings: &Settings, m: &Manifest) -> Vec<Item> {
        let skip = |reason: &str| Item::new(5, Status::Skip, reason);
        if m.artifact.kind == ArtifactKind::Oci {
            let why = "OCI artifacts are not downloaded yet (no OCI support in this version)";
            return (3..=5).map(|n| Item::new(n, Status::Skip, why)).collect();
        }
        ctx.printer
            .detail(&format!("downloading {}", code(&m.artifact.url)));
        let payload = match fetch::open(&m.artifact.url, &Retry::default(), &self.limits(settings))
        {
            Ok(p) => p,
            Err(FetchError::OutsideFolder) => return outside_folder(settings, &m.artifact.url),
            Err(FetchError::Missing(why) | FetchError::Refused(why)) => {
                return vec![
                    Item::new(3, Status::Fail, format!("{}: {why}", code(&m.artifact.url))),
                    Item::new(4, Status::Skip, "no asset to download (item 3)"),
                    skip("no asset to download (item 3)"),
                ];
            }
            Err(FetchError::Remote(why)) => {
                return vec![
                    Item::new(
                        3,
                        Status::Error,
                        format!("{}: {why}", code(&m.artifact.url)),
                    ),
                    Item::new(4, Status::Skip, "the download failed (item 3)"),
                    skip("the download failed (item 3)"),
                ];
            }
        };
        let exists = Item::new(
            3,
            Status::Pass,
            format!("{} is there", code(&m.artifact.url)),
        );
        if let Some(len) = payload.length.filter(|len| *len > self.max_size) {
            return vec![
                exists,
                Item::new(
                    4,
                    Status::Fail,
                    format!(
                        "the asset is {len} bytes, more than `--max-size` {}",
                        self.max_size
                    ),
                ),
                skip("not downloaded (item 4)"),
            ];
        }
        let reporter = ctx.printer.reporter();
        reporter.start(&m.artifact.url, payload.length);
        let progress = ProgressReader::new(payload.reader, &reporter);
        let mut reader = HashingReader::new(progress, self.max_size);
        let limit = self.unpack_limit(payload.length);
        let inspection = (m.artifact.kind == ArtifactKind::SourceTar)
            .then(|| inspect_tar_gz(&mut reader, expected_prefix(settings, m).as_deref(), limit));
        let over_limit = reader.len() > self.max_size;
        let hashed = reader.finish();
        let broke_off = hashed.is_err();
        reporter.finish();
        let sha_item = match hashed {
            Ok((sha, len)) if sha == m.artifact.sha256 => Item::new(
                4,
                Status::Pass,
                format!("{len} bytes downloaded, sha256 {sha} as in the manifest"),
            ),
            Ok((sha, len)) => Item::new(
                4,
                Status::Fail,
                format!(
                    "{len} bytes downloaded with sha256 {sha}, but `artifact.sha256` is {}",
                    m.artifact.sha256
                ),
            ),
            Err(e)
                if e.get_ref()
                    .and_then(|i| i.downcast_ref::<crate::hash::TooLong>())
                    .is_some() =>
            {
                Item::new(
                    4,
                    Status::Fail,
                    format!("the download is larger than `--max-size` {}", self.max_size),
                )
            }
            Err(e) => match e.get_ref().and_then(|i| i.downcast_ref::<Cutoff>()) {
                Some(cut) => Item::new(4, Status::Error, cut.to_string()),
                None => Item::new(4, Status::Error, format!("the download broke off: {e}")),
            },
        };
        let tar_item = match inspection {
            None => skip(&format!("`{}` is not a source tarball", m.artifact.kind)),
            Some(_) if over_limit => skip("not inspected: the download is over the size limit"),
            Some(_) if broke_off => skip("not inspected: the download broke off (item 4)"),
            Some(found) => tarball_item(&found, &m.build_id),
        };
        vec![exists, sha_item, tar_item]
    }

    /// `--max-unpacked`, else the default of SPEC 6 from the announced length.
    fn unpack_limit(&self, announced: Option<u64>) -> UnpackLimit {
        match self.max_unpacked {
            Some(n) => UnpackLimit::Fixed(n),
            None => UnpackLimit::Default { announced },
        }
    }

    /// The bounds of the download (SPEC 6); `file://` is bounded in CI only.
    fn limits(&self, settings: &Settings) -> Limits {
        let files = match &settings.dir_path {
            _ if self.allow_file_url || !crate::config::in_ci() => FileUrls::Anywhere,
            Some(folder) => FileUrls::Under(folder.clone()),
            None => FileUrls::Nowhere,
        };
        Limits {
            deadline: self.deadline,
            files,
        }
    }

    fn downgrade_item(&self, ctx: &Ctx, path: &Path, m: &Manifest, parsed: &Parsed) -> Item {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !git::is_work_tree(dir) {
            return Item::new(
                7,
                Status::Skip,
                "skipped: the manifest is not in a git work tree",
            );
        }
        let base = match &self.base {
            Some(base) => base.clone(),
            None => match ["origin/main", "main"]
                .into_iter()
                .find(|r| git::verify_commit(dir, r, "--base").is_ok())
            {
                Some(found) => found.to_owned(),
                None => {
                    return Item::new(
                        7,
                        Status::Skip,
                        "skipped: neither `origin/main` nor `main` exists; pass `--base GITREF`",
                    );
                }
            },
        };
        if let Err(e) = git::verify_commit(dir, &base, "--base") {
            return Item::new(7, Status::Fail, e.to_string());
        }
        let old = match git::show_at(dir, &base, "manifest.json") {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                return Item::new(
                    7,
                    Status::Pass,
                    format!("the channel has no manifest at `{base}` yet"),
                );
            }
            Err(e) => return Item::new(7, Status::Fail, e.to_string()),
        };
        let channels = [m.channel.clone()];
        let lenient = Rules {
            channels: &channels,
            folder: None,
            strict_keys: false,
            ascii_only: false,
            now: ctx.now,
        };
        let (old, legacy) = match lint::read_base(&old, &lenient) {
            lint::BaseManifest::Valid(old) => (old, None),
            lint::BaseManifest::Legacy(old) => {
                let whose = format!("the manifest at `{base}`");
                let warning = lint::legacy_base_warning(&old.build_id, parsed, &whose);
                (old, Some(warning.message))
            }
            lint::BaseManifest::Template => {
                return Item::new(
                    7,
                    Status::Pass,
                    format!(
                        "the manifest at `{base}` is a template (empty `build_id`): the channel has no earlier build"
                    ),
                );
            }
            lint::BaseManifest::Invalid => {
                return Item::new(
                    7,
                    Status::Fail,
                    format!(
                        "the manifest at `{base}` is invalid, so a downgrade cannot be ruled out"
                    ),
                );
            }
        };
        let problems: Vec<Finding> = lint::compare_with_base(m, &old, parsed, &format!("`{base}`"));
        if let Some(first) = problems.first() {
            return Item::new(7, Status::Fail, first.message.clone());
        }
        if let Some(legacy) = legacy {
            return Item::new(
                7,
                Status::Warn,
                format!("`{}` is later; {legacy}", m.build_id),
            );
        }
        if old.build_id == m.build_id {
            Item::new(7, Status::Pass, format!("same build as at `{base}`"))
        } else {
            Item::new(
                7,
                Status::Pass,
                format!(
                    "`{}` is later than `{}` at `{base}`",
                    m.build_id, old.build_id
                ),
            )
        }
    }

    fn order_item(&self, settings: &Settings, m: &Manifest) -> Item {
        let Some(index) = settings.channels.iter().position(|c| *c == m.channel) else {
            return Item::new(
                8,
                Status::Skip,
                format!("`{}` is not in the promotion order", m.channel),
            );
        };
        if index == 0 {
            return Item::new(
                8,
                Status::Pass,
                format!(
                    "`{}` is the first channel of the promotion order",
                    m.channel
                ),
            );
        }
        let previous = &settings.channels[index - 1];
        let previous_path = settings.manifest_path(previous);
        if let Ok(bytes) = fsx::read_limited(&previous_path, MAX_MANIFEST_BYTES, "a manifest")
            && let Ok(object) = serde_json::from_slice::<serde_json::Value>(&bytes)
            && object.get("build_id").and_then(|v| v.as_str()) == Some(m.build_id.as_str())
        {
            return Item::new(
                8,
                Status::Pass,
                format!(
                    "`{}` is on `{previous}`, the channel before `{}`",
                    m.build_id, m.channel
                ),
            );
        }
        let relative = previous_path
            .strip_prefix(&settings.root)
            .unwrap_or(&previous_path);
        let needle = format!("\"build_id\": \"{}\"", m.build_id);
        if git::is_work_tree(&settings.root)
            && let Ok(commits) = git::commits_touching(&settings.root, &needle, relative)
            && let Some(first) = commits.last()
        {
            return Item::new(
                8,
                Status::Pass,
                format!(
                    "`{}` was published on `{previous}` (commit {first})",
                    m.build_id
                ),
            );
        }
        let status = if self.strict_order {
            Status::Fail
        } else {
            Status::Warn
        };
        Item::new(
            8,
            status,
            format!(
                "`{}` was never on `{previous}`, the channel before `{}`; it skips the promotion order",
                m.build_id, m.channel
            ),
        )
    }

    fn print(&self, ctx: &Ctx, report: &Report) -> Result<()> {
        match self.format {
            VerifyFormat::Json => ctx
                .printer
                .data(&serde_json::to_string_pretty(report).unwrap_or_default()),
            VerifyFormat::Markdown => ctx.printer.data(&report.markdown()),
            VerifyFormat::Github => {
                for line in github::checklist_annotations(report) {
                    ctx.printer.data(&line);
                }
                if let Some(summary) =
                    std::env::var_os("GITHUB_STEP_SUMMARY").filter(|v| !v.is_empty())
                {
                    let text = format!(
                        "### otactl verify {}\n\n{}\n",
                        crate::text::markdown_code(&report.manifest),
                        report.markdown()
                    );
                    fsx::append(Path::new(&summary), text.as_bytes())?;
                }
            }
            VerifyFormat::Text => {
                for item in &report.items {
                    ctx.printer.data(&format!(
                        "{} {:<5} {}. {}: {}",
                        item.status.mark(),
                        item.status.word(),
                        item.number,
                        item.name,
                        crate::output::sanitize(&item.reason)
                    ));
                }
            }
        }
        let failed: Vec<String> = report
            .items
            .iter()
            .filter(|i| matches!(i.status, Status::Fail | Status::Error))
            .map(|i| i.number.to_string())
            .collect();
        if failed.is_empty() {
            ctx.printer
                .status(&format!("checklist passed for {}", code(&report.manifest)));
        } else {
            ctx.printer.status(&format!(
                "checklist failed for {}: item {}",
                code(&report.manifest),
                failed.join(", ")
            ));
        }
        Ok(())
    }
}

/// Items 3 to 5 for a `file://` URL refused in CI. The reason is the same whether the
/// file exists or not: it tells nothing of the runner's disk.
fn outside_folder(settings: &Settings, url: &str) -> Vec<Item> {
    let why = match &settings.dir_path {
        Some(folder) => format!(
            "is outside the release folder `[dir] path` (`{}`) of otactl.toml; in CI (`CI` is set) a `file://` URL must name a file in that folder: publish the asset there with `otactl publish dir`, or pass `--allow-file-url` to read it anyway",
            display(folder.strip_prefix(&settings.root).unwrap_or(folder))
        ),
        None => "is a `file://` URL, and otactl.toml sets no release folder `[dir] path`; in CI (`CI` is set) a `file://` URL must name a file in that folder: set `[dir] path`, or pass `--allow-file-url` to read it anyway".to_owned(),
    };
    let then = "no asset to download (item 3)";
    vec![
        Item::new(3, Status::Fail, format!("`{url}` {why}")),
        Item::new(4, Status::Skip, then),
        Item::new(5, Status::Skip, then),
    ]
}

fn schema_item(parsed: &Parsed) -> Item {
    let errors: Vec<&Finding> = parsed.findings.iter().filter(|f| f.is_error()).collect();
    let warnings = parsed.findings.len() - errors.len();
    if let Some(first) = errors.first() {
        let more = if errors.len() > 1 {
            format!(" (and {} more; run `otactl lint`)", errors.len() - 1)
        } else {
            String::new()
        };
        let line = first
            .line
            .map(|l| format!("line {l}: "))
            .unwrap_or_default();
        return Item::new(1, Status::Fail, format!("{line}{}{more}", first.message));
    }
    match (&parsed.manifest, warnings) {
        (Some(m), 0) => Item::new(
            1,
            Status::Pass,
            format!("valid, strict keys, channel `{}`", m.channel),
        ),
        (Some(m), n) => Item::new(
            1,
            Status::Warn,
            format!(
                "valid, channel `{}`, with {n} warning{}: {}",
                m.channel,
                if n == 1 { "" } else { "s" },
                parsed.findings[0].message
            ),
        ),
        (None, _) => Item::new(1, Status::Fail, "the manifest could not be read"),
    }
}

fn signature_item(parsed: &Parsed, trusted: &[PublicKey], require: bool) -> Item {
    let mut findings = Vec::new();
    let signer =
        lint::check_signature(parsed, &SignaturePolicy { trusted, require }, &mut findings);
    if let Some(error) = findings.iter().find(|f| f.is_error()) {
        return Item::new(6, Status::Fail, error.message.clone());
    }
    if let Some(warning) = findings.first() {
        return Item::new(6, Status::Warn, warning.message.clone());
    }
    match signer {
        Some(key) => Item::new(
            6,
            Status::Pass,
            format!("valid signature by trusted key {key}"),
        ),
        None => Item::new(
            6,
            Status::Skip,
            "not signed, and signatures are not required",
        ),
    }
}

/// `NAME-BUILD_ID/`: NAME from the asset name `NAME-src-<build_id>.tar.gz`, else `name`.
fn expected_prefix(settings: &Settings, m: &Manifest) -> Option<String> {
    let file = m
        .artifact
        .url
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .split('?')
        .next()
        .unwrap_or_default();
    let suffix = format!("-src-{}.tar.gz", m.build_id);
    let name = file
        .strip_suffix(&suffix)
        .map(str::to_owned)
        .or_else(|| settings.name.clone())?;
    Some(format!("{name}-{}/", m.build_id))
}

fn tarball_item(found: &crate::inspect::Inspection, build_id: &BuildId) -> Item {
    if let Some(first) = found.problems.first() {
        let more = if found.problems.len() > 1 {
            format!(" (and {} more)", found.problems.len() - 1)
        } else {
            String::new()
        };
        return Item::new(5, Status::Fail, format!("{first}{more}"));
    }
    let top = found.top.clone().unwrap_or_default();
    if !top.ends_with(&format!("-{build_id}/")) {
        return Item::new(
            5,
            Status::Fail,
            format!(
                "the entries are under {}, not `NAME-{build_id}/`",
                code(&top)
            ),
        );
    }
    match &found.commit {
        Some(commit) if commit.starts_with(build_id.sha()) => Item::new(
            5,
            Status::Pass,
            format!(
                "{} entries under {}, commit {}",
                found.entries,
                code(&top),
                code(commit)
            ),
        ),
        Some(commit) => Item::new(
            5,
            Status::Fail,
            format!(
                "the tarball was made from commit {}, not from `{}` of the build id",
                code(commit),
                build_id.sha()
            ),
        ),
        None => Item::new(
            5,
            Status::Fail,
            "the tarball has no pax header with a commit id (not made by `git archive` of a commit)",
        ),
    }
}
