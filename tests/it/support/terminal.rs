//! A real terminal for tests: a tmux server of its own, one session running one
//! command, its screen read with `capture-pane` and its prompts answered with
//! `send-keys`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::require_tool;

/// How long a screen may take to show what is awaited.
const WAIT: Duration = Duration::from_secs(60);

/// A tmux server of its own (its socket in the test's folder), one session running
/// one command; killed when dropped.
pub struct Terminal {
    socket: PathBuf,
    done: PathBuf,
}

impl Terminal {
    /// Runs `script` (a shell command) in a new 200×50 session; its exit code lands
    /// in a file when it ends.
    pub fn start(dir: &Path, script: &str) -> Terminal {
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
    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-S", "-200"])
    }

    /// Waits until the screen shows `text`; panics with the screen past [`WAIT`].
    pub fn wait_for(&self, text: &str) {
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

    pub fn send(&self, keys: &str) {
        self.tmux(&["send-keys", keys, "Enter"]);
    }

    /// The command's exit code, once it ended.
    pub fn exit_code(&self) -> i32 {
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
