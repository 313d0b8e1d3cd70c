//! The channel repository (SPEC 3): where its settings come from, its channels, the
//! keys its devices trust, the rules a manifest in it is read with, and reading a
//! manifest for a check. The ops work on a [`Repo`]; nothing here prints.

use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use crate::config::{self, Settings};
use crate::error::{Error, Result};
use crate::fsx;
use crate::keys::{AnyKey, PrivateKey, PublicKey};
use crate::manifest::{Finding, MAX_MANIFEST_BYTES, Parsed, Rules, parse};
use crate::text::code;

/// The largest key file read.
pub const MAX_KEY_BYTES: u64 = 64 * 1024;

/// A channel repository and how its manifests are read in this run.
#[derive(Clone, Debug)]
pub struct Repo {
    /// Its settings (`otactl.toml` and defaults).
    pub settings: Settings,
    /// Unknown keys are errors (not `--no-strict-keys`).
    pub strict_keys: bool,
    /// The clock of this run.
    pub now: OffsetDateTime,
}

impl Repo {
    /// The repository seen from `cwd`: the configuration at `config` (relative to
    /// `cwd`), else `otactl.toml` found from `cwd` up to the git work tree root, else
    /// defaults with `cwd` as the root.
    pub fn discover(
        cwd: &Path,
        config: Option<&Path>,
        strict_keys: bool,
        now: OffsetDateTime,
    ) -> Result<Repo> {
        let path = match config {
            Some(path) => Some(cwd.join(path)),
            None => config::find_config(cwd),
        };
        let root = path
            .as_deref()
            .and_then(Path::parent)
            .map_or(cwd.to_owned(), Path::to_owned);
        let shown = path.as_deref().map(fsx::display_path);
        Ok(Repo {
            settings: Settings::load(&root, shown.as_deref())?,
            strict_keys,
            now,
        })
    }

    /// A repository rooted at `root` with default settings, strict keys and a fixed
    /// clock (2026-01-16 00:00 UTC), for unit tests.
    #[cfg(test)]
    pub(crate) fn for_tests(root: &Path) -> Repo {
        Repo {
            settings: Settings::load(root, None).unwrap_or_else(|e| panic!("{e}")),
            strict_keys: true,
            now: time::macros::datetime!(2026-01-16 00:00 UTC),
        }
    }

    /// The rules a manifest at `path` is read with: the repository's channels, the
    /// channel folder holding it (when it is one), strict keys, `ascii_only`.
    pub fn rules<'a>(&'a self, path: &'a Path) -> Rules<'a> {
        Rules {
            channels: &self.settings.channels,
            folder: self
                .settings
                .folder_channel(path)
                .filter(|f| self.settings.channels.contains(f)),
            strict_keys: self.strict_keys,
            ascii_only: self.settings.ascii_only,
            now: self.now,
        }
    }

