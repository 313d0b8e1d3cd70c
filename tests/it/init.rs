//! `otactl init`: the scaffold of a channel repository, with flags and no terminal,
//! at a real terminal answering its prompts, and in a clone of the real channel
//! repository; and the lint workflow it writes, read as YAML and run.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::support::assert::assert_exit;
use crate::support::files;
use crate::support::output::assert_contains;
use crate::support::terminal::Terminal;
use crate::support::{TestContext, fixtures, stderr, stdout, yaml};

const WORKFLOW: &str = ".github/workflows/otactl-lint.yml";

fn run(ctx: &TestContext, args: &[&str]) -> Output {
    ctx.otactl().args(args).output().unwrap()
}

fn config(ctx: &TestContext) -> toml::Table {
    toml::from_str(&ctx.read("otactl.toml")).unwrap()
}

/// `otactl lint` in the working folder, as JSON.
fn lint_json(ctx: &TestContext) -> (Output, Value) {
    let out = run(ctx, &["lint", "--format", "json"]);
    let json = serde_json::from_slice(&out.stdout).unwrap();
    (out, json)
}

#[test]
fn init_with_flags_and_no_terminal_writes_the_scaffold_and_it_lints_clean() {
    let ctx = TestContext::new();
    // No `--yes`: without a terminal init never asks (stdin is not one here).
    let out = run(
        &ctx,
        &[
            "init",
            "--name",
            "fw",
            "--channels",
            "canary,beta,stable",
            "--github-repo",
            "acme/fw-ota",
            "--dir-path",
            "/srv/ota",
        ],
    );
    assert_exit(&out, 0);
    let written = stdout(&out);
    for path in [
        "otactl.toml",
        "channels/",
        "channels/canary/",
        "channels/beta/",
        "channels/stable/",
        "keys/",
        "keys/README.md",
        WORKFLOW,
    ] {
        assert!(
            written.lines().any(|l| l == path),
            "{path} not listed:\n{written}"
        );
        assert!(ctx.path(path).exists(), "{path} missing");
    }
    for channel in ["canary", "beta", "stable"] {
        assert!(files::names(&ctx.path(&format!("channels/{channel}"))).is_empty());
    }
    let config = config(&ctx);
    assert_eq!(config["name"].as_str(), Some("fw"));
    assert_eq!(config["channels_dir"].as_str(), Some("channels"));
    let channels: Vec<&str> = config["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(channels, ["canary", "beta", "stable"]);
    assert_eq!(config["github"]["repo"].as_str(), Some("acme/fw-ota"));
    assert_eq!(config["dir"]["path"].as_str(), Some("/srv/ota"));
    assert!(config.get("oci").is_none(), "no [oci] asked for");
    assert_eq!(config["signing"]["require"].as_bool(), Some(true));
    let readme = ctx.read("keys/README.md");
    assert_contains(&readme, "Only public keys go here");
    assert_contains(&readme, "private key never goes into this");

    let (out, json) = lint_json(&ctx);
    assert_exit(&out, 0);
    assert_eq!(json["errors"], 0);
    for file in json["files"].as_array().unwrap() {
        let message = file["findings"][0]["message"].as_str().unwrap();
        assert_contains(message, "not released yet");
    }
    assert_eq!(json["files"].as_array().unwrap().len(), 3);
}

#[test]
fn init_makes_the_folder_it_is_given_and_reports_json() {
    let ctx = TestContext::new();
    let out = run(&ctx, &["init", "new/fleet", "--yes", "--format", "json"]);
    assert_exit(&out, 0);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["name"], "fleet", "named after its folder");
    assert_eq!(
        json["channels"],
        serde_json::json!(["canary", "staging", "stable"])
    );
    assert!(
        json["written"]
            .as_array()
            .unwrap()
            .contains(&Value::from("new/fleet/otactl.toml"))
    );
    assert!(
        ctx.path("new/fleet/.github/workflows/otactl-lint.yml")
            .is_file()
    );
}

#[test]
fn a_second_init_refuses_to_overwrite_and_changes_nothing() {
    let ctx = TestContext::new();
    assert_exit(&run(&ctx, &["init", "--yes"]), 0);
    let before = files::tree(&ctx.cwd);
    let out = run(&ctx, &["init", "--yes"]);
    assert_exit(&out, 4);
    assert_contains(&stderr(&out), "refusing to overwrite `otactl.toml`");
    assert_contains(&stderr(&out), "nothing was written");
    assert_eq!(files::tree(&ctx.cwd), before);
}

#[test]
fn a_flag_that_would_change_the_existing_config_is_refused() {
    let ctx = TestContext::new();
    assert_exit(&run(&ctx, &["init", "--yes", "--name", "fw"]), 0);
    std::fs::remove_file(ctx.path(WORKFLOW)).unwrap();
    let before = files::tree(&ctx.cwd);
    let out = run(&ctx, &["init", "--yes", "--name", "other"]);
    assert_exit(&out, 4);
    assert_contains(&stderr(&out), "`--name` would change `name`");
    assert_eq!(
        files::tree(&ctx.cwd),
        before,
        "the workflow was not written either"
    );
    // The same value is no change: only the missing workflow is written.
    let out = run(&ctx, &["init", "--yes", "--name", "fw"]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out).trim(), WORKFLOW);
    assert_contains(&stderr(&out), "kept `otactl.toml` (it exists)");
}

