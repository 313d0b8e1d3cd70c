//! A small OCI registry on 127.0.0.1:<free port> that misbehaves on demand, for what
//! Debian's real one (support/registry.rs) never does. Without a [`Behaviour`] it is a
//! minimal in-memory registry (distribution API): `GET /v2/`; blob `HEAD` and `GET`;
//! uploads started by `POST /v2/REPO/blobs/uploads/` (`202` with a relative
//! `Location`, or `201` for a monolithic `POST ?digest=` with the bytes), fed by
//! `PATCH` and finished by `PUT …?digest=` (the digest checked); manifests `PUT` by
//! tag or digest (every blob it names must be there) and read by `GET` and `HEAD`;
//! tag lists (paginated with `n` and `last`, and a `Link`, when asked).
//!
//! The behaviours, any of which combine:
//! - [`Behaviour::WrongDigest`]: a manifest `PUT` is stored but answered with the
//!   `Docker-Content-Digest` of other bytes;
//! - [`Behaviour::TooManyRequests`]: `429` with `Retry-After: 1` on the first N calls
//!   of a [`Route`];
//! - [`Behaviour::Bearer`]: every `/v2/` call without `Authorization: Bearer <TOKEN>`
//!   is answered `401` with `WWW-Authenticate: Bearer realm="http://127.0.0.1:PORT/token",service="test",scope="repository:REPO:pull,push"`
//!   (no scope for `/v2/` itself); `GET /token` answers `{"token": TOKEN}` to the
//!   right Basic credentials, else `401`;
//! - [`Behaviour::TokenRefused`]: the same challenge, and the token endpoint answers
//!   `401` to everyone;
//! - [`Behaviour::RangeNotSatisfiable`]: `416` to every blob `PATCH`;
//! - [`Behaviour::ManyTags`]: every tag list holds that many more tags,
//!   `0.0.0`, `0.0.1`, … `0.0.99`, `0.1.0`, … (all semver, all below `1.0.0`);
//! - [`Behaviour::BearerRealm`]: the Bearer challenge names this realm instead of
//!   its own `/token` (whose endpoint then refuses everyone);
//! - [`Behaviour::ServerError`]: `500` to every call of a [`Route`];
//! - [`Behaviour::UploadState`]: upload `Location`s carry `?_state=` [`UPLOAD_STATE`]
//!   as Debian's registry's do.
//!
//! Every request is recorded ([`Request`]): its method, path and route, and the
//! scheme of its `Authorization` header, never the value. The listener polls without
//! blocking and stops when the server is dropped or after [`LIFETIME`], whichever
//! comes first; its connection threads stop with it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use super::registry::sha256_digest;

/// No server lives longer than this, even if a test forgets it.
pub const LIFETIME: Duration = Duration::from_secs(120);

/// The token the token endpoint hands out to the right credentials.
pub const TOKEN: &str = "hostile-registry-token-7c1e9a";

/// The `service` of the Bearer challenge.
pub const SERVICE: &str = "test";

/// The `_state` of upload `Location`s with [`Behaviour::UploadState`].
pub const UPLOAD_STATE: &str = "hostile-upload-state-91f3";

/// Request bodies larger than this are refused with 413.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// A route of the registry, for faults and assertions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// `GET /v2/`
    Base,
    /// `GET /token` (the Bearer realm)
    Token,
    /// `HEAD /v2/REPO/blobs/DIGEST`
    BlobHead,
    /// `GET /v2/REPO/blobs/DIGEST`
    BlobGet,
    /// `POST /v2/REPO/blobs/uploads/`
    UploadStart,
    /// `PATCH /v2/REPO/blobs/uploads/ID`
    UploadPatch,
    /// `PUT /v2/REPO/blobs/uploads/ID?digest=`
    UploadPut,
    /// `HEAD /v2/REPO/manifests/REFERENCE`
    ManifestHead,
    /// `GET /v2/REPO/manifests/REFERENCE`
    ManifestGet,
    /// `PUT /v2/REPO/manifests/REFERENCE`
    ManifestPut,
    /// `GET /v2/REPO/tags/list`
    TagList,
}

