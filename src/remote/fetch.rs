//! Opening an artifact URL as a stream: `file://` from disk, `http(s)://` with a plain
//! GET (redirects followed while each hop obeys the manifest's URL rules, transient
//! faults retried). Nothing is buffered whole; the caller hashes and inspects as it
//! reads.
//!
//! In CI the URL and the server behind it come from whoever opened the pull request,
//! so every download is bounded (SPEC 6): a stall limit (under 1 KiB/s for 30 s), a
//! deadline over the whole download (retries included), redirects only to URLs the
//! manifest itself could name, and, when asked, `file://` only inside one folder.

use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};

use crate::fsx;
use crate::remote::http::{Client, Refusal, RemoteError, Request, Verdict, verdict};
pub use crate::remote::http::{check_hop, shown};
use crate::text::code;

/// Why a payload could not be opened.
#[derive(Debug)]
pub enum FetchError {
    /// The asset does not exist (no file, HTTP 404/410).
    Missing(String),
    /// A remote failed (network, HTTP 5xx after retries, other statuses, the deadline).
    Remote(String),
    /// A redirect led to a URL the manifest's rules refuse (SPEC 2.1); not followed.
    Refused(String),
    /// A `file://` URL outside the folder that [`FileUrls`] allows; nothing was read.
    OutsideFolder,
}

/// An opened payload: the stream and its announced length.
pub struct Payload {
    /// The bytes. A read fails with a [`Cutoff`] when the stall limit or the deadline
    /// is reached.
    pub reader: Box<dyn Read + Send>,
    /// `Content-Length` or the file size, when known.
    pub length: Option<u64>,
}

/// Where `file://` URLs may point.
#[derive(Clone, Debug)]
pub enum FileUrls {
    /// Anywhere the process can read.
    Anywhere,
    /// Only under this folder, both sides compared with every symlink resolved.
    Under(PathBuf),
    /// Nowhere.
    Nowhere,
}

/// The bounds of one download.
#[derive(Clone, Debug)]
pub struct Limits {
    /// The whole download, from the first request to the last byte, retries included.
    pub deadline: Duration,
    /// Where `file://` URLs may point.
    pub files: FileUrls,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_secs(3600),
            files: FileUrls::Anywhere,
        }
    }
}

/// The stall limit of SPEC 6: less than [`STALL_MIN_BYTES`] in any [`STALL_WINDOW`].
pub const STALL_WINDOW: Duration = Duration::from_secs(30);
/// 1 KiB/s over [`STALL_WINDOW`].
pub const STALL_MIN_BYTES: u64 = 1024 * STALL_WINDOW.as_secs();
/// How long one attempt waits for the server's answer (status and headers).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a waiting read looks at the clock.
const POLL: Duration = Duration::from_secs(1);
/// Bytes read at once from the source.
const CHUNK: usize = 64 * 1024;
/// Chunks read ahead of the consumer.
const AHEAD: usize = 4;

/// Why a download was cut off. Returned (inside an `io::Error`) by a payload's reads.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Cutoff {
    /// Under 1 KiB/s for 30 s.
    #[error(
        "the download stalled: the server sent {window_bytes} bytes in the last 30 s (the limit is 1 KiB/s for 30 s; {total} bytes in all); the server is too slow or stuck: try again later, or serve the asset from a faster server"
    )]
    Stalled {
        /// Bytes received in the last [`STALL_WINDOW`].
        window_bytes: u64,
        /// Bytes received in all.
        total: u64,
    },
    /// The deadline passed.
    #[error(
        "the download did not finish within `--deadline` {}: {total} bytes arrived; raise `--deadline` (e.g. `--deadline {}`) if the asset is that large and the server that slow",
        human(*deadline),
        human(deadline.saturating_mul(2))
    )]
    Deadline {
        /// The deadline.
        deadline: Duration,
        /// Bytes received in all.
        total: u64,
    },
}

