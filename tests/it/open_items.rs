//! The findings left open by the last round of measuring, each with its own test: a
//! private key listed as trusted, `-C` to a missing folder, where `--config` puts the
//! repository root, `lint` of the channels folder, the refusals of `manifest new`,
//! `publish dir` naming `otactl.toml` for a bad value from it, and item 8 comparing
//! the artifact of the same build on the channel before.

use std::process::Output;

use crate::support::lint::lint_json;
use crate::support::{LintJson, TestContext, fixtures, manifest_json, stderr, stdout};

const ID: &str = "20260115-1614-9121078";
const SHA: &str = "3f0c2b4a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a";

fn run(ctx: &TestContext, args: &[&str]) -> Output {
    ctx.otactl().args(args).output().unwrap()
}

fn url(id: &str) -> String {
    format!("https://github.com/o/r/releases/download/{id}/evse-src-{id}.tar.gz")
}

// 1. A private key listed in `[signing] public_keys`.

/// The body lines of the test private key: none may be printed.
fn private_key_lines() -> Vec<String> {
    let pem =
        std::fs::read_to_string(fixtures().join("vectors/rfc8032-test1.private.pem")).unwrap();
    pem.lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::to_owned)
        .collect()
}

fn assert_no_private_key(out: &Output) {
    for line in private_key_lines() {
        assert!(
            !stdout(out).contains(&line) && !stderr(out).contains(&line),
            "the private key was printed"
        );
    }
}

#[test]
fn a_private_key_listed_as_trusted_gets_a_hint_to_replace_it_and_rotate() {
    let ctx = TestContext::new();
    std::fs::create_dir_all(ctx.path("keys")).unwrap();
    std::fs::copy(
        fixtures().join("vectors/rfc8032-test1.private.pem"),
        ctx.path("keys/signing.pem"),
    )
    .unwrap();
    ctx.write(
        "otactl.toml",
        "[signing]\npublic_keys = [\"keys/signing.pem\"]\n",
    );
    ctx.write(
        "channels/stable/manifest.json",
        manifest_json("stable", ID, None, "n"),
    );

    let out = run(&ctx, &["lint"]);
    insta::assert_snapshot!("private_key_trusted_lint", ctx.transcript(&out));
    assert_eq!(out.status.code(), Some(1));
    assert_no_private_key(&out);

    let (report, out) = lint_json(&ctx, &[]);
    assert!(!report.ok);
    let key = report
        .files
        .iter()
        .find(|f| f.path == "keys/signing.pem")
        .unwrap();
    let hint = key.findings[0].hint.as_deref().unwrap_or_default();
    assert!(
        hint.contains("`otactl key show keys/signing.pem > keys/ota_pubkey.pem`")
            && hint.contains("rotate")
            && hint.contains("otactl key generate")
            && hint.contains("re-sign"),
        "{hint}"
    );
    assert_no_private_key(&out);

    // The commands that load the trusted keys as an error say the same.
    let out = run(
        &ctx,
        &["manifest", "verify", "channels/stable/manifest.json"],
    );
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!("private_key_trusted_manifest_verify", ctx.transcript(&out));
    assert_no_private_key(&out);

    // Named `keys/ota_pubkey.pem` itself, the hint never sends the public half over
    // the file it is read from (the shell would empty it first).
    std::fs::rename(
        ctx.path("keys/signing.pem"),
        ctx.path("keys/ota_pubkey.pem"),
    )
    .unwrap();
    ctx.write(
        "otactl.toml",
        "[signing]\npublic_keys = [\"keys/ota_pubkey.pem\"]\n",
    );
    let (report, _) = lint_json(&ctx, &[]);
    let key = report
        .files
        .iter()
        .find(|f| f.path == "keys/ota_pubkey.pem")
        .unwrap();
    let hint = key.findings[0].hint.as_deref().unwrap_or_default();
    assert!(
        hint.contains("`otactl key show keys/ota_pubkey.pem > keys/ota_pubkey.pub.pem`"),
        "{hint}"
    );
}

// 2. `-C` to a folder that is not there.

