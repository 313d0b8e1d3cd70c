//! `otactl verify`: the release checklist (SPEC 5), printed in each format.

use std::path::PathBuf;
use std::time::Duration;

use super::Ctx;
use super::remote::RemoteArgs;
use crate::checklist::{Check, Report, Status};
use crate::error::{ExitCode, Result};
use crate::ops::verify::{self, Request};
use crate::output::{Format, github};
use crate::remote::fetch;
use crate::text::code;

/// Run the release checklist on a channel's manifest.
///
/// Items: 1 schema and strict keys, 2 build id = release tag, 3 the asset exists,
/// 4 the downloaded sha256 matches, 5 the tarball's entries and commit, 6 the
/// signature, 7 no downgrade against the base ref, 8 promotion order. Exits 1 when
/// an item fails, 3 when a remote could not be reached.
#[derive(Debug, clap::Args)]
#[allow(clippy::struct_excessive_bools)] // one per flag
#[command(group = clap::ArgGroup::new("manifest").required(true))]
pub(crate) struct VerifyArgs {
    /// The manifest file (or use `--channel`).
    #[arg(group = "manifest")]
    file: Option<PathBuf>,
    /// The channel whose manifest is checked.
    #[arg(long, value_name = "CHANNEL", group = "manifest")]
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
    /// Let item 3 pass for an artifact outside where this repository publishes (a
    /// release of another GitHub repository, such as a fork's).
    #[arg(long)]
    allow_foreign_artifact: bool,
    /// An OCI artifact must carry a cosign signature that verifies under a trusted key
    /// (default: `[oci] cosign`).
    #[arg(long)]
    require_cosign: bool,
    /// Output format: `markdown` is the PR body; `github` prints workflow commands.
    #[arg(long, default_value = "text", value_parser = Format::parser(Format::CHECKLIST))]
    format: Format,
    #[command(flatten)]
    remote: RemoteArgs,
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
        let repo = ctx.repo()?;
        let manifest = match (self.file, &self.channel) {
            (Some(file), _) => file,
            (None, Some(channel)) => verify::channel_manifest(&repo, channel)?,
            (None, None) => unreachable!("clap requires FILE or --channel"),
        };
        let request = Request {
            manifest,
            base: self.base,
            offline: self.offline,
            pubkeys: self.pubkey,
            require_signature: self.require_signature,
            strict_order: self.strict_order,
            max_size: self.max_size,
            max_unpacked: self.max_unpacked,
            deadline: self.deadline,
            allow_file_url: self.allow_file_url,
            in_ci: crate::config::in_ci(),
            allow_foreign_artifact: self.allow_foreign_artifact,
            require_cosign: self.require_cosign,
            remote: self.remote.flags(),
        };
        let client = ctx.client()?;
        let report = verify::verify(&repo, &client, &request, &ctx.printer.reporter())?;
        print(ctx, self.format, &report)?;
        Ok(report.exit_code())
    }
}

/// The items as text, one line each.
pub(crate) fn item_lines(report: &Report) -> impl Iterator<Item = String> + '_ {
    report.items.iter().map(|item| {
        format!(
            "{} {:<5} {}. {}: {}",
            item.status.mark(),
            item.status.word(),
            item.check.number(),
            item.check.name(),
            crate::output::sanitize(&item.reason)
        )
    })
}

/// The items on stderr (for a command whose stdout holds other results: `pr`,
/// `release`, `promote`): with `-q` only when the checklist failed, as they say why;
/// and in `$GITHUB_STEP_SUMMARY` when set, under `otactl COMMAND` (a summary that
/// cannot be written is a warning: the release it reports is done).
pub(crate) fn explain_items(ctx: &Ctx, command: &str, report: &Report) {
    for line in item_lines(report) {
        if report.ok {
            ctx.printer.status(&line);
        } else {
            ctx.printer.explain(&line);
        }
    }
    if let Err(e) = summarize(command, report) {
        ctx.printer
            .warning(&format!("the step summary was not written: {}", e.chain()));
    }
}

/// Appends the checklist as a Markdown table to `$GITHUB_STEP_SUMMARY`, when set.
fn summarize(command: &str, report: &Report) -> Result<()> {
    github::append_step_summary(&format!(
        "### otactl {command}: the checklist of {}\n\n{}\n",
        crate::text::markdown_code(&report.manifest),
        report.markdown()
    ))
}

/// Prints the report in `format`, then a status line.
pub(crate) fn print(ctx: &Ctx, format: Format, report: &Report) -> Result<()> {
    match format {
        Format::Json => ctx.printer.json(report)?,
        Format::Markdown => ctx.printer.data(&report.markdown()),
        Format::Github => {
            for line in github::checklist_annotations(report) {
                ctx.printer.data(&line);
            }
            summarize("verify", report)?;
        }
        Format::Text => {
            for line in item_lines(report) {
                ctx.printer.data(&line);
            }
        }
    }
    let failed = report.failed();
    if failed.is_empty() {
        ctx.printer
            .status(&format!("checklist passed for {}", code(&report.manifest)));
    } else {
        let numbers: Vec<String> = failed.iter().map(u8::to_string).collect();
        ctx.printer.status(&format!(
            "checklist failed for {}: item {}",
            code(&report.manifest),
            numbers.join(", ")
        ));
    }
    if report.exit_code() == ExitCode::Remote {
        // Item 4 passed: the download worked, and only GitHub's API (item 3) failed.
        let downloaded = report
            .items
            .iter()
            .any(|i| i.check == Check::Sha256 && i.status == Status::Pass);
        ctx.printer.hint(if downloaded {
            "the artifact was downloaded, but GitHub's API could not be asked about its release (item 3); try again later, or pass `--offline` to check everything but the artifact"
        } else {
            "the artifact could not be downloaded; to check everything but the download, pass `--offline`"
        });
    }
    Ok(())
}
