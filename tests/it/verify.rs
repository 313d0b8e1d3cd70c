//! `otactl verify`: the release checklist of SPEC 5 on a release made the local way
//! (build-id → tar → publish dir → manifest new → manifest sign), each item failing
//! for its own reason, hostile tarballs, and downloads over HTTP with injected faults.

use std::process::Output;

use serde::Deserialize;

use crate::support::assert::assert_exit;
use crate::support::http::{Fault, FileServer};
use crate::support::release::{Channel, item, otactl_ok};
use crate::support::{manifest_json, stderr, stdout};

/// `verify --format json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportJson {
    ok: bool,
    manifest: String,
    channel: Option<String>,
    build_id: Option<String>,
    items: Vec<ItemJson>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemJson {
    number: u8,
    name: String,
    status: String,
    reason: String,
}

/// `verify` of `canary` with `extra`: exit `code`, the transcript is `snapshot`.
fn verify_snapshot(c: &Channel, extra: &[&str], code: i32, snapshot: &str) {
    assert_snapshot_exit(c, &c.verify(extra), code, snapshot);
}

/// Asserts exit `code` and the transcript against `snapshot`.
fn assert_snapshot_exit(c: &Channel, out: &Output, code: i32, snapshot: &str) {
    assert_exit(out, code);
    insta::assert_snapshot!(snapshot, c.ctx.transcript(out));
}

// The local flow, end to end.

#[test]
fn the_local_release_flow_passes_every_item() {
    let c = Channel::new();
    let url = c.publish(&c.tarball, &[]);
    let canonical = c.ctx.root().canonicalize().unwrap();
    assert_eq!(
        url,
        format!(
            "file://{}/releases/{1}/app-src-{1}.tar.gz",
            canonical.display(),
            c.id
        )
    );
    c.manifest("canary", &url, &c.tarball, &[]);

    // `main` exists but holds no canary manifest yet: item 7 passes and says why.
    verify_snapshot(&c, &[], 0, "flow_text");

    verify_snapshot(&c, &["--format", "markdown"], 0, "flow_markdown");

    let out = c.verify(&["--format", "json"]);
    assert_exit(&out, 0);
    let report: ReportJson = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report.ok);
    assert_eq!(report.manifest, "channels/canary/manifest.json");
    assert_eq!(report.channel.as_deref(), Some("canary"));
    assert_eq!(report.build_id.as_deref(), Some(c.id.as_str()));
    let numbers: Vec<u8> = report.items.iter().map(|i| i.number).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6, 7, 8]);
    let names: Vec<&str> = report.items.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "schema and strict keys",
            "build id matches the release",
            "asset exists",
            "sha256 of the download",
            "tarball contents",
            "signature",
            "no downgrade",
            "promotion order",
        ]
    );
    for i in &report.items {
        assert_eq!(i.status, "pass", "item {}: {}", i.number, i.reason);
    }
    assert_eq!(
        report.items[6].reason,
        "the channel has no manifest at `main` yet"
    );

    // Once the manifest is on `main`, item 7 compares with it.
    c.ctx.git_commit("canary release");
    let out = c.verify(&[]);
    assert_exit(&out, 0);
    assert_eq!(
        item(&out, 7),
        "✓ pass  7. no downgrade: same build as at `main`"
    );

    // The artifact is git's own archive of the commit, and lint agrees.
    let theirs = c.ctx.git_in(
        &c.ctx.path("src"),
        &[
            "archive",
            "--format=tar.gz",
            &format!("--prefix={}", c.top()),
            "HEAD",
        ],
    );
    assert!(std::fs::read(c.published()).unwrap() == theirs);
    otactl_ok(&c.ctx, &["lint"]);
}

