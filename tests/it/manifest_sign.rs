//! `otactl manifest sign`: where the key comes from (flag, PEM text, key file), what
//! it refuses (no key, a bad manifest, an untrusted or malformed key: nothing
//! changes), and that no form of the private key is ever printed. Keys are made by
//! openssl in each test's temp folder; key ids in transcripts are replaced by names.

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Output};

use crate::otactl_snapshot;
use crate::support::assert::{assert_exit, assert_exit_case, assert_no_secret};
use crate::support::fixture::{ID, MANIFEST};
use crate::support::keys::{Key, key_path, openssl_der, openssl_genpkey, openssl_key, pem_der};
use crate::support::manifest::{
    assert_house_layout, assert_signed_by, run, sign_cmd, transcript_keys, trust_key,
    unsigned_stable, unsigned_with_key, verify_cmd,
};
use crate::support::{TestContext, manifest_json, stderr, stdout};

/// Runs `cmd`, signing with `key`, asserts its transcript (the key id `[KEYID]`)
/// against `snapshot` and that it prints no part of the key.
fn sign_snapshot(ctx: &TestContext, cmd: &mut Command, key: &Key, snapshot: &str) -> Output {
    let out = run(cmd);
    insta::assert_snapshot!(snapshot, transcript_keys(ctx, &out, &[(key, "[KEYID]")]));
    assert_no_secret(&key.pem, &out);
    out
}

/// `manifest sign` of the stable manifest with `--key`, as snapshot `snapshot`.
fn sign_stable_snapshot(ctx: &TestContext, key: &Key, snapshot: &str) -> Output {
    sign_snapshot(ctx, &mut sign_cmd(ctx, MANIFEST, key), key, snapshot)
}

#[test]
fn sign_takes_the_key_from_the_key_flag() {
    let (ctx, key) = unsigned_with_key();
    let out = sign_stable_snapshot(&ctx, &key, "sign_key_flag");
    assert_exit(&out, 0);
    let text = ctx.read(MANIFEST);
    assert_house_layout(&text);
    assert_signed_by(&text, &key);
    assert!(!text.contains(key.pem.lines().nth(1).unwrap()));
}

/// `manifest sign MANIFEST` without `--key`: the key comes from the environment.
fn sign_env_cmd(ctx: &TestContext) -> Command {
    let mut cmd = ctx.otactl();
    cmd.args(["manifest", "sign", MANIFEST]);
    cmd
}

/// Signs a fresh stable manifest with a key handed over in `var` only (the PEM text,
/// or the path of the file): it must succeed, name the key id and print no part of it.
fn assert_signs_with_the_key_in(var: &str) {
    let (ctx, key) = unsigned_with_key();
    let value: OsString = match var {
        "OTACTL_SIGNING_KEY" => key.pem.clone().into(),
        _ => key.private.clone().into(),
    };
    let out = run(sign_env_cmd(&ctx).env(var, value));
    assert_exit(&out, 0);
    assert!(stderr(&out).contains(&key.id), "{}", stderr(&out));
    assert_no_secret(&key.pem, &out);
    assert_signed_by(&ctx.read(MANIFEST), &key);
}

#[test]
fn sign_takes_pem_text_from_otactl_signing_key() {
    assert_signs_with_the_key_in("OTACTL_SIGNING_KEY");
}

#[test]
fn sign_takes_the_file_named_by_otactl_signing_key_file() {
    assert_signs_with_the_key_in("OTACTL_SIGNING_KEY_FILE");
}

#[test]
fn sign_prefers_the_flag_then_the_pem_text_then_the_key_file() {
    let ctx = TestContext::new();
    let flag = openssl_key(&ctx, "flag");
    let text = openssl_key(&ctx, "text");
    let file = openssl_key(&ctx, "file");
    unsigned_stable(&ctx);
    let out = run(sign_cmd(&ctx, MANIFEST, &flag)
        .env("OTACTL_SIGNING_KEY", &text.pem)
        .env("OTACTL_SIGNING_KEY_FILE", &file.private));
    assert_exit(&out, 0);
    assert_signed_by(&ctx.read(MANIFEST), &flag);
    for key in [&flag, &text, &file] {
        assert_no_secret(&key.pem, &out);
    }
    unsigned_stable(&ctx);
    let out = run(sign_env_cmd(&ctx)
        .env("OTACTL_SIGNING_KEY", &text.pem)
        .env("OTACTL_SIGNING_KEY_FILE", &file.private));
    assert_exit(&out, 0);
    assert_signed_by(&ctx.read(MANIFEST), &text);
    for key in [&flag, &text, &file] {
        assert_no_secret(&key.pem, &out);
    }
}

