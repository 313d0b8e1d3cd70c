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
    output: PathBuf,
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
        let output = dir.join("tmux-output");
        Terminal {
            socket,
            done,
            output,
        }
    }

    /// [`Terminal::start`], every byte the command writes to the terminal recorded
    /// ([`Terminal::recorded`]): what was drawn and then erased, such as a progress
    /// bar, is there too. The command waits until the recording runs.
    pub fn start_recorded(dir: &Path, script: &str) -> Terminal {
        let go = dir.join("tmux-recording");
        let waiting = format!(
            "while [ ! -e {} ]; do sleep 0.05; done; {script}",
            go.display()
        );
        let terminal = Terminal::start(dir, &waiting);
        let pipe = format!("cat > {}", terminal.output.display());
        terminal.tmux(&["pipe-pane", "-O", &pipe]);
        std::fs::write(&go, "").unwrap();
        terminal
    }

    /// What the command wrote to the terminal so far, escape sequences included (a
    /// terminal of [`Terminal::start_recorded`]).
    pub fn recorded(&self) -> String {
        let bytes = std::fs::read(&self.output).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
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

    /// The screen, with its scrollback, its colors and attributes as escape sequences.
    pub fn screen_with_escapes(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-e", "-J", "-S", "-200"])
    }

    /// The pane's title (a program sets it with an OSC 0 or 2 sequence).
    pub fn title(&self) -> String {
        self.tmux(&["display-message", "-p", "#{pane_title}"])
            .trim_end()
            .to_owned()
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
