//! An OCI registry through the distribution API
//! (<https://github.com/opencontainers/distribution-spec>), over the shared
//! [`Client`]: the `/v2/` challenge and its Basic or Bearer login, blob `HEAD`, upload
//! sessions, manifests by digest and by tag, the tag list.
//!
//! Not the `oras` crate (an abandoned stub) nor `oci-client`: its errors carry no
//! headers (no `Retry-After`), it never checks the `Docker-Content-Digest` a registry
//! returns, it swallows token-endpoint errors, and it reads no Docker `config.json`.

pub mod auth;
pub mod image;

use std::io::Read;
use std::sync::Arc;

use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;

use crate::manifest::fields::OciRef;
use crate::progress::Reporter;
use crate::remote::http::{
    Body, Client, Credential, HashedUpload, RemoteError, Request, Response, Scheme, Secret, shown,
    upload_timeout,
};
use crate::text::code;

use auth::{Found, Login};

/// Tags read at most from a repository's list (pages followed).
pub const MAX_TAGS: usize = 100_000;

/// A repository of a registry, logged in.
pub struct Registry<'a> {
    client: &'a Client,
    base: url::Url,
    /// `REGISTRY/REPOSITORY`, as cosign's payload names it.
    pub name: String,
    repository: String,
    credential: Option<Credential>,
}

/// The parts of a `WWW-Authenticate` challenge otactl uses.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Challenge {
    /// `Basic` or `Bearer`.
    pub scheme: String,
    /// The token endpoint (Bearer).
    pub realm: Option<String>,
    /// The service the token is for.
    pub service: Option<String>,
}

/// Reads `Bearer realm="…",service="…",scope="…"` (quoted values may hold commas).
pub fn parse_challenge(header: &str) -> Challenge {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut challenge = Challenge {
        scheme: scheme.to_owned(),
        ..Challenge::default()
    };
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            (&quoted[..end], quoted.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        match key.as_str() {
            "realm" => challenge.realm = Some(value.to_owned()),
            "service" => challenge.service = Some(value.to_owned()),
            _ => {}
        }
        rest = tail.trim_start_matches(',').trim();
    }
    challenge
}

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

#[derive(Deserialize)]
struct TagList {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// A manifest as the registry holds it.
#[derive(Clone, Debug)]
pub struct Stored {
    /// Its `Content-Type`.
    pub media_type: String,
    /// `sha256:<hex>` of the bytes (checked against `Docker-Content-Digest`).
    pub digest: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

fn is_loopback(host: &str) -> bool {
    let bare = host
        .rsplit_once(':')
        .filter(|(h, port)| !h.ends_with(']') || port.chars().all(|c| c.is_ascii_digit()))
        .map_or(host, |(h, _)| h);
    let bare = bare.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The error of a registry that answered something unexpected.
fn unexpected(what: &str, url: &url::Url, message: String) -> RemoteError {
    RemoteError::Unreadable {
        what: what.to_owned(),
        url: shown(url),
        message,
    }
}

impl<'a> Registry<'a> {
    /// Connects to the repository `reference` names and logs in as its `/v2/`
    /// challenge asks, for pulling (and pushing, with `push`). Plain HTTP is used for
    /// loopback registries, and elsewhere only with `insecure`.
    pub fn connect(
        client: &'a Client,
        reference: &OciRef,
        insecure: bool,
        push: bool,
    ) -> Result<Registry<'a>, crate::Error> {
        let scheme = if is_loopback(&reference.registry) || insecure {
            "http"
        } else {
            "https"
        };
        let base =
            url::Url::parse(&format!("{scheme}://{}/", reference.registry)).map_err(|e| {
                crate::Error::InvalidArg {
                    flag: "--ref",
                    message: format!("{} is not a registry host: {e}", code(&reference.registry)),
                }
            })?;
        let mut registry = Registry {
            client,
            base,
            name: format!("{}/{}", reference.registry, reference.repository),
            repository: reference.repository.clone(),
            credential: None,
        };
        registry.login(&reference.registry, push)?;
        Ok(registry)
    }

    fn url(&self, path: &str) -> url::Url {
        self.base.join(path).unwrap_or_else(|_| self.base.clone())
    }

    fn repo_url(&self, rest: &str) -> url::Url {
        self.url(&format!("v2/{}/{rest}", self.repository))
    }

    fn request(&self, method: Method, url: url::Url, what: &str) -> Request<'_> {
        Request::new(method, url, what).credential(self.credential.as_ref())
    }