/// How the registry misbehaves.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// A manifest `PUT` answers the `Docker-Content-Digest` of other bytes.
    WrongDigest,
    /// The first `first` calls of `route` are answered `429` with `Retry-After: 1`.
    TooManyRequests { route: Route, first: usize },
    /// The Bearer token flow, the token handed out for these Basic credentials.
    Bearer { username: String, password: String },
    /// A Bearer challenge whose token endpoint answers 401 to every request.
    TokenRefused,
    /// `416 Range Not Satisfiable` to every blob `PATCH`.
    RangeNotSatisfiable,
    /// Every tag list holds this many more tags (`0.{i / 100}.{i % 100}`).
    ManyTags(usize),
    /// A Bearer challenge naming this realm (the token endpoint refuses everyone).
    BearerRealm(String),
    /// The Bearer flow for an identity token: `POST /token` with the form
    /// `grant_type=refresh_token&refresh_token=<this>` answers the token
    /// (`{"access_token": TOKEN}`, as registries that take refresh tokens do); a `GET`
    /// is refused.
    IdentityToken(String),
    /// `500 Internal Server Error` to every call of the route.
    ServerError(Route),
    /// Upload `Location`s carry `?_state=` [`UPLOAD_STATE`].
    UploadState,
}

/// A request the registry received. The `Authorization` value is never stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    pub route: Option<Route>,
    /// The scheme of its `Authorization` header (`Basic`, `Bearer`), if it had one.
    pub authorization: Option<String>,
}

#[derive(Default)]
struct State {
    /// Blobs by digest (shared by all repositories).
    blobs: HashMap<String, Vec<u8>>,
    /// Uploads in progress by id.
    uploads: HashMap<String, Vec<u8>>,
    next_upload: u64,
    /// Manifests by `(repository, digest)`: media type and bytes.
    manifests: HashMap<(String, String), (String, Vec<u8>)>,
    /// Tags by `(repository, tag)`: the manifest digest.
    tags: BTreeMap<(String, String), String>,
    /// Repositories that were written to.
    repos: BTreeSet<String>,
    requests: Vec<Request>,
    calls: HashMap<Route, usize>,
}

struct Shared {
    port: u16,
    behaviours: Vec<Behaviour>,
    state: Mutex<State>,
    /// Set when the registry is dropped.
    stop: AtomicBool,
    born: Instant,
}

impl Shared {
    /// Until the registry is dropped, for [`LIFETIME`] at most.
    fn alive(&self) -> bool {
        self.born.elapsed() < LIFETIME && !self.stop.load(Ordering::Relaxed)
    }

    /// Whether a Bearer token is required ([`Behaviour::Bearer`] or
    /// [`Behaviour::TokenRefused`]), and the Basic credentials the token endpoint
    /// takes (none with [`Behaviour::TokenRefused`]).
    fn bearer(&self) -> (bool, Option<(&str, &str)>) {
        let refused = self.has(|b| {
            matches!(
                b,
                Behaviour::TokenRefused | Behaviour::BearerRealm(_) | Behaviour::IdentityToken(_)
            )
        });
        let credentials = self.behaviours.iter().find_map(|b| match b {
            Behaviour::Bearer { username, password } => {
                Some((username.as_str(), password.as_str()))
            }
            _ => None,
        });
        (
            refused || credentials.is_some(),
            credentials.filter(|_| !refused),
        )
    }

    fn has(&self, which: impl Fn(&Behaviour) -> bool) -> bool {
        self.behaviours.iter().any(which)
    }

    /// The realm of the Bearer challenge.
    fn realm(&self) -> String {
        self.behaviours
            .iter()
            .find_map(|b| match b {
                Behaviour::BearerRealm(realm) => Some(realm.clone()),
                _ => None,
            })
            .unwrap_or_else(|| format!("http://127.0.0.1:{}/token", self.port))
    }

