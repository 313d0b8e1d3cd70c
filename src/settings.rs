//! The remote settings of one run, merged in one place: a flag, else `otactl.toml`,
//! else the environment, else the default (SPEC 6). Each value keeps where it came
//! from, so that an error about it names that place. Pure: the environment and the
//! `origin` remote are passed in.

use std::path::PathBuf;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::remote::github::{Api, DEFAULT_API_URL, Repository};

/// The flags every command that talks to a remote accepts (`--api-url`, `--repo`,
/// `--insecure`).
#[derive(Clone, Debug, Default)]
pub struct RemoteFlags {
    /// `--api-url`.
    pub api_url: Option<String>,
    /// `--repo`.
    pub repo: Option<String>,
    /// `--insecure`: plain HTTP to a non-loopback host.
    pub insecure: bool,
}

/// Where a setting came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A flag.
    Flag(&'static str),
    /// A key of the configuration file.
    Config {
        /// The file.
        file: PathBuf,
        /// The key, as `[github] repo`.
        key: &'static str,
    },
    /// An environment variable.
    Env(&'static str),
    /// The `origin` remote of the work tree.
    Origin,
    /// The default.
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "`{flag}`"),
            Source::Config { file, key } => write!(f, "`{key}` in {}", crate::fsx::display(file)),
            Source::Env(var) => write!(f, "`{var}`"),
            Source::Origin => f.write_str("the `origin` remote"),
            Source::Default => f.write_str("the default"),
        }
    }
}

/// What the process environment and the work tree hold for the remote settings.
#[derive(Clone, Debug, Default)]
pub struct Environment {
    /// `GITHUB_API_URL`.
    pub github_api_url: Option<String>,
    /// The URL of the `origin` remote.
    pub origin_url: Option<String>,
}

impl Environment {
    /// Reads the environment and the `origin` remote of the repository root.
    pub fn read(settings: &Settings) -> Environment {
        Environment {
            github_api_url: std::env::var("GITHUB_API_URL")
                .ok()
                .filter(|v| !v.trim().is_empty()),
            origin_url: crate::git::is_work_tree(&settings.root)
                .then(|| crate::git::remote_url(&settings.root, "origin"))
                .flatten(),
        }
    }
}

/// `[github]` merged.
#[derive(Clone, Debug)]
pub struct GithubSettings {
    /// The API.
    pub api: Api,
    /// Where the API URL came from.
    pub api_source: Source,
    /// The repository releases and pull requests go to, and where that came from;
    /// `None` when neither a flag, `otactl.toml` nor `origin` names one.
    pub repository: Option<(Repository, Source)>,
}

impl GithubSettings {
    /// The repository, or the error that says how to name it.
    pub fn require_repository(&self) -> Result<&Repository> {
        self.repository.as_ref().map(|(r, _)| r).ok_or_else(|| Error::InvalidArg {
            flag: "--repo",
            message: format!(
                "no GitHub repository: pass `--repo OWNER/REPO`, set `[github] repo` in otactl.toml, or run in a work tree whose `origin` remote is on {}",
                self.api.web_host()
            ),
        })
    }
}

/// An invalid value, named by where it came from.
fn invalid(source: &Source, message: String) -> Error {
    match source {
        Source::Flag(flag) => Error::InvalidArg { flag, message },
        Source::Config { file, key } => Error::Config {
            path: file.clone(),
            message: format!("`{key}`: {message}"),
        },
        Source::Env(var) => Error::InvalidArg {
            flag: var,
            message: format!("the environment variable: {message}"),
        },
        Source::Origin | Source::Default => Error::InvalidArg {
            flag: "--repo",
            message,
        },
    }
}