#[test]
fn sign_without_a_key_names_all_three_sources() {
    let ctx = TestContext::new();
    let before = unsigned_stable(&ctx);
    let mut cmd = sign_env_cmd(&ctx);
    let out = otactl_snapshot!(ctx, cmd, "sign_without_key");
    assert_exit(&out, 2);
    let err = stderr(&out);
    for source in ["--key", "OTACTL_SIGNING_KEY`", "OTACTL_SIGNING_KEY_FILE"] {
        assert!(err.contains(source), "{source}: {err}");
    }
    assert_eq!(ctx.read(MANIFEST), before);
    // Empty variables count as unset.
    let out = run(cmd
        .env("OTACTL_SIGNING_KEY", "")
        .env("OTACTL_SIGNING_KEY_FILE", ""));
    assert_exit(&out, 2);
    assert_eq!(stderr(&out), err);
    assert_eq!(ctx.read(MANIFEST), before);
}

#[test]
fn sign_out_writes_elsewhere_and_leaves_the_input_unchanged() {
    let (ctx, key) = unsigned_with_key();
    let before = ctx.read(MANIFEST);
    let mut cmd = sign_cmd(&ctx, MANIFEST, &key);
    let out = sign_snapshot(&ctx, cmd.args(["--out", "signed.json"]), &key, "sign_out");
    assert_exit(&out, 0);
    assert_eq!(ctx.read(MANIFEST), before);
    let signed = ctx.read("signed.json");
    assert_house_layout(&signed);
    assert_signed_by(&signed, &key);
    let out = run(&mut verify_cmd(&ctx, "signed.json", &key.public));
    assert_exit(&out, 0);
}

#[test]
fn sign_refuses_an_invalid_manifest() {
    let ctx = TestContext::new();
    let key = openssl_key(&ctx, "release");
    let bad = manifest_json("stable", ID, None, "n").replacen(
        "\"notes\"",
        "\"extra\": \"x\",\n  \"notes\"",
        1,
    );
    ctx.write(MANIFEST, &bad);
    let out = sign_stable_snapshot(&ctx, &key, "sign_invalid_manifest");
    assert_exit(&out, 2);
    assert_eq!(ctx.read(MANIFEST), bad);
}

#[test]
fn sign_refuses_a_key_the_repository_does_not_trust() {
    let ctx = TestContext::new();
    let trusted = openssl_key(&ctx, "trusted");
    let other = openssl_key(&ctx, "other");
    trust_key(&ctx, &trusted, false);
    let before = unsigned_stable(&ctx);
    let out = run(&mut sign_cmd(&ctx, MANIFEST, &other));
    insta::assert_snapshot!(
        "sign_untrusted_key",
        transcript_keys(
            &ctx,
            &out,
            &[(&other, "[OTHER_KEYID]"), (&trusted, "[TRUSTED_KEYID]")]
        )
    );
    assert_exit(&out, 4);
    assert_no_secret(&other.pem, &out);
    assert_eq!(ctx.read(MANIFEST), before);
    // The trusted key signs.
    let out = run(&mut sign_cmd(&ctx, MANIFEST, &trusted));
    assert_exit(&out, 0);
    assert_no_secret(&trusted.pem, &out);
    assert_signed_by(&ctx.read(MANIFEST), &trusted);
}

#[test]
fn sign_again_is_a_no_op() {
    let (ctx, key) = unsigned_with_key();
    let out = run(&mut sign_cmd(&ctx, MANIFEST, &key));
    assert_exit(&out, 0);
    let signed = std::fs::read(ctx.path(MANIFEST)).unwrap();
    let inode = std::fs::metadata(ctx.path(MANIFEST)).unwrap().ino();
    let out = sign_stable_snapshot(&ctx, &key, "sign_again");
    assert_exit(&out, 0);
    assert_eq!(std::fs::read(ctx.path(MANIFEST)).unwrap(), signed);
    assert_eq!(std::fs::metadata(ctx.path(MANIFEST)).unwrap().ino(), inode);
}

