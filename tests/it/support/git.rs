//! Real git repositories made per test, with fixed dates.

use super::TestContext;

impl TestContext {
    /// `git init` in the working folder (branch `main`).
    pub fn git_init(&self) {
        self.run_tool("git", &["init", "-q", "-b", "main", "."]);
    }

    /// Stages everything and commits with a fixed date.
    pub fn git_commit(&self, message: &str) {
        self.run_tool("git", &["add", "-A"]);
        self.run_tool("git", &["commit", "-q", "--allow-empty", "-m", message]);
    }
}
