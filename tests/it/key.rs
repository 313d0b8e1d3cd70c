//! `otactl key generate` and `otactl key show`, checked against openssl: the files
//! it writes, the files it refuses to write, and the keys it reads or explains.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde::Deserialize;

use crate::otactl_snapshot;
use crate::support::assert::{assert_exit, assert_exit_case, assert_no_secret};
use crate::support::files::{mode, names, temp_files};
use crate::support::keys::{openssl_der, openssl_genpkey, openssl_public};
use crate::support::{TestContext, fixtures, stderr, stdout};

/// `key show --format json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShowJson {
    file: String,
    kind: String,
    key_id: String,
    public_key_pem: String,
}

/// The base64 body of a PEM file: what must never be printed for a private key.
fn pem_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

/// The key id as SPEC 2.3 defines it, computed with openssl alone: the first 16 hex
/// digits of SHA-256 over the raw 32-byte public key (the tail of the SPKI DER).
fn openssl_key_id(ctx: &TestContext, public_pem: &Path) -> String {
    let der = ctx.run_tool(
        "openssl",
        &[
            "pkey",
            "-pubin",
            "-in",
            public_pem.to_str().unwrap(),
            "-outform",
            "DER",
        ],
    );
    assert_eq!(der.stdout.len(), 44, "an Ed25519 SPKI is 44 bytes");
    let raw_file = ctx.root().join("raw-public-key.bin");
    std::fs::write(&raw_file, &der.stdout[der.stdout.len() - 32..]).unwrap();
    let digest = ctx.run_tool(
        "openssl",
        &["dgst", "-sha256", "-r", raw_file.to_str().unwrap()],
    );
    std::fs::remove_file(&raw_file).unwrap();
    let hex = String::from_utf8(digest.stdout).unwrap();
    assert!(hex.len() > 64, "{hex}");
    hex[..16].to_owned()
}

/// Panics when a folder holds a temporary file of an atomic write.
fn assert_no_temp_files(dir: &Path) {
    let found = temp_files(dir);
    assert!(
        found.is_empty(),
        "temporary files left in {}: {found:?}",
        dir.display()
    );
}

fn generate(ctx: &TestContext, private: &Path, public: &Path) -> std::process::Command {
    let mut cmd = ctx.otactl();
    cmd.args(["key", "generate", "--private"])
        .arg(private)
        .arg("--public")
        .arg(public);
    cmd
}

/// Runs `cmd`, which must refuse to write (exit 4) and print nothing on stdout.
fn refused(cmd: &mut std::process::Command) -> Output {
    let out = cmd.output().unwrap();
    assert_exit(&out, 4);
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    out
}

#[test]
fn generate_writes_a_key_pair_that_openssl_reads() {
    let ctx = TestContext::new();
    let private = ctx.root().join("secret/k.pem");
    let public = PathBuf::from("keys/ota_pubkey.pem");
    let out = generate(&ctx, &private, &public).output().unwrap();
    assert_exit(&out, 0);

    // stdout is the key id and nothing else.
    let key_id = stdout(&out).trim_end().to_owned();
    assert_eq!(stdout(&out), format!("{key_id}\n"));
    assert_eq!(key_id.len(), 16, "{key_id}");
    assert!(
        key_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{key_id}"
    );
    insta::assert_snapshot!("generate", ctx.transcript(&out).replace(&key_id, "[KEYID]"));

    // The private key: PKCS#8 PEM, readable by its owner only.
    assert_eq!(mode(&private), 0o600);
    let private_pem = std::fs::read_to_string(&private).unwrap();
    assert!(
        private_pem.starts_with(concat!("-----BEGIN ", "PRIVATE KEY-----\n")),
        "{}",
        private_pem.lines().next().unwrap_or_default()
    );
    assert_no_secret(&private_pem, &out);
    // The public key: SPKI PEM that anyone may read, nobody else may change.
    assert_eq!(mode(&ctx.path("keys/ota_pubkey.pem")), 0o644);
    let public_pem = ctx.read("keys/ota_pubkey.pem");

    // openssl reads the private key and derives the very same public file.
    let derived = ctx.run_tool(
        "openssl",
        &["pkey", "-in", private.to_str().unwrap(), "-pubout"],
    );
    assert_eq!(String::from_utf8(derived.stdout).unwrap(), public_pem);
    let text = ctx.run_tool(
        "openssl",
        &["pkey", "-in", private.to_str().unwrap(), "-text", "-noout"],
    );
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("ED25519 Private-Key"),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );

    // The key id is SHA-256 of the raw public key, as openssl computes it.
    assert_eq!(
        openssl_key_id(&ctx, &ctx.path("keys/ota_pubkey.pem")),
        key_id
    );

    // `key show` of either half prints the same public PEM and the same key id.
    let shown_private = ctx
        .otactl()
        .args(["key", "show"])
        .arg(&private)
        .output()
        .unwrap();
    let shown_public = ctx
        .otactl()
        .args(["key", "show", "keys/ota_pubkey.pem"])
        .output()
        .unwrap();
    for shown in [&shown_private, &shown_public] {
        assert_exit(shown, 0);
        assert_eq!(stdout(shown), public_pem);
        assert_no_secret(&private_pem, shown);
    }
    let filtered = |out: &Output| {
        ctx.transcript(out)
            .replace(&key_id, "[KEYID]")
            .replace(&pem_body(&public_pem), "[PUBLIC KEY]")
    };
    insta::assert_snapshot!(
        "show_both_halves",
        format!("{}\n{}", filtered(&shown_private), filtered(&shown_public))
    );

    // Nothing else was written next to the keys.
    assert_eq!(names(&ctx.root().join("secret")), ["k.pem"]);
    assert_eq!(names(&ctx.path("keys")), ["ota_pubkey.pem"]);
}

