//! The real channel repository (`tests/fixtures/evse-ota.bundle`, the public
//! `CaiserSz/evse-ota` with its whole history): otactl works with it as it is. The
//! layout `stable/manifest.json` at the root, no `otactl.toml`, `"min_build_id": ""`
//! in every manifest, template manifests and a legacy build id in its early commits,
//! and files written by a Python signer with `\uXXXX` escapes.

use std::path::PathBuf;
use std::process::Output;

use serde_json::{Map, Value};

use crate::otactl_snapshot;
use crate::support;
use crate::support::assert::assert_exit;
use crate::support::manifest::{run as run_cmd, sign_with, verify_cmd};
use crate::support::output::assert_contains;
use crate::support::{FileJson, FindingJson, LintJson, TestContext, fixtures, stderr, stdout};

/// The commits named in the tests, by the short ids of the real history.
const HEAD: &str = "5a9c747";
/// Stable on the legacy id `20260113-1917-ota1`, canary a template.
const LEGACY: &str = "82f903a";
/// The first commit: a README only.
const INITIAL: &str = "14abee1";
/// Stable on `20260113-2017-722fd33`.
const OLD_STABLE: &str = "5793af8";
/// Staging signed by the Python signer, its notes written as `\u2192`.
const ESCAPED: &str = "a4297ec";
/// The first merge of signed manifests; the commits from it on are the real flow.
const FIRST_SIGNED_MERGE: &str = "4b6de83";

/// The key the tests sign with (RFC 8032 test 1), and its public half.
fn private_key() -> PathBuf {
    fixtures().join("vectors/rfc8032-test1.private.pem")
}

fn public_key() -> PathBuf {
    fixtures().join("vectors/rfc8032-test1.public.pem")
}

/// A clone of the real repository in the working folder, at `commit`.
fn clone_at(commit: &str) -> TestContext {
    let ctx = TestContext::new();
    let bundle = fixtures().join("evse-ota.bundle");
    ctx.run_tool("git", &["clone", "-q", bundle.to_str().unwrap(), "."]);
    checkout(&ctx, commit);
    ctx
}

fn checkout(ctx: &TestContext, commit: &str) {
    ctx.run_tool("git", &["checkout", "-q", "--detach", commit]);
}

fn git_text(ctx: &TestContext, args: &[&str]) -> String {
    String::from_utf8(ctx.git_in(&ctx.cwd, args)).unwrap()
}

fn run(ctx: &TestContext, args: &[&str]) -> Output {
    ctx.otactl().args(args).output().unwrap()
}

fn lint_json(ctx: &TestContext, extra: &[&str]) -> (Output, LintJson) {
    let (report, out) = support::lint::lint_json(ctx, extra);
    (out, report)
}

fn messages(file: &FileJson) -> Vec<String> {
    file.findings
        .iter()
        .map(|f| format!("{}: {}", f.severity, f.message))
        .collect()
}

/// Whether Python verifies the signature of `file` under the test key, over
/// `json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=…)` of the
/// object without its `signature`, as a device does.
fn python_verifies(ctx: &TestContext, file: &str, ensure_ascii: bool) -> bool {
    let script = r#"
import base64, json, sys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import load_pem_public_key
with open(sys.argv[1], encoding="utf-8") as f:
    obj = json.load(f)
signature = base64.b64decode(obj.pop("signature"), validate=True)
with open(sys.argv[2], "rb") as f:
    key = load_pem_public_key(f.read())
message = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=sys.argv[3] == "1").encode()
try:
    key.verify(signature, message)
    print("valid")
except InvalidSignature:
    print("invalid")
"#;
    let out = ctx
        .tool("python3")
        .args(["-c", script, file])
        .arg(public_key())
        .arg(if ensure_ascii { "1" } else { "0" })
        .output()
        .unwrap();
    assert!(out.status.success(), "python3: {}", stderr(&out));
    match stdout(&out).trim() {
        "valid" => true,
        "invalid" => false,
        other => panic!("python3 said {other:?}"),
    }
}

