//! The calls `otactl pr` makes: the repository's default branch, branches through the
//! refs API, one file through the contents API, pull requests
//! (<https://docs.github.com/en/rest/git/refs>, `/repos/contents`, `/pulls/pulls`).

use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use super::{GitHub, PATH_PART, PER_PAGE};
use crate::remote::http::{RemoteError, Request};
use crate::text::code;

/// A pull request, as GitHub describes it.
#[derive(Clone, Debug, Deserialize)]
pub struct Pull {
    /// Its number.
    pub number: u64,
    /// Its page.
    pub html_url: String,
    /// Whether it is a draft.
    #[serde(default)]
    pub draft: bool,
}

#[derive(Deserialize)]
struct RepositoryInfo {
    default_branch: String,
}

#[derive(Deserialize)]
struct Ref {
    object: RefObject,
}

#[derive(Deserialize)]
struct RefObject {
    sha: String,
}

#[derive(Deserialize)]
struct Comparison {
    #[serde(default)]
    commits: Vec<ComparedCommit>,
}

#[derive(Deserialize)]
struct ComparedCommit {
    commit: CommitInfo,
}

#[derive(Deserialize)]
struct CommitInfo {
    message: String,
}

#[derive(Deserialize)]
struct Contents {
    sha: String,
    #[serde(default)]
    content: String,
}

