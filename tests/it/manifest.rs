//! `otactl manifest new|sign|verify` end to end: what each command writes, refuses
//! and reports, with keys made by openssl in each test's temp folder (outside the
//! working folder, as private keys should be).
//!
//! Signatures are checked independently of otactl: the canonical bytes are formed
//! with `olpc-cjson` and verified with `ed25519-dalek`, the public key taken from
//! the SPKI file openssl wrote. Key ids in transcripts are computed from that key
//! (SPEC 2.3) and replaced by `[KEYID]`.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use serde::{Deserialize, Serialize as _};
use sha2::{Digest as _, Sha256};

use crate::otactl_snapshot;
use crate::support::{FindingJson, TestContext, manifest_json, stderr, stdout};

const ID: &str = "20260115-1614-9121078";
const MIN: &str = "20251201-0930-1a2b3c4";
const SHA: &str = "3f0c2b4a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a";
const MANIFEST: &str = "channels/stable/manifest.json";

/// The DER prefix of an Ed25519 `SubjectPublicKeyInfo`; the raw key follows.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A release URL whose tag is the build id (so `manifest new` has nothing to warn about).
fn url(id: &str) -> String {
    format!("https://github.com/o/r/releases/download/{id}/evse-src-{id}.tar.gz")
}

/// An Ed25519 key pair made by openssl under `[TEMP]/keys/`.
struct Key {
    private: PathBuf,
    public: PathBuf,
    raw_public: [u8; 32],
    /// SPEC 2.3: first 16 hex digits of SHA-256 of the raw public key.
    id: String,
    /// The PKCS#8 PEM text of the private key.
    pem: String,
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// The DER inside a one-block PEM text.
fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>();
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .unwrap()
}

fn openssl_key(ctx: &TestContext, name: &str) -> Key {
    let dir = ctx.root().join("keys");
    std::fs::create_dir_all(&dir).unwrap();
    let private = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub.pem"));
    ctx.run_tool(
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "ed25519",
            "-out",
            private.to_str().unwrap(),
        ],
    );
    ctx.run_tool(
        "openssl",
        &[
            "pkey",
            "-in",
            private.to_str().unwrap(),
            "-pubout",
            "-out",
            public.to_str().unwrap(),
        ],
    );
    let der = pem_der(&std::fs::read_to_string(&public).unwrap());
    assert_eq!(der.len(), 44, "an Ed25519 SPKI is 44 bytes");
    assert_eq!(der[..12], SPKI_PREFIX);
    let raw_public: [u8; 32] = der[12..].try_into().unwrap();
    Key {
        id: hex(&Sha256::digest(raw_public)[..8]),
        raw_public,
        pem: std::fs::read_to_string(&private).unwrap(),
        private,
        public,
    }
}

/// Panics when any part of a private key's PEM body shows up on stdout or stderr.
fn assert_no_secret(pem: &str, out: &Output) {
    let printed = format!("{}{}", stdout(out), stderr(out));
    let flat: String = printed.split_whitespace().collect();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(!body.is_empty());
    for line in pem
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
    {
        assert!(
            !printed.contains(line),
            "private key material was printed:\n{printed}"
        );
        // The key-specific tail (the common PKCS#8 header ends within 24 characters).
        let tail = &line[line.len().min(24)..];
        assert!(
            tail.len() < 16 || !printed.contains(tail),
            "private key material was printed:\n{printed}"
        );
    }
    assert!(
        !flat.contains(&body),
        "private key material was printed:\n{printed}"
    );
}

