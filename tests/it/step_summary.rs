//! `$GITHUB_STEP_SUMMARY` and `--format github` beyond `lint` and `verify`: the
//! checklist of a release lands in the step summary, and `manifest verify` speaks
//! in workflow commands.

use crate::release::{MANIFEST, Target, World};
use crate::support::assert::assert_exit;
use crate::support::output::assert_contains;
use crate::support::{TestContext, stdout};

#[test]
fn release_appends_its_checklist_to_the_step_summary() {
    let world = World::new(&[Target::Dir]);
    let summary = world.ctx.root().join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let path = summary.to_str().unwrap();
    let out = world.release_with(
        true,
        &[("GITHUB_STEP_SUMMARY", path)],
        &["--target", "dir", "--no-pr", "--yes"],
    );
    assert_exit(&out, 0);
    let table = std::fs::read_to_string(&summary).unwrap();
    assert!(
        table.starts_with(&format!(
            "earlier step\n### otactl release: the checklist of `{MANIFEST}`\n"
        )),
        "{table}"
    );
    assert_contains(&table, "| 4 |");
    assert_contains(&table, "sha256");
}

#[test]
fn manifest_verify_in_github_format_annotates_each_finding_and_summarizes() {
    let ctx = TestContext::new();
    let manifest = ctx.write(
        "channels/stable/manifest.json",
        r#"{"channel": "stable", "build_id": "20260115-1614-9121078", "created_utc": "2026-01-15T16:14:00Z",
  "artifact": {"kind": "source-tar", "url": "https://example.com/a.tar.gz", "sha256": "00", "size": 1}}
"#,
    );
    let summary = ctx.root().join("summary.md");
    let out = ctx
        .otactl()
        .args(["manifest", "verify", "--format", "github"])
        .arg(&manifest)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_exit(&out, 1);
    let lines = stdout(&out);
    assert!(
        lines
            .lines()
            .all(|l| l.starts_with("::error file=") || l.starts_with("::warning file=")),
        "{lines}"
    );
    assert_contains(&lines, ",title=otactl manifest verify::");
    assert_contains(&lines, "artifact.size");
    let table = std::fs::read_to_string(&summary).unwrap();
    assert!(table.starts_with("### otactl manifest verify\n"), "{table}");
    assert_contains(&table, "❌ failed");
}
