//! The command-line shape: `--help` of every command, as a user reads it.

use crate::otactl_snapshot;
use crate::support::TestContext;
use crate::support::assert::assert_exit;
use crate::support::fixture::{ID, MANIFEST};

#[test]
fn help_of_every_command() {
    let ctx = TestContext::new();
    for (name, args) in [
        ("top", vec!["--help"]),
        ("key", vec!["key", "--help"]),
        ("key_generate", vec!["key", "generate", "--help"]),
        ("key_show", vec!["key", "show", "--help"]),
        ("manifest", vec!["manifest", "--help"]),
        ("manifest_new", vec!["manifest", "new", "--help"]),
        ("manifest_sign", vec!["manifest", "sign", "--help"]),
        ("manifest_verify", vec!["manifest", "verify", "--help"]),
        ("lint", vec!["lint", "--help"]),
        ("build_id", vec!["build-id", "--help"]),
        ("tar", vec!["tar", "--help"]),
        ("publish", vec!["publish", "--help"]),
        ("publish_dir", vec!["publish", "dir", "--help"]),
        ("verify", vec!["verify", "--help"]),
    ] {
        let mut cmd = ctx.otactl();
        cmd.args(&args);
        let out = otactl_snapshot!(ctx, cmd, format!("help_{name}"));
        assert_eq!(out.status.code(), Some(0), "{args:?}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let ctx = TestContext::new();
    let mut cmd = ctx.otactl();
    cmd.args(["manifest", "new", "--channel", "stable"]);
    let out = otactl_snapshot!(ctx, cmd, "usage_missing_flags");
    assert_exit(&out, 2);
    let mut cmd = ctx.otactl();
    cmd.args(["frobnicate"]);
    let out = otactl_snapshot!(ctx, cmd, "usage_unknown_command");
    assert_exit(&out, 2);
}

#[test]
fn version() {
    let ctx = TestContext::new();
    let out = ctx.otactl().arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("otactl {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn color_quiet_and_verbose() {
    let ctx = TestContext::new();
    ctx.write(
        MANIFEST,
        crate::support::manifest_json("stable", ID, None, "n")
            .replace("\"notes\"", "\"x\": \"y\",\n  \"notes\""),
    );
    // Never colored off a terminal unless asked; `--color always` colors the labels.
    let plain = ctx.otactl().arg("lint").output().unwrap();
    assert!(!crate::support::stdout(&plain).contains('\x1b'));
    let colored = ctx
        .otactl()
        .args(["lint", "--color", "always"])
        .output()
        .unwrap();
    assert!(
        crate::support::stdout(&colored)
            .contains("\x1b[1;31merror\x1b[0m: channels/stable/manifest.json:10:")
    );
    // -q drops the status line, keeps the results; -v adds details.
    let quiet = ctx.otactl().args(["-q", "lint"]).output().unwrap();
    assert_eq!(quiet.stdout, plain.stdout);
    assert!(
        quiet.stderr.is_empty(),
        "{}",
        crate::support::stderr(&quiet)
    );
    ctx.write("otactl.toml", "");
    let verbose = ctx.otactl().args(["-v", "lint"]).output().unwrap();
    assert!(
        crate::support::stderr(&verbose).starts_with("using configuration `otactl.toml`\n"),
        "{}",
        crate::support::stderr(&verbose)
    );
}
