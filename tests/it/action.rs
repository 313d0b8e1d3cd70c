//! The composite GitHub Action, `action.yml`: its rules read from the file (every
//! action pinned by a commit SHA, every input reaching bash only through `env:`),
//! then its steps run by bash in order, as GitHub's runner runs them, by a small
//! runner of the test's own (below) that knows the few expressions the file uses.
//! The `actions/cache` step is a cache hit holding this test's build of otactl, so
//! no test runs the minutes-long `cargo install`; the install step itself runs with
//! a recording `cargo` first on `PATH`. Also the README's workflow snippets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use regex::Regex;
use serde_json::Value;

use crate::support::assert::{assert_exit, assert_exit_case};
use crate::support::{LintJson, TestContext, hermetic, stderr, stdout, yaml};

/// What the test's runner says `runner.os` and `runner.arch` are.
const RUNNER_OS: &str = "Linux";
const RUNNER_ARCH: &str = "X64";
/// `github.token`, the job's own token, as the test's runner gives it.
const JOB_TOKEN: &str = "job-token-of-this-test";

/// The folder the action is used from: this repository (`GITHUB_ACTION_PATH`).
fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn action_text() -> String {
    std::fs::read_to_string(repo_root().join("action.yml")).unwrap()
}

fn action() -> Value {
    yaml::parse_file(&repo_root().join("action.yml"))
}

fn steps(doc: &Value) -> &Vec<Value> {
    doc["runs"]["steps"]
        .as_array()
        .expect("action.yml: `runs.steps` is a list")
}

/// Calls `f` with the path and value of every string in `value`.
fn walk<'a>(value: &'a Value, path: &mut Vec<String>, f: &mut impl FnMut(&[String], &'a str)) {
    match value {
        Value::String(s) => f(path, s),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                walk(item, path, f);
                path.pop();
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                path.push(key.clone());
                walk(item, path, f);
                path.pop();
            }
        }
        _ => {}
    }
}

/// The expressions (`${{ … }}`, trimmed) in `text`.
fn expressions(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        let after = &rest[start + 3..];
        let end = after
            .find("}}")
            .unwrap_or_else(|| panic!("an unclosed `${{{{` in {text:?}"));
        found.push(after[..end].trim());
        rest = &after[end + 2..];
    }
    found
}

/// The `run:` scripts of a parsed YAML document, with their paths.
fn run_scripts(doc: &Value) -> Vec<(String, String)> {
    let mut scripts = Vec::new();
    walk(doc, &mut Vec::new(), &mut |path, s| {
        if path.last().is_some_and(|k| k == "run") {
            scripts.push((path.join("."), s.to_owned()));
        }
    });
    scripts
}