#[test]
fn sign_never_prints_a_malformed_key_from_the_environment() {
    let ctx = TestContext::new();
    let before = unsigned_stable(&ctx);
    // A PEM block whose body is not base64, one whose body is base64 of no key, and
    // text that is no PEM at all: each refused, none echoed.
    let not_base64 = concat!(
        "-----BEGIN ",
        "PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIS3cr3t!!notbase64!!S3cr3tS3cr3tS3cr3tS3cr3t\n-----END ",
        "PRIVATE KEY-----\n"
    );
    let not_a_key = concat!(
        "-----BEGIN ",
        "PRIVATE KEY-----\nc2VjcmV0LWdhcmJhZ2Utc2VjcmV0LWdhcmJhZ2Utc2VjcmV0LWdhcmJhZ2U=\n-----END ",
        "PRIVATE KEY-----\n"
    );
    let no_pem = "hunter2-s3cr3t-passw0rd-that-is-no-key-at-all\n";
    let mut table = String::new();
    for (name, value) in [
        ("body not base64", not_base64),
        ("base64 of no key", not_a_key),
        ("no PEM at all", no_pem),
    ] {
        let out = run(sign_env_cmd(&ctx).env("OTACTL_SIGNING_KEY", value));
        assert_exit_case(&out, 2, name);
        assert_no_secret(value, &out);
        assert!(!stderr(&out).contains("hunter2") && !stderr(&out).contains("S3cr3t"));
        assert!(
            stderr(&out).contains("`$OTACTL_SIGNING_KEY`"),
            "{name}: {}",
            stderr(&out)
        );
        assert_eq!(ctx.read(MANIFEST), before);
        table.push_str(&format!("--- {name}\n{}\n", ctx.transcript(&out)));
    }
    insta::assert_snapshot!("sign_env_malformed_key", table);
}

#[test]
fn sign_never_prints_an_rsa_key_from_the_environment() {
    let ctx = TestContext::new();
    let before = unsigned_stable(&ctx);
    let rsa = key_path(&ctx, "rsa.pem");
    openssl_genpkey(&ctx, "rsa", &rsa);
    let pem = std::fs::read_to_string(&rsa).unwrap();
    let mut cmd = sign_env_cmd(&ctx);
    cmd.env("OTACTL_SIGNING_KEY", &pem);
    let out = otactl_snapshot!(ctx, cmd, "sign_env_rsa_key");
    assert_exit(&out, 2);
    assert_no_secret(&pem, &out);
    assert_eq!(ctx.read(MANIFEST), before);
}

#[test]
fn openssl_keys_sign_and_verify_end_to_end() {
    let ctx = TestContext::new();
    let key = openssl_key(&ctx, "openssl");
    // The keys are what openssl writes: PKCS#8 and SPKI PEM.
    assert!(
        key.pem
            .starts_with(concat!("-----BEGIN ", "PRIVATE KEY-----\n"))
    );
    assert!(
        std::fs::read_to_string(&key.public)
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----\n")
    );
    unsigned_stable(&ctx);
    let out = run(&mut sign_cmd(&ctx, MANIFEST, &key));
    assert_exit(&out, 0);
    assert_no_secret(&key.pem, &out);
    assert_signed_by(&ctx.read(MANIFEST), &key);
    let out = run(verify_cmd(&ctx, MANIFEST, &key.public).arg("--require-signature"));
    assert_exit(&out, 0);
    assert_eq!(
        stdout(&out),
        format!(
            "ok: {MANIFEST}: build `{ID}` on `stable`, signed by key {}\n",
            key.id
        )
    );
}

#[test]
fn der_keys_sign_and_verify_end_to_end() {
    let ctx = TestContext::new();
    let key = openssl_key(&ctx, "openssl");
    let private_der = key_path(&ctx, "openssl.der");
    let public_der = key_path(&ctx, "openssl.pub.der");
    openssl_der(&ctx, &key.private, &private_der, false);
    openssl_der(&ctx, &key.public, &public_der, true);
    assert_eq!(std::fs::read(&public_der).unwrap()[12..], key.raw_public);
    unsigned_stable(&ctx);
    let out = run(ctx
        .otactl()
        .args(["manifest", "sign", MANIFEST, "--key"])
        .arg(&private_der));
    assert_exit(&out, 0);
    // The PEM's body is the DER file: `assert_no_secret` checks its seed (the last 32
    // bytes of the PKCS#8 DER) in hex and base64 too.
    assert_eq!(pem_der(&key.pem), std::fs::read(&private_der).unwrap());
    assert_no_secret(&key.pem, &out);
    assert_signed_by(&ctx.read(MANIFEST), &key);
    // The DER public key verifies; so does the PEM one (same key).
    for public in [&public_der, &key.public] {
        let out = run(verify_cmd(&ctx, MANIFEST, public).arg("--require-signature"));
        assert_exit(&out, 0);
        assert!(stdout(&out).contains(&format!("signed by key {}", key.id)));
    }
}
