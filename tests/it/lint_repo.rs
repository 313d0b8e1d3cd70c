//! `otactl lint` over a channel repository: every problem of every file, the
//! signature policy, `--base`, and the text, JSON and GitHub formats.

use serde::Deserialize;

use crate::otactl_snapshot;
use crate::support::{FindingJson, TestContext, fixtures, manifest_json, stderr, stdout};

const KEY_ID: &str = "21fe31dfa154a261";

/// A channel repository with all three channels signed by the RFC 8032 test key.
fn signed_repo() -> TestContext {
    let ctx = TestContext::new();
    ctx.trust("rfc8032-test1.public.pem");
    ctx.write(
        "otactl.toml",
        "[signing]\npublic_keys = [\"keys/ota_pubkey.pem\"]\nrequire = true\n",
    );
    for (channel, id) in [
        ("canary", "20260115-1614-9121078"),
        ("staging", "20260114-1000-8888888"),
        ("stable", "20260110-0800-7777777"),
    ] {
        write_signed(&ctx, channel, id, Some("20251201-0930-1a2b3c4"));
    }
    ctx
}

fn write_signed(ctx: &TestContext, channel: &str, id: &str, min: Option<&str>) {
    let file = format!("channels/{channel}/manifest.json");
    ctx.write(
        &file,
        manifest_json(channel, id, min, &format!("{channel} build")),
    );
    let out = ctx
        .otactl()
        .args(["manifest", "sign", &file, "--key"])
        .arg(fixtures().join("vectors/rfc8032-test1.private.pem"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LintJson {
    ok: bool,
    errors: usize,
    warnings: usize,
    files: Vec<FileJson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct FileJson {
    path: String,
    channel: Option<String>,
    build_id: Option<String>,
    signed_by: Option<String>,
    findings: Vec<FindingJson>,
}

#[test]
fn a_good_repository_passes() {
    let ctx = signed_repo();
    let mut cmd = ctx.otactl();
    cmd.arg("lint");
    let out = otactl_snapshot!(ctx, cmd, "good");
    assert_eq!(out.status.code(), Some(0));
    let out = ctx
        .otactl()
        .args(["lint", "--format", "json"])
        .output()
        .unwrap();
    let report: LintJson = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report.ok);
    assert_eq!(report.files.len(), 3);
    assert!(
        report
            .files
            .iter()
            .all(|f| f.signed_by.as_deref() == Some(KEY_ID))
    );
}

/// Several problems in several files: every one is reported, not just the first.
fn broken_repo() -> TestContext {
    let ctx = signed_repo();
    let stable = ctx.read("channels/stable/manifest.json");
    ctx.write(
        "channels/stable/manifest.json",
        stable.replace("\"notes\"", "\"extra\": \"x\",\n  \"notes\""),
    );
    let staging = ctx.read("channels/staging/manifest.json");
    ctx.write(
        "channels/staging/manifest.json",
        staging.replace("staging build", "tampered"),
    );
    let canary = ctx.read("channels/canary/manifest.json");
    ctx.write(
        "channels/canary/manifest.json",
        canary.replace("\"channel\": \"canary\"", "\"channel\": \"stable\""),
    );
    ctx.write(
        "channels/beta/manifest.json",
        manifest_json("stable", "20260101-0000-1111111", None, "stray"),
    );
    ctx
}

#[test]
fn every_problem_of_every_file_is_reported() {
    let ctx = broken_repo();
    let mut cmd = ctx.otactl();
    cmd.arg("lint");
    let out = otactl_snapshot!(ctx, cmd, "broken");
    assert_eq!(out.status.code(), Some(1));

    let out = ctx
        .otactl()
        .args(["lint", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: LintJson = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!report.ok);
    let errors = |path: &str| -> Vec<(Option<usize>, String)> {
        let file = report
            .files
            .iter()
            .find(|f| f.path == path)
            .unwrap_or_else(|| panic!("{path} not reported"));
        file.findings
            .iter()
            .filter(|f| f.severity == "error")
            .map(|f| (f.line, f.message.clone()))
            .collect()
    };
    let stable = errors("channels/stable/manifest.json");
    assert!(
        stable
            .iter()
            .any(|(l, m)| *l == Some(11) && m.contains("unknown key \"extra\"")),
        "{stable:?}"
    );
    // The unknown key also changes the signed bytes.
    assert!(
        stable.iter().any(|(_, m)| m.contains("does not verify")),
        "{stable:?}"
    );
    let staging = errors("channels/staging/manifest.json");
    assert_eq!(staging.len(), 1, "{staging:?}");
    assert!(staging[0].1.contains("does not verify"));
    let canary = errors("channels/canary/manifest.json");
    assert!(
        canary
            .iter()
            .any(|(l, m)| *l == Some(8) && m.contains("in the folder `canary`")),
        "{canary:?}"
    );
    let beta = errors("channels/beta/manifest.json");
    assert!(beta[0].1.contains("not in a channel folder"), "{beta:?}");
    assert_eq!(
        report.errors,
        stable.len() + staging.len() + canary.len() + beta.len()
    );
    // `extra` is not where sorted keys would put it.
    assert_eq!(report.warnings, 1);
}

#[test]
fn no_strict_keys_turns_unknown_keys_into_warnings() {
    let ctx = TestContext::new();
    let text = manifest_json("stable", "20260110-0800-7777777", None, "n")
        .replace("\"notes\"", "\"extra\": \"x\",\n  \"notes\"");
    ctx.write("channels/stable/manifest.json", text);
    assert_eq!(
        ctx.otactl().arg("lint").output().unwrap().status.code(),
        Some(1)
    );
    let out = ctx
        .otactl()
        .args(["lint", "--no-strict-keys"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("warning: channels/stable/manifest.json:10: unknown key \"extra\""),
        "{}",
        stdout(&out)
    );
}

#[test]
fn github_format_prints_workflow_commands_and_appends_a_summary() {
    let ctx = broken_repo();
    let summary = ctx.root().join("summary.md");
    let run = || {
        ctx.otactl()
            .args(["lint", "--format", "github"])
            .env("GITHUB_STEP_SUMMARY", &summary)
            .output()
            .unwrap()
    };
    let out = run();
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("github", ctx.filter(&stdout(&out)));
    let first = std::fs::read_to_string(&summary).unwrap();
    assert!(
        first.starts_with("### otactl lint\n\n| file | build id | result | problems |\n"),
        "{first}"
    );
    run();
    let second = std::fs::read_to_string(&summary).unwrap();
    assert_eq!(
        second,
        format!("{first}{first}"),
        "the summary is appended, not replaced"
    );
}

#[test]
fn base_ref_refuses_downgrades() {
    let ctx = signed_repo();
    ctx.git_init();
    ctx.git_commit("channels");
    // stable goes back, staging lowers min_build_id, canary moves sideways.
    write_signed(
        &ctx,
        "stable",
        "20260109-0000-7777777",
        Some("20251201-0930-1a2b3c4"),
    );
    write_signed(
        &ctx,
        "staging",
        "20260115-0000-8888888",
        Some("20251101-0000-1a2b3c4"),
    );
    write_signed(
        &ctx,
        "canary",
        "20260115-1614-aaaaaaa",
        Some("20251201-0930-1a2b3c4"),
    );
    let mut cmd = ctx.otactl();
    cmd.args(["lint", "--base", "HEAD"]);
    let out = otactl_snapshot!(ctx, cmd, "base_downgrades");
    assert_eq!(out.status.code(), Some(1));

    // Later builds, and a channel that did not exist at the base, are fine.
    write_signed(
        &ctx,
        "stable",
        "20260111-0000-7777777",
        Some("20251201-0930-1a2b3c4"),
    );
    write_signed(
        &ctx,
        "staging",
        "20260115-0000-8888888",
        Some("20251201-0930-1a2b3c4"),
    );
    write_signed(
        &ctx,
        "canary",
        "20260115-1615-aaaaaaa",
        Some("20251201-0930-1a2b3c4"),
    );
    ctx.write("otactl.toml", "channels = [\"canary\", \"staging\", \"stable\", \"edge\"]\n[signing]\npublic_keys = [\"keys/ota_pubkey.pem\"]\nrequire = true\n");
    write_signed(&ctx, "edge", "20260101-0000-5555555", None);
    let out = ctx
        .otactl()
        .args(["lint", "--base", "HEAD"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );

    let mut cmd = ctx.otactl();
    cmd.args(["lint", "--base", "nosuchref"]);
    let out = otactl_snapshot!(ctx, cmd, "base_unknown");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_private_key_among_trusted_keys_is_reported_never_printed() {
    let ctx = signed_repo();
    std::fs::copy(
        fixtures().join("vectors/rfc8032-test1.private.pem"),
        ctx.path("keys/private.pem"),
    )
    .unwrap();
    ctx.write(
        "otactl.toml",
        "[signing]\npublic_keys = [\"keys/ota_pubkey.pem\", \"keys/private.pem\"]\n",
    );
    let out = ctx.otactl().arg("lint").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("error: keys/private.pem: trusted key file is a private key"),
        "{}",
        stdout(&out)
    );
    let private =
        std::fs::read_to_string(fixtures().join("vectors/rfc8032-test1.private.pem")).unwrap();
    for line in private.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!stdout(&out).contains(line) && !stderr(&out).contains(line));
    }
}

#[test]
fn layout_paths_and_fresh_repositories() {
    let ctx = TestContext::new();
    // An empty folder has no channel at all: checking nothing is no pass (SPEC 6).
    let mut cmd = ctx.otactl();
    cmd.arg("lint");
    let out = otactl_snapshot!(ctx, cmd, "fresh");
    assert_eq!(out.status.code(), Some(2));
    // Compact JSON is valid but not the house layout: a warning.
    let value: serde_json::Value =
        serde_json::from_str(&manifest_json("stable", "20260110-0800-7777777", None, "n")).unwrap();
    ctx.write("channels/stable/manifest.json", value.to_string());
    let out = ctx.otactl().arg("lint").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("warning: channels/stable/manifest.json: not in the house layout"),
        "{}",
        stdout(&out)
    );
    // PATH arguments: a file, and a folder searched for manifest.json.
    ctx.write(
        "elsewhere/a/stable/manifest.json",
        manifest_json("stable", "20260110-0800-7777777", None, "n"),
    );
    ctx.write(
        "elsewhere/b/canary/manifest.json",
        manifest_json("stable", "20260110-0800-7777777", None, "n"),
    );
    let out = ctx
        .otactl()
        .args(["lint", "--format", "json", "elsewhere"])
        .output()
        .unwrap();
    let report: LintJson = serde_json::from_slice(&out.stdout).unwrap();
    let paths: Vec<&str> = report.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "elsewhere/a/stable/manifest.json",
            "elsewhere/b/canary/manifest.json"
        ]
    );
    assert_eq!(
        report.errors, 1,
        "the canary folder holds a stable manifest"
    );
    let out = ctx
        .otactl()
        .args(["lint", "elsewhere/a/stable/manifest.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn configuration_errors_and_other_folders() {
    let ctx = TestContext::new();
    ctx.write(
        "otactl.toml",
        "channels = [\"stable\"]\nsigning_keys = [\"x\"]\n",
    );
    let mut cmd = ctx.otactl();
    cmd.arg("lint");
    let out = otactl_snapshot!(ctx, cmd, "config_unknown_key");
    assert_eq!(out.status.code(), Some(2));
    // -C runs elsewhere; --config picks another file.
    let other = ctx.root().join("other");
    std::fs::create_dir_all(other.join("stable")).unwrap();
    std::fs::write(
        other.join("stable/manifest.json"),
        manifest_json("stable", "20260110-0800-7777777", None, "n"),
    )
    .unwrap();
    std::fs::write(
        other.join("flat.toml"),
        "channels_dir = \".\"\nchannels = [\"stable\"]\n",
    )
    .unwrap();
    let out = ctx
        .otactl()
        .arg("-C")
        .arg(&other)
        .args(["lint", "--config", "flat.toml"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("checked 1 manifest"),
        "{}",
        stderr(&out)
    );
}
