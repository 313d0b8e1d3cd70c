//! `otactl manifest new`: what it writes (the house layout, the clock's time, the
//! digest and kind of `--from-file`), the downgrades and other builds it refuses
//! (nothing changes), and the flags it names when they are bad. Keys are made by
//! openssl in each test's temp folder; key ids in transcripts are `[KEYID]`.

use std::os::unix::fs::MetadataExt;
use std::process::Command;

use sha2::{Digest as _, Sha256};

use crate::otactl_snapshot;
use crate::support::assert::{assert_exit, assert_exit_case, assert_no_secret};
use crate::support::fixture::{ID, MANIFEST, MIN, SHA, release_url};
use crate::support::keys::{hex, openssl_key};
use crate::support::manifest::{
    assert_house_layout, assert_signed_by, new_cmd, read_json, run, sign_cmd, signed_stable,
    transcript_keys, verify_cmd,
};
use crate::support::output::assert_contains;
use crate::support::{TestContext, stderr};

#[test]
fn new_sign_verify_round_trip() {
    let ctx = TestContext::new();
    let key = openssl_key(&ctx, "release");
    let names = [(&key, "[KEYID]")];

    let mut cmd = new_cmd(&ctx, "stable", ID, SHA);
    cmd.args(["--min-build-id", MIN, "--notes", "first release"]);
    let out = otactl_snapshot!(ctx, cmd, "round_trip_new");
    assert_exit(&out, 0);
    let text = ctx.read(MANIFEST);
    assert_house_layout(&text);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(value.get("signature").is_none(), "{text}");
    // `created_utc` is the clock's time, in the exact form of SPEC 2.1.
    let created = value["created_utc"].as_str().unwrap();
    assert_eq!(created.len(), 20, "{created}");
    assert!(created.ends_with('Z'), "{created}");
    let created =
        time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339)
            .unwrap();
    let age = time::OffsetDateTime::now_utc() - created;
    assert!(
        age.whole_seconds() >= 0 && age.whole_seconds() < 300,
        "{age}"
    );

    let out = run(&mut sign_cmd(&ctx, MANIFEST, &key));
    insta::assert_snapshot!("round_trip_sign", transcript_keys(&ctx, &out, &names));
    assert_exit(&out, 0);
    assert_no_secret(&key.pem, &out);

    let out = run(&mut verify_cmd(&ctx, MANIFEST, &key.public));
    insta::assert_snapshot!("round_trip_verify", transcript_keys(&ctx, &out, &names));
    assert_exit(&out, 0);

    // Re-read: the house layout, the same content plus an 88-character signature.
    let signed = ctx.read(MANIFEST);
    assert_house_layout(&signed);
    let signed_value: serde_json::Value = serde_json::from_str(&signed).unwrap();
    let signature = signed_value["signature"].as_str().unwrap();
    assert_eq!(signature.len(), 88);
    assert!(signature.ends_with("=="), "{signature}");
    assert!(
        signature
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)),
        "{signature}"
    );
    let mut without = signed_value.clone();
    without.as_object_mut().unwrap().remove("signature");
    assert_eq!(without, value);
    assert_eq!(value["channel"], "stable");
    assert_eq!(value["build_id"], ID);
    assert_eq!(value["min_build_id"], MIN);
    assert_eq!(value["notes"], "first release");
    assert_eq!(value["artifact"]["kind"], "source-tar");
    assert_eq!(value["artifact"]["sha256"], SHA);
    assert_eq!(value["artifact"]["url"], release_url(ID).as_str());
    assert_signed_by(&signed, &key);
}

/// A working folder whose stable manifest `manifest new` wrote with `flags` and an
/// openssl key signed; returns it and the signed bytes.
fn over_signed(flags: &[&str]) -> (TestContext, Vec<u8>) {
    let ctx = TestContext::new();
    let key = openssl_key(&ctx, "release");
    let before = signed_stable(&ctx, &key, flags);
    (ctx, before)
}

/// Runs `cmd`, which must be refused (exit 4, transcript `snapshot`), and checks that
/// the stable manifest still holds `before`.
fn assert_refused(ctx: &TestContext, mut cmd: Command, snapshot: &str, before: &[u8]) {
    let out = otactl_snapshot!(ctx, cmd, snapshot);
    assert_exit(&out, 4);
    assert_eq!(std::fs::read(ctx.path(MANIFEST)).unwrap(), before);
}

#[test]
fn new_refuses_an_earlier_build() {
    let (ctx, before) = over_signed(&[]);
    let cmd = new_cmd(&ctx, "stable", "20260115-1613-9121078", SHA);
    assert_refused(&ctx, cmd, "new_earlier_build", &before);
}

