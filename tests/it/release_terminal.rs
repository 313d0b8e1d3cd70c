//! `otactl release` at a real terminal, as a new user meets it: run in tmux, the
//! screen read with `capture-pane`, the prompts answered with `send-keys`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::fixture::test_private_key;
use crate::support::release::Channel;
use crate::support::require_tool;

/// How long a screen may take to show what is awaited.
const WAIT: Duration = Duration::from_secs(60);

/// A tmux server of its own (its socket in the test's folder), one session running
/// one command; killed when dropped.
struct Terminal {
    socket: PathBuf,
    done: PathBuf,
}

impl Terminal {
    /// Runs `script` (a shell command) in a new 200×50 session; its exit code lands
    /// in a file when it ends.
    fn start(dir: &Path, script: &str) -> Terminal {
        require_tool("tmux");
        let socket = dir.join("tmux.sock");
        let done = dir.join("exit-code");
        let line = format!("{script}; echo $? > {}; sleep 600", done.display());
        let status = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args([
                "new-session",
                "-d",
                "-x",
                "200",
                "-y",
                "50",
                "sh",
                "-c",
                &line,
            ])
            .env_remove("CI")
            .env_remove("TMUX")
            .status()
            .unwrap();
        assert!(status.success(), "tmux did not start");
        Terminal { socket, done }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The screen, with its scrollback.
    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-S", "-200"])
    }

    /// Waits until the screen shows `text`; panics with the screen past [`WAIT`].
    fn wait_for(&self, text: &str) {
        let start = Instant::now();
        while !self.screen().contains(text) {
            assert!(
                start.elapsed() < WAIT,
                "the screen never showed {text:?}:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn send(&self, keys: &str) {
        self.tmux(&["send-keys", keys, "Enter"]);
    }

    /// The command's exit code, once it ended.
    fn exit_code(&self) -> i32 {
        let start = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(&self.done)
                && let Ok(code) = text.trim().parse()
            {
                return code;
            }
            assert!(
                start.elapsed() < WAIT,
                "the command did not end:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

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
