//! The source tarball (SPEC 7): byte for byte what
//! `git archive --format=tar.gz --prefix=NAME-ID/ COMMIT` writes with git 2.38+.
//!
//! git itself writes the tar stream (so `export-ignore`, `export-subst`, modes,
//! mtimes and the pax commit header are git's own); otactl reads it once, scanning
//! every entry for secrets as it passes, while a second thread compresses it with
//! stock zlib at level 6 (gzip header: mtime 0, OS 3, as git's built-in gzip) into a
//! temporary file and hashes the compressed bytes. The file is renamed into place only
//! when it is complete and clean.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use flate2::{Compression, GzBuilder};

use crate::error::{Error, Result};
use crate::git::{self, Commit};
use crate::hash::HashingWriter;
use crate::inspect::LinkTree;
use crate::progress::{ProgressReader, Reporter};
use crate::secrets::{AllowList, ContentScanner, SecretFinding, secret_name};
use crate::text::code;

/// What to build.
pub struct TarballSpec<'a> {
    /// The git repository.
    pub source: &'a Path,
    /// The commit.
    pub commit: &'a Commit,
    /// `NAME-BUILD_ID/`.
    pub prefix: &'a str,
    /// Paths the secret scan lets through.
    pub allow: &'a AllowList,
    /// Where the progress of the tar stream goes.
    pub reporter: &'a dyn Reporter,
}

/// A finished tarball.
#[derive(Clone, Debug)]
pub struct Tarball {
    /// SHA-256 of the `.tar.gz` bytes.
    pub sha256: String,
    /// Size of the `.tar.gz` in bytes.
    pub size: u64,
    /// Number of entries in the tar stream (the pax header included).
    pub entries: usize,
    /// Files that are Git LFS pointers: their content is not in the tarball.
    pub lfs_pointers: Vec<String>,
    /// Submodules: their content is not in the tarball.
    pub submodules: Vec<String>,
    /// Secrets that an allow pattern let through.
    pub allowed_secrets: Vec<SecretFinding>,
    /// Symlinks that resolve outside the tarball's top folder once extracted
    /// (`verify` fails such a tarball's item 5).
    pub escaping_links: Vec<String>,
}

const CHUNK: usize = 256 * 1024;
const LFS_MAGIC: &[u8] = b"version https://git-lfs.github.com/spec/v1";

/// Builds the tarball of `spec` at `out` (atomically), refusing on a secret.
pub fn write_tarball(spec: &TarballSpec<'_>, out: &Path) -> Result<Tarball> {
    let write_err = |source| Error::Write {
        path: out.to_owned(),
        source,
    };
    let submodules = git::submodules(spec.source, &spec.commit.id)?;
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => std::path::PathBuf::from("."),
    };
    let tmp = crate::fsx::new_file_builder()
        .tempfile_in(&dir)
        .map_err(write_err)?;
    let file = tmp.as_file().try_clone().map_err(write_err)?;

    let mut child = git::spawn_archive(spec.source, spec.prefix, &spec.commit.id)?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| Error::GitMissing(std::io::Error::other("no stdout")))?;
    let mut stderr = child
        .stderr
        .take()
        .ok_or_else(|| Error::GitMissing(std::io::Error::other("no stderr")))?;
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let (tx, rx) = sync_channel::<Vec<u8>>(8);
    let compressor = std::thread::spawn(move || compress(&rx, file));
    spec.reporter
        .start(&format!("archiving {}", spec.prefix), None);
    let reader = ProgressReader::new(BufReader::with_capacity(CHUNK, stdout), spec.reporter);
    let scan = scan_stream(Tee::new(reader, tx), spec);
    spec.reporter.finish();
    let compressed = compressor
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the compressor panicked")));
    let status = child.wait().map_err(Error::GitMissing)?;
    let git_stderr = stderr_reader.join().unwrap_or_default();
    if !status.success() {
        return Err(Error::Git {
            args: format!(
                "archive --format=tar --prefix={} {}",
                spec.prefix, spec.commit.id
            ),
            dir: spec.source.to_owned(),
            stderr: git_stderr.trim().to_owned(),
        });
    }
    let scan = scan.map_err(|source| Error::Read {
        path: spec.source.to_owned(),
        source,
    })?;
    let (sha256, size) = compressed.map_err(write_err)?;
    if !scan.secrets.is_empty() {
        return Err(Error::Secrets {
            findings: scan.secrets,
        });
    }
    tmp.commit(out, crate::fsx::Existing::Replace)?;
    Ok(Tarball {
        sha256,
        size,
        entries: scan.entries,
        lfs_pointers: scan.lfs_pointers,
        submodules,
        allowed_secrets: scan.allowed,
        escaping_links: scan.escaping_links,
    })
}

