//! A local server that answers like GitHub's REST API for releases
//! (<https://docs.github.com/en/rest/releases>), on three ports of 127.0.0.1:
//!
//! - the API host (`api.github.com`, and `github.com` for the download links):
//!   releases by tag, by id, listed and paginated, created and updated; assets
//!   listed, read and deleted (`GET …/releases/assets/{id}` with
//!   `Accept: application/octet-stream` redirects to the objects host);
//!   `/{owner}/{repo}/releases/download/{tag}/{name}`, which redirects to the objects
//!   host too, unless the repository is private ([`GitHubServer::set_private`]);
//! - the upload host (`uploads.github.com`): `POST …/releases/{id}/assets?name=`,
//!   the body streamed to a file and a SHA-256;
//! - the objects host (`objects.githubusercontent.com`): the bytes, recording
//!   whether the request carried an `Authorization` header.
//!
//! The API host also holds git repositories (module `repos`): branches, commits, files
//! read and written through the contents API, compared, and pull requests
//! ([`GitHubServer::add_repo`]).
//!
//! Every API and upload answer carries the `x-ratelimit-*` headers; with a token,
//! a request without `Authorization: Bearer <token>` is answered 401. Faults are
//! queued per [`Route`] and come before the token check (but for
//! [`Fault::ApplyThen`], which serves the request first). A published release marked
//! immutable ([`GitHubServer::set_immutable`]) refuses uploads and deletions with 422.
//!
//! The token is never stored with a request: a [`Request`] records whether it had an
//! `Authorization` header and whether that was the token. The request lines and
//! headers are kept for [`GitHubServer::saw_text`], an `Authorization` value equal to
//! the token replaced.
//!
//! Each listener polls without blocking and stops when the server is dropped or
//! after [`LIFETIME`], whichever comes first; its connection threads stop with it.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::http::loopback_url;
use super::keys::hex;

mod repos;
mod storage;

pub use repos::Pull;

/// No server lives longer than this, even if a test forgets it.
pub const LIFETIME: Duration = Duration::from_secs(120);

/// The rate limit announced in `x-ratelimit-limit`.
pub const RATE_LIMIT: u64 = 5000;

/// The message GitHub gives with a secondary rate limit.
pub const SECONDARY_RATE_LIMIT_MESSAGE: &str =
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.";

/// The message GitHub gives when the primary rate limit is spent.
pub const PRIMARY_RATE_LIMIT_MESSAGE: &str = "API rate limit exceeded for user ID 1.";

/// The message of a 403 for a token without the permission.
pub const FORBIDDEN_MESSAGE: &str = "Resource not accessible by integration";

/// The message of an upload to a published immutable release.
pub const IMMUTABLE_UPLOAD_MESSAGE: &str = "Cannot upload assets to an immutable release.";

/// The message of a deletion of an asset of a published immutable release.
pub const IMMUTABLE_DELETE_MESSAGE: &str = "Cannot delete assets of an immutable release.";

/// API bodies (JSON) larger than this are refused with 413.
const MAX_JSON_BODY: u64 = 1024 * 1024;

/// What GitHub escapes of an asset name in its download URL.
const NAME_IN_URL: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'.')
    .remove(b'-')
    .remove(b'_')
    .remove(b'~');

/// Which of the three hosts a request came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    Api,
    Uploads,
    Objects,
}

/// A route of the server, the key of the fault queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// `GET /repos/{owner}/{repo}/releases/tags/{tag}`
    ReleaseByTag,
    /// `GET /repos/{owner}/{repo}/releases/{id}`
    GetRelease,
    /// `GET /repos/{owner}/{repo}/releases`
    ListReleases,
    /// `POST /repos/{owner}/{repo}/releases`
    CreateRelease,
    /// `PATCH /repos/{owner}/{repo}/releases/{id}`
    UpdateRelease,
    /// `GET /repos/{owner}/{repo}/releases/{id}/assets`
    ListAssets,
    /// `GET /repos/{owner}/{repo}/releases/assets/{id}`: the asset's JSON, or with
    /// `Accept: application/octet-stream` a `302` to its bytes on the objects host
    GetAsset,
    /// `DELETE /repos/{owner}/{repo}/releases/assets/{id}`
    DeleteAsset,
    /// `POST /repos/{owner}/{repo}/releases/{id}/assets?name=` on the upload host
    UploadAsset,
    /// `GET /{owner}/{repo}/releases/download/{tag}/{name}`
    Download,
    /// `GET /objects/{id}` on the objects host
    Object,
    /// `GET /repos/{owner}/{repo}`
    GetRepo,
    /// `GET /repos/{owner}/{repo}/git/ref/heads/{branch}` (the branch may hold `/`)
    GetRef,
    /// `POST /repos/{owner}/{repo}/git/refs`
    CreateRef,
    /// `GET /repos/{owner}/{repo}/compare/{base}...{head}`
    Compare,
    /// `GET /repos/{owner}/{repo}/contents/{path}?ref=`
    GetContents,
    /// `PUT /repos/{owner}/{repo}/contents/{path}`
    PutContents,
    /// `GET /repos/{owner}/{repo}/pulls`
    ListPulls,
    /// `POST /repos/{owner}/{repo}/pulls`
    CreatePull,
    /// `GET /repos/{owner}/{repo}/pulls/{number}`
    GetPull,
    /// `PATCH /repos/{owner}/{repo}/pulls/{number}`
    UpdatePull,
}