    /// An upload `Location`: with `?_state=` under [`Behaviour::UploadState`].
    fn upload_location(&self, repo: &str, id: &str) -> String {
        let location = format!("/v2/{repo}/blobs/uploads/{id}");
        if self.has(|b| matches!(b, Behaviour::UploadState)) {
            format!("{location}?_state={UPLOAD_STATE}")
        } else {
            location
        }
    }
}

/// A running registry; stops when dropped.
pub struct HostileRegistry {
    pub port: u16,
    shared: Arc<Shared>,
}

impl HostileRegistry {
    /// A registry that behaves (a minimal in-memory registry).
    pub fn plain() -> HostileRegistry {
        HostileRegistry::start(&[])
    }

    /// A registry with these behaviours.
    pub fn start(behaviours: &[Behaviour]) -> HostileRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            port,
            behaviours: behaviours.to_vec(),
            state: Mutex::new(State::default()),
            stop: AtomicBool::new(false),
            born: Instant::now(),
        });
        let accepting = shared.clone();
        thread::spawn(move || {
            while accepting.alive() {
                let Ok((stream, _)) = listener.accept() else {
                    thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let connection = accepting.clone();
                thread::spawn(move || {
                    let _ = serve(stream, &connection);
                });
            }
        });
        HostileRegistry { port, shared }
    }

    /// `127.0.0.1:PORT`, the registry part of a reference.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT/PATH`.
    pub fn url(&self, path: &str) -> String {
        super::http::loopback_url(self.port, path)
    }

    /// The requests received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.state.lock().unwrap().requests.clone()
    }

    /// The route of each request received so far that took one, in order.
    pub fn routes(&self) -> Vec<Route> {
        self.requests().iter().filter_map(|r| r.route).collect()
    }

    /// How many requests took `route`.
    pub fn calls(&self, route: Route) -> usize {
        self.routes().iter().filter(|r| **r == route).count()
    }

    /// The tags of `repo` it holds (the [`Behaviour::ManyTags`] ones aside), sorted.
    pub fn tags(&self, repo: &str) -> Vec<String> {
        let state = self.shared.state.lock().unwrap();
        state
            .tags
            .keys()
            .filter(|(r, _)| r == repo)
            .map(|(_, tag)| tag.clone())
            .collect()
    }

    /// The bytes of the manifest `repo:reference` (a tag or a digest), if it has it.
    pub fn manifest(&self, repo: &str, reference: &str) -> Option<Vec<u8>> {
        let state = self.shared.state.lock().unwrap();
        resolve(&state, repo, reference).map(|(_, (_, bytes))| bytes.clone())
    }

    /// The bytes of a blob, if it has it.
    pub fn blob(&self, digest: &str) -> Option<Vec<u8>> {
        self.shared.state.lock().unwrap().blobs.get(digest).cloned()
    }
}

impl Drop for HostileRegistry {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

/// The digest and the manifest of `repo:reference` (a tag or a digest).
fn resolve<'s>(
    state: &'s State,
    repo: &str,
    reference: &str,
) -> Option<(String, &'s (String, Vec<u8>))> {
    let digest = if reference.starts_with("sha256:") {
        reference.to_owned()
    } else {
        state
            .tags
            .get(&(repo.to_owned(), reference.to_owned()))?
            .clone()
    };
    let manifest = state.manifests.get(&(repo.to_owned(), digest.clone()))?;
    Some((digest, manifest))
}

/// A request's head as read from the connection.
struct Head {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(&*self.target, |(p, _)| p)
    }

    /// A query parameter, percent-decoded.
    fn query(&self, key: &str) -> Option<String> {
        let (_, query) = self.target.split_once('?')?;
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }
}