/// Checks each `uses:` line of YAML text: `OWNER/REPO[/PATH]@<40 lowercase hex> #
/// vX.Y.Z`, but for the `exempt` placeholder; returns the actions named.
fn check_pinned_uses(text: &str, what: &str, exempt: Option<&str>) -> Vec<String> {
    let line_re = Regex::new(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$").unwrap();
    let pin_re =
        Regex::new(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(?:/[^@\s]+)?@[0-9a-f]{40}$").unwrap();
    let comment_re = Regex::new(r"^\s+#\s+v\d+\.\d+\.\d+\s*$").unwrap();
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some(caps) = line_re.captures(line) else {
            assert!(
                !line.contains("uses:") || line.trim_start().starts_with('#'),
                "{what}:{}: a `uses:` this check cannot read: {line}",
                n + 1
            );
            continue;
        };
        let target = &caps[1];
        found.push(target.to_owned());
        if exempt.is_some_and(|e| target == e) {
            continue;
        }
        assert!(
            pin_re.is_match(target),
            "{what}:{}: `{target}` is not pinned by a full commit SHA (40 lowercase hex): {line}",
            n + 1
        );
        assert!(
            comment_re.is_match(&caps[2]),
            "{what}:{}: the pin of `{target}` needs its version in a comment (`# vX.Y.Z`): {line}",
            n + 1
        );
    }
    found
}

#[test]
fn action_yml_is_composite_pinned_and_every_input_reaches_bash_only_through_env() {
    let text = action_text();
    let doc = action();
    assert_eq!(doc["runs"]["using"], "composite", "{doc:#}");
    assert!(
        doc["description"]
            .as_str()
            .unwrap()
            .contains("OTACTL_SIGNING_KEY")
    );

    // Every action it uses is pinned, with its version beside the SHA, and the
    // lines checked are all the `uses:` there are.
    let pinned = check_pinned_uses(&text, "action.yml", None);
    let uses: Vec<&str> = steps(&doc)
        .iter()
        .filter_map(|s| s.get("uses").and_then(Value::as_str))
        .collect();
    assert_eq!(pinned, uses);
    assert_eq!(
        uses,
        ["actions/cache@27d5ce7f107fe9357f9df03efb73ab90386fccae"]
    );

    // No expression inside a script: GitHub pastes its value into the script
    // before bash reads it. Each script stops at its first failure.
    let scripts = run_scripts(&doc);
    assert!(!scripts.is_empty());
    for (path, script) in &scripts {
        assert!(
            !script.contains("${{"),
            "{path} holds an expression:\n{script}"
        );
        assert_eq!(
            script.lines().next(),
            Some("set -euo pipefail"),
            "{path} must start with `set -euo pipefail`"
        );
    }
    for step in steps(&doc) {
        if step.get("run").is_some() {
            assert_eq!(step["shell"], "bash", "{step:#}");
        }
    }

    // `inputs.*` appears only as the value of a step's `env:`, and only names a
    // declared input; every declared input is used.
    let declared: Vec<&String> = doc["inputs"].as_object().unwrap().keys().collect();
    let mut named = Vec::new();
    walk(&doc, &mut Vec::new(), &mut |path, s| {
        for expr in expressions(s) {
            let Some(name) = expr.strip_prefix("inputs.") else {
                continue;
            };
            let in_env = path.len() == 5 && path[..2] == ["runs", "steps"] && path[3] == "env";
            assert!(
                in_env,
                "`${{{{ {expr} }}}}` at {} is not an `env:` value",
                path.join(".")
            );
            assert!(
                declared.iter().any(|d| *d == name),
                "`{expr}` names no input of action.yml"
            );
            named.push(name.to_owned());
        }
    });
    named.sort();
    let mut declared: Vec<String> = declared.into_iter().cloned().collect();
    declared.sort();
    assert_eq!(named, declared);
    assert_eq!(doc["inputs"]["args"]["required"], "true");
    assert_eq!(doc["inputs"]["working-directory"]["default"], ".");
    assert_eq!(
        doc["inputs"]["github-token"]["default"],
        "${{ github.token }}"
    );
    let run_step = steps(&doc).last().unwrap();
    assert_eq!(run_step["env"]["GH_TOKEN"], "${{ inputs.github-token }}");
}

// ---------------------------------------------------------------------------
// The test's runner.

/// One run of the action's steps, in a test's temporary folder.
struct Runner<'a> {
    ctx: &'a TestContext,
    doc: Value,
    /// `GITHUB_ACTION_PATH`, `github.action_path`.
    action_path: PathBuf,
    /// The working folder of every step (`GITHUB_WORKSPACE`).
    workspace: PathBuf,
    /// `RUNNER_TEMP`, `runner.temp`.
    temp: PathBuf,
    inputs: BTreeMap<String, String>,
    /// The `env:` of the workflow step that uses the action.
    caller_env: BTreeMap<String, String>,
    /// What the cache step restores at `<path>/bin/otactl` (a hit), or `None` (a miss).
    restored: Option<PathBuf>,
    /// Folders first on `PATH` from the start: the runner's tools (a recording `cargo`).
    tool_path: Vec<PathBuf>,
    /// `steps.ID.outputs.NAME`.
    outputs: BTreeMap<String, BTreeMap<String, String>>,
    /// What the steps wrote to `$GITHUB_PATH`, in order.
    added_path: Vec<PathBuf>,
    /// The cache step's `path` and `key`.
    cache: Option<(String, String)>,
}

