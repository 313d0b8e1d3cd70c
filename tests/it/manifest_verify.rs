//! `otactl manifest verify`: a manifest changed after signing or signed by another
//! key fails (1), an unsigned one fails only when signatures are required, a weak
//! public key is refused (2), and `--format json` reports it all.

use std::path::Path;
use std::process::Output;

use base64::Engine as _;
use serde::Deserialize;

use crate::otactl_snapshot;
use crate::support::assert::assert_exit;
use crate::support::fixture::{ID, MANIFEST, release_url};
use crate::support::keys::{Key, SPKI_PREFIX, openssl_key};
use crate::support::manifest::{
    run, sign_ok, transcript_keys, trust_key, unsigned_stable, unsigned_with_key, verify_cmd,
};
use crate::support::{FindingJson, TestContext, manifest_json, stderr, stdout};

/// [`unsigned_with_key`], signed with the key.
fn signed_with_key() -> (TestContext, Key) {
    let (ctx, key) = unsigned_with_key();
    sign_ok(&ctx, &key);
    (ctx, key)
}

#[test]
fn verify_fails_a_field_changed_after_signing() {
    let (ctx, key) = signed_with_key();
    let signed = ctx.read(MANIFEST);
    let tampered = signed.replacen(
        &format!("\"url\": \"{}\"", release_url(ID)),
        &format!(
            "\"url\": \"{}\"",
            release_url(ID).replace("github.com/o/r", "github.com/evil/r")
        ),
        1,
    );
    assert_ne!(tampered, signed);
    ctx.write(MANIFEST, &tampered);
    let out = run(&mut verify_cmd(&ctx, MANIFEST, &key.public));
    insta::assert_snapshot!(
        "verify_tampered",
        transcript_keys(&ctx, &out, &[(&key, "[KEYID]")])
    );
    assert_exit(&out, 1);
}

#[test]
fn verify_fails_a_signature_by_another_key() {
    let ctx = TestContext::new();
    let key = openssl_key(&ctx, "release");
    let other = openssl_key(&ctx, "other");
    unsigned_stable(&ctx);
    sign_ok(&ctx, &other);
    let out = run(&mut verify_cmd(&ctx, MANIFEST, &key.public));
    insta::assert_snapshot!(
        "verify_other_key",
        transcript_keys(&ctx, &out, &[(&key, "[KEYID]"), (&other, "[OTHER_KEYID]")])
    );
    assert_exit(&out, 1);
    // With both keys trusted it verifies, signed by the other one.
    let out = run(verify_cmd(&ctx, MANIFEST, &key.public)
        .arg("--pubkey")
        .arg(&other.public));
    assert_exit(&out, 0);
    assert!(stdout(&out).contains(&format!("signed by key {}", other.id)));
}

#[test]
fn verify_requires_a_signature_only_when_asked() {
    let (ctx, key) = unsigned_with_key();
    let out = run(&mut verify_cmd(&ctx, MANIFEST, &key.public));
    let mut text = format!("--- no flag\n{}", transcript_keys(&ctx, &out, &[]));
    assert_exit(&out, 0);
    let out = run(verify_cmd(&ctx, MANIFEST, &key.public).arg("--require-signature"));
    text.push_str(&format!(
        "--- --require-signature\n{}",
        transcript_keys(&ctx, &out, &[])
    ));
    assert_exit(&out, 1);
    insta::assert_snapshot!("verify_unsigned", text);
}

#[test]
fn verify_follows_signing_require_in_otactl_toml() {
    let (ctx, key) = unsigned_with_key();
    trust_key(&ctx, &key, true);
    let mut cmd = ctx.otactl();
    cmd.args(["manifest", "verify", MANIFEST]);
    let out = otactl_snapshot!(ctx, cmd, "verify_required_by_config");
    assert_exit(&out, 1);
    // Once signed with the trusted key, the configured key verifies it.
    sign_ok(&ctx, &key);
    let out = run(ctx.otactl().args(["manifest", "verify", MANIFEST]));
    assert_exit(&out, 0);
    assert!(stdout(&out).contains(&format!("signed by key {}", key.id)));
}

/// `manifest verify --format json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyJson {
    ok: bool,
    path: String,
    channel: Option<String>,
    build_id: Option<String>,
    signed_by: Option<String>,
    findings: Vec<FindingJson>,
}

