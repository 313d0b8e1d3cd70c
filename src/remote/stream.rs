//! Streamed uploads, on an async reqwest client private to `remote/`, behind the
//! blocking API of [`super::http`].
//!
//! Measured first (`benches/upload.sh`, 1 GiB to a local sink): reqwest's blocking
//! client hands a streamed body to its runtime thread 8 KiB at a time, one wakeup
//! each, which made an upload four times slower than `curl -T`. Here a thread reads
//! (and, through the caller's reader, hashes) the file in 1 MiB chunks while the
//! runtime writes the previous ones to the socket; at most [`AHEAD`] chunks wait in
//! between, so memory stays bounded whatever the file's size.

use std::io::Read;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

/// Bytes read from the source at once.
const CHUNK: usize = 1 << 20;
/// Chunks read ahead of the socket.
const AHEAD: usize = 4;

/// The answer to a streamed request: status, headers, and the body (at most
/// `max_body` bytes).
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) body: Vec<u8>,
}

/// Why a streamed request got no answer.
pub(super) enum Failed {
    /// The runtime or the client could not start.
    Start(String),
    /// The request failed.
    Request(reqwest::Error),
}

fn runtime() -> Result<&'static tokio::runtime::Runtime, String> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the upload runtime: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

fn client() -> Result<&'static reqwest::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("otactl/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| format!("cannot start the HTTP client: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Sends `len` bytes of `source` as the body of one request, and reads the answer.
pub(super) fn send(
    method: Method,
    url: &url::Url,
    headers: HeaderMap,
    source: Box<dyn Read + Send>,
    len: u64,
    timeout: Duration,
    max_body: u64,
) -> Result<Answer, Failed> {
    let runtime = runtime().map_err(Failed::Start)?;
    let client = client().map_err(Failed::Start)?;
    let (tx, rx) = tokio::sync::mpsc::channel(AHEAD);
    let reader = std::thread::spawn(move || read_chunks(source, len, &tx));
    let body = ChannelBody { rx, left: len };
    let request = client
        .request(method, url.as_str())
        .headers(headers)
        .header(reqwest::header::CONTENT_LENGTH, len)
        .timeout(timeout)
        .body(reqwest::Body::wrap(body));
    let answer = runtime.block_on(async move {
        let mut response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if (body.len() + chunk.len()) as u64 > max_body {
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok::<_, reqwest::Error>(Answer {
            status,
            headers,
            body,
        })
    });
    // The reader ends at the end of the file, at an error, or once the body is
    // dropped (its channel closed).
    let _ = reader.join();
    answer.map_err(Failed::Request)
}

/// Reads `len` bytes of `source` into chunks for the body; a short file is an error.
fn read_chunks(
    mut source: Box<dyn Read + Send>,
    len: u64,
    tx: &tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
) {
    let mut left = len;
    while left > 0 {
        let want = usize::try_from(left.min(CHUNK as u64)).unwrap_or(CHUNK);
        let mut buf = vec![0u8; want];
        let mut filled = 0;
        while filled < want {
            match source.read(&mut buf[filled..]) {
                Ok(0) => {
                    let short = std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("the file ended {left} bytes early: it changed while it was read"),
                    );
                    let _ = tx.blocking_send(Err(short));
                    return;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
        left -= want as u64;
        if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
            return;
        }
    }
}

/// A request body fed by [`read_chunks`], of a known length.
struct ChannelBody {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    left: u64,
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.left = self.left.saturating_sub(chunk.len() as u64);
                Poll::Ready(Some(Ok(http_body::Frame::data(chunk))))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.left)
    }
}