#[test]
fn new_refuses_another_commit_in_the_same_minute() {
    let (ctx, before) = over_signed(&[]);
    let cmd = new_cmd(&ctx, "stable", "20260115-1614-aaaaaaa", SHA);
    assert_refused(&ctx, cmd, "new_same_minute", &before);
}

#[test]
fn new_refuses_another_artifact_under_the_same_build_id() {
    let (ctx, before) = over_signed(&[]);
    let cmd = new_cmd(&ctx, "stable", ID, &"a".repeat(64));
    assert_refused(&ctx, cmd, "new_same_build_other_artifact", &before);
}

#[test]
fn new_leaves_a_signed_file_with_the_same_content_untouched() {
    let (ctx, before) = over_signed(&["--min-build-id", MIN, "--notes", "n"]);
    let inode = std::fs::metadata(ctx.path(MANIFEST)).unwrap().ino();
    // The same build again, a minute later (another `created_utc`), same flags.
    let mut cmd = new_cmd(&ctx, "stable", ID, SHA);
    cmd.args(["--notes", "n"]);
    let out = otactl_snapshot!(ctx, cmd, "new_unchanged");
    assert_exit(&out, 0);
    assert_eq!(std::fs::read(ctx.path(MANIFEST)).unwrap(), before);
    // Not even rewritten with the same bytes.
    assert_eq!(std::fs::metadata(ctx.path(MANIFEST)).unwrap().ino(), inode);
}

/// A later build than the signed stable manifest's.
const LATER: &str = "20260116-0900-bbbbbbb";

#[test]
fn new_keeps_the_current_min_build_id() {
    let (ctx, _) = over_signed(&["--min-build-id", MIN]);
    let out = run(&mut new_cmd(&ctx, "stable", LATER, SHA));
    assert_exit(&out, 0);
    let value = read_json(&ctx, MANIFEST);
    assert_eq!(value["build_id"], LATER);
    assert_eq!(value["min_build_id"], MIN);
    // A new manifest is unsigned: the old signature does not cover it.
    assert!(value.get("signature").is_none());
    assert_house_layout(&ctx.read(MANIFEST));
}

#[test]
fn new_raises_min_build_id_when_asked() {
    let (ctx, _) = over_signed(&["--min-build-id", MIN]);
    let out = run(new_cmd(&ctx, "stable", LATER, SHA).args(["--min-build-id", ID]));
    assert_exit(&out, 0);
    assert_eq!(read_json(&ctx, MANIFEST)["min_build_id"], ID);
}

#[test]
fn new_refuses_a_lower_min_build_id() {
    let (ctx, before) = over_signed(&["--min-build-id", MIN]);
    let mut cmd = new_cmd(&ctx, "stable", LATER, SHA);
    cmd.args(["--min-build-id", "20251101-0000-1a2b3c4"]);
    assert_refused(&ctx, cmd, "new_lower_min_build_id", &before);
}

#[test]
fn new_refuses_an_unknown_channel() {
    let ctx = TestContext::new();
    let mut cmd = new_cmd(&ctx, "beta", ID, SHA);
    let out = otactl_snapshot!(ctx, cmd, "new_unknown_channel");
    assert_exit(&out, 2);
    assert!(!ctx.path("channels").exists());
}

#[test]
fn new_names_the_bad_flag_and_writes_nothing() {
    let ctx = TestContext::new();
    let notes_501 = "x".repeat(501);
    let upper = SHA.to_uppercase();
    let good_url = release_url(ID);
    let mut table = String::new();
    // Each case: one flag with a bad value, the other flags good.
    for (name, flag, value) in [
        (
            "build id with month 13",
            "--build-id",
            "20261315-1614-9121078",
        ),
        ("uppercase sha256", "--sha256", upper.as_str()),
        (
            "http URL to a non-loopback host",
            "--url",
            "http://ota.example.com/f.bin",
        ),
        ("501 characters of notes", "--notes", notes_501.as_str()),
    ] {
        let mut cmd = ctx.otactl();
        cmd.args(["manifest", "new", "--channel", "stable"]);
        for (f, good) in [
            ("--build-id", ID),
            ("--url", good_url.as_str()),
            ("--sha256", SHA),
            ("--notes", "n"),
        ] {
            cmd.args([f, if f == flag { value } else { good }]);
        }
        let out = run(&mut cmd);
        assert_exit_case(&out, 2, name);
        assert!(
            stderr(&out).contains(&format!("error: invalid value for `{flag}`")),
            "{name}: {}",
            stderr(&out)
        );
        assert!(!ctx.path("channels").exists(), "{name}: a file was written");
        table.push_str(&format!("--- {name}\n{}\n", ctx.transcript(&out)));
    }
    insta::assert_snapshot!("new_bad_flags", table);
}

