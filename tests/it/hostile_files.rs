//! Safe on a stranger's pull request: artifacts that are not regular files (a FIFO,
//! `/dev/zero`, a folder), symlinks inside the release folder, secrets on a bad line
//! of `otactl.toml`, the mode of a re-signed manifest, and C1 controls and
//! bidirectional overrides in any manifest string.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::support::assert::{assert_exit_case, assert_not_printed};
use crate::support::files;
use crate::support::fixture::{ID, MANIFEST, SHA, release_url};
use crate::support::keys::openssl_key;
use crate::support::proc::Running;
use crate::support::{TestContext, manifest_json, stderr, stdout};

/// A GitHub-token-like value, made at run time: `otactl tar` of this repository
/// would find it in the source.
fn token() -> String {
    format!("ghp_{}", "0123456789abcdefghijABCDEFGHIJ012345")
}

/// A command that blocks on a FIFO or reads `/dev/zero` forever never ends: give it a
/// generous bound, then kill it and fail, so the test fails instead of hanging.
fn run_bounded(cmd: &mut Command) -> Output {
    Running::spawn(cmd).wait_for(Duration::from_secs(60)).0
}

/// The three kinds of artifact that are not regular files, as (path, what the error
/// must call it): a FIFO (opening it blocks), `/dev/zero` (never ends), a folder.
fn not_regular_files(ctx: &TestContext) -> Vec<(PathBuf, &'static str)> {
    let fifo = ctx.path("in/fw-fifo.bin");
    std::fs::create_dir_all(fifo.parent().unwrap()).unwrap();
    ctx.run_tool("mkfifo", &[fifo.to_str().unwrap()]);
    let folder = ctx.path("in/fw-folder.bin");
    std::fs::create_dir_all(&folder).unwrap();
    vec![
        (fifo, "FIFO"),
        (PathBuf::from("/dev/zero"), "character device"),
        (folder, "folder"),
    ]
}

fn manifest_new(ctx: &TestContext, from_file: &Path) -> Output {
    run_bounded(
        ctx.otactl()
            .args(["manifest", "new", "--channel", "stable", "--build-id", ID])
            .args(["--url", &format!("https://ota.example.com/{ID}/fw.bin")])
            .arg("--from-file")
            .arg(from_file),
    )
}

fn publish_dir(ctx: &TestContext, file: &Path) -> Output {
    run_bounded(ctx.otactl().args(["publish", "dir"]).arg(file).args([
        "--path",
        "../releases",
        "--build-id",
        ID,
    ]))
}

// ---- Finding 1: artifacts must be regular files ----

#[test]
fn manifest_new_refuses_a_fifo_a_device_or_a_folder_as_from_file() {
    let ctx = TestContext::new();
    for (file, what) in not_regular_files(&ctx) {
        let case = format!("--from-file {}", file.display());
        let before = files::tree(ctx.path("").as_path());
        let out = manifest_new(&ctx, &file);
        assert_exit_case(&out, 2, &case);
        let err = stderr(&out);
        assert!(err.contains("--from-file"), "{case}: {err}");
        assert!(err.contains(&file.display().to_string()), "{case}: {err}");
        assert!(err.contains(what), "{case}: {err}");
        assert!(err.contains("not a regular file"), "{case}: {err}");
        assert_eq!(stdout(&out), "", "{case}");
        assert_eq!(files::tree(ctx.path("").as_path()), before, "{case}");
        assert!(!ctx.path("channels").exists(), "{case}");
    }
}

