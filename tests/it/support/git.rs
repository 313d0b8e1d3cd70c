//! Real git repositories made per test, with fixed dates.

use super::TestContext;

impl TestContext {
    /// `git init` in the working folder (branch `main`).
    pub fn git_init(&self) {
        self.run_tool("git", &["init", "-q", "-b", "main", "."]);
    }

    /// Runs git in `dir` and returns its stdout; panics with stderr when it fails.
    pub fn git_in(&self, dir: &std::path::Path, args: &[&str]) -> Vec<u8> {
        let out = self
            .tool("git")
            .current_dir(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            super::stderr(&out)
        );
        out.stdout
    }

    /// Stages everything and commits with a fixed date.
    pub fn git_commit(&self, message: &str) {
        self.run_tool("git", &["add", "-A"]);
        self.run_tool("git", &["commit", "-q", "--allow-empty", "-m", message]);
    }
}