/// How each step went.
struct Ran {
    steps: Vec<(String, Option<Output>)>,
}

impl Ran {
    /// The output of the last step that ran a script (the one that failed, or the
    /// otactl step).
    fn last(&self) -> &Output {
        self.steps
            .iter()
            .rev()
            .find_map(|(_, out)| out.as_ref())
            .unwrap()
    }

    fn ran(&self, name: &str) -> bool {
        self.steps.iter().any(|(n, out)| n == name && out.is_some())
    }
}

impl<'a> Runner<'a> {
    /// A runner of this repository's `action.yml` in `ctx`'s working folder, with a
    /// cache hit that restores this test's otactl and a recording `cargo` on `PATH`.
    fn new(ctx: &'a TestContext) -> Runner<'a> {
        // A fresh RUNNER_TEMP for each run, as each job gets one.
        let temp = ctx.root().join("runner-temp");
        if temp.exists() {
            std::fs::remove_dir_all(&temp).unwrap();
        }
        std::fs::create_dir_all(&temp).unwrap();
        let mut runner = Runner {
            ctx,
            doc: action(),
            action_path: repo_root(),
            workspace: ctx.cwd.clone(),
            temp,
            inputs: BTreeMap::new(),
            caller_env: BTreeMap::new(),
            restored: Some(PathBuf::from(env!("CARGO_BIN_EXE_otactl"))),
            tool_path: Vec::new(),
            outputs: BTreeMap::new(),
            added_path: Vec::new(),
            cache: None,
        };
        runner.tool_path.push(recording_cargo(ctx));
        runner
    }

    fn input(mut self, name: &str, value: &str) -> Runner<'a> {
        self.inputs.insert(name.to_owned(), value.to_owned());
        self
    }

