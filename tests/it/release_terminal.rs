//! `otactl release` at a real terminal, as a new user meets it: run in tmux, the
//! screen read with `capture-pane`, the prompts answered with `send-keys`.

use crate::support::fixture::test_private_key;
use crate::support::release::Channel;
use crate::support::terminal::Terminal;

/// A channel repository whose `source` is its `src/`.
fn channel_with_source() -> Channel {
    let c = Channel::new();
    let config = format!("source = \"src\"\n{}", c.ctx.read("otactl.toml"));
    c.ctx.write("otactl.toml", &config);
    c
}

/// `otactl ARGS` started at a terminal in `c`'s repository, the signing key in the
/// environment.
fn at_terminal(c: &Channel, args: &str) -> Terminal {
    let script = format!(
        "cd {} && OTACTL_SIGNING_KEY_FILE={} {} {args}",
        c.ctx.cwd.display(),
        test_private_key().display(),
        env!("CARGO_BIN_EXE_otactl"),
    );
    Terminal::start(c.ctx.root(), &script)
}

/// `release --channel C` started at a terminal in a fresh channel repository.
fn release_at_terminal(channel: &str) -> (Channel, Terminal) {
    let c = channel_with_source();
    let terminal = at_terminal(
        &c,
        &format!("release --channel {channel} --target dir --no-pr"),
    );
    (c, terminal)
}

#[test]
fn at_a_terminal_release_asks_before_publishing_and_no_publishes_nothing() {
    let (c, terminal) = release_at_terminal("canary");
    terminal.wait_for("plan: release");
    terminal.wait_for("?");
    let screen = terminal.screen();
    assert!(screen.contains("publish app-src-"), "{screen}");
    terminal.send("n");
    assert_eq!(terminal.exit_code(), 2, "{}", terminal.screen());
    assert!(
        terminal.screen().contains("cancelled"),
        "{}",
        terminal.screen()
    );
    assert!(
        !c.ctx.path("../releases").exists(),
        "something was published"
    );
    assert!(!c.ctx.path("channels/canary/manifest.json").exists());
}

#[test]
fn at_a_terminal_yes_publishes_writes_and_checks() {
    let (c, terminal) = release_at_terminal("canary");
    terminal.wait_for("?");
    terminal.send("y");
    assert_eq!(terminal.exit_code(), 0, "{}", terminal.screen());
    let screen = terminal.screen();
    assert!(screen.contains("8. promotion order"), "{screen}");
    assert!(c.ctx.path("channels/canary/manifest.json").exists());
    assert!(
        c.ctx
            .path(&format!("../releases/{0}/app-src-{0}.tar.gz", c.id))
            .exists()
    );
}

#[test]
fn the_last_channel_of_the_promotion_order_is_asked_for_again_by_name() {
    let (c, terminal) = release_at_terminal("stable");
    terminal.wait_for("?");
    terminal.send("y");
    terminal.wait_for("`stable` is the last channel");
    terminal.send("n");
    assert_eq!(terminal.exit_code(), 2, "{}", terminal.screen());
    assert!(
        !c.ctx.path("../releases").exists(),
        "something was published"
    );
    assert!(!c.ctx.path("channels/stable/manifest.json").exists());
}

#[test]
fn promote_to_the_last_channel_asks_first_and_no_writes_nothing() {
    let c = channel_with_source();
    let key = test_private_key();
    let key = key.to_str().unwrap();
    for args in [
        &[
            "release",
            "--channel",
            "canary",
            "--target",
            "dir",
            "--no-pr",
            "--yes",
            "--key",
            key,
        ][..],
        &[
            "promote", "--from", "canary", "--to", "staging", "--no-pr", "--yes", "--key", key,
        ][..],
    ] {
        let out = c.ctx.otactl().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        c.ctx.git_commit("reviewed");
    }
    let terminal = at_terminal(&c, "promote --from staging --to stable --no-pr");
    terminal.wait_for("`stable` is the last channel");
    terminal.send("n");
    assert_eq!(terminal.exit_code(), 2, "{}", terminal.screen());
    assert!(!c.ctx.path("channels/stable/manifest.json").exists());
}
