//! `key generate` and `key show`: a new Ed25519 key pair that never lands in a work
//! tree nor over a file, and what a key file holds.

use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::fsx::{self, Existing};
use crate::git;
use crate::keys::{AnyKey, PrivateKey};
use crate::repo::MAX_KEY_BYTES;

/// What `generate` made.
#[derive(Clone, Debug)]
pub struct Generated {
    /// The new key's id.
    pub key_id: String,
}

/// What a key file holds (`key show`).
#[derive(Clone, Debug, Serialize)]
pub struct Shown {
    /// The file, as shown.
    pub file: String,
    /// `private` or `public`.
    pub kind: &'static str,
    /// The key id.
    pub key_id: String,
    /// The public key, `SubjectPublicKeyInfo` PEM.
    pub public_key_pem: String,
}

/// Writes a new key pair: the private key PKCS#8 PEM, 0600 from its first byte, in a
/// folder that is 0700 when made for it, never inside a git work tree; the public
/// key SPKI PEM. Neither file is overwritten; on a failure nothing is left.
pub fn generate(private: &Path, public: &Path) -> Result<Generated> {
    if let Some(worktree) = git::enclosing_work_tree(private) {
        return Err(Error::KeyInWorkTree {
            path: private.to_owned(),
            worktree,
        });
    }
    for path in [private, public] {
        if fsx::exists(path) {
            return Err(Error::KeyExists {
                path: path.to_owned(),
            });
        }
    }
    if std::path::absolute(private).ok() == std::path::absolute(public).ok() {
        return Err(Error::InvalidArg {
            flag: "--public",
            message: "must name another file than `--private`".into(),
        });
    }
    if let Some(parent) = private.parent().filter(|p| !p.as_os_str().is_empty()) {
        fsx::create_private_dir_all(parent)?;
    }
    if let Some(parent) = public.parent().filter(|p| !p.as_os_str().is_empty()) {
        fsx::create_dir_all(parent)?;
    }
    let key = PrivateKey::generate();
    let public_key = key.public_key();
    fsx::write_atomic(
        private,
        key.to_pem().as_bytes(),
        Some(0o600),
        Existing::Refuse,
    )?;
    if let Err(e) = fsx::write_atomic(
        public,
        public_key.to_pem().as_bytes(),
        Some(0o644),
        Existing::Refuse,
    ) {
        // Nothing half-made stays behind: the private key was created by this run.
        let _ = fsx::remove_file(private);
        return Err(e);
    }
    Ok(Generated {
        key_id: public_key.key_id(),
    })
}

/// Reads a private or public key file (PEM or DER) and tells its public half.
pub fn show(file: &Path) -> Result<Shown> {
    let bytes = zeroize::Zeroizing::new(fsx::read_limited(file, MAX_KEY_BYTES, "a key file")?);
    let key = AnyKey::from_bytes(&bytes).map_err(|message| Error::Key {
        path: file.to_owned(),
        message,
    })?;
    let kind = match key {
        AnyKey::Private(_) => "private",
        AnyKey::Public(_) => "public",
    };
    let public = key.public_key();
    Ok(Shown {
        file: fsx::display(file),
        kind,
        key_id: public.key_id(),
        public_key_pem: public.to_pem(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_then_show_both_halves() {
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("secret/k.pem");
        let public = dir.path().join("k.pub.pem");
        let made = generate(&private, &public).unwrap();
        let shown = show(&private).unwrap();
        assert_eq!(shown.kind, "private");
        assert_eq!(shown.key_id, made.key_id);
        let shown = show(&public).unwrap();
        assert_eq!((shown.kind, shown.key_id), ("public", made.key_id));
        assert!(matches!(
            generate(&private, &dir.path().join("other.pem")),
            Err(Error::KeyExists { .. })
        ));
    }

    #[test]
    fn a_key_is_not_written_over_itself() {
        let dir = tempfile::tempdir().unwrap();
        let both = dir.path().join("k.pem");
        assert!(matches!(
            generate(&both, &both),
            Err(Error::InvalidArg {
                flag: "--public",
                ..
            })
        ));
        assert!(!fsx::exists(&both));
    }
}