    /// `GET /v2/`; on a 401, the login its challenge asks for.
    fn login(&mut self, host: &str, push: bool) -> Result<(), crate::Error> {
        let ping = self.url("v2/");
        let what = format!("reach the registry {}", code(host));
        let response = self
            .client
            .call_any(&|| Request::new(Method::GET, ping.clone(), &what))?;
        if response.status() != reqwest::StatusCode::UNAUTHORIZED {
            return if response.status().is_success() {
                Ok(())
            } else {
                Err(self.client.error_of(response, None).into())
            };
        }
        let challenge = response
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(parse_challenge)
            .unwrap_or_default();
        let found = auth::find(host).map_err(|e| crate::Error::MissingLogin { message: e.0 })?;
        let credential = if challenge.scheme.eq_ignore_ascii_case("bearer") {
            self.bearer(host, &challenge, found.as_ref(), push)?
        } else {
            let Some(Found {
                login: Login::Password { username, password },
                source,
            }) = found
            else {
                return Err(no_login(host));
            };
            let mut credential = Credential::new(source, password, Scheme::Basic { username });
            credential.allow(&self.base);
            credential
        };
        self.credential = Some(credential);
        // A wrong password shows here, named by where it came from.
        let check = self
            .client
            .call_any(&|| self.request(Method::GET, ping.clone(), &what))?;
        if check.status().is_success() {
            return Ok(());
        }
        let status = check.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            let source = self
                .credential
                .as_ref()
                .map_or_else(String::new, |c| c.source.clone());
            return Err(crate::Error::Remote {
                message: format!(
                    "the registry {} refused the login from {source} ({status}); check the user name and password there, or log in again",
                    code(host)
                ),
            });
        }
        Err(self.client.error_of(check, self.credential.as_ref()).into())
    }