/// What the server does with the next call of a route instead of serving it.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this status (500, 502, 503, …) and a JSON message.
    Status(u16),
    /// `403` with `retry-after: 1` and [`SECONDARY_RATE_LIMIT_MESSAGE`].
    SecondaryRateLimit,
    /// `429` with `retry-after: 1` and `x-ratelimit-remaining: 0`.
    TooManyRequests,
    /// `200` announcing a longer JSON body than is sent, then close the connection.
    /// The request is not applied.
    DropMidBody,
    /// Uploads: read this many bytes of the body, then close the connection without
    /// answering; the asset stays in state `starter`. Other routes: close at once.
    StopUploadAfter(u64),
    /// Serve the request (an upload completes with its digest, a release is created,
    /// …), then answer this status (502, …) with a JSON message instead of the real
    /// answer. A request refused with 401 is not served and stays a 401.
    ApplyThen(u16),
    /// `403` with `x-ratelimit-remaining: 0`, `x-ratelimit-reset` this many seconds
    /// from now, [`PRIMARY_RATE_LIMIT_MESSAGE`] and no `retry-after`.
    PrimaryRateLimit { reset_in: u64 },
    /// `403` [`FORBIDDEN_MESSAGE`], with the usual rate-limit headers.
    Forbidden,
    /// `403` with [`SECONDARY_RATE_LIMIT_MESSAGE`] and no `retry-after`.
    SecondaryWithoutRetryAfter,
}

/// The state of an asset, as GitHub names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssetState {
    Uploaded,
    Starter,
}

impl AssetState {
    fn as_str(self) -> &'static str {
        match self {
            AssetState::Uploaded => "uploaded",
            AssetState::Starter => "starter",
        }
    }
}

/// An asset of a release, as the server holds it.
#[derive(Clone, Debug)]
pub struct Asset {
    pub id: u64,
    pub name: String,
    pub state: AssetState,
    pub size: u64,
    /// `sha256:<hex>` once uploaded.
    pub digest: Option<String>,
}

/// A release, as the server holds it.
#[derive(Clone, Debug)]
pub struct Release {
    pub id: u64,
    /// `owner/repo`.
    pub repo: String,
    pub tag_name: String,
    pub name: String,
    pub draft: bool,
    pub prerelease: bool,
    pub target_commitish: String,
    /// `"immutable"`: once published, its assets can be neither added nor deleted.
    pub immutable: bool,
    pub assets: Vec<Asset>,
}

/// A request the server received. The `Authorization` value is never stored.
#[derive(Clone, Debug)]
pub struct Request {
    pub host: Host,
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    /// Whether it had an `Authorization` header.
    pub authorization: bool,
    /// Whether that header was `Bearer <token>` (or `token <token>`) with the server's
    /// token.
    pub authorization_matches: bool,
    /// The `Accept` header.
    pub accept: Option<String>,
    /// The JSON body of an API request, when it had one.
    pub json: Option<Value>,
}

impl Request {
    /// The route it took, if any.
    pub fn route(&self) -> Option<Route> {
        let path = self.path.split_once('?').map_or(&*self.path, |(p, _)| p);
        route(self.host, &self.method, path).map(|(route, _)| route)
    }
}

#[derive(Default)]
struct State {
    next_id: u64,
    releases: Vec<Release>,
    requests: Vec<Request>,
    faults: HashMap<Route, VecDeque<Fault>>,
    /// The git repositories by `owner/repo`.
    repos: HashMap<String, repos::GitRepo>,
    redirect_saw_authorization: bool,
    api_calls: u64,
    private: bool,
    /// Every request line and header, an `Authorization` value equal to the token
    /// replaced.
    seen: Vec<String>,
}

struct Shared {
    state: Mutex<State>,
    stop: AtomicBool,
    born: Instant,
    token: Option<String>,
    dir: PathBuf,
    api_port: u16,
    upload_port: u16,
    objects_port: u16,
}

impl Shared {
    fn alive(&self) -> bool {
        !self.stop.load(Ordering::Relaxed) && self.born.elapsed() < LIFETIME
    }

    /// Whether an `Authorization` value carries the server's token.
    fn is_token(&self, value: &str) -> bool {
        self.token.as_deref().is_some_and(|token| {
            value == format!("Bearer {token}") || value == format!("token {token}")
        })
    }
}

/// A running server; stops when dropped.
pub struct GitHubServer {
    pub api_port: u16,
    pub upload_port: u16,
    pub objects_port: u16,
    shared: Arc<Shared>,
    _dir: tempfile::TempDir,
}

impl GitHubServer {
    /// A server that asks for no token.
    pub fn start() -> GitHubServer {
        GitHubServer::start_with(None)
    }

    /// A server that answers 401 to API and upload calls without
    /// `Authorization: Bearer <token>`.
    pub fn with_token(token: &str) -> GitHubServer {
        GitHubServer::start_with(Some(token.to_owned()))
    }