/// Reads a line; `None` at the end of the connection or when the server stops.
fn line(reader: &mut impl BufRead, shared: &Shared) -> std::io::Result<Option<String>> {
    let mut bytes = Vec::new();
    while shared.alive() {
        match reader.read_until(b'\n', &mut bytes) {
            Ok(0) if bytes.is_empty() => return Ok(None),
            Ok(_) => return Ok(Some(String::from_utf8_lossy(&bytes).trim_end().to_owned())),
            Err(e) if waiting(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

fn waiting(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

fn read_head(reader: &mut impl BufRead, shared: &Shared) -> std::io::Result<Option<Head>> {
    let Some(request_line) = line(reader, shared)? else {
        return Ok(None);
    };
    let mut words = request_line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or("/"));
    let mut headers = Vec::new();
    while let Some(header) = line(reader, shared)?.filter(|h| !h.is_empty()) {
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    Ok(Some(Head {
        method: method.to_owned(),
        target: target.to_owned(),
        headers,
    }))
}

/// Fills `buf` from the connection; false when it ended first.
fn fill(reader: &mut impl Read, buf: &mut [u8], shared: &Shared) -> std::io::Result<bool> {
    let mut done = 0;
    while done < buf.len() && shared.alive() {
        match reader.read(&mut buf[done..]) {
            Ok(0) => return Ok(false),
            Ok(n) => done += n,
            Err(e) if waiting(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done == buf.len())
}

/// The body, by `Content-Length` or chunked; `None` when it is too large or cut.
fn read_body(
    reader: &mut impl BufRead,
    head: &Head,
    shared: &Shared,
) -> std::io::Result<Option<Vec<u8>>> {
    let chunked = head
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    if !chunked {
        let len: usize = head
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if len > MAX_BODY {
            return Ok(None);
        }
        let mut body = vec![0u8; len];
        return Ok(fill(reader, &mut body, shared)?.then_some(body));
    }
    let mut body = Vec::new();
    loop {
        let Some(size) = line(reader, shared)? else {
            return Ok(None);
        };
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| std::io::Error::other("bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the blank line.
            while line(reader, shared)?.is_some_and(|l| !l.is_empty()) {}
            return Ok(Some(body));
        }
        if body.len() + size > MAX_BODY {
            return Ok(None);
        }
        let start = body.len();
        body.resize(start + size + 2, 0);
        if !fill(reader, &mut body[start..], shared)? {
            return Ok(None);
        }
        body.truncate(start + size);
    }
}

/// Whether the connection opens with a TLS handshake record (a client that tries
/// HTTPS first, as skopeo does without `--tls-verify`).
fn starts_tls(reader: &mut impl BufRead, shared: &Shared) -> std::io::Result<bool> {
    while shared.alive() {
        match reader.fill_buf() {
            Ok(bytes) => return Ok(bytes.first() == Some(&0x16)),
            Err(e) if waiting(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

fn serve(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    if starts_tls(&mut reader, shared)? {
        // A plain answer, so that a client trying TLS first falls back at once.
        stream.write_all(
            b"HTTP/1.0 400 Bad Request\r\n\r\nThis registry speaks plain HTTP, not TLS.\n",
        )?;
        return Ok(());
    }
    while let Some(head) = read_head(&mut reader, shared)? {
        let answer = if let Some(body) = read_body(&mut reader, &head, shared)? {
            handle(&head, &body, shared)
        } else {
            record(&head, None, shared);
            Answer::error(413, "SIZE_INVALID", "the body is too large or was cut")
        };
        let mut bytes = format!(
            "HTTP/1.1 {} {}\r\nContent-Length: {}\r\n",
            answer.status,
            reqwest::StatusCode::from_u16(answer.status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Status"),
            answer.body.len()
        );
        for (name, value) in &answer.headers {
            bytes += &format!("{name}: {value}\r\n");
        }
        bytes += "\r\n";
        stream.write_all(bytes.as_bytes())?;
        if head.method != "HEAD" {
            stream.write_all(&answer.body)?;
        }
        stream.flush()?;
        if answer.status == 413 {
            return Ok(());
        }
    }
    Ok(())
}

/// An answer: status, headers, body (not sent to a `HEAD`, its length still
/// announced).
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn new(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn json(status: u16, value: &Value) -> Answer {
        let mut answer = Answer::new(status).with("Content-Type", "application/json");
        answer.body = serde_json::to_vec(value).unwrap();
        answer
    }

    /// The distribution API's error body.
    fn error(status: u16, code: &str, message: &str) -> Answer {
        Answer::json(
            status,
            &json!({"errors": [{"code": code, "message": message}]}),
        )
    }

    fn with(mut self, name: &str, value: impl Into<String>) -> Answer {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

/// The route of a path, with its repository and the rest (digest, reference, upload
/// id).
fn route(method: &str, path: &str) -> Option<(Route, String, String)> {
    if (method == "GET" || method == "POST") && path == "/token" {
        return Some((Route::Token, String::new(), String::new()));
    }
    let rest = path.strip_prefix("/v2/")?;
    if rest.is_empty() {
        return (method == "GET").then(|| (Route::Base, String::new(), String::new()));
    }
    let split = |marker: &str| {
        rest.rfind(marker)
            .map(|at| (rest[..at].to_owned(), rest[at + marker.len()..].to_owned()))
    };
    let (route, (repo, tail)) = if let Some(repo) = rest.strip_suffix("/tags/list") {
        (Route::TagList, (repo.to_owned(), String::new()))
    } else if let Some(parts) = split("/manifests/") {
        let route = match method {
            "HEAD" => Route::ManifestHead,
            "GET" => Route::ManifestGet,
            "PUT" => Route::ManifestPut,
            _ => return None,
        };
        (route, parts)
    } else if let Some(parts) = split("/blobs/uploads/").or_else(|| {
        rest.strip_suffix("/blobs/uploads")
            .map(|repo| (repo.to_owned(), String::new()))
    }) {
        let route = match (method, parts.1.is_empty()) {
            ("POST", true) => Route::UploadStart,
            ("PATCH", false) => Route::UploadPatch,
            ("PUT", false) => Route::UploadPut,
            _ => return None,
        };
        (route, parts)
    } else {
        let parts = split("/blobs/")?;
        let route = match method {
            "HEAD" => Route::BlobHead,
            "GET" => Route::BlobGet,
            _ => return None,
        };
        (route, parts)
    };
    (!repo.is_empty()).then_some((route, repo, tail))
}

/// Records a request; returns how many calls its route has had, this one included.
fn record(head: &Head, route: Option<Route>, shared: &Shared) -> usize {
    let scheme = head
        .header("authorization")
        .map(|v| v.split_whitespace().next().unwrap_or("").to_owned());
    let mut state = shared.state.lock().unwrap();
    state.requests.push(Request {
        method: head.method.clone(),
        path: head.target.clone(),
        route,
        authorization: scheme,
    });
    route.map_or(0, |route| {
        let calls = state.calls.entry(route).or_default();
        *calls += 1;
        *calls
    })
}

fn handle(head: &Head, body: &[u8], shared: &Shared) -> Answer {
    let Some((route, repo, tail)) = route(&head.method, head.path()) else {
        record(head, None, shared);
        return Answer::error(404, "NOT_FOUND", "no such route");
    };
    let calls = record(head, Some(route), shared);
    let limited = shared.behaviours.iter().any(|b| {
        matches!(b, Behaviour::TooManyRequests { route: r, first } if *r == route && calls <= *first)
    });
    if limited {
        return Answer::error(429, "TOOMANYREQUESTS", "too many requests").with("Retry-After", "1");
    }
    if shared.has(|b| matches!(b, Behaviour::ServerError(r) if *r == route)) {
        return Answer::error(500, "UNKNOWN", "internal server error");
    }
    let (token_required, credentials) = shared.bearer();
    if route == Route::Token {
        let refresh = shared.behaviours.iter().find_map(|b| match b {
            Behaviour::IdentityToken(t) => Some(t.as_str()),
            _ => None,
        });
        return match refresh {
            Some(expected) => refresh_token(head, body, expected),
            None => token(head, credentials),
        };
    }
    let bearer = format!("Bearer {TOKEN}");
    if token_required && head.header("authorization") != Some(&bearer) {
        let mut challenge = format!("Bearer realm=\"{}\",service=\"{SERVICE}\"", shared.realm());
        if !repo.is_empty() {
            challenge += &format!(",scope=\"repository:{repo}:pull,push\"");
        }
        return Answer::error(401, "UNAUTHORIZED", "authentication required")
            .with("WWW-Authenticate", challenge);
    }
    let mut state = shared.state.lock().unwrap();
    match route {
        Route::Base | Route::Token => Answer::json(200, &json!({})),
        Route::BlobHead | Route::BlobGet => match state.blobs.get(&tail) {
            Some(bytes) => {
                let mut answer = Answer::new(200)
                    .with("Content-Type", "application/octet-stream")
                    .with("Docker-Content-Digest", tail.clone());
                answer.body.clone_from(bytes);
                answer
            }
            None => Answer::error(404, "BLOB_UNKNOWN", "blob unknown to registry"),
        },
        Route::UploadStart => upload_start(&mut state, shared, head, &repo, body),
        Route::UploadPatch | Route::UploadPut => {
            if route == Route::UploadPatch
                && shared.has(|b| matches!(b, Behaviour::RangeNotSatisfiable))
            {
                return Answer::error(416, "BLOB_UPLOAD_INVALID", "range not satisfiable");
            }
            let Some(upload) = state.uploads.get_mut(&tail) else {
                return Answer::error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown");
            };
            upload.extend_from_slice(body);
            let len = upload.len();
            if route == Route::UploadPatch {
                return Answer::new(202)
                    .with("Location", shared.upload_location(&repo, &tail))
                    .with("Range", format!("0-{}", len.saturating_sub(1)))
                    .with("Docker-Upload-UUID", tail);
            }
            let bytes = state.uploads.remove(&tail).unwrap_or_default();
            store_blob(&mut state, &repo, head.query("digest").as_deref(), bytes)
        }
        Route::ManifestPut => put_manifest(&mut state, shared, head, &repo, &tail, body),
        Route::ManifestHead | Route::ManifestGet => match resolve(&state, &repo, &tail) {
            Some((digest, (media_type, bytes))) => {
                let mut answer = Answer::new(200)
                    .with("Content-Type", media_type.clone())
                    .with("Docker-Content-Digest", digest);
                answer.body.clone_from(bytes);
                answer
            }
            None => Answer::error(404, "MANIFEST_UNKNOWN", "manifest unknown"),
        },
        Route::TagList => tag_list(&state, shared, head, &repo),
    }
}

/// The token endpoint for an identity token: a `POST` of the OAuth2 refresh-token
/// form holding `expected`, else 401.
fn refresh_token(head: &Head, body: &[u8], expected: &str) -> Answer {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let field = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    if head.method == "POST"
        && field("grant_type") == Some("refresh_token")
        && field("refresh_token") == Some(expected)
        && field("scope").is_some()
    {
        Answer::json(200, &json!({"access_token": TOKEN}))
    } else {
        Answer::error(401, "UNAUTHORIZED", "the refresh token was refused")
    }
}

/// The token endpoint: the token for the right Basic credentials, else 401.
fn token(head: &Head, credentials: Option<(&str, &str)>) -> Answer {
    let sent = head
        .header("authorization")
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| {
            base64::engine::general_purpose::STANDARD
                .decode(v.trim())
                .ok()
        })
        .map(|v| String::from_utf8_lossy(&v).into_owned());
    match credentials {
        Some((user, password)) if sent.as_deref() == Some(&*format!("{user}:{password}")) => {
            Answer::json(200, &json!({"token": TOKEN}))
        }
        _ => Answer::error(401, "UNAUTHORIZED", "the credentials were refused"),
    }
}

fn upload_start(
    state: &mut State,
    shared: &Shared,
    head: &Head,
    repo: &str,
    body: &[u8],
) -> Answer {
    state.repos.insert(repo.to_owned());
    if let Some(digest) = head.query("digest") {
        return store_blob(state, repo, Some(&digest), body.to_vec());
    }
    state.next_upload += 1;
    let id = format!("upload-{}", state.next_upload);
    state.uploads.insert(id.clone(), Vec::new());
    Answer::new(202)
        .with("Location", shared.upload_location(repo, &id))
        .with("Range", "0-0")
        .with("Docker-Upload-UUID", id)
}

/// Stores a finished upload when its bytes match `digest`.
fn store_blob(state: &mut State, repo: &str, digest: Option<&str>, bytes: Vec<u8>) -> Answer {
    let Some(digest) = digest else {
        return Answer::error(400, "DIGEST_INVALID", "no digest= in the query");
    };
    if sha256_digest(&bytes) != digest {
        return Answer::error(400, "DIGEST_INVALID", "the bytes do not match digest=");
    }
    state.blobs.insert(digest.to_owned(), bytes);
    Answer::new(201)
        .with("Location", format!("/v2/{repo}/blobs/{digest}"))
        .with("Docker-Content-Digest", digest)
}

fn put_manifest(
    state: &mut State,
    shared: &Shared,
    head: &Head,
    repo: &str,
    reference: &str,
    body: &[u8],
) -> Answer {
    let digest = sha256_digest(body);
    if reference.starts_with("sha256:") && reference != digest {
        return Answer::error(400, "DIGEST_INVALID", "the bytes do not match the digest");
    }
    let Ok(manifest) = serde_json::from_slice::<Value>(body) else {
        return Answer::error(400, "MANIFEST_INVALID", "not JSON");
    };
    let named = std::iter::once(&manifest["config"])
        .chain(manifest["layers"].as_array().into_iter().flatten())
        .filter_map(|d| d["digest"].as_str());
    if let Some(missing) = named.into_iter().find(|d| !state.blobs.contains_key(*d)) {
        return Answer::error(400, "MANIFEST_BLOB_UNKNOWN", missing);
    }
    let media_type = head
        .header("content-type")
        .unwrap_or("application/vnd.oci.image.manifest.v1+json")
        .to_owned();
    state.repos.insert(repo.to_owned());
    state.manifests.insert(
        (repo.to_owned(), digest.clone()),
        (media_type, body.to_vec()),
    );
    if !reference.starts_with("sha256:") {
        state
            .tags
            .insert((repo.to_owned(), reference.to_owned()), digest.clone());
    }
    let answered = if shared.has(|b| matches!(b, Behaviour::WrongDigest)) {
        sha256_digest(b"not the manifest that was sent")
    } else {
        digest.clone()
    };
    Answer::new(201)
        .with("Location", format!("/v2/{repo}/manifests/{digest}"))
        .with("Docker-Content-Digest", answered)
}

fn tag_list(state: &State, shared: &Shared, head: &Head, repo: &str) -> Answer {
    let many = shared
        .behaviours
        .iter()
        .find_map(|b| match b {
            Behaviour::ManyTags(n) => Some(*n),
            _ => None,
        })
        .unwrap_or(0);
    if many == 0 && !state.repos.contains(repo) {
        return Answer::error(404, "NAME_UNKNOWN", "repository name not known to registry");
    }
    let mut tags: Vec<String> = (0..many)
        .map(|i| format!("0.{}.{}", i / 100, i % 100))
        .chain(
            state
                .tags
                .keys()
                .filter(|(r, _)| r == repo)
                .map(|(_, t)| t.clone()),
        )
        .collect();
    tags.sort();
    tags.dedup();
    if let Some(last) = head.query("last") {
        tags.retain(|t| *t > last);
    }
    let mut link = None;
    if let Some(n) = head.query("n").and_then(|n| n.parse::<usize>().ok())
        && tags.len() > n
    {
        tags.truncate(n);
        link = Some(format!(
            "</v2/{repo}/tags/list?n={n}&last={}>; rel=\"next\"",
            tags.last().map_or("", String::as_str)
        ));
    }
    let answer = Answer::json(200, &json!({"name": repo, "tags": tags}));
    match link {
        Some(link) => answer.with("Link", link),
        None => answer,
    }
}