    /// The rules for a manifest that is only compared with (a base, the current
    /// manifest being replaced): unknown keys and the folder are not held against it.
    pub fn lenient_rules(&self) -> Rules<'_> {
        Rules {
            channels: &self.settings.channels,
            folder: None,
            strict_keys: false,
            ascii_only: false,
            now: self.now,
        }
    }

    /// Checks that `channel` is one of the repository's; `flag` names where it came from.
    pub fn require_channel(&self, channel: &str, flag: &'static str) -> Result<()> {
        if self.settings.channels.contains(channel) {
            return Ok(());
        }
        Err(Error::InvalidArg {
            flag,
            message: format!(
                "{} is not one of the repository's channels ({})",
                crate::text::code(channel),
                self.settings.channels.list()
            ),
        })
    }

    /// The key files devices trust: `flags` when given, else `[signing] public_keys`.
    pub fn trusted_key_paths(&self, flags: &[PathBuf]) -> Vec<PathBuf> {
        if flags.is_empty() {
            self.settings
                .public_keys
                .iter()
                .map(|p| self.settings.root.join(p))
                .collect()
        } else {
            flags.to_vec()
        }
    }

    /// Refuses a signing key the repository does not trust (when it lists any): what
    /// it signs would fail every check.
    pub fn check_signer(&self, key: &crate::keys::PrivateKey) -> Result<()> {
        let public = key.public_key();
        let trusted = self.trusted_keys(&[])?;
        if trusted.is_empty() || trusted.contains(&public) {
            return Ok(());
        }
        Err(Error::UntrustedSigner {
            key_id: public.key_id(),
            config: self
                .settings
                .config_path
                .as_deref()
                .map(fsx::display_path)
                .unwrap_or_default(),
            trusted: trusted
                .iter()
                .map(PublicKey::key_id)
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// The trusted public keys: `flags` when given, else `[signing] public_keys`.
    pub fn trusted_keys(&self, flags: &[PathBuf]) -> Result<Vec<PublicKey>> {
        let paths = self.trusted_key_paths(flags);
        if flags.is_empty() {
            paths.iter().map(|p| self.load_trusted_key(p)).collect()
        } else {
            paths.iter().map(|p| load_public_key(p)).collect()
        }
    }

    /// Reads a key file of `[signing] public_keys`. A private key there (SPEC 3: never
    /// a private key) is refused with what to do: put its public half in its place,
    /// and rotate it, since it sits in the channel repository.
    pub fn load_trusted_key(&self, path: &Path) -> Result<PublicKey> {
        let bytes = zeroize::Zeroizing::new(fsx::read_limited(path, MAX_KEY_BYTES, "a key file")?);
        match AnyKey::from_bytes(&bytes) {
            Ok(AnyKey::Public(key)) => Ok(key),
            Ok(AnyKey::Private(_)) => Err(Error::PrivateKeyTrusted {
                path: fsx::display_path(path),
                hint: self.private_key_hint(path),
            }),
            Err(message) => Err(Error::Key {
                path: fsx::display_path(path),
                message,
            }),
        }
    }

    /// What to do about the private key at `path`, listed as a trusted key: write its
    /// public half to `keys/ota_pubkey.pem` (or, when that file exists, next to it:
    /// the shell would empty a file it reads from), trust that file instead, then
    /// rotate the key.
    fn private_key_hint(&self, path: &Path) -> String {
        let root = &self.settings.root;
        let mut public = root.join("keys").join("ota_pubkey.pem");
        if fsx::exists(&public) {
            let stem = path
                .file_stem()
                .map_or_else(|| "ota_pubkey".into(), |s| s.to_string_lossy());
            public = path.with_file_name(format!("{stem}.pub.pem"));
        }
        let entry = public.strip_prefix(root).unwrap_or(&public);
        let shown = code(fsx::display(path));
        format!(
            "replace it with its public half: `otactl key show {} > {}`, list {} in `[signing] public_keys` instead, and remove {shown} from the repository. Then rotate the key, since it was in the repository (removing it from the git history is not enough: every clone keeps it): make a new pair with `otactl key generate` (its private half outside every repository), trust the new public key, re-sign every channel's manifest with the new private key, and drop the old public key once devices trust the new one",
            crate::text::cap(&fsx::display(path)),
            crate::text::cap(&fsx::display(&public)),
            code(entry.display().to_string()),
        )
    }
}

/// Reads a public key file.
pub fn load_public_key(path: &Path) -> Result<PublicKey> {
    let bytes = fsx::read_limited(path, MAX_KEY_BYTES, "a key file")?;
    PublicKey::from_bytes(&bytes).map_err(|message| Error::Key {
        path: fsx::display_path(path),
        message,
    })
}

/// The signing key: `flag`, else `OTACTL_SIGNING_KEY` (PEM text), else the file
/// `OTACTL_SIGNING_KEY_FILE` names (SPEC 4). Its bytes are zeroized once read.
pub fn load_signing_key(flag: Option<&Path>) -> Result<PrivateKey> {
    let load = |bytes: &[u8], origin: PathBuf| {
        PrivateKey::from_bytes(bytes).map_err(|message| Error::Key {
            path: origin,
            message,
        })
    };
    let read = |path: &Path| {
        fsx::read_limited(path, MAX_KEY_BYTES, "a key file").map(zeroize::Zeroizing::new)
    };
    if let Some(path) = flag {
        return load(&read(path)?, path.to_owned());
    }
    if let Some(pem) = std::env::var_os("OTACTL_SIGNING_KEY").filter(|v| !v.is_empty()) {
        let pem = zeroize::Zeroizing::new(pem.into_encoded_bytes());
        return load(&pem, PathBuf::from("$OTACTL_SIGNING_KEY"));
    }
    if let Some(path) = std::env::var_os("OTACTL_SIGNING_KEY_FILE").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        return load(&read(&path)?, path);
    }
    Err(Error::MissingSigningKey)
}

/// Reads a manifest for a checking command: a file over the size limit is a failed
/// check (exit 1), as `lint` reports it; a file that cannot be read is an error.
pub fn read_for_check(path: &Path, rules: &Rules<'_>) -> Result<Parsed> {
    match fsx::read_limited(path, MAX_MANIFEST_BYTES, "a manifest") {
        Ok(bytes) => Ok(parse(&bytes, rules)),
        Err(Error::TooLarge { size, limit, .. }) => Ok(Parsed {
            findings: vec![too_large(size, limit)],
            ..Parsed::default()
        }),
        Err(e) => Err(e),
    }
}

/// The finding for a manifest file over the size limit.
pub fn too_large(size: u64, limit: u64) -> Finding {
    Finding::error(
        None,
        None,
        format!(
            "the file is {size} bytes, larger than the limit of {limit} bytes for a manifest; it was not read"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_know_the_channel_folder() {
        let r = Repo::for_tests(Path::new("/repo"));
        let path = Path::new("/repo/channels/stable/manifest.json");
        assert_eq!(r.rules(path).folder, Some("stable"));
        let path = Path::new("/repo/channels/beta/manifest.json");
        assert_eq!(r.rules(path).folder, None, "not a channel");
        assert!(r.rules(path).strict_keys);
        assert!(!r.lenient_rules().strict_keys);
    }

    #[test]
    fn unknown_channels_are_refused_naming_the_flag() {
        let r = Repo::for_tests(Path::new("/repo"));
        assert!(r.require_channel("canary", "--channel").is_ok());
        let e = r.require_channel("beta", "--channel").unwrap_err();
        assert!(matches!(
            e,
            Error::InvalidArg {
                flag: "--channel",
                ..
            }
        ));
        assert!(
            crate::text::plain(&e.to_string()).contains(
                "`beta` is not one of the repository's channels (canary, staging, stable)"
            )
        );
    }

    #[test]
    fn trusted_keys_come_from_flags_first() {
        let r = Repo::for_tests(Path::new("/repo"));
        assert!(r.trusted_key_paths(&[]).is_empty());
        let flag = PathBuf::from("k.pem");
        assert_eq!(r.trusted_key_paths(std::slice::from_ref(&flag)), [flag]);
    }

    #[test]
    fn an_oversized_manifest_is_a_failed_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        fsx::write_atomic(&path, &vec![b' '; 70_000], None, fsx::Existing::Replace).unwrap();
        let r = Repo::for_tests(dir.path());
        let parsed = read_for_check(&path, &r.rules(&path)).unwrap();
        assert!(parsed.findings[0].message.contains("larger than the limit"));
        assert!(read_for_check(&dir.path().join("none.json"), &r.rules(&path)).is_err());
    }
}
