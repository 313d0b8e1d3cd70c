//! The one HTTP client of the process, and what every remote shares: the retry
//! policy, credentials that go only to their own hosts, redirects checked hop by hop,
//! `-v` traces without secrets, and [`RemoteError`] (exit 3).
//!
//! Redirects are followed here, not inside reqwest, so that each hop is checked by the
//! URL rules of SPEC 2.1, traced, and sent without any credential: a token goes only
//! to the origins it was given for, never to a redirect target.

use std::io::Read;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::manifest::fields::{check_url, without_userinfo};
use crate::text::{cap, code};

/// A token or password. Its value has no `Debug` or `Display`; it is read only to
/// build the header that carries it, which is marked sensitive.
pub struct Secret(zeroize::Zeroizing<String>);

impl Secret {
    /// Wraps a value read from the environment or a credentials file.
    pub fn new(value: String) -> Secret {
        Secret(zeroize::Zeroizing::new(value))
    }

    /// The value, for the one place that sends it (a header, a token request's
    /// form body).
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `text` holds the value: for checks that output never leaks it.
    pub fn is_in(&self, text: &str) -> bool {
        !self.0.is_empty() && text.contains(self.expose())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// How a credential is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// `Authorization: Basic base64(<username>:<password>)`.
    Basic {
        /// The user name (not secret).
        username: String,
    },
}

/// A secret, where it came from, and the origins it may be sent to.
#[derive(Debug)]
pub struct Credential {
    /// Where the secret was read, as the user names it (`GH_TOKEN`): what an error
    /// about it says.
    pub source: String,
    secret: Secret,
    scheme: Scheme,
    origins: Vec<url::Origin>,
}

impl Credential {
    /// A credential for the origins of `urls` (scheme, host and port).
    pub fn new(source: impl Into<String>, secret: Secret, scheme: Scheme) -> Credential {
        Credential {
            source: source.into(),
            secret,
            scheme,
            origins: Vec::new(),
        }
    }

    /// Allows sending it to `url`'s origin too.
    pub fn allow(&mut self, url: &url::Url) {
        let origin = url.origin();
        if !self.origins.contains(&origin) {
            self.origins.push(origin);
        }
    }

    /// Whether it may go to `url`.
    pub fn belongs_to(&self, url: &url::Url) -> bool {
        self.origins.contains(&url.origin())
    }

    /// Whether `text` holds the secret.
    pub fn leaks_into(&self, text: &str) -> bool {
        self.secret.is_in(text)
    }

    fn header(&self) -> Option<HeaderValue> {
        use base64::Engine as _;
        let text = match &self.scheme {
            Scheme::Bearer => format!("Bearer {}", self.secret.expose()),
            Scheme::Basic { username } => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{}", self.secret.expose()))
            ),
        };
        let mut value = HeaderValue::from_str(&text).ok()?;
        value.set_sensitive(true);
        Some(value)
    }
}

/// The retry policy shared by every remote.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Attempts in all.
    pub attempts: u32,
    /// The first pause.
    pub initial: Duration,
    /// Each pause is the one before times this.
    pub factor: u32,
    /// No pause is longer than this after doubling.
    pub max_pause: Duration,
    /// The longest wait for a rate limit to end; a longer one fails at once and says
    /// when to try again.
    pub max_rate_wait: Duration,
    /// How long one request may wait for its answer (and each read of its body).
    pub timeout: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            attempts: 4,
            initial: Duration::from_millis(200),
            factor: 2,
            max_pause: Duration::from_secs(60),
            max_rate_wait: Duration::from_secs(300),
            timeout: Duration::from_secs(30),
        }
    }
}

impl Policy {
    /// The pause before the next attempt: the previous one times the factor (the
    /// initial pause first), at least what the server asked for, at most the cap.
    /// Pure, so the policy is tested without sleeping.
    pub fn next_pause(&self, previous: Option<Duration>, asked: Option<Duration>) -> Duration {
        let grown = previous.map_or(self.initial, |p| p.saturating_mul(self.factor));
        grown.max(asked.unwrap_or_default()).min(self.max_pause)
    }
}

/// GitHub's advice for a secondary rate limit without `retry-after`: wait a minute.
pub const SECONDARY_RATE_WAIT: Duration = Duration::from_secs(60);

