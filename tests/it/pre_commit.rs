//! `.pre-commit-hooks.yaml`: the hook pre-commit users add to lint their channel
//! manifests before each commit, checked by pre-commit's own validators (from the
//! tests' virtual environment), and the README's `.pre-commit-config.yaml`.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::action::readme_yaml_blocks;
use crate::support::assert::{assert_exit, assert_exit_case};
use crate::support::{TestContext, require_tool, stderr, stdout, yaml};

fn hooks_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml")
}

/// `pre-commit SUBCOMMAND FILE`, its store inside the test's folder.
fn pre_commit(ctx: &TestContext, subcommand: &str, file: &Path) -> Output {
    require_tool("pre-commit");
    ctx.tool("pre-commit")
        .env("PRE_COMMIT_HOME", ctx.root().join("pre-commit-home"))
        .arg(subcommand)
        .arg(file)
        .output()
        .unwrap()
}

fn printed(out: &Output) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

#[test]
fn the_hooks_file_passes_validate_manifest_and_holds_the_lint_hook() {
    let ctx = TestContext::new();
    let out = pre_commit(&ctx, "validate-manifest", &hooks_file());
    assert_exit(&out, 0);
    assert_eq!(
        yaml::parse_file(&hooks_file()),
        serde_json::json!([{
            "id": "otactl-lint",
            "name": "otactl lint",
            "description": "Lint every channel manifest of the repository (schema, strict keys, \
                channel = folder, signature policy, house layout) with `otactl lint` when a \
                commit changes a manifest.json.",
            "entry": "otactl lint",
            "language": "rust",
            "files": "manifest\\.json$",
            "pass_filenames": "false",
        }])
    );
}

#[test]
fn validate_manifest_rejects_a_hooks_file_without_entry_or_with_an_unknown_language() {
    let ctx = TestContext::new();
    let text = std::fs::read_to_string(hooks_file()).unwrap();
    // The copy as it is passes: what fails below is the edit.
    let copy = ctx.write("as-is.yaml", &text);
    assert_exit(&pre_commit(&ctx, "validate-manifest", &copy), 0);

    let without_entry = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("entry:"))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    assert_ne!(without_entry, text);
    let unknown_language = text.replace("language: rust", "language: rusty");
    assert_ne!(unknown_language, text);
    for (name, broken, needle) in [
        (
            "no-entry.yaml",
            without_entry,
            "Missing required key: entry",
        ),
        ("rusty.yaml", unknown_language, "got: 'rusty'"),
    ] {
        let file = ctx.write(name, &broken);
        let out = pre_commit(&ctx, "validate-manifest", &file);
        assert_exit_case(&out, 1, name);
        assert!(printed(&out).contains(needle), "{name}: {}", printed(&out));
    }
}

#[test]
fn the_readme_pre_commit_config_uses_this_hook_and_passes_validate_config() {
    let ctx = TestContext::new();
    let block = readme_yaml_blocks()
        .into_iter()
        .find(|b| b.contains("repos:"))
        .expect("README.md shows no .pre-commit-config.yaml");
    let config = yaml::parse(&block);
    let repo = &config["repos"][0];
    assert_eq!(repo["repo"], "https://github.com/OWNER/otactl");
    assert_eq!(repo["rev"], "FULL_COMMIT_SHA");
    let hooks = yaml::parse_file(&hooks_file());
    assert_eq!(repo["hooks"][0]["id"], hooks[0]["id"]);

    let file = ctx.write(".pre-commit-config.yaml", &block);
    let out = pre_commit(&ctx, "validate-config", &file);
    assert_exit(&out, 0);
}