/// Publishes a firmware image under the build id and writes a signed manifest of
/// `channel` for it.
fn release_firmware(c: &Channel, channel: &str) {
    let firmware = c.ctx.root().join("app.bin");
    std::fs::write(&firmware, b"\x7fELF firmware image").unwrap();
    let url = c.publish(&firmware, &["--build-id", &c.id]);
    c.manifest(channel, &url, &firmware, &[]);
}

#[test]
fn manifest_new_from_file_tells_a_source_tarball_from_firmware() {
    let c = Channel::new();
    let kind = |channel: &str| {
        let text = c.ctx.read(&format!("channels/{channel}/manifest.json"));
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        value["artifact"]["kind"].as_str().unwrap().to_owned()
    };
    let url = c.publish(&c.tarball, &[]);
    c.manifest("canary", &url, &c.tarball, &[]);
    assert_eq!(kind("canary"), "source-tar");

    release_firmware(&c, "staging");
    assert_eq!(kind("staging"), "firmware");
}

#[test]
fn a_firmware_release_passes_with_the_tarball_item_skipped() {
    let c = Channel::new();
    release_firmware(&c, "canary");
    verify_snapshot(&c, &[], 0, "firmware");
}

// Items 3 and 4: the artifact.

#[test]
fn an_altered_payload_fails_item_4() {
    let c = Channel::released();
    // The same tar stream, gzipped at another level: other bytes, same entries.
    let tar = {
        use std::io::Read as _;
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(c.published()).unwrap())
            .read_to_end(&mut tar)
            .unwrap();
        tar
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(1));
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    std::fs::write(c.published(), gz.finish().unwrap()).unwrap();
    let out = c.verify(&[]);
    assert_exit(&out, 1);
    assert!(item(&out, 5).starts_with("✓ pass"), "{}", stdout(&out));
    insta::assert_snapshot!("altered_payload", c.ctx.transcript(&out));
}

#[test]
fn a_missing_published_file_fails_item_3_and_skips_4_and_5() {
    let c = Channel::released();
    std::fs::remove_file(c.published()).unwrap();
    verify_snapshot(&c, &[], 1, "missing_file");
}

#[test]
fn max_size_stops_a_larger_artifact_at_item_4() {
    let c = Channel::released();
    let size = std::fs::metadata(c.published()).unwrap().len();
    assert!(size > 100);
    let out = c.verify(&["--max-size", "100"]);
    assert_exit(&out, 1);
    assert_eq!(
        item(&out, 4),
        format!(
            "✗ FAIL  4. sha256 of the download: the asset is {size} bytes, more than `--max-size` 100"
        )
    );
    insta::assert_snapshot!("max_size", c.ctx.transcript(&out));
}

#[test]
fn offline_skips_items_3_to_5_and_says_so() {
    let c = Channel::released();
    // Nothing is downloaded: a missing artifact does not matter.
    std::fs::remove_file(c.published()).unwrap();
    verify_snapshot(&c, &["--offline"], 0, "offline");
}

// Item 5: hostile tarballs.

/// Releases on a fresh channel the tarball `make` writes for it as `name`; `verify`
/// must fail (exit 1). Returns the channel and the output.
fn verify_hostile(name: &str, make: impl FnOnce(&Channel) -> Vec<u8>) -> (Channel, Output) {
    let c = Channel::new();
    let bytes = make(&c);
    let out = c.verify_tarball(name, &bytes);
    assert_exit(&out, 1);
    (c, out)
}

/// A tarball of one gzip member, the source's commit in its pax header, and
/// `entries` (kind, name below the top folder, link target).
fn under_top(c: &Channel, entries: &[(&str, &str, &str)]) -> Vec<u8> {
    let top = c.top();
    let entries: Vec<_> = entries
        .iter()
        .map(|(kind, name, target)| serde_json::json!([kind, format!("{top}{name}"), target]))
        .collect();
    c.python_tarball(&c.commit, &serde_json::json!([entries]))
}

