//! Opening an artifact URL as a stream: `file://` from disk, `http(s)://` with a plain
//! GET (redirects followed, transient faults retried, every read under a timeout).
//! Nothing is buffered whole; the caller hashes and inspects as it reads.

use std::io::Read;
use std::time::Duration;

/// Why a payload could not be opened.
#[derive(Debug)]
pub enum FetchError {
    /// The asset does not exist (no file, HTTP 404/410).
    Missing(String),
    /// A remote failed (network, HTTP 5xx after retries, other statuses).
    Remote(String),
}

/// An opened payload: the stream and its announced length.
pub struct Payload {
    /// The bytes.
    pub reader: Box<dyn Read + Send>,
    /// `Content-Length` or the file size, when known.
    pub length: Option<u64>,
}

/// Retry policy for opening a download (before any byte is read).
#[derive(Clone, Debug)]
pub struct Retry {
    /// Attempts in all.
    pub attempts: u32,
    /// First pause; doubled after each attempt.
    pub backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 4,
            backoff: Duration::from_millis(200),
        }
    }
}

/// Opens `url` for reading.
pub fn open(url: &str, retry: &Retry) -> Result<Payload, FetchError> {
    let parsed = url::Url::parse(url)
        .map_err(|e| FetchError::Missing(format!("`{url}` is not a URL: {e}")))?;
    match parsed.scheme() {
        "file" => {
            let path = parsed
                .to_file_path()
                .map_err(|()| FetchError::Missing(format!("`{url}` names no local file")))?;
            let file = std::fs::File::open(&path).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    FetchError::Missing(format!("`{}` does not exist", path.display()))
                }
                _ => FetchError::Missing(format!("cannot read `{}`: {e}", path.display())),
            })?;
            let length = file.metadata().ok().map(|m| m.len());
            Ok(Payload {
                reader: Box::new(file),
                length,
            })
        }
        "http" | "https" => get(url, retry),
        other => Err(FetchError::Missing(format!(
            "`{other}://` URLs cannot be downloaded"
        ))),
    }
}

fn get(url: &str, retry: &Retry) -> Result<Payload, FetchError> {
    let client = reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .user_agent(concat!("otactl/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| FetchError::Remote(format!("cannot start the HTTP client: {e}")))?;
    let mut pause = retry.backoff;
    let mut last = String::new();
    for attempt in 1..=retry.attempts.max(1) {
        match client.get(url).send() {
            Ok(response) => {
                let status = response.status();
                if status.is_success() {
                    let length = response.content_length();
                    return Ok(Payload {
                        reader: Box::new(response),
                        length,
                    });
                }
                if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
                    return Err(FetchError::Missing(format!("the server answered {status}")));
                }
                last = format!("the server answered {status}");
                let transient =
                    status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
                if !transient {
                    return Err(FetchError::Remote(last));
                }
                if let Some(after) = retry_after(&response) {
                    pause = pause.max(after.min(Duration::from_secs(60)));
                }
            }
            Err(e) => last = describe(e),
        }
        if attempt < retry.attempts {
            std::thread::sleep(pause);
            pause *= 2;
        }
    }
    Err(FetchError::Remote(format!(
        "{last} (after {} attempts)",
        retry.attempts.max(1)
    )))
}

fn retry_after(response: &reqwest::blocking::Response) -> Option<Duration> {
    let value = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// A transport error with its causes, without the URL's query (it may hold a token).
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
