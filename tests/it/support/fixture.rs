//! Values the modules share: a build id and its floor, a digest, the stable manifest's
//! path, a release URL, and the RFC 8032 test key of `tests/fixtures/vectors/`.

use std::path::PathBuf;

use super::fixtures;

/// A valid build id (SPEC 2.2).
pub const ID: &str = "20260115-1614-9121078";
/// An earlier build id, for `min_build_id`.
pub const MIN: &str = "20251201-0930-1a2b3c4";
/// A well-formed SHA-256 of nothing in particular.
pub const SHA: &str = "3f0c2b4a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a";
/// The stable channel's manifest in the house layout.
pub const MANIFEST: &str = "channels/stable/manifest.json";

/// A release URL whose tag is the build id (so `manifest new` has nothing to warn about).
pub fn release_url(id: &str) -> String {
    format!("https://github.com/o/r/releases/download/{id}/evse-src-{id}.tar.gz")
}

/// The RFC 8032 test 1 private key (PKCS#8 PEM).
pub fn test_private_key() -> PathBuf {
    fixtures().join("vectors/rfc8032-test1.private.pem")
}

/// The RFC 8032 test 1 public key (SPKI PEM).
pub fn test_public_key() -> PathBuf {
    fixtures().join("vectors/rfc8032-test1.public.pem")
}
