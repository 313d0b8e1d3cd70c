//! The test harness: a temporary folder per test, a hermetic environment, the
//! `otactl` binary, real git repositories and transcript snapshots.

#![allow(dead_code)]

pub mod assert;
pub mod files;
pub mod fixture;
pub mod gated_http;
pub mod git;
pub mod github;
pub mod hostile_http;
pub mod hostile_registry;
pub mod http;
pub mod keys;
pub mod lint;
pub mod manifest;
pub mod output;
pub mod proc;
pub mod raw_tar;
pub mod registry;
pub mod release;
pub mod terminal;
pub mod yaml;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fixed point in time used for commits in tests.
pub const GIT_DATE: &str = "2026-01-15T16:14:00Z";

/// One test's world: a temporary folder that is the working folder of every command.
pub struct TestContext {
    pub temp: tempfile::TempDir,
    pub cwd: PathBuf,
}

impl TestContext {
    pub fn new() -> TestContext {
        let temp = tempfile::Builder::new()
            .prefix("otactl-test-")
            .tempdir()
            .unwrap();
        let cwd = temp.path().join("repo");
        std::fs::create_dir_all(&cwd).unwrap();
        std::fs::create_dir_all(temp.path().join("home")).unwrap();
        TestContext { temp, cwd }
    }

    /// The temporary root (above the working folder).
    pub fn root(&self) -> &Path {
        self.temp.path()
    }

    /// A path under the working folder.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.cwd.join(rel)
    }

    /// Writes a file under the working folder, making its folders.
    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path
    }

    /// Copies a public key of `tests/fixtures/vectors/` to `keys/ota_pubkey.pem`, the
    /// key a channel repository trusts.
    pub fn trust(&self, fixture: &str) {
        std::fs::create_dir_all(self.path("keys")).unwrap();
        std::fs::copy(
            fixtures().join("vectors").join(fixture),
            self.path("keys/ota_pubkey.pem"),
        )
        .unwrap();
    }

    /// Reads a file under the working folder.
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    /// `otactl` with a hermetic environment, run in the working folder.
    pub fn otactl(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_otactl"));
        hermetic(&mut cmd, self.root());
        cmd.current_dir(&self.cwd);
        cmd
    }

    /// A command of the system (git, openssl, python3) with the same environment.
    pub fn tool(&self, program: &str) -> Command {
        require_tool(program);
        let mut cmd = Command::new(program);
        hermetic(&mut cmd, self.root());
        cmd.current_dir(&self.cwd);
        cmd
    }

    /// Runs a system tool and panics with its output when it fails.
    pub fn run_tool(&self, program: &str, args: &[&str]) -> Output {
        let out = self.tool(program).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Renders a finished command as a transcript with the temp folder and the
    /// wall-clock times replaced.
    pub fn transcript(&self, out: &Output) -> String {
        let text = format!(
            "exit_code: {}\n----- stdout -----\n{}----- stderr -----\n{}",
            out.status
                .code()
                .map_or("signal".to_owned(), |c| c.to_string()),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        self.filter(&text)
    }

    /// Replaces the fixtures folder with `[FIXTURES]`, the temp folder with `[TEMP]` and wall-clock timestamps with `[NOW]`.
    pub fn filter(&self, text: &str) -> String {
        let mut text = text.replace(&fixtures().display().to_string(), "[FIXTURES]");
        text = text.replace(&self.root().display().to_string(), "[TEMP]");
        if let Ok(canonical) = self.root().canonicalize() {
            text = text.replace(&canonical.display().to_string(), "[TEMP]");
        }
        filter_now(&text)
    }
}

/// Replaces `created_utc` values made from the clock (this year or later) by `[NOW]`.
fn filter_now(text: &str) -> String {
    let this_year = 2026;
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('"') {
        out.push_str(&rest[..=pos]);
        rest = &rest[pos + 1..];
        let candidate = rest.get(..20).unwrap_or("");
        let is_stamp = candidate.len() == 20
            && candidate.ends_with('Z')
            && candidate.as_bytes()[10] == b'T'
            && candidate[..4].parse::<i32>().is_ok_and(|y| y >= this_year)
            && rest.as_bytes().get(20) == Some(&b'"')
            && candidate != "2026-01-15T13:55:03Z";
        if is_stamp {
            out.push_str("[NOW]");
            rest = &rest[20..];
        }
    }
    out.push_str(rest);
    out
}

/// Clears the environment but for what the tools need, and pins what they read.
pub fn hermetic(cmd: &mut Command, root: &Path) {
    cmd.env_clear();
    cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd.env("HOME", root.join("home"));
    cmd.env("XDG_CONFIG_HOME", root.join("home/.config"));
    cmd.env("DOCKER_CONFIG", root.join("home/.docker"));
    cmd.env("TZ", "UTC");
    cmd.env("LANG", "C.UTF-8");
    cmd.env("COLUMNS", "100");
    cmd.env("NO_COLOR", "1");
    cmd.env("GIT_CONFIG_NOSYSTEM", "1");
    cmd.env("GIT_CONFIG_GLOBAL", "/dev/null");
    cmd.env("GIT_AUTHOR_NAME", "Test Author");
    cmd.env("GIT_AUTHOR_EMAIL", "author@example.com");
    cmd.env("GIT_COMMITTER_NAME", "Test Committer");
    cmd.env("GIT_COMMITTER_EMAIL", "committer@example.com");
    cmd.env("GIT_AUTHOR_DATE", GIT_DATE);
    cmd.env("GIT_COMMITTER_DATE", GIT_DATE);
    // Python's bytecode cache would write next to the project's scripts.
    cmd.env("PYTHONDONTWRITEBYTECODE", "1");
}

/// Panics, with the install command, when a tool a test needs is missing.
pub fn require_tool(program: &str) {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()));
    assert!(
        found,
        "`{program}` is needed by this test and is not on PATH; run `scripts/install-deps` (or `apt-get install` the package that has it)"
    );
}

