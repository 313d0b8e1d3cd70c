//! The git repositories of the local GitHub server, answering as GitHub documents:
//! the repository (<https://docs.github.com/en/rest/repos/repos#get-a-repository>),
//! branch refs (<https://docs.github.com/en/rest/git/refs>), the comparison of two
//! commits (<https://docs.github.com/en/rest/commits/commits#compare-two-commits>),
//! files read and written (<https://docs.github.com/en/rest/repos/contents>) and pull
//! requests (<https://docs.github.com/en/rest/pulls/pulls>).
//!
//! A repository has a default branch, branches (name → commit) and commits, each with
//! at most one parent (the contents API makes no merges) and its whole tree (path →
//! bytes). Blob shas are git's own (`git hash-object`: SHA-1 of `blob <len>\0` and
//! the bytes); a commit's sha is 40 hex digits of its parent, message and tree. Only
//! branches are modelled, not tags. Pull requests are numbered from 1 in each
//! repository, and only from a branch of the same repository.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write as _;
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::{Answer, GitHubServer, Req, Route, Shared, State, paginate};
use crate::support::keys::hex;
use crate::support::{GIT_DATE, require_tool};

/// A commit: its parent, its message and its whole tree.
#[derive(Clone, Debug)]
pub struct Commit {
    pub sha: String,
    pub parent: Option<String>,
    pub message: String,
    /// Every file: path → bytes.
    pub tree: BTreeMap<String, Vec<u8>>,
    /// Every file's blob sha, as git computes it.
    pub blobs: BTreeMap<String, String>,
}

/// A pull request, as the server holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pull {
    pub number: u64,
    /// The head branch (of the same repository).
    pub head: String,
    /// The base branch.
    pub base: String,
    pub title: String,
    /// `""` when none was given.
    pub body: String,
    pub draft: bool,
    /// `open` or `closed`.
    pub state: String,
    /// `http://127.0.0.1:API_PORT/OWNER/REPO/pull/NUMBER`.
    pub html_url: String,
}

/// A repository: branches, commits and pull requests.
pub(super) struct GitRepo {
    default_branch: String,
    branches: BTreeMap<String, String>,
    commits: HashMap<String, Commit>,
    /// Oldest first.
    pulls: Vec<Pull>,
}

impl GitRepo {
    /// The commit a branch name or a full sha names.
    fn resolve(&self, name: &str) -> Option<&Commit> {
        let sha = self.branches.get(name).map_or(name, String::as_str);
        self.commits.get(sha)
    }

    /// The commit `sha` and its ancestors, newest first.
    fn history(&self, sha: &str) -> Vec<&Commit> {
        let mut line = Vec::new();
        let mut next = self.commits.get(sha);
        while let Some(commit) = next {
            line.push(commit);
            next = commit.parent.as_deref().and_then(|p| self.commits.get(p));
        }
        line
    }

    /// Commits `tree` with `message` on `branch` (made when missing); returns the
    /// commit.
    fn commit(&mut self, branch: &str, tree: BTreeMap<String, Vec<u8>>, message: &str) -> Commit {
        let parent = self.branches.get(branch).cloned();
        let before = parent.as_deref().and_then(|p| self.commits.get(p));
        let blobs: BTreeMap<String, String> = tree
            .iter()
            .map(|(path, bytes)| {
                let kept = before
                    .filter(|c| c.tree.get(path) == Some(bytes))
                    .and_then(|c| c.blobs.get(path).cloned());
                (path.clone(), kept.unwrap_or_else(|| blob_sha(bytes)))
            })
            .collect();
        let mut id = Sha256::new();
        id.update(format!("{parent:?}\0{message}\0{blobs:?}"));
        let sha = hex(&id.finalize())[..40].to_owned();
        let commit = Commit {
            sha: sha.clone(),
            parent,
            message: message.to_owned(),
            tree,
            blobs,
        };
        self.commits.insert(sha.clone(), commit.clone());
        self.branches.insert(branch.to_owned(), sha);
        commit
    }

