//! Hostile input, table-driven: every malformed manifest fails `manifest verify`
//! (exit 1) and is refused by `manifest sign` (exit 2) without being touched; a
//! file that cannot be read is an input error (2) for both; every unusable signing
//! key is refused (2) and named, and never printed.

use std::path::Path;
use std::process::Output;

use crate::support::assert::{assert_exit_case, assert_no_secret};
use crate::support::fixture::{ID, MANIFEST, MIN, SHA};
use crate::support::keys::{key_path, openssl_genpkey, openssl_key};
use crate::support::{TestContext, manifest_json, stderr, stdout};

const NOTES: &str = "short notes";

fn verify(ctx: &TestContext) -> Output {
    ctx.otactl()
        .args(["manifest", "verify", MANIFEST])
        .output()
        .unwrap()
}

fn sign(ctx: &TestContext, key: &Path) -> Output {
    ctx.otactl()
        .args(["manifest", "sign", MANIFEST, "--key"])
        .arg(key)
        .output()
        .unwrap()
}

/// The first `error` line of stdout (a finding), else [`stderr_line`].
fn verify_line(out: &Output) -> String {
    stdout(out)
        .lines()
        .find(|l| l.starts_with("error"))
        .map_or_else(|| stderr_line(out), str::to_owned)
}

/// The first line of stderr, with the line under it when that one is indented (the
/// first finding under a heading, or the `caused by:` line).
fn stderr_line(out: &Output) -> String {
    let text = stderr(out);
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("").to_owned();
    match lines.next() {
        Some(next) if next.starts_with("  ") => format!("{first} | {}", next.trim()),
        _ => first,
    }
}

/// The valid manifest every case starts from, with each replacement checked.
struct Base(String);

impl Base {
    fn replace(&self, from: &str, to: &str) -> Vec<u8> {
        assert_eq!(self.0.matches(from).count(), 1, "{from}");
        self.0.replacen(from, to, 1).into_bytes()
    }

    /// The manifest without one key (`artifact.kind` for a nested one).
    fn without(&self, key: &str) -> Vec<u8> {
        let mut value: serde_json::Value = serde_json::from_str(&self.0).unwrap();
        let removed = match key.split_once('.') {
            Some((outer, inner)) => value[outer].as_object_mut().unwrap().remove(inner),
            None => value.as_object_mut().unwrap().remove(key),
        };
        assert!(removed.is_some(), "{key}");
        (serde_json::to_string_pretty(&value).unwrap() + "\n").into_bytes()
    }
}

fn hostile_cases() -> Vec<(String, Vec<u8>)> {
    let base = Base(manifest_json("stable", ID, Some(MIN), NOTES));
    let build_id = |to: &str| {
        base.replace(
            &format!("\"build_id\": \"{ID}\""),
            &format!("\"build_id\": \"{to}\""),
        )
    };
    let notes = |to: &str| {
        base.replace(
            &format!("\"notes\": \"{NOTES}\""),
            &format!("\"notes\": {to}"),
        )
    };
    let before_notes =
        |entry: &str| base.replace("  \"notes\"", &format!("  {entry},\n  \"notes\""));
    let created = |to: &str| base.replace("2026-01-15T13:55:03Z", to);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unknown top-level key", before_notes("\"extra\": \"x\"")),
        (
            "unknown artifact key",
            base.replace("    \"kind\"", "    \"size\": \"1024\",\n    \"kind\""),
        ),
        (
            "duplicate top-level key",
            before_notes("\"notes\": \"other notes\""),
        ),
        (
            "duplicate key in artifact",
            base.replace(
                "    \"kind\": \"source-tar\",",
                "    \"kind\": \"source-tar\",\n    \"kind\": \"firmware\",",
            ),
        ),
        ("number value", notes("42")),
        ("null value", notes("null")),
        ("array value", notes("[\"short notes\"]")),
    ];
    let missing: Vec<(String, Vec<u8>)> = [
        "channel",
        "build_id",
        "created_utc",
        "notes",
        "artifact",
        "artifact.kind",
        "artifact.url",
        "artifact.sha256",
    ]
    .iter()
    .map(|key| (format!("missing {key}"), base.without(key)))
    .collect();
    let more: Vec<(&str, Vec<u8>)> = vec![
        ("build_id month 13", build_id("20261315-1614-9121078")),
        ("build_id hour 24", build_id("20260115-2414-9121078")),
        ("build_id uppercase hex", build_id("20260115-1614-9121A78")),
        ("build_id 6-digit sha", build_id("20260115-1614-912107")),
        ("build_id missing parts", build_id("20260115-9121078")),
        ("created_utc without Z", created("2026-01-15T13:55:03")),
        (
            "created_utc with a fraction",
            created("2026-01-15T13:55:03.5Z"),
        ),
        (
            "created_utc with an offset",
            created("2026-01-15T13:55:03+00:00"),
        ),
        (
            "min_build_id later than build_id",
            base.replace(MIN, "20260115-1615-1a2b3c4"),
        ),
        ("sha256 uppercase", base.replace(SHA, &SHA.to_uppercase())),
        ("sha256 of 63 digits", base.replace(SHA, &SHA[..63])),
        (
            "signature not base64",
            before_notes(&format!("\"signature\": \"{}\"", "!".repeat(88))),
        ),
        (
            "signature of the wrong length",
            before_notes(&format!("\"signature\": \"{}\"", "A".repeat(84))),
        ),
        (
            "BOM",
            [b"\xEF\xBB\xBF".as_slice(), base.0.as_bytes()].concat(),
        ),
        ("trailing garbage", format!("{}{{}}\n", base.0).into_bytes()),
        ("control character in notes", notes("\"bell\\u0007here\"")),
        ("non-NFC notes", notes("\"cafe\u{301}\"")),
        (
            "501-character notes",
            notes(&format!("\"{}\"", "n".repeat(501))),
        ),
        (
            "wrong channel folder",
            manifest_json("canary", ID, Some(MIN), NOTES).into_bytes(),
        ),
        ("empty file", Vec::new()),
        (
            // Valid JSON padded with white space: only the size limit can refuse it.
            "10 MB file",
            {
                let mut big = base.0.clone().into_bytes();
                big.resize(10 * 1024 * 1024, b' ');
                big
            },
        ),
    ];
    let named = |(name, bytes): (&str, Vec<u8>)| (name.to_owned(), bytes);
    let mut all: Vec<(String, Vec<u8>)> = cases.into_iter().map(named).collect();
    all.extend(missing);
    all.extend(more.into_iter().map(named));
    all
}