/// A file on a branch: its blob sha (what a contents `PUT` must name) and its bytes.
#[derive(Clone, Debug)]
pub struct FileAt {
    /// The git blob sha.
    pub sha: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// How a contents `PUT` ended.
#[derive(Debug)]
pub enum Put {
    /// Committed.
    Done,
    /// `409`: the file changed on the branch since its sha was read.
    Stale,
}

/// A path with each segment escaped, its `/` kept.
fn escaped_path(path: &str) -> String {
    path.split('/')
        .map(|part| percent_encoding::utf8_percent_encode(part, PATH_PART).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

impl GitHub<'_> {
    fn write(
        &self,
        method: Method,
        url: &url::Url,
        what: &str,
        body: &serde_json::Value,
    ) -> Request<'_> {
        Request::new(method, url.clone(), what)
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .credential(self.token.as_ref())
            .json(body)
    }

    /// The repository's default branch.
    pub fn default_branch(&self) -> Result<String, RemoteError> {
        let url = self.api.url(&format!(
            "repos/{}/{}",
            self.repository.owner, self.repository.name
        ));
        let (_, info) =
            self.get::<RepositoryInfo>(&url, &format!("read the repository {}", self.repository))?;
        Ok(info.default_branch)
    }

    /// The head commit of `branch`, when it exists.
    pub fn branch_head(&self, branch: &str) -> Result<Option<String>, RemoteError> {
        let url = self.repo_path(&format!("git/ref/heads/{}", escaped_path(branch)));
        match self.get::<Ref>(&url, &format!("read the branch {}", code(branch))) {
            Ok((_, found)) => Ok(Some(found.object.sha)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates `branch` at `sha`. Sent once; `Ok(false)` when GitHub says it exists.
    pub fn create_branch(&self, branch: &str, sha: &str) -> Result<bool, RemoteError> {
        let url = self.repo_path("git/refs");
        let body = serde_json::json!({"ref": format!("refs/heads/{branch}"), "sha": sha});
        let what = format!("create the branch {}", code(branch));
        match self
            .client
            .send_once(self.write(Method::POST, &url, &what, &body))
        {
            Ok(response) if response.status().is_success() => Ok(true),
            Ok(response) if response.status() == StatusCode::UNPROCESSABLE_ENTITY => {
                match self.client.error_of(response, self.token.as_ref()) {
                    RemoteError::Status {
                        message: Some(m), ..
                    } if m.contains("already exists") => Ok(false),
                    other => Err(other),
                }
            }
            Ok(response) => Err(self.client.error_of(response, self.token.as_ref())),
            Err(e) => Err(e),
        }
    }

    /// The messages of the commits `head` has beyond `base`, oldest first.
    pub fn commits_beyond(&self, base: &str, head: &str) -> Result<Vec<String>, RemoteError> {
        let url = self.repo_path(&format!(
            "compare/{}...{}",
            escaped_path(base),
            escaped_path(head)
        ));
        let what = format!("compare {} with {}", code(head), code(base));
        let (_, comparison) = self.get::<Comparison>(&url, &what)?;
        Ok(comparison
            .commits
            .into_iter()
            .map(|c| c.commit.message)
            .collect())
    }

    /// The file at `path` on `branch`, when it is there.
    pub fn file(&self, path: &str, branch: &str) -> Result<Option<FileAt>, RemoteError> {
        let mut url = self.repo_path(&format!("contents/{}", escaped_path(path)));
        url.query_pairs_mut().append_pair("ref", branch);
        let what = format!("read {} on {}", code(path), code(branch));
        match self.get::<Contents>(&url, &what) {
            Ok((_, contents)) => {
                let packed: String = contents.content.split_whitespace().collect();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(packed)
                    .map_err(|e| RemoteError::Unreadable {
                        what,
                        url: crate::remote::http::shown(&url),
                        message: format!("the content is not base64: {e}"),
                    })?;
                Ok(Some(FileAt {
                    sha: contents.sha,
                    bytes,
                }))
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Commits `bytes` as `path` on `branch`, replacing the blob `sha` (none for a new
    /// file). Conditional on `sha`, so it is retried like an idempotent request.
    pub fn put_file(
        &self,
        path: &str,
        branch: &str,
        bytes: &[u8],
        message: &str,
        sha: Option<&str>,
    ) -> Result<Put, RemoteError> {
        let url = self.repo_path(&format!("contents/{}", escaped_path(path)));
        let mut body = serde_json::json!({
            "message": message,
            "content": base64::engine::general_purpose::STANDARD.encode(bytes),
            "branch": branch,
        });
        if let Some(sha) = sha {
            body["sha"] = sha.into();
        }
        let what = format!("commit {} to {}", code(path), code(branch));
        match self
            .client
            .call(&|| self.write(Method::PUT, &url, &what, &body))
        {
            Ok(_) => Ok(Put::Done),
            Err(RemoteError::Status { status, .. }) if status == StatusCode::CONFLICT => {
                Ok(Put::Stale)
            }
            Err(e) => Err(e),
        }
    }

    /// The open pull requests whose head is `branch` of this repository.
    pub fn open_pulls(&self, branch: &str) -> Result<Vec<Pull>, RemoteError> {
        let mut url = self.repo_path("pulls");
        url.query_pairs_mut()
            .append_pair("head", &format!("{}:{branch}", self.repository.owner))
            .append_pair("state", "open")
            .append_pair("per_page", &PER_PAGE.to_string());
        self.pages(url, &format!("list the pull requests of {}", code(branch)))
    }

    /// Opens a pull request. Sent once: the caller looks for it before sending again.
    pub fn create_pull(
        &self,
        title: &str,
        head: &str,
        base: &str,
        body: &str,
        draft: bool,
    ) -> Result<Pull, RemoteError> {
        let url = self.repo_path("pulls");
        let json = serde_json::json!({
            "title": title, "head": head, "base": base, "body": body, "draft": draft,
        });
        let what = format!("open a pull request from {} to {}", code(head), code(base));
        let response = self
            .client
            .send_once(self.write(Method::POST, &url, &what, &json))?;
        if response.status().is_success() {
            response.json()
        } else {
            Err(self.client.error_of(response, self.token.as_ref()))
        }
    }

    /// Sets a pull request's title and body (its draft state stays).
    pub fn update_pull(&self, number: u64, title: &str, body: &str) -> Result<Pull, RemoteError> {
        let url = self.repo_path(&format!("pulls/{number}"));
        let json = serde_json::json!({"title": title, "body": body});
        let what = format!("update the pull request #{number}");
        self.client
            .call_json(&|| self.write(Method::PATCH, &url, &what, &json))
            .map(|(_, pull)| pull)
    }
}