    /// The Bearer flow: a token for this repository from the challenge's realm, asked
    /// with the login (as Basic, or an identity token as a refresh token).
    fn bearer(
        &self,
        host: &str,
        challenge: &Challenge,
        found: Option<&Found>,
        push: bool,
    ) -> Result<Credential, crate::Error> {
        let realm = challenge.realm.as_deref().unwrap_or_default();
        let mut url = url::Url::parse(realm).map_err(|_| {
            unexpected(
                &format!("log in to {}", code(host)),
                &self.base,
                format!("its token endpoint {} is not a URL", code(realm)),
            )
        })?;
        let realm_ok = url.scheme() == "https"
            || (url.scheme() == "http" && url.host_str().is_some_and(is_loopback));
        if !realm_ok {
            return Err(unexpected(
                &format!("log in to {}", code(host)),
                &self.base,
                format!(
                    "its token endpoint {} is not https; otactl sends no password over plain http",
                    code(shown(&url))
                ),
            )
            .into());
        }
        let scope = format!(
            "repository:{}:{}",
            self.repository,
            if push { "pull,push" } else { "pull" }
        );
        let what = format!("get a token for {scope} from {}", code(shown(&url)));
        let source = found.map_or("no login".to_owned(), |f| f.source.clone());
        let answer = match found.map(|f| &f.login) {
            Some(Login::IdentityToken(token)) => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair("grant_type", "refresh_token")
                    .append_pair("client_id", "otactl")
                    .append_pair("scope", &scope)
                    .append_pair("refresh_token", token_text(token));
                if let Some(service) = &challenge.service {
                    form.append_pair("service", service);
                }
                let body = form.finish().into_bytes();
                self.client.call_any(&|| {
                    let mut request = Request::new(Method::POST, url.clone(), &what);
                    request.headers.push((
                        reqwest::header::CONTENT_TYPE,
                        HeaderValue::from_static("application/x-www-form-urlencoded"),
                    ));
                    request.body = Some(Body::Bytes(body.clone()));
                    request
                })?
            }
            login => {
                {
                    let mut query = url.query_pairs_mut();
                    if let Some(service) = &challenge.service {
                        query.append_pair("service", service);
                    }
                    query.append_pair("scope", &scope);
                }
                let basic = match login {
                    Some(Login::Password { username, password }) => {
                        let mut c = Credential::new(
                            source.clone(),
                            Secret::new(token_text(password).to_owned()),
                            Scheme::Basic {
                                username: username.clone(),
                            },
                        );
                        c.allow(&url);
                        Some(c)
                    }
                    _ => None,
                };
                self.client.call_any(&|| {
                    Request::new(Method::GET, url.clone(), &what).credential(basic.as_ref())
                })?
            }
        };
        if !answer.status().is_success() {
            return Err(self.token_refused(host, answer, found));
        }
        let token: TokenAnswer = answer.json()?;
        let token = token
            .token
            .or(token.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unexpected(&what, &url, "no `token` in the answer".into()))?;
        let mut credential = Credential::new(
            format!("the token {host} issued for {source}"),
            Secret::new(token),
            Scheme::Bearer,
        );
        credential.allow(&self.base);
        Ok(credential)
    }

    /// The token endpoint's refusal: without a login, how to log in (exit 2); with one,
    /// where it came from (exit 3).
    fn token_refused(&self, host: &str, answer: Response, found: Option<&Found>) -> crate::Error {
        let status = answer.status();
        let Some(found) = found else {
            if status == reqwest::StatusCode::UNAUTHORIZED
                || status == reqwest::StatusCode::FORBIDDEN
            {
                return no_login(host);
            }
            return self.client.error_of(answer, None).into();
        };
        // Without the advice of a refusal, which is for GitHub's token.
        let e = match self.client.error_of(answer, None) {
            RemoteError::Denied {
                what,
                status,
                url,
                message,
                ..
            } => RemoteError::Status {
                what,
                status,
                url,
                message,
            },
            e => e,
        };
        crate::Error::Remote {
            message: format!(
                "the token endpoint of {} refused the login ({}): {e}; check the user name and password (or log in again)",
                code(host),
                found.source
            ),
        }
    }

    /// The manifest at `reference` (a tag or a digest), or `None` (404).
    pub fn manifest(&self, reference: &str) -> Result<Option<Stored>, RemoteError> {
        let url = self.repo_url(&format!("manifests/{reference}"));
        let what = format!("read the manifest {}:{}", self.name, code(reference));
        let response = match self.client.call(&|| {
            self.request(Method::GET, url.clone(), &what)
                .header(reqwest::header::ACCEPT, image::ACCEPT)
        }) {
            Ok(response) => response,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let media_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let announced = docker_digest(&response);
        let bytes = response.bytes_capped(4 * 1024 * 1024)?;
        let digest = image::digest_of(&bytes);
        if let Some(announced) = announced.filter(|a| *a != digest) {
            return Err(unexpected(
                &what,
                &url,
                format!(
                    "`Docker-Content-Digest` says {}, the bytes hash to {digest}",
                    code(&announced)
                ),
            ));
        }
        Ok(Some(Stored {
            media_type,
            digest,
            bytes,
        }))
    }

    /// Whether the registry holds the blob `digest`.
    pub fn blob_exists(&self, digest: &str) -> Result<bool, RemoteError> {
        let url = self.repo_url(&format!("blobs/{digest}"));
        let what = format!("look for the blob {digest}");
        match self
            .client
            .call(&|| self.request(Method::HEAD, url.clone(), &what))
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Opens an upload session; its `Location`. Retried like an idempotent request
    /// (a 429 waited out): a session left unused expires.
    fn session(&self, what: &str) -> Result<url::Url, RemoteError> {
        let url = self.repo_url("blobs/uploads/");
        let response = self
            .client
            .call(&|| self.request(Method::POST, url.clone(), what).repeatable())?;
        location(&response, &url, what)
    }

    /// Uploads small bytes (a config, a signature payload) unless the registry has
    /// them.
    pub fn push_bytes(&self, bytes: &[u8]) -> Result<String, RemoteError> {
        let digest = image::digest_of(bytes);
        if self.blob_exists(&digest)? {
            return Ok(digest);
        }
        let what = format!("upload the blob {digest}");
        let session = self.session(&what)?;
        let done = with_digest(&session, &digest);
        self.client.call(&|| {
            let mut request = self
                .request(Method::PUT, done.clone(), &what)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream");
            request.body = Some(Body::Bytes(bytes.to_vec()));
            request
        })?;
        Ok(digest)
    }

    /// Uploads `len` bytes of `open()`'s stream in one session (one `PATCH` with the
    /// whole body, then the closing `PUT`), hashing as it goes; returns the digest.
    /// A broken upload starts a new session and streams again from the start.
    pub fn push_stream(
        &self,
        open: &dyn Fn() -> std::io::Result<Box<dyn Read + Send>>,
        len: u64,
        title: &str,
        reporter: &Arc<dyn Reporter>,
    ) -> Result<String, crate::Error> {
        let what = format!("upload {}", code(title));
        let mut last = None;
        for attempt in 1..=self.client.policy.attempts {
            if attempt > 1 {
                // At least as long as a rate limit asked (`Retry-After`).
                let asked = match &last {
                    Some(RemoteError::RateLimited { wait, .. }) => *wait,
                    _ => std::time::Duration::ZERO,
                };
                let pause = self.client.policy.next_pause(None, None) * attempt;
                std::thread::sleep(pause.max(asked));
            }
            let session = self.session(&what)?;
            let source = open().map_err(|source| crate::Error::Read {
                path: title.into(),
                source,
            })?;
            let (body, hashed) = HashedUpload::body(source, len, reporter);
            reporter.start(title, Some(len));
            let mut request = self
                .request(Method::PATCH, session.clone(), &what)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream");
            request.body = Some(body);
            request.timeout = Some(upload_timeout(len));
            let sent = self.client.send_once(request);
            reporter.finish();
            let digest = hashed.sha256();
            let response = match sent {
                Ok(response) if response.status().is_success() => response,
                Ok(response) => {
                    let e = self.client.error_of(response, self.credential.as_ref());
                    let max = self.client.policy.max_rate_wait;
                    let waits = matches!(e, RemoteError::RateLimited { wait, .. } if wait <= max);
                    if !e.is_uncertain() && !waits {
                        return Err(e.into());
                    }
                    last = Some(e);
                    continue;
                }
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            };
            let Some(digest) = digest else {
                return Err(crate::Error::PublishRefused {
                    message: format!(
                        "{} changed while it was uploaded; publish it again",
                        code(title)
                    ),
                });
            };
            let next = location(&response, &session, &what)?;
            let done = with_digest(&next, &format!("sha256:{digest}"));
            self.client
                .call(&|| self.request(Method::PUT, done.clone(), &what))?;
            return Ok(format!("sha256:{digest}"));
        }
        Err(last
            .unwrap_or_else(|| unexpected(&what, &self.base, "no attempt was made".into()))
            .into())
    }

    /// Puts `bytes` as the manifest `reference` (a digest or a tag); the registry's
    /// `Docker-Content-Digest` must be the bytes' own.
    pub fn put_manifest(&self, reference: &str, bytes: &[u8]) -> Result<String, RemoteError> {
        let url = self.repo_url(&format!("manifests/{reference}"));
        let what = format!("put the manifest {}:{}", self.name, code(reference));
        let digest = image::digest_of(bytes);
        let response = self.client.call(&|| {
            let mut request = self
                .request(Method::PUT, url.clone(), &what)
                .header(reqwest::header::CONTENT_TYPE, image::OCI_MANIFEST);
            request.body = Some(Body::Bytes(bytes.to_vec()));
            request
        })?;
        match docker_digest(&response) {
            Some(announced) if announced != digest => Err(unexpected(
                &what,
                &url,
                format!(
                    "the registry says it stored {}, but the manifest's digest is {digest}",
                    code(&announced)
                ),
            )),
            _ => Ok(digest),
        }
    }

    /// The repository's tags (every page, at most [`MAX_TAGS`]); none when the
    /// repository does not exist yet.
    pub fn tags(&self) -> Result<Vec<String>, RemoteError> {
        let mut url = Some(self.repo_url("tags/list"));
        let mut tags = Vec::new();
        let what = format!("list the tags of {}", self.name);
        while let Some(page) = url.take() {
            let response = match self
                .client
                .call(&|| self.request(Method::GET, page.clone(), &what))
            {
                Ok(response) => response,
                Err(e) if e.is_not_found() => return Ok(tags),
                Err(e) => return Err(e),
            };
            let next = response
                .headers()
                .get(reqwest::header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .map(|v| {
                    v.trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_owned()
                })
                .and_then(|v| page.join(&v).ok())
                .filter(|u| u.origin() == self.base.origin());
            let list: TagList = response.json()?;
            tags.extend(list.tags.unwrap_or_default());
            if tags.len() < MAX_TAGS {
                url = next;
            }
        }
        Ok(tags)
    }

    /// The blob `digest` as a stream.
    pub fn blob(&self, digest: &str) -> Result<Response, RemoteError> {
        let url = self.repo_url(&format!("blobs/{digest}"));
        let what = format!("download the blob {digest}");
        self.client
            .call(&|| self.request(Method::GET, url.clone(), &what))
    }
}

fn token_text(secret: &Secret) -> &str {
    secret.expose()
}

fn no_login(host: &str) -> crate::Error {
    crate::Error::MissingLogin {
        message: format!(
            "the registry {} asks for a login; log in with `docker login {host}` (or `oras login`), or set `OTACTL_REGISTRY_USERNAME` and `OTACTL_REGISTRY_PASSWORD`",
            code(host)
        ),
    }
}

/// The `Docker-Content-Digest` of an answer.
fn docker_digest(response: &Response) -> Option<String> {
    response
        .headers()
        .get(HeaderName::from_static("docker-content-digest"))
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
}

/// The `Location` of an upload answer, joined to the request's URL (it may be
/// relative).
fn location(response: &Response, url: &url::Url, what: &str) -> Result<url::Url, RemoteError> {
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| url.join(v).ok())
        .filter(|next| next.origin() == url.origin())
        .ok_or_else(|| unexpected(what, url, "no `Location` on the registry's own host".into()))
}

/// `url` with `digest=` added to the query it may already have.
fn with_digest(url: &url::Url, digest: &str) -> url::Url {
    let mut url = url.clone();
    url.query_pairs_mut().append_pair("digest", digest);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_read_with_quoted_commas() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(c.scheme, "Bearer");
        assert_eq!(c.realm.as_deref(), Some("https://auth.example.com/token"));
        assert_eq!(c.service.as_deref(), Some("registry.example.com"));
        let basic = parse_challenge(r#"Basic realm="otactl-test""#);
        assert_eq!(basic.scheme, "Basic");
    }

    #[test]
    fn loopback_registries_are_known_by_their_host() {
        for host in [
            "127.0.0.1:5000",
            "localhost:5000",
            "[::1]:5000",
            "127.0.0.1",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["registry.example.com", "10.0.0.1:5000", "ghcr.io"] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn the_digest_joins_a_location_that_has_a_query() {
        let base = url::Url::parse("http://127.0.0.1:5000/v2/a/blobs/uploads/").unwrap();
        let next = base.join("/v2/a/blobs/uploads/u1?_state=xyz").unwrap();
        assert_eq!(
            with_digest(&next, "sha256:ab").as_str(),
            "http://127.0.0.1:5000/v2/a/blobs/uploads/u1?_state=xyz&digest=sha256%3Aab"
        );
    }
}