/// A duration as `--deadline` takes it: `90s`, `30m`, `1h`.
pub fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if secs > 0 && secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs > 0 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// Parses a deadline: a whole number with `s`, `m` or `h`, or plain seconds.
pub fn parse_deadline(s: &str) -> Result<Duration, String> {
    const EXAMPLES: &str = "e.g. `90s`, `30m` or `1h`";
    let t = s.trim();
    if t.is_empty() {
        return Err(format!("give a duration, {EXAMPLES}"));
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    if digits.is_empty() {
        return Err(format!("`{s}` is not a duration, {EXAMPLES}"));
    }
    let factor: u64 = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        other => return Err(format!("unknown unit `{other}`; use s, m or h, {EXAMPLES}")),
    };
    let secs = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("`{s}` is too long"))?;
    if secs == 0 {
        return Err("the deadline must be at least 1 second".into());
    }
    Ok(Duration::from_secs(secs))
}

/// The end of a download.
#[derive(Clone, Copy, Debug)]
struct Deadline {
    at: Instant,
    limit: Duration,
}

impl Deadline {
    fn new(limit: Duration) -> Deadline {
        let now = Instant::now();
        // A deadline past what the clock can hold is no deadline.
        let far = Duration::from_secs(100 * 365 * 24 * 3600);
        Deadline {
            at: now
                .checked_add(limit)
                .or_else(|| now.checked_add(far))
                .unwrap_or(now),
            limit,
        }
    }

    fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }
}

/// Opens `url` for reading, with `client`'s retry policy; no credential is sent.
pub fn open(client: &Client, url: &str, limits: &Limits) -> Result<Payload, FetchError> {
    let deadline = Deadline::new(limits.deadline);
    let parsed = url::Url::parse(url)
        .map_err(|e| FetchError::Missing(format!("`{url}` is not a URL: {e}")))?;
    match parsed.scheme() {
        "file" => {
            let path = parsed
                .to_file_path()
                .map_err(|()| FetchError::Missing(format!("`{url}` names no local file")))?;
            let path = allowed_file(&path, &limits.files)?;
            // A FIFO would block the open itself, a device would never end: only a
            // regular file is read, its type checked before it is opened.
            let (file, length) = fsx::open_regular(&path).map_err(|e| match e {
                crate::Error::Read { source, .. }
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    FetchError::Missing(format!(
                        "{} does not exist",
                        code(path.display().to_string())
                    ))
                }
                other => FetchError::Missing(other.to_string()),
            })?;
            Ok(Payload {
                reader: Box::new(Guarded::new(file, Instant::now(), deadline)),
                length: Some(length),
            })
        }
        "http" | "https" => get(client, &parsed, deadline),
        other => Err(FetchError::Missing(format!(
            "`{other}://` URLs cannot be downloaded"
        ))),
    }
}

/// A stream bounded like a download of `url`: the stall limit and `limits.deadline`
/// from now (for a body fetched another way, such as GitHub's asset API).
pub fn guarded(
    reader: impl Read + Send + 'static,
    length: Option<u64>,
    limits: &Limits,
) -> Payload {
    let now = Instant::now();
    Payload {
        reader: Box::new(Guarded::new(reader, now, Deadline::new(limits.deadline))),
        length,
    }
}

/// The path to open for a `file://` URL, or a refusal that says nothing of the disk.
fn allowed_file(path: &Path, files: &FileUrls) -> Result<PathBuf, FetchError> {
    match files {
        FileUrls::Anywhere => Ok(path.to_owned()),
        FileUrls::Nowhere => Err(FetchError::OutsideFolder),
        FileUrls::Under(root) => {
            // Open what was checked: the resolved path, not the spelling of the URL.
            let resolved = fsx::canonical_existing(path);
            if resolved.starts_with(fsx::canonical_existing(root)) {
                Ok(resolved)
            } else {
                Err(FetchError::OutsideFolder)
            }
        }
    }
}

