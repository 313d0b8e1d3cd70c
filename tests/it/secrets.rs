//! The secret scan of `otactl tar` in real git repositories: private keys as the tools
//! write them (traditional encrypted PEM, a service-account JSON, PEM in source code
//! and YAML, OpenPGP, PuTTY), the issuers' tokens (npm, GitLab, Slack, PyPI, GitHub)
//! and credential files by name. Each refuses the build (exit 4), writes nothing,
//! names the path and line and never prints the value; look-alikes in ordinary source
//! and docs let the build through.
//!
//! Nothing here is a secret in this file: the keys are made by `openssl` when the test
//! runs and the tokens from a seeded generator, and the marker lines are split so that
//! the scan of this repository does not take the test for a key.

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use crate::support::assert::{assert_exit, assert_not_printed};
use crate::support::files::names;
use crate::support::keys::hex;
use crate::support::{TestContext, stderr};

/// `-----BEGIN {label}-----`, put together at run time.
fn begin(label: &str) -> String {
    format!("{}BEGIN {label}{}", "-".repeat(5), "-".repeat(5))
}

/// `-----END {label}-----`.
fn end(label: &str) -> String {
    format!("{}END {label}{}", "-".repeat(5), "-".repeat(5))
}

/// A seeded xorshift generator: tokens that look random and are the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next().to_le_bytes()[3]).collect()
    }

    fn pick(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| {
                let i = usize::try_from(self.next() % alphabet.len() as u64).unwrap();
                char::from(alphabet[i])
            })
            .collect()
    }
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const DIGITS: &[u8] = b"0123456789";

/// A token in GitHub's format (also npm's): prefix, 30 random base62 characters and
/// the CRC32 of those in base62, padded to 6.
fn github_style(rng: &mut Rng, prefix: &str) -> String {
    let random = rng.pick(BASE62, 30);
    let mut crc = flate2::Crc::new();
    crc.update(random.as_bytes());
    let mut n = u64::from(crc.sum());
    let mut check = Vec::new();
    for _ in 0..6 {
        check.push(BASE62[usize::try_from(n % 62).unwrap()]);
        n /= 62;
    }
    check.reverse();
    format!("{prefix}{random}{}", String::from_utf8(check).unwrap())
}

/// A GitLab personal access token: `glpat-` and 20 characters of `[0-9A-Za-z_-]`.
fn gitlab_token(rng: &mut Rng) -> String {
    let alphabet = [BASE62, b"_-"].concat();
    format!("glpat-{}", rng.pick(&alphabet, 20))
}

/// A Slack bot token: `xoxb-`, team and user ids, 24 alphanumerics.
fn slack_token(rng: &mut Rng) -> String {
    format!(
        "xoxb-{}-{}-{}",
        rng.pick(DIGITS, 13),
        rng.pick(DIGITS, 13),
        rng.pick(BASE62, 24)
    )
}

/// A PyPI API token: `pypi-` and a version 2 macaroon in URL-safe base64, as PyPI
/// mints them (location `pypi.org`, a UUID identifier, one caveat, signature).
fn pypi_token(rng: &mut Rng) -> String {
    fn field(out: &mut Vec<u8>, kind: u8, data: &[u8]) {
        out.push(kind);
        out.push(u8::try_from(data.len()).unwrap());
        out.extend_from_slice(data);
    }
    let id = hex(&rng.bytes(16));
    let uuid = format!(
        "{}-{}-{}-{}-{}",
        &id[..8],
        &id[8..12],
        &id[12..16],
        &id[16..20],
        &id[20..]
    );
    let mut m = vec![2u8];
    field(&mut m, 1, b"pypi.org");
    field(&mut m, 2, uuid.as_bytes());
    m.push(0);
    let caveat = format!(
        "{{\"version\": 1, \"permissions\": {{\"projects\": [\"evse-{}\"]}}}}",
        rng.pick(DIGITS, 4)
    );
    field(&mut m, 2, caveat.as_bytes());
    m.push(0);
    m.push(0);
    field(&mut m, 6, &rng.bytes(32));
    format!("pypi-{}", URL_SAFE_NO_PAD.encode(m))
}