#[test]
fn a_tarball_entry_climbing_out_with_dotdot_fails_item_5() {
    let (c, out) = verify_hostile("dotdot.tar.gz", |c| {
        under_top(c, &[("file", "a", ""), ("file", "../evil", "")])
    });
    assert!(item(&out, 4).starts_with("✓ pass"), "{}", stdout(&out));
    insta::assert_snapshot!("hostile_dotdot", c.ctx.transcript(&out));
}

#[test]
fn a_tarball_under_another_prefix_fails_item_5() {
    let (c, out) = verify_hostile("other.tar.gz", |c| {
        let other = format!("other-{}/", c.id);
        c.python_tarball(
            &c.commit,
            &serde_json::json!([[
                ["dir", other.clone(), ""],
                ["file", format!("{other}a"), ""]
            ]]),
        )
    });
    insta::assert_snapshot!("hostile_other_prefix", c.ctx.transcript(&out));
}

#[test]
fn a_tarball_of_another_commit_fails_item_5() {
    let (c, out) = verify_hostile("commit.tar.gz", |c| {
        c.python_tarball(
            "0123456789abcdef0123456789abcdef01234567",
            &serde_json::json!([[["file", format!("{}a", c.top()), ""]]]),
        )
    });
    insta::assert_snapshot!("hostile_other_commit", c.ctx.transcript(&out));
}

#[test]
fn a_tarball_with_an_absolute_symlink_fails_item_5() {
    let (c, out) = verify_hostile("abs-link.tar.gz", |c| {
        under_top(
            c,
            &[("file", "a", ""), ("symlink", "passwd", "/etc/passwd")],
        )
    });
    insta::assert_snapshot!("hostile_absolute_symlink", c.ctx.transcript(&out));
}

#[test]
fn a_tarball_with_a_symlink_leaving_the_tree_fails_item_5() {
    let (c, out) = verify_hostile("up-link.tar.gz", |c| {
        under_top(c, &[("dir", "d", ""), ("symlink", "d/l", "../../../x")])
    });
    insta::assert_snapshot!("hostile_symlink_leaving", c.ctx.transcript(&out));
}

/// `a -> .` makes `a/a/t` the same place as `t`, so `t -> ../..` climbs two levels
/// above the top folder, although `a/a/t -> ../..` looks like it stays inside. GNU tar
/// extracts it that way.
#[test]
fn a_symlink_leaving_the_tree_through_another_symlink_fails_item_5() {
    let (_, out) = verify_hostile("link-chain.tar.gz", |c| {
        under_top(c, &[("symlink", "a", "."), ("symlink", "a/a/t", "../..")])
    });
    assert!(item(&out, 5).starts_with("✗ FAIL  5."), "{}", stdout(&out));
}

