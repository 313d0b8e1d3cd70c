//! Hostile HTTP servers on 127.0.0.1:<free port>, as a stranger's pull request may
//! point `verify` at: one that drips its body a few bytes at a time, one that
//! redirects every request to a given location, one that is always unavailable and
//! asks to come back later, and one that accepts connections and
//! never answers (it also counts connections, so a test can assert that nobody came).
//!
//! Each server polls a non-blocking listener, and stops when dropped or after
//! [`LIFETIME`], whichever comes first; its connection threads stop with it.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::http::{loopback_url, record_request};

/// No server lives longer than this, even if a test forgets it.
pub const LIFETIME: Duration = Duration::from_secs(120);

/// What the server does with every request.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// `200 OK` announcing `len` bytes, then `chunk` bytes (`x`) every `every`.
    Drip {
        len: usize,
        chunk: usize,
        every: Duration,
    },
    /// `302 Found` to `location`; `{base}` in it is this server's `http://127.0.0.1:PORT`.
    Redirect { location: String },
    /// `503 Service Unavailable` with `Retry-After: SECONDS`.
    Unavailable { retry_after: u64 },
    /// Reads the request and answers nothing (the connection stays open).
    Silent,
}

/// A running server; stops when dropped.
pub struct HostileServer {
    pub port: u16,
    stop: Arc<AtomicBool>,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl HostileServer {
    pub fn start(behaviour: Behaviour) -> HostileServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let base = format!("http://127.0.0.1:{port}");
        let (s, c, r) = (stop.clone(), connections.clone(), requests.clone());
        thread::spawn(move || {
            let born = Instant::now();
            while !s.load(Ordering::Relaxed) && born.elapsed() < LIFETIME {
                match listener.accept() {
                    Ok((stream, _)) => {
                        c.fetch_add(1, Ordering::SeqCst);
                        let (behaviour, base, s, r) =
                            (behaviour.clone(), base.clone(), s.clone(), r.clone());
                        thread::spawn(move || {
                            let _ = serve(stream, &behaviour, &base, &s, born, &r);
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(10));
                    }
                    Err(_) => break,
                }
            }
            s.store(true, Ordering::Relaxed);
        });
        HostileServer {
            port,
            stop,
            connections,
            requests,
        }
    }

    /// The URL of a path on this server.
    pub fn url(&self, path: &str) -> String {
        loopback_url(self.port, path)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// The request lines received so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(
    stream: TcpStream,
    behaviour: &Behaviour,
    base: &str,
    stop: &AtomicBool,
    born: Instant,
    requests: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let alive = || !stop.load(Ordering::Relaxed) && born.elapsed() < LIFETIME;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    loop {
        let mut request_line = String::new();
        match reader.read_line(&mut request_line) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            // A client that keeps an idle connection: look again while alive.
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && alive() => continue,
            Err(e) => return Err(e),
        }
        record_request(&mut reader, &request_line, requests)?;
        match behaviour {
            Behaviour::Redirect { location } => {
                let location = location.replace("{base}", base);
                write!(
                    stream,
                    "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
                )?;
            }
            Behaviour::Unavailable { retry_after } => {
                write!(
                    stream,
                    "HTTP/1.1 503 Service Unavailable\r\nRetry-After: {retry_after}\r\nContent-Length: 0\r\n\r\n"
                )?;
            }
            Behaviour::Drip { len, chunk, every } => {
                write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nContent-Type: application/octet-stream\r\n\r\n"
                )?;
                stream.flush()?;
                let mut sent = 0;
                while sent < *len && alive() {
                    thread::sleep(*every);
                    let n = (*chunk).min(len - sent);
                    // A client that gave up closes the connection: the write fails, we stop.
                    stream.write_all(&vec![b'x'; n])?;
                    stream.flush()?;
                    sent += n;
                }
                return Ok(());
            }
            Behaviour::Silent => {
                while alive() {
                    thread::sleep(Duration::from_millis(50));
                }
                return Ok(());
            }
        }
    }
}
