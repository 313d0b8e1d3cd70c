//! `otactl.toml` (SPEC 3) merged with flags into [`Settings`].
//!
//! Finding the file is the caller's business ([`find_config`] walks up from the
//! working folder to the git work tree root); this module parses and validates.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::fsx;
use crate::manifest::DEFAULT_CHANNELS;

/// The file name otactl looks for.
pub const CONFIG_FILE: &str = "otactl.toml";

/// The file as written; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Tarball prefix and asset name stem.
    pub name: Option<String>,
    /// Folder holding one folder per channel.
    pub channels_dir: Option<String>,
    /// Channels in promotion order.
    pub channels: Option<Vec<String>>,
    /// Git repository the tarballs are built from.
    pub source: Option<String>,
    /// Globs of tracked paths the secret scan lets through.
    pub allow_secrets: Option<Vec<String>>,
    /// `[signing]`.
    pub signing: Option<SigningConfig>,
    /// `[github]`.
    pub github: Option<GithubConfig>,
    /// `[oci]`.
    pub oci: Option<OciConfig>,
    /// `[dir]`.
    pub dir: Option<DirConfig>,
}

/// `[signing]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningConfig {
    /// Public key files devices trust, relative to the repository root.
    pub public_keys: Option<Vec<String>>,
    /// Every manifest must carry a valid signature.
    pub require: Option<bool>,
    /// Non-ASCII text is an error, not a warning.
    pub ascii_only: Option<bool>,
}

/// `[github]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubConfig {
    /// `OWNER/REPO`.
    pub repo: Option<String>,
    /// API base URL.
    pub api_url: Option<String>,
}

/// `[oci]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OciConfig {
    /// `REGISTRY/REPOSITORY`.
    pub repository: Option<String>,
    /// Media type of the payload layer.
    pub media_type: Option<String>,
}

/// `[dir]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirConfig {
    /// The release folder.
    pub path: Option<String>,
    /// The URL the folder is served at.
    pub base_url: Option<String>,
}

/// The settings of one run, from `otactl.toml` and defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The repository root: the folder holding `otactl.toml`, else the working folder.
    pub root: PathBuf,
    /// The configuration file, when there is one.
    pub config_path: Option<PathBuf>,
    /// `name`.
    pub name: Option<String>,
    /// The channels folder, relative to `root`.
    pub channels_dir: PathBuf,
    /// Channels in promotion order.
    pub channels: Vec<String>,
    /// Trusted public key files, relative to `root`.
    pub public_keys: Vec<PathBuf>,
    /// `[signing] require`.
    pub require_signature: bool,
    /// `[signing] ascii_only`.
    pub ascii_only: bool,
    /// `allow_secrets`.
    pub allow_secrets: Vec<String>,
    /// `source`, relative to `root`.
    pub source: Option<PathBuf>,
    /// `[dir] path`, relative to `root`.
    pub dir_path: Option<PathBuf>,
    /// `[dir] base_url`.
    pub dir_base_url: Option<String>,
}

impl Settings {
    /// Reads the configuration at `path` (when given) with `root` as the repository.
    pub fn load(root: &Path, path: Option<&Path>) -> Result<Settings> {
        let file = match path {
            Some(path) => {
                let bytes = fsx::read_limited(path, 1024 * 1024, "a configuration file")?;
                let text = String::from_utf8(bytes).map_err(|_| Error::Config {
                    path: path.to_owned(),
                    message: "is not valid UTF-8".into(),
                })?;
                toml::from_str::<ConfigFile>(&text).map_err(|e| Error::Config {
                    path: path.to_owned(),
                    message: e.to_string().trim_end().replace('\n', "\n  "),
                })?
            }
            None => ConfigFile::default(),
        };
        Settings::from_file(root, path, file)
    }

