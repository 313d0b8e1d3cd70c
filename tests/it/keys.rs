//! `otactl key generate` and `otactl key show`, against keys made by openssl.

use std::os::unix::fs::PermissionsExt;

use serde::Deserialize;

use crate::otactl_snapshot;
use crate::support::{TestContext, fixtures, stderr, stdout};

/// The base64 body lines of a PEM file (what must never be printed).
fn pem_body(pem: &str) -> Vec<String> {
    pem.lines()
        .filter(|l| !l.starts_with("-----") && !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn generate_writes_a_key_pair_openssl_reads() {
    let ctx = TestContext::new();
    let private = ctx.root().join("offline/signing.pem");
    let out = ctx
        .otactl()
        .args(["key", "generate", "--private"])
        .arg(&private)
        .args(["--public", "keys/ota_pubkey.pem"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let key_id = stdout(&out).trim().to_owned();
    assert_eq!(key_id.len(), 16);
    assert!(key_id.bytes().all(|b| b.is_ascii_hexdigit()));
    let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let private_pem = std::fs::read_to_string(&private).unwrap();
    assert!(private_pem.starts_with(concat!("-----BEGIN ", "PRIVATE KEY-----\n")));
    // openssl derives the same public key, byte for byte.
    let derived = ctx.run_tool(
        "openssl",
        &["pkey", "-in", private.to_str().unwrap(), "-pubout"],
    );
    assert_eq!(
        String::from_utf8(derived.stdout).unwrap(),
        ctx.read("keys/ota_pubkey.pem")
    );
    ctx.run_tool(
        "openssl",
        &["pkey", "-in", private.to_str().unwrap(), "-text", "-noout"],
    );
    // The key id is the first 16 hex digits of SHA-256 of the raw public key.
    let der = ctx.run_tool(
        "openssl",
        &[
            "pkey",
            "-pubin",
            "-in",
            "keys/ota_pubkey.pem",
            "-outform",
            "DER",
        ],
    );
    let raw = &der.stdout[der.stdout.len() - 32..];
    std::fs::write(ctx.root().join("raw.bin"), raw).unwrap();
    let digest = ctx.run_tool(
        "openssl",
        &[
            "dgst",
            "-sha256",
            "-r",
            ctx.root().join("raw.bin").to_str().unwrap(),
        ],
    );
    assert_eq!(&String::from_utf8(digest.stdout).unwrap()[..16], key_id);
    // No secret on the terminal.
    let all = format!("{}{}", stdout(&out), stderr(&out));
    for line in pem_body(&private_pem) {
        assert!(!all.contains(&line));
    }
    insta::assert_snapshot!("generate", ctx.transcript(&out).replace(&key_id, "[KEYID]"));
}

#[test]
fn generate_refuses_a_private_key_inside_a_git_work_tree() {
    let ctx = TestContext::new();
    ctx.git_init();
    let mut cmd = ctx.otactl();
    cmd.args([
        "key",
        "generate",
        "--private",
        "secrets/k.pem",
        "--public",
        "keys/ota_pubkey.pem",
    ]);
    let out = otactl_snapshot!(ctx, cmd, "generate_in_work_tree");
    assert_eq!(out.status.code(), Some(4));
    assert!(!ctx.path("secrets").exists());
    assert!(!ctx.path("keys").exists());
}

#[test]
fn generate_never_overwrites() {
    let ctx = TestContext::new();
    let private = ctx.root().join("k.pem");
    std::fs::write(&private, "precious").unwrap();
    let mut cmd = ctx.otactl();
    cmd.args(["key", "generate", "--private"])
        .arg(&private)
        .args(["--public", "pub.pem"]);
    let out = otactl_snapshot!(ctx, cmd, "generate_existing_private");
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(std::fs::read_to_string(&private).unwrap(), "precious");
    assert!(!ctx.path("pub.pem").exists());

    // An existing public file: the private key must not be created either.
    let fresh = ctx.root().join("fresh.pem");
    ctx.write("pub.pem", "old public");
    let out = ctx
        .otactl()
        .args(["key", "generate", "--private"])
        .arg(&fresh)
        .args(["--public", "pub.pem"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(!fresh.exists());
    assert_eq!(ctx.read("pub.pem"), "old public");
    // No temporary files left anywhere.
    let names: Vec<_> = std::fs::read_dir(ctx.root())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.to_string_lossy().starts_with(".otactl-")),
        "{names:?}"
    );
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Show {
    file: String,
    kind: String,
    key_id: String,
    public_key_pem: String,
}

fn show_json(ctx: &TestContext, file: &str) -> Show {
    let out = ctx
        .otactl()
        .args(["key", "show", "--format", "json", file])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{file}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn show_reads_openssl_keys_in_pem_and_der() {
    let ctx = TestContext::new();
    ctx.run_tool(
        "openssl",
        &["genpkey", "-algorithm", "ed25519", "-out", "priv.pem"],
    );
    ctx.run_tool(
        "openssl",
        &["pkey", "-in", "priv.pem", "-pubout", "-out", "pub.pem"],
    );
    ctx.run_tool(
        "openssl",
        &[
            "pkey", "-in", "priv.pem", "-outform", "DER", "-out", "priv.der",
        ],
    );
    ctx.run_tool(
        "openssl",
        &[
            "pkey", "-pubin", "-in", "pub.pem", "-outform", "DER", "-out", "pub.der",
        ],
    );
    let shown: Vec<Show> = ["priv.pem", "pub.pem", "priv.der", "pub.der"]
        .iter()
        .map(|f| show_json(&ctx, f))
        .collect();
    for s in &shown {
        assert_eq!(s.key_id, shown[0].key_id, "{}", s.file);
        assert_eq!(s.public_key_pem, ctx.read("pub.pem"), "{}", s.file);
    }
    assert_eq!(shown[0].kind, "private");
    assert_eq!(shown[1].kind, "public");
    // Text form: the PEM on stdout, the key id on stderr; never the private key.
    let out = ctx
        .otactl()
        .args(["key", "show", "priv.pem"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), ctx.read("pub.pem"));
    assert!(stderr(&out).contains(&shown[0].key_id));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    for line in pem_body(&ctx.read("priv.pem")) {
        assert!(!all.contains(&line), "the private key was printed");
    }
}

#[test]
fn show_explains_files_that_are_not_ed25519_keys() {
    let ctx = TestContext::new();
    ctx.write("notes.txt", "not a key\n");
    ctx.run_tool(
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "rsa",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
            "-out",
            "rsa.pem",
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
            "ec.pem",
        ],
    );
    ctx.run_tool(
        "openssl",
        &["pkey", "-in", "rsa.pem", "-pubout", "-out", "rsa-pub.pem"],
    );
    let mut table = String::new();
    for file in [
        "notes.txt",
        "rsa.pem",
        "ec.pem",
        "rsa-pub.pem",
        "missing.pem",
    ] {
        let out = ctx.otactl().args(["key", "show", file]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{file}");
        assert!(stdout(&out).is_empty());
        table.push_str(&format!("{file}: {}", ctx.filter(&stderr(&out))));
    }
    insta::assert_snapshot!("show_not_ed25519", table);
}

#[test]
fn weak_public_keys_are_refused() {
    let ctx = TestContext::new();
    let identity = fixtures().join("vectors/identity.public.pem");
    let mut cmd = ctx.otactl();
    cmd.args(["key", "show"]).arg(&identity);
    let out = otactl_snapshot!(ctx, cmd, "show_weak_key");
    assert_eq!(out.status.code(), Some(2));
}
