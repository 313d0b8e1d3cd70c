//! `otactl completions` and `otactl man`, as a shell and `man` take them.

use std::process::Command;

use crate::support::TestContext;
use crate::support::assert::assert_exit;
use crate::support::require_tool;

fn otactl(ctx: &TestContext, args: &[&str]) -> Vec<u8> {
    let out = ctx.otactl().args(args).output().unwrap();
    assert_exit(&out, 0);
    out.stdout
}

#[test]
fn completions_generate_for_each_shell_and_bash_loads_them() {
    let ctx = TestContext::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = otactl(&ctx, &["completions", shell]);
        let text = String::from_utf8(script).unwrap();
        assert!(text.contains("otactl"), "{shell}: {text}");
        assert!(text.contains("release"), "{shell}: no subcommand in it");
    }
    ctx.write(
        "otactl.bash",
        String::from_utf8(otactl(&ctx, &["completions", "bash"])).unwrap(),
    );
    let out = ctx.run_tool("bash", &["-c", "source otactl.bash && complete -p otactl"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("_otactl otactl"));
    let bad = ctx.otactl().args(["completions", "tcsh"]).output().unwrap();
    assert_exit(&bad, 2);
}

/// `man -l FILE` renders the page as text.
fn man(ctx: &TestContext, file: &str) -> String {
    require_tool("man");
    let out = Command::new("man")
        .args(["-l", file])
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_FORMATTING", "0")
        .current_dir(&ctx.cwd)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Without a terminal, man marks bold and underline by overstriking: `X\bX`.
    let mut text = String::new();
    for c in String::from_utf8_lossy(&out.stdout).chars() {
        if c == '\u{8}' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    text
}

#[test]
fn the_man_page_renders_with_every_command_and_one_page_each_with_out() {
    let ctx = TestContext::new();
    ctx.write(
        "otactl.1",
        String::from_utf8(otactl(&ctx, &["man"])).unwrap(),
    );
    let page = man(&ctx, "otactl.1");
    for needle in [
        "OTACTL(1)",
        "NAME",
        "SYNOPSIS",
        "OTACTL-RELEASE(1)",
        "OTACTL-VERIFY(1)",
        "--dry-run",
    ] {
        assert!(page.contains(needle), "no {needle:?} in:\n{page}");
    }
    let listed = String::from_utf8(otactl(&ctx, &["man", "--out", "man1"])).unwrap();
    assert!(
        listed.lines().any(|l| l.ends_with("man1/otactl-promote.1")),
        "{listed}"
    );
    let promote = man(&ctx, "man1/otactl-promote.1");
    assert!(promote.contains("--skip-order"), "{promote}");
    assert!(ctx.path("man1/otactl.1").exists());
}