    /// Commits on `branch` its tree with `path` set to `bytes`.
    fn commit_file(&mut self, branch: &str, path: &str, bytes: Vec<u8>, message: &str) -> Commit {
        let mut tree = self
            .resolve(branch)
            .map(|c| c.tree.clone())
            .unwrap_or_default();
        tree.insert(path.to_owned(), bytes);
        self.commit(branch, tree, message)
    }

    /// The commits `head` has beyond `base` (oldest first), how many `base` has beyond
    /// `head`, and their merge base; `None` without a common ancestor.
    fn compare(&self, base: &str, head: &str) -> Option<(Vec<&Commit>, usize, &Commit)> {
        let base_line = self.history(&self.resolve(base)?.sha);
        let head_line = self.history(&self.resolve(head)?.sha);
        let at = head_line
            .iter()
            .position(|c| base_line.iter().any(|b| b.sha == c.sha))?;
        let merge_base = head_line[at];
        let behind = base_line.iter().position(|b| b.sha == merge_base.sha)?;
        let mut ahead = head_line[..at].to_vec();
        ahead.reverse();
        Some((ahead, behind, merge_base))
    }
}

/// The blob sha git gives `bytes` (`git hash-object --stdin`).
fn blob_sha(bytes: &[u8]) -> String {
    require_tool("git");
    let mut child = Command::new("git")
        .args(["hash-object", "--stdin"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "git hash-object failed");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// 40 hex digits standing for a tree: a digest of its paths and blobs.
fn tree_sha(commit: &Commit) -> String {
    hex(&Sha256::digest(format!("{:?}", commit.blobs)))[..40].to_owned()
}

/// Base64 as GitHub sends a file's `content`: a line break after every 60 characters
/// and at the end.
fn base64_lines(bytes: &[u8]) -> String {
    let flat = STANDARD.encode(bytes);
    let mut out = String::with_capacity(flat.len() + flat.len() / 60 + 1);
    for line in flat.as_bytes().chunks(60) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out
}

impl GitHubServer {
    /// Adds the repository `repo` (`owner/name`) whose `default_branch` holds one
    /// commit of `files` (path, bytes); returns that commit's sha.
    pub fn add_repo(&self, repo: &str, default_branch: &str, files: &[(&str, &[u8])]) -> String {
        let mut git = GitRepo {
            default_branch: default_branch.to_owned(),
            branches: BTreeMap::new(),
            commits: HashMap::new(),
            pulls: Vec::new(),
        };
        let tree = files
            .iter()
            .map(|(path, bytes)| ((*path).to_owned(), bytes.to_vec()))
            .collect();
        let commit = git.commit(default_branch, tree, "Initial commit");
        let mut state = self.shared.state.lock().unwrap();
        let old = state.repos.insert(repo.to_owned(), git);
        assert!(old.is_none(), "the repository {repo} exists already");
        commit.sha
    }

    /// Makes `branch` point where `from` (a branch or a commit sha) does; returns that
    /// sha.
    pub fn add_branch(&self, repo: &str, branch: &str, from: &str) -> String {
        self.with_repo(repo, |git| {
            let sha = git
                .resolve(from)
                .unwrap_or_else(|| panic!("no branch or commit {from} in {repo}"))
                .sha
                .clone();
            git.branches.insert(branch.to_owned(), sha.clone());
            sha
        })
    }

    /// Commits `bytes` at `path` on the existing `branch` behind every client's back,
    /// as a push would; returns the commit's sha.
    pub fn commit_file(
        &self,
        repo: &str,
        branch: &str,
        path: &str,
        bytes: &[u8],
        message: &str,
    ) -> String {
        self.with_repo(repo, |git| {
            assert!(git.branches.contains_key(branch), "no branch {branch}");
            git.commit_file(branch, path, bytes.to_vec(), message).sha
        })
    }

    /// The commit `branch` points at.
    pub fn branch_head(&self, repo: &str, branch: &str) -> Option<String> {
        self.with_repo(repo, |git| git.branches.get(branch).cloned())
    }

    /// The bytes of `path` at the head of `branch`.
    pub fn file_at(&self, repo: &str, branch: &str, path: &str) -> Option<Vec<u8>> {
        self.with_repo(repo, |git| {
            let head = git.branches.get(branch)?;
            git.commits[head].tree.get(path).cloned()
        })
    }

    /// The commits of `branch` down to the first, newest first: (sha, message).
    pub fn commits_on(&self, repo: &str, branch: &str) -> Vec<(String, String)> {
        self.with_repo(repo, |git| {
            let Some(head) = git.branches.get(branch) else {
                return Vec::new();
            };
            git.history(head)
                .into_iter()
                .map(|c| (c.sha.clone(), c.message.clone()))
                .collect()
        })
    }

    /// The pull requests of `repo`, oldest first.
    pub fn pulls(&self, repo: &str) -> Vec<Pull> {
        self.with_repo(repo, |git| git.pulls.clone())
    }

    fn with_repo<T>(&self, repo: &str, f: impl FnOnce(&mut GitRepo) -> T) -> T {
        let mut state = self.shared.state.lock().unwrap();
        let git = state
            .repos
            .get_mut(repo)
            .unwrap_or_else(|| panic!("no repository {repo} on the server"));
        f(git)
    }
}

/// One request to a repository route.
struct Ctx<'a> {
    /// `owner/repo`.
    full_name: String,
    owner: &'a str,
    /// `http://127.0.0.1:API_PORT`.
    api: String,
    seg: &'a [String],
    req: &'a Req,
    body: &'a [u8],
}

impl Ctx<'_> {
    /// The path segments from the `from`-th on, joined: a branch or file path.
    fn rest(&self, from: usize) -> String {
        self.seg[from..].join("/")
    }

    /// The request's JSON object, or GitHub's 400.
    fn input(&self) -> Result<Value, Answer> {
        serde_json::from_slice::<Value>(self.body)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| Answer::message(400, "Problems parsing JSON"))
    }

    fn ref_json(&self, branch: &str, sha: &str) -> Value {
        let repo = format!("{}/repos/{}", self.api, self.full_name);
        json!({
            "ref": format!("refs/heads/{branch}"),
            "node_id": format!("REF_{}", &sha[..12]),
            "url": format!("{repo}/git/refs/heads/{branch}"),
            "object": {"sha": sha, "type": "commit", "url": format!("{repo}/git/commits/{sha}")},
        })
    }

    /// A commit as the commits and compare APIs show it.
    fn commit_json(&self, commit: &Commit) -> Value {
        let person = json!({"name": "GitHub", "email": "noreply@github.com", "date": GIT_DATE});
        json!({
            "sha": commit.sha,
            "url": format!("{}/repos/{}/commits/{}", self.api, self.full_name, commit.sha),
            "html_url": format!("{}/{}/commit/{}", self.api, self.full_name, commit.sha),
            "commit": {
                "message": commit.message,
                "tree": {"sha": tree_sha(commit)},
                "author": person,
                "committer": person,
            },
            "parents": commit.parent.iter().map(|p| json!({"sha": p})).collect::<Vec<_>>(),
        })
    }

    /// A commit as the git data API (and a contents write) shows it.
    fn git_commit_json(&self, commit: &Commit) -> Value {
        let mut value = self.commit_json(commit);
        let inner = value["commit"].take();
        for key in ["message", "tree", "author", "committer"] {
            value[key] = inner[key].clone();
        }
        value.as_object_mut().unwrap().remove("commit");
        value
    }

    /// A file of `commit` (named `at`, a branch or a sha) without its content.
    fn file_json(&self, path: &str, commit: &Commit, at: &str) -> Value {
        let sha = &commit.blobs[path];
        let repo = format!("{}/repos/{}", self.api, self.full_name);
        let html = format!("{}/{}/blob/{at}/{path}", self.api, self.full_name);
        let url = format!("{repo}/contents/{path}?ref={at}");
        let git = format!("{repo}/git/blobs/{sha}");
        json!({
            "type": "file",
            "name": path.rsplit('/').next(),
            "path": path,
            "sha": sha,
            "size": commit.tree[path].len(),
            "url": url,
            "html_url": html,
            "git_url": git,
            "download_url": format!("{}/{}/raw/{at}/{path}", self.api, self.full_name),
            "_links": {"self": url, "git": git, "html": html},
        })
    }

    fn pull_json(&self, git: &GitRepo, pull: &Pull) -> Value {
        let side = |branch: &str| {
            json!({
                "ref": branch,
                "label": format!("{}:{branch}", self.owner),
                "sha": git.branches.get(branch),
                "repo": {"full_name": self.full_name},
            })
        };
        json!({
            "id": pull.number,
            "number": pull.number,
            "url": format!("{}/repos/{}/pulls/{}", self.api, self.full_name, pull.number),
            "html_url": pull.html_url,
            "state": pull.state,
            "draft": pull.draft,
            "title": pull.title,
            "body": (!pull.body.is_empty()).then_some(&pull.body),
            "merged": false,
            "user": {"login": self.owner},
            "head": side(&pull.head),
            "base": side(&pull.base),
        })
    }
}