/// Why a remote call failed, after retries. Exit 3.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// 404 or 410.
    #[error("{what} was not found ({status} from `{url}`)")]
    NotFound {
        /// What was asked for.
        what: String,
        /// The status.
        status: StatusCode,
        /// The URL as shown.
        url: String,
    },
    /// Another status; the server's message escaped and cut.
    #[error("{what}: `{url}` answered {status}{}", message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Status {
        /// What was asked for.
        what: String,
        /// The status.
        status: StatusCode,
        /// The URL as shown.
        url: String,
        /// The server's `message`, escaped and cut.
        message: Option<String>,
    },
    /// 401 or 403 that is no rate limit: the credential is missing, wrong or short of
    /// a permission.
    #[error("{what}: `{url}` answered {status}{}; {advice}", message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Denied {
        /// What was asked for.
        what: String,
        /// The status.
        status: StatusCode,
        /// The URL as shown.
        url: String,
        /// The server's message.
        message: Option<String>,
        /// What to do, naming the credential's source but never its value.
        advice: String,
    },
    /// A rate limit that would end too late to wait for.
    #[error("{what}: rate limited by `{url}` ({status}{}); {when}", message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    RateLimited {
        /// What was asked for.
        what: String,
        /// The status.
        status: StatusCode,
        /// The URL as shown.
        url: String,
        /// The server's message.
        message: Option<String>,
        /// When to try again.
        when: String,
        /// How long until the limit ends.
        wait: Duration,
    },
    /// No answer: connection refused or reset, timeout, a body cut short.
    #[error("{what}: cannot reach `{url}`: {message}")]
    Transport {
        /// What was asked for.
        what: String,
        /// The URL as shown.
        url: String,
        /// What went wrong, without the URL's query.
        message: String,
        /// The request's timeout ran out.
        timed_out: bool,
    },
    /// A redirect the URL rules refuse, or too many.
    #[error("{what}: {refusal}")]
    Redirect {
        /// What was asked for.
        what: String,
        /// Which hop and why.
        refusal: Refusal,
    },
    /// An answer otactl cannot read.
    #[error("{what}: `{url}` answered something otactl cannot read: {message}")]
    Unreadable {
        /// What was asked for.
        what: String,
        /// The URL as shown.
        url: String,
        /// Why.
        message: String,
    },
}

impl RemoteError {
    /// Whether this is a 404/410.
    pub fn is_not_found(&self) -> bool {
        matches!(self, RemoteError::NotFound { .. })
    }

    /// Whether the request may have reached the server and taken effect: a
    /// transport failure or a 5xx after the request was sent.
    pub fn is_uncertain(&self) -> bool {
        match self {
            RemoteError::Transport { .. } | RemoteError::Unreadable { .. } => true,
            RemoteError::Status { status, .. } => status.is_server_error(),
            _ => false,
        }
    }
}

impl From<RemoteError> for crate::error::Error {
    fn from(e: RemoteError) -> Self {
        crate::error::Error::Remote {
            message: e.to_string(),
        }
    }
}

/// A redirect otactl does not follow.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Refusal {
    /// The next hop breaks the URL rules of SPEC 2.1.
    #[error(
        "redirect {hop} leads to `{shown}`, which the URL rules refuse: {reason}; otactl did not follow it"
    )]
    Hop {
        /// The hop's number, from 1.
        hop: usize,
        /// The next URL as shown.
        shown: String,
        /// Why the rules refuse it.
        reason: String,
    },
    /// More than [`MAX_REDIRECTS`].
    #[error(
        "more than {MAX_REDIRECTS} redirects (the last to `{shown}`); otactl did not follow it"
    )]
    TooMany {
        /// The last URL as shown.
        shown: String,
    },
    /// A 3xx without a usable `Location`.
    #[error("redirect {hop} ({status}) has no `Location` otactl can read")]
    NoLocation {
        /// The hop's number, from 1.
        hop: usize,
        /// The status.
        status: StatusCode,
    },
}

/// Whether a redirect may lead to `url`: the rules of `artifact.url` (SPEC 2.1), and
/// only over HTTP. The reason never holds the user, password or query of `url`.
pub fn check_hop(url: &url::Url) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(
            "a redirect may lead only to `https://`, or `http://` on a loopback host".into(),
        );
    }
    check_url(url.as_str(), None).map_err(|reason| {
        // The rules' reasons may start with the URL itself; the hop is named apart.
        let quoted = format!("{} ", code(without_userinfo(url.as_str())));
        let reason = reason.strip_prefix(&quoted).unwrap_or(&reason);
        format!("it {}", reason.replace(url.as_str(), &shown(url)))
    })
}