    fn caller_env(mut self, name: &str, value: &str) -> Runner<'a> {
        self.caller_env.insert(name.to_owned(), value.to_owned());
        self
    }

    /// What a hit of the cache restores as `<path>/bin/otactl`.
    fn restores(mut self, program: &Path) -> Runner<'a> {
        self.restored = Some(program.to_owned());
        self
    }

    fn cache_miss(mut self) -> Runner<'a> {
        self.restored = None;
        self
    }

    /// Runs every step in order, as the runner does: it stops at the first that fails.
    fn run(&mut self) -> Ran {
        let mut ran = Ran { steps: Vec::new() };
        for (i, step) in steps(&self.doc.clone()).iter().enumerate() {
            let name = step_name(step, i);
            if let Some(cond) = step.get("if").and_then(Value::as_str)
                && !self.condition(cond)
            {
                ran.steps.push((name, None));
                continue;
            }
            let out = self.step(step, i);
            let failed = out.as_ref().is_some_and(|o| !o.status.success());
            ran.steps.push((name, out));
            if failed {
                break;
            }
        }
        ran
    }

    /// Runs the one step whose id is `id`.
    fn run_only(&mut self, id: &str) -> Output {
        let doc = self.doc.clone();
        let (i, step) = steps(&doc)
            .iter()
            .enumerate()
            .find(|(_, s)| s["id"] == id)
            .unwrap_or_else(|| panic!("action.yml has no step with id `{id}`"));
        self.step(step, i).unwrap()
    }

    /// The value of one expression.
    fn value(&self, expr: &str) -> String {
        let parts: Vec<&str> = expr.trim().split('.').collect();
        match parts.as_slice() {
            ["inputs", name] => self.input_value(name),
            ["github", "action_path"] => self.action_path.display().to_string(),
            ["github", "workspace"] => self.workspace.display().to_string(),
            ["github", "token"] => JOB_TOKEN.to_owned(),
            ["runner", "temp"] => self.temp.display().to_string(),
            ["runner", "os"] => RUNNER_OS.to_owned(),
            ["runner", "arch"] => RUNNER_ARCH.to_owned(),
            ["steps", id, "outputs", name] => self
                .outputs
                .get(*id)
                .and_then(|o| o.get(*name))
                .cloned()
                .unwrap_or_default(),
            _ => panic!(
                "the test's runner does not know the expression `{expr}` of action.yml: teach it (tests/it/action.rs) what GitHub makes of it"
            ),
        }
    }

    fn input_value(&self, name: &str) -> String {
        if let Some(value) = self.inputs.get(name) {
            return value.clone();
        }
        let declared = &self.doc["inputs"][name];
        assert!(declared.is_object(), "`inputs.{name}` is not declared");
        if let Some(default) = declared.get("default").and_then(Value::as_str) {
            return self.substitute(default);
        }
        assert_ne!(declared["required"], "true", "the test gave no `{name}`");
        String::new()
    }

    /// `text` with each `${{ … }}` replaced by its value (once: a value is not
    /// read again for expressions, as GitHub does).
    fn substitute(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 3..];
            let end = after.find("}}").unwrap();
            out.push_str(&self.value(&after[..end]));
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        out
    }

    /// An `if:`: `A == 'x'` or `A != 'x'`, with or without `${{ }}`.
    fn condition(&self, text: &str) -> bool {
        let text = text.trim();
        let text = text
            .strip_prefix("${{")
            .and_then(|t| t.strip_suffix("}}"))
            .unwrap_or(text);
        let re = Regex::new(r"^\s*([A-Za-z0-9_.-]+)\s*(==|!=)\s*'([^']*)'\s*$").unwrap();
        let caps = re.captures(text).unwrap_or_else(|| {
            panic!("the test's runner does not know the condition `{text}` of action.yml")
        });
        // GitHub compares strings ignoring case.
        let equal = self.value(&caps[1]).eq_ignore_ascii_case(&caps[3]);
        if &caps[2] == "==" { equal } else { !equal }
    }

    /// One step: `uses: actions/cache` is simulated; a `run:` runs in bash.
    fn step(&mut self, step: &Value, i: usize) -> Option<Output> {
        let id = step.get("id").and_then(Value::as_str).map(str::to_owned);
        if let Some(uses) = step.get("uses").and_then(Value::as_str) {
            assert!(
                uses.starts_with("actions/cache@"),
                "the test's runner only knows `actions/cache`, not `{uses}`"
            );
            let path = self.substitute(step["with"]["path"].as_str().unwrap());
            let key = self.substitute(step["with"]["key"].as_str().unwrap());
            let hit = if let Some(program) = &self.restored {
                let bin = Path::new(&path).join("bin");
                std::fs::create_dir_all(&bin).unwrap();
                std::os::unix::fs::symlink(program, bin.join("otactl")).unwrap();
                "true"
            } else {
                "false"
            };
            self.outputs
                .entry(id.expect("the cache step needs an id"))
                .or_default()
                .insert("cache-hit".into(), hit.into());
            self.cache = Some((path, key));
            return None;
        }
        let script = step["run"].as_str().expect("a step is `uses:` or `run:`");
        assert_eq!(step["shell"], "bash");
        assert!(step.get("working-directory").is_none());
        // GitHub writes the script with its expressions replaced, then runs
        // `bash --noprofile --norc -eo pipefail FILE`.
        let file = self.temp.join(format!("step-{i}.sh"));
        std::fs::write(&file, self.substitute(script)).unwrap();
        let output_file = self.temp.join(format!("output-{i}"));
        let path_file = self.temp.join(format!("path-{i}"));
        std::fs::write(&output_file, "").unwrap();
        std::fs::write(&path_file, "").unwrap();

        let mut cmd = Command::new("bash");
        hermetic(&mut cmd, self.ctx.root());
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&file)
            .current_dir(&self.workspace);
        let mut path: Vec<PathBuf> = self.added_path.iter().rev().cloned().collect();
        path.extend(self.tool_path.iter().cloned());
        path.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap()));
        cmd.env("PATH", std::env::join_paths(path).unwrap())
            .env("CI", "true")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_WORKSPACE", &self.workspace)
            .env("GITHUB_ACTION_PATH", &self.action_path)
            .env("GITHUB_OUTPUT", &output_file)
            .env("GITHUB_PATH", &path_file)
            .env("RUNNER_TEMP", &self.temp)
            .env("RUNNER_OS", RUNNER_OS)
            .env("RUNNER_ARCH", RUNNER_ARCH)
            .envs(&self.caller_env);
        if let Some(env) = step.get("env").and_then(Value::as_object) {
            for (name, value) in env {
                cmd.env(name, self.substitute(value.as_str().unwrap()));
            }
        }
        let out = cmd.output().unwrap();

        let written = std::fs::read_to_string(&output_file).unwrap();
        let outputs = self.outputs.entry(id.unwrap_or_default()).or_default();
        for line in written.lines() {
            let (name, value) = line.split_once('=').unwrap_or_else(|| {
                panic!("a $GITHUB_OUTPUT line the test reads as `name=value`: {line}")
            });
            outputs.insert(name.to_owned(), value.to_owned());
        }
        let added = std::fs::read_to_string(&path_file).unwrap();
        self.added_path
            .extend(added.lines().filter(|l| !l.is_empty()).map(PathBuf::from));
        Some(out)
    }
}

