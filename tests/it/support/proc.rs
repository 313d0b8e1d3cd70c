//! Processes a test must not wait for forever: a bounded wait with the output
//! collected, FIFOs and the shell programs that feed them, signals.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::require_tool;

/// A started process; killed when dropped while it still runs.
pub struct Running {
    child: Child,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    started: Instant,
}

fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

impl Running {
    /// Starts `cmd` with no stdin and its stdout and stderr collected.
    pub fn spawn(cmd: &mut Command) -> Running {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().map(drain);
        Running {
            child,
            stdout,
            stderr,
            started: Instant::now(),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`TERM`, `INT`) with the shell's `kill`.
    pub fn signal(&self, name: &str) {
        require_tool("sh");
        let status = Command::new("sh")
            .args(["-c", "kill -s \"$0\" \"$1\"", name, &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -s {name} failed");
    }

    /// Waits until the process ends and returns its output and how long it ran;
    /// panics, after killing it, when it still runs after `limit`.
    pub fn wait_for(mut self, limit: Duration) -> (Output, Duration) {
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if self.started.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let (stdout, stderr) = self.collect();
                panic!(
                    "the process still ran after {limit:?} and was killed\nstdout: {}\nstderr: {}",
                    String::from_utf8_lossy(&stdout),
                    String::from_utf8_lossy(&stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let elapsed = self.started.elapsed();
        let (stdout, stderr) = self.collect();
        (
            Output {
                status,
                stdout,
                stderr,
            },
            elapsed,
        )
    }

    fn collect(&mut self) -> (Vec<u8>, Vec<u8>) {
        let join =
            |h: Option<JoinHandle<Vec<u8>>>| h.map(|h| h.join().unwrap()).unwrap_or_default();
        (join(self.stdout.take()), join(self.stderr.take()))
    }

    /// Whether the process has ended, and how.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `done` every 20 ms; panics with `what` when it is still false after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < limit,
            "still waiting after {limit:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Makes a named pipe.
pub fn mkfifo(path: &Path) {
    require_tool("mkfifo");
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {} failed", path.display());
}

/// A shell program that writes into `fifo`: `script` runs with its stdout opened on
/// the pipe (which blocks until a reader opens it) and `$1`.. set to `args`.
pub fn feed_fifo(fifo: &Path, script: &str, args: &[&str]) -> Running {
    require_tool("sh");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("exec >\"$0\"\n{script}"))
        .arg(fifo)
        .args(args);
    Running::spawn(&mut cmd)
}