/// A URL as printed: no user, password, query or fragment, at most 200 characters.
pub fn shown(url: &url::Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    crate::text::cap(url.as_str()).into_owned()
}

/// The time a streamed upload of `len` bytes may take: 5 minutes plus 256 KiB/s.
pub fn upload_timeout(len: u64) -> Duration {
    Duration::from_secs(300 + len / (256 * 1024))
}

/// What a streamed upload hashed and counted as it was sent.
pub struct HashedUpload {
    state: Arc<std::sync::Mutex<(sha2::Sha256, u64)>>,
    len: u64,
}

impl HashedUpload {
    /// The body of an upload of `len` bytes of `source`, hashed and reported as it
    /// is read, and the handle that gives its hash afterwards.
    pub fn body(
        source: impl Read + Send + 'static,
        len: u64,
        reporter: &Arc<dyn crate::progress::Reporter>,
    ) -> (Body, HashedUpload) {
        let state = Arc::new(std::sync::Mutex::new((sha2::Sha256::default(), 0)));
        let reader = HashingSource {
            inner: std::io::BufReader::with_capacity(1 << 20, source),
            state: state.clone(),
            reporter: reporter.clone(),
        };
        (
            Body::Stream(Box::new(reader), len),
            HashedUpload { state, len },
        )
    }

    /// The SHA-256 (hex) of what was sent, when all `len` bytes were read.
    pub fn sha256(&self) -> Option<String> {
        use sha2::Digest as _;
        let (hasher, read) = self.state.lock().ok()?.clone();
        (read == self.len).then(|| crate::hash::to_hex(&hasher.finalize()))
    }
}

struct HashingSource<R> {
    inner: R,
    state: Arc<std::sync::Mutex<(sha2::Sha256, u64)>>,
    reporter: Arc<dyn crate::progress::Reporter>,
}

impl<R: Read> Read for HashingSource<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use sha2::Digest as _;
        let n = self.inner.read(buf)?;
        if let Ok(mut state) = self.state.lock() {
            state.0.update(&buf[..n]);
            state.1 += n as u64;
        }
        self.reporter.advance(n as u64);
        Ok(n)
    }
}

/// Where `-v` traces go.
pub type Trace = Arc<dyn Fn(&str) + Send + Sync>;

/// A request body: bytes that can be sent again, or a stream sent once.
pub enum Body {
    /// JSON and other small bodies.
    Bytes(Vec<u8>),
    /// A file or another stream of a known length.
    Stream(Box<dyn Read + Send>, u64),
}

/// One request.
pub struct Request<'a> {
    /// The method.
    pub method: reqwest::Method,
    /// The URL.
    pub url: url::Url,
    /// Extra headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body, if any.
    pub body: Option<Body>,
    /// The credential, sent only when the URL is one of its origins.
    pub credential: Option<&'a Credential>,
    /// Overrides the policy's timeout (a long upload).
    pub timeout: Option<Duration>,
    /// What the request is for, as an error names it ("list the releases of o/r").
    pub what: String,
    /// A `POST` that may be sent again, as an idempotent request is (see
    /// [`Request::repeatable`]).
    pub repeatable: bool,
}

impl<'a> Request<'a> {
    /// A request without body or headers.
    pub fn new(method: reqwest::Method, url: url::Url, what: impl Into<String>) -> Self {
        Request {
            method,
            url,
            headers: Vec::new(),
            body: None,
            credential: None,
            timeout: None,
            what: what.into(),
            repeatable: false,
        }
    }

    /// Retries this request as an idempotent one: for a `POST` whose repeat does no
    /// harm (a registry's upload session: one left unused expires).
    #[must_use]
    pub fn repeatable(mut self) -> Self {
        self.repeatable = true;
        self
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: &'static str) -> Self {
        self.headers.push((name, HeaderValue::from_static(value)));
        self
    }

    /// Sends `credential` (to its origins only).
    #[must_use]
    pub fn credential(mut self, credential: Option<&'a Credential>) -> Self {
        self.credential = credential;
        self
    }

    /// A JSON body.
    #[must_use]
    pub fn json(mut self, value: &serde_json::Value) -> Self {
        self.headers.push((
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ));
        self.body = Some(Body::Bytes(value.to_string().into_bytes()));
        self
    }