/// A file's text cut into lines of `width`.
fn wrap(text: &str, width: usize) -> Vec<String> {
    text.as_bytes()
        .chunks(width)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect()
}

/// The base64 lines between a PEM's BEGIN line and its END line (headers included).
fn pem_body(pem: &str) -> Vec<String> {
    pem.lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::to_owned)
        .collect()
}

fn openssl(ctx: &TestContext, args: &[&str]) -> String {
    String::from_utf8(ctx.run_tool("openssl", args).stdout).unwrap()
}

/// The raw 32-byte private seed and public key of a fresh Ed25519 key.
fn ed25519_raw(ctx: &TestContext) -> ([u8; 32], [u8; 32]) {
    let pem = ctx.root().join("ed25519.pem");
    let pem = pem.to_str().unwrap();
    ctx.run_tool(
        "openssl",
        &["genpkey", "-algorithm", "ed25519", "-out", pem],
    );
    let private = ctx
        .run_tool("openssl", &["pkey", "-in", pem, "-outform", "DER"])
        .stdout;
    let public = ctx
        .run_tool(
            "openssl",
            &["pkey", "-in", pem, "-pubout", "-outform", "DER"],
        )
        .stdout;
    let last32 = |der: &[u8]| <[u8; 32]>::try_from(&der[der.len() - 32..]).unwrap();
    (last32(&private), last32(&public))
}

fn ssh_string(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    out.extend_from_slice(data);
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    block[..key.len()].copy_from_slice(key);
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// A PuTTY `.ppk` (format 3, unencrypted) holding an Ed25519 key, with its MAC, and
/// the private line.
fn putty_key(ctx: &TestContext) -> (String, String) {
    let (private, public) = ed25519_raw(ctx);
    let (alg, enc, comment) = ("ssh-ed25519", "none", "deploy@evse-builder");
    let mut public_blob = Vec::new();
    ssh_string(&mut public_blob, alg.as_bytes());
    ssh_string(&mut public_blob, &public);
    let mut private_blob = Vec::new();
    ssh_string(&mut private_blob, &private);
    let mut mac_input = Vec::new();
    for part in [
        alg.as_bytes(),
        enc.as_bytes(),
        comment.as_bytes(),
        &public_blob,
        &private_blob,
    ] {
        ssh_string(&mut mac_input, part);
    }
    let mac = hex(&hmac_sha256(b"", &mac_input));
    let public_lines = wrap(&STANDARD.encode(&public_blob), 64);
    let private_line = STANDARD.encode(&private_blob);
    let text = format!(
        "PuTTY-User-Key-File-{}: {alg}\nEncryption: {enc}\nComment: {comment}\nPublic-Lines: {}\n{}\nPrivate-Lines: 1\n{private_line}\nPrivate-MAC: {mac}\n",
        3,
        public_lines.len(),
        public_lines.join("\n"),
    );
    (text, private_line)
}

/// The CRC-24 of OpenPGP ASCII armour (RFC 4880, 6.1).
fn crc24(data: &[u8]) -> u32 {
    let mut crc: u32 = 0x00B7_04CE;
    for &byte in data {
        crc ^= u32::from(byte) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x0100_0000 != 0 {
                crc ^= 0x0186_4CFB;
            }
        }
    }
    crc & 0x00FF_FFFF
}

