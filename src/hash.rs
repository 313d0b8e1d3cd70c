//! Streaming SHA-256: files are read once, in bounded memory.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::progress::{ProgressReader, Reporter, Silent};

/// Lowercase hex of a digest.
pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The SHA-256 of everything `reader` yields, and its length.
pub fn sha256_reader(reader: impl Read) -> std::io::Result<(String, u64)> {
    HashingReader::new(reader, u64::MAX).finish()
}

/// [`sha256_reader`] of `len` bytes (when known), reported to `reporter` as the
/// hashing of the file `name`.
pub fn sha256_reported(
    reader: impl Read,
    len: Option<u64>,
    name: &str,
    reporter: &dyn Reporter,
) -> std::io::Result<(String, u64)> {
    reporter.start(&format!("hashing `{name}`"), len);
    let hashed = sha256_reader(ProgressReader::new(reader, reporter));
    reporter.finish();
    hashed
}

/// The SHA-256 of a file and its length, reading it once.
pub fn sha256_file(path: &Path) -> Result<(String, u64)> {
    sha256_file_reported(path, &Silent)
}

/// [`sha256_file`], its progress reported to `reporter`.
pub fn sha256_file_reported(path: &Path, reporter: &dyn Reporter) -> Result<(String, u64)> {
    let read_err = |source| Error::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let len = file.metadata().ok().map(|m| m.len());
    sha256_reported(file, len, &file_name(path), reporter).map_err(read_err)
}

/// The last part of `path`, as a bar names the file.
pub fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// A writer that hashes and counts what passes through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: std::io::Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    /// The hex digest, the length and the inner writer.
    pub fn finish(self) -> (String, u64, W) {
        (to_hex(&self.hasher.finalize()), self.len, self.inner)
    }
}

impl<W: std::io::Write> std::io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes and counts what passes through it, and fails once more than
/// `limit` bytes came through (an endless download stops there).
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    len: u64,
    limit: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner` with a size limit.
    pub fn new(inner: R, limit: u64) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            len: 0,
            limit,
        }
    }

    /// Bytes read so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was read yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads the rest of the stream, then returns the hex digest and the length.
    pub fn finish(mut self) -> std::io::Result<(String, u64)> {
        // Large reads: this is the hashing loop of every file otactl hashes.
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match self.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok((to_hex(&self.hasher.finalize()), self.len))
    }
}

/// The error a [`HashingReader`] returns past its limit.
#[derive(Debug, thiserror::Error)]
#[error("the download is larger than the limit of {limit} bytes")]
pub struct TooLong {
    /// The limit.
    pub limit: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        if self.len > self.limit {
            return Err(std::io::Error::other(TooLong { limit: self.limit }));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest() {
        let (hex, len) = sha256_reader(&b"abc"[..]).unwrap();
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(len, 3);
    }

    #[test]
    fn hashing_a_file_reports_its_name_size_and_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("fw.bin");
        crate::fsx::write_atomic(
            &file,
            &vec![7u8; 300_000],
            None,
            crate::fsx::Existing::Refuse,
        )
        .unwrap();
        let told = crate::progress::testing::Recording::default();
        let (_, len) = sha256_file_reported(&file, &told).unwrap();
        assert_eq!(len, 300_000);
        assert_eq!(told.told(), ["hashing `fw.bin` (300000): 300000 bytes"]);
    }
}