#[test]
fn a_file_in_the_way_or_a_bad_answer_leaves_nothing_behind() {
    let ctx = TestContext::new();
    ctx.write("channels", "not a folder");
    let before = files::tree(&ctx.cwd);
    let out = run(&ctx, &["init", "--yes"]);
    assert_exit(&out, 4);
    assert_contains(&stderr(&out), "channels");
    assert_contains(&stderr(&out), "a file is in the way");
    assert_eq!(files::tree(&ctx.cwd), before);

    for (args, flag) in [
        (&["--name", "my fw"][..], "--name"),
        (&["--channels", "canary,Stable"][..], "--channels"),
        (&["--github-repo", "acme"][..], "--github-repo"),
        (
            &["--oci-repository", "oci://r.example.com/fw"][..],
            "--oci-repository",
        ),
        (&["--channels-dir", "../elsewhere"][..], "--channels-dir"),
    ] {
        let mut all = vec!["init", "fresh/dir", "--yes"];
        all.extend_from_slice(args);
        let out = run(&ctx, &all);
        assert_exit(&out, 2);
        assert_contains(&stderr(&out), flag);
        assert!(
            !ctx.path("fresh").exists(),
            "{flag}: the folder made was removed"
        );
    }
}

/// A clone of the real channel repository (`stable/manifest.json` at the root, no
/// `otactl.toml`, GitHub release links).
fn real_repository() -> TestContext {
    let ctx = TestContext::new();
    let bundle = fixtures().join("evse-ota.bundle");
    ctx.run_tool("git", &["clone", "-q", bundle.to_str().unwrap(), "."]);
    ctx
}