/// `422 Validation Failed` with `errors`.
fn invalid(errors: &Value) -> Answer {
    Answer::json(
        422,
        &json!({
            "message": "Validation Failed",
            "errors": errors,
            "documentation_url": "https://docs.github.com/rest/pulls/pulls",
            "status": "422",
        }),
    )
}

/// `422 Validation Failed` with one `custom` error of the pull request.
fn invalid_pull(message: &str) -> Answer {
    invalid(&json!([{"resource": "PullRequest", "code": "custom", "message": message}]))
}

/// `422 Validation Failed` naming a field of the pull request and what is wrong.
fn invalid_field(field: &str, code: &str) -> Answer {
    invalid(&json!([{"resource": "PullRequest", "code": code, "field": field}]))
}

/// GitHub's 422 for a required field missing from a git or contents request.
fn not_supplied(field: &str) -> Answer {
    Answer::message(
        422,
        &format!("Invalid request.\n\n\"{field}\" wasn't supplied."),
    )
}

fn not_found() -> Answer {
    Answer::message(404, "Not Found")
}

/// Answers a repository route; `seg` are the decoded path segments.
pub(super) fn answer(
    route: Route,
    seg: &[String],
    req: &Req,
    body: &[u8],
    shared: &Shared,
    state: &mut State,
) -> Answer {
    let ctx = Ctx {
        full_name: format!("{}/{}", seg[1], seg[2]),
        owner: &seg[1],
        api: format!("http://127.0.0.1:{}", shared.api_port),
        seg,
        req,
        body,
    };
    let private = state.private;
    let Some(git) = state.repos.get_mut(&ctx.full_name) else {
        return not_found();
    };
    let answer = match route {
        Route::GetRepo => Ok(Answer::json(
            200,
            &json!({
                "id": 1,
                "name": seg[2],
                "full_name": ctx.full_name,
                "owner": {"login": ctx.owner},
                "private": private,
                "default_branch": git.default_branch,
                "url": format!("{}/repos/{}", ctx.api, ctx.full_name),
                "html_url": format!("{}/{}", ctx.api, ctx.full_name),
            }),
        )),
        Route::GetRef => {
            let branch = ctx.rest(6);
            Ok(git.branches.get(&branch).map_or_else(not_found, |sha| {
                Answer::json(200, &ctx.ref_json(&branch, sha))
            }))
        }
        Route::CreateRef => create_ref(&ctx, git),
        Route::Compare => Ok(compare(&ctx, git)),
        Route::GetContents => Ok(get_contents(&ctx, git)),
        Route::PutContents => put_contents(&ctx, git),
        Route::ListPulls => Ok(list_pulls(&ctx, git, shared)),
        Route::CreatePull => create_pull(&ctx, git),
        Route::GetPull => Ok(pull_of(&ctx, git).map_or_else(not_found, |i| {
            Answer::json(200, &ctx.pull_json(git, &git.pulls[i]))
        })),
        Route::UpdatePull => update_pull(&ctx, git),
        _ => unreachable!("{route:?} is not a repository route"),
    };
    answer.unwrap_or_else(|refusal| refusal)
}