/// The project's test fixtures folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Asserts a transcript against a snapshot file in `tests/it/snapshots/`.
#[macro_export]
macro_rules! otactl_snapshot {
    ($ctx:expr, $cmd:expr, $name:expr) => {{
        let out = $cmd.output().unwrap();
        let transcript = $ctx.transcript(&out);
        insta::assert_snapshot!($name, transcript);
        out
    }};
}

/// A valid, unsigned manifest for `channel` as the house layout writes it.
pub fn manifest_json(
    channel: &str,
    build_id: &str,
    min_build_id: Option<&str>,
    notes: &str,
) -> String {
    let mut obj = serde_json::json!({
        "artifact": {
            "kind": "source-tar",
            "sha256": fixture::SHA,
            "url": fixture::release_url(build_id),
        },
        "build_id": build_id,
        "channel": channel,
        "created_utc": "2026-01-15T13:55:03Z",
        "notes": notes,
    });
    if let Some(min) = min_build_id {
        obj["min_build_id"] = min.into();
    }
    serde_json::to_string_pretty(&obj).unwrap() + "\n"
}

/// A finding as `--format json` prints it.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingJson {
    pub severity: String,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

/// `lint --format json`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LintJson {
    pub ok: bool,
    pub errors: usize,
    pub warnings: usize,
    pub files: Vec<FileJson>,
}

/// One file of `lint --format json`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileJson {
    pub path: String,
    pub channel: Option<String>,
    pub build_id: Option<String>,
    pub signed_by: Option<String>,
    pub findings: Vec<FindingJson>,
}

impl LintJson {
    /// The report of `path`.
    pub fn file(&self, path: &str) -> &FileJson {
        self.files
            .iter()
            .find(|f| f.path == path)
            .unwrap_or_else(|| panic!("{path} is not in the report: {self:#?}"))
    }

    /// Every file's path, in order.
    pub fn paths(&self) -> Vec<&str> {
        self.files.iter().map(|f| f.path.as_str()).collect()
    }
}

/// Output's stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Output's stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
