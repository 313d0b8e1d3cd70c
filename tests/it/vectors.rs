//! Interoperability with the Python verifiers on devices: vectors made by Python's
//! `json`, securesystemslib and `cryptography` (tests/fixtures/vectors/, with the
//! script that made them) against otactl's canonical bytes, signatures and verdicts.

use serde::Deserialize;

use crate::support::assert::assert_exit;
use crate::support::fixture::test_private_key;
use crate::support::{TestContext, fixtures, stderr};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Vectors {
    generator: String,
    python: String,
    cryptography: String,
    securesystemslib: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Case {
    name: String,
    description: String,
    manifest_text: String,
    canonical: String,
    canonical_sha256: String,
    securesystemslib_equal: bool,
    public_key: String,
    expect: String,
    python_cryptography_accepts: bool,
}

fn vectors() -> Vectors {
    let text = std::fs::read_to_string(fixtures().join("vectors/vectors.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn object(text: &str) -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_str(text).unwrap()
}

#[test]
fn canonical_bytes_equal_pythons() {
    let vectors = vectors();
    assert!(vectors.cases.len() >= 13);
    for case in &vectors.cases {
        assert!(
            case.securesystemslib_equal,
            "{}: Python's two canonical forms differ",
            case.name
        );
        let ours = otactl::manifest::canonical::signed_bytes(&object(&case.manifest_text)).unwrap();
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            case.canonical,
            "{}",
            case.name
        );
    }
}

#[test]
fn signatures_equal_pythons() {
    // Ed25519 is deterministic: otactl signing the same bytes with the same key must
    // produce the very signature Python produced.
    let pem = std::fs::read(test_private_key()).unwrap();
    let key = otactl::keys::PrivateKey::from_bytes(&pem).unwrap();
    let mut checked = 0;
    for case in vectors().cases.iter().filter(|c| c.expect == "valid") {
        let obj = object(&case.manifest_text);
        let message = otactl::manifest::canonical::signed_bytes(&obj).unwrap();
        use base64::Engine as _;
        let ours = base64::engine::general_purpose::STANDARD.encode(key.sign(&message));
        assert_eq!(ours, obj["signature"].as_str().unwrap(), "{}", case.name);
        checked += 1;
    }
    assert_eq!(checked, 7);
}

/// Runs `otactl manifest verify` on every vector and renders the verdicts as a table.
#[test]
fn verify_verdicts_match_the_vectors() {
    let ctx = TestContext::new();
    let mut table = String::new();
    for case in vectors().cases {
        let file = ctx.write(&format!("{}.json", case.name), &case.manifest_text);
        let out = ctx
            .otactl()
            .args(["manifest", "verify"])
            .arg(&file)
            .arg("--pubkey")
            .arg(fixtures().join("vectors").join(&case.public_key))
            .output()
            .unwrap();
        let code = out.status.code().unwrap();
        match case.expect.as_str() {
            "valid" => assert_eq!(code, 0, "{}: {}", case.name, stderr(&out)),
            // A weak key is refused when loaded (2); any other bad signature fails the check (1).
            _ if case.public_key == "identity.public.pem" => assert_eq!(code, 2, "{}", case.name),
            _ => assert_eq!(code, 1, "{}", case.name),
        }
        let first = String::from_utf8_lossy(if code == 2 { &out.stderr } else { &out.stdout })
            .lines()
            .find(|l| !l.starts_with("warning") && !l.starts_with("  hint"))
            .unwrap_or("")
            .to_owned();
        table.push_str(&format!(
            "{}: expect {}, python cryptography accepts {}, otactl exit {code}: {}\n",
            case.name, case.expect, case.python_cryptography_accepts, first
        ));
    }
    insta::assert_snapshot!("verdicts", ctx.filter(&table));
}

#[test]
fn otactl_signs_what_python_signed() {
    // Strip the signature from a Python-signed vector, sign it with otactl and the
    // same key: the file otactl writes carries Python's signature.
    let ctx = TestContext::new();
    let case = vectors()
        .cases
        .into_iter()
        .find(|c| c.name == "turkish-notes-nfc")
        .unwrap();
    let mut obj = object(&case.manifest_text);
    let python_signature = obj.remove("signature").unwrap();
    let file = ctx.write(
        "channels/stable/manifest.json",
        serde_json::to_string_pretty(&obj).unwrap() + "\n",
    );
    let out = ctx
        .otactl()
        .args(["manifest", "sign"])
        .arg(&file)
        .arg("--key")
        .arg(test_private_key())
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let signed = object(&ctx.read("channels/stable/manifest.json"));
    assert_eq!(signed["signature"], python_signature);
    assert_eq!(
        ctx.read("channels/stable/manifest.json"),
        case.manifest_text
    );
}