/// `POST git/refs` `{"ref": "refs/heads/B", "sha"}`.
fn create_ref(ctx: &Ctx<'_>, git: &mut GitRepo) -> Result<Answer, Answer> {
    let input = ctx.input()?;
    let name = input["ref"].as_str().ok_or_else(|| not_supplied("ref"))?;
    let sha = input["sha"].as_str().ok_or_else(|| not_supplied("sha"))?;
    let branch = name
        .strip_prefix("refs/heads/")
        .filter(|b| !b.is_empty() && !b.ends_with('/') && !b.contains("//") && !b.contains(".."))
        .ok_or_else(|| Answer::message(422, "Reference name is invalid"))?;
    if git.branches.contains_key(branch) {
        return Err(Answer::message(422, "Reference already exists"));
    }
    if !git.commits.contains_key(sha) {
        return Err(Answer::message(422, "Object does not exist"));
    }
    git.branches.insert(branch.to_owned(), sha.to_owned());
    Ok(Answer::json(201, &ctx.ref_json(branch, sha)))
}

/// `GET compare/BASE...HEAD`: the commits of head beyond the merge base, oldest first,
/// and the files they change.
fn compare(ctx: &Ctx<'_>, git: &GitRepo) -> Answer {
    let spec = ctx.rest(4);
    let Some((base, head)) = spec.split_once("...") else {
        return not_found();
    };
    let (Some(base_commit), Some(head_commit)) = (git.resolve(base), git.resolve(head)) else {
        return not_found();
    };
    let Some((ahead, behind, merge_base)) = git.compare(base, head) else {
        return Answer::message(404, "No common ancestor between base and head.");
    };
    let status = match (ahead.len(), behind) {
        (0, 0) => "identical",
        (_, 0) => "ahead",
        (0, _) => "behind",
        _ => "diverged",
    };
    let paths: BTreeSet<&String> = merge_base
        .blobs
        .keys()
        .chain(head_commit.blobs.keys())
        .collect();
    let files: Vec<Value> = paths
        .into_iter()
        .filter_map(|path| {
            let (old, new) = (merge_base.blobs.get(path), head_commit.blobs.get(path));
            let status = match (old, new) {
                (None, Some(_)) => "added",
                (Some(_), None) => "removed",
                (Some(a), Some(b)) if a != b => "modified",
                _ => return None,
            };
            Some(json!({"filename": path, "status": status, "sha": new.or(old)}))
        })
        .collect();
    Answer::json(
        200,
        &json!({
            "url": format!("{}/repos/{}/compare/{spec}", ctx.api, ctx.full_name),
            "html_url": format!("{}/{}/compare/{spec}", ctx.api, ctx.full_name),
            "status": status,
            "ahead_by": ahead.len(),
            "behind_by": behind,
            "total_commits": ahead.len(),
            "base_commit": ctx.commit_json(base_commit),
            "merge_base_commit": ctx.commit_json(merge_base),
            "commits": ahead.iter().map(|c| ctx.commit_json(c)).collect::<Vec<_>>(),
            "files": files,
        }),
    )
}

