//! `otactl promote --from C1 --to C2` and `otactl status`. Promotions run in the
//! world of release.rs on the local GitHub server: canary released with
//! `otactl release --target github`, each channel's manifest committed on `main`
//! (locally and on the server) once its pull request is "merged", so that `--base main`
//! holds what was reviewed. `status` runs on a repository made here (signed, unsigned
//! and lagging channels) and on the real channel repository of real_repo.rs.

use std::process::Output;

use serde::Deserialize;
use serde_json::Value;

use crate::release::{Files, LATER, REPO, Target, World};
use crate::support::assert::{assert_exit, assert_exit_case};
use crate::support::fixture::test_private_key;
use crate::support::keys::{Key, openssl_key};
use crate::support::manifest::trust_key;
use crate::support::output::assert_contains;
use crate::support::{TestContext, fixtures, manifest_json, stderr, stdout};

/// `channels/C/manifest.json`.
fn manifest_of(channel: &str) -> String {
    format!("channels/{channel}/manifest.json")
}

/// A world whose canary holds the source's build, released to GitHub and landed on
/// `main`.
fn released() -> World {
    let world = World::new(&[Target::GitHub]);
    world.release(&["--target", "github", "--yes"]);
    land(&world, "canary");
    world
}

/// Commits the channel's manifest on `main`, locally and on the server, as a merge of
/// its pull request would.
fn land(world: &World, channel: &str) {
    world
        .ctx
        .git_commit(&format!("merge the {channel} release"));
    let path = manifest_of(channel);
    let bytes = std::fs::read(world.ctx.path(&path)).unwrap();
    world
        .server()
        .commit_file(REPO, "main", &path, &bytes, "merge");
}

/// `otactl promote --from FROM --to TO --base main EXTRA…` with the signing key.
fn promote(world: &World, from: &str, to: &str, extra: &[&str]) -> Output {
    let args = ["promote", "--from", from, "--to", to, "--base", "main"];
    world.run_with(true, &[], &[&args[..], extra].concat())
}

/// The writes (not GETs) the server was sent.
fn writes(world: &World) -> usize {
    let requests = world.server().requests();
    requests.iter().filter(|r| r.method != "GET").count()
}

/// A promotion that must exit `code` naming `says`, with every file as it was and no
/// write sent to the server.
fn assert_refused(world: &World, (from, to): (&str, &str), extra: &[&str], code: i32, says: &str) {
    let (before, sent): (Files, usize) = (world.repo_files(), writes(world));
    let out = promote(world, from, to, extra);
    assert_exit_case(&out, code, &format!("{from} → {to} {extra:?}"));
    assert_contains(&stderr(&out), says);
    assert_eq!(world.repo_files(), before, "a refused promotion wrote");
    assert_eq!(writes(world), sent, "a refused promotion sent a write");
}

/// The manifest of `channel` in the work tree.
fn manifest(world: &World, channel: &str) -> Value {
    serde_json::from_slice(&std::fs::read(world.ctx.path(&manifest_of(channel))).unwrap()).unwrap()
}

/// `channel`'s manifest holds the build, artifact and notes of `from`'s, is signed, and
/// the checklist passes on it.
fn assert_promoted(world: &World, from: &str, channel: &str) {
    let (source, promoted) = (manifest(world, from), manifest(world, channel));
    assert_eq!(promoted["channel"], channel, "{promoted:#}");
    assert_eq!(promoted["build_id"], world.id.as_str(), "{promoted:#}");
    assert_eq!(promoted["artifact"], source["artifact"], "{promoted:#}");
    assert_eq!(promoted["notes"], source["notes"], "{promoted:#}");
    let signed = promoted["signature"].as_str().unwrap_or_default();
    assert!(!signed.is_empty(), "not signed: {promoted:#}");
    let verify = world.run_with(false, &[], &["verify", "--channel", channel]);
    assert_exit(&verify, 0);
}

/// The pull requests whose branch is `channel`'s.
fn pulls_of(world: &World, channel: &str) -> usize {
    let head = format!("otactl/{channel}-");
    world
        .pulls()
        .iter()
        .filter(|p| p.head.starts_with(&head))
        .count()
}

#[test]
fn promote_moves_the_build_through_each_channel_with_one_pull_request_each() {
    let world = released();
    for (from, to) in [("canary", "staging"), ("staging", "stable")] {
        let out = promote(&world, from, to, &["--yes"]);
        assert_exit(&out, 0);
        assert_promoted(&world, from, to);
        let printed = stdout(&out);
        assert_contains(&printed, &manifest_of(to));
        let pulls = world.pulls();
        let opened = pulls.last().unwrap();
        assert_contains(&printed, &opened.html_url);
        let on_branch = world.server().file_at(REPO, &opened.head, &manifest_of(to));
        let local = std::fs::read(world.ctx.path(&manifest_of(to))).unwrap();
        assert!(on_branch == Some(local), "the branch does not hold {to}");
        land(&world, to);
    }
    for channel in ["canary", "staging", "stable"] {
        assert_eq!(
            pulls_of(&world, channel),
            1,
            "{channel}: {:#?}",
            world.pulls()
        );
    }
}

