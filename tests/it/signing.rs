//! `otactl manifest new|sign|verify`: the write → sign → verify path, the refusals
//! of writing commands (nothing changes), and every kind of bad input.

use serde::Deserialize;

use crate::otactl_snapshot;
use crate::support::{FindingJson, TestContext, fixtures, manifest_json, stderr, stdout};

const SHA: &str = "3f0c2b4a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a";
const ID: &str = "20260115-1614-9121078";

fn test_key() -> std::path::PathBuf {
    fixtures().join("vectors/rfc8032-test1.private.pem")
}

fn test_pubkey() -> std::path::PathBuf {
    fixtures().join("vectors/rfc8032-test1.public.pem")
}

fn url(id: &str) -> String {
    format!("https://github.com/o/r/releases/download/{id}/app-src-{id}.tar.gz")
}

fn new_manifest(
    ctx: &TestContext,
    channel: &str,
    id: &str,
    extra: &[&str],
) -> std::process::Output {
    ctx.otactl()
        .args([
            "manifest",
            "new",
            "--channel",
            channel,
            "--build-id",
            id,
            "--url",
            &url(id),
            "--sha256",
            SHA,
        ])
        .args(extra)
        .output()
        .unwrap()
}

fn sign(ctx: &TestContext, file: &str) -> std::process::Output {
    ctx.otactl()
        .args(["manifest", "sign", file, "--key"])
        .arg(test_key())
        .output()
        .unwrap()
}

#[test]
fn new_sign_verify() {
    let ctx = TestContext::new();
    let mut cmd = ctx.otactl();
    cmd.args([
        "manifest",
        "new",
        "--channel",
        "stable",
        "--build-id",
        ID,
        "--url",
        &url(ID),
        "--sha256",
        SHA,
    ])
    .args([
        "--min-build-id",
        "20251201-0930-1a2b3c4",
        "--notes",
        "first",
    ]);
    let out = otactl_snapshot!(ctx, cmd, "new");
    assert_eq!(out.status.code(), Some(0));
    let mut cmd = ctx.otactl();
    cmd.args(["manifest", "sign", "channels/stable/manifest.json", "--key"])
        .arg(test_key());
    let out = otactl_snapshot!(ctx, cmd, "sign");
    assert_eq!(out.status.code(), Some(0));
    let mut cmd = ctx.otactl();
    cmd.args([
        "manifest",
        "verify",
        "channels/stable/manifest.json",
        "--pubkey",
    ])
    .arg(test_pubkey());
    let out = otactl_snapshot!(ctx, cmd, "verify");
    assert_eq!(out.status.code(), Some(0));

    // The house layout: sorted keys, two-space indent, final newline.
    let text = ctx.read("channels/stable/manifest.json");
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::to_string_pretty(&value).unwrap() + "\n", text);
    let signature = value["signature"].as_str().unwrap();
    assert_eq!(signature.len(), 88);
    // Signing again changes nothing (Ed25519 is deterministic).
    let before = ctx.read("channels/stable/manifest.json");
    let out = sign(&ctx, "channels/stable/manifest.json");
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("unchanged"));
    assert_eq!(ctx.read("channels/stable/manifest.json"), before);
}