/// The transcript with the key ids replaced by names.
fn transcript(ctx: &TestContext, out: &Output, keys: &[(&Key, &str)]) -> String {
    let mut text = ctx.transcript(out);
    for (key, name) in keys {
        text = text.replace(&key.id, name);
    }
    text
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn new_cmd(ctx: &TestContext, channel: &str, id: &str, sha: &str) -> Command {
    let mut cmd = ctx.otactl();
    cmd.args([
        "manifest",
        "new",
        "--channel",
        channel,
        "--build-id",
        id,
        "--url",
        &url(id),
        "--sha256",
        sha,
    ]);
    cmd
}

fn sign_cmd(ctx: &TestContext, file: &str, key: &Key) -> Command {
    let mut cmd = ctx.otactl();
    cmd.args(["manifest", "sign", file, "--key"])
        .arg(&key.private);
    cmd
}

fn verify_cmd(ctx: &TestContext, file: &str, public: &Path) -> Command {
    let mut cmd = ctx.otactl();
    cmd.args(["manifest", "verify", file, "--pubkey"])
        .arg(public);
    cmd
}

/// Writes the current stable manifest with `new` and signs it; returns its bytes.
fn signed_stable(ctx: &TestContext, key: &Key, extra: &[&str]) -> Vec<u8> {
    let out = run(new_cmd(ctx, "stable", ID, SHA).args(extra));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    sign_ok(ctx, key);
    std::fs::read(ctx.path(MANIFEST)).unwrap()
}

/// Signs the stable manifest with `--key`, which must succeed without printing the key.
fn sign_ok(ctx: &TestContext, key: &Key) {
    let out = run(&mut sign_cmd(ctx, MANIFEST, key));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_no_secret(&key.pem, &out);
}

fn read_json(ctx: &TestContext, rel: &str) -> serde_json::Value {
    serde_json::from_str(&ctx.read(rel)).unwrap()
}

/// Checks `signature` of a manifest file against `key` without otactl: Ed25519
/// (strict) over the OLPC canonical JSON of the object without `signature`.
fn assert_signed_by(text: &str, key: &Key) {
    let mut value: serde_json::Value = serde_json::from_str(text).unwrap();
    let signature = value
        .as_object_mut()
        .unwrap()
        .remove("signature")
        .expect("the manifest has a signature");
    let signature = signature.as_str().unwrap();
    assert_eq!(signature.len(), 88, "{signature}");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .unwrap();
    let bytes: [u8; 64] = bytes.try_into().unwrap();
    let mut message = Vec::new();
    let mut ser =
        serde_json::Serializer::with_formatter(&mut message, olpc_cjson::CanonicalFormatter::new());
    value.serialize(&mut ser).unwrap();
    let public = ed25519_dalek::VerifyingKey::from_bytes(&key.raw_public).unwrap();
    public
        .verify_strict(&message, &ed25519_dalek::Signature::from_bytes(&bytes))
        .expect("the signature verifies over the canonical bytes");
}

/// The house layout of SPEC 2.4: sorted keys at every level, two-space indent,
/// `"key": value` spacing, one final newline, nothing else.
fn assert_house_layout(text: &str) {
    assert!(text.ends_with("}\n") && !text.ends_with("\n\n"), "{text:?}");
    assert!(
        !text.contains('\r') && !text.contains('\t') && !text.starts_with('\u{feff}'),
        "{text:?}"
    );
    let keys_at = |indent: usize| -> Vec<&str> {
        text.lines()
            .filter(|l| l.len() > indent && l[..indent].trim().is_empty())
            .filter(|l| l.as_bytes()[indent] == b'"')
            .map(|l| l[indent + 1..].split('"').next().unwrap())
            .collect()
    };
    for indent in [2, 4] {
        let keys = keys_at(indent);
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(keys, sorted, "keys at indent {indent} are not sorted");
    }
    // serde_json's map is sorted and its pretty printer indents by two spaces.
    let value: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(serde_json::to_string_pretty(&value).unwrap() + "\n", text);
}

#[test]
fn new_sign_verify_round_trip() {
    let ctx = TestContext::new();
    let key = openssl_key(&ctx, "release");
    let names = [(&key, "[KEYID]")];

    let mut cmd = new_cmd(&ctx, "stable", ID, SHA);
    cmd.args(["--min-build-id", MIN, "--notes", "first release"]);
    let out = otactl_snapshot!(ctx, cmd, "round_trip_new");
    assert_eq!(out.status.code(), Some(0));
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
    insta::assert_snapshot!("round_trip_sign", transcript(&ctx, &out, &names));
    assert_eq!(out.status.code(), Some(0));
    assert_no_secret(&key.pem, &out);

    let out = run(&mut verify_cmd(&ctx, MANIFEST, &key.public));
    insta::assert_snapshot!("round_trip_verify", transcript(&ctx, &out, &names));
    assert_eq!(out.status.code(), Some(0));

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
    assert_eq!(value["artifact"]["url"], url(ID).as_str());
    assert_signed_by(&signed, &key);
}

#[test]
fn new_refuses_an_earlier_build() {
    let ctx = TestContext::new();
    let key = openssl_key(&ctx, "release");
    let before = signed_stable(&ctx, &key, &[]);
    let mut cmd = new_cmd(&ctx, "stable", "20260115-1613-9121078", SHA);
    let out = otactl_snapshot!(ctx, cmd, "new_earlier_build");
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(std::fs::read(ctx.path(MANIFEST)).unwrap(), before);
}

#[test]
fn new_refuses_another_commit_in_the_same_minute() {
    let ctx = TestContext::new();
    let key = openssl_key(&ctx, "release");
    let before = signed_stable(&ctx, &key, &[]);
    let mut cmd = new_cmd(&ctx, "stable", "20260115-1614-aaaaaaa", SHA);
    let out = otactl_snapshot!(ctx, cmd, "new_same_minute");
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(std::fs::read(ctx.path(MANIFEST)).unwrap(), before);
}

#[test]
fn new_refuses_another_artifact_under_the_same_build_id() {
    let ctx = TestContext::new();
    let key = openssl_key(&ctx, "release");
    let before = signed_stable(&ctx, &key, &[]);
    let other = "a".repeat(64);
    let mut cmd = new_cmd(&ctx, "stable", ID, &other);
    let out = otactl_snapshot!(ctx, cmd, "new_same_build_other_artifact");
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(std::fs::read(ctx.path(MANIFEST)).unwrap(), before);
}

#[test]
fn new_leaves_a_signed_file_with_the_same_content_untouched() {
    let ctx = TestContext::new();
    let key = openssl_key(&ctx, "release");
    let before = signed_stable(&ctx, &key, &["--min-build-id", MIN, "--notes", "n"]);
    let inode = std::fs::metadata(ctx.path(MANIFEST)).unwrap().ino();
    // The same build again, a minute later (another `created_utc`), same flags.
    let mut cmd = new_cmd(&ctx, "stable", ID, SHA);
    cmd.args(["--notes", "n"]);
    let out = otactl_snapshot!(ctx, cmd, "new_unchanged");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::read(ctx.path(MANIFEST)).unwrap(), before);
    // Not even rewritten with the same bytes.
    assert_eq!(std::fs::metadata(ctx.path(MANIFEST)).unwrap().ino(), inode);
}