fn object(text: &str) -> Map<String, Value> {
    serde_json::from_str(text).unwrap()
}

fn sign(ctx: &TestContext, file: &str) -> Output {
    run_cmd(&mut sign_with(ctx, file, &private_key()))
}

// `"min_build_id": ""` counts as absent (SPEC 2.1).

#[test]
fn empty_min_build_id_is_read_as_absent_in_every_manifest_of_the_history() {
    let ctx = clone_at(HEAD);
    let commits = git_text(&ctx, &["rev-list", "--all"]);
    let commits: Vec<&str> = commits.lines().collect();
    assert_eq!(commits.len(), 13);
    let mut manifests = 0;
    for commit in commits {
        checkout(&ctx, commit);
        for file in ["canary", "staging", "stable"].map(|c| format!("{c}/manifest.json")) {
            if !ctx.path(&file).exists() {
                continue;
            }
            assert!(
                ctx.read(&file).contains("\"min_build_id\": \"\""),
                "{commit} {file}"
            );
            manifests += 1;
            let out = run(&ctx, &["manifest", "verify", &file, "--format", "json"]);
            let text = stdout(&out);
            assert!(
                !text.contains("\"key\": \"min_build_id\""),
                "{commit} {file}: {text}"
            );
        }
    }
    assert_eq!(manifests, 34);
}

// The layout and the count of what was checked (SPEC 3, 6).

/// `lint ARGS` in a clone at `commit`, its transcript asserted as snapshot `name`.
fn lint_snapshot_at(commit: &str, args: &[&str], name: &str) -> (TestContext, Output) {
    let ctx = clone_at(commit);
    let mut cmd = ctx.otactl();
    cmd.arg("lint").args(args);
    let out = otactl_snapshot!(ctx, cmd, name);
    (ctx, out)
}

#[test]
fn lint_at_head_reads_three_manifests_and_says_signatures_were_not_checked() {
    let (ctx, out) = lint_snapshot_at(HEAD, &[], "real_repo_head");
    assert_exit(&out, 0);
    assert_contains(&stderr(&out), "checked 3 manifests: 0 errors");
    let (out, report) = lint_json(&ctx, &[]);
    assert_exit(&out, 0);
    assert!(report.ok);
    assert_eq!(report.errors, 0);
    let paths: Vec<&str> = report.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "canary/manifest.json",
            "staging/manifest.json",
            "stable/manifest.json"
        ]
    );
    // Canary and stable are signed by the real key, which no otactl.toml names.
    for path in ["canary/manifest.json", "stable/manifest.json"] {
        assert_eq!(
            messages(report.file(path)),
            ["warning: the signature was not checked: no trusted public key"],
            "{path}"
        );
    }
    assert_eq!(report.warnings, 2);
}

#[test]
fn lint_verbose_says_the_layout_was_read_as_channels_dir_dot() {
    let ctx = clone_at(HEAD);
    let out = run(&ctx, &["lint", "-v"]);
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(err.contains("channels_dir = \".\""), "{err}");
    assert!(err.contains("no `otactl.toml`"), "{err}");
}

#[test]
fn lint_at_the_initial_commit_finds_no_channel_and_exits_2() {
    let ctx = clone_at(INITIAL);
    let out = run(&ctx, &["lint"]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("no channel"), "{err}");
    assert!(!err.contains("checked 0 manifests"), "{err}");
    // Folders given on the command line that hold no manifest are no pass either.
    let out = run(&ctx, &["lint", "."]);
    assert_exit(&out, 2);
}