/// An armoured OpenPGP secret key (an unprotected v4 EdDSA secret-key packet and its
/// user id), as `gpg --export-secret-keys --armor` writes it, and its first base64 line.
fn pgp_private_key(ctx: &TestContext) -> (String, String) {
    let (private, public) = ed25519_raw(ctx);
    let mut body = vec![4u8, 0x69, 0x68, 0xF1, 0x40, 22, 9];
    body.extend_from_slice(&[0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01]);
    body.extend_from_slice(&[0x01, 0x07, 0x40]);
    body.extend_from_slice(&public);
    body.push(0); // S2K usage: not protected
    body.extend_from_slice(&[0x01, 0x00]);
    body.extend_from_slice(&private);
    let sum = private.iter().map(|&b| u32::from(b)).sum::<u32>() % 65536;
    body.extend_from_slice(&u16::try_from(sum).unwrap().to_be_bytes());
    let mut packets = vec![0x94, u8::try_from(body.len()).unwrap()];
    packets.extend_from_slice(&body);
    let uid = b"EVSE release signing <release@example.com>";
    packets.extend_from_slice(&[0xB4, u8::try_from(uid.len()).unwrap()]);
    packets.extend_from_slice(uid);
    let lines = wrap(&STANDARD.encode(&packets), 64);
    let crc = STANDARD.encode(&crc24(&packets).to_be_bytes()[1..]);
    let label = "PGP PRIVATE KEY BLOCK";
    let text = format!(
        "{}\nComment: release signing key, do not share\n\n{}\n={crc}\n{}\n",
        begin(label),
        lines.join("\n"),
        end(label),
    );
    (text, lines[0].clone())
}

/// A one-commit repository holding `files`, next to the working folder.
fn repo(ctx: &TestContext, files: &[(&str, Vec<u8>)]) -> PathBuf {
    let src = ctx.root().join("src-repo");
    let mut all = vec![("main.c", b"int main(void) { return 0; }\n".to_vec())];
    all.extend_from_slice(files);
    ctx.git_repo(&src, "x", &all);
    src
}

fn otactl_tar(ctx: &TestContext, src: &std::path::Path) -> std::process::Output {
    ctx.otactl()
        .arg("tar")
        .arg("--source")
        .arg(src)
        .args(["--name", "app", "-o", "out.tar.gz"])
        .output()
        .unwrap()
}

/// Runs `otactl tar` on `files` and checks the refusal: exit 4, nothing written in
/// the working folder, every `expected` finding named, no `secret` printed. Returns
/// stderr for the snapshot.
fn assert_refused(
    ctx: &TestContext,
    files: &[(&str, Vec<u8>)],
    expected: &[&str],
    secrets: &[String],
) -> String {
    let src = repo(ctx, files);
    let out = otactl_tar(ctx, &src);
    let err = stderr(&out);
    assert_exit(&out, 4);
    let written = names(&ctx.cwd);
    assert!(written.is_empty(), "files written: {written:?}");
    let listed: Vec<&str> = err.lines().filter_map(|l| l.strip_prefix("  ")).collect();
    for finding in expected {
        assert!(listed.contains(finding), "`{finding}` not reported:\n{err}");
    }
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_not_printed(&out, &secrets);
    ctx.filter(&err)
}