fn step_name(step: &Value, i: usize) -> String {
    ["name", "id", "uses"]
        .iter()
        .find_map(|k| step.get(*k).and_then(Value::as_str))
        .map_or_else(|| format!("step {i}"), str::to_owned)
}

/// Writes an executable bash script.
fn script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("#!/bin/bash\nset -euo pipefail\n{body}")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A folder holding `cargo`, which writes its arguments one per line to
/// `cargo-args` next to it and "installs" this test's otactl under `--root`.
fn recording_cargo(ctx: &TestContext) -> PathBuf {
    let dir = ctx.root().join("tools");
    script(
        &dir.join("cargo"),
        &format!(
            "printf '%s\\n' \"$@\" > '{record}'\n\
             root=\n\
             while (( $# )); do if [[ $1 == --root ]]; then root=$2; fi; shift; done\n\
             mkdir -p \"$root/bin\"\n\
             ln -s '{bin}' \"$root/bin/otactl\"\n",
            record = dir.join("cargo-args").display(),
            bin = env!("CARGO_BIN_EXE_otactl"),
        ),
    );
    dir
}

/// What the recording `cargo` was called with, if it was.
fn cargo_args(ctx: &TestContext) -> Option<Vec<String>> {
    let record = ctx.root().join("tools/cargo-args");
    let text = std::fs::read_to_string(record).ok()?;
    Some(text.lines().map(str::to_owned).collect())
}

/// A channel repository at `dir`: three channels, not released yet.
fn channel_repo(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("otactl.toml"),
        "channels = [\"canary\", \"staging\", \"stable\"]\n",
    )
    .unwrap();
    for channel in ["canary", "staging", "stable"] {
        std::fs::create_dir_all(dir.join("channels").join(channel)).unwrap();
    }
}

/// Every entry under `dir` named `name`.
fn find_named(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_name() == name {
            found.push(path.clone());
        }
        if entry.file_type().unwrap().is_dir() {
            found.extend(find_named(&path, name));
        }
    }
    found
}

fn lint_report(out: &Output) -> LintJson {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: stdout is not lint's JSON:\n{}", stdout(out)))
}

// ---------------------------------------------------------------------------
// The action, run.

