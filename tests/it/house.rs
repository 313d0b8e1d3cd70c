//! What the command line says and refuses after the ops layer: `manifest new` never
//! silently unsigns a build, usage errors name every way to give what is missing, an
//! unreachable artifact points at `--offline`.

use std::process::Output;

use crate::support::{TestContext, fixtures, stderr, stdout};

const ID: &str = "20260115-1614-9121078";
const SHA: &str = "3f0c2b4a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a";
const MANIFEST: &str = "channels/stable/manifest.json";

fn run(ctx: &TestContext, args: &[&str]) -> Output {
    ctx.otactl().args(args).output().unwrap()
}

fn code(out: &Output, expected: i32) {
    assert_eq!(
        out.status.code(),
        Some(expected),
        "stdout:\n{}stderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

fn new_stable(ctx: &TestContext, notes: &str, extra: &[&str]) -> Output {
    let url = format!("https://github.com/o/r/releases/download/{ID}/evse-src-{ID}.tar.gz");
    let mut args = vec![
        "manifest",
        "new",
        "--channel",
        "stable",
        "--build-id",
        ID,
        "--url",
        &url,
        "--sha256",
        SHA,
        "--notes",
        notes,
    ];
    args.extend_from_slice(extra);
    run(ctx, &args)
}

fn signed_stable(ctx: &TestContext) -> Vec<u8> {
    code(&new_stable(ctx, "first", &[]), 0);
    let key = fixtures().join("vectors/rfc8032-test1.private.pem");
    code(
        &run(
            ctx,
            &["manifest", "sign", MANIFEST, "--key", key.to_str().unwrap()],
        ),
        0,
    );
    std::fs::read(ctx.path(MANIFEST)).unwrap()
}

#[test]
fn new_refuses_to_replace_a_signed_build_with_other_notes_without_force() {
    let ctx = TestContext::new();
    let signed = signed_stable(&ctx);
    let out = new_stable(&ctx, "other notes", &[]);
    code(&out, 4);
    assert!(
        stderr(&out).contains("holds a signed manifest of the same build with other content"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("pass `--force`"), "{}", stderr(&out));
    assert_eq!(std::fs::read(ctx.path(MANIFEST)).unwrap(), signed);

    // The same build and artifact again: unchanged, and still signed.
    let out = new_stable(&ctx, "first", &[]);
    code(&out, 0);
    assert!(stderr(&out).contains("unchanged"), "{}", stderr(&out));
    assert_eq!(std::fs::read(ctx.path(MANIFEST)).unwrap(), signed);

    // With `--force` it is replaced, unsigned.
    let out = new_stable(&ctx, "other notes", &["--force"]);
    code(&out, 0);
    let value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ctx.path(MANIFEST)).unwrap()).unwrap();
    assert_eq!(value["notes"], "other notes");
    assert!(value.get("signature").is_none());
}

#[test]
fn usage_errors_name_both_ways_to_give_what_is_missing() {
    let ctx = TestContext::new();
    let out = run(
        &ctx,
        &[
            "manifest",
            "new",
            "--channel",
            "stable",
            "--build-id",
            ID,
            "--url",
            "https://ota.example.com/x",
        ],
    );
    code(&out, 2);
    assert!(
        stderr(&out).contains("<--sha256 <HEX>|--from-file <FILE>>"),
        "{}",
        stderr(&out)
    );
    let out = run(&ctx, &["verify"]);
    code(&out, 2);
    assert!(
        stderr(&out).contains("<FILE|--channel <CHANNEL>>"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_artifact_that_cannot_be_reached_hints_at_offline() {
    let ctx = TestContext::new();
    // A port nothing listens on: bind one, note it, let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/{ID}/fw.bin");
    code(
        &run(
            &ctx,
            &[
                "manifest",
                "new",
                "--channel",
                "canary",
                "--build-id",
                ID,
                "--url",
                &url,
                "--sha256",
                SHA,
                "--kind",
                "firmware",
            ],
        ),
        0,
    );
    let out = run(&ctx, &["verify", "--channel", "canary"]);
    code(&out, 3);
    assert!(
        stderr(&out).contains("hint: the artifact could not be downloaded; to check everything but the download, pass `--offline`"),
        "{}",
        stderr(&out)
    );
    let out = run(&ctx, &["verify", "--channel", "canary", "--offline"]);
    code(&out, 0);
    assert!(!stderr(&out).contains("hint:"), "{}", stderr(&out));
}