fn compress(rx: &Receiver<Vec<u8>>, file: std::fs::File) -> std::io::Result<(String, u64)> {
    let hashing = HashingWriter::new(BufWriter::with_capacity(CHUNK, file));
    let mut gz = GzBuilder::new()
        .mtime(0)
        .operating_system(3)
        .write(hashing, Compression::new(6));
    for chunk in rx {
        gz.write_all(&chunk)?;
    }
    let (sha, size, buffered) = gz.finish()?.finish();
    let file = buffered
        .into_inner()
        .map_err(std::io::IntoInnerError::into_error)?;
    file.sync_all()?;
    Ok((sha, size))
}

/// A reader that hands a copy of every byte it yields to the compressor.
struct Tee<R> {
    inner: R,
    tx: SyncSender<Vec<u8>>,
    pending: Vec<u8>,
}

impl<R: Read> Tee<R> {
    fn new(inner: R, tx: SyncSender<Vec<u8>>) -> Self {
        Tee {
            inner,
            tx,
            pending: Vec::with_capacity(CHUNK),
        }
    }

    fn send(&mut self) -> std::io::Result<()> {
        let full = std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK));
        self.tx
            .send(full)
            .map_err(|_| std::io::Error::other("the compressor stopped"))
    }

    /// Reads the rest of the stream through, then hands over what is pending.
    fn finish(mut self) -> std::io::Result<()> {
        std::io::copy(&mut self, &mut std::io::sink())?;
        if !self.pending.is_empty() {
            self.send()?;
        }
        Ok(())
    }
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pending.extend_from_slice(&buf[..n]);
        if self.pending.len() >= CHUNK {
            self.send()?;
        }
        Ok(n)
    }
}

#[derive(Default)]
struct Scan {
    entries: usize,
    secrets: Vec<SecretFinding>,
    allowed: Vec<SecretFinding>,
    lfs_pointers: Vec<String>,
    escaping_links: Vec<String>,
}

fn scan_stream<R: Read>(tee: Tee<R>, spec: &TarballSpec<'_>) -> std::io::Result<Scan> {
    let mut scan = Scan::default();
    let mut archive = tar::Archive::new(tee);
    let mut buf = vec![0u8; 64 * 1024];
    let mut links = LinkTree::default();
    for entry in archive.entries()? {
        let mut entry = entry?;
        scan.entries += 1;
        if entry.header().entry_type() == tar::EntryType::Symlink {
            let full = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let link = full.strip_prefix(spec.prefix).unwrap_or(&full);
            let target = entry
                .link_name_bytes()
                .map(|t| String::from_utf8_lossy(&t).into_owned())
                .unwrap_or_default();
            if let Err(why) = links.add_symlink(link, &target) {
                scan.escaping_links.push(format!(
                    "symlink {} -> {} {why}",
                    code(link),
                    code(&target)
                ));
            }
        }
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let full = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = full.strip_prefix(spec.prefix).unwrap_or(&full).to_owned();
        let mut found = Vec::new();
        if let Some(kind) = secret_name(&path) {
            found.push(SecretFinding {
                path: path.clone(),
                line: None,
                kind,
            });
        }
        let mut scanner = ContentScanner::default();
        let mut first = true;
        loop {
            let n = entry.read(&mut buf)?;
            if n == 0 {
                break;
            }
            if first && buf[..n].starts_with(LFS_MAGIC) {
                scan.lfs_pointers.push(path.clone());
            }
            first = false;
            scanner.feed(&buf[..n]);
        }
        found.extend(
            scanner
                .finish()
                .into_iter()
                .map(|(line, kind)| SecretFinding {
                    path: path.clone(),
                    line: Some(line),
                    kind,
                }),
        );
        if spec.allow.allows(&path) {
            scan.allowed.extend(found);
        } else {
            scan.secrets.extend(found);
        }
    }
    archive.into_inner().finish()?;
    scan.escaping_links.extend(links.problems(""));
    Ok(scan)
}