/// `GET contents/PATH?ref=`: a file with its content, or a folder's entries.
fn get_contents(ctx: &Ctx<'_>, git: &GitRepo) -> Answer {
    let path = ctx.rest(4);
    let at = ctx.req.query("ref").unwrap_or(&git.default_branch);
    let Some(commit) = git.resolve(at) else {
        return Answer::message(404, &format!("No commit found for the ref {at}"));
    };
    if let Some(bytes) = commit.tree.get(&path) {
        let mut file = ctx.file_json(&path, commit, at);
        file["content"] = base64_lines(bytes).into();
        file["encoding"] = "base64".into();
        return Answer::json(200, &file);
    }
    let prefix = format!("{path}/");
    let mut entries: BTreeMap<&str, Value> = BTreeMap::new();
    for file in commit.tree.keys() {
        let Some(below) = file.strip_prefix(&prefix) else {
            continue;
        };
        let (name, is_dir) = below
            .split_once('/')
            .map_or((below, false), |(d, _)| (d, true));
        let entry = if is_dir {
            json!({"type": "dir", "name": name, "path": format!("{prefix}{name}")})
        } else {
            ctx.file_json(file, commit, at)
        };
        entries.entry(name).or_insert(entry);
    }
    if entries.is_empty() {
        return not_found();
    }
    Answer::json(200, &Value::Array(entries.into_values().collect()))
}