    fn is_idempotent(&self) -> bool {
        self.repeatable
            || matches!(
                self.method,
                reqwest::Method::GET
                    | reqwest::Method::HEAD
                    | reqwest::Method::PUT
                    | reqwest::Method::DELETE
                    | reqwest::Method::PATCH
            )
    }
}

/// Redirects followed at most.
pub const MAX_REDIRECTS: usize = 10;
/// The largest error or JSON body otactl reads.
pub const MAX_JSON_BODY: u64 = 8 * 1024 * 1024;

/// The HTTP client: one reqwest client for the process, the policy, the trace.
#[derive(Clone)]
pub struct Client {
    http: reqwest::blocking::Client,
    /// The retry policy.
    pub policy: Policy,
    trace: Option<Trace>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

fn shared_http() -> Result<reqwest::blocking::Client, String> {
    static HTTP: OnceLock<Result<reqwest::blocking::Client, String>> = OnceLock::new();
    HTTP.get_or_init(|| {
        reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Policy::default().timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("otactl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot start the HTTP client: {e}"))
    })
    .clone()
}

/// An answer, after the redirects.
pub struct Response {
    inner: reqwest::blocking::Response,
    url: url::Url,
    what: String,
}

impl Response {
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.inner.status()
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }

    /// The announced length.
    pub fn content_length(&self) -> Option<u64> {
        self.inner.content_length()
    }

    /// The final URL.
    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// The body as JSON, at most [`MAX_JSON_BODY`] bytes.
    pub fn json<T: serde::de::DeserializeOwned>(self) -> Result<T, RemoteError> {
        let url = shown(&self.url);
        let what = self.what.clone();
        let bytes =
            read_capped(self.inner, MAX_JSON_BODY).map_err(|message| RemoteError::Transport {
                what: what.clone(),
                url: url.clone(),
                message,
                timed_out: false,
            })?;
        serde_json::from_slice(&bytes).map_err(|e| RemoteError::Unreadable {
            what,
            url,
            message: format!("{e}"),
        })
    }

    /// The whole body, at most `limit` bytes.
    pub fn bytes_capped(self, limit: u64) -> Result<Vec<u8>, RemoteError> {
        let url = shown(&self.url);
        read_capped(self.inner, limit).map_err(|message| RemoteError::Transport {
            what: self.what,
            url,
            message,
            timed_out: false,
        })
    }

    /// The body as a stream.
    pub fn into_reader(self) -> reqwest::blocking::Response {
        self.inner
    }
}

/// Reads at most `limit` bytes of a body; more is an error.
fn read_capped(body: impl Read, limit: u64) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    body.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| describe_io(&e))?;
    if bytes.len() as u64 > limit {
        return Err(format!("the body is larger than {limit} bytes"));
    }
    Ok(bytes)
}

fn describe_io(e: &std::io::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A transport error with its causes, without the URL (its query may hold a
/// signature).
pub fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = if e.is_timeout() {
        "no answer in time".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// What an answer that is not a success means for the next step.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Try again after at least this long (the server's word, when it gave one).
    Retry(Option<Duration>),
    /// A rate limit: wait this long, or fail when it is over the cap.
    RateLimit(Duration),
    /// Fail now.
    Fail,
}

/// Reads an answer's status, headers and message as GitHub and registries mean them:
/// a 403 or 429 is a rate limit only with `retry-after`, with
/// `x-ratelimit-remaining: 0` (until `x-ratelimit-reset`), or with a message naming a
/// secondary rate limit (then at least a minute); 5xx and other 429s are transient.
pub fn verdict(
    status: StatusCode,
    headers: &HeaderMap,
    message: Option<&str>,
    now: SystemTime,
) -> Verdict {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let after = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok());
    let exhausted = header("x-ratelimit-remaining").is_some_and(|v| v.trim() == "0");
    let reset = header("x-ratelimit-reset")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|epoch| {
            (SystemTime::UNIX_EPOCH + Duration::from_secs(epoch))
                .duration_since(now)
                .unwrap_or_default()
        });
    let secondary =
        message.is_some_and(|m| m.to_ascii_lowercase().contains("secondary rate limit"));
    if status == StatusCode::FORBIDDEN || status == StatusCode::TOO_MANY_REQUESTS {
        if let Some(secs) = after {
            return Verdict::RateLimit(Duration::from_secs(secs));
        }
        if exhausted {
            // One second past the reset, as the clocks may differ.
            return Verdict::RateLimit(
                reset.unwrap_or(SECONDARY_RATE_WAIT) + Duration::from_secs(1),
            );
        }
        if secondary {
            return Verdict::RateLimit(SECONDARY_RATE_WAIT);
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Verdict::Retry(None);
        }
        return Verdict::Fail;
    }
    if status.is_server_error() {
        return Verdict::Retry(after.map(Duration::from_secs));
    }
    Verdict::Fail
}