#[test]
fn the_action_lints_a_channel_repository_with_otactl_restored_from_the_cache() {
    let ctx = TestContext::new();
    channel_repo(&ctx.cwd);
    let mut runner = Runner::new(&ctx).input("args", "lint\n--format\njson");
    let ran = runner.run();
    let out = ran.last();
    assert_exit(out, 0);
    let report = lint_report(out);
    assert!(report.ok);
    assert_eq!(
        report.paths(),
        [
            "channels/canary/manifest.json",
            "channels/staging/manifest.json",
            "channels/stable/manifest.json"
        ]
    );
    assert!(ran.ran("Run otactl"));
    assert!(!ran.ran("Install otactl"), "a cache hit installs nothing");
    assert_eq!(cargo_args(&ctx), None, "cargo ran on a cache hit");

    // The cache holds the install root, keyed by the sources, OS and architecture.
    let (path, key) = runner.cache.clone().unwrap();
    assert_eq!(Path::new(&path), runner.temp.join("otactl"));
    let sources = &runner.outputs["cache-key"]["key"];
    assert!(
        sources.len() == 64 && sources.bytes().all(|b| b.is_ascii_hexdigit()),
        "{sources}"
    );
    assert_eq!(key, format!("otactl-{RUNNER_OS}-{RUNNER_ARCH}-{sources}"));
}

#[test]
fn on_a_cache_miss_the_action_runs_cargo_install_locked_into_the_cached_root() {
    let ctx = TestContext::new();
    channel_repo(&ctx.cwd);
    let mut runner = Runner::new(&ctx)
        .cache_miss()
        .input("args", "lint\n--format\njson");
    let ran = runner.run();
    assert!(ran.ran("Install otactl"));
    let (root, _) = runner.cache.clone().unwrap();
    let action_path = repo_root().display().to_string();
    assert_eq!(
        cargo_args(&ctx).expect("cargo did not run on a cache miss"),
        [
            "install",
            "--locked",
            "--path",
            action_path.as_str(),
            "--root",
            root.as_str(),
        ]
    );
    // What cargo installed under the root is the otactl that runs.
    let out = ran.last();
    assert_exit(out, 0);
    assert!(lint_report(out).ok);
}

#[test]
fn hostile_args_reach_otactl_as_one_literal_argument_and_no_shell_runs_them() {
    for hostile in [
        "$(touch PWNED); echo INJECTED",
        "`touch PWNED`; echo INJECTED",
        "\"; touch PWNED; echo INJECTED; #",
        "'; touch PWNED; echo INJECTED; #",
        "${{ github.token }}$(touch PWNED)",
    ] {
        let ctx = TestContext::new();
        channel_repo(&ctx.cwd);
        let ran = Runner::new(&ctx)
            .input("args", &format!("lint\n--format\n{hostile}"))
            .run();
        assert!(ran.ran("Run otactl"), "{hostile}");
        let out = ran.last();
        // clap refuses the value of `--format`, whole: one argument.
        assert_exit_case(out, 2, hostile);
        assert!(
            stderr(out).contains(&format!("invalid value '{hostile}' for '--format")),
            "{hostile}: {}",
            stderr(out)
        );
        assert_eq!(
            find_named(ctx.root(), "PWNED"),
            Vec::<PathBuf>::new(),
            "{hostile}"
        );
        assert!(!repo_root().join("PWNED").exists(), "{hostile}");
        let printed = format!("{}{}", stdout(out), stderr(out));
        assert!(
            !printed.lines().any(|l| l.trim() == "INJECTED"),
            "{hostile}: a shell ran it:\n{printed}"
        );
        assert!(!printed.contains(JOB_TOKEN), "{hostile}: {printed}");
    }
}