fn get(client: &Client, url: &url::Url, deadline: Deadline) -> Result<Payload, FetchError> {
    let policy = &client.policy;
    let attempts = policy.attempts.max(1);
    let mut pause = None;
    let mut last = String::new();
    for attempt in 1..=attempts {
        let started = Instant::now();
        let wait = ANSWER_TIMEOUT.min(deadline.remaining());
        let mut request = Request::new(reqwest::Method::GET, url.clone(), "download");
        request.timeout = Some(wait);
        let mut after = None;
        match client.send_once(request) {
            Err(RemoteError::Transport {
                timed_out: true, ..
            }) if wait < ANSWER_TIMEOUT => {
                return Err(FetchError::Remote(format!(
                    "no answer within `--deadline` {}; raise `--deadline` if the server is that slow",
                    human(deadline.limit)
                )));
            }
            Err(RemoteError::Transport {
                timed_out: true, ..
            }) => {
                last = format!("no answer within {} s", ANSWER_TIMEOUT.as_secs());
            }
            // A refused or endless redirect does not heal: no retry.
            Err(RemoteError::Redirect { refusal, .. }) => {
                let advice = match refusal {
                    Refusal::Hop { .. } => {
                        "point `artifact.url` at a server whose redirects stay within the rules"
                    }
                    Refusal::TooMany { .. } | Refusal::NoLocation { .. } => {
                        "point `artifact.url` at the asset itself"
                    }
                };
                let text = format!("{refusal}: {advice}");
                return Err(match refusal {
                    Refusal::TooMany { .. } => FetchError::Remote(text),
                    Refusal::Hop { .. } | Refusal::NoLocation { .. } => FetchError::Refused(text),
                });
            }
            Err(RemoteError::Transport { message, .. }) => last = message,
            Err(other) => last = other.to_string(),
            Ok(response) => {
                let status = response.status();
                if status.is_success() {
                    let length = response.content_length();
                    return Ok(Payload {
                        reader: Box::new(Guarded::new(response.into_reader(), started, deadline)),
                        length,
                    });
                }
                if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
                    return Err(FetchError::Missing(format!("the server answered {status}")));
                }
                last = format!("the server answered {status}");
                match verdict(status, response.headers(), None, SystemTime::now()) {
                    Verdict::Fail => return Err(FetchError::Remote(last)),
                    Verdict::Retry(asked) => after = asked,
                    Verdict::RateLimit(asked) => after = Some(asked),
                }
            }
        }
        if attempt == attempts {
            break;
        }
        let next = policy.next_pause(pause, after);
        if next >= deadline.remaining() {
            return Err(FetchError::Remote(format!(
                "{last} (after {attempt} attempt{}; the next would pass `--deadline` {}, raise it to retry longer)",
                if attempt == 1 { "" } else { "s" },
                human(deadline.limit)
            )));
        }
        std::thread::sleep(next);
        pause = Some(next);
    }
    Err(FetchError::Remote(format!(
        "{last} (after {attempts} attempts)"
    )))
}

/// A stream read on its own thread, so that the reader waits for it with a clock: a
/// read fails with a [`Cutoff`] once less than [`STALL_MIN_BYTES`] came in the last
/// [`STALL_WINDOW`], or once the deadline passed, however the source behaves.
struct Guarded {
    chunks: Receiver<std::io::Result<Vec<u8>>>,
    /// Drained chunks go back to the reading thread, which fills them again: the same
    /// few buffers serve the whole download.
    spent: mpsc::SyncSender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    started: Instant,
    deadline: Deadline,
    /// (arrival, bytes) over the last [`STALL_WINDOW`], close arrivals merged.
    window: VecDeque<(Instant, u64)>,
    window_bytes: u64,
    total: u64,
    done: bool,
    cut: Option<Cutoff>,
}

