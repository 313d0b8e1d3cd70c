//! A small HTTP/1.1 file server on 127.0.0.1:<free port> for download tests, with a
//! queue of injected faults. Real sockets and real HTTP, no mocks of otactl's code.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread;

/// What the server does with the next request instead of serving it.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this status and an empty body.
    Status(u16),
    /// Answer 429 with `Retry-After: 0`.
    RateLimited,
    /// Close the connection without answering.
    Reset,
}

/// A running server; stops when dropped.
pub struct FileServer {
    pub port: u16,
    faults: Arc<Mutex<VecDeque<Fault>>>,
    requests: Arc<Mutex<Vec<String>>>,
    headers: Arc<Mutex<Vec<String>>>,
}

impl FileServer {
    /// Serves the files under `root` (GET only; `/a/b` is `root/a/b`).
    pub fn start(root: PathBuf) -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let faults = Arc::new(Mutex::new(VecDeque::new()));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let headers = Arc::new(Mutex::new(Vec::new()));
        let (f, r, h) = (faults.clone(), requests.clone(), headers.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { break };
                let (root, f, r, h) = (root.clone(), f.clone(), r.clone(), h.clone());
                thread::spawn(move || {
                    let _ = serve(stream, &root, &f, (&r, &h));
                });
            }
        });
        FileServer {
            port,
            faults,
            requests,
            headers,
        }
    }

    /// The URL of a path on this server.
    pub fn url(&self, path: &str) -> String {
        loopback_url(self.port, path)
    }

    /// Queues faults for the next requests.
    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.faults.lock().unwrap().extend(faults);
    }

    /// The request lines received so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// Whether any request received so far carried the header `name`.
    pub fn saw_header(&self, name: &str) -> bool {
        self.headers.lock().unwrap().iter().any(|line| {
            line.split_once(':')
                .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        })
    }
}

fn serve(
    stream: TcpStream,
    root: &std::path::Path,
    faults: &Mutex<VecDeque<Fault>>,
    (requests, headers): (&Mutex<Vec<String>>, &Mutex<Vec<String>>),
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let lines = record_request(&mut reader, &request_line, requests)?;
        headers.lock().unwrap().extend(lines);
        let fault = faults.lock().unwrap().pop_front();
        match fault {
            Some(Fault::Reset) => return Ok(()),
            Some(Fault::Status(code)) => {
                write!(
                    stream,
                    "HTTP/1.1 {code} Injected\r\nContent-Length: 0\r\n\r\n"
                )?;
                continue;
            }
            Some(Fault::RateLimited) => {
                write!(
                    stream,
                    "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n"
                )?;
                continue;
            }
            None => {}
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("/");
        let file = root.join(path.trim_start_matches('/'));
        match std::fs::File::open(&file).and_then(|f| f.metadata().map(|m| (f, m))) {
            Ok((mut f, meta)) if meta.is_file() => {
                write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\n\r\n",
                    meta.len()
                )?;
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = f.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    stream.write_all(&buf[..n])?;
                }
            }
            _ => write!(
                stream,
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
            )?,
        }
    }
}

/// `http://127.0.0.1:PORT/PATH`.
pub fn loopback_url(port: u16, path: &str) -> String {
    format!("http://127.0.0.1:{port}/{}", path.trim_start_matches('/'))
}

/// Reads the headers after `request_line` up to the blank line, records the request
/// line and returns the header lines.
pub fn record_request(
    reader: &mut impl BufRead,
    request_line: &str,
    requests: &Mutex<Vec<String>>,
) -> std::io::Result<Vec<String>> {
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
        headers.push(header.trim_end().to_owned());
    }
    requests
        .lock()
        .unwrap()
        .push(request_line.trim_end().to_owned());
    Ok(headers)
}