#[test]
fn new_accepts_plain_http_only_for_a_loopback_host() {
    let ctx = TestContext::new();
    let loopback = format!("http://127.0.0.1:8080/releases/{ID}/fw.bin");
    let out = run(&mut new_at(&ctx, "canary", &loopback, &["--sha256", SHA]));
    assert_exit(&out, 0);
    assert_eq!(
        read_json(&ctx, "channels/canary/manifest.json")["artifact"]["url"],
        loopback.as_str()
    );
}

#[test]
fn new_from_file_computes_the_sha256_of_a_firmware_image() {
    let ctx = TestContext::new();
    let image: Vec<u8> = (0u32..100_000).map(|i| (i * 7 % 251) as u8).collect();
    ctx.write("fw.bin", &image);
    let mut cmd = ctx.otactl();
    cmd.args([
        "-v",
        "manifest",
        "new",
        "--channel",
        "canary",
        "--build-id",
        ID,
        "--url",
        &format!("https://github.com/o/r/releases/download/{ID}/fw.bin"),
        "--from-file",
        "fw.bin",
    ]);
    let out = otactl_snapshot!(ctx, cmd, "new_from_file_firmware");
    assert_exit(&out, 0);
    assert_artifact(&ctx, "canary", &image, "firmware");
}

#[test]
fn new_from_file_takes_a_gzip_tarball_for_a_source_tarball() {
    let ctx = TestContext::new();
    ctx.write("src/main.c", "int main(void) { return 0; }\n");
    ctx.run_tool("tar", &["czf", "evse-src.tar.gz", "src"]);
    let bytes = std::fs::read(ctx.path("evse-src.tar.gz")).unwrap();
    assert_eq!(bytes[..2], [0x1f, 0x8b], "tar czf writes gzip");
    let out = run(&mut new_at(
        &ctx,
        "staging",
        &release_url(ID),
        &["--from-file", "evse-src.tar.gz"],
    ));
    assert_exit(&out, 0);
    assert_artifact(&ctx, "staging", &bytes, "source-tar");
}

#[test]
fn new_warns_when_the_url_names_another_release() {
    let ctx = TestContext::new();
    ctx.write("fw.bin", b"firmware image bytes");
    let url = "https://ota.example.com/r/x/fw.bin";
    let out = run(&mut new_at(&ctx, "canary", url, &["--from-file", "fw.bin"]));
    // Written all the same: the release may be published under that folder later.
    assert_exit(&out, 0);
    assert_contains(
        &stderr(&out),
        &format!(
            "warning: `--url`: `artifact.url` points into the folder `x`, but `build_id` is `{ID}`; `otactl verify` will fail item 2"
        ),
    );
    assert_eq!(
        read_json(&ctx, "channels/canary/manifest.json")["artifact"]["url"],
        url
    );
}

#[test]
fn new_refuses_a_sha256_that_contradicts_from_file() {
    let ctx = TestContext::new();
    ctx.write("fw.bin", b"firmware image bytes\n");
    let url = format!("https://github.com/o/r/releases/download/{ID}/fw.bin");
    let mut cmd = new_at(
        &ctx,
        "stable",
        &url,
        &["--from-file", "fw.bin", "--sha256", SHA],
    );
    let out = otactl_snapshot!(ctx, cmd, "new_from_file_contradicting_sha256");
    assert_exit(&out, 2);
    assert!(!ctx.path("channels").exists());
}

/// The manifest of `channel` gives the SHA-256 of `bytes` and `kind` for its artifact.
fn assert_artifact(ctx: &TestContext, channel: &str, bytes: &[u8], kind: &str) {
    let value = read_json(ctx, &format!("channels/{channel}/manifest.json"));
    assert_eq!(
        value["artifact"]["sha256"],
        hex(&Sha256::digest(bytes)).as_str()
    );
    assert_eq!(value["artifact"]["kind"], kind);
}

/// `manifest new --channel CHANNEL --build-id ID --url URL` and `rest`.
fn new_at(ctx: &TestContext, channel: &str, url: &str, rest: &[&str]) -> Command {
    let mut cmd = ctx.otactl();
    cmd.args(["manifest", "new", "--channel", channel, "--build-id", ID])
        .args(["--url", url])
        .args(rest);
    cmd
}