#[test]
fn new_keeps_the_current_min_build_id() {
    let ctx = TestContext::new();
    let key = openssl_key(&ctx, "release");
    signed_stable(&ctx, &key, &["--min-build-id", MIN]);
    let later = "20260116-0900-bbbbbbb";
    let out = run(&mut new_cmd(&ctx, "stable", later, SHA));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let value = read_json(&ctx, MANIFEST);
    assert_eq!(value["build_id"], later);
    assert_eq!(value["min_build_id"], MIN);
    // A new manifest is unsigned: the old signature does not cover it.
    assert!(value.get("signature").is_none());
    assert_house_layout(&ctx.read(MANIFEST));
}

#[test]
fn new_raises_min_build_id_when_asked() {
    let ctx = TestContext::new();
    let key = openssl_key(&ctx, "release");
    signed_stable(&ctx, &key, &["--min-build-id", MIN]);
    let later = "20260116-0900-bbbbbbb";
    let out = run(new_cmd(&ctx, "stable", later, SHA).args(["--min-build-id", ID]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(read_json(&ctx, MANIFEST)["min_build_id"], ID);
}

#[test]
fn new_refuses_a_lower_min_build_id() {
    let ctx = TestContext::new();
    let key = openssl_key(&ctx, "release");
    let before = signed_stable(&ctx, &key, &["--min-build-id", MIN]);
    let mut cmd = new_cmd(&ctx, "stable", "20260116-0900-bbbbbbb", SHA);
    cmd.args(["--min-build-id", "20251101-0000-1a2b3c4"]);
    let out = otactl_snapshot!(ctx, cmd, "new_lower_min_build_id");
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(std::fs::read(ctx.path(MANIFEST)).unwrap(), before);
}

#[test]
fn new_refuses_an_unknown_channel() {
    let ctx = TestContext::new();
    let mut cmd = new_cmd(&ctx, "beta", ID, SHA);
    let out = otactl_snapshot!(ctx, cmd, "new_unknown_channel");
    assert_eq!(out.status.code(), Some(2));
    assert!(!ctx.path("channels").exists());
}

#[test]
fn new_names_the_bad_flag_and_writes_nothing() {
    let ctx = TestContext::new();
    let notes_501 = "x".repeat(501);
    let upper = SHA.to_uppercase();
    let good_url = url(ID);
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
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
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
    let out = run(ctx.otactl().args([
        "manifest",
        "new",
        "--channel",
        "canary",
        "--build-id",
        ID,
        "--url",
        &loopback,
        "--sha256",
        SHA,
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
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
    let digest = hex(&Sha256::digest(&image));
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
    assert_eq!(out.status.code(), Some(0));
    let value = read_json(&ctx, "channels/canary/manifest.json");
    assert_eq!(value["artifact"]["sha256"], digest.as_str());
    assert_eq!(value["artifact"]["kind"], "firmware");
}

#[test]
fn new_from_file_takes_a_gzip_tarball_for_a_source_tarball() {
    let ctx = TestContext::new();
    ctx.write("src/main.c", "int main(void) { return 0; }\n");
    ctx.run_tool("tar", &["czf", "evse-src.tar.gz", "src"]);
    let bytes = std::fs::read(ctx.path("evse-src.tar.gz")).unwrap();
    assert_eq!(bytes[..2], [0x1f, 0x8b], "tar czf writes gzip");
    let digest = hex(&Sha256::digest(&bytes));
    let out = run(ctx.otactl().args([
        "manifest",
        "new",
        "--channel",
        "staging",
        "--build-id",
        ID,
        "--url",
        &url(ID),
        "--from-file",
        "evse-src.tar.gz",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let value = read_json(&ctx, "channels/staging/manifest.json");
    assert_eq!(value["artifact"]["sha256"], digest.as_str());
    assert_eq!(value["artifact"]["kind"], "source-tar");
}

#[test]
fn new_warns_when_the_url_names_another_release() {
    let ctx = TestContext::new();
    ctx.write("fw.bin", b"firmware image bytes");
    let url = "https://ota.example.com/r/x/fw.bin";
    let out = run(ctx.otactl().args([
        "manifest",
        "new",
        "--channel",
        "canary",
        "--build-id",
        ID,
        "--url",
        url,
        "--from-file",
        "fw.bin",
    ]));
    // Written all the same: the release may be published under that folder later.
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("warning: `--url`: `artifact.url` points into the folder `x`, but `build_id` is `{ID}`; `otactl verify` will fail item 2")),
        "{}",
        stderr(&out)
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
    let mut cmd = ctx.otactl();
    cmd.args([
        "manifest",
        "new",
        "--channel",
        "stable",
        "--build-id",
        ID,
        "--url",
        &format!("https://github.com/o/r/releases/download/{ID}/fw.bin"),
        "--from-file",
        "fw.bin",
        "--sha256",
        SHA,
    ]);
    let out = otactl_snapshot!(ctx, cmd, "new_from_file_contradicting_sha256");
    assert_eq!(out.status.code(), Some(2));
    assert!(!ctx.path("channels").exists());
}

/// Writes an unsigned, valid stable manifest; returns its bytes.
fn unsigned_stable(ctx: &TestContext) -> String {
    let text = manifest_json("stable", ID, Some(MIN), "n");
    ctx.write(MANIFEST, &text);
    text
}

#[test]
fn sign_takes_the_key_from_the_key_flag() {
    let ctx = TestContext::new();
    let key = openssl_key(&ctx, "release");
    unsigned_stable(&ctx);
    let out = run(&mut sign_cmd(&ctx, MANIFEST, &key));
    insta::assert_snapshot!(
        "sign_key_flag",
        transcript(&ctx, &out, &[(&key, "[KEYID]")])
    );
    assert_eq!(out.status.code(), Some(0));
    assert_no_secret(&key.pem, &out);
    let text = ctx.read(MANIFEST);
    assert_house_layout(&text);
    assert_signed_by(&text, &key);
    assert!(!text.contains(key.pem.lines().nth(1).unwrap()));
}

#[test]
fn sign_takes_pem_text_from_otactl_signing_key() {
    let ctx = TestContext::new();
    let key = openssl_key(&ctx, "release");
    unsigned_stable(&ctx);
    let out = run(ctx
        .otactl()
        .args(["manifest", "sign", MANIFEST])
        .env("OTACTL_SIGNING_KEY", &key.pem));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains(&key.id), "{}", stderr(&out));
    assert_no_secret(&key.pem, &out);
    assert_signed_by(&ctx.read(MANIFEST), &key);
}

#[test]
fn sign_takes_the_file_named_by_otactl_signing_key_file() {
    let ctx = TestContext::new();
    let key = openssl_key(&ctx, "release");
    unsigned_stable(&ctx);
    let out = run(ctx
        .otactl()
        .args(["manifest", "sign", MANIFEST])
        .env("OTACTL_SIGNING_KEY_FILE", &key.private));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains(&key.id), "{}", stderr(&out));
    assert_no_secret(&key.pem, &out);
    assert_signed_by(&ctx.read(MANIFEST), &key);
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
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_signed_by(&ctx.read(MANIFEST), &flag);
    for key in [&flag, &text, &file] {
        assert_no_secret(&key.pem, &out);
    }
    unsigned_stable(&ctx);
    let out = run(ctx
        .otactl()
        .args(["manifest", "sign", MANIFEST])
        .env("OTACTL_SIGNING_KEY", &text.pem)
        .env("OTACTL_SIGNING_KEY_FILE", &file.private));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_signed_by(&ctx.read(MANIFEST), &text);
    for key in [&flag, &text, &file] {
        assert_no_secret(&key.pem, &out);
    }
}

#[test]
fn sign_without_a_key_names_all_three_sources() {
    let ctx = TestContext::new();
    let before = unsigned_stable(&ctx);
    let mut cmd = ctx.otactl();
    cmd.args(["manifest", "sign", MANIFEST]);
    let out = otactl_snapshot!(ctx, cmd, "sign_without_key");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for source in ["--key", "OTACTL_SIGNING_KEY`", "OTACTL_SIGNING_KEY_FILE"] {
        assert!(err.contains(source), "{source}: {err}");
    }
    assert_eq!(ctx.read(MANIFEST), before);
    // Empty variables count as unset.
    let out = run(cmd
        .env("OTACTL_SIGNING_KEY", "")
        .env("OTACTL_SIGNING_KEY_FILE", ""));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), err);
    assert_eq!(ctx.read(MANIFEST), before);
}

#[test]
fn sign_out_writes_elsewhere_and_leaves_the_input_unchanged() {
    let ctx = TestContext::new();
    let key = openssl_key(&ctx, "release");
    let before = unsigned_stable(&ctx);
    let mut cmd = sign_cmd(&ctx, MANIFEST, &key);
    cmd.args(["--out", "signed.json"]);
    let out = run(&mut cmd);
    insta::assert_snapshot!("sign_out", transcript(&ctx, &out, &[(&key, "[KEYID]")]));
    assert_eq!(out.status.code(), Some(0));
    assert_no_secret(&key.pem, &out);
    assert_eq!(ctx.read(MANIFEST), before);
    let signed = ctx.read("signed.json");
    assert_house_layout(&signed);
    assert_signed_by(&signed, &key);
    let out = run(&mut verify_cmd(&ctx, "signed.json", &key.public));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
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
    let out = run(&mut sign_cmd(&ctx, MANIFEST, &key));
    insta::assert_snapshot!(
        "sign_invalid_manifest",
        transcript(&ctx, &out, &[(&key, "[KEYID]")])
    );
    assert_eq!(out.status.code(), Some(2));
    assert_no_secret(&key.pem, &out);
    assert_eq!(ctx.read(MANIFEST), bad);
}

#[test]
fn sign_refuses_a_key_the_repository_does_not_trust() {
    let ctx = TestContext::new();
    let trusted = openssl_key(&ctx, "trusted");
    let other = openssl_key(&ctx, "other");
    std::fs::create_dir_all(ctx.path("keys")).unwrap();
    std::fs::copy(&trusted.public, ctx.path("keys/ota_pubkey.pem")).unwrap();
    ctx.write(
        "otactl.toml",
        "[signing]\npublic_keys = [\"keys/ota_pubkey.pem\"]\n",
    );
    let before = unsigned_stable(&ctx);
    let out = run(&mut sign_cmd(&ctx, MANIFEST, &other));
    insta::assert_snapshot!(
        "sign_untrusted_key",
        transcript(
            &ctx,
            &out,
            &[(&other, "[OTHER_KEYID]"), (&trusted, "[TRUSTED_KEYID]")]
        )
    );
    assert_eq!(out.status.code(), Some(4));
    assert_no_secret(&other.pem, &out);
    assert_eq!(ctx.read(MANIFEST), before);
    // The trusted key signs.
    let out = run(&mut sign_cmd(&ctx, MANIFEST, &trusted));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_no_secret(&trusted.pem, &out);
    assert_signed_by(&ctx.read(MANIFEST), &trusted);
}

#[test]
fn sign_again_is_a_no_op() {
    let ctx = TestContext::new();
    let key = openssl_key(&ctx, "release");
    unsigned_stable(&ctx);
    let out = run(&mut sign_cmd(&ctx, MANIFEST, &key));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let signed = std::fs::read(ctx.path(MANIFEST)).unwrap();
    let inode = std::fs::metadata(ctx.path(MANIFEST)).unwrap().ino();
    let out = run(&mut sign_cmd(&ctx, MANIFEST, &key));
    insta::assert_snapshot!("sign_again", transcript(&ctx, &out, &[(&key, "[KEYID]")]));
    assert_eq!(out.status.code(), Some(0));
    assert_no_secret(&key.pem, &out);
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
        let out = run(ctx
            .otactl()
            .args(["manifest", "sign", MANIFEST])
            .env("OTACTL_SIGNING_KEY", value));
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
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
    let rsa = ctx.root().join("keys/rsa.pem");
    std::fs::create_dir_all(rsa.parent().unwrap()).unwrap();
    ctx.run_tool(
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "rsa",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
            "-out",
            rsa.to_str().unwrap(),
        ],
    );
    let pem = std::fs::read_to_string(&rsa).unwrap();
    let mut cmd = ctx.otactl();
    cmd.args(["manifest", "sign", MANIFEST])
        .env("OTACTL_SIGNING_KEY", &pem);
    let out = otactl_snapshot!(ctx, cmd, "sign_env_rsa_key");
    assert_eq!(out.status.code(), Some(2));
    assert_no_secret(&pem, &out);
    assert_eq!(ctx.read(MANIFEST), before);
}

#[test]
fn verify_fails_a_field_changed_after_signing() {
    let ctx = TestContext::new();
    let key = openssl_key(&ctx, "release");
    unsigned_stable(&ctx);
    sign_ok(&ctx, &key);
    let signed = ctx.read(MANIFEST);
    let tampered = signed.replacen(
        &format!("\"url\": \"{}\"", url(ID)),
        &format!(
            "\"url\": \"{}\"",
            url(ID).replace("github.com/o/r", "github.com/evil/r")
        ),
        1,
    );
    assert_ne!(tampered, signed);
    ctx.write(MANIFEST, &tampered);
    let out = run(&mut verify_cmd(&ctx, MANIFEST, &key.public));
    insta::assert_snapshot!(
        "verify_tampered",
        transcript(&ctx, &out, &[(&key, "[KEYID]")])
    );
    assert_eq!(out.status.code(), Some(1));
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
        transcript(&ctx, &out, &[(&key, "[KEYID]"), (&other, "[OTHER_KEYID]")])
    );
    assert_eq!(out.status.code(), Some(1));
    // With both keys trusted it verifies, signed by the other one.
    let out = run(verify_cmd(&ctx, MANIFEST, &key.public)
        .arg("--pubkey")
        .arg(&other.public));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains(&format!("signed by key {}", other.id)));
}