#[test]
fn publish_dir_refuses_a_fifo_a_device_or_a_folder() {
    let ctx = TestContext::new();
    let releases = ctx.root().join("releases");
    std::fs::create_dir_all(releases.join("20251201-0930-1a2b3c4")).unwrap();
    std::fs::write(releases.join("20251201-0930-1a2b3c4/old.bin"), "old\n").unwrap();
    for (file, what) in not_regular_files(&ctx) {
        let case = format!("publish dir {}", file.display());
        let before = files::tree(&releases);
        let out = publish_dir(&ctx, &file);
        assert_exit_case(&out, 2, &case);
        let err = stderr(&out);
        assert!(err.contains("FILE"), "{case}: {err}");
        assert!(err.contains(&file.display().to_string()), "{case}: {err}");
        assert!(err.contains(what), "{case}: {err}");
        assert_eq!(stdout(&out), "", "{case}");
        assert_eq!(files::tree(&releases), before, "{case}");
        assert!(!releases.join(ID).exists(), "{case}: the build's folder");
    }
    // The same with no release folder at all: none is made.
    std::fs::remove_dir_all(&releases).unwrap();
    let out = publish_dir(&ctx, Path::new("/dev/zero"));
    assert_exit_case(&out, 2, "no release folder");
    assert!(!releases.exists());
    insta::assert_snapshot!("publish_dir_dev_zero", ctx.transcript(&out));
}

/// `verify` of a `file://` URL naming a FIFO blocked in `open` forever, past any
/// deadline; `/dev/zero` was stopped only by `--max-size`. Item 3 fails at once.
#[test]
fn verify_of_a_file_url_naming_a_fifo_or_a_device_fails_item_3_at_once() {
    for index in 0..3 {
        // One repository per case: the same build may not change its artifact.
        let ctx = TestContext::new();
        let (file, what) = not_regular_files(&ctx).swap_remove(index);
        let case = format!("verify of file://{}", file.display());
        let url = format!("file://{}", file.display());
        let written = run_bounded(
            ctx.otactl()
                .args(["manifest", "new", "--channel", "stable", "--build-id", ID])
                .args(["--url", &url, "--sha256", SHA, "--notes", "x"]),
        );
        assert_exit_case(&written, 0, &case);
        let started = Instant::now();
        let out = run_bounded(ctx.otactl().args(["verify", "--channel", "stable"]));
        assert_exit_case(&out, 1, &case);
        let item_3 = stdout(&out)
            .lines()
            .find(|l| l.contains(" 3. "))
            .unwrap_or_default()
            .to_owned();
        assert!(item_3.starts_with("✗ FAIL  3."), "{case}: {}", stdout(&out));
        assert!(
            item_3.contains(what) && item_3.contains("not a regular file"),
            "{case}: {item_3}"
        );
        assert!(started.elapsed() < Duration::from_secs(30), "{case}");
    }
}

#[test]
fn a_symlink_to_a_regular_file_is_a_fine_artifact() {
    let ctx = TestContext::new();
    ctx.write("out/real.bin", b"firmware\n");
    std::os::unix::fs::symlink("real.bin", ctx.path("out/fw.bin")).unwrap();
    let out = manifest_new(&ctx, &ctx.path("out/fw.bin"));
    assert_exit_case(&out, 0, "manifest new through a symlink");
    let sha256sum = ctx.run_tool("sha256sum", &["out/real.bin"]);
    let sha = String::from_utf8(sha256sum.stdout).unwrap();
    let written: serde_json::Value = serde_json::from_str(&ctx.read(MANIFEST)).unwrap();
    assert_eq!(
        written["artifact"]["sha256"].as_str(),
        sha.split_whitespace().next()
    );
    let out = publish_dir(&ctx, &ctx.path("out/fw.bin"));
    assert_exit_case(&out, 0, "publish dir through a symlink");
    let dest = ctx.root().join("releases").join(ID).join("fw.bin");
    let meta = std::fs::symlink_metadata(&dest).unwrap();
    assert!(meta.is_file(), "the copy is a file, not a link");
    assert_eq!(std::fs::read(&dest).unwrap(), b"firmware\n");
}

// ---- Finding 2: symlinks inside the release folder ----

#[test]
fn publish_dir_refuses_a_symlink_at_the_build_folder() {
    let ctx = TestContext::new();
    ctx.write("fw.bin", b"firmware\n");
    let releases = ctx.root().join("releases");
    let elsewhere = ctx.root().join("elsewhere");
    std::fs::create_dir_all(&releases).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, releases.join(ID)).unwrap();
    let before = files::tree(&releases);
    let out = publish_dir(&ctx, Path::new("fw.bin"));
    assert_exit_case(&out, 4, "symlinked build folder");
    assert_eq!(stdout(&out), "", "no URL is printed");
    assert!(stderr(&out).contains("symlink"), "{}", stderr(&out));
    assert_eq!(files::tree(&releases), before);
    assert_eq!(
        files::tree(&elsewhere),
        Vec::<String>::new(),
        "nothing written outside"
    );
    insta::assert_snapshot!("publish_dir_symlinked_build_folder", ctx.transcript(&out));
}

