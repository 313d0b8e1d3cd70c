//! `otactl lint --format json`, read.

use std::process::Output;

use super::{LintJson, TestContext, stderr, stdout};

/// `lint --format json` and `args` in the working folder: the report it printed, and
/// how it ended.
pub fn lint_json(ctx: &TestContext, args: &[&str]) -> (LintJson, Output) {
    let out = ctx
        .otactl()
        .args(["lint", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}\n{}{}", stdout(&out), stderr(&out)));
    (report, out)
}