    fn from_file(root: &Path, path: Option<&Path>, file: ConfigFile) -> Result<Settings> {
        let config_err = |message: String| Error::Config {
            path: path.map_or_else(|| PathBuf::from(CONFIG_FILE), Path::to_owned),
            message,
        };
        let channels = file
            .channels
            .unwrap_or_else(|| DEFAULT_CHANNELS.map(String::from).to_vec());
        if channels.is_empty() {
            return Err(config_err(
                "`channels` is empty; name at least one channel".into(),
            ));
        }
        for (i, channel) in channels.iter().enumerate() {
            if !is_simple_name(channel) {
                return Err(config_err(format!(
                    "`channels`: `{channel}` is not a valid channel name (lowercase letters, digits, `-` and `_`)"
                )));
            }
            if channels[..i].contains(channel) {
                return Err(config_err(format!(
                    "`channels`: `{channel}` is listed twice"
                )));
            }
        }
        if let Some(name) = &file.name
            && !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return Err(config_err(format!(
                "`name`: `{name}` may hold only letters, digits, `.`, `_` and `-`"
            )));
        }
        let signing = file.signing.unwrap_or_default();
        let dir = file.dir.unwrap_or_default();
        Ok(Settings {
            root: root.to_owned(),
            config_path: path.map(Path::to_owned),
            name: file.name,
            channels_dir: PathBuf::from(file.channels_dir.unwrap_or_else(|| "channels".into())),
            channels,
            public_keys: signing
                .public_keys
                .unwrap_or_default()
                .into_iter()
                .map(PathBuf::from)
                .collect(),
            require_signature: signing.require.unwrap_or(false),
            ascii_only: signing.ascii_only.unwrap_or(false),
            allow_secrets: file.allow_secrets.unwrap_or_default(),
            source: file.source.map(PathBuf::from),
            dir_path: dir.path.map(|p| root.join(p)),
            dir_base_url: dir.base_url,
        })
    }

    /// The folder of a channel.
    pub fn channel_dir(&self, channel: &str) -> PathBuf {
        self.root.join(&self.channels_dir).join(channel)
    }

    /// The manifest file of a channel.
    pub fn manifest_path(&self, channel: &str) -> PathBuf {
        self.channel_dir(channel).join("manifest.json")
    }

    /// The source repository: the flag, else `source` (relative to the root), else `.`.
    pub fn source_dir(&self, flag: Option<&Path>) -> PathBuf {
        match (flag, &self.source) {
            (Some(flag), _) => flag.to_owned(),
            (None, Some(source)) => self.root.join(source),
            (None, None) => PathBuf::from("."),
        }
    }

    /// The channel whose folder holds `path`, if `path` is a channel's `manifest.json`.
    pub fn folder_channel<'a>(&self, path: &'a Path) -> Option<&'a str> {
        if path.file_name()? != "manifest.json" {
            return None;
        }
        path.parent()?.file_name()?.to_str()
    }
}

fn is_simple_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && s.as_bytes()[0].is_ascii_alphanumeric()
}

/// Finds `otactl.toml` in `start` or a parent, stopping at the git work tree root.
pub fn find_config(start: &Path) -> Option<PathBuf> {
    for dir in start.ancestors() {
        let candidate = dir.join(CONFIG_FILE);
        if candidate.is_file() {
            return Some(candidate);
        }
        if fsx::exists(&dir.join(".git")) {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| Error::Config {
            path: PathBuf::from("otactl.toml"),
            message: e.to_string(),
        })?;
        Settings::from_file(
            Path::new("/repo"),
            Some(Path::new("/repo/otactl.toml")),
            file,
        )
    }

    #[test]
    fn defaults() {
        let s = parse("").unwrap();
        assert_eq!(s.channels, ["canary", "staging", "stable"]);
        assert_eq!(
            s.manifest_path("stable"),
            Path::new("/repo/channels/stable/manifest.json")
        );
        assert!(!s.require_signature);
    }

    #[test]
    fn full_file() {
        let s = parse(
            r#"
name = "evse"
channels_dir = "."
channels = ["beta", "stable"]
source = "../evse"
[signing]
public_keys = ["keys/ota_pubkey.pem"]
require = true
ascii_only = true
[github]
repo = "o/r"
[oci]
repository = "r.example/x"
[dir]
path = "/srv"
"#,
        )
        .unwrap();
        assert_eq!(
            s.manifest_path("beta"),
            Path::new("/repo/./beta/manifest.json")
        );
        assert!(s.require_signature && s.ascii_only);
        assert_eq!(s.public_keys, [PathBuf::from("keys/ota_pubkey.pem")]);
    }

    #[test]
    fn unknown_keys_and_bad_channels_are_errors() {
        let e = parse("nmae = \"x\"").unwrap_err().to_string();
        assert!(e.contains("unknown field `nmae`"), "{e}");
        let e = parse("channels = [\"Stable\"]").unwrap_err().to_string();
        assert!(e.contains("not a valid channel name"), "{e}");
        let e = parse("channels = [\"a\", \"a\"]").unwrap_err().to_string();
        assert!(e.contains("listed twice"), "{e}");
        let e = parse("channels = []").unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
    }
}