impl Guarded {
    fn new(mut source: impl Read + Send + 'static, started: Instant, deadline: Deadline) -> Self {
        let (tx, rx) = mpsc::sync_channel(AHEAD);
        let (spent, recycled) = mpsc::sync_channel::<Vec<u8>>(AHEAD + 2);
        // Ends at the end of the stream, at its error, or once the reader is dropped.
        std::thread::spawn(move || {
            loop {
                let mut buf = recycled.try_recv().unwrap_or_default();
                buf.resize(CHUNK, 0);
                let read = match source.read(&mut buf) {
                    Ok(n) => {
                        buf.truncate(n);
                        Ok(buf)
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => Err(e),
                };
                let last = !matches!(&read, Ok(b) if !b.is_empty());
                if tx.send(read).is_err() || last {
                    break;
                }
            }
        });
        Guarded {
            chunks: rx,
            spent,
            current: Vec::new(),
            pos: 0,
            started,
            deadline,
            window: VecDeque::new(),
            window_bytes: 0,
            total: 0,
            done: false,
            cut: None,
        }
    }

    fn arrived(&mut self, now: Instant, n: u64) {
        self.total += n;
        self.window_bytes += n;
        match self.window.back_mut() {
            Some((at, bytes)) if now.duration_since(*at) < Duration::from_millis(100) => {
                *bytes += n;
            }
            _ => self.window.push_back((now, n)),
        }
    }

    /// The cutoff reached at `now`, if any.
    fn check(&mut self, now: Instant) -> Option<Cutoff> {
        if now >= self.deadline.at {
            return Some(Cutoff::Deadline {
                deadline: self.deadline.limit,
                total: self.total,
            });
        }
        while let Some(&(at, bytes)) = self.window.front() {
            if now.duration_since(at) < STALL_WINDOW {
                break;
            }
            self.window_bytes -= bytes;
            self.window.pop_front();
        }
        (now.duration_since(self.started) >= STALL_WINDOW && self.window_bytes < STALL_MIN_BYTES)
            .then_some(Cutoff::Stalled {
                window_bytes: self.window_bytes,
                total: self.total,
            })
    }

    fn cut_off(&mut self, cut: Cutoff) -> std::io::Error {
        self.cut = Some(cut.clone());
        std::io::Error::other(cut)
    }
}

impl Read for Guarded {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(cut) = &self.cut {
            return Err(std::io::Error::other(cut.clone()));
        }
        loop {
            if self.pos < self.current.len() {
                let n = buf.len().min(self.current.len() - self.pos);
                buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            if let Some(cut) = self.check(Instant::now()) {
                return Err(self.cut_off(cut));
            }
            match self
                .chunks
                .recv_timeout(POLL.min(self.deadline.remaining()))
            {
                Ok(Ok(chunk)) if chunk.is_empty() => self.done = true,
                Ok(Ok(chunk)) => {
                    self.arrived(Instant::now(), chunk.len() as u64);
                    let drained = std::mem::replace(&mut self.current, chunk);
                    // A full pool (or a reader gone) only means a buffer less to reuse.
                    let _ = self.spent.try_send(drained);
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    // A source that gave up at the same moment: say why it was slow.
                    return Err(match self.check(Instant::now()) {
                        Some(cut) => self.cut_off(cut),
                        None => e,
                    });
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.done = true;
                    return Err(std::io::Error::other("the download ended without its end"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_read_as_people_write_them() {
        let secs = Duration::from_secs;
        for (text, want) in [
            ("90s", secs(90)),
            ("30m", secs(1800)),
            ("1h", secs(3600)),
            ("600", secs(600)),
            (" 2h ", secs(7200)),
            ("45 s", secs(45)),
        ] {
            assert_eq!(parse_deadline(text), Ok(want), "{text}");
        }
        for text in [
            "",
            "h",
            "1.5h",
            "5x",
            "-5s",
            "0",
            "0h",
            "99999999999999999999",
        ] {
            assert!(parse_deadline(text).is_err(), "{text}");
        }
        assert_eq!(human(secs(90)), "90s");
        assert_eq!(human(secs(1800)), "30m");
        assert_eq!(human(secs(7200)), "2h");
    }

    #[test]
    fn a_file_url_under_a_folder_is_checked_with_symlinks_resolved() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("releases");
        let _ = crate::fsx::create_dir_all(&root.join("1"));
        let under = FileUrls::Under(root.clone());
        assert!(allowed_file(&root.join("1/a.bin"), &under).is_ok());
        assert!(allowed_file(&root.join("2/missing/a.bin"), &under).is_ok());
        assert!(matches!(
            allowed_file(&temp.path().join("other/a.bin"), &under),
            Err(FetchError::OutsideFolder)
        ));
        std::os::unix::fs::symlink(temp.path(), root.join("up")).unwrap();
        assert!(matches!(
            allowed_file(&root.join("up/other/a.bin"), &under),
            Err(FetchError::OutsideFolder)
        ));
        assert!(matches!(
            allowed_file(&root.join("1/a.bin"), &FileUrls::Nowhere),
            Err(FetchError::OutsideFolder)
        ));
    }
}