/// `PUT contents/PATH` `{"message", "content", "branch", "sha"}`: a commit changing
/// that one file; `sha` must be the file's blob sha on the branch when it is there,
/// and absent when it is not.
fn put_contents(ctx: &Ctx<'_>, git: &mut GitRepo) -> Result<Answer, Answer> {
    let input = ctx.input()?;
    let path = ctx.rest(4);
    let message = input["message"]
        .as_str()
        .ok_or_else(|| not_supplied("message"))?;
    let content = input["content"]
        .as_str()
        .ok_or_else(|| not_supplied("content"))?;
    let bytes = STANDARD
        .decode(content)
        .map_err(|_| Answer::message(422, "content is not valid Base64"))?;
    let branch = input["branch"]
        .as_str()
        .unwrap_or(&git.default_branch)
        .to_owned();
    let head = git
        .branches
        .get(&branch)
        .map(|sha| &git.commits[sha])
        .ok_or_else(|| Answer::message(404, &format!("Branch {branch} not found")))?;
    if head.tree.keys().any(|p| p.starts_with(&format!("{path}/"))) {
        return Err(Answer::message(422, &format!("{path} is a directory")));
    }
    let current = head.blobs.get(&path).cloned();
    match (
        current.as_deref(),
        input["sha"].as_str().filter(|s| !s.is_empty()),
    ) {
        (Some(_), None) => return Err(not_supplied("sha")),
        (Some(blob), Some(given)) if blob != given => {
            return Err(Answer::message(
                409,
                &format!("{path} does not match {given}"),
            ));
        }
        (None, Some(given)) => {
            return Err(Answer::message(
                422,
                &format!(
                    "Invalid request.\n\n\"sha\" {given} was given, but {path} does not exist on {branch}."
                ),
            ));
        }
        _ => {}
    }
    let commit = git.commit_file(&branch, &path, bytes, message);
    let status = if current.is_some() { 200 } else { 201 };
    Ok(Answer::json(
        status,
        &json!({
            "content": ctx.file_json(&path, &commit, &branch),
            "commit": ctx.git_commit_json(&commit),
        }),
    ))
}

/// `GET pulls?state=&head=OWNER:BRANCH&base=&direction=`, newest first by default,
/// paginated. A `head` without `OWNER:` is ignored, as GitHub ignores it.
fn list_pulls(ctx: &Ctx<'_>, git: &GitRepo, shared: &Shared) -> Answer {
    let state = ctx.req.query("state").unwrap_or("open");
    let head = ctx.req.query("head").and_then(|h| h.split_once(':'));
    let base = ctx.req.query("base");
    let mut items: Vec<Value> = git
        .pulls
        .iter()
        .filter(|p| state == "all" || p.state == state)
        .filter(|p| head.is_none_or(|(owner, branch)| owner == ctx.owner && p.head == branch))
        .filter(|p| base.is_none_or(|b| p.base == b))
        .map(|p| ctx.pull_json(git, p))
        .collect();
    if ctx.req.query("direction") != Some("asc") {
        items.reverse();
    }
    paginate(items, ctx.req, shared)
}

