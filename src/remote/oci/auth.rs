//! Registry credentials, where Docker and `oras` find them: `config.json`
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`) with `auths` (`auth`,
//! `username`/`password`, `identitytoken`), `credHelpers` and `credsStore` (run as
//! `docker-credential-NAME get`); then `OTACTL_REGISTRY_USERNAME` /
//! `OTACTL_REGISTRY_PASSWORD`. Each credential says where it came from, never what
//! it is.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize;

use crate::fsx;
use crate::remote::http::Secret;

/// What a registry login holds.
pub enum Login {
    /// A user name and password (or token used as one).
    Password {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// An identity token: exchanged at the token endpoint as a refresh token.
    IdentityToken(Secret),
}

/// A login and where it was found (`~/.docker/config.json`, `docker-credential-pass`,
/// `OTACTL_REGISTRY_PASSWORD`).
pub struct Found {
    /// The login.
    pub login: Login,
    /// Where it came from, for messages.
    pub source: String,
}

#[derive(Default, Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: HashMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

#[derive(Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// The largest `config.json` read.
const MAX_CONFIG: u64 = 1024 * 1024;
/// How long a credential helper may take.
const HELPER_TIMEOUT: Duration = Duration::from_secs(30);

/// Why credentials could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub String);

/// The Docker configuration file in use.
fn config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join(".docker").join("config.json"))
}

/// The key of `registry` in `auths`: the host as given, or a URL naming it.
fn same_registry(key: &str, registry: &str) -> bool {
    let key = key
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let key = key.split('/').next().unwrap_or_default();
    key.eq_ignore_ascii_case(registry)
        || (registry == "registry-1.docker.io" && key.eq_ignore_ascii_case("index.docker.io"))
}

/// The login for `registry`, if any place holds one.
pub fn find(registry: &str) -> Result<Option<Found>, AuthError> {
    if let Some(path) = config_path().filter(|p| fsx::exists(p)) {
        let shown = fsx::display(&path);
        let bytes = fsx::read_limited(&path, MAX_CONFIG, "a Docker config.json")
            .map_err(|e| AuthError(e.to_string()))?;
        let config: DockerConfig = serde_json::from_slice(&bytes).map_err(|e| {
            AuthError(format!(
                "`{shown}` is not a Docker config.json otactl can read (line {}, column {}); fix it or point `DOCKER_CONFIG` at another folder",
                e.line(),
                e.column()
            ))
        })?;
        if let Some(found) = from_config(&config, registry, &shown)? {
            return Ok(Some(found));
        }
    }
    let user = std::env::var("OTACTL_REGISTRY_USERNAME")
        .ok()
        .filter(|u| !u.is_empty());
    let password = std::env::var("OTACTL_REGISTRY_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    match (user, password) {
        (Some(username), Some(password)) => Ok(Some(Found {
            login: Login::Password {
                username,
                password: Secret::new(password),
            },
            source: "`OTACTL_REGISTRY_USERNAME`/`OTACTL_REGISTRY_PASSWORD`".into(),
        })),
        (None, None) => Ok(None),
        _ => Err(AuthError(
            "set both `OTACTL_REGISTRY_USERNAME` and `OTACTL_REGISTRY_PASSWORD`, or neither".into(),
        )),
    }
}

fn from_config(
    config: &DockerConfig,
    registry: &str,
    shown: &str,
) -> Result<Option<Found>, AuthError> {
    let helper = config
        .cred_helpers
        .iter()
        .find(|(key, _)| same_registry(key, registry))
        .map(|(_, name)| name.clone());
    if let Some(name) = helper {
        return run_helper(&name, registry).map(Some);
    }
    let entry = config
        .auths
        .iter()
        .find(|(key, _)| same_registry(key, registry))
        .map(|(_, entry)| entry);
    if let Some(entry) = entry {
        if let Some(token) = entry.identitytoken.as_ref().filter(|t| !t.is_empty()) {
            return Ok(Some(Found {
                login: Login::IdentityToken(Secret::new(token.clone())),
                source: format!("the identity token for {registry} in `{shown}`"),
            }));
        }
        let source = format!("the login for {registry} in `{shown}`");
        if let Some(auth) = entry.auth.as_ref().filter(|a| !a.is_empty()) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    AuthError(format!(
                        "{source}: `auth` is not base64 of `user:password`; log in again"
                    ))
                })?;
            let (username, password) = decoded.split_once(':').ok_or_else(|| {
                AuthError(format!(
                    "{source}: `auth` holds no `user:password`; log in again"
                ))
            })?;
            return Ok(Some(Found {
                login: Login::Password {
                    username: username.to_owned(),
                    password: Secret::new(password.to_owned()),
                },
                source,
            }));
        }
        if let (Some(username), Some(password)) = (&entry.username, &entry.password) {
            return Ok(Some(Found {
                login: Login::Password {
                    username: username.clone(),
                    password: Secret::new(password.clone()),
                },
                source,
            }));
        }
    }
    match &config.creds_store {
        Some(store) if !store.is_empty() => run_helper(store, registry).map(Some),
        _ => Ok(None),
    }
}

/// `docker-credential-NAME get`, the registry on stdin, `{"Username", "Secret"}` on
/// stdout (a user name `<token>` means the secret is an identity token).
fn run_helper(name: &str, registry: &str) -> Result<Found, AuthError> {
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(AuthError(format!(
            "the credential helper name {} is not a plain name",
            crate::text::code(name)
        )));
    }
    let program = format!("docker-credential-{name}");
    let source = format!("the credential helper `{program}`");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            AuthError(format!(
                "cannot run {source}: {e}; install it or remove it from config.json"
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(registry.as_bytes());
    }
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() < HELPER_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(AuthError(format!(
                    "{source} did not answer within {} s",
                    HELPER_TIMEOUT.as_secs()
                )));
            }
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| AuthError(format!("{source}: {e}")))?;
    if !out.status.success() {
        return Err(AuthError(format!(
            "{source} found no login for {registry} (it exited with {}); log in with it first",
            out.status
        )));
    }
    let answer: HelperAnswer = serde_json::from_slice(&out.stdout)
        .map_err(|_| AuthError(format!("{source} answered something that is not its JSON")))?;
    let login = if answer.username == "<token>" {
        Login::IdentityToken(Secret::new(answer.secret))
    } else {
        Login::Password {
            username: answer.username,
            password: Secret::new(answer.secret),
        }
    };
    Ok(Found { login, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auths_keys_match_as_docker_writes_them() {
        assert!(same_registry(
            "registry.example.com",
            "registry.example.com"
        ));
        assert!(same_registry(
            "https://registry.example.com/v1/",
            "registry.example.com"
        ));
        assert!(same_registry("127.0.0.1:5000", "127.0.0.1:5000"));
        assert!(!same_registry("127.0.0.1:5001", "127.0.0.1:5000"));
        assert!(same_registry(
            "https://index.docker.io/v1/",
            "registry-1.docker.io"
        ));
    }

    #[test]
    fn a_config_login_is_read_from_auth_or_username_and_password() {
        let config: DockerConfig = serde_json::from_str(
            r#"{"auths": {"r.example": {"auth": "dXNlcjpwYXNz"}, "s.example": {"username": "u", "password": "p"}, "t.example": {"identitytoken": "tok"}}}"#,
        )
        .unwrap();
        let found = from_config(&config, "r.example", "config.json")
            .unwrap()
            .unwrap();
        assert!(
            matches!(&found.login, Login::Password { username, password } if username == "user" && password.is_in("pass"))
        );
        assert!(found.source.contains("config.json"));
        let found = from_config(&config, "s.example", "config.json")
            .unwrap()
            .unwrap();
        assert!(matches!(found.login, Login::Password { .. }));
        let found = from_config(&config, "t.example", "config.json")
            .unwrap()
            .unwrap();
        assert!(matches!(found.login, Login::IdentityToken(_)));
        assert!(
            from_config(&config, "u.example", "config.json")
                .unwrap()
                .is_none()
        );
        let bad: DockerConfig =
            serde_json::from_str(r#"{"auths": {"r.example": {"auth": "!!"}}}"#).unwrap();
        assert!(from_config(&bad, "r.example", "config.json").is_err());
    }
}