#[test]
fn each_line_of_args_is_one_argument_and_secrets_come_from_the_callers_env() {
    let ctx = TestContext::new();
    let record = ctx.root().join("record");
    let fake = ctx.root().join("restored/otactl");
    script(
        &fake,
        &format!(
            "printf '%s\\0' \"$@\" > '{r}/argv'\n\
             printf '%s' \"${{GH_TOKEN-unset}}\" > '{r}/gh-token'\n\
             printf '%s' \"${{OTACTL_SIGNING_KEY-unset}}\" > '{r}/signing-key'\n\
             pwd > '{r}/pwd'\n",
            r = record.display()
        ),
    );
    let read = |name: &str| std::fs::read_to_string(record.join(name)).unwrap();
    // A real PEM, several lines: the public RFC 8032 test key of the fixtures.
    let key = std::fs::read_to_string(crate::support::fixture::test_private_key()).unwrap();
    let key = key.as_str();
    let lines =
        "\nrelease\n\n--channel\n   \nstaging\n--notes\n two  spaces, $HOME and `id` \n--yes\n";

    std::fs::create_dir_all(&record).unwrap();
    let ran = Runner::new(&ctx)
        .restores(&fake)
        .caller_env("OTACTL_SIGNING_KEY", key)
        .input("args", lines)
        .run();
    assert_exit(ran.last(), 0);
    let argv: Vec<String> = read("argv")
        .split_terminator('\0')
        .map(str::to_owned)
        .collect();
    assert_eq!(
        argv,
        [
            "release",
            "--channel",
            "staging",
            "--notes",
            " two  spaces, $HOME and `id` ",
            "--yes"
        ]
    );
    assert_eq!(read("gh-token"), JOB_TOKEN, "the default is github.token");
    assert_eq!(read("signing-key"), key);
    assert_eq!(read("pwd").trim_end(), ctx.cwd.display().to_string());

    let ran = Runner::new(&ctx)
        .restores(&fake)
        .input("args", "status")
        .input("github-token", "an-app-token")
        .run();
    assert_exit(ran.last(), 0);
    assert_eq!(read("gh-token"), "an-app-token");
    assert_eq!(read("signing-key"), "unset");

    // No argument at all is a usage error that names the input.
    std::fs::remove_file(record.join("argv")).unwrap();
    let ran = Runner::new(&ctx)
        .restores(&fake)
        .input("args", "\n  \n\t\n")
        .run();
    let out = ran.last();
    assert_exit(out, 2);
    assert!(
        stderr(out).contains("the input `args` holds no argument"),
        "{}",
        stderr(out)
    );
    assert!(
        !record.join("argv").exists(),
        "otactl ran without arguments"
    );
}

#[test]
fn working_directory_is_entered_literally() {
    let ctx = TestContext::new();
    // The workspace itself is no channel repository: lint there would exit 2.
    let name = "-P my channels $(touch PWNED)";
    channel_repo(&ctx.cwd.join(name));
    let ran = Runner::new(&ctx)
        .input("args", "lint\n--format\njson")
        .input("working-directory", name)
        .run();
    let out = ran.last();
    assert_exit(out, 0);
    assert_eq!(lint_report(out).files.len(), 3);
    assert_eq!(find_named(ctx.root(), "PWNED"), Vec::<PathBuf>::new());

    let ran = Runner::new(&ctx)
        .input("args", "lint")
        .input("working-directory", "no such folder")
        .run();
    let out = ran.last();
    assert_exit(out, 2);
    assert!(
        stderr(out).contains("cannot enter the input `working-directory`"),
        "{}",
        stderr(out)
    );
}

