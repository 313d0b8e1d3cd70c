//! Keys made by openssl in each test's temp folder (outside the working folder, as
//! private keys should be), and what a test needs to check them without otactl.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use super::TestContext;

/// The DER prefix of an Ed25519 `SubjectPublicKeyInfo`; the raw key follows.
pub const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// An Ed25519 key pair made by openssl under `[TEMP]/keys/`.
pub struct Key {
    pub private: PathBuf,
    pub public: PathBuf,
    pub raw_public: [u8; 32],
    /// SPEC 2.3: first 16 hex digits of SHA-256 of the raw public key.
    pub id: String,
    /// The PKCS#8 PEM text of the private key.
    pub pem: String,
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// The DER inside a one-block PEM text.
pub fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .unwrap()
}

/// `[TEMP]/keys/NAME` (the folder made), outside the working folder.
pub fn key_path(ctx: &TestContext, name: &str) -> PathBuf {
    let dir = ctx.root().join("keys");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// `openssl genpkey` of an `ed25519`, `ed448`, `rsa` (1024 bits) or `ec` (P-256) private
/// key into `out`, PEM.
pub fn openssl_genpkey(ctx: &TestContext, algorithm: &str, out: &Path) {
    let options: &[&str] = match algorithm {
        "rsa" => &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
        "ec" => &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "ed25519" | "ed448" => &["-algorithm", algorithm],
        _ => panic!("no such algorithm in the tests: {algorithm}"),
    };
    let mut args = vec!["genpkey"];
    args.extend_from_slice(options);
    args.extend(["-out", out.to_str().unwrap()]);
    ctx.run_tool("openssl", &args);
}

/// `openssl pkey -in PRIVATE -pubout -out PUBLIC`.
pub fn openssl_public(ctx: &TestContext, private: &Path, public: &Path) {
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
}

/// `openssl pkey` of a PEM key file into DER: the private key, or (`public`) the
/// public key of an SPKI file.
pub fn openssl_der(ctx: &TestContext, pem: &Path, der: &Path, public: bool) {
    let mut args = vec!["pkey"];
    if public {
        args.push("-pubin");
    }
    args.extend(["-in", pem.to_str().unwrap(), "-outform", "DER"]);
    args.extend(["-out", der.to_str().unwrap()]);
    ctx.run_tool("openssl", &args);
}

/// An Ed25519 key pair, `[TEMP]/keys/NAME.pem` and `NAME.pub.pem`, with its raw public
/// key and key id worked out from the SPKI file.
pub fn openssl_key(ctx: &TestContext, name: &str) -> Key {
    let private = key_path(ctx, &format!("{name}.pem"));
    let public = key_path(ctx, &format!("{name}.pub.pem"));
    openssl_genpkey(ctx, "ed25519", &private);
    openssl_public(ctx, &private, &public);
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