/// The `message` of a JSON error body (GitHub, registries' `errors[].message`),
/// escaped and cut for output.
fn server_message(bytes: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let text = value
        .get("message")
        .and_then(|m| m.as_str())
        .or_else(|| value.pointer("/errors/0/message").and_then(|m| m.as_str()))?;
    Some(code(text))
}

/// A time as people read it: `in 42 min (at 11:02 UTC)`.
fn when(wait: Duration, now: SystemTime) -> String {
    let at = time::OffsetDateTime::from(now + wait);
    let clock = at
        .format(time::macros::format_description!(
            "[hour]:[minute]:[second] UTC"
        ))
        .unwrap_or_default();
    let secs = wait.as_secs();
    if secs < 90 {
        return format!("the limit ends in {secs} s (at {clock}); try again then");
    }
    let minutes = secs.div_ceil(60);
    format!("the limit ends in {minutes} min (at {clock}); try again then")
}

impl Client {
    /// The client for this process; `trace` receives the `-v` lines.
    pub fn new(trace: Option<Trace>) -> Result<Client, RemoteError> {
        let http = shared_http().map_err(|message| RemoteError::Transport {
            what: "start the HTTP client".into(),
            url: String::new(),
            message,
            timed_out: false,
        })?;
        Ok(Client {
            http,
            policy: Policy::default(),
            trace,
        })
    }

    fn trace(&self, line: &str) {
        if let Some(trace) = &self.trace {
            trace(line);
        }
    }