/// The first value given: the flag, the configuration file's key, the environment.
fn pick(
    flag: (&'static str, Option<&String>),
    config: (&Settings, &'static str, Option<&String>),
    env: Option<(&'static str, Option<&String>)>,
) -> Option<(String, Source)> {
    if let Some(value) = flag.1 {
        return Some((value.clone(), Source::Flag(flag.0)));
    }
    let (settings, key, value) = config;
    if let Some(value) = value {
        let file = settings
            .config_path
            .clone()
            .unwrap_or_else(|| PathBuf::from(crate::config::CONFIG_FILE));
        return Some((value.clone(), Source::Config { file, key }));
    }
    let (var, value) = env?;
    value.map(|v| (v.clone(), Source::Env(var)))
}

/// [`github`] with this process's environment and the repository's `origin` remote.
pub fn github_here(settings: &Settings, flags: &RemoteFlags) -> Result<GithubSettings> {
    github(settings, flags, &Environment::read(settings))
}

/// Merges `[github]`: `--api-url`, `api_url`, `GITHUB_API_URL`, the public API; and
/// `--repo`, `repo`, the `origin` remote when it is on the API's web host.
pub fn github(
    settings: &Settings,
    flags: &RemoteFlags,
    env: &Environment,
) -> Result<GithubSettings> {
    let config = &settings.github;
    let (api_text, api_source) = pick(
        ("--api-url", flags.api_url.as_ref()),
        (settings, "[github] api_url", config.api_url.as_ref()),
        Some(("GITHUB_API_URL", env.github_api_url.as_ref())),
    )
    .unwrap_or_else(|| (DEFAULT_API_URL.to_owned(), Source::Default));
    let api = Api::parse(&api_text, flags.insecure).map_err(|m| invalid(&api_source, m))?;
    let repository = match pick(
        ("--repo", flags.repo.as_ref()),
        (settings, "[github] repo", config.repo.as_ref()),
        None,
    ) {
        Some((text, source)) => {
            let repo = text
                .parse::<Repository>()
                .map_err(|m| invalid(&source, m))?;
            Some((repo, source))
        }
        None => env
            .origin_url
            .as_deref()
            .and_then(|url| Repository::from_remote_url(url, &api.web_host()))
            .map(|repo| (repo, Source::Origin)),
    };
    Ok(GithubSettings {
        api,
        api_source,
        repository,
    })
}

/// The media type of an OCI payload when none is given.
pub const DEFAULT_MEDIA_TYPE: &str = "application/vnd.otactl.artifact.v1";

/// `[oci]` merged.
#[derive(Clone, Debug)]
pub struct OciSettings {
    /// Where OCI artifacts go (`REGISTRY/REPOSITORY`), and where that came from.
    pub repository: Option<(String, Source)>,
    /// The payload layer's media type, and where that came from.
    pub media_type: (String, Source),
}

/// Merges `[oci]`: `--ref`'s repository, `repository`; `--media-type`, `media_type`,
/// the default.
pub fn oci(
    settings: &Settings,
    repository: Option<&String>,
    media_type: Option<&String>,
) -> OciSettings {
    let config = &settings.oci;
    OciSettings {
        repository: pick(
            ("--ref", repository),
            (settings, "[oci] repository", config.repository.as_ref()),
            None,
        ),
        media_type: pick(
            ("--media-type", media_type),
            (settings, "[oci] media_type", config.media_type.as_ref()),
            None,
        )
        .unwrap_or_else(|| (DEFAULT_MEDIA_TYPE.to_owned(), Source::Default)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(toml: &str) -> Settings {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("otactl.toml");
        crate::fsx::write_atomic(&path, toml.as_bytes(), None, crate::fsx::Existing::Replace)
            .unwrap();
        Settings::load(dir.path(), Some(&path)).unwrap()
    }

    #[test]
    fn a_flag_beats_the_file_which_beats_the_environment_and_the_default() {
        let file = settings(
            "[github]\nrepo = \"acme/fw\"\napi_url = \"https://ghe.example.com/api/v3\"\n",
        );
        let env = Environment {
            github_api_url: Some("https://env.example.com/api/v3".into()),
            origin_url: Some("https://github.com/origin/repo.git".into()),
        };
        let none = RemoteFlags::default();
        let merged = github(&file, &none, &env).unwrap();
        assert_eq!(
            merged.api.base().as_str(),
            "https://ghe.example.com/api/v3/"
        );
        assert!(matches!(
            merged.api_source,
            Source::Config {
                key: "[github] api_url",
                ..
            }
        ));
        assert_eq!(merged.repository.unwrap().0.to_string(), "acme/fw");
        let flags = RemoteFlags {
            api_url: Some("http://127.0.0.1:9".into()),
            repo: Some("o/r".into()),
            insecure: false,
        };
        let merged = github(&file, &flags, &env).unwrap();
        assert_eq!(merged.api_source, Source::Flag("--api-url"));
        assert_eq!(merged.repository.unwrap().1, Source::Flag("--repo"));
        let bare = settings("");
        let merged = github(&bare, &none, &env).unwrap();
        assert_eq!(merged.api_source, Source::Env("GITHUB_API_URL"));
        // `origin` is on github.com, not on the environment's API host.
        assert!(merged.repository.is_none());
        let merged = github(
            &bare,
            &none,
            &Environment {
                github_api_url: None,
                ..env
            },
        )
        .unwrap();
        assert_eq!(merged.api_source, Source::Default);
        assert_eq!(
            merged.repository,
            Some(("origin/repo".parse().unwrap(), Source::Origin))
        );
    }

    #[test]
    fn oci_settings_come_from_the_flag_the_file_or_the_default() {
        let file =
            settings("[oci]\nrepository = \"r.example/fw\"\nmedia_type = \"application/x-fw\"\n");
        let merged = oci(&file, None, None);
        assert_eq!(merged.repository.unwrap().0, "r.example/fw");
        assert_eq!(merged.media_type.0, "application/x-fw");
        let flag = "application/y".to_owned();
        let merged = oci(&file, None, Some(&flag));
        assert_eq!(merged.media_type, (flag, Source::Flag("--media-type")));
        let merged = oci(&settings(""), None, None);
        assert_eq!(
            merged.media_type,
            (DEFAULT_MEDIA_TYPE.to_owned(), Source::Default)
        );
        assert!(merged.repository.is_none());
    }

    #[test]
    fn a_bad_value_is_named_by_where_it_came_from() {
        let file = settings("[github]\nrepo = \"not a repo\"\n");
        let err = github(&file, &RemoteFlags::default(), &Environment::default()).unwrap_err();
        assert!(
            matches!(&err, Error::Config { message, .. } if message.starts_with("`[github] repo`")),
            "{err}"
        );
        let flags = RemoteFlags {
            api_url: Some("http://api.example.com".into()),
            ..RemoteFlags::default()
        };
        let err = github(&settings(""), &flags, &Environment::default()).unwrap_err();
        assert!(matches!(
            err,
            Error::InvalidArg {
                flag: "--api-url",
                ..
            }
        ));
        let insecure = RemoteFlags {
            insecure: true,
            ..flags
        };
        assert!(github(&settings(""), &insecure, &Environment::default()).is_ok());
    }
}