#[test]
fn skipping_a_channel_is_exit_4_without_skip_order_and_passes_with_it() {
    let world = released();
    assert_refused(&world, ("canary", "stable"), &["--yes"], 4, "--skip-order");
    let out = promote(&world, "canary", "stable", &["--yes", "--skip-order"]);
    assert_exit(&out, 0);
    assert_promoted(&world, "canary", "stable");
    assert!(!world.ctx.path(&manifest_of("staging")).exists());
}

#[test]
fn a_promotion_that_would_downgrade_the_channel_is_exit_4() {
    let world = released();
    let staging = manifest_of("staging");
    world.ctx.write(
        &staging,
        manifest_json("staging", LATER, None, "a later build"),
    );
    let key = test_private_key();
    let sign = ["manifest", "sign", &staging, "--key", key.to_str().unwrap()];
    assert_exit(&world.run_with(false, &[], &sign), 0);
    land(&world, "staging");
    assert_refused(&world, ("canary", "staging"), &["--yes"], 4, LATER);
}

#[test]
fn a_promotion_run_again_keeps_the_manifest_and_the_one_pull_request() {
    let world = released();
    assert_exit(&promote(&world, "canary", "staging", &["--yes"]), 0);
    let path = world.ctx.path(&manifest_of("staging"));
    let first = std::fs::read(&path).unwrap();
    let again = promote(&world, "canary", "staging", &["--yes"]);
    assert_exit(&again, 0);
    assert_contains(&stderr(&again), "unchanged");
    assert!(
        std::fs::read(&path).unwrap() == first,
        "the manifest changed"
    );
    assert_promoted(&world, "canary", "staging");
    assert_eq!(pulls_of(&world, "staging"), 1, "{:#?}", world.pulls());
}

#[test]
fn a_local_edit_of_the_channel_promoted_from_is_exit_4() {
    let world = released();
    let canary = manifest_of("canary");
    let edited = world
        .ctx
        .read(&canary)
        .replace("\"notes\": \"", "\"notes\": \"edited: ");
    world.ctx.write(&canary, edited);
    assert_refused(
        &world,
        ("canary", "staging"),
        &["--yes"],
        4,
        "not a local edit",
    );
}

#[test]
fn without_yes_and_without_a_terminal_promote_is_exit_2_naming_yes() {
    let world = released();
    assert_refused(&world, ("canary", "staging"), &[], 2, "--yes");
}

// `status`.

/// `status --format json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusJson {
    read_from: String,
    channels: Vec<ChannelJson>,
    lags: Vec<LagJson>,
}

/// One channel of [`StatusJson`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelJson {
    channel: String,
    manifest: String,
    state: String,
    build_id: Option<String>,
    created_utc: Option<String>,
    age_seconds: Option<i64>,
    min_build_id: Option<String>,
    signer: String,
}

/// One lag of [`StatusJson`].
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct LagJson {
    earlier: String,
    later: String,
    behind: bool,
    ahead: bool,
    builds: Option<usize>,
    seconds: Option<i64>,
}

impl LagJson {
    fn of(
        pair: (&str, &str),
        (behind, ahead): (bool, bool),
        builds: Option<usize>,
        seconds: Option<i64>,
    ) -> LagJson {
        let (earlier, later) = (pair.0.to_owned(), pair.1.to_owned());
        LagJson {
            earlier,
            later,
            behind,
            ahead,
            builds,
            seconds,
        }
    }
}

/// `otactl status EXTRA…` as text and as `--format json`, each of which must exit 0.
fn status(ctx: &TestContext, extra: &[&str]) -> (String, StatusJson) {
    let [text, json] = ["text", "json"].map(|format| {
        let args = [&["status", "--format", format][..], extra].concat();
        let out = ctx.otactl().args(args).output().unwrap();
        assert_exit(&out, 0);
        stdout(&out)
    });
    let parsed = serde_json::from_str(&json);
    (text, parsed.unwrap_or_else(|e| panic!("{e}:\n{json}")))
}

/// (channel, build_id, signer) of each channel.
fn builds(status: &StatusJson) -> Vec<(&str, Option<&str>, &str)> {
    let channels = status.channels.iter();
    channels
        .map(|c| (&*c.channel, c.build_id.as_deref(), &*c.signer))
        .collect()
}