#[test]
fn private_keys_as_tools_write_them_refuse_the_build() {
    let ctx = TestContext::new();
    let mut secrets = Vec::new();

    // RSA encrypted the traditional way: Proc-Type and DEK-Info after BEGIN.
    let traditional = openssl(
        &ctx,
        &[
            "genrsa",
            "-aes128",
            "-passout",
            "pass:x",
            "-traditional",
            "2048",
        ],
    );
    assert!(
        traditional.contains("Proc-Type: 4,ENCRYPTED"),
        "{traditional}"
    );
    secrets.extend(pem_body(&traditional).into_iter().skip(3).take(2));

    // A Google Cloud service-account key: the PEM in a JSON string, `\n` escaped.
    let rsa = openssl(
        &ctx,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ],
    );
    secrets.push(pem_body(&rsa)[0].clone());
    let service_account = serde_json::to_string_pretty(&serde_json::json!({
        "type": "service_account",
        "project_id": "evse-fleet-prod",
        "private_key_id": "5f2b8e0c41d7a9b3e6f1c2d4a8b0e7f9c3d5a1b2",
        "private_key": rsa,
        "client_email": "ota-publisher@evse-fleet-prod.iam.gserviceaccount.com",
        "client_id": "104729384756102938475",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
    }))
    .unwrap();
    assert!(
        service_account.contains("KEY-----\\nMII"),
        "{service_account}"
    );

    // A PEM in a C string literal, one literal per line.
    let ec = openssl(
        &ctx,
        &["ecparam", "-name", "prime256v1", "-genkey", "-noout"],
    );
    secrets.push(pem_body(&ec)[0].clone());
    let mut header = String::from(
        "/* Device identity for the bench rig. */\nstatic const char device_key[] =\n",
    );
    for line in ec.lines() {
        header.push_str(&format!("    \"{line}\\n\"\n"));
    }
    header.push_str(";\n");

    // A PEM indented in YAML (a Kubernetes-style secret).
    let ed = openssl(&ctx, &["genpkey", "-algorithm", "ed25519"]);
    secrets.push(pem_body(&ed)[0].clone());
    let mut yaml = String::from("apiVersion: v1\nkind: Secret\nstringData:\n  tls.key: |\n");
    for line in ed.lines() {
        yaml.push_str(&format!("    {line}\n"));
    }

    let (pgp, pgp_line) = pgp_private_key(&ctx);
    secrets.push(pgp_line);
    let (ppk, ppk_line) = putty_key(&ctx);
    secrets.push(ppk_line);

    let files = [
        ("certs/legacy.pem", traditional.into_bytes()),
        (
            "deploy/gcp-service-account.json",
            service_account.into_bytes(),
        ),
        ("firmware/device_key.h", header.into_bytes()),
        ("deploy/secret.yaml", yaml.into_bytes()),
        ("release/signing-key.asc", pgp.into_bytes()),
        ("tools/deploy.ppk", ppk.into_bytes()),
    ];
    let err = assert_refused(
        &ctx,
        &files,
        &[
            "certs/legacy.pem:1: a private key block",
            "deploy/gcp-service-account.json:5: a private key block",
            "firmware/device_key.h:3: a private key block",
            "deploy/secret.yaml:5: a private key block",
            "release/signing-key.asc:1: a private key block",
            "tools/deploy.ppk: a PuTTY private key file",
            "tools/deploy.ppk:1: a PuTTY private key",
        ],
        &secrets,
    );
    insta::assert_snapshot!("private_key_formats", err);
}

