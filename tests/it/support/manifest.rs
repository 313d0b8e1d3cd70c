//! `otactl manifest new|sign|verify` as the manifest modules run them, and checks of
//! what they write made without otactl: signatures are checked over canonical bytes
//! formed with `olpc-cjson` and verified with `ed25519-dalek`, the public key taken
//! from the SPKI file openssl wrote.

use std::path::Path;
use std::process::{Command, Output};

use base64::Engine as _;
use serde::Serialize as _;

use super::assert::{assert_exit, assert_no_secret};
use super::fixture::{ID, MANIFEST, MIN, SHA, release_url};
use super::keys::Key;
use super::{TestContext, manifest_json};

/// The transcript with the key ids replaced by names.
pub fn transcript_keys(ctx: &TestContext, out: &Output, keys: &[(&Key, &str)]) -> String {
    let mut text = ctx.transcript(out);
    for (key, name) in keys {
        text = text.replace(&key.id, name);
    }
    text
}

/// Runs a command to its end.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

/// `manifest new` of a source tarball at [`release_url`] with `sha`.
pub fn new_cmd(ctx: &TestContext, channel: &str, id: &str, sha: &str) -> Command {
    let mut cmd = ctx.otactl();
    cmd.args([
        "manifest",
        "new",
        "--channel",
        channel,
        "--build-id",
        id,
        "--url",
        &release_url(id),
        "--sha256",
        sha,
    ]);
    cmd
}

/// `manifest sign FILE --key PRIVATE`.
pub fn sign_cmd(ctx: &TestContext, file: &str, key: &Key) -> Command {
    sign_with(ctx, file, &key.private)
}

/// `manifest sign FILE --key PATH`.
pub fn sign_with(ctx: &TestContext, file: &str, key: &Path) -> Command {
    let mut cmd = ctx.otactl();
    cmd.args(["manifest", "sign", file, "--key"]).arg(key);
    cmd
}

/// `manifest verify FILE --pubkey PUBLIC`.
pub fn verify_cmd(ctx: &TestContext, file: &str, public: &Path) -> Command {
    let mut cmd = ctx.otactl();
    cmd.args(["manifest", "verify", file, "--pubkey"])
        .arg(public);
    cmd
}

/// Writes the current stable manifest with `new` and signs it; returns its bytes.
pub fn signed_stable(ctx: &TestContext, key: &Key, extra: &[&str]) -> Vec<u8> {
    let out = run(new_cmd(ctx, "stable", ID, SHA).args(extra));
    assert_exit(&out, 0);
    sign_ok(ctx, key);
    std::fs::read(ctx.path(MANIFEST)).unwrap()
}

/// Signs the stable manifest with `--key`, which must succeed without printing the key.
pub fn sign_ok(ctx: &TestContext, key: &Key) {
    let out = run(&mut sign_cmd(ctx, MANIFEST, key));
    assert_exit(&out, 0);
    assert_no_secret(&key.pem, &out);
}

/// A JSON file under the working folder, parsed.
pub fn read_json(ctx: &TestContext, rel: &str) -> serde_json::Value {
    serde_json::from_str(&ctx.read(rel)).unwrap()
}

/// Checks `signature` of a manifest file against `key` without otactl: Ed25519
/// (strict) over the OLPC canonical JSON of the object without `signature`.
pub fn assert_signed_by(text: &str, key: &Key) {
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
pub fn assert_house_layout(text: &str) {
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

/// Writes an unsigned, valid stable manifest; returns its bytes.
pub fn unsigned_stable(ctx: &TestContext) -> String {
    let text = manifest_json("stable", ID, Some(MIN), "n");
    ctx.write(MANIFEST, &text);
    text
}

/// A working folder with an openssl key pair `release` and an unsigned, valid stable
/// manifest.
pub fn unsigned_with_key() -> (TestContext, Key) {
    let ctx = TestContext::new();
    let key = super::keys::openssl_key(&ctx, "release");
    unsigned_stable(&ctx);
    (ctx, key)
}

/// Makes `key` the repository's trusted key (`keys/ota_pubkey.pem` in otactl.toml's
/// `[signing] public_keys`), signatures required or not.
pub fn trust_key(ctx: &TestContext, key: &Key, require: bool) {
    std::fs::create_dir_all(ctx.path("keys")).unwrap();
    std::fs::copy(&key.public, ctx.path("keys/ota_pubkey.pem")).unwrap();
    let require = if require { "require = true\n" } else { "" };
    ctx.write(
        "otactl.toml",
        format!("[signing]\npublic_keys = [\"keys/ota_pubkey.pem\"]\n{require}"),
    );
}