#[test]
fn hostile_manifests_fail_verify_and_are_refused_by_sign() {
    let ctx = TestContext::new();
    let release = openssl_key(&ctx, "release");
    let (key, pem) = (release.private, release.pem);
    let mut table = String::new();
    let mut wrong = Vec::new();
    let mut row = |name: &str, verify: &Output, sign: &Output, expect_verify: i32| {
        let (v, s) = (verify.status.code(), sign.status.code());
        if v != Some(expect_verify) || s != Some(2) {
            wrong.push(format!(
                "{name}: verify exit {v:?} (expected {expect_verify}), sign exit {s:?} (expected 2)"
            ));
        }
        assert_no_secret(&pem, sign);
        table.push_str(&format!(
            "{name}: verify exit {}: {}; sign exit {}: {}\n",
            v.unwrap_or(-1),
            verify_line(verify),
            s.unwrap_or(-1),
            stderr_line(sign),
        ));
    };
    for (name, bytes) in hostile_cases() {
        ctx.write(MANIFEST, &bytes);
        let verify = verify(&ctx);
        let sign = sign(&ctx, &key);
        assert_eq!(
            std::fs::read(ctx.path(MANIFEST)).unwrap(),
            bytes,
            "{name}: sign changed the file"
        );
        // A folder holds only the manifest: no temporary file left behind.
        assert_eq!(
            std::fs::read_dir(ctx.path("channels/stable"))
                .unwrap()
                .count(),
            1,
            "{name}"
        );
        row(&name, &verify, &sign, 1);
    }
    // Not a failed check but an input error (SPEC 6): nothing to read.
    std::fs::remove_file(ctx.path(MANIFEST)).unwrap();
    let (verify_out, sign_out) = (verify(&ctx), sign(&ctx, &key));
    assert!(
        !ctx.path(MANIFEST).exists(),
        "sign created the missing file"
    );
    row("missing file", &verify_out, &sign_out, 2);
    std::fs::create_dir(ctx.path(MANIFEST)).unwrap();
    let (verify_out, sign_out) = (verify(&ctx), sign(&ctx, &key));
    assert!(ctx.path(MANIFEST).is_dir());
    assert_eq!(std::fs::read_dir(ctx.path(MANIFEST)).unwrap().count(), 0);
    row("directory in place of the file", &verify_out, &sign_out, 2);

    // SPEC 6: a checking command reports an invalid manifest as 1. A manifest over
    // the 64 KiB limit is one (`otactl lint` reports it so, with exit 1); only a
    // file that cannot be read at all is an input error (2).
    insta::assert_snapshot!("hostile_manifests", table);
    assert!(wrong.is_empty(), "wrong exit codes:\n{}", wrong.join("\n"));
}

#[test]
fn unusable_signing_keys_are_refused_and_named() {
    let ctx = TestContext::new();
    let unsigned = manifest_json("stable", ID, Some(MIN), NOTES);
    ctx.write(MANIFEST, &unsigned);
    let ed25519 = openssl_key(&ctx, "release");
    let text = key_path(&ctx, "notes.pem");
    std::fs::write(&text, "this is a text file, not a key\n").unwrap();
    let rsa = key_path(&ctx, "rsa.pem");
    openssl_genpkey(&ctx, "rsa", &rsa);
    let ec = key_path(&ctx, "ec.pem");
    openssl_genpkey(&ctx, "ec", &ec);
    let public = ed25519.public;
    let encrypted = key_path(&ctx, "encrypted.pem");
    ctx.run_tool(
        "openssl",
        &[
            "pkey",
            "-in",
            ed25519.private.to_str().unwrap(),
            "-aes256",
            "-passout",
            "pass:test-only",
            "-out",
            encrypted.to_str().unwrap(),
        ],
    );
    let mut table = String::new();
    for (name, key) in [
        ("a text file", &text),
        ("an RSA key", &rsa),
        ("a public key", &public),
        ("an EC key", &ec),
        ("an encrypted Ed25519 key", &encrypted),
    ] {
        let out = sign(&ctx, key);
        assert_exit_case(&out, 2, name);
        assert!(
            stderr(&out).contains(&format!("`{}`", key.display())),
            "{name}: the key file is not named: {}",
            stderr(&out)
        );
        assert_eq!(ctx.read(MANIFEST), unsigned, "{name}: the manifest changed");
        assert_no_secret(&std::fs::read_to_string(key).unwrap(), &out);
        table.push_str(&format!("--- {name}\n{}\n", ctx.transcript(&out)));
    }
    insta::assert_snapshot!("unusable_signing_keys", table);
}