#[test]
fn dash_c_to_a_missing_folder_or_a_file_names_the_flag() {
    let ctx = TestContext::new();
    let out = run(&ctx, &["-C", "nowhere", "lint"]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!("dash_c_missing", ctx.transcript(&out));
    ctx.write("afile", "x");
    let out = run(&ctx, &["-C", "afile", "lint"]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!("dash_c_not_a_folder", ctx.transcript(&out));
}

// 3. `--config FILE`: its folder is the repository root.

#[test]
fn config_flag_makes_its_folder_the_repository_root() {
    let ctx = TestContext::new();
    // The working folder has channels of its own, which `--config sub/otactl.toml`
    // must not read: every path in the file is relative to `sub/`.
    ctx.write(
        "channels/stable/manifest.json",
        "not the manifest the configuration means\n",
    );
    ctx.write(
        "sub/otactl.toml",
        "channels = [\"stable\"]\n[signing]\npublic_keys = [\"keys/ota_pubkey.pem\"]\nrequire = true\n[dir]\npath = \"releases\"\n",
    );
    std::fs::create_dir_all(ctx.path("sub/keys")).unwrap();
    std::fs::copy(
        fixtures().join("vectors/rfc8032-test1.public.pem"),
        ctx.path("sub/keys/ota_pubkey.pem"),
    )
    .unwrap();
    let config = ["--config", "sub/otactl.toml"];

    // `manifest new` writes into `sub/channels/`, `manifest sign` trusts `sub/keys/`.
    let new = |ctx: &TestContext| {
        ctx.otactl()
            .args(config)
            .args(["manifest", "new", "--channel", "stable", "--build-id", ID])
            .args(["--url", &url(ID), "--sha256", SHA])
            .output()
            .unwrap()
    };
    let out = new(&ctx);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "sub/channels/stable/manifest.json\n");
    let key = fixtures().join("vectors/rfc8032-test1.private.pem");
    let out = ctx
        .otactl()
        .args(config)
        .args(["manifest", "sign", "sub/channels/stable/manifest.json"])
        .arg("--key")
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // `lint` reads `sub/channels/` with the key of `sub/keys/`, and `-v` says where
    // the root is.
    let out = ctx
        .otactl()
        .args(["-v", "lint"])
        .args(config)
        .output()
        .unwrap();
    insta::assert_snapshot!("config_flag_root", ctx.transcript(&out));
    assert_eq!(out.status.code(), Some(0));

    // The same as running in `sub/`, where the file is found.
    let (given, _) = lint_json(&ctx, &config);
    let found = ctx
        .otactl()
        .current_dir(ctx.path("sub"))
        .args(["lint", "--format", "json"])
        .output()
        .unwrap();
    let found: LintJson = serde_json::from_slice(&found.stdout).unwrap();
    assert!(given.ok && found.ok);
    assert_eq!(
        (given.errors, given.warnings, given.files.len()),
        (found.errors, found.warnings, found.files.len())
    );
    assert_eq!(given.files[0].path, "sub/channels/stable/manifest.json");
    assert_eq!(found.files[0].path, "channels/stable/manifest.json");
    assert!(given.files[0].signed_by.is_some());

    // `[dir] path` is relative to `sub/` too; the file given is relative to the
    // working folder, as every path on the command line is.
    ctx.write(&format!("out/app-src-{ID}.tar.gz"), "tarball bytes\n");
    let out = ctx
        .otactl()
        .args(config)
        .args(["publish", "dir", &format!("out/app-src-{ID}.tar.gz")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        ctx.path(&format!("sub/releases/{ID}/app-src-{ID}.tar.gz"))
            .is_file()
    );
    assert!(!ctx.path("releases").exists());

    // The help says so.
    let out = run(&ctx, &["--help"]);
    let help = stdout(&out);
    assert!(
        help.contains("FILE's folder is the repository root"),
        "{help}"
    );
}

// 4. `lint channels`: a PATH inside the channels folder gets the channel-folder rule.

#[test]
fn lint_of_the_channels_folder_flags_a_folder_that_is_no_channel() {
    let ctx = TestContext::new();
    ctx.write(
        "channels/stable/manifest.json",
        manifest_json("stable", ID, None, "n"),
    );
    // `beta` is not a channel: its manifest would be served to no device.
    ctx.write(
        "channels/beta/manifest.json",
        manifest_json("stable", ID, None, "n"),
    );
    let message = "this manifest is not in a channel folder; channels are canary, staging, stable under `channels`";
    for args in [
        &[][..],
        &["channels"],
        &["channels/"],
        &["channels/beta"],
        &["channels/beta/manifest.json"],
        &["."],
        &["../repo/channels"],
    ] {
        let (report, out) = lint_json(&ctx, args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "lint {args:?}: {}",
            stdout(&out)
        );
        let beta = report
            .files
            .iter()
            .find(|f| f.path.ends_with("channels/beta/manifest.json"))
            .unwrap_or_else(|| panic!("lint {args:?}: {report:#?}"));
        assert_eq!(beta.findings.len(), 1, "lint {args:?}: {report:#?}");
        assert_eq!(beta.findings[0].message, message, "lint {args:?}");
        assert_eq!(report.errors, 1, "lint {args:?}: {report:#?}");
    }
    let out = run(&ctx, &["lint", "channels"]);
    insta::assert_snapshot!("lint_channels_folder", ctx.transcript(&out));

    // A manifest outside the channels folder is linted as a file, as before.
    ctx.write(
        "elsewhere/beta/manifest.json",
        manifest_json("stable", ID, None, "n"),
    );
    let (report, out) = lint_json(&ctx, &["elsewhere"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(report.ok);
}

// 5. `manifest new` refusals: the existing file, its line, a hint of their own.

/// The current manifest, laid out by hand: `build_id` on line 2, `min_build_id` on
/// line 3, `artifact` on line 5 (the new manifest, in the house layout, has them on
/// lines 7, 10 and 2).
fn current_manifest() -> String {
    format!(
        "{{\n  \"build_id\": \"{ID}\",\n  \"min_build_id\": \"20260101-0000-1111111\",\n  \"channel\": \"stable\",\n  \"artifact\": {{\n    \"kind\": \"source-tar\",\n    \"sha256\": \"{SHA}\",\n    \"url\": \"{}\"\n  }},\n  \"created_utc\": \"2026-01-15T13:55:03Z\",\n  \"notes\": \"current\"\n}}\n",
        url(ID)
    )
}

fn manifest_new(ctx: &TestContext, id: &str, extra: &[&str]) -> Output {
    ctx.otactl()
        .args(["manifest", "new", "--channel", "stable", "--build-id", id])
        .args(["--url", &url(id), "--sha256", SHA])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn manifest_new_refusals_name_the_current_file_and_line_with_a_hint_of_their_own() {
    let ctx = TestContext::new();
    let current = current_manifest();
    ctx.write("channels/stable/manifest.json", &current);

    let cases: [(&str, &str, &[&str]); 4] = [
        ("downgrade", "20260114-0900-aaaaaaa", &[]),
        ("same_minute", "20260115-1614-bbbbbbb", &[]),
        (
            "min_build_id_decrease",
            "20260116-0900-ccccccc",
            &["--min-build-id", "20251231-0000-1111111"],
        ),
        (
            "same_build_other_artifact",
            ID,
            &["--sha256", &"b".repeat(64)],
        ),
    ];
    for (name, id, extra) in cases {
        let out = if name == "same_build_other_artifact" {
            ctx.otactl()
                .args(["manifest", "new", "--channel", "stable", "--build-id", id])
                .args(["--url", &url(id)])
                .args(extra)
                .output()
                .unwrap()
        } else {
            manifest_new(&ctx, id, extra)
        };
        assert_eq!(out.status.code(), Some(4), "{name}: {}", stderr(&out));
        insta::assert_snapshot!(format!("manifest_new_{name}"), ctx.transcript(&out));
        assert_eq!(ctx.read("channels/stable/manifest.json"), current, "{name}");
    }
}

// 6. `publish dir`: a bad value from otactl.toml is named as such.

#[test]
fn publish_dir_names_the_key_of_otactl_toml_a_bad_value_came_from() {
    let ctx = TestContext::new();
    ctx.write(&format!("out/app-src-{ID}.tar.gz"), "tarball bytes\n");
    ctx.write(
        "otactl.toml",
        "[dir]\npath = \"../releases\"\nbase_url = \"not a url\"\n",
    );
    let file = format!("out/app-src-{ID}.tar.gz");
    let out = run(&ctx, &["publish", "dir", &file]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!("publish_dir_bad_base_url_in_config", ctx.transcript(&out));
    assert!(!ctx.root().join("releases").exists());

    // Given as a flag, the flag is named.
    let out = run(&ctx, &["publish", "dir", &file, "--base-url", "still not"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("error: invalid value for `--base-url`: `still not` is not a URL"),
        "{}",
        stderr(&out)
    );
    assert!(!ctx.root().join("releases").exists());
}

// 7. Item 8: the same build on the channel before, with another artifact.

#[test]
fn verify_fails_item_8_when_the_previous_channel_has_the_same_build_with_another_artifact() {
    let ctx = TestContext::new();
    ctx.write(
        "channels/staging/manifest.json",
        manifest_json("staging", ID, None, "n"),
    );
    let other = manifest_json("canary", ID, None, "n").replace(SHA, &"b".repeat(64));
    ctx.write("channels/canary/manifest.json", &other);
    let out = run(&ctx, &["verify", "--channel", "staging", "--offline"]);
    insta::assert_snapshot!("item_8_same_build_other_artifact", ctx.transcript(&out));
    assert_eq!(out.status.code(), Some(1));

    // The same artifact on canary passes item 8.
    ctx.write(
        "channels/canary/manifest.json",
        manifest_json("canary", ID, None, "n"),
    );
    let out = run(
        &ctx,
        &[
            "verify",
            "--channel",
            "staging",
            "--offline",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let item = &report["items"][7];
    assert_eq!(item["number"], 8);
    assert_eq!(item["status"], "pass", "{item}");
}