#[test]
fn the_cache_key_changes_with_the_sources_cargo_builds_and_nothing_else() {
    let ctx = TestContext::new();
    let fake = ctx.root().join("action");
    let write = |rel: &str, text: &str| {
        let path = fake.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("Cargo.toml", "[package]\nname = \"x\"\n");
    write("Cargo.lock", "version = 4\n");
    write("src/lib.rs", "pub fn f() {}\n");
    write("src/cli/mod.rs", "//! cli\n");
    write("README.md", "# x\n");
    let key = || {
        let mut runner = Runner::new(&ctx);
        runner.action_path.clone_from(&fake);
        let out = runner.run_only("cache-key");
        assert_exit(&out, 0);
        runner.outputs["cache-key"]["key"].clone()
    };
    let first = key();
    assert!(first.len() == 64 && first.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(key(), first, "the same sources, another key");

    // What cargo does not build from, and what `cargo install` writes there.
    write("README.md", "# x, edited\n");
    write("tests/t.rs", "#[test] fn t() {}\n");
    write("target/release/x", "built\n");
    assert_eq!(key(), first);

    write("src/cli/mod.rs", "//! cli, edited\n");
    let edited = key();
    assert_ne!(edited, first, "an edit under src/ kept the key");
    write("src/cli/mod.rs", "//! cli\n");
    assert_eq!(key(), first);

    write("src/new.rs", "\n");
    assert_ne!(key(), first, "a new file under src/ kept the key");
    std::fs::remove_file(fake.join("src/new.rs")).unwrap();
    assert_eq!(key(), first);

    std::fs::rename(fake.join("src/lib.rs"), fake.join("src/main.rs")).unwrap();
    assert_ne!(key(), first, "a renamed file kept the key");
    std::fs::rename(fake.join("src/main.rs"), fake.join("src/lib.rs")).unwrap();

    write("Cargo.lock", "version = 4\n# another lock\n");
    assert_ne!(key(), first, "another Cargo.lock kept the key");
}

// ---------------------------------------------------------------------------
// The README's workflows.

/// The text of every ```yaml block of README.md.
pub fn readme_yaml_blocks() -> Vec<String> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match &mut current {
            None if matches!(line.trim(), "```yaml" | "```yml") => current = Some(String::new()),
            Some(block) if line.trim() == "```" => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    assert!(
        current.is_none(),
        "README.md: a ```yaml block is not closed"
    );
    blocks
}

#[test]
fn readme_workflows_are_valid_yaml_pinned_by_sha_and_pass_inputs_through_env() {
    let blocks = readme_yaml_blocks();
    let mut release = None;
    for (i, text) in blocks.iter().enumerate() {
        let what = format!("README.md, yaml block {}", i + 1);
        let doc = yaml::parse(text);
        let uses = check_pinned_uses(text, &what, Some("OWNER/otactl@FULL_COMMIT_SHA"));
        for (path, script) in run_scripts(&doc) {
            assert!(
                !script.contains("${{"),
                "{what}: {path} holds an expression: {script}"
            );
        }
        if uses.iter().any(|u| u.starts_with("OWNER/otactl@")) {
            release = Some(doc);
        }
    }
    let release = release.expect("README.md shows no workflow using the action");
    assert_eq!(
        release["on"]["workflow_dispatch"]["inputs"]["channel"]["required"],
        "true"
    );
    assert_eq!(release["permissions"]["contents"], "write");
    assert_eq!(release["permissions"]["pull-requests"], "write");
    let jobs = release["jobs"].as_object().unwrap();
    let steps = jobs.values().next().unwrap()["steps"].as_array().unwrap();
    let checkout = &steps[0];
    assert_eq!(
        checkout["uses"],
        "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1"
    );
    assert_eq!(checkout["with"]["persist-credentials"], "false");
    assert_eq!(checkout["with"]["fetch-depth"], "0");
    let otactl = steps
        .iter()
        .find(|s| s["uses"] == "OWNER/otactl@FULL_COMMIT_SHA")
        .unwrap();
    assert_eq!(
        otactl["env"]["OTACTL_SIGNING_KEY"],
        "${{ secrets.OTACTL_SIGNING_KEY }}"
    );
    // Every `with:` is an input of action.yml, and the arguments are one per line.
    let inputs = action()["inputs"].clone();
    for name in otactl["with"].as_object().unwrap().keys() {
        assert!(
            inputs.get(name).is_some(),
            "`with: {name}` is no input of action.yml"
        );
    }
    let args: Vec<&str> = otactl["with"]["args"].as_str().unwrap().lines().collect();
    assert_eq!(
        args,
        ["release", "--channel", "${{ inputs.channel }}", "--yes"]
    );
}
