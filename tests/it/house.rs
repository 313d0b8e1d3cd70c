//! What the command line says and refuses after the ops layer: `manifest new` never
//! silently unsigns a build, usage errors name every way to give what is missing, an
//! unreachable artifact points at `--offline`.

use crate::support::assert::assert_exit;
use crate::support::fixture::{ID, MANIFEST, SHA, test_private_key};
use crate::support::manifest::{new_cmd, read_json, run, sign_with};
use crate::support::{TestContext, stderr};

fn new_stable(ctx: &TestContext, notes: &str, extra: &[&str]) -> std::process::Output {
    run(new_cmd(ctx, "stable", ID, SHA)
        .args(["--notes", notes])
        .args(extra))
}

#[test]
fn new_refuses_to_replace_a_signed_build_with_other_notes_without_force() {
    let ctx = TestContext::new();
    assert_exit(&new_stable(&ctx, "first", &[]), 0);
    assert_exit(&run(&mut sign_with(&ctx, MANIFEST, &test_private_key())), 0);
    let signed = std::fs::read(ctx.path(MANIFEST)).unwrap();

    let out = new_stable(&ctx, "other notes", &[]);
    assert_exit(&out, 4);
    assert!(
        stderr(&out).contains("holds a signed manifest of the same build with other content"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("pass `--force`"), "{}", stderr(&out));
    assert_eq!(std::fs::read(ctx.path(MANIFEST)).unwrap(), signed);

    // The same build and artifact again: unchanged, and still signed.
    let out = new_stable(&ctx, "first", &[]);
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("unchanged"), "{}", stderr(&out));
    assert_eq!(std::fs::read(ctx.path(MANIFEST)).unwrap(), signed);

    // With `--force` it is replaced, unsigned.
    assert_exit(&new_stable(&ctx, "other notes", &["--force"]), 0);
    let value = read_json(&ctx, MANIFEST);
    assert_eq!(value["notes"], "other notes");
    assert!(value.get("signature").is_none());
}

#[test]
fn usage_errors_name_both_ways_to_give_what_is_missing() {
    let ctx = TestContext::new();
    let url = "https://ota.example.com/x";
    let out = ctx
        .otactl()
        .args([
            "manifest",
            "new",
            "--channel",
            "stable",
            "--build-id",
            ID,
            "--url",
            url,
        ])
        .output()
        .unwrap();
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("<--sha256 <HEX>|--from-file <FILE>>"), "{err}");
    let out = ctx.otactl().arg("verify").output().unwrap();
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("<FILE|--channel <CHANNEL>>"), "{err}");
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
    let written = ctx
        .otactl()
        .args(["manifest", "new", "--channel", "canary", "--build-id", ID])
        .args(["--url", &url, "--sha256", SHA, "--kind", "firmware"])
        .output()
        .unwrap();
    assert_exit(&written, 0);
    let verify = |extra: &[&str]| {
        ctx.otactl()
            .args(["verify", "--channel", "canary"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = verify(&[]);
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("hint: the artifact could not be downloaded; to check everything but the download, pass `--offline`"),
        "{}",
        stderr(&out)
    );
    let out = verify(&["--offline"]);
    assert_exit(&out, 0);
    assert!(!stderr(&out).contains("hint:"), "{}", stderr(&out));
}