#[test]
fn verify_requires_a_signature_only_when_asked() {
    let ctx = TestContext::new();
    let key = openssl_key(&ctx, "release");
    unsigned_stable(&ctx);
    let out = run(&mut verify_cmd(&ctx, MANIFEST, &key.public));
    let mut text = format!("--- no flag\n{}", transcript(&ctx, &out, &[]));
    assert_eq!(out.status.code(), Some(0));
    let out = run(verify_cmd(&ctx, MANIFEST, &key.public).arg("--require-signature"));
    text.push_str(&format!(
        "--- --require-signature\n{}",
        transcript(&ctx, &out, &[])
    ));
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("verify_unsigned", text);
}

#[test]
fn verify_follows_signing_require_in_otactl_toml() {
    let ctx = TestContext::new();
    let key = openssl_key(&ctx, "release");
    std::fs::create_dir_all(ctx.path("keys")).unwrap();
    std::fs::copy(&key.public, ctx.path("keys/ota_pubkey.pem")).unwrap();
    ctx.write(
        "otactl.toml",
        "[signing]\npublic_keys = [\"keys/ota_pubkey.pem\"]\nrequire = true\n",
    );
    unsigned_stable(&ctx);
    let mut cmd = ctx.otactl();
    cmd.args(["manifest", "verify", MANIFEST]);
    let out = otactl_snapshot!(ctx, cmd, "verify_required_by_config");
    assert_eq!(out.status.code(), Some(1));
    // Once signed with the trusted key, the configured key verifies it.
    sign_ok(&ctx, &key);
    let out = run(ctx.otactl().args(["manifest", "verify", MANIFEST]));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
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
    let ctx = TestContext::new();
    let key = openssl_key(&ctx, "release");
    unsigned_stable(&ctx);
    sign_ok(&ctx, &key);

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
    let ctx = TestContext::new();
    let key = openssl_key(&ctx, "release");
    unsigned_stable(&ctx);
    sign_ok(&ctx, &key);
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
    assert_eq!(out.status.code(), Some(2));
    // Refused even next to a good key: one weak key poisons the trusted set.
    let out = run(verify_cmd(&ctx, MANIFEST, &key.public)
        .arg("--pubkey")
        .arg(&weak));
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("weak"), "{}", stderr(&out));
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
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_no_secret(&key.pem, &out);
    assert_signed_by(&ctx.read(MANIFEST), &key);
    let out = run(verify_cmd(&ctx, MANIFEST, &key.public).arg("--require-signature"));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
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
    let private_der = ctx.root().join("keys/openssl.der");
    let public_der = ctx.root().join("keys/openssl.pub.der");
    ctx.run_tool(
        "openssl",
        &[
            "pkey",
            "-in",
            key.private.to_str().unwrap(),
            "-outform",
            "DER",
            "-out",
            private_der.to_str().unwrap(),
        ],
    );
    ctx.run_tool(
        "openssl",
        &[
            "pkey",
            "-pubin",
            "-in",
            key.public.to_str().unwrap(),
            "-outform",
            "DER",
            "-out",
            public_der.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read(&public_der).unwrap()[12..], key.raw_public);
    unsigned_stable(&ctx);
    let out = run(ctx
        .otactl()
        .args(["manifest", "sign", MANIFEST, "--key"])
        .arg(&private_der));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The seed (the last 32 bytes of the PKCS#8 DER) is printed in no form.
    let der = std::fs::read(&private_der).unwrap();
    let seed = &der[der.len() - 32..];
    let printed = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!printed.contains(&hex(seed)), "{printed}");
    assert!(
        !printed.contains(&base64::engine::general_purpose::STANDARD.encode(seed)),
        "{printed}"
    );
    assert_no_secret(&key.pem, &out);
    assert_signed_by(&ctx.read(MANIFEST), &key);
    // The DER public key verifies; so does the PEM one (same key).
    for public in [&public_der, &key.public] {
        let out = run(verify_cmd(&ctx, MANIFEST, public).arg("--require-signature"));
        assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
        assert!(stdout(&out).contains(&format!("signed by key {}", key.id)));
    }
}
