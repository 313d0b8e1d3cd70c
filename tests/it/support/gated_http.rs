//! An HTTP server on 127.0.0.1:<free port> that answers every GET with one body,
//! sending its first bytes at once and holding back the rest until the test opens the
//! gate: a download that is surely under way while the test looks at the terminal.
//!
//! It polls a non-blocking listener and stops when dropped or after [`LIFETIME`],
//! whichever comes first; its connection threads stop with it.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::http::{loopback_url, record_request};

/// No server lives longer than this, even if a test forgets it.
pub const LIFETIME: Duration = Duration::from_secs(120);

/// A running server; stops when dropped.
pub struct GatedServer {
    pub port: u16,
    gate: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl GatedServer {
    /// Serves `body`: `first` bytes at once, the rest once [`GatedServer::open`] is
    /// called.
    pub fn start(body: Vec<u8>, first: usize) -> GatedServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let gate = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let body = Arc::new(body);
        let (g, s) = (gate.clone(), stop.clone());
        thread::spawn(move || {
            let born = Instant::now();
            let alive =
                move |s: &AtomicBool| !s.load(Ordering::Relaxed) && born.elapsed() < LIFETIME;
            while alive(&s) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (body, g, s) = (body.clone(), g.clone(), s.clone());
                        thread::spawn(move || {
                            let open = || g.load(Ordering::Relaxed) || !alive(&s);
                            let _ = serve(stream, &body, first, &open);
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
        GatedServer { port, gate, stop }
    }

    /// The URL of a path on this server.
    pub fn url(&self, path: &str) -> String {
        loopback_url(self.port, path)
    }

    /// Lets the rest of the body through.
    pub fn open(&self) {
        self.gate.store(true, Ordering::Relaxed);
    }
}

impl Drop for GatedServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(
    stream: TcpStream,
    body: &[u8],
    first: usize,
    open: &dyn Fn() -> bool,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(());
    }
    record_request(&mut reader, &request_line, &Mutex::new(Vec::new()))?;
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    let first = first.min(body.len());
    stream.write_all(&body[..first])?;
    stream.flush()?;
    while !open() {
        thread::sleep(Duration::from_millis(20));
    }
    stream.write_all(&body[first..])?;
    stream.flush()
}