    /// Sends `request` once, following redirects for `GET` and `HEAD` (each hop by the
    /// URL rules, without the credential); a transport failure is an error, any
    /// status an answer.
    pub fn send_once(&self, request: Request<'_>) -> Result<Response, RemoteError> {
        let Request {
            method,
            mut url,
            headers,
            body,
            credential,
            timeout,
            what,
            ..
        } = request;
        let follows = matches!(method, reqwest::Method::GET | reqwest::Method::HEAD);
        let mut body = body;
        let mut hop = 0;
        loop {
            let mut builder = self
                .http
                .request(method.clone(), url.as_str())
                .timeout(timeout.unwrap_or(self.policy.timeout));
            for (name, value) in &headers {
                builder = builder.header(name, value);
            }
            if let Some(value) = credential
                .filter(|c| hop == 0 && c.belongs_to(&url))
                .and_then(Credential::header)
            {
                builder = builder.header(reqwest::header::AUTHORIZATION, value);
            }
            match body.take() {
                Some(Body::Bytes(bytes)) => builder = builder.body(bytes),
                Some(Body::Stream(reader, len)) => {
                    return self.send_stream(builder, reader, len, url, what);
                }
                None => {}
            }
            let answer = builder.send();
            let response = match answer {
                Ok(response) => response,
                Err(e) => {
                    self.trace(&format!("{method} {} -> {}", shown(&url), describe_ref(&e)));
                    return Err(RemoteError::Transport {
                        what,
                        url: shown(&url),
                        timed_out: e.is_timeout(),
                        message: describe(e),
                    });
                }
            };
            let status = response.status();
            let remaining = response
                .headers()
                .get("x-ratelimit-remaining")
                .and_then(|v| v.to_str().ok())
                .map(|v| format!(" (rate limit remaining: {})", cap(v)))
                .unwrap_or_default();
            self.trace(&format!("{method} {} -> {status}{remaining}", shown(&url)));
            if !(follows && status.is_redirection()) {
                return Ok(Response {
                    inner: response,
                    url,
                    what,
                });
            }
            hop += 1;
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| url.join(v).ok());
            let Some(next) = location else {
                return Err(RemoteError::Redirect {
                    what,
                    refusal: Refusal::NoLocation { hop, status },
                });
            };
            if hop > MAX_REDIRECTS {
                return Err(RemoteError::Redirect {
                    what,
                    refusal: Refusal::TooMany {
                        shown: shown(&next),
                    },
                });
            }
            if let Err(reason) = check_hop(&next) {
                return Err(RemoteError::Redirect {
                    what,
                    refusal: Refusal::Hop {
                        hop,
                        shown: shown(&next),
                        reason,
                    },
                });
            }
            url = next;
        }
    }

    /// Sends a streamed body through [`super::stream`] (never redirected), with the
    /// method, headers and timeout `builder` holds.
    fn send_stream(
        &self,
        builder: reqwest::blocking::RequestBuilder,
        reader: Box<dyn Read + Send>,
        len: u64,
        url: url::Url,
        what: String,
    ) -> Result<Response, RemoteError> {
        let request = builder.build().map_err(|e| RemoteError::Transport {
            what: what.clone(),
            url: shown(&url),
            message: describe(e),
            timed_out: false,
        })?;
        let method = request.method().clone();
        let timeout = request.timeout().copied().unwrap_or(self.policy.timeout);
        let headers = request.headers().clone();
        let sent = super::stream::send(
            method.clone(),
            &url,
            headers,
            reader,
            len,
            timeout,
            MAX_JSON_BODY,
        );
        let answer = match sent {
            Ok(answer) => answer,
            Err(failed) => {
                self.trace(&format!("{method} {} -> failed", shown(&url)));
                let (message, timed_out) = match failed {
                    super::stream::Failed::Start(message) => (message, false),
                    super::stream::Failed::Request(e) => {
                        let timed_out = e.is_timeout();
                        (describe(e), timed_out)
                    }
                };
                return Err(RemoteError::Transport {
                    what,
                    url: shown(&url),
                    message,
                    timed_out,
                });
            }
        };
        self.trace(&format!("{method} {} -> {}", shown(&url), answer.status));
        let mut response = http::Response::new(answer.body);
        *response.status_mut() = answer.status;
        *response.headers_mut() = answer.headers;
        Ok(Response {
            inner: reqwest::blocking::Response::from(response),
            url,
            what,
        })
    }

    /// Sends a request made by `make`, retrying by the policy: transient faults and
    /// rate limits for idempotent methods; a `POST` is sent once (its caller checks
    /// whether it took effect before sending it again). Returns a success (2xx).
    pub fn call<'a>(&self, make: &dyn Fn() -> Request<'a>) -> Result<Response, RemoteError> {
        let mut previous = None;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request = make();
            let retriable = request.is_idempotent();
            let what = request.what.clone();
            let credential = request.credential;
            let last = attempt >= self.policy.attempts || !retriable;
            let asked = match self.send_once(request) {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => {
                    let failure = Client::failure(response, credential);
                    match failure {
                        Failure::Final(e) => return Err(e),
                        Failure::Wait(e, _) if last => return Err(e),
                        Failure::Wait(e, Some(wait)) if wait > self.policy.max_rate_wait => {
                            return Err(e);
                        }
                        Failure::Wait(_, wait) => wait,
                    }
                }
                Err(e) if last || matches!(e, RemoteError::Redirect { .. }) => return Err(e),
                Err(_) => None,
            };
            let pause = match asked {
                // A rate limit is waited out whole, under its own cap.
                Some(wait) if wait >= self.policy.max_pause => wait,
                asked => self.policy.next_pause(previous, asked),
            };
            self.trace(&format!(
                "{what}: retrying in {} ms (attempt {} of {})",
                pause.as_millis(),
                attempt + 1,
                self.policy.attempts
            ));
            std::thread::sleep(pause);
            previous = Some(pause);
        }
    }

    /// Sends a request made by `make`, retrying transient faults and rate limits as
    /// [`Client::call`] does, and returns the last answer whatever its status (for
    /// the callers that read a 401's challenge or a token endpoint's refusal).
    pub fn call_any<'a>(&self, make: &dyn Fn() -> Request<'a>) -> Result<Response, RemoteError> {
        let mut previous = None;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request = make();
            let last = attempt >= self.policy.attempts || !request.is_idempotent();
            let asked = match self.send_once(request) {
                Ok(response) => {
                    let status = response.status();
                    match verdict(status, response.headers(), None, SystemTime::now()) {
                        Verdict::Retry(asked) if !last => asked,
                        Verdict::RateLimit(wait) if !last && wait <= self.policy.max_rate_wait => {
                            Some(wait)
                        }
                        _ => return Ok(response),
                    }
                }
                Err(e) if last || matches!(e, RemoteError::Redirect { .. }) => return Err(e),
                Err(_) => None,
            };
            let pause = match asked {
                Some(wait) if wait >= self.policy.max_pause => wait,
                asked => self.policy.next_pause(previous, asked),
            };
            std::thread::sleep(pause);
            previous = Some(pause);
        }
    }

    /// [`Client::call`], then the answer's JSON body; for an idempotent request, a body
    /// cut short is retried like a failed request.
    pub fn call_json<'a, T: serde::de::DeserializeOwned>(
        &self,
        make: &dyn Fn() -> Request<'a>,
    ) -> Result<(HeaderMap, T), RemoteError> {
        let mut previous = None;
        let mut attempt = 1;
        loop {
            let retriable = make().is_idempotent();
            let response = self.call(make)?;
            let headers = response.headers().clone();
            match response.json().map(|value| (headers, value)) {
                Err(e @ RemoteError::Transport { .. })
                    if retriable && attempt < self.policy.attempts =>
                {
                    let pause = self.policy.next_pause(previous, None);
                    self.trace(&format!("{e}: retrying in {} ms", pause.as_millis()));
                    std::thread::sleep(pause);
                    previous = Some(pause);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// What a non-success answer means: an error to return now, or one to return if
    /// no retry is left, with the wait before the retry.
    fn failure(response: Response, credential: Option<&Credential>) -> Failure {
        let status = response.status();
        let headers = response.headers().clone();
        let url = shown(response.url());
        let what = response.what.clone();
        let bytes = read_capped(response.inner, 64 * 1024).unwrap_or_default();
        let message = server_message(&bytes);
        let now = SystemTime::now();
        match verdict(status, &headers, message.as_deref(), now) {
            Verdict::RateLimit(wait) => {
                let rate = RemoteError::RateLimited {
                    what,
                    status,
                    url,
                    message,
                    when: when(wait, now),
                    wait,
                };
                Failure::Wait(rate, Some(wait.max(Duration::from_millis(1))))
            }
            Verdict::Retry(after) => Failure::Wait(
                RemoteError::Status {
                    what,
                    status,
                    url,
                    message,
                },
                after,
            ),
            Verdict::Fail if status == StatusCode::NOT_FOUND || status == StatusCode::GONE => {
                Failure::Final(RemoteError::NotFound { what, status, url })
            }
            Verdict::Fail
                if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN =>
            {
                let advice = match credential {
                    Some(c) => format!(
                        "the token in `{}` was refused or lacks a permission: check that it is valid and has access to this repository (`publish` and `pr` need write access)",
                        c.source
                    ),
                    None => "no credential was sent: on GitHub set `GH_TOKEN` (or `GITHUB_TOKEN`); for a registry, log in with `docker login` or set `OTACTL_REGISTRY_USERNAME` and `OTACTL_REGISTRY_PASSWORD`".into(),
                };
                Failure::Final(RemoteError::Denied {
                    what,
                    status,
                    url,
                    message,
                    advice,
                })
            }
            Verdict::Fail => Failure::Final(RemoteError::Status {
                what,
                status,
                url,
                message,
            }),
        }
    }

    /// Reads a non-success answer into its error (for callers that look at the
    /// status first, such as an upload's `422`).
    pub fn error_of(&self, response: Response, credential: Option<&Credential>) -> RemoteError {
        match Client::failure(response, credential) {
            Failure::Final(e) | Failure::Wait(e, _) => e,
        }
    }
}

enum Failure {
    Final(RemoteError),
    Wait(RemoteError, Option<Duration>),
}

fn describe_ref(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "failed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn hop(s: &str) -> Result<(), String> {
        check_hop(&url::Url::parse(s).unwrap())
    }

    #[test]
    fn a_redirect_hop_obeys_the_url_rules() {
        assert_eq!(hop("https://cdn.example.com/a.tar.gz?sig=x"), Ok(()));
        assert_eq!(hop("http://127.0.0.1:8080/a"), Ok(()));
        assert_eq!(hop("http://localhost:9/a"), Ok(()));
        assert_eq!(hop("http://[::1]:9/a"), Ok(()));
        let plain = "uses plain http; use https (http is accepted only for loopback hosts)";
        assert_eq!(hop("http://0.0.0.0/a"), Err(format!("it {plain}")));
        assert_eq!(hop("http://10.0.0.1/a?t=1"), Err(format!("it {plain}")));
        assert_eq!(hop("http://example.com/a"), Err(format!("it {plain}")));
        let credentials = "it must not carry a user name or password; use a token or registry credentials instead";
        assert_eq!(hop("https://u:p@example.com/a"), Err(credentials.into()));
        assert_eq!(hop("http://u@127.0.0.1/a"), Err(credentials.into()));
        let scheme = "a redirect may lead only to `https://`, or `http://` on a loopback host";
        for refused in [
            "file:///etc/passwd",
            "ftp://example.com/a",
            "oci://r.example/a:1",
        ] {
            assert_eq!(hop(refused), Err(scheme.into()), "{refused}");
        }
    }

    #[test]
    fn a_shown_url_has_no_credentials_query_or_fragment_and_is_cut() {
        let url = url::Url::parse("https://u:secret@example.com/a/b?token=t#f").unwrap();
        assert_eq!(shown(&url), "https://example.com/a/b");
        let long = url::Url::parse(&format!("https://example.com/{}", "é".repeat(300))).unwrap();
        let text = shown(&long);
        assert_eq!(text.chars().count(), crate::text::MAX_QUOTED + 1);
        assert!(text.ends_with('…'));
    }

    #[test]
    fn a_403_is_a_rate_limit_only_when_github_says_so() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let forbidden = StatusCode::FORBIDDEN;
        assert_eq!(
            verdict(
                forbidden,
                &headers(&[("x-ratelimit-remaining", "4999")]),
                Some("Resource not accessible by integration"),
                now
            ),
            Verdict::Fail
        );
        assert_eq!(
            verdict(forbidden, &headers(&[("retry-after", "7")]), None, now),
            Verdict::RateLimit(Duration::from_secs(7))
        );
        assert_eq!(
            verdict(
                forbidden,
                &headers(&[
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", "1000600")
                ]),
                Some("API rate limit exceeded for user ID 1."),
                now
            ),
            Verdict::RateLimit(Duration::from_secs(601))
        );
        assert_eq!(
            verdict(
                forbidden,
                &HeaderMap::new(),
                Some("You have exceeded a secondary rate limit. Please wait."),
                now
            ),
            Verdict::RateLimit(SECONDARY_RATE_WAIT)
        );
        assert_eq!(
            verdict(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), None, now),
            Verdict::Retry(None)
        );
        assert_eq!(
            verdict(
                StatusCode::UNAUTHORIZED,
                &HeaderMap::new(),
                Some("Bad credentials"),
                now
            ),
            Verdict::Fail
        );
        assert_eq!(
            verdict(
                StatusCode::BAD_GATEWAY,
                &headers(&[("retry-after", "3")]),
                None,
                now
            ),
            Verdict::Retry(Some(Duration::from_secs(3)))
        );
        assert_eq!(
            verdict(
                StatusCode::UNPROCESSABLE_ENTITY,
                &HeaderMap::new(),
                None,
                now
            ),
            Verdict::Fail
        );
    }

    #[test]
    fn pauses_grow_by_the_factor_up_to_the_cap() {
        let policy = Policy::default();
        let ms = Duration::from_millis;
        assert_eq!(policy.next_pause(None, None), ms(200));
        assert_eq!(policy.next_pause(Some(ms(200)), None), ms(400));
        assert_eq!(policy.next_pause(Some(ms(400)), Some(ms(5000))), ms(5000));
        assert_eq!(
            policy.next_pause(Some(Duration::from_secs(50)), None),
            Duration::from_secs(60)
        );
        assert_eq!(
            policy.next_pause(Some(Duration::MAX), None),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn a_secret_never_shows_and_goes_only_to_its_origins() {
        let mut credential = Credential::new(
            "GH_TOKEN",
            Secret::new("ghp_sentinel".into()),
            Scheme::Bearer,
        );
        credential.allow(&url::Url::parse("https://api.github.com/repos").unwrap());
        assert!(!format!("{credential:?}").contains("ghp_sentinel"));
        assert!(credential.belongs_to(&url::Url::parse("https://api.github.com/x?y").unwrap()));
        for other in [
            "http://api.github.com/x",
            "https://api.github.com:8443/x",
            "https://objects.githubusercontent.com/x",
            "https://uploads.github.com/x",
        ] {
            assert!(
                !credential.belongs_to(&url::Url::parse(other).unwrap()),
                "{other}"
            );
        }
        assert!(credential.header().unwrap().is_sensitive());
        assert!(credential.leaks_into("Bearer ghp_sentinel"));
    }

    #[test]
    fn the_wait_of_a_rate_limit_says_when() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(3600 * 10);
        assert_eq!(
            when(Duration::from_secs(3000), now),
            "the limit ends in 50 min (at 10:50:00 UTC); try again then"
        );
    }
}