    fn start_with(token: Option<String>) -> GitHubServer {
        let dir = tempfile::Builder::new()
            .prefix("otactl-github-")
            .tempdir()
            .unwrap();
        let listeners = [Host::Api, Host::Uploads, Host::Objects].map(|host| {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            (host, listener)
        });
        let port = |i: usize| listeners[i].1.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                next_id: 1000,
                ..State::default()
            }),
            stop: AtomicBool::new(false),
            born: Instant::now(),
            token,
            dir: dir.path().to_owned(),
            api_port: port(0),
            upload_port: port(1),
            objects_port: port(2),
        });
        for (host, listener) in listeners {
            let shared = shared.clone();
            thread::spawn(move || accept(&listener, host, &shared));
        }
        GitHubServer {
            api_port: shared.api_port,
            upload_port: shared.upload_port,
            objects_port: shared.objects_port,
            shared,
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:API_PORT`, the API base URL (`https://api.github.com`).
    pub fn api_base(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    /// A URL on the API host.
    pub fn api_url(&self, path: &str) -> String {
        loopback_url(self.api_port, path)
    }

    /// A URL on the upload host.
    pub fn upload_url(&self, path: &str) -> String {
        loopback_url(self.upload_port, path)
    }

    /// Queues faults for the next calls of `route`.
    pub fn inject(&self, route: Route, faults: impl IntoIterator<Item = Fault>) {
        let mut state = self.shared.state.lock().unwrap();
        state.faults.entry(route).or_default().extend(faults);
    }

    /// Every release (drafts included) with its assets, oldest first.
    pub fn releases(&self) -> Vec<Release> {
        self.shared.state.lock().unwrap().releases.clone()
    }

    /// The requests received so far, on all three hosts.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.state.lock().unwrap().requests.clone()
    }

    /// Whether any request to the objects host (where downloads redirect) carried
    /// an `Authorization` header.
    pub fn redirect_host_saw_authorization(&self) -> bool {
        self.shared.state.lock().unwrap().redirect_saw_authorization
    }

    /// The route of each request received so far that took one, in order.
    pub fn routes(&self) -> Vec<Route> {
        self.requests().iter().filter_map(Request::route).collect()
    }

    /// Whether any request line or header received on any host held `text` (an
    /// `Authorization` value equal to the token aside).
    pub fn saw_text(&self, text: &str) -> bool {
        let state = self.shared.state.lock().unwrap();
        state.seen.iter().any(|line| line.contains(text))
    }

    /// A private repository: the browser download URL answers 404 (it needs a browser
    /// session), while the asset API with the token still serves the bytes.
    pub fn set_private(&self, private: bool) {
        self.shared.state.lock().unwrap().private = private;
    }

    /// Adds a release directly (without a request), for a test's starting state.
    pub fn add_release(&self, repo: &str, tag: &str, draft: bool) -> u64 {
        let mut state = self.shared.state.lock().unwrap();
        let id = new_id(&mut state);
        state.releases.push(Release {
            id,
            repo: repo.to_owned(),
            tag_name: tag.to_owned(),
            name: tag.to_owned(),
            draft,
            prerelease: false,
            target_commitish: "main".to_owned(),
            immutable: false,
            assets: Vec::new(),
        });
        id
    }

    /// Adds an uploaded asset whose bytes the objects host serves; its `digest` is
    /// `null` unless `with_digest` (as for assets uploaded before GitHub had digests).
    pub fn add_asset(&self, release_id: u64, name: &str, bytes: &[u8], with_digest: bool) -> u64 {
        let digest = with_digest.then(|| format!("sha256:{}", hex(&Sha256::digest(bytes))));
        let id = self.push_asset(
            release_id,
            name,
            AssetState::Uploaded,
            bytes.len() as u64,
            digest,
        );
        std::fs::write(self.shared.dir.join(id.to_string()), bytes).unwrap();
        id
    }

    /// Adds an asset in state `starter`, as an upload cut midway leaves it.
    pub fn add_starter_asset(&self, release_id: u64, name: &str) -> u64 {
        self.push_asset(release_id, name, AssetState::Starter, 0, None)
    }

    /// Adds `n` tiny uploaded assets (`placeholder-N.bin`), to fill a release up to
    /// GitHub's limit of 1000.
    pub fn add_placeholder_assets(&self, release_id: u64, n: usize) {
        for i in 0..n {
            self.add_asset(release_id, &format!("placeholder-{i}.bin"), b"x", true);
        }
    }

    /// Marks a release immutable (or not), as GitHub does on publishing when the
    /// repository has immutable releases.
    pub fn set_immutable(&self, release_id: u64, immutable: bool) {
        let mut state = self.shared.state.lock().unwrap();
        release_mut(&mut state, release_id).immutable = immutable;
    }

    /// The bytes the server holds for an asset (what an upload wrote).
    pub fn asset_bytes(&self, asset_id: u64) -> Vec<u8> {
        std::fs::read(self.shared.dir.join(asset_id.to_string())).unwrap_or_default()
    }

    fn push_asset(
        &self,
        release_id: u64,
        name: &str,
        state: AssetState,
        size: u64,
        digest: Option<String>,
    ) -> u64 {
        let mut locked = self.shared.state.lock().unwrap();
        let id = new_id(&mut locked);
        release_mut(&mut locked, release_id).assets.push(Asset {
            id,
            name: name.to_owned(),
            state,
            size,
            digest,
        });
        id
    }
}

fn release_mut(state: &mut State, release_id: u64) -> &mut Release {
    state
        .releases
        .iter_mut()
        .find(|r| r.id == release_id)
        .unwrap_or_else(|| panic!("no release {release_id}"))
}

impl Drop for GitHubServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

fn new_id(state: &mut State) -> u64 {
    state.next_id += 1;
    state.next_id
}

fn accept(listener: &TcpListener, host: Host, shared: &Arc<Shared>) {
    while shared.alive() {
        match listener.accept() {
            Ok((stream, _)) => {
                let shared = shared.clone();
                thread::spawn(move || {
                    let _ = serve(stream, host, &shared);
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(10));
            }
            Err(_) => break,
        }
    }
}

fn is_wait(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Reads a line, waiting while the server is alive.
fn read_line(reader: &mut impl BufRead, shared: &Shared) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    loop {
        match reader.read_until(b'\n', &mut line) {
            Ok(0) if line.is_empty() => return Ok(None),
            Ok(_) => return Ok(Some(String::from_utf8_lossy(&line).into_owned())),
            Err(e) if is_wait(&e) && shared.alive() => {}
            Err(e) => return Err(e),
        }
    }
}

/// Reads some bytes, waiting while the server is alive.
fn read_some(reader: &mut impl Read, buf: &mut [u8], shared: &Shared) -> std::io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if is_wait(&e) && shared.alive() => {}
            other => return other,
        }
    }
}