#[test]
fn lint_at_the_legacy_commit_fails_on_the_legacy_id_and_the_template() {
    let (ctx, out) = lint_snapshot_at(LEGACY, &[], "real_repo_legacy");
    assert_exit(&out, 1);
    let (_, report) = lint_json(&ctx, &[]);
    assert!(!report.ok);
    let stable = report.file("stable/manifest.json");
    let legacy = stable
        .findings
        .iter()
        .find(|f| f.key.as_deref() == Some("build_id"))
        .unwrap();
    assert_eq!(legacy.severity, "error");
    assert!(
        legacy
            .message
            .contains("`20260113-1917-ota1` is not a build id: its suffix `ota1`"),
        "{legacy:?}"
    );
    assert!(
        legacy.hint.as_deref().unwrap().contains("legacy id"),
        "{legacy:?}"
    );
    let canary = report.file("canary/manifest.json");
    assert!(
        canary.findings.iter().any(
            |f| f.is_error_about("build_id") && f.hint.as_deref().unwrap().contains("template")
        ),
        "{canary:?}"
    );
    // A template is not a release: staging (no folder at that commit) is not reported.
    assert_eq!(report.files.len(), 2);
}

impl FindingJson {
    fn is_error_about(&self, key: &str) -> bool {
        self.severity == "error" && self.key.as_deref() == Some(key)
    }
}

#[test]
fn a_configured_channel_without_a_manifest_is_not_released_yet() {
    let ctx = clone_at(HEAD);
    ctx.write(
        "otactl.toml",
        "channels_dir = \".\"\nchannels = [\"canary\", \"staging\", \"stable\", \"beta\"]\n",
    );
    let (out, report) = lint_json(&ctx, &[]);
    assert_exit(&out, 0);
    let beta = report.file("beta/manifest.json");
    assert_eq!(beta.findings.len(), 1);
    assert_eq!(beta.findings[0].severity, "warning");
    assert!(
        beta.findings[0].message.contains("not released yet"),
        "{beta:?}"
    );
    let out = run(&ctx, &["lint"]);
    assert_contains(&stderr(&out), "checked 3 manifests");
    // A repository fresh from `otactl init`: configured, nothing released, clean.
    let fresh = TestContext::new();
    fresh.write("otactl.toml", "channels = [\"staging\", \"stable\"]\n");
    std::fs::create_dir_all(fresh.path("channels/staging")).unwrap();
    std::fs::create_dir_all(fresh.path("channels/stable")).unwrap();
    let (out, report) = lint_json(&fresh, &[]);
    assert_exit(&out, 0);
    assert_eq!(report.warnings, 2);
}

// `--base` over the real history (SPEC 2.2).

#[test]
fn lint_base_of_each_commit_from_the_first_signed_merge_against_its_first_parent_passes() {
    let ctx = clone_at(HEAD);
    let range = format!("{FIRST_SIGNED_MERGE}^..{HEAD}");
    let commits = git_text(&ctx, &["rev-list", "--first-parent", &range]);
    let mut commits: Vec<String> = commits.lines().map(str::to_owned).collect();
    // And the commits of the merged branches.
    let side = format!("{FIRST_SIGNED_MERGE}..{HEAD}");
    for c in git_text(&ctx, &["rev-list", &side]).lines() {
        if !commits.iter().any(|k| k == c) {
            commits.push(c.to_owned());
        }
    }
    assert_eq!(commits.len(), 5, "{commits:?}");
    for commit in &commits {
        checkout(&ctx, commit);
        let parent = format!("{commit}^1");
        let (out, report) = lint_json(&ctx, &["--base", &parent]);
        assert_exit(&out, 0);
        assert!(report.ok, "{commit}: {report:#?}");
    }
    // The first of them replaces a template canary and a legacy staging.
    checkout(&ctx, FIRST_SIGNED_MERGE);
    let (_, report) = lint_json(&ctx, &["--base", &format!("{FIRST_SIGNED_MERGE}^1")]);
    let canary = messages(report.file("canary/manifest.json"));
    assert!(canary.iter().any(|m| m.contains("template")), "{canary:?}");
    let staging = messages(report.file("staging/manifest.json"));
    assert!(
        staging
            .iter()
            .any(|m| m.starts_with("warning:") && m.contains("legacy")),
        "{staging:?}"
    );
}

