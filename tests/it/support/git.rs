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

    /// A one-commit repository (branch `main`) at `dir` holding `files` (path,
    /// content), committed with `message`; returns the commit.
    pub fn git_repo<C: AsRef<[u8]>>(
        &self,
        dir: &std::path::Path,
        message: &str,
        files: &[(&str, C)],
    ) -> String {
        for (rel, content) in files {
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        self.git_in(dir, &["init", "-q", "-b", "main"]);
        self.git_in(dir, &["add", "-A"]);
        self.git_in(dir, &["commit", "-q", "-m", message]);
        let head = self.git_in(dir, &["rev-parse", "HEAD"]);
        String::from_utf8(head).unwrap().trim().to_owned()
    }
}