struct Req {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    target: String,
    authorization: Option<String>,
    accept: Option<String>,
    content_length: Option<u64>,
    chunked: bool,
    /// The request line and the header lines, as sent.
    lines: Vec<String>,
}

impl Req {
    fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn read_request(reader: &mut impl BufRead, shared: &Shared) -> std::io::Result<Option<Req>> {
    let Some(line) = read_line(reader, shared)? else {
        return Ok(None);
    };
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("/").to_owned();
    let mut lines = vec![line.trim_end().to_owned()];
    let mut authorization = None;
    let mut accept = None;
    let mut content_length = None;
    let mut chunked = false;
    while let Some(header) = read_line(reader, shared)? {
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        lines.push(header.to_owned());
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("authorization") {
                authorization = Some(value.to_owned());
            } else if name.eq_ignore_ascii_case("accept") {
                accept = Some(value.to_owned());
            } else if name.eq_ignore_ascii_case("content-length") {
                content_length = value.parse().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = true;
            }
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    Ok(Some(Req {
        method,
        path: path.to_owned(),
        query,
        target: target.clone(),
        authorization,
        accept,
        content_length,
        chunked,
        lines,
    }))
}

/// Reads and drops the request body.
fn drain(reader: &mut impl Read, req: &Req, shared: &Shared) -> std::io::Result<()> {
    let mut left = req.content_length.unwrap_or(0);
    let mut buf = vec![0u8; 64 * 1024];
    while left > 0 {
        let want = usize::try_from(left.min(buf.len() as u64)).unwrap();
        let n = read_some(reader, &mut buf[..want], shared)?;
        if n == 0 {
            break;
        }
        left -= n as u64;
    }
    Ok(())
}

fn serve(stream: TcpStream, host: Host, shared: &Shared) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_millis(500)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    while let Some(req) = read_request(&mut reader, shared)? {
        let index = record(&req, host, shared);
        if !handle(Conn {
            req: &req,
            index,
            host,
            reader: &mut reader,
            stream: &mut stream,
            shared,
        })? {
            return Ok(());
        }
        stream.flush()?;
    }
    Ok(())
}

/// Records a request and its lines; returns its index in the requests.
fn record(req: &Req, host: Host, shared: &Shared) -> usize {
    let matches = req
        .authorization
        .as_deref()
        .is_some_and(|value| shared.is_token(value));
    let mut state = shared.state.lock().unwrap();
    for line in &req.lines {
        let is_authorization = line
            .split_once(':')
            .is_some_and(|(name, _)| name.eq_ignore_ascii_case("authorization"));
        state.seen.push(if is_authorization && matches {
            "Authorization: <the token>".to_owned()
        } else {
            line.clone()
        });
    }
    state.requests.push(Request {
        host,
        method: req.method.clone(),
        path: req.target.clone(),
        authorization: req.authorization.is_some(),
        authorization_matches: matches,
        accept: req.accept.clone(),
        json: None,
    });
    state.requests.len() - 1
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn json(status: u16, value: &Value) -> Answer {
        Answer {
            status,
            headers: vec![(
                "Content-Type".into(),
                "application/json; charset=utf-8".into(),
            )],
            body: serde_json::to_vec_pretty(value).unwrap(),
        }
    }

    fn message(status: u16, message: &str) -> Answer {
        Answer::json(
            status,
            &json!({
                "message": message,
                "documentation_url": "https://docs.github.com/rest/releases",
                "status": status.to_string(),
            }),
        )
    }

    fn empty(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Answer {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Writes the status line, the rate-limit headers (API and upload hosts) and the answer.
fn write_answer(
    stream: &mut TcpStream,
    host: Host,
    shared: &Shared,
    answer: &Answer,
    announce: Option<usize>,
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", answer.status, reason(answer.status));
    let has = |name: &str| {
        answer
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    if host != Host::Objects {
        let used = {
            let mut state = shared.state.lock().unwrap();
            state.api_calls += 1;
            state.api_calls
        };
        if !has("x-ratelimit-remaining") {
            head += &format!(
                "x-ratelimit-remaining: {}\r\n",
                RATE_LIMIT.saturating_sub(used)
            );
        }
        if !has("x-ratelimit-reset") {
            head += &format!("x-ratelimit-reset: {}\r\n", now_epoch() + 3600);
        }
        head += &format!(
            "x-ratelimit-limit: {RATE_LIMIT}\r\nx-ratelimit-used: {used}\r\nx-ratelimit-resource: core\r\n"
        );
    }
    for (name, value) in &answer.headers {
        head += &format!("{name}: {value}\r\n");
    }
    head += &format!(
        "Content-Length: {}\r\n\r\n",
        announce.unwrap_or(answer.body.len())
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(&answer.body)
}

/// The route of a request, with its path segments decoded.
fn route(host: Host, method: &str, path: &str) -> Option<(Route, Vec<String>)> {
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(decode)
        .collect();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let route = match (host, method, s.as_slice()) {
        (Host::Api, "GET", ["repos", _, _, "releases"]) => Route::ListReleases,
        (Host::Api, "POST", ["repos", _, _, "releases"]) => Route::CreateRelease,
        (Host::Api, "GET", ["repos", _, _, "releases", "tags", _]) => Route::ReleaseByTag,
        // `releases/assets/{id}` before `releases/{id}/assets`: a release id is a number.
        (Host::Api, "DELETE", ["repos", _, _, "releases", "assets", _]) => Route::DeleteAsset,
        (Host::Api, "GET", ["repos", _, _, "releases", "assets", _]) => Route::GetAsset,
        (Host::Api, "GET", ["repos", _, _, "releases", _]) => Route::GetRelease,
        (Host::Api, "PATCH", ["repos", _, _, "releases", _]) => Route::UpdateRelease,
        (Host::Api, "GET", ["repos", _, _, "releases", _, "assets"]) => Route::ListAssets,
        (Host::Api, "GET", ["repos", _, _]) => Route::GetRepo,
        (Host::Api, "GET", ["repos", _, _, "git", "ref", "heads", _, ..]) => Route::GetRef,
        (Host::Api, "POST", ["repos", _, _, "git", "refs"]) => Route::CreateRef,
        (Host::Api, "GET", ["repos", _, _, "compare", _, ..]) => Route::Compare,
        (Host::Api, "GET", ["repos", _, _, "contents", _, ..]) => Route::GetContents,
        (Host::Api, "PUT", ["repos", _, _, "contents", _, ..]) => Route::PutContents,
        (Host::Api, "GET", ["repos", _, _, "pulls"]) => Route::ListPulls,
        (Host::Api, "POST", ["repos", _, _, "pulls"]) => Route::CreatePull,
        (Host::Api, "GET", ["repos", _, _, "pulls", _]) => Route::GetPull,
        (Host::Api, "PATCH", ["repos", _, _, "pulls", _]) => Route::UpdatePull,
        (Host::Api, "GET", [_, _, "releases", "download", _, _]) => Route::Download,
        (Host::Uploads, "POST", ["repos", _, _, "releases", _, "assets"]) => Route::UploadAsset,
        (Host::Objects, "GET", ["objects", _]) => Route::Object,
        _ => return None,
    };
    Some((route, segments))
}

/// One request being answered, and the connection it came on.
struct Conn<'a> {
    req: &'a Req,
    /// The request's index in the recorded requests.
    index: usize,
    host: Host,
    reader: &'a mut BufReader<TcpStream>,
    stream: &'a mut TcpStream,
    shared: &'a Shared,
}

/// A [`Conn`]'s parts: the request, its host, the two ends, the server's state.
type Parts<'a> = (
    &'a Req,
    Host,
    &'a mut BufReader<TcpStream>,
    &'a mut TcpStream,
    &'a Shared,
);

impl<'a> Conn<'a> {
    fn parts(self) -> Parts<'a> {
        (self.req, self.host, self.reader, self.stream, self.shared)
    }
}

/// Reads and drops the request's body, then answers `status` with GitHub's
/// `{"message": …}`; the connection stays open.
fn refuse(conn: Conn<'_>, status: u16, message: &str) -> std::io::Result<bool> {
    let (req, host, reader, stream, shared) = conn.parts();
    drain(reader, req, shared)?;
    write_answer(
        stream,
        host,
        shared,
        &Answer::message(status, message),
        None,
    )?;
    Ok(true)
}

/// Answers one request; `false` closes the connection.
fn handle(conn: Conn<'_>) -> std::io::Result<bool> {
    let (req, host, shared) = (conn.req, conn.host, conn.shared);
    let Some((route, seg)) = route(host, &req.method, &req.path) else {
        if req.chunked {
            return length_required(conn.stream, host, shared);
        }
        return refuse(conn, 404, "Not Found");
    };
    let fault = shared
        .state
        .lock()
        .unwrap()
        .faults
        .get_mut(&route)
        .and_then(VecDeque::pop_front);
    // A body without a length (chunked) is not read: answer 411 and close.
    if req.chunked || (route == Route::UploadAsset && req.content_length.is_none()) {
        return length_required(conn.stream, host, shared);
    }
    // `ApplyThen` serves the request and only replaces its answer.
    let then = match fault {
        Some(Fault::ApplyThen(status)) => Some(status),
        Some(fault) => return apply_fault(&fault, route, conn),
        None => None,
    };
    let needs_token = matches!(host, Host::Api | Host::Uploads) && route != Route::Download;
    if needs_token
        && shared.token.is_some()
        && !req
            .authorization
            .as_deref()
            .is_some_and(|value| shared.is_token(value))
    {
        return refuse(conn, 401, "Bad credentials");
    }
    match (route, then) {
        (Route::UploadAsset, _) => {
            return upload(req, &seg, conn.reader, conn.stream, shared, then);
        }
        (Route::Object, None) => return object(req, &seg, conn.stream, shared),
        (Route::Object, Some(status)) => {
            write_answer(conn.stream, host, shared, &server_error(status), None)?;
            return Ok(true);
        }
        _ => {}
    }
    if req.content_length.unwrap_or(0) > MAX_JSON_BODY {
        return refuse(conn, 413, "Payload too large");
    }
    let mut body = vec![0u8; usize::try_from(req.content_length.unwrap_or(0)).unwrap()];
    let mut got = 0;
    while got < body.len() {
        let n = read_some(conn.reader, &mut body[got..], shared)?;
        if n == 0 {
            return Ok(false);
        }
        got += n;
    }
    shared.state.lock().unwrap().requests[conn.index].json = serde_json::from_slice(&body).ok();
    let answer = api(route, &seg, req, &body, shared);
    let answer = then.map_or(answer, server_error);
    write_answer(conn.stream, host, shared, &answer, None)?;
    Ok(true)
}

/// What GitHub answers with a 5xx (or any status a fault names).
fn server_error(status: u16) -> Answer {
    Answer::message(status, "Server Error")
}

/// GitHub's answer to a secondary rate limit (without `retry-after`).
fn secondary_rate_limit() -> Answer {
    Answer::json(
        403,
        &json!({
            "message": SECONDARY_RATE_LIMIT_MESSAGE,
            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
        }),
    )
}

fn length_required(stream: &mut TcpStream, host: Host, shared: &Shared) -> std::io::Result<bool> {
    let answer = Answer::message(411, "Content-Length required").header("Connection", "close");
    write_answer(stream, host, shared, &answer, None)?;
    Ok(false)
}

fn apply_fault(fault: &Fault, route: Route, conn: Conn<'_>) -> std::io::Result<bool> {
    let (req, host, reader, stream, shared) = conn.parts();
    if let Fault::StopUploadAfter(bytes) = fault {
        if route == Route::UploadAsset {
            let seg = route_segments(req);
            let _ = upload_limited(req, &seg, reader, shared, Some(*bytes));
        }
        return Ok(false);
    }
    drain(reader, req, shared)?;
    let answer = match fault {
        Fault::Status(code) => server_error(*code),
        Fault::SecondaryRateLimit => secondary_rate_limit().header("retry-after", "1"),
        Fault::SecondaryWithoutRetryAfter => secondary_rate_limit(),
        Fault::PrimaryRateLimit { reset_in } => Answer::json(
            403,
            &json!({
                "message": PRIMARY_RATE_LIMIT_MESSAGE,
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit",
            }),
        )
        .header("x-ratelimit-remaining", "0")
        .header("x-ratelimit-reset", (now_epoch() + reset_in).to_string()),
        Fault::Forbidden => Answer::message(403, FORBIDDEN_MESSAGE),
        Fault::TooManyRequests => Answer::message(429, "API rate limit exceeded.")
            .header("retry-after", "1")
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", (now_epoch() + 1).to_string()),
        Fault::DropMidBody => {
            let answer = Answer {
                status: 200,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: b"{\"id\": 1, \"tag_".to_vec(),
            };
            write_answer(stream, host, shared, &answer, Some(4096))?;
            return Ok(false);
        }
        Fault::StopUploadAfter(_) | Fault::ApplyThen(_) => unreachable!("handled above"),
    };
    write_answer(stream, host, shared, &answer, None)?;
    Ok(true)
}

fn route_segments(req: &Req) -> Vec<String> {
    req.path
        .trim_start_matches('/')
        .split('/')
        .map(decode)
        .collect()
}

/// The release `/repos/{owner}/{repo}/releases/{id}…` names.
fn release_of<'a>(releases: &'a [Release], seg: &[String]) -> Option<&'a Release> {
    let repo = repo_of(seg, 1);
    let id = seg[4].parse::<u64>().ok();
    releases.iter().find(|r| r.repo == repo && Some(r.id) == id)
}

/// The asset `/repos/{owner}/{repo}/releases/assets/{id}` names, with its release.
fn asset_of<'a>(releases: &'a [Release], seg: &[String]) -> Option<(&'a Release, &'a Asset)> {
    let repo = repo_of(seg, 1);
    let id = seg[5].parse::<u64>().ok();
    releases
        .iter()
        .filter(|r| r.repo == repo)
        .find_map(|r| r.assets.iter().find(|a| Some(a.id) == id).map(|a| (r, a)))
}