#[test]
fn publish_dir_refuses_a_symlink_in_place_of_the_published_file() {
    let ctx = TestContext::new();
    ctx.write("fw.bin", b"firmware\n");
    let releases = ctx.root().join("releases");
    let outside = ctx.root().join("outside");
    std::fs::create_dir_all(releases.join(ID)).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    // The same content outside (it would be "already published"), other content,
    // an endless device, and a dangling link that a write would create.
    std::fs::write(outside.join("same.bin"), b"firmware\n").unwrap();
    std::fs::write(outside.join("other.bin"), b"other\n").unwrap();
    let dest = releases.join(ID).join("fw.bin");
    for target in [
        outside.join("same.bin"),
        outside.join("other.bin"),
        PathBuf::from("/dev/zero"),
        outside.join("missing.bin"),
    ] {
        let case = format!("fw.bin -> {}", target.display());
        let _ = std::fs::remove_file(&dest);
        std::os::unix::fs::symlink(&target, &dest).unwrap();
        let (before, before_outside) = (files::tree(&releases), files::tree(&outside));
        let out = publish_dir(&ctx, Path::new("fw.bin"));
        assert_exit_case(&out, 4, &case);
        assert_eq!(stdout(&out), "", "{case}: no URL is printed");
        assert!(stderr(&out).contains("symlink"), "{case}: {}", stderr(&out));
        assert_eq!(files::tree(&releases), before, "{case}");
        assert_eq!(files::tree(&outside), before_outside, "{case}");
    }
}

// ---- Finding 3: a bad line of otactl.toml is shown with its values masked ----

fn lint_with_config(ctx: &TestContext, config: &str) -> Output {
    ctx.write("otactl.toml", config);
    run_bounded(ctx.otactl().arg("lint"))
}

#[test]
fn a_config_syntax_error_names_the_line_but_masks_its_values() {
    let ctx = TestContext::new();
    ctx.write(MANIFEST, manifest_json("stable", ID, None, "notes"));
    let out = lint_with_config(
        &ctx,
        &format!(
            "name = \"app\"\n\n[github]\nrepo = \"o/r\"\ntoken = {t} # {t}\n",
            t = token()
        ),
    );
    assert_exit_case(&out, 2, "syntax error");
    assert_not_printed(&out, &["ghp_", "0123456789"]);
    assert!(stderr(&out).contains("otactl.toml"), "{}", stderr(&out));
    assert!(stderr(&out).contains("line 5"), "{}", stderr(&out));
    insta::assert_snapshot!("config_syntax_error_masked", ctx.transcript(&out));
}

#[test]
fn other_config_errors_do_not_echo_values() {
    let ctx = TestContext::new();
    ctx.write(MANIFEST, manifest_json("stable", ID, None, "notes"));
    let t = token();
    let cases = [
        // A wrong type: serde's message would quote the value.
        format!("[signing]\nrequire = \"{t}\"\n"),
        format!("[signing]\nrequire = [\"{t}\", 1]\n"),
        // An unknown key holding a token.
        format!("[github]\ntoken = \"{t}\"\n"),
        // An unclosed string, a literal string with trailing junk, a bare token line.
        format!("name = \"{t}\n"),
        format!("name = '{t}' {t}\n"),
        format!("{t}\n"),
        // An inline table whose value is wrong; a value where a channel name goes.
        format!("[github]\nrepo = {{ token = \"{t}\" }}\n"),
        format!("channels = [\"stable\", \"{t}\"]\n"),
        // A token on a good line, the error on the next one.
        format!("[github]\nrepo = \"{t}\"\napi_url = = \"x\"\n"),
        format!("source = \"{t}\"\nname = 12\n"),
    ];
    for config in &cases {
        let out = lint_with_config(&ctx, config);
        assert_exit_case(&out, 2, config);
        assert_not_printed(&out, &["ghp_", "0123456789"]);
        assert!(
            stderr(&out).contains("otactl.toml"),
            "{config}\n{}",
            stderr(&out)
        );
    }
}

