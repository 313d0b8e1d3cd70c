//! GitHub's REST API for releases (<https://docs.github.com/en/rest/releases>), over
//! the shared [`Client`]: the calls `publish github` and `verify` make, each a
//! function that returns GitHub's answer as a struct that ignores unknown fields.
//!
//! Not octocrab: it is async-only on a second HTTP stack, its `upload_asset` holds the
//! whole file in memory, and its retry re-sends any request, `POST` included.

use std::io::Read;
use std::sync::Arc;

use reqwest::Method;
use serde::Deserialize;

mod pulls;

pub use pulls::{FileAt, Pull, Put};

use crate::progress::Reporter;
use crate::remote::http::{
    Client, Credential, HashedUpload, RemoteError, Request, Response, Scheme, Secret,
    upload_timeout,
};
use crate::text::code;

/// GitHub's public API.
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// GitHub refuses assets of this size and more.
pub const MAX_ASSET_SIZE: u64 = 1 << 31;
/// A release holds at most this many assets.
pub const MAX_ASSETS: usize = 1000;
/// What the API returns per page at most.
const PER_PAGE: u32 = 100;
/// Pages of releases read at most when looking for a tag (10,000 releases).
const MAX_PAGES: u32 = 100;

/// `OWNER/REPO`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repository {
    /// The owner (user or organisation).
    pub owner: String,
    /// The repository's name.
    pub name: String,
}

impl std::fmt::Display for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

fn is_name_part(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl std::str::FromStr for Repository {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('/') {
            Some((owner, name)) if is_name_part(owner) && is_name_part(name) => Ok(Repository {
                owner: owner.to_owned(),
                name: name.to_owned(),
            }),
            _ => Err(format!(
                "{} is not `OWNER/REPO` (letters, digits, `-`, `_` and `.` on each side of one `/`)",
                code(s)
            )),
        }
    }
}

impl Repository {
    /// Whether this is `other`, as GitHub compares names (case-insensitive).
    pub fn is(&self, other: &Repository) -> bool {
        self.owner.eq_ignore_ascii_case(&other.owner) && self.name.eq_ignore_ascii_case(&other.name)
    }

    /// The repository a git remote URL names on `web_host` (`https://HOST/O/R.git`,
    /// `git@HOST:O/R.git`, `ssh://git@HOST/O/R`), as `gh` reads `origin`.
    pub fn from_remote_url(remote: &str, web_host: &str) -> Option<Repository> {
        let remote = remote.trim();
        let path = if let Some(rest) = remote.strip_prefix("git@").filter(|r| !r.contains("://")) {
            let (host, path) = rest.split_once(':')?;
            host.eq_ignore_ascii_case(web_host)
                .then_some(path.to_owned())?
        } else {
            let url = url::Url::parse(remote).ok()?;
            let host = match url.port() {
                Some(port) => format!("{}:{port}", url.host_str()?),
                None => url.host_str()?.to_owned(),
            };
            let same = host.eq_ignore_ascii_case(web_host)
                || url.host_str()?.eq_ignore_ascii_case(web_host);
            same.then(|| url.path().trim_start_matches('/').to_owned())?
        };
        let path = path.trim_end_matches('/');
        let path = path.strip_suffix(".git").unwrap_or(path);
        path.parse().ok()
    }
}

/// The API's base URL and what follows from it.
#[derive(Clone, Debug)]
pub struct Api {
    base: url::Url,
}