fn verify_json(
    ctx: &TestContext,
    public: &Path,
    extra: &[&str],
) -> (Option<i32>, VerifyJson, Output) {
    let out = run(verify_cmd(ctx, MANIFEST, public)
        .args(["--format", "json"])
        .args(extra));
    let report =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)));
    (out.status.code(), report, out)
}

#[test]
fn verify_json_reports_the_result() {
    let (ctx, key) = signed_with_key();

    let (code, report, out) = verify_json(&ctx, &key.public, &[]);
    assert_eq!(code, Some(0));
    assert!(report.ok);
    assert_eq!(report.path, MANIFEST);
    assert_eq!(report.channel.as_deref(), Some("stable"));
    assert_eq!(report.build_id.as_deref(), Some(ID));
    assert_eq!(report.signed_by.as_deref(), Some(key.id.as_str()));
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert_eq!(stderr(&out), "");

    // A changed field: one error, on the line of `signature`.
    let signed = ctx.read(MANIFEST);
    ctx.write(
        MANIFEST,
        signed.replacen("\"notes\": \"n\"", "\"notes\": \"m\"", 1),
    );
    let signature_line = signed
        .lines()
        .position(|l| l.starts_with("  \"signature\""))
        .unwrap()
        + 1;
    let (code, report, out) = verify_json(&ctx, &key.public, &[]);
    assert_eq!(code, Some(1));
    assert!(!report.ok);
    assert_eq!(report.path, MANIFEST);
    assert_eq!(report.channel.as_deref(), Some("stable"));
    assert_eq!(report.build_id.as_deref(), Some(ID));
    assert_eq!(report.signed_by, None);
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    let finding = &report.findings[0];
    assert_eq!(finding.severity, "error");
    assert_eq!(finding.key.as_deref(), Some("signature"));
    assert_eq!(finding.line, Some(signature_line));
    assert!(
        finding.message.contains("does not verify"),
        "{}",
        finding.message
    );
    assert_eq!(stderr(&out), "");

    // Unsigned and required: the finding carries a hint.
    unsigned_stable(&ctx);
    let (code, report, _) = verify_json(&ctx, &key.public, &["--require-signature"]);
    assert_eq!(code, Some(1));
    assert!(!report.ok);
    assert_eq!(report.signed_by, None);
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    let finding = &report.findings[0];
    assert_eq!(finding.severity, "error");
    assert_eq!(finding.key.as_deref(), Some("signature"));
    assert!(
        finding.message.contains("not signed"),
        "{}",
        finding.message
    );
    assert!(
        finding
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("otactl manifest sign")),
        "{:?}",
        finding.hint
    );

    // A schema error is reported with its key and line.
    ctx.write(
        MANIFEST,
        manifest_json("stable", ID, None, "n").replacen(
            "\"notes\"",
            "\"extra\": \"x\",\n  \"notes\"",
            1,
        ),
    );
    let (code, report, _) = verify_json(&ctx, &key.public, &[]);
    assert_eq!(code, Some(1));
    assert!(!report.ok);
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    let finding = &report.findings[0];
    assert_eq!(finding.severity, "error");
    assert_eq!(finding.key.as_deref(), Some("extra"));
    assert_eq!(finding.line, Some(10));
    assert_eq!(finding.message, "unknown key \"extra\" (strict keys)");
    assert!(finding.hint.is_some());
}

#[test]
fn verify_refuses_a_weak_public_key() {
    let (ctx, key) = signed_with_key();
    // The identity point: small order, every signature "verifies" under lax checks.
    let mut der = SPKI_PREFIX.to_vec();
    der.push(0x01);
    der.extend([0u8; 31]);
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(&der)
    );
    let weak = ctx.root().join("keys/identity.pub.pem");
    std::fs::write(&weak, pem).unwrap();
    let mut cmd = verify_cmd(&ctx, MANIFEST, &weak);
    let out = otactl_snapshot!(ctx, cmd, "verify_weak_pubkey");
    assert_exit(&out, 2);
    // Refused even next to a good key: one weak key poisons the trusted set.
    let out = run(verify_cmd(&ctx, MANIFEST, &key.public)
        .arg("--pubkey")
        .arg(&weak));
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("weak"), "{}", stderr(&out));
}