#[test]
fn new_refuses_downgrades_and_keeps_min_build_id() {
    let ctx = TestContext::new();
    assert!(
        new_manifest(
            &ctx,
            "stable",
            ID,
            &["--min-build-id", "20251201-0930-1a2b3c4"]
        )
        .status
        .success()
    );
    assert!(sign(&ctx, "channels/stable/manifest.json").status.success());
    let signed = ctx.read("channels/stable/manifest.json");

    let mut table = String::new();
    for (name, id, extra) in [
        ("earlier build", "20260115-1613-aaaaaaa", vec![]),
        ("same minute, other commit", "20260115-1614-bbbbbbb", vec![]),
        (
            "lower min_build_id",
            "20260116-0000-ccccccc",
            vec!["--min-build-id", "20251101-0000-1a2b3c4"],
        ),
    ] {
        let out = new_manifest(&ctx, "stable", id, &extra);
        assert_eq!(out.status.code(), Some(4), "{name}: {}", stderr(&out));
        assert_eq!(
            ctx.read("channels/stable/manifest.json"),
            signed,
            "{name}: the file changed"
        );
        table.push_str(&format!("--- {name}\n{}", ctx.filter(&stderr(&out))));
    }
    insta::assert_snapshot!("downgrades", table);

    // The same build again: the signed file is left as it is.
    let out = new_manifest(&ctx, "stable", ID, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("unchanged"), "{}", stderr(&out));
    assert_eq!(ctx.read("channels/stable/manifest.json"), signed);

    // A later build keeps the current min_build_id.
    let out = new_manifest(&ctx, "stable", "20260116-0000-ddddddd", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let value: serde_json::Value =
        serde_json::from_str(&ctx.read("channels/stable/manifest.json")).unwrap();
    assert_eq!(value["min_build_id"], "20251201-0930-1a2b3c4");
    assert!(value.get("signature").is_none());
}

#[test]
fn new_names_the_bad_flag_and_writes_nothing() {
    let ctx = TestContext::new();
    let mut table = String::new();
    for (name, args) in [
        (
            "month 13",
            vec![
                "--channel",
                "stable",
                "--build-id",
                "20261315-1614-9121078",
                "--url",
                "https://a.example/x/20261315-1614-9121078/f",
                "--sha256",
                SHA,
            ],
        ),
        (
            "uppercase sha256",
            vec![
                "--channel",
                "stable",
                "--build-id",
                ID,
                "--url",
                "https://a.example/x",
                "--sha256",
                "3F0C2B4A9D8E7F6A5B4C3D2E1F0A9B8C7D6E5F4A3B2C1D0E9F8A7B6C5D4E3F2A",
            ],
        ),
        (
            "plain http",
            vec![
                "--channel",
                "stable",
                "--build-id",
                ID,
                "--url",
                "http://ota.example.com/f",
                "--sha256",
                SHA,
            ],
        ),
        (
            "unknown channel",
            vec![
                "--channel",
                "beta",
                "--build-id",
                ID,
                "--url",
                "https://a.example/x",
                "--sha256",
                SHA,
            ],
        ),
    ] {
        let out = ctx
            .otactl()
            .args(["manifest", "new"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        table.push_str(&format!("--- {name}\n{}", ctx.filter(&stderr(&out))));
    }
    let long = "x".repeat(501);
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
            "https://a.example/x",
            "--sha256",
            SHA,
            "--notes",
            &long,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    table.push_str(&format!("--- 501 characters of notes\n{}", stderr(&out)));
    insta::assert_snapshot!("bad_flags", table);
    assert!(!ctx.path("channels").exists());
}

#[test]
fn new_from_file_computes_the_digest_and_kind() {
    let ctx = TestContext::new();
    ctx.write("fw.bin", b"firmware image bytes");
    let digest = ctx.run_tool("sha256sum", &["fw.bin"]);
    let digest = String::from_utf8(digest.stdout).unwrap()[..64].to_owned();
    let out = ctx
        .otactl()
        .args([
            "manifest",
            "new",
            "--channel",
            "canary",
            "--build-id",
            ID,
            "--url",
            "https://ota.example.com/r/x/fw.bin",
            "--from-file",
            "fw.bin",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let value: serde_json::Value =
        serde_json::from_str(&ctx.read("channels/canary/manifest.json")).unwrap();
    assert_eq!(value["artifact"]["sha256"], digest.as_str());
    assert_eq!(value["artifact"]["kind"], "firmware");
    // The URL names no release of this build: written, with a warning.
    assert!(
        stderr(&out).contains("warning: `--url`: `artifact.url` points into the folder `x`, but `build_id` is `20260115-1614-9121078`; `otactl verify` will fail item 2"),
        "{}",
        stderr(&out)
    );
    // A gzip tarball is a source tarball.
    ctx.run_tool("tar", &["czf", "app-src.tar.gz", "fw.bin"]);
    let out = ctx
        .otactl()
        .args([
            "manifest",
            "new",
            "--channel",
            "staging",
            "--build-id",
            ID,
            "--url",
            "https://ota.example.com/r/x/app-src.tar.gz",
            "--from-file",
            "app-src.tar.gz",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let value: serde_json::Value =
        serde_json::from_str(&ctx.read("channels/staging/manifest.json")).unwrap();
    assert_eq!(value["artifact"]["kind"], "source-tar");
    // A digest that contradicts the file is refused.
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
            "https://ota.example.com/r/x/fw.bin",
            "--from-file",
            "fw.bin",
            "--sha256",
            SHA,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("`--sha256`"), "{}", stderr(&out));
    assert!(!ctx.path("channels/stable").exists());
}

#[test]
fn sign_takes_the_key_from_flag_or_environment() {
    let pem = std::fs::read_to_string(test_key()).unwrap();
    let body: Vec<&str> = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let ctx = TestContext::new();
    ctx.write(
        "channels/stable/manifest.json",
        manifest_json("stable", ID, None, "n"),
    );
    let verify = |ctx: &TestContext| {
        ctx.otactl()
            .args([
                "manifest",
                "verify",
                "channels/stable/manifest.json",
                "--require-signature",
                "--pubkey",
            ])
            .arg(test_pubkey())
            .output()
            .unwrap()
    };
    // No key at all.
    let mut cmd = ctx.otactl();
    cmd.args(["manifest", "sign", "channels/stable/manifest.json"]);
    let out = otactl_snapshot!(ctx, cmd, "sign_without_key");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(verify(&ctx).status.code(), Some(1));
    // OTACTL_SIGNING_KEY holds the PEM text.
    let out = ctx
        .otactl()
        .args(["manifest", "sign", "channels/stable/manifest.json"])
        .env("OTACTL_SIGNING_KEY", &pem)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(verify(&ctx).status.code(), Some(0));
    for line in &body {
        assert!(!stdout(&out).contains(line) && !stderr(&out).contains(line));
    }
    // OTACTL_SIGNING_KEY_FILE names the file; --out leaves the input untouched.
    let unsigned = manifest_json("stable", ID, None, "n");
    ctx.write("channels/stable/manifest.json", &unsigned);
    let out = ctx
        .otactl()
        .args([
            "manifest",
            "sign",
            "channels/stable/manifest.json",
            "--out",
            "signed.json",
        ])
        .env("OTACTL_SIGNING_KEY_FILE", test_key())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(ctx.read("channels/stable/manifest.json"), unsigned);
    assert!(ctx.read("signed.json").contains("\"signature\""));
    // A malformed key in the environment: refused, and its text never echoed.
    let garbage = concat!(
        "-----BEGIN ",
        "PRIVATE KEY-----\nc2VjcmV0LWdhcmJhZ2Utc2VjcmV0LWdhcmJhZ2U=\n-----END ",
        "PRIVATE KEY-----\n"
    );
    let out = ctx
        .otactl()
        .args(["manifest", "sign", "channels/stable/manifest.json"])
        .env("OTACTL_SIGNING_KEY", garbage)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr(&out).contains("c2VjcmV0"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("$OTACTL_SIGNING_KEY"),
        "{}",
        stderr(&out)
    );
    assert_eq!(ctx.read("channels/stable/manifest.json"), unsigned);
}

#[test]
fn sign_refuses_a_key_the_repository_does_not_trust() {
    let ctx = TestContext::new();
    ctx.trust("rfc8032-test2.public.pem");
    ctx.write(
        "otactl.toml",
        "[signing]\npublic_keys = [\"keys/ota_pubkey.pem\"]\n",
    );
    let unsigned = manifest_json("stable", ID, None, "n");
    ctx.write("channels/stable/manifest.json", &unsigned);
    let mut cmd = ctx.otactl();
    cmd.args(["manifest", "sign", "channels/stable/manifest.json", "--key"])
        .arg(test_key());
    let out = otactl_snapshot!(ctx, cmd, "sign_untrusted");
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(ctx.read("channels/stable/manifest.json"), unsigned);
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct VerifyJson {
    ok: bool,
    path: String,
    channel: Option<String>,
    build_id: Option<String>,
    signed_by: Option<String>,
    findings: Vec<FindingJson>,
}

#[test]
fn verify_fails_tampered_unsigned_and_foreign_manifests() {
    let ctx = TestContext::new();
    ctx.write(
        "channels/stable/manifest.json",
        manifest_json("stable", ID, None, "n"),
    );
    assert!(sign(&ctx, "channels/stable/manifest.json").status.success());
    let signed = ctx.read("channels/stable/manifest.json");
    let verify_json = |extra: &[&str]| -> (i32, VerifyJson) {
        let out = ctx
            .otactl()
            .args([
                "manifest",
                "verify",
                "channels/stable/manifest.json",
                "--format",
                "json",
                "--pubkey",
            ])
            .arg(test_pubkey())
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            serde_json::from_slice(&out.stdout).unwrap(),
        )
    };
    let (code, report) = verify_json(&[]);
    assert_eq!(code, 0);
    assert!(report.ok);
    assert_eq!(report.signed_by.as_deref(), Some("21fe31dfa154a261"));
    assert_eq!(report.build_id.as_deref(), Some(ID));

    ctx.write(
        "channels/stable/manifest.json",
        signed.replace("\"notes\": \"n\"", "\"notes\": \"m\""),
    );
    let (code, report) = verify_json(&[]);
    assert_eq!(code, 1);
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].key.as_deref(), Some("signature"));
    assert!(report.findings[0].message.contains("does not verify"));

    // Signed by another key.
    ctx.write("channels/stable/manifest.json", &signed);
    let out = ctx
        .otactl()
        .args([
            "manifest",
            "verify",
            "channels/stable/manifest.json",
            "--pubkey",
        ])
        .arg(fixtures().join("vectors/rfc8032-test2.public.pem"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));

    // Unsigned: fine unless signatures are required, by flag or by otactl.toml.
    ctx.write(
        "channels/stable/manifest.json",
        manifest_json("stable", ID, None, "n"),
    );
    assert_eq!(verify_json(&[]).0, 0);
    let (code, report) = verify_json(&["--require-signature"]);
    assert_eq!(code, 1);
    assert!(report.findings[0].message.contains("not signed"));
    ctx.write("otactl.toml", "[signing]\nrequire = true\n");
    assert_eq!(verify_json(&[]).0, 1);
}

#[test]
fn openssl_keys_sign_and_verify_end_to_end() {
    let ctx = TestContext::new();
    ctx.run_tool(
        "openssl",
        &["genpkey", "-algorithm", "ed25519", "-out", "../priv.pem"],
    );
    ctx.run_tool(
        "openssl",
        &["pkey", "-in", "../priv.pem", "-pubout", "-out", "pub.pem"],
    );
    ctx.run_tool(
        "openssl",
        &[
            "pkey",
            "-in",
            "../priv.pem",
            "-outform",
            "DER",
            "-out",
            "../priv.der",
        ],
    );
    ctx.run_tool(
        "openssl",
        &[
            "pkey", "-pubin", "-in", "pub.pem", "-outform", "DER", "-out", "pub.der",
        ],
    );
    for (key, public) in [("../priv.pem", "pub.pem"), ("../priv.der", "pub.der")] {
        ctx.write(
            "channels/stable/manifest.json",
            manifest_json("stable", ID, None, "n"),
        );
        let out = ctx
            .otactl()
            .args([
                "manifest",
                "sign",
                "channels/stable/manifest.json",
                "--key",
                key,
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{key}: {}", stderr(&out));
        let out = ctx
            .otactl()
            .args([
                "manifest",
                "verify",
                "channels/stable/manifest.json",
                "--require-signature",
                "--pubkey",
                public,
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{public}: {}", stdout(&out));
    }
}

/// Every hostile manifest: `verify` fails it (1), `sign` refuses it (2) and leaves
/// the file as it was.
#[test]
fn bad_manifests_are_reported_and_left_alone() {
    let ctx = TestContext::new();
    let good = manifest_json("stable", ID, Some("20251201-0930-1a2b3c4"), "short notes");
    let replace = |from: &str, to: &str| {
        assert!(good.contains(from), "{from}");
        good.replacen(from, to, 1)
    };
    let drop_key = |key: &str| {
        let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
        match key.split_once('.') {
            Some((_, inner)) => v["artifact"].as_object_mut().unwrap().remove(inner),
            None => v.as_object_mut().unwrap().remove(key),
        };
        serde_json::to_string_pretty(&v).unwrap() + "\n"
    };
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        (
            "unknown top-level key".into(),
            replace("\"notes\"", "\"extra\": \"x\",\n  \"notes\"").into(),
        ),
        (
            "unknown artifact key".into(),
            replace("\"kind\"", "\"size\": \"1\",\n    \"kind\"").into(),
        ),
        (
            "duplicate key".into(),
            replace(
                "\"notes\": \"short notes\"",
                "\"notes\": \"a\",\n  \"notes\": \"b\"",
            )
            .into(),
        ),
        (
            "duplicate nested key".into(),
            replace(
                "\"kind\": \"source-tar\",",
                "\"kind\": \"source-tar\",\n    \"kind\": \"firmware\",",
            )
            .into(),
        ),
        (
            "number value".into(),
            replace("\"short notes\"", "42").into(),
        ),
        (
            "null value".into(),
            replace("\"short notes\"", "null").into(),
        ),
        (
            "array value".into(),
            replace("\"short notes\"", "[\"a\"]").into(),
        ),
        (
            "build_id month 13".into(),
            replace(
                &format!("\"build_id\": \"{ID}\""),
                "\"build_id\": \"20261315-1614-9121078\"",
            )
            .into(),
        ),
        (
            "build_id hour 24".into(),
            replace(
                &format!("\"build_id\": \"{ID}\""),
                "\"build_id\": \"20260115-2414-9121078\"",
            )
            .into(),
        ),
        (
            "build_id uppercase hex".into(),
            replace(
                &format!("\"build_id\": \"{ID}\""),
                "\"build_id\": \"20260115-1614-912107A\"",
            )
            .into(),
        ),
        (
            "build_id 6-digit sha".into(),
            replace(
                &format!("\"build_id\": \"{ID}\""),
                "\"build_id\": \"20260115-1614-912107\"",
            )
            .into(),
        ),
        (
            "build_id missing parts".into(),
            replace(
                &format!("\"build_id\": \"{ID}\""),
                "\"build_id\": \"20260115-9121078\"",
            )
            .into(),
        ),
        (
            "created_utc without Z".into(),
            replace("13:55:03Z", "13:55:03").into(),
        ),
        (
            "created_utc with a fraction".into(),
            replace("13:55:03Z", "13:55:03.250Z").into(),
        ),
        (
            "created_utc with an offset".into(),
            replace("13:55:03Z", "13:55:03+03:00").into(),
        ),
        (
            "min_build_id later than build_id".into(),
            replace("20251201-0930-1a2b3c4", "20260115-1615-1a2b3c4").into(),
        ),
        (
            "sha256 uppercase".into(),
            replace(SHA, &SHA.to_uppercase()).into(),
        ),
        (
            "sha256 of 63 digits".into(),
            replace(SHA, &SHA[..63]).into(),
        ),
        (
            "signature not base64".into(),
            replace("\"notes\"", "\"signature\": \"not*base64\",\n  \"notes\"").into(),
        ),
        (
            "signature of the wrong length".into(),
            replace("\"notes\"", "\"signature\": \"AAAA\",\n  \"notes\"").into(),
        ),
        (
            "byte-order mark".into(),
            [b"\xEF\xBB\xBF".as_slice(), good.as_bytes()].concat(),
        ),
        ("trailing garbage".into(), format!("{good}}}").into()),
        (
            "control character in notes".into(),
            replace("short notes", "short\\u0007notes").into(),
        ),
        (
            "non-NFC notes".into(),
            replace("short notes", "cafe\\u0301").into(),
        ),
        (
            "501-character notes".into(),
            replace("short notes", &"n".repeat(501)).into(),
        ),
        (
            "wrong channel folder".into(),
            replace("\"channel\": \"stable\"", "\"channel\": \"canary\"").into(),
        ),
        ("empty file".into(), Vec::new()),
        ("10 MB file".into(), vec![b' '; 10 * 1024 * 1024]),
    ];
    for key in [
        "channel",
        "build_id",
        "created_utc",
        "notes",
        "artifact",
        "artifact.kind",
        "artifact.url",
        "artifact.sha256",
    ] {
        cases.push((format!("missing {key}"), drop_key(key).into()));
    }
    let mut table = String::new();
    for (name, bytes) in &cases {
        std::fs::write(ctx.path("channels/stable/manifest.json"), bytes).unwrap_or_else(|_| {
            ctx.write("channels/stable/manifest.json", bytes);
        });
        let verify = ctx
            .otactl()
            .args(["manifest", "verify", "channels/stable/manifest.json"])
            .output()
            .unwrap();
        let sign = sign(&ctx, "channels/stable/manifest.json");
        let verify_code = verify.status.code().unwrap();
        let sign_code = sign.status.code().unwrap();
        // A file too large to read is an input error for both; anything else is a
        // failed check for verify and a refusal for sign.
        let expected_verify = 1;
        assert_eq!(
            verify_code,
            expected_verify,
            "{name}: {}{}",
            stdout(&verify),
            stderr(&verify)
        );
        assert_eq!(sign_code, 2, "{name}: {}", stderr(&sign));
        assert_eq!(
            std::fs::read(ctx.path("channels/stable/manifest.json")).unwrap(),
            *bytes,
            "{name}: sign changed the file"
        );
        let first_error = |text: String| {
            text.lines()
                .find(|l| l.starts_with("error") || l.starts_with("  channels"))
                .unwrap_or("")
                .to_owned()
        };
        let sign_lines: Vec<String> = stderr(&sign)
            .lines()
            .skip(1)
            .take(1)
            .map(str::to_owned)
            .collect();
        table.push_str(&format!(
            "{name}\n  verify {verify_code}: {}\n  sign {sign_code}: {}\n",
            first_error(format!("{}{}", stdout(&verify), stderr(&verify))),
            sign_lines
                .first()
                .cloned()
                .unwrap_or_else(|| first_error(stderr(&sign)))
                .trim()
        ));
    }
    // A missing file and a folder in place of the file are input errors.
    std::fs::remove_file(ctx.path("channels/stable/manifest.json")).unwrap();
    for name in ["missing file", "folder instead of a file"] {
        if name.starts_with("folder") {
            std::fs::create_dir_all(ctx.path("channels/stable/manifest.json")).unwrap();
        }
        let verify = ctx
            .otactl()
            .args(["manifest", "verify", "channels/stable/manifest.json"])
            .output()
            .unwrap();
        let sign = sign(&ctx, "channels/stable/manifest.json");
        assert_eq!(verify.status.code(), Some(2), "{name}");
        assert_eq!(sign.status.code(), Some(2), "{name}");
        table.push_str(&format!(
            "{name}\n  verify 2 and sign 2: {}\n",
            stderr(&verify).lines().next().unwrap_or("")
        ));
    }
    insta::assert_snapshot!("bad_manifests", table);
}

#[test]
fn bad_signing_keys_are_refused_and_named() {
    let ctx = TestContext::new();
    let unsigned = manifest_json("stable", ID, None, "n");
    ctx.write("channels/stable/manifest.json", &unsigned);
    ctx.write("../text.pem", "hello\n");
    ctx.run_tool(
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "rsa",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
            "-out",
            "../rsa.pem",
        ],
    );
    ctx.run_tool(
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "../ec.pem",
        ],
    );
    let mut table = String::new();
    for key in ["../text.pem", "../rsa.pem", "../ec.pem", "PUBLIC"] {
        let key_path = if key == "PUBLIC" {
            test_pubkey().display().to_string()
        } else {
            key.to_owned()
        };
        let out = ctx
            .otactl()
            .args([
                "manifest",
                "sign",
                "channels/stable/manifest.json",
                "--key",
                &key_path,
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{key}");
        assert_eq!(ctx.read("channels/stable/manifest.json"), unsigned);
        table.push_str(&ctx.filter(&stderr(&out)));
    }
    insta::assert_snapshot!("bad_keys", table);
}