fn git_status(ctx: &TestContext) -> String {
    let out = ctx.run_tool("git", &["status", "--porcelain", "--untracked-files=all"]);
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn init_in_a_clone_of_the_real_channel_repository_writes_only_what_is_missing() {
    let ctx = real_repository();
    assert_eq!(git_status(&ctx), "");
    let out = run(&ctx, &["init"]);
    assert_exit(&out, 0);
    assert_contains(&stderr(&out), "found 3 channel manifests in `.`");
    // Nothing tracked changed; only the scaffold is new.
    assert_eq!(
        git_status(&ctx),
        "?? .github/workflows/otactl-lint.yml\n?? keys/README.md\n?? otactl.toml\n"
    );
    let config = config(&ctx);
    assert_eq!(
        config["name"].as_str(),
        Some("evse"),
        "from the asset names"
    );
    assert_eq!(config["channels_dir"].as_str(), Some("."));
    assert_eq!(
        config["github"]["repo"].as_str(),
        Some("CaiserSz/evse-ota"),
        "from the release links"
    );
    // Its manifests are signed with a key that is not here: required signatures
    // would fail every one, so the file says how to turn them on.
    assert_eq!(config["signing"]["require"].as_bool(), Some(false));
    assert_contains(&stderr(&out), "set `require = true`");
    let (out, json) = lint_json(&ctx);
    assert_exit(&out, 0);
    assert_eq!(json["files"].as_array().unwrap().len(), 3);
    // What the workflow runs passes on it.
    let lint = run(
        &ctx,
        &["lint", "--base", "origin/main", "--format", "github"],
    );
    assert_exit(&lint, 0);
    // And a second run finds nothing to write.
    assert_exit(&run(&ctx, &["init"]), 4);
}

/// `otactl init ARGS` started at a terminal in the working folder.
fn init_at_terminal(ctx: &TestContext, args: &str) -> Terminal {
    let script = format!(
        "cd {} && {} init {args}",
        ctx.cwd.display(),
        env!("CARGO_BIN_EXE_otactl")
    );
    Terminal::start(ctx.root(), &script)
}

#[test]
fn init_at_a_terminal_asks_for_each_value_with_the_defaults_it_found() {
    let ctx = TestContext::new();
    let terminal = init_at_terminal(&ctx, "");
    terminal.wait_for("Name (the tarball is NAME-src-BUILD_ID.tar.gz) [repo]");
    terminal.send("charger");
    terminal.wait_for("Folder of the channel folders (`.` for the root) [channels]");
    terminal.send("");
    terminal.wait_for("[canary,staging,stable]");
    terminal.send("dev,Stable");
    // A bad answer is asked again, with the reason.
    terminal.wait_for("not a channel name");
    terminal.send("dev,stable");
    terminal.wait_for("GitHub repository for releases and pull requests");
    terminal.send("acme/charger-ota");
    terminal.wait_for("OCI repository");
    terminal.send("");
    terminal.wait_for("Release folder");
    terminal.send("");
    assert_eq!(terminal.exit_code(), 0, "{}", terminal.screen());
    assert_contains(&terminal.screen(), "scaffolded the channel repository");
    let config = config(&ctx);
    assert_eq!(config["name"].as_str(), Some("charger"));
    assert_eq!(config["channels_dir"].as_str(), Some("channels"));
    assert_eq!(
        config["channels"].as_array().unwrap().len(),
        2,
        "dev, stable"
    );
    assert_eq!(config["github"]["repo"].as_str(), Some("acme/charger-ota"));
    assert!(config.get("oci").is_none() && config.get("dir").is_none());
    assert!(ctx.path("channels/dev").is_dir() && ctx.path("channels/stable").is_dir());
}

#[test]
fn init_at_a_terminal_with_yes_or_flags_asks_nothing() {
    let ctx = TestContext::new();
    let terminal = init_at_terminal(&ctx, "--yes --channels canary,stable");
    assert_eq!(terminal.exit_code(), 0, "{}", terminal.screen());
    assert!(
        !terminal.screen().contains("Name ("),
        "{}",
        terminal.screen()
    );
    assert!(ctx.path("channels/stable").is_dir());
}

// ----- the workflow -------------------------------------------------------------

/// A scaffolded repository, committed on `main` and pushed to a bare `origin`, so
/// that `origin/main` exists as it does in a pull request's checkout.
fn scaffolded_with_origin() -> TestContext {
    let ctx = TestContext::new();
    assert_exit(&run(&ctx, &["init", "--yes"]), 0);
    let origin = ctx.root().join("origin.git");
    ctx.run_tool("git", &["init", "-q", "--bare", origin.to_str().unwrap()]);
    ctx.git_init();
    ctx.git_commit("otactl init");
    ctx.run_tool(
        "git",
        &["remote", "add", "origin", origin.to_str().unwrap()],
    );
    ctx.run_tool("git", &["push", "-q", "origin", "main"]);
    ctx.run_tool("git", &["fetch", "-q", "origin"]);
    ctx
}

fn steps(workflow: &Value) -> &Vec<Value> {
    workflow["jobs"]["lint"]["steps"].as_array().unwrap()
}

#[test]
fn the_workflow_is_least_privilege_yaml_with_every_action_pinned() {
    let ctx = TestContext::new();
    assert_exit(&run(&ctx, &["init", "--yes"]), 0);
    let text = ctx.read(WORKFLOW);
    let workflow = yaml::parse(&text);
    assert!(workflow["on"].get("pull_request").is_some(), "{workflow}");
    assert_eq!(
        workflow["permissions"],
        serde_json::json!({"contents": "read"})
    );
    let concurrency = &workflow["concurrency"];
    assert_eq!(concurrency["cancel-in-progress"], "true");
    assert_contains(
        concurrency["group"].as_str().unwrap(),
        "github.event.pull_request.number",
    );
    let job = &workflow["jobs"]["lint"];
    let minutes: u32 = job["timeout-minutes"].as_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&minutes));
    assert!(
        job.get("permissions").is_none(),
        "no job widens the permissions"
    );

    let pinned = regex::Regex::new(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$").unwrap();
    let comment = regex::Regex::new(r"# v\d+\.\d+\.\d+$").unwrap();
    let mut uses = 0;
    for step in steps(&workflow) {
        if let Some(action) = step.get("uses").and_then(Value::as_str) {
            uses += 1;
            assert!(
                pinned.is_match(action),
                "not pinned by a full SHA: {action}"
            );
            let line = text.lines().find(|l| l.contains(action)).unwrap();
            assert!(comment.is_match(line), "no version comment: {line}");
        }
        if let Some(script) = step.get("run").and_then(Value::as_str) {
            assert!(
                !script.contains("${{"),
                "an expression inside `run`: {script}"
            );
        }
    }
    assert!(uses >= 1);
    let checkout = steps(&workflow)
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/checkout@"))
        })
        .unwrap();
    assert_eq!(checkout["with"]["persist-credentials"], "false");
    assert_eq!(checkout["with"]["fetch-depth"], "0");
    let lint = steps(&workflow)
        .iter()
        .find(|s| s["run"].as_str().is_some_and(|r| r.contains("otactl lint")))
        .unwrap();
    assert_eq!(lint["env"]["BASE_REF"], "${{ github.base_ref }}");
    assert_contains(
        lint["run"].as_str().unwrap(),
        "otactl lint --base \"origin/$BASE_REF\" --format github",
    );
}

#[test]
fn the_workflows_lint_step_passes_on_the_scaffolded_repository() {
    let ctx = scaffolded_with_origin();
    let workflow = yaml::parse(&ctx.read(WORKFLOW));
    let lint = steps(&workflow)
        .iter()
        .find(|s| s["run"].as_str().is_some_and(|r| r.contains("otactl lint")))
        .unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_otactl")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // The step as the runner runs it: `bash -e` with the step's env, the base ref
    // as GitHub sets it for a pull request into `main`.
    let out = ctx
        .tool("bash")
        .args(["-e", "-c", lint["run"].as_str().unwrap()])
        .env("PATH", path)
        .env("BASE_REF", "main")
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert_contains(
        &stdout(&out),
        "::warning file=channels/canary/manifest.json",
    );
    assert_contains(&stdout(&out), "not released yet");
}