/// gzip readers (`gunzip`, GNU tar, Python's `tarfile`) read every member of a gzip
/// file; an entry hidden in a second member must be inspected too.
#[test]
fn an_entry_hidden_in_a_second_gzip_member_fails_item_5() {
    let (_, out) = verify_hostile("two-members.tar.gz", |c| {
        let top = c.top();
        let bytes = c.python_tarball(
            &c.commit,
            &serde_json::json!([
                [["file", format!("{top}a"), ""]],
                [["file", "../../evil", ""]]
            ]),
        );
        // Python, as a device would, sees both entries.
        let listing = c
            .ctx
            .tool("python3")
            .args([
                "-c",
                "import io, sys, tarfile; print([m.name for m in tarfile.open(fileobj=io.BytesIO(sys.stdin.buffer.read()), mode='r:gz')])",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write as _;
                child.stdin.take().unwrap().write_all(&bytes)?;
                child.wait_with_output()
            })
            .unwrap();
        assert_eq!(
            stdout(&listing),
            format!("['{top}a', '../../evil']\n"),
            "{}",
            stderr(&listing)
        );
        bytes
    });
    assert!(
        item(&out, 5).starts_with("✗ FAIL  5.") && item(&out, 5).contains("../../evil"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_file_that_is_not_gzip_fails_item_5() {
    let (c, out) = verify_hostile("plain.tar.gz", |_| b"plain bytes, not gzip\n".to_vec());
    assert!(
        item(&out, 5).contains("not a well-formed tar.gz"),
        "{}",
        stdout(&out)
    );
    insta::assert_snapshot!("hostile_not_gzip", c.ctx.transcript(&out));
}

// Item 7: no downgrade.

#[test]
fn an_earlier_build_than_on_main_fails_item_7() {
    let c = Channel::new();
    // `main` holds a later build of the channel.
    c.ctx.write(
        "channels/canary/manifest.json",
        manifest_json("canary", "20260116-0900-abcdef0", None, "later"),
    );
    c.ctx.git_commit("canary: a later build");
    std::fs::remove_file(c.ctx.path("channels/canary/manifest.json")).unwrap();
    let url = c.publish(&c.tarball, &[]);
    c.manifest("canary", &url, &c.tarball, &[]);
    verify_snapshot(&c, &[], 1, "downgrade");
}

#[test]
fn an_unknown_base_ref_fails_item_7_naming_it() {
    let c = Channel::released();
    let out = c.verify(&["--base", "nosuchref"]);
    assert_exit(&out, 1);
    assert!(
        item(&out, 7).starts_with("✗ FAIL  7.") && item(&out, 7).contains("`nosuchref`"),
        "{}",
        stdout(&out)
    );
    insta::assert_snapshot!("base_unknown", c.ctx.transcript(&out));
}

// Item 8: promotion order.

/// A channel with the release on `canary` and the same build on `stable`.
fn straight_to_stable() -> Channel {
    let c = Channel::released();
    let url = c.publish(&c.tarball, &[]);
    c.manifest("stable", &url, &c.tarball, &[]);
    c
}

#[test]
fn a_build_that_skipped_staging_warns_at_item_8() {
    let c = straight_to_stable();
    let out = c.verify_channel("stable", &[]);
    assert_snapshot_exit(&c, &out, 0, "order_warn");
}

#[test]
fn a_build_that_skipped_staging_fails_under_strict_order() {
    let c = straight_to_stable();
    let out = c.verify_channel("stable", &["--strict-order"]);
    assert_exit(&out, 1);
    assert_eq!(
        item(&out, 8),
        format!(
            "✗ FAIL  8. promotion order: `{}` was never on `staging`, the channel before `stable`; it skips the promotion order",
            c.id
        )
    );
}

#[test]
fn a_build_once_committed_on_staging_passes_item_8() {
    let c = straight_to_stable();
    let url = c.publish(&c.tarball, &[]);
    c.manifest("staging", &url, &c.tarball, &[]);
    c.ctx.git_commit("staging release");
    // Staging has moved on since (here: its file is gone); the history still counts.
    std::fs::remove_file(c.ctx.path("channels/staging/manifest.json")).unwrap();
    let out = c.verify_channel("stable", &["--strict-order"]);
    assert_exit(&out, 0);
    let line = item(&out, 8);
    assert!(
        line.starts_with(&format!(
            "✓ pass  8. promotion order: `{}` was published on `staging` (commit ",
            c.id
        )),
        "{line}"
    );
}

// Output for GitHub Actions, and usage errors.

#[test]
fn github_format_prints_error_commands_and_appends_a_summary_table() {
    let c = Channel::released();
    std::fs::write(c.published(), b"altered\n").unwrap();
    let summary = c.ctx.root().join("step-summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let out = c
        .ctx
        .otactl()
        .args(["verify", "--channel", "canary", "--format", "github"])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_exit(&out, 1);
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with(
            "::error file=channels/canary/manifest.json,title=otactl verify%3A 4. sha256 of the download::"
        ),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with(
            "::error file=channels/canary/manifest.json,title=otactl verify%3A 5. tarball contents::"
        ),
        "{lines:?}"
    );
    insta::assert_snapshot!("github", c.ctx.transcript(&out));
    let table = std::fs::read_to_string(&summary).unwrap();
    assert!(table.starts_with(
        "earlier step\n### otactl verify: the checklist of `channels/canary/manifest.json`\n"
    ));
    insta::assert_snapshot!("github_summary", c.ctx.filter(&table));
}

#[test]
fn an_unknown_channel_is_a_usage_error() {
    let c = Channel::released();
    let out = c.verify_channel("nosuch", &[]);
    assert_snapshot_exit(&c, &out, 2, "unknown_channel");
}

#[test]
fn a_channel_without_a_manifest_is_a_usage_error() {
    let c = Channel::released();
    let out = c.verify_channel("stable", &[]);
    assert_snapshot_exit(&c, &out, 2, "channel_without_manifest");
}

// Downloads over HTTP.

/// A released channel whose manifest points at a file server on the release folder.
fn served() -> (Channel, FileServer) {
    let c = Channel::new();
    c.publish(&c.tarball, &[]);
    let server = FileServer::start(c.ctx.root().join("releases"));
    let url = server.url(&format!("{0}/app-src-{0}.tar.gz", c.id));
    c.manifest("canary", &url, &c.tarball, &[]);
    (c, server)
}

fn http_transcript(c: &Channel, server: &FileServer, out: &Output) -> String {
    c.ctx
        .transcript(out)
        .replace(&format!("127.0.0.1:{}", server.port), "127.0.0.1:[PORT]")
}

fn request_line(c: &Channel) -> String {
    format!("GET /{0}/app-src-{0}.tar.gz HTTP/1.1", c.id)
}

#[test]
fn an_artifact_over_http_passes_items_3_to_5() {
    let (c, server) = served();
    let out = c.verify(&[]);
    assert_exit(&out, 0);
    insta::assert_snapshot!("http", http_transcript(&c, &server, &out));
    assert_eq!(server.requests(), [request_line(&c)]);
}

#[test]
fn an_http_404_fails_item_3() {
    let (c, server) = served();
    std::fs::remove_file(c.published()).unwrap();
    let out = c.verify(&[]);
    assert_exit(&out, 1);
    insta::assert_snapshot!("http_404", http_transcript(&c, &server, &out));
    assert_eq!(server.requests().len(), 1, "a 404 is not retried");
}

/// Serves the release after `faults`: `verify` passes after `requests` requests.
fn passes_after(faults: &[Fault], requests: usize) -> Output {
    let (c, server) = served();
    server.inject(faults.iter().cloned());
    let out = c.verify(&[]);
    assert_exit(&out, 0);
    assert_eq!(server.requests(), vec![request_line(&c); requests]);
    out
}

#[test]
fn two_http_500s_are_retried() {
    let out = passes_after(&[Fault::Status(500), Fault::Status(500)], 3);
    assert!(item(&out, 4).starts_with("✓ pass"), "{}", stdout(&out));
}

#[test]
fn a_connection_reset_is_retried() {
    let out = passes_after(&[Fault::Reset], 2);
    assert!(item(&out, 5).starts_with("✓ pass"), "{}", stdout(&out));
}

#[test]
fn a_429_with_retry_after_is_retried() {
    let out = passes_after(&[Fault::RateLimited], 2);
    assert!(item(&out, 4).starts_with("✓ pass"), "{}", stdout(&out));
}

#[test]
fn http_500_on_every_attempt_is_a_remote_error_exit_3() {
    let (c, server) = served();
    server.inject(std::iter::repeat_n(Fault::Status(500), 10));
    let out = c.verify(&[]);
    assert_exit(&out, 3);
    assert!(item(&out, 3).starts_with("? error 3."), "{}", stdout(&out));
    insta::assert_snapshot!("http_500_always", http_transcript(&c, &server, &out));
}