impl Api {
    /// Checks an API base URL: `https://`, or `http://` on a loopback host (or any
    /// host with `insecure`), without user, query or fragment.
    pub fn parse(text: &str, insecure: bool) -> Result<Api, String> {
        let mut base = url::Url::parse(text.trim())
            .map_err(|e| format!("{} is not a URL: {e}", code(text)))?;
        let loopback = match base.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        match base.scheme() {
            "https" => {}
            "http" if loopback || insecure => {}
            "http" => {
                return Err(format!(
                    "{} uses plain http; use https (http is accepted for loopback hosts, or with `--insecure`)",
                    code(text)
                ));
            }
            _ => return Err(format!("{} is not an `https://` URL", code(text))),
        }
        if base.host_str().is_none() || base.cannot_be_a_base() {
            return Err(format!("{} names no host", code(text)));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err("the API URL must not carry a user name or password; the token comes from `GH_TOKEN` or `GITHUB_TOKEN`".into());
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(format!("{} must not have a query or fragment", code(text)));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(Api { base })
    }

    /// The base URL as given.
    pub fn base(&self) -> &url::Url {
        &self.base
    }

    /// The web host releases are downloaded from: `github.com` for the public API,
    /// else the API's own host and port (GitHub Enterprise, test servers).
    pub fn web_host(&self) -> String {
        let host = self.base.host_str().unwrap_or_default();
        if host.eq_ignore_ascii_case("api.github.com") {
            return "github.com".into();
        }
        match self.base.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }

    fn url(&self, path: &str) -> url::Url {
        // Paths are built from checked parts; `join` keeps the base's own path
        // (`/api/v3/` on Enterprise).
        self.base.join(path).unwrap_or_else(|_| self.base.clone())
    }

    /// The release asset `url` names when it is a GitHub download link on this API's
    /// web host: `…/OWNER/REPO/releases/download/TAG/NAME`.
    pub fn release_asset(&self, url: &url::Url) -> Option<ReleaseAsset> {
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str()?),
            None => url.host_str()?.to_owned(),
        };
        if !host.eq_ignore_ascii_case(&self.web_host()) {
            return None;
        }
        let segments = crate::checklist::decoded_segments(url)?;
        match segments.as_slice() {
            [owner, name, releases, download, tag, asset]
                if releases == "releases" && download == "download" =>
            {
                Some(ReleaseAsset {
                    repository: format!("{owner}/{name}").parse().ok()?,
                    tag: tag.clone(),
                    name: asset.clone(),
                })
            }
            _ => None,
        }
    }

    /// Whether the token may go to `upload`: the API's own host (GitHub Enterprise's
    /// `…/api/uploads/`, test servers on another port), or `uploads.github.com` for the
    /// public API; over https, or http on a loopback host.
    fn upload_host_ok(&self, upload: &url::Url) -> bool {
        let api_host = self.base.host_str().unwrap_or_default();
        let host = upload.host_str().unwrap_or_default();
        let same = host.eq_ignore_ascii_case(api_host)
            || (api_host.eq_ignore_ascii_case("api.github.com")
                && host.eq_ignore_ascii_case("uploads.github.com"));
        let scheme_ok = upload.scheme() == "https"
            || (upload.scheme() == "http" && self.base.scheme() == "http");
        same && scheme_ok
    }
}

/// A release asset named by a download link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseAsset {
    /// The repository in the link.
    pub repository: Repository,
    /// The release tag.
    pub tag: String,
    /// The asset's name.
    pub name: String,
}

/// The token: `GH_TOKEN`, then `GITHUB_TOKEN` (as `gh` reads them); empty is unset.
pub fn token_from_env() -> Option<Credential> {
    ["GH_TOKEN", "GITHUB_TOKEN"].into_iter().find_map(|var| {
        let value = std::env::var(var).ok().filter(|v| !v.trim().is_empty())?;
        Some(Credential::new(
            var,
            Secret::new(value.trim().to_owned()),
            Scheme::Bearer,
        ))
    })
}

/// A release, as GitHub describes it (unknown fields ignored).
#[derive(Clone, Debug, Deserialize)]
pub struct Release {
    /// The id.
    pub id: u64,
    /// The tag.
    pub tag_name: String,
    /// A draft is seen only with write access, and not by the tag endpoint.
    #[serde(default)]
    pub draft: bool,
    /// Published immutable releases accept no new asset.
    #[serde(default)]
    pub immutable: bool,
    /// `https://uploads.github.com/repos/O/R/releases/ID/assets{?name,label}`.
    pub upload_url: String,
    /// The assets (GitHub lists a few here; [`GitHub::assets`] pages through all).
    #[serde(default)]
    pub assets: Vec<Asset>,
}