#[test]
fn generate_refuses_a_private_key_inside_a_git_work_tree() {
    let ctx = TestContext::new();
    ctx.git_init();
    let public = ctx.root().join("pub.pem");

    let mut cmd = generate(&ctx, Path::new("secret/k.pem"), &public);
    let out = otactl_snapshot!(ctx, cmd, "generate_in_work_tree");
    assert_exit(&out, 4);
    assert!(stdout(&out).is_empty());

    // The same, named absolutely, deeper down, and from outside the work tree.
    refused(&mut generate(&ctx, &ctx.path("a/b/c/k.pem"), &public));
    let out = refused(generate(&ctx, Path::new("repo/k.pem"), &public).current_dir(ctx.root()));
    assert!(
        stderr(&out).contains("refusing to write a private key to `repo/k.pem`"),
        "{}",
        stderr(&out)
    );

    // A linked work tree (its `.git` is a file, as in a submodule) counts too.
    ctx.git_commit("first");
    let linked = ctx.root().join("linked");
    ctx.run_tool("git", &["worktree", "add", "-q", linked.to_str().unwrap()]);
    assert!(linked.join(".git").is_file());
    refused(&mut generate(&ctx, &linked.join("k.pem"), &public));

    // Nothing was written: no key, no folder, no temporary file.
    assert_eq!(names(&ctx.cwd), [".git"]);
    assert_eq!(names(ctx.root()), ["home", "linked", "repo"]);
    assert_eq!(names(&linked), [".git"]);
}