#[test]
fn lint_head_against_the_legacy_commit_passes() {
    let (ctx, out) = lint_snapshot_at(HEAD, &["--base", LEGACY], "real_repo_head_vs_legacy");
    assert_exit(&out, 0);
    let (_, report) = lint_json(&ctx, &["--base", LEGACY]);
    let stable = messages(report.file("stable/manifest.json"));
    assert!(
        stable.iter().any(|m| m.starts_with("warning:")
            && m.contains("`20260113-1917-ota1`")
            && m.contains("`20260113-1917`")),
        "{stable:?}"
    );
    let canary = messages(report.file("canary/manifest.json"));
    assert!(
        canary
            .iter()
            .any(|m| m.contains("template") && m.contains("no manifest")),
        "{canary:?}"
    );
    // verify's item 7 reads the base the same way.
    let out = run(
        &ctx,
        &[
            "verify",
            "--channel",
            "stable",
            "--offline",
            "--base",
            LEGACY,
        ],
    );
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), "legacy build id `20260113-1917-ota1`");
    let out = run(
        &ctx,
        &[
            "verify",
            "--channel",
            "canary",
            "--offline",
            "--base",
            LEGACY,
        ],
    );
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), "is a template");
}

#[test]
fn stable_put_back_to_an_old_build_is_a_downgrade_against_head() {
    let ctx = clone_at(HEAD);
    let old = ctx.git_in(
        &ctx.cwd,
        &["show", &format!("{OLD_STABLE}:stable/manifest.json")],
    );
    ctx.write("stable/manifest.json", old);
    let (out, report) = lint_json(&ctx, &["--base", HEAD]);
    assert_exit(&out, 1);
    let stable = report.file("stable/manifest.json");
    assert!(
        stable.findings.iter().any(|f| f.is_error_about("build_id")
            && f.message.starts_with("downgrade")
            && f.message.contains("20260113-2017-722fd33")),
        "{stable:?}"
    );
    // verify says the same in item 7.
    let out = run(
        &ctx,
        &["verify", "--channel", "stable", "--offline", "--base", HEAD],
    );
    assert_exit(&out, 1);
    assert_contains(&stdout(&out), "downgrade");
}

// `verify --offline`, signing, and Python's verifier.

#[test]
fn verify_offline_of_each_channel_at_head_passes() {
    let ctx = clone_at(HEAD);
    for channel in ["canary", "staging", "stable"] {
        let out = run(&ctx, &["verify", "--channel", channel, "--offline"]);
        assert_exit(&out, 0);
        assert_contains(
            &stderr(&out),
            &format!("checklist passed for `{channel}/manifest.json`"),
        );
        assert_contains(
            &stdout(&out),
            "no downgrade: same build as at `origin/main`",
        );
    }
}

#[test]
fn signing_heads_staging_keeps_every_key_and_python_verifies_it_both_ways() {
    let ctx = clone_at(HEAD);
    let file = "staging/manifest.json";
    let before = ctx.read(file);
    let out = sign(&ctx, file);
    assert_exit(&out, 0);
    let after = ctx.read(file);
    let (mut old, mut new) = (object(&before), object(&after));
    assert_eq!(old.remove("signature").unwrap(), "");
    let signature = new.remove("signature").unwrap();
    assert_eq!(signature.as_str().unwrap().len(), 88);
    // Every key and value kept, `"min_build_id": ""` included; the file was in the
    // house layout already, so only the signature line changed.
    assert_eq!(old, new);
    assert_eq!(new["min_build_id"], "");
    assert_eq!(
        after,
        before.replace(
            "\"signature\": \"\"",
            &format!("\"signature\": {signature}")
        )
    );
    // A device verifies it: the notes are ASCII, so both of Python's spellings agree.
    assert!(python_verifies(&ctx, file, false));
    assert!(python_verifies(&ctx, file, true));
    // And otactl verifies it, keeping the file as it is.
    let out = run_cmd(&mut verify_cmd(&ctx, file, &public_key()));
    assert_exit(&out, 0);
    assert_eq!(ctx.read(file), after);
    // Re-signing is a no-op.
    let out = sign(&ctx, file);
    assert_exit(&out, 0);
    assert_contains(&stderr(&out), "unchanged");
}