/// The index of the pull request `pulls/{number}` names.
fn pull_of(ctx: &Ctx<'_>, git: &GitRepo) -> Option<usize> {
    let number = ctx.seg[4].parse::<u64>().ok()?;
    git.pulls.iter().position(|p| p.number == number)
}

/// An open pull request other than `except` already has `head` into `base`.
fn refuse_duplicate(
    ctx: &Ctx<'_>,
    git: &GitRepo,
    head: &str,
    base: &str,
    except: Option<u64>,
) -> Result<(), Answer> {
    let taken = git
        .pulls
        .iter()
        .any(|p| p.state == "open" && p.head == head && p.base == base && Some(p.number) != except);
    if taken {
        return Err(invalid_pull(&format!(
            "A pull request already exists for {}:{head}.",
            ctx.owner
        )));
    }
    Ok(())
}

/// `POST pulls` `{"title", "head", "base", "body", "draft"}`.
fn create_pull(ctx: &Ctx<'_>, git: &mut GitRepo) -> Result<Answer, Answer> {
    let input = ctx.input()?;
    for field in ["title", "head", "base"] {
        if input[field].as_str().is_none_or(str::is_empty) {
            return Err(invalid_field(field, "missing_field"));
        }
    }
    let field = |key: &str| input[key].as_str().unwrap_or_default().to_owned();
    let (title, base) = (field("title"), field("base"));
    let head = match field("head").split_once(':') {
        Some((owner, branch)) if owner == ctx.owner => branch.to_owned(),
        Some(_) => return Err(invalid_field("head", "invalid")),
        None => field("head"),
    };
    for (name, branch) in [("base", &base), ("head", &head)] {
        if !git.branches.contains_key(branch) {
            return Err(invalid_field(name, "invalid"));
        }
    }
    refuse_duplicate(ctx, git, &head, &base, None)?;
    if git
        .compare(&base, &head)
        .is_none_or(|(ahead, _, _)| ahead.is_empty())
    {
        return Err(invalid_pull(&format!(
            "No commits between {base} and {head}"
        )));
    }
    let number = git.pulls.len() as u64 + 1;
    let pull = Pull {
        number,
        head,
        base,
        title,
        body: field("body"),
        draft: input["draft"].as_bool().unwrap_or(false),
        state: "open".to_owned(),
        html_url: format!("{}/{}/pull/{number}", ctx.api, ctx.full_name),
    };
    let answer = Answer::json(201, &ctx.pull_json(git, &pull));
    git.pulls.push(pull);
    Ok(answer)
}

/// `PATCH pulls/{number}` `{"title", "body", "state", "base"}`; `draft` cannot be
/// changed this way and is ignored.
fn update_pull(ctx: &Ctx<'_>, git: &mut GitRepo) -> Result<Answer, Answer> {
    let at = pull_of(ctx, git).ok_or_else(not_found)?;
    let input = ctx.input()?;
    let current = git.pulls[at].clone();
    let state = input["state"].as_str().unwrap_or(&current.state);
    if !matches!(state, "open" | "closed") {
        return Err(invalid_field("state", "invalid"));
    }
    let base = input["base"].as_str().unwrap_or(&current.base);
    if !git.branches.contains_key(base) {
        return Err(invalid_field("base", "invalid"));
    }
    if state == "open" {
        refuse_duplicate(ctx, git, &current.head, base, Some(current.number))?;
    }
    let mut pull = current.clone();
    if let Some(title) = input["title"].as_str() {
        title.clone_into(&mut pull.title);
    }
    if let Some(body) = input.get("body") {
        body.as_str().unwrap_or_default().clone_into(&mut pull.body);
    }
    state.clone_into(&mut pull.state);
    base.clone_into(&mut pull.base);
    let answer = Answer::json(200, &ctx.pull_json(git, &pull));
    git.pulls[at] = pull;
    Ok(answer)
}