#[test]
fn generate_sees_through_dot_dot_into_a_work_tree() {
    // `outside/../nothing/../repo/k.pem` is `repo/k.pem`: a path that only looks as if
    // it left the work tree must not get a private key into it.
    let ctx = TestContext::new();
    ctx.git_init();
    let outside = ctx.root().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let out = refused(
        generate(
            &ctx,
            Path::new("../nothing/../repo/k.pem"),
            Path::new("pub.pem"),
        )
        .current_dir(&outside),
    );
    assert!(
        stderr(&out).contains("inside the git work tree"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        names(&ctx.cwd),
        [".git"],
        "a private key was written into the work tree"
    );
    assert!(!ctx.root().join("nothing").exists());
    assert!(names(&outside).is_empty());
}

#[test]
fn generate_never_overwrites_an_existing_private_key() {
    let ctx = TestContext::new();
    let secret = ctx.root().join("secret");
    std::fs::create_dir_all(&secret).unwrap();
    let private = secret.join("k.pem");
    std::fs::write(&private, "the old key, precious\n").unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();

    let mut cmd = generate(&ctx, &private, Path::new("keys/ota_pubkey.pem"));
    let out = otactl_snapshot!(ctx, cmd, "generate_existing_private");
    assert_exit(&out, 4);
    assert!(stdout(&out).is_empty());
    assert_eq!(
        std::fs::read_to_string(&private).unwrap(),
        "the old key, precious\n"
    );
    assert_eq!(mode(&private), 0o600);
    assert!(!ctx.path("keys").exists(), "the public key was written");
    assert_eq!(names(&secret), ["k.pem"]);
    assert!(names(&ctx.cwd).is_empty());
}

#[test]
fn generate_never_overwrites_an_existing_public_key() {
    let ctx = TestContext::new();
    let private = ctx.root().join("secret/k.pem");
    ctx.write("keys/ota_pubkey.pem", "the key devices trust\n");

    let mut cmd = generate(&ctx, &private, Path::new("keys/ota_pubkey.pem"));
    let out = otactl_snapshot!(ctx, cmd, "generate_existing_public");
    assert_exit(&out, 4);
    assert!(stdout(&out).is_empty());
    assert_eq!(ctx.read("keys/ota_pubkey.pem"), "the key devices trust\n");
    // The private half must not be made when its public half cannot be written.
    assert!(!private.exists(), "the private key was written");
    assert!(!ctx.root().join("secret").exists());
    assert_eq!(names(&ctx.path("keys")), ["ota_pubkey.pem"]);
    assert_no_temp_files(&ctx.cwd);
    assert_no_temp_files(ctx.root());
}

#[test]
fn generate_refuses_one_file_for_both_halves() {
    let ctx = TestContext::new();
    let both = ctx.root().join("secret/k.pem");
    let out = generate(&ctx, &both, &both).output().unwrap();
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--public"), "{}", stderr(&out));
    assert!(!ctx.root().join("secret").exists());
}

/// `key show --format json FILE`, parsed.
fn show_json(ctx: &TestContext, file: &str) -> (ShowJson, Output) {
    let out = ctx
        .otactl()
        .args(["key", "show", "--format", "json", file])
        .output()
        .unwrap();
    assert_exit_case(&out, 0, file);
    let shown: ShowJson = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{file}: {e}\n{}", stdout(&out)));
    (shown, out)
}

#[test]
fn show_reads_openssl_keys_in_pem_and_der() {
    let ctx = TestContext::new();
    let path = |name: &str| ctx.path(name);
    openssl_genpkey(&ctx, "ed25519", &path("private.pem"));
    openssl_der(&ctx, &path("private.pem"), &path("private.der"), false);
    openssl_public(&ctx, &path("private.pem"), &path("public.pem"));
    openssl_der(&ctx, &path("public.pem"), &path("public.der"), true);
    let private_pem = ctx.read("private.pem");
    let public_pem = ctx.read("public.pem");
    let key_id = openssl_key_id(&ctx, &ctx.path("public.pem"));

    for (file, kind) in [
        ("private.pem", "private"),
        ("private.der", "private"),
        ("public.pem", "public"),
        ("public.der", "public"),
    ] {
        let (shown, out) = show_json(&ctx, file);
        assert_eq!(shown.file, file);
        assert_eq!(shown.kind, kind, "{file}");
        assert_eq!(shown.key_id, key_id, "{file}");
        assert_eq!(shown.public_key_pem, public_pem, "{file}");
        assert_no_secret(&private_pem, &out);

        let out = ctx.otactl().args(["key", "show", file]).output().unwrap();
        assert_exit_case(&out, 0, file);
        assert_eq!(stdout(&out), public_pem, "{file}");
        assert_eq!(
            stderr(&out),
            format!("key id {key_id} ({kind} key file `{file}`)\n")
        );
        assert_no_secret(&private_pem, &out);
    }

    // The PEM on stdout makes a public key file that openssl reads as the same key.
    let out = ctx
        .otactl()
        .args(["key", "show", "private.der"])
        .output()
        .unwrap();
    ctx.write("again.pem", &out.stdout);
    assert_eq!(openssl_key_id(&ctx, &ctx.path("again.pem")), key_id);
}

#[test]
fn show_explains_files_that_are_not_ed25519_keys() {
    let ctx = TestContext::new();
    let path = |name: &str| ctx.path(name);
    ctx.write("notes.txt", "these are release notes, not a key\n");
    openssl_genpkey(&ctx, "rsa", &path("rsa.pem"));
    ctx.run_tool(
        "openssl",
        &[
            "pkcs8", "-topk8", "-nocrypt", "-in", "rsa.pem", "-outform", "DER", "-out", "rsa.der",
        ],
    );
    openssl_public(&ctx, &path("rsa.pem"), &path("rsa-public.pem"));
    openssl_genpkey(&ctx, "ec", &path("ec.pem"));
    openssl_public(&ctx, &path("ec.pem"), &path("ec-public.pem"));
    openssl_genpkey(&ctx, "ed448", &path("ed448.pem"));

    let mut all = String::new();
    for (file, algorithm) in [
        ("notes.txt", "not an Ed25519 key"),
        ("rsa.pem", "RSA"),
        ("rsa.der", "RSA"),
        ("rsa-public.pem", "RSA"),
        ("ec.pem", "EC (ECDSA)"),
        ("ec-public.pem", "EC (ECDSA)"),
        ("ed448.pem", "Ed448"),
        ("missing.pem", "cannot read"),
    ] {
        for format in ["text", "json"] {
            let out = ctx
                .otactl()
                .args(["key", "show", "--format", format, file])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2), "{file} {format}");
            assert!(stdout(&out).is_empty(), "{file} {format}: {}", stdout(&out));
            let err = stderr(&out);
            assert!(
                err.starts_with("error: ") && err.contains(&format!("`{file}`")),
                "{file}: {err}"
            );
            assert!(err.contains(algorithm), "{file}: {err}");
            // Whatever the file holds, none of it is printed.
            if let Ok(content) = std::fs::read_to_string(ctx.path(file)) {
                assert_no_secret(&content, &out);
            }
            if format == "text" {
                all.push_str(&format!(
                    "$ otactl key show {file}\n{}\n",
                    ctx.transcript(&out)
                ));
            }
        }
    }
    insta::assert_snapshot!("show_not_ed25519", all);
}

#[test]
fn show_refuses_a_weak_public_key() {
    // The identity point: small order, every signature "verifies" under lax checks.
    let ctx = TestContext::new();
    let identity = fixtures().join("vectors/identity.public.pem");
    let mut cmd = ctx.otactl();
    cmd.args(["key", "show"]).arg(&identity);
    let out = otactl_snapshot!(ctx, cmd, "show_weak_key");
    assert_exit(&out, 2);
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
}