/// `a4297ec`'s staging manifest with a valid build id in place of the legacy one;
/// the rest, `\u2192` escapes included, as the Python signer wrote it.
fn escaped_staging(ctx: &TestContext) -> String {
    let text = String::from_utf8(ctx.git_in(
        &ctx.cwd,
        &["show", &format!("{ESCAPED}:staging/manifest.json")],
    ))
    .unwrap();
    assert!(text.contains("real download\\u2192deploy"), "{text}");
    let text = text.replace("20260113-1917-ota1", "20260113-1917-c272af4");
    let lines: Vec<&str> = text
        .lines()
        .map(|l| {
            if l.starts_with("  \"signature\": ") {
                "  \"signature\": \"\""
            } else {
                l
            }
        })
        .collect();
    lines.join("\n") + "\n"
}

#[test]
fn a_python_escaped_file_reads_and_its_notes_verify_with_ensure_ascii_false_only() {
    let ctx = clone_at(HEAD);
    let file = "staging/manifest.json";
    let text = escaped_staging(&ctx);
    ctx.write(file, &text);
    // Reading it works: one warning, about the non-ASCII notes.
    let (out, report) = lint_json(&ctx, &[file]);
    assert_exit(&out, 0);
    let findings = &report.file(file).findings;
    let notes: Vec<&FindingJson> = findings
        .iter()
        .filter(|f| f.key.as_deref() == Some("notes"))
        .collect();
    assert_eq!(notes.len(), 1, "{findings:?}");
    assert_eq!(notes[0].severity, "warning");
    let hint = notes[0].hint.as_deref().unwrap();
    assert!(hint.contains("ensure_ascii=True"), "{hint}");
    assert!(hint.contains("[signing] ascii_only = true"), "{hint}");

    let out = sign(&ctx, file);
    assert_exit(&out, 0);
    // otactl writes UTF-8: the escapes become the characters they stand for.
    let signed = ctx.read(file);
    assert!(signed.contains("real download→deploy"), "{signed}");
    assert!(!signed.contains("\\u2192"), "{signed}");
    let mut kept = object(&signed);
    kept.remove("signature");
    let mut original = object(&text);
    original.remove("signature");
    assert_eq!(kept, original);
    // The signature is over the canonical UTF-8 bytes (SPEC 2.3).
    assert!(python_verifies(&ctx, file, false));
    assert!(!python_verifies(&ctx, file, true));
    // The same holds for the file with the escapes kept: the signature does not
    // depend on how the file spells the text.
    let escaped = text.replace(
        "\"signature\": \"\"",
        &format!("\"signature\": {}", object(&signed)["signature"]),
    );
    ctx.write("escaped.json", &escaped);
    assert!(python_verifies(&ctx, "escaped.json", false));
    assert!(!python_verifies(&ctx, "escaped.json", true));
    let out = ctx
        .otactl()
        .args(["manifest", "verify", "escaped.json", "--pubkey"])
        .arg(public_key())
        .output()
        .unwrap();
    assert_exit(&out, 0);

    // `[signing] ascii_only = true` turns the warning into an error.
    ctx.write(
        "otactl.toml",
        "channels_dir = \".\"\n[signing]\nascii_only = true\n",
    );
    let (out, report) = lint_json(&ctx, &[file]);
    assert_exit(&out, 1);
    assert!(
        report
            .file(file)
            .findings
            .iter()
            .any(|f| f.is_error_about("notes") && f.message.contains("ascii_only")),
        "{report:#?}"
    );
}