/// `302` to an asset's bytes on the objects host, with a signed-looking URL.
fn object_redirect(asset_id: u64, shared: &Shared) -> Answer {
    Answer::empty(302).header(
        "Location",
        format!(
            "http://127.0.0.1:{}/objects/{asset_id}?X-Amz-Signature=fake",
            shared.objects_port
        ),
    )
}

fn repo_of(seg: &[String], offset: usize) -> String {
    format!("{}/{}", seg[offset], seg[offset + 1])
}

fn untagged(id: u64) -> String {
    format!("untagged-{:016x}", id.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn release_tag_in_urls(release: &Release) -> String {
    if release.draft {
        untagged(release.id)
    } else {
        release.tag_name.clone()
    }
}

fn asset_json(release: &Release, asset: &Asset, shared: &Shared) -> Value {
    let api = format!("http://127.0.0.1:{}", shared.api_port);
    json!({
        "id": asset.id,
        "name": asset.name,
        "label": "",
        "state": asset.state.as_str(),
        "content_type": "application/octet-stream",
        "size": asset.size,
        "digest": asset.digest,
        "url": format!("{api}/repos/{}/releases/assets/{}", release.repo, asset.id),
        "browser_download_url": format!(
            "{api}/{}/releases/download/{}/{}",
            release.repo,
            release_tag_in_urls(release),
            percent_encoding::utf8_percent_encode(&asset.name, NAME_IN_URL),
        ),
    })
}

fn release_json(release: &Release, shared: &Shared) -> Value {
    let api = format!("http://127.0.0.1:{}", shared.api_port);
    let uploads = format!("http://127.0.0.1:{}", shared.upload_port);
    json!({
        "id": release.id,
        "tag_name": release.tag_name,
        "name": release.name,
        "draft": release.draft,
        "prerelease": release.prerelease,
        "target_commitish": release.target_commitish,
        "immutable": release.immutable,
        "url": format!("{api}/repos/{}/releases/{}", release.repo, release.id),
        "assets_url": format!("{api}/repos/{}/releases/{}/assets", release.repo, release.id),
        "upload_url": format!(
            "{uploads}/repos/{}/releases/{}/assets{{?name,label}}",
            release.repo, release.id
        ),
        "html_url": format!(
            "{api}/{}/releases/tag/{}",
            release.repo,
            release_tag_in_urls(release)
        ),
        "assets": release
            .assets
            .iter()
            .map(|a| asset_json(release, a, shared))
            .collect::<Vec<_>>(),
    })
}

/// One page of `items`, with the `Link` header GitHub sends.
fn paginate(items: Vec<Value>, req: &Req, shared: &Shared) -> Answer {
    let per_page = req
        .query("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page = req
        .query("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    // The other parameters (the filters) stay in the links, as GitHub keeps them.
    let encode = |s: &str| percent_encoding::utf8_percent_encode(s, NAME_IN_URL).to_string();
    let mut filters = String::new();
    for (k, v) in req
        .query
        .iter()
        .filter(|(k, _)| k != "page" && k != "per_page")
    {
        filters += &encode(k);
        filters += "=";
        filters += &encode(v);
        filters += "&";
    }
    let link_to = |p: usize, rel: &str| {
        format!(
            "<http://127.0.0.1:{}{}?{filters}per_page={per_page}&page={p}>; rel=\"{rel}\"",
            shared.api_port, req.path
        )
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(link_to(page - 1, "prev"));
    }
    if page < last {
        links.push(link_to(page + 1, "next"));
        links.push(link_to(last, "last"));
    }
    if page > 1 {
        links.push(link_to(1, "first"));
    }
    let answer = Answer::json(200, &Value::Array(slice));
    if links.is_empty() {
        answer
    } else {
        answer.header("Link", links.join(", "))
    }
}

fn validation_failed(resource: &str, field: &str) -> Answer {
    Answer::json(
        422,
        &json!({
            "message": "Validation Failed",
            "errors": [{"resource": resource, "code": "already_exists", "field": field}],
            "documentation_url": "https://docs.github.com/rest/releases",
            "status": "422",
        }),
    )
}

/// The JSON API routes.
fn api(route: Route, seg: &[String], req: &Req, body: &[u8], shared: &Shared) -> Answer {
    let not_found = || Answer::message(404, "Not Found");
    let mut state = shared.state.lock().unwrap();
    match route {
        Route::ReleaseByTag => {
            let repo = repo_of(seg, 1);
            state
                .releases
                .iter()
                .find(|r| r.repo == repo && !r.draft && r.tag_name == seg[5])
                .map_or_else(not_found, |r| Answer::json(200, &release_json(r, shared)))
        }
        Route::GetRelease => release_of(&state.releases, seg)
            .map_or_else(not_found, |r| Answer::json(200, &release_json(r, shared))),
        Route::ListReleases => {
            let repo = repo_of(seg, 1);
            let items = state
                .releases
                .iter()
                .rev()
                .filter(|r| r.repo == repo)
                .map(|r| release_json(r, shared))
                .collect();
            paginate(items, req, shared)
        }
        Route::CreateRelease => {
            let Ok(input) = serde_json::from_slice::<Value>(body) else {
                return Answer::message(400, "Problems parsing JSON");
            };
            let Some(tag) = input["tag_name"].as_str().filter(|t| !t.is_empty()) else {
                return Answer::json(
                    422,
                    &json!({
                        "message": "Validation Failed",
                        "errors": [{"resource": "Release", "code": "missing_field", "field": "tag_name"}],
                    }),
                );
            };
            let repo = repo_of(seg, 1);
            if state
                .releases
                .iter()
                .any(|r| r.repo == repo && r.tag_name == tag && !r.draft)
            {
                return validation_failed("Release", "tag_name");
            }
            let id = new_id(&mut state);
            let release = Release {
                id,
                repo,
                tag_name: tag.to_owned(),
                name: input["name"].as_str().unwrap_or(tag).to_owned(),
                draft: input["draft"].as_bool().unwrap_or(false),
                prerelease: input["prerelease"].as_bool().unwrap_or(false),
                target_commitish: input["target_commitish"]
                    .as_str()
                    .unwrap_or("main")
                    .to_owned(),
                immutable: false,
                assets: Vec::new(),
            };
            let answer = Answer::json(201, &release_json(&release, shared));
            state.releases.push(release);
            answer
        }
        Route::UpdateRelease => {
            let Ok(input) = serde_json::from_slice::<Value>(body) else {
                return Answer::message(400, "Problems parsing JSON");
            };
            let repo = repo_of(seg, 1);
            let id = seg[4].parse::<u64>().ok();
            let Some(current) = release_of(&state.releases, seg) else {
                return not_found();
            };
            // Publishing onto a tag another published release holds is refused.
            let tag = input["tag_name"].as_str().unwrap_or(&current.tag_name);
            let draft = input["draft"].as_bool().unwrap_or(current.draft);
            if !draft
                && state
                    .releases
                    .iter()
                    .any(|r| r.repo == repo && Some(r.id) != id && !r.draft && r.tag_name == tag)
            {
                return validation_failed("Release", "tag_name");
            }
            let release = state
                .releases
                .iter_mut()
                .find(|r| Some(r.id) == id)
                .expect("found above");
            if let Some(v) = input["tag_name"].as_str() {
                v.clone_into(&mut release.tag_name);
            }
            if let Some(v) = input["name"].as_str() {
                v.clone_into(&mut release.name);
            }
            if let Some(v) = input["target_commitish"].as_str() {
                v.clone_into(&mut release.target_commitish);
            }
            if let Some(v) = input["draft"].as_bool() {
                release.draft = v;
            }
            if let Some(v) = input["prerelease"].as_bool() {
                release.prerelease = v;
            }
            Answer::json(200, &release_json(release, shared))
        }
        Route::ListAssets => {
            let Some(release) = release_of(&state.releases, seg) else {
                return not_found();
            };
            let items = release
                .assets
                .iter()
                .map(|a| asset_json(release, a, shared))
                .collect();
            paginate(items, req, shared)
        }
        Route::GetAsset => {
            let Some((release, asset)) = asset_of(&state.releases, seg) else {
                return not_found();
            };
            let raw = req
                .accept
                .as_deref()
                .is_some_and(|a| a.contains("application/octet-stream"));
            if raw {
                object_redirect(asset.id, shared)
            } else {
                Answer::json(200, &asset_json(release, asset, shared))
            }
        }
        Route::DeleteAsset => {
            let repo = repo_of(seg, 1);
            let id = seg[5].parse::<u64>().ok();
            for release in state.releases.iter_mut().filter(|r| r.repo == repo) {
                if let Some(pos) = release.assets.iter().position(|a| Some(a.id) == id) {
                    if release.immutable && !release.draft {
                        return Answer::message(422, IMMUTABLE_DELETE_MESSAGE);
                    }
                    let asset = release.assets.remove(pos);
                    let _ = std::fs::remove_file(shared.dir.join(asset.id.to_string()));
                    return Answer::empty(204);
                }
            }
            not_found()
        }
        Route::Download => {
            let repo = repo_of(seg, 0);
            let found = state
                .releases
                .iter()
                .filter(|r| r.repo == repo && !r.draft && r.tag_name == seg[4])
                .flat_map(|r| r.assets.iter())
                .find(|a| a.name == seg[5] && a.state == AssetState::Uploaded);
            match found {
                // Without a browser session a private repository's link is not found.
                Some(asset) if !state.private => object_redirect(asset.id, shared),
                _ => not_found(),
            }
        }
        Route::GetRepo
        | Route::GetRef
        | Route::CreateRef
        | Route::Compare
        | Route::GetContents
        | Route::PutContents
        | Route::ListPulls
        | Route::CreatePull
        | Route::GetPull
        | Route::UpdatePull => repos::answer(route, seg, req, body, shared, &mut state),
        Route::UploadAsset | Route::Object => unreachable!("streamed routes"),
    }
}

/// An upload; `then` replaces the answer ([`Fault::ApplyThen`]).
fn upload(
    req: &Req,
    seg: &[String],
    reader: &mut BufReader<TcpStream>,
    stream: &mut TcpStream,
    shared: &Shared,
    then: Option<u16>,
) -> std::io::Result<bool> {
    match upload_limited(req, seg, reader, shared, None)? {
        Some(answer) => {
            let answer = then.map_or(answer, server_error);
            write_answer(stream, Host::Uploads, shared, &answer, None)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Streams an upload to a file and a SHA-256; `None` when the connection must close
/// (the body ended early, or `stop_after` bytes were read).
fn upload_limited(
    req: &Req,
    seg: &[String],
    reader: &mut BufReader<TcpStream>,
    shared: &Shared,
    stop_after: Option<u64>,
) -> std::io::Result<Option<Answer>> {
    let len = req.content_length.unwrap_or(0);
    let Some(name) = req
        .query("name")
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
    else {
        drain(reader, req, shared)?;
        return Ok(Some(Answer::message(400, "name is required")));
    };
    let repo = repo_of(seg, 1);
    let release_id = seg[4].parse::<u64>().ok();
    let asset_id = {
        let mut state = shared.state.lock().unwrap();
        let id = new_id(&mut state);
        match state
            .releases
            .iter_mut()
            .find(|r| r.repo == repo && Some(r.id) == release_id)
        {
            None => Err(Answer::message(404, "Not Found")),
            Some(release) if release.immutable && !release.draft => {
                Err(Answer::message(422, IMMUTABLE_UPLOAD_MESSAGE))
            }
            Some(release) if release.assets.iter().any(|a| a.name == name) => {
                Err(validation_failed("ReleaseAsset", "name"))
            }
            Some(release) => {
                release.assets.push(Asset {
                    id,
                    name: name.clone(),
                    state: AssetState::Starter,
                    size: 0,
                    digest: None,
                });
                Ok(id)
            }
        }
    };
    let asset_id = match asset_id {
        Ok(id) => id,
        Err(refusal) => {
            drain(reader, req, shared)?;
            return Ok(Some(refusal));
        }
    };
    let mut file = std::fs::File::create(shared.dir.join(asset_id.to_string()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let limit = stop_after.map_or(len, |s| s.min(len));
    let mut read = 0u64;
    while read < limit {
        let want = usize::try_from((limit - read).min(buf.len() as u64)).unwrap();
        let n = read_some(reader, &mut buf[..want], shared)?;
        if n == 0 {
            return Ok(None);
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n])?;
        read += n as u64;
    }
    if stop_after.is_some() {
        return Ok(None);
    }
    let digest = format!("sha256:{}", hex(&hasher.finalize()));
    let mut state = shared.state.lock().unwrap();
    // The asset may have been deleted while its bytes came.
    let Some(release) = state.releases.iter_mut().find(|r| Some(r.id) == release_id) else {
        return Ok(Some(Answer::message(404, "Not Found")));
    };
    let Some(asset) = release.assets.iter_mut().find(|a| a.id == asset_id) else {
        return Ok(Some(Answer::message(404, "Not Found")));
    };
    asset.state = AssetState::Uploaded;
    asset.size = len;
    asset.digest = Some(digest);
    let asset = asset.clone();
    let release = release.clone();
    Ok(Some(Answer::json(
        201,
        &asset_json(&release, &asset, shared),
    )))
}

/// The objects host: serves an asset's bytes and notes whether `Authorization` came along.
fn object(
    req: &Req,
    seg: &[String],
    stream: &mut TcpStream,
    shared: &Shared,
) -> std::io::Result<bool> {
    let id = seg[1].parse::<u64>().ok();
    let known = {
        let mut state = shared.state.lock().unwrap();
        if req.authorization.is_some() {
            state.redirect_saw_authorization = true;
        }
        state
            .releases
            .iter()
            .flat_map(|r| r.assets.iter())
            .any(|a| Some(a.id) == id && a.state == AssetState::Uploaded)
    };
    let file = known
        .then(|| std::fs::File::open(shared.dir.join(id.unwrap_or(0).to_string())).ok())
        .flatten();
    let Some(mut file) = file else {
        write_answer(stream, Host::Objects, shared, &Answer::empty(404), None)?;
        return Ok(true);
    };
    let len = file.metadata()?.len();
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {len}\r\n\r\n"
    )?;
    std::io::copy(&mut file, stream)?;
    Ok(true)
}