#[test]
fn tokens_and_credential_files_refuse_the_build() {
    let ctx = TestContext::new();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let npm = github_style(&mut rng, "npm_");
    let npm_in_rc = github_style(&mut rng, "npm_");
    let gitlab = gitlab_token(&mut rng);
    let slack = slack_token(&mut rng);
    let pypi = pypi_token(&mut rng);
    let pypi_in_rc = pypi_token(&mut rng);
    let github = github_style(&mut rng, "ghp_");
    let script = format!(
        "#!/bin/sh\nset -eu\n\
         export NPM_TOKEN={npm}\n\
         export TWINE_USERNAME=__token__ TWINE_PASSWORD='{pypi}'\n\
         curl -sf --header \"PRIVATE-TOKEN: {gitlab}\" https://gitlab.example.com/api/v4/projects\n\
         curl -sf -d token={slack} -d channel=C0123 https://slack.com/api/chat.postMessage\n\
         # old: {github}_revoked\n"
    );
    let files = [
        ("ci/publish.sh", script.into_bytes()),
        (
            "web/.npmrc",
            format!("//registry.npmjs.org/:_authToken={npm_in_rc}\n").into_bytes(),
        ),
        (
            "py/.pypirc",
            format!("[pypi]\nusername = __token__\npassword = {pypi_in_rc}\n").into_bytes(),
        ),
        (
            "ops/.netrc",
            b"machine api.example.com login deploy password s3cr3t-netrc-pw\n".to_vec(),
        ),
        (
            "ops/.git-credentials",
            b"https://deploy:s3cr3t-git-pw@git.example.com\n".to_vec(),
        ),
        (
            "android/release.jks",
            [&[0xFE, 0xED, 0xFE, 0xED][..], &rng.bytes(64)].concat(),
        ),
        (
            "android/debug.keystore",
            [&[0xFE, 0xED, 0xFE, 0xED][..], &rng.bytes(64)].concat(),
        ),
    ];
    let secrets = [
        npm,
        npm_in_rc,
        gitlab,
        slack,
        pypi,
        pypi_in_rc,
        github,
        "s3cr3t-netrc-pw".to_owned(),
        "s3cr3t-git-pw".to_owned(),
    ];
    let err = assert_refused(
        &ctx,
        &files,
        &[
            "ci/publish.sh:3: an npm token",
            "ci/publish.sh:4: a PyPI token",
            "ci/publish.sh:5: a GitLab token",
            "ci/publish.sh:6: a Slack token",
            "ci/publish.sh:7: a GitHub token",
            "web/.npmrc: an npm credentials file (`.npmrc`)",
            "web/.npmrc:1: an npm token",
            "py/.pypirc: a PyPI credentials file (`.pypirc`)",
            "py/.pypirc:3: a PyPI token",
            "ops/.netrc: a netrc credentials file",
            "ops/.git-credentials: a git credentials file (`.git-credentials`)",
            "android/release.jks: a Java key store",
            "android/debug.keystore: a Java key store",
        ],
        &secrets,
    );
    insta::assert_snapshot!("token_formats", err);
}

#[test]
fn look_alikes_in_source_and_docs_let_the_build_through() {
    let ctx = TestContext::new();
    let readme = format!(
        "# Publishing\n\n\
         Set `npm_config_registry` and run the `pypi-upload` job; `npm_package_version`\n\
         is read by `scripts/npm_publish_with_provenance_and_tags.sh` and\n\
         `npm_packageJsonScriptsPrepublishOnlyCommandLine`.\n\
         GitLab tokens look like `glpat-xxxxxxxxxxxxxxxxxxxx`, Slack bot tokens start\n\
         with `xoxb-`, PyPI tokens with `pypi-AgEIcHlwaS5vcmc` and GitHub's with `ghp_`.\n\
         AWS documents `AKIAIOSFODNN7EXAMPLE`. PuTTY files begin with\n\
         `PuTTY-User-Key-File-3:`. A key file looks like this:\n\n\
         ```\n{}\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,<iv in hex>\n\n<base64 key material>\n{}\n```\n",
        begin("RSA PRIVATE KEY"),
        end("RSA PRIVATE KEY"),
    );
    let template = format!(
        "{{\n  \"type\": \"service_account\",\n  \"private_key\": \"{}\\n...\\n{}\\n\"\n}}\n",
        begin("PRIVATE KEY"),
        end("PRIVATE KEY"),
    );
    let source = format!(
        "const PEM_TAG: &str = \"{}\";\nconst GITLAB_PREFIX: &str = \"glpat-\";\nfn slack_prefix() -> &'static str {{ \"xoxb-\" }}\n",
        begin("PRIVATE KEY"),
    );
    let files = [
        ("README.md", readme.into_bytes()),
        (
            "deploy/service-account.template.json",
            template.into_bytes(),
        ),
        ("src/keys.rs", source.into_bytes()),
        (".env.example", b"NPM_TOKEN=\n".to_vec()),
        (
            "web/.npmrc.sample",
            b"registry=https://registry.npmjs.org/\n".to_vec(),
        ),
    ];
    let src = repo(&ctx, &files);
    let out = otactl_tar(&ctx, &src);
    assert_exit(&out, 0);
    assert!(ctx.path("out.tar.gz").is_file());
}