/// `manifest new` of a build on `channel`, as the fleet's release flow would write it:
/// the GitHub release asset of `id`, whose sha256 is 64 times `digit`.
fn new_build(ctx: &TestContext, channel: &str, id: &str, digit: char, notes: &str) -> Output {
    let url =
        format!("https://github.com/CaiserSz/evse-ota/releases/download/{id}/evse-src-{id}.tar.gz");
    let sha = digit.to_string().repeat(64);
    let flags = [
        ("--channel", channel),
        ("--build-id", id),
        ("--url", &url),
        ("--sha256", &sha),
        ("--notes", notes),
    ];
    let mut cmd = ctx.otactl();
    cmd.args(["manifest", "new"]);
    for (flag, value) in flags {
        cmd.args([flag, value]);
    }
    cmd.output().unwrap()
}

#[test]
fn manifest_new_keeps_the_key_set_of_the_manifest_it_replaces() {
    let ctx = clone_at(HEAD);
    let before = object(&ctx.read("staging/manifest.json"));
    let id = "20260117-0900-1234567";
    let out = new_build(&ctx, "staging", id, 'a', "staging: next build");
    assert_exit(&out, 0);
    assert_contains(&stdout(&out), "staging/manifest.json");
    let after = object(&ctx.read("staging/manifest.json"));
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    assert_eq!(after["min_build_id"], "");
    assert_eq!(after["signature"], "");
    assert_eq!(after["build_id"], id);
    // Written again, the same build is unchanged.
    let out = new_build(&ctx, "staging", id, 'a', "staging: next build");
    assert_exit(&out, 0);
    assert_contains(&stderr(&out), "unchanged");
    // And it lints clean against HEAD.
    let (out, _) = lint_json(&ctx, &["--base", HEAD]);
    assert_exit(&out, 0);

    // Replacing a signed manifest: `"min_build_id": ""` stays, the real signature
    // does not cover the new build and goes until `manifest sign` puts it back.
    let out = new_build(&ctx, "stable", "20260117-1000-89abcde", 'b', "");
    assert_exit(&out, 0);
    let stable = object(&ctx.read("stable/manifest.json"));
    assert_eq!(stable["min_build_id"], "");
    assert!(stable.get("signature").is_none());
    assert_exit(&sign(&ctx, "stable/manifest.json"), 0);
    let signed = object(&ctx.read("stable/manifest.json"));
    let head_stable = object(
        &String::from_utf8(
            ctx.git_in(&ctx.cwd, &["show", &format!("{HEAD}:stable/manifest.json")]),
        )
        .unwrap(),
    );
    assert_eq!(
        signed.keys().collect::<Vec<_>>(),
        head_stable.keys().collect::<Vec<_>>()
    );
    assert!(python_verifies(&ctx, "stable/manifest.json", true));
}

#[test]
fn manifest_new_over_a_template_counts_it_as_no_current_manifest() {
    let ctx = clone_at("45d18df");
    let template = object(&ctx.read("canary/manifest.json"));
    let id = "20260113-1500-1a2b3c4";
    let out = new_build(&ctx, "canary", id, 'c', "canary: first build");
    assert_exit(&out, 0);
    assert_contains(&stderr(&out), "is a template");
    let canary = object(&ctx.read("canary/manifest.json"));
    assert_eq!(
        canary.keys().collect::<Vec<_>>(),
        template.keys().collect::<Vec<_>>()
    );
    assert_eq!(canary["min_build_id"], "");
    assert_eq!(canary["build_id"], id);
    // It replaces the template cleanly against the commit that holds it.
    let (out, report) = lint_json(&ctx, &["--base", "HEAD"]);
    assert_exit(&out, 1);
    // Only stable's template fails now; canary is a release.
    assert_eq!(report.file("canary/manifest.json").findings.len(), 1);
    assert!(
        messages(report.file("canary/manifest.json"))[0].contains("is a template"),
        "{report:#?}"
    );
}
