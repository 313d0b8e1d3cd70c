//! GitHub Actions output: workflow commands (`::error file=…,line=…::…`) and the
//! Markdown table appended to `$GITHUB_STEP_SUMMARY`.

use std::fmt::Write as _;

use crate::lint::FileReport;
use crate::manifest::Severity;
use crate::text::{self, markdown, markdown_code};

/// A workflow command's message: marked values in backticks, `%`, CR and LF
/// encoded as GitHub documents, other hidden characters escaped (the log is shown in
/// a terminal emulator).
fn escape_data(s: &str) -> String {
    let plain = text::plain(s);
    let mut out = String::with_capacity(plain.len() + 8);
    for c in plain.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c if text::is_hidden(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub refuses a step summary larger than this.
pub const MAX_STEP_SUMMARY: u64 = 1024 * 1024;

/// The line that ends a summary cut at [`MAX_STEP_SUMMARY`].
const CUT: &str = "\n_otactl: the rest is cut: a step summary holds at most 1 MiB; the workflow log has every finding._\n";

/// `markdown` as it fits after `existing` bytes under [`MAX_STEP_SUMMARY`]: whole, or
/// cut at a line break with a line saying so (nothing, when not even that fits).
pub fn fit_summary(existing: u64, markdown: &[u8]) -> Vec<u8> {
    let room = MAX_STEP_SUMMARY.saturating_sub(existing);
    if markdown.len() as u64 <= room {
        return markdown.to_vec();
    }
    let Some(keep) = room.checked_sub(CUT.len() as u64) else {
        return Vec::new();
    };
    let keep = usize::try_from(keep).unwrap_or(0).min(markdown.len());
    let end = markdown[..keep]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let mut out = markdown[..end].to_vec();
    out.extend_from_slice(CUT.as_bytes());
    out
}

/// Appends `markdown` to the file `$GITHUB_STEP_SUMMARY` names, when it is set,
/// within GitHub's 1 MiB.
pub fn append_step_summary(markdown: &str) -> crate::error::Result<()> {
    match std::env::var_os("GITHUB_STEP_SUMMARY").filter(|v| !v.is_empty()) {
        Some(path) => crate::fsx::append(
            std::path::Path::new(&path),
            markdown.as_bytes(),
            fit_summary,
        ),
        None => Ok(()),
    }
}

/// One workflow command per finding.
pub fn annotations(reports: &[FileReport], title: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for report in reports {
        for f in &report.findings {
            let command = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let mut props = format!("file={}", escape_property(&report.path));
            if let Some(line) = f.line {
                let _ = write!(props, ",line={line}");
            }
            let _ = write!(props, ",title={}", escape_property(title));
            let mut message = f.message.clone();
            if let Some(hint) = &f.hint {
                let _ = write!(message, "\nhint: {hint}");
            }
            lines.push(format!("::{command} {props}::{}", escape_data(&message)));
        }
    }
    lines
}

/// One workflow command per failed, errored or warning checklist item.
pub fn checklist_annotations(report: &crate::checklist::Report) -> Vec<String> {
    use crate::checklist::Status;
    report
        .items
        .iter()
        .filter_map(|item| {
            let command = match item.status {
                Status::Fail | Status::Error => "error",
                Status::Warn => "warning",
                Status::Pass | Status::Skip => return None,
            };
            let title = format!(
                "otactl verify: {}. {}",
                item.check.number(),
                item.check.name()
            );
            Some(format!(
                "::{command} file={},title={}::{}",
                escape_property(&report.manifest),
                escape_property(&title),
                escape_data(&item.reason)
            ))
        })
        .collect()
}

/// A Markdown table of the reports, for `$GITHUB_STEP_SUMMARY`.
pub fn summary_table(reports: &[FileReport], heading: &str) -> String {
    let mut out = format!(
        "### {}\n\n| file | build id | result | problems |\n| --- | --- | --- | --- |\n",
        markdown(heading)
    );
    for r in reports {
        let result = if r.errors() > 0 {
            "❌ failed"
        } else if r.warnings() > 0 {
            "⚠️ warnings"
        } else {
            "✅ ok"
        };
        let problems: Vec<String> = r
            .findings
            .iter()
            .map(|f| {
                format!(
                    "{}{}",
                    f.line.map(|l| format!("line {l}: ")).unwrap_or_default(),
                    f.message
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            markdown_code(&r.path),
            r.build_id.as_deref().map(markdown_code).unwrap_or_default(),
            result,
            markdown(&problems.join("; ")),
        );
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Finding;

    #[test]
    fn a_summary_is_cut_at_a_line_to_stay_under_one_mib() {
        let table = "| a | b |\n".repeat(200_000);
        assert_eq!(fit_summary(0, b"short\n"), b"short\n");
        let cut = fit_summary(1000, table.as_bytes());
        assert!(1000 + cut.len() as u64 <= MAX_STEP_SUMMARY);
        let text = String::from_utf8(cut).unwrap();
        assert!(text.ends_with(CUT));
        assert!(text.trim_end_matches(CUT).ends_with("| a | b |\n"));
        assert!(fit_summary(MAX_STEP_SUMMARY - 10, table.as_bytes()).is_empty());
    }

    #[test]
    fn workflow_commands_are_escaped() {
        let report = FileReport {
            path: "a,b:c.json".into(),
            channel: None,
            build_id: None,
            signed_by: None,
            findings: vec![Finding::error(Some(3), None, "100% bad\nreally").with_hint("fix")],
        };
        assert_eq!(
            annotations(&[report], "otactl lint"),
            [
                "::error file=a%2Cb%3Ac.json,line=3,title=otactl lint::100%25 bad%0Areally%0Ahint: fix"
            ]
        );
    }
}