// ---- Finding 4: `manifest sign` keeps the file's mode ----

fn signing_key(ctx: &TestContext) -> PathBuf {
    openssl_key(ctx, "release").private
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn manifest_sign_keeps_the_mode_of_the_file_it_replaces() {
    let ctx = TestContext::new();
    let key = signing_key(&ctx);
    let sign = |args: &[&str]| {
        run_bounded(
            ctx.otactl()
                .args(["manifest", "sign", MANIFEST, "--key"])
                .arg(&key)
                .args(args),
        )
    };
    for mode in [0o444, 0o640] {
        ctx.write(MANIFEST, manifest_json("stable", ID, None, "notes"));
        set_mode(&ctx.path(MANIFEST), mode);
        let out = sign(&[]);
        assert_exit_case(&out, 0, &format!("sign in place, mode {mode:o}"));
        assert!(ctx.read(MANIFEST).contains("\"signature\""));
        assert_eq!(
            format!("{:o}", files::mode(&ctx.path(MANIFEST))),
            format!("{mode:o}"),
            "in place"
        );

        // `--out` over an existing file keeps that file's mode.
        ctx.write(MANIFEST, manifest_json("stable", ID, None, "notes"));
        set_mode(&ctx.path(MANIFEST), 0o644);
        ctx.write("signed.json", "old\n");
        set_mode(&ctx.path("signed.json"), mode);
        let out = sign(&["--out", "signed.json"]);
        assert_exit_case(&out, 0, &format!("sign --out, mode {mode:o}"));
        assert!(ctx.read("signed.json").contains("\"signature\""));
        assert_eq!(
            format!("{:o}", files::mode(&ctx.path("signed.json"))),
            format!("{mode:o}"),
            "--out over an existing file"
        );
        assert_eq!(
            files::mode(&ctx.path(MANIFEST)),
            0o644,
            "the input is untouched"
        );
    }
    // `manifest new` replacing the channel's manifest keeps its mode too.
    set_mode(&ctx.path(MANIFEST), 0o640);
    let out = run_bounded(
        ctx.otactl()
            .args(["manifest", "new", "--channel", "stable"])
            .args(["--build-id", "20260115-1700-abcdef0", "--sha256", SHA])
            .args([
                "--url",
                "https://ota.example.com/20260115-1700-abcdef0/fw.bin",
            ]),
    );
    assert_exit_case(&out, 0, "manifest new over a 0640 manifest");
    assert!(ctx.read(MANIFEST).contains("20260115-1700-abcdef0"));
    assert_eq!(files::mode(&ctx.path(MANIFEST)), 0o640, "manifest new");
    // `--out` to a new file: the mode any new file gets.
    let out = sign(&["--out", "new.json"]);
    assert_exit_case(&out, 0, "sign --out to a new file");
    let probe = ctx.path("probe");
    std::fs::write(&probe, b"").unwrap();
    assert_eq!(files::mode(&ctx.path("new.json")), files::mode(&probe));
}

// ---- Finding 5: C1 controls and bidirectional overrides in any string ----

/// Each case: (name, the manifest text, the code point the finding names).
fn forbidden_character_cases() -> Vec<(String, String, &'static str)> {
    let base = manifest_json("stable", ID, None, "notes");
    let replace = |from: &str, to: &str| {
        assert_eq!(base.matches(from).count(), 1, "{from}");
        base.replacen(from, to, 1)
    };
    let url = release_url(ID);
    let mut cases = Vec::new();
    for (code, raw) in [
        ("U+0085", '\u{85}'),
        ("U+202E", '\u{202E}'),
        ("U+2067", '\u{2067}'),
    ] {
        let escaped = format!("\\u{}", code[2..].to_lowercase());
        cases.push((
            format!("{code} in notes, raw"),
            replace(
                "\"notes\": \"notes\"",
                &format!("\"notes\": \"no{raw}tes\""),
            ),
            code,
        ));
        cases.push((
            format!("{code} in notes, escaped"),
            replace(
                "\"notes\": \"notes\"",
                &format!("\"notes\": \"no{escaped}tes\""),
            ),
            code,
        ));
    }
    cases.push((
        "U+202E in a key".into(),
        replace("  \"notes\"", "  \"x\u{202E}y\": \"a\",\n  \"notes\""),
        "U+202E",
    ));
    cases.push((
        "U+0085 in an artifact key".into(),
        replace("    \"kind\"", "    \"si\\u0085ze\": \"1\",\n    \"kind\""),
        "U+0085",
    ));
    cases.push((
        "U+202E in artifact.url".into(),
        replace(&url, &format!("{url}\u{202E}")),
        "U+202E",
    ));
    cases.push((
        "U+2066 in artifact.url".into(),
        replace(&url, &url.replace("/o/r/", "/o/r\\u2066/")),
        "U+2066",
    ));
    cases.push((
        "U+009F in channel".into(),
        replace("\"channel\": \"stable\"", "\"channel\": \"stable\\u009f\""),
        "U+009F",
    ));
    cases
}

/// The characters a finding must never print raw.
fn has_raw_forbidden(text: &str) -> bool {
    text.chars().any(|c| {
        (c.is_control() && c != '\n')
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    })
}

#[test]
fn c1_controls_and_bidi_overrides_in_manifest_strings_are_refused() {
    let ctx = TestContext::new();
    let key = signing_key(&ctx);
    for (name, text, code) in forbidden_character_cases() {
        ctx.write(MANIFEST, &text);
        let verify = run_bounded(ctx.otactl().args(["manifest", "verify", MANIFEST]));
        assert_exit_case(&verify, 1, &format!("{name}: manifest verify"));
        let lint = run_bounded(ctx.otactl().arg("lint"));
        assert_exit_case(&lint, 1, &format!("{name}: lint"));
        let lint_json = run_bounded(ctx.otactl().args(["lint", "--format", "json"]));
        assert_exit_case(&lint_json, 1, &format!("{name}: lint --format json"));
        let sign = run_bounded(
            ctx.otactl()
                .args(["manifest", "sign", MANIFEST, "--key"])
                .arg(&key),
        );
        assert_exit_case(&sign, 2, &format!("{name}: manifest sign"));
        assert_eq!(ctx.read(MANIFEST), text, "{name}: sign changed the file");
        for (what, out) in [
            ("verify", &verify),
            ("lint", &lint),
            ("lint json", &lint_json),
            ("sign", &sign),
        ] {
            let printed = format!("{}{}", stdout(out), stderr(out));
            assert!(
                printed.contains(code),
                "{name}: {what} names no {code}:\n{printed}"
            );
            assert!(
                !has_raw_forbidden(&printed),
                "{name}: {what} prints the character raw:\n{printed:?}"
            );
        }
    }
}

#[test]
fn manifest_new_refuses_forbidden_characters_in_notes() {
    let ctx = TestContext::new();
    for (code, raw) in [
        ("U+0085", '\u{85}'),
        ("U+202E", '\u{202E}'),
        ("U+2067", '\u{2067}'),
    ] {
        let out = run_bounded(
            ctx.otactl()
                .args(["manifest", "new", "--channel", "stable", "--build-id", ID])
                .args(["--url", &format!("https://ota.example.com/{ID}/fw.bin")])
                .args(["--sha256", SHA, "--kind", "firmware"])
                .args(["--notes", &format!("no{raw}tes")]),
        );
        assert_exit_case(&out, 2, code);
        let err = stderr(&out);
        assert!(
            err.contains("--notes") && err.contains(code),
            "{code}: {err}"
        );
        assert!(!has_raw_forbidden(&err), "{code}: {err:?}");
        assert!(
            !ctx.path("channels").exists(),
            "{code}: something was written"
        );
    }
}