/// Canary's builds, oldest first: staging stays on the first, stable runs the second.
const B1: &str = "20260110-0900-aaaaaaa";
const B2: &str = "20260112-0900-bbbbbbb";
const B3: &str = "20260114-0900-ccccccc";

/// Writes `channel`'s manifest of `build`, signed by `key` unless `None`.
fn put(ctx: &TestContext, channel: &str, build: &str, key: Option<&Key>) {
    let path = manifest_of(channel);
    ctx.write(
        &path,
        manifest_json(channel, build, Some("20251201-0930-1a2b3c4"), "n"),
    );
    if let Some(key) = key {
        let out = ctx
            .otactl()
            .args(["manifest", "sign", &path, "--key"])
            .arg(&key.private)
            .output();
        assert_exit(&out.unwrap(), 0);
    }
}

#[test]
fn status_shows_signers_and_the_channels_lagging_behind_or_running_ahead() {
    let ctx = TestContext::new();
    let (trusted, other) = (openssl_key(&ctx, "trusted"), openssl_key(&ctx, "other"));
    // Signed before the repository trusts only `trusted`: otactl signs with no other.
    put(&ctx, "stable", B2, Some(&other));
    trust_key(&ctx, &trusted, false);
    put(&ctx, "staging", B1, None);
    ctx.git_init();
    for build in [B1, B2, B3] {
        put(&ctx, "canary", build, Some(&trusted));
        ctx.git_commit(build);
    }
    let (text, json) = status(&ctx, &[]);
    assert_eq!(json.read_from, "the work tree");
    assert_eq!(
        builds(&json),
        [
            ("canary", Some(B3), &*trusted.id),
            ("staging", Some(B1), "unsigned"),
            ("stable", Some(B2), "unverified")
        ]
    );
    for c in &json.channels {
        // A signature under no trusted key fails the signature policy: `invalid`.
        let state = if c.channel == "stable" {
            "invalid"
        } else {
            "released"
        };
        assert_eq!(
            (&*c.state, &*c.manifest),
            (state, &*manifest_of(&c.channel)),
            "{c:?}"
        );
        assert_eq!(
            c.created_utc.as_deref(),
            Some("2026-01-15T13:55:03Z"),
            "{c:?}"
        );
        assert!(c.age_seconds.is_some_and(|s| s >= 0), "{c:?}");
        assert_eq!(
            c.min_build_id.as_deref(),
            Some("20251201-0930-1a2b3c4"),
            "{c:?}"
        );
    }
    let four_days = 4 * 86_400;
    assert_eq!(
        json.lags,
        [
            LagJson::of(
                ("canary", "staging"),
                (true, false),
                Some(2),
                Some(four_days)
            ),
            LagJson::of(("staging", "stable"), (false, true), None, None),
        ]
    );
    for line in [
        "`staging` lags behind `canary`, 2 builds behind (4d 0h older)",
        "`stable` runs a later build than `staging`, the channel before it",
        &trusted.id,
        "unverified",
        "unsigned",
    ] {
        assert_contains(&text, line);
    }
}

#[test]
fn status_of_the_real_channel_repository_and_of_an_older_commit_of_it() {
    let ctx = TestContext::new();
    let bundle = fixtures().join("evse-ota.bundle");
    ctx.run_tool("git", &["clone", "-q", bundle.to_str().unwrap(), "."]);
    let (text, json) = status(&ctx, &[]);
    // Staging's `"signature": ""` is no signature; the others are signed under a key
    // this clone does not trust (it has no otactl.toml).
    assert_eq!(
        builds(&json),
        [
            ("canary", Some("20260115-1614-9121078"), "unverified"),
            ("staging", Some("20260116-1500-683f2b9"), "unsigned"),
            ("stable", Some("20260115-1614-9121078"), "unverified"),
        ]
    );
    assert!(
        json.channels.iter().all(|c| c.state == "released"),
        "{json:#?}"
    );
    let (ahead, behind) = (("canary", "staging"), ("staging", "stable"));
    assert_eq!(
        json.lags,
        [
            LagJson::of(ahead, (false, true), None, None),
            LagJson::of(behind, (true, false), Some(2), Some(22 * 3600 + 46 * 60)),
        ]
    );
    assert_contains(&text, "`staging` runs a later build than `canary`");
    assert_contains(
        &text,
        "`stable` lags behind `staging`, 2 builds behind (22h 46m older)",
    );

    let (_, old) = status(&ctx, &["--base", "5793af8"]);
    assert_eq!(old.read_from, "`5793af8`");
    let stable = old.channels.iter().find(|c| c.channel == "stable").unwrap();
    assert_eq!(
        stable.build_id.as_deref(),
        Some("20260113-2017-722fd33"),
        "{old:#?}"
    );
}