/// A release asset, as GitHub describes it.
#[derive(Clone, Debug, Deserialize)]
pub struct Asset {
    /// The id.
    pub id: u64,
    /// The file name.
    pub name: String,
    /// `uploaded`, or `starter` when an upload failed midway.
    pub state: String,
    /// Bytes.
    #[serde(default)]
    pub size: u64,
    /// `sha256:<hex>`; `null` on assets uploaded before mid-2025.
    #[serde(default)]
    pub digest: Option<String>,
    /// The download link.
    pub browser_download_url: String,
}

impl Asset {
    /// The SHA-256 in `digest`, lowercase hex.
    pub fn sha256(&self) -> Option<String> {
        self.digest
            .as_deref()
            .and_then(|d| d.strip_prefix("sha256:"))
            .map(str::to_ascii_lowercase)
    }

    /// Whether it is whole (not left `starter` by a broken upload).
    pub fn is_uploaded(&self) -> bool {
        self.state == "uploaded"
    }
}

/// The GitHub repository releases go to, over the shared client.
pub struct GitHub<'a> {
    client: &'a Client,
    api: Api,
    /// The repository.
    pub repository: Repository,
    token: Option<Credential>,
}

impl<'a> GitHub<'a> {
    /// A repository on `api`, with `token` for the API host (and upload hosts, once
    /// checked).
    pub fn new(
        client: &'a Client,
        api: Api,
        repository: Repository,
        mut token: Option<Credential>,
    ) -> GitHub<'a> {
        if let Some(token) = &mut token {
            token.allow(api.base());
        }
        GitHub {
            client,
            api,
            repository,
            token,
        }
    }

    /// The token, if any.
    pub fn token(&self) -> Option<&Credential> {
        self.token.as_ref()
    }

    fn repo_path(&self, rest: &str) -> url::Url {
        self.api.url(&format!(
            "repos/{}/{}/{rest}",
            self.repository.owner, self.repository.name
        ))
    }

    /// A GET of the API's JSON, its headers too.
    fn get<T: serde::de::DeserializeOwned>(
        &self,
        url: &url::Url,
        what: &str,
    ) -> Result<(reqwest::header::HeaderMap, T), RemoteError> {
        self.client.call_json(&|| {
            Request::new(Method::GET, url.clone(), what)
                .header(reqwest::header::ACCEPT, "application/vnd.github+json")
                .header(
                    reqwest::header::HeaderName::from_static("x-github-api-version"),
                    "2022-11-28",
                )
                .credential(self.token.as_ref())
        })
    }

    /// Every item of a paginated list, following `Link: rel="next"` on the API host.
    fn pages<T: serde::de::DeserializeOwned>(
        &self,
        first: url::Url,
        what: &str,
    ) -> Result<Vec<T>, RemoteError> {
        let mut items = Vec::new();
        let mut next = Some(first);
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            let (headers, page) = self.get::<Vec<T>>(&url, what)?;
            let link = headers
                .get(reqwest::header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_link)
                .and_then(|u| url::Url::parse(&u).ok())
                .filter(|u| u.origin() == self.api.base().origin());
            items.extend(page);
            if pages < MAX_PAGES {
                next = link;
            }
        }
        Ok(items)
    }

    /// Every release with `tag`, drafts included (the tag endpoint finds published
    /// releases only).
    pub fn releases_with_tag(&self, tag: &str) -> Result<Vec<Release>, RemoteError> {
        let mut url = self.repo_path("releases");
        url.set_query(Some(&format!("per_page={PER_PAGE}")));
        let all: Vec<Release> =
            self.pages(url, &format!("list the releases of {}", self.repository))?;
        Ok(all.into_iter().filter(|r| r.tag_name == tag).collect())
    }

    /// The published release with `tag`, if any.
    pub fn published_release(&self, tag: &str) -> Result<Option<Release>, RemoteError> {
        let tag_path = percent_encoding::utf8_percent_encode(tag, PATH_PART).to_string();
        let url = self.repo_path(&format!("releases/tags/{tag_path}"));
        match self.get(
            &url,
            &format!("read the release {} of {}", code(tag), self.repository),
        ) {
            Ok((_, release)) => Ok(Some(release)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The release `id`.
    pub fn release(&self, id: u64) -> Result<Release, RemoteError> {
        let url = self.repo_path(&format!("releases/{id}"));
        self.get(
            &url,
            &format!("read the release {id} of {}", self.repository),
        )
        .map(|(_, release)| release)
    }

    /// Every asset of the release `id`.
    pub fn assets(&self, id: u64) -> Result<Vec<Asset>, RemoteError> {
        let mut url = self.repo_path(&format!("releases/{id}/assets"));
        url.set_query(Some(&format!("per_page={PER_PAGE}")));
        self.pages(url, &format!("list the assets of release {id}"))
    }

    /// Creates a draft release. Sent once: the caller looks for the release before
    /// sending it again.
    pub fn create_draft(
        &self,
        tag: &str,
        title: &str,
        target: Option<&str>,
    ) -> Result<Release, RemoteError> {
        let mut body = serde_json::json!({"tag_name": tag, "name": title, "draft": true});
        if let Some(target) = target {
            body["target_commitish"] = target.into();
        }
        let url = self.repo_path("releases");
        self.client
            .call(&|| {
                Request::new(
                    Method::POST,
                    url.clone(),
                    format!("create the release {} of {}", code(tag), self.repository),
                )
                .header(reqwest::header::ACCEPT, "application/vnd.github+json")
                .credential(self.token.as_ref())
                .json(&body)
            })?
            .json()
    }

    /// Publishes the draft `id` (idempotent: retried by the policy).
    pub fn publish(&self, id: u64) -> Result<Release, RemoteError> {
        let url = self.repo_path(&format!("releases/{id}"));
        let body = serde_json::json!({"draft": false});
        self.client
            .call(&|| {
                Request::new(
                    Method::PATCH,
                    url.clone(),
                    format!("publish the release {id}"),
                )
                .header(reqwest::header::ACCEPT, "application/vnd.github+json")
                .credential(self.token.as_ref())
                .json(&body)
            })?
            .json()
    }

    /// Deletes the asset `id`; one already gone is success.
    pub fn delete_asset(&self, id: u64) -> Result<(), RemoteError> {
        let url = self.repo_path(&format!("releases/assets/{id}"));
        match self.client.call(&|| {
            Request::new(
                Method::DELETE,
                url.clone(),
                format!("delete the asset {id}"),
            )
            .credential(self.token.as_ref())
        }) {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The asset `id`'s bytes through the API (`Accept: application/octet-stream`):
    /// a 200, or a redirect to a signed URL on another host, which gets no token.
    pub fn download_asset(&self, id: u64) -> Result<Response, RemoteError> {
        let url = self.repo_path(&format!("releases/assets/{id}"));
        self.client.call(&|| {
            Request::new(Method::GET, url.clone(), format!("download the asset {id}"))
                .header(reqwest::header::ACCEPT, "application/octet-stream")
                .credential(self.token.as_ref())
        })
    }

    /// Uploads `len` bytes of `file` as `name` to `release`, streamed, hashing as it
    /// goes. Sent once; the caller settles a failure by reading the assets again.
    pub fn upload(
        &self,
        release: &Release,
        name: &str,
        file: impl Read + Send + 'static,
        len: u64,
        reporter: &Arc<dyn Reporter>,
    ) -> Upload {
        let Some(mut url) = self.upload_url(release) else {
            return Upload {
                result: Err(UploadError::Host(code(&release.upload_url))),
                sha256: None,
            };
        };
        url.query_pairs_mut().clear().append_pair("name", name);
        let (body, hashed) = HashedUpload::body(file, len, reporter);
        reporter.start(name, Some(len));
        let mut request = Request::new(
            Method::POST,
            url,
            format!("upload {} to release {}", code(name), release.id),
        )
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .header(reqwest::header::ACCEPT, "application/vnd.github+json")
        .credential(self.token.as_ref());
        request.body = Some(body);
        request.timeout = Some(upload_timeout(len));
        let sent = self.client.send_once(request);
        reporter.finish();
        let sha256 = hashed.sha256();
        let result = match sent {
            Err(e) => Err(UploadError::Remote(e)),
            Ok(response) if response.status().is_success() => {
                response.json::<Asset>().map_err(UploadError::Remote)
            }
            Ok(response) if response.status() == reqwest::StatusCode::UNPROCESSABLE_ENTITY => Err(
                UploadError::Rejected(self.client.error_of(response, self.token.as_ref())),
            ),
            Ok(response) => Err(UploadError::Remote(
                self.client.error_of(response, self.token.as_ref()),
            )),
        };
        Upload { result, sha256 }
    }

    /// The release's upload URL without its `{?name,label}` template, when the token
    /// may go there.
    fn upload_url(&self, release: &Release) -> Option<url::Url> {
        let base = release.upload_url.split('{').next().unwrap_or_default();
        let url = url::Url::parse(base).ok()?;
        self.api.upload_host_ok(&url).then_some(url)
    }

    /// Allows the token to go to the upload host of `release` (checked).
    pub fn allow_upload_host(&mut self, release: &Release) -> Result<(), String> {
        let url = self.upload_url(release).ok_or_else(|| {
            format!(
                "the release's upload URL {} is not on the API's host; otactl sends the token to the API and upload hosts only",
                code(&release.upload_url)
            )
        })?;
        if let Some(token) = &mut self.token {
            token.allow(&url);
        }
        Ok(())
    }
}

/// How an upload ended.
pub struct Upload {
    /// The asset, or why not.
    pub result: Result<Asset, UploadError>,
    /// The SHA-256 of what was sent, when all of it was read from the file.
    pub sha256: Option<String>,
}

/// Why an upload did not return an asset.
#[derive(Debug)]
pub enum UploadError {
    /// `422`: GitHub refused it (`already_exists`, an immutable release…).
    Rejected(RemoteError),
    /// Any other failure: the upload may or may not have taken effect.
    Remote(RemoteError),
    /// The upload URL is on a host the token must not go to.
    Host(String),
}

/// What of a path segment is escaped: everything but unreserved characters.
const PATH_PART: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The `rel="next"` URL of a `Link` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == "rel=\"next\"")
            .then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_are_read_from_remotes_as_gh_reads_them() {
        let want = Some(Repository {
            owner: "CaiserSz".into(),
            name: "evse-ota".into(),
        });
        for remote in [
            "https://github.com/CaiserSz/evse-ota.git",
            "https://github.com/CaiserSz/evse-ota",
            "git@github.com:CaiserSz/evse-ota.git",
            "ssh://git@github.com/CaiserSz/evse-ota.git",
            "https://GitHub.com/CaiserSz/evse-ota/",
        ] {
            assert_eq!(
                Repository::from_remote_url(remote, "github.com"),
                want,
                "{remote}"
            );
        }
        for other in [
            "https://gitlab.com/CaiserSz/evse-ota.git",
            "https://github.com/CaiserSz",
            "/srv/git/evse-ota.git",
            "https://github.com/a/b/c",
        ] {
            assert_eq!(
                Repository::from_remote_url(other, "github.com"),
                None,
                "{other}"
            );
        }
        assert_eq!(
            Repository::from_remote_url("http://127.0.0.1:4000/acme/fw.git", "127.0.0.1:4000"),
            "acme/fw".parse().ok()
        );
    }

    #[test]
    fn a_repository_is_owner_slash_name() {
        assert!("acme/firmware".parse::<Repository>().is_ok());
        for bad in ["acme", "acme/", "/fw", "a/b/c", "a b/c", "../x", "a/.."] {
            assert!(bad.parse::<Repository>().is_err(), "{bad}");
        }
        let a: Repository = "Acme/FW".parse().unwrap();
        assert!(a.is(&"acme/fw".parse().unwrap()));
    }

    #[test]
    fn download_links_are_recognised_on_the_web_host_only() {
        let public = Api::parse(DEFAULT_API_URL, false).unwrap();
        assert_eq!(public.web_host(), "github.com");
        let url = url::Url::parse("https://github.com/o/r/releases/download/20260115-1614-9121078/evse-src-20260115-1614-9121078.tar.gz").unwrap();
        let asset = public.release_asset(&url).unwrap();
        assert_eq!(asset.repository.to_string(), "o/r");
        assert_eq!(asset.tag, "20260115-1614-9121078");
        for other in [
            "https://example.com/o/r/releases/download/t/a",
            "https://github.com/o/r/releases/tag/t",
            "https://github.com/x/o/r/releases/download/t/a",
        ] {
            assert_eq!(
                public.release_asset(&url::Url::parse(other).unwrap()),
                None,
                "{other}"
            );
        }
        let enterprise = Api::parse("https://ghe.example.com/api/v3", false).unwrap();
        assert_eq!(enterprise.web_host(), "ghe.example.com");
        assert_eq!(
            enterprise.url("repos/o/r/releases").as_str(),
            "https://ghe.example.com/api/v3/repos/o/r/releases"
        );
        let local = Api::parse("http://127.0.0.1:4000", false).unwrap();
        assert!(
            local
                .release_asset(
                    &url::Url::parse("http://127.0.0.1:4000/o/r/releases/download/t/a").unwrap()
                )
                .is_some()
        );
        assert!(
            local
                .release_asset(
                    &url::Url::parse("http://127.0.0.1:4001/o/r/releases/download/t/a").unwrap()
                )
                .is_none()
        );
    }

    #[test]
    fn api_urls_are_https_or_loopback() {
        assert!(Api::parse("http://api.example.com", false).is_err());
        assert!(Api::parse("http://api.example.com", true).is_ok());
        assert!(Api::parse("https://u:p@api.example.com", false).is_err());
        assert!(Api::parse("ftp://api.example.com", false).is_err());
        assert!(Api::parse("http://localhost:9/", false).is_ok());
    }

    #[test]
    fn the_token_goes_to_the_api_and_its_upload_host_only() {
        let public = Api::parse(DEFAULT_API_URL, false).unwrap();
        let ok = |api: &Api, u: &str| api.upload_host_ok(&url::Url::parse(u).unwrap());
        assert!(ok(
            &public,
            "https://uploads.github.com/repos/o/r/releases/1/assets"
        ));
        assert!(!ok(
            &public,
            "https://evil.example.com/repos/o/r/releases/1/assets"
        ));
        assert!(!ok(
            &public,
            "http://uploads.github.com/repos/o/r/releases/1/assets"
        ));
        let ghe = Api::parse("https://ghe.example.com/api/v3", false).unwrap();
        assert!(ok(
            &ghe,
            "https://ghe.example.com/api/uploads/repos/o/r/releases/1/assets"
        ));
    }

    #[test]
    fn the_next_page_comes_from_the_link_header() {
        let link = "<https://api.github.com/repositories/1/releases?per_page=100&page=2>; rel=\"next\", <https://api.github.com/repositories/1/releases?per_page=100&page=5>; rel=\"last\"";
        assert_eq!(
            next_link(link).as_deref(),
            Some("https://api.github.com/repositories/1/releases?per_page=100&page=2")
        );
        assert_eq!(next_link("<https://x/?page=1>; rel=\"prev\""), None);
    }
}
