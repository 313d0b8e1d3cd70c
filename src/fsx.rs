//! File access with the path in every error, and atomic writes (SPEC 2.4).
//!
//! Every read and write of otactl goes through here (clippy forbids bare `std::fs`
//! elsewhere). A write goes to a temporary file in the target folder, is synced, then
//! renamed over the target, so a crash never leaves a half-written file behind.

#![allow(clippy::disallowed_methods)]

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Reads a whole file, refusing one larger than `limit` bytes before reading it.
pub fn read_limited(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>> {
    let read_err = |source| Error::Read {
        path: path.to_owned(),
        source,
    };
    let file = fs::File::open(path).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    if meta.is_dir() {
        return Err(read_err(std::io::Error::other(
            "it is a directory, not a file",
        )));
    }
    if meta.len() > limit {
        return Err(Error::TooLarge {
            path: path.to_owned(),
            size: meta.len(),
            limit,
            what,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > limit {
        return Err(Error::TooLarge {
            path: path.to_owned(),
            size: bytes.len() as u64,
            limit,
            what,
        });
    }
    Ok(bytes)
}

/// Whether a path exists (a broken symlink counts as existing).
pub fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// Creates a folder and its parents.
pub fn create_dir_all(path: &Path) -> Result<()> {
    fs::create_dir_all(path).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })
}

/// How [`write_atomic`] treats an existing target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// Replace it.
    Replace,
    /// Refuse with [`Error::KeyExists`]; checked atomically by the rename.
    Refuse,
}

/// Writes `bytes` to `path` atomically: temporary file in the same folder, fsync,
/// rename, fsync of the folder. `mode` sets the Unix permissions before any byte is
/// written (a private key is never readable by others, not even for a moment).
pub fn write_atomic(
    path: &Path,
    bytes: &[u8],
    mode: Option<u32>,
    existing: Existing,
) -> Result<()> {
    let write_err = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    let dir = parent_dir(path);
    let mut tmp = new_file_builder().tempfile_in(&dir).map_err(write_err)?;
    if let Some(mode) = mode {
        set_mode(tmp.as_file(), mode).map_err(write_err)?;
    }
    tmp.write_all(bytes).map_err(write_err)?;
    tmp.as_file().sync_all().map_err(write_err)?;
    match existing {
        Existing::Replace => {
            tmp.persist(path).map_err(|e| write_err(e.error))?;
        }
        Existing::Refuse => {
            tmp.persist_noclobber(path).map_err(|e| {
                if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                    Error::KeyExists {
                        path: path.to_owned(),
                    }
                } else {
                    write_err(e.error)
                }
            })?;
        }
    }
    sync_dir(&dir);
    Ok(())
}

/// Makes a rename in `dir` durable (best effort: not every file system allows it).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A temporary file that becomes an ordinary file: readable like any new file
/// (0666 less the umask), not tempfile's private 0600.
pub fn new_file_builder() -> tempfile::Builder<'static, 'static> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".otactl-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o666));
    }
    builder
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

#[cfg(unix)]
fn set_mode(file: &fs::File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_file: &fs::File, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// Lists every file named `name` below `dir`, sorted, not following symlinked folders.
pub fn find_files(dir: &Path, name: &str) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let entries = fs::read_dir(&d).map_err(|source| Error::Read {
            path: d.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| Error::Read {
                path: d.clone(),
                source,
            })?;
            let file_type = entry.file_type().map_err(|source| Error::Read {
                path: entry.path(),
                source,
            })?;
            let path = entry.path();
            if file_type.is_dir() {
                if entry.file_name() != ".git" {
                    stack.push(path);
                }
            } else if entry.file_name() == name {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The entries of a folder with whether each is a folder (symlinks are not
/// followed), sorted.
pub fn list_dir(dir: &Path) -> Result<Vec<(PathBuf, bool)>> {
    let read_err = |source| Error::Read {
        path: dir.to_owned(),
        source,
    };
    let mut entries = fs::read_dir(dir)
        .map_err(read_err)?
        .map(|e| e.and_then(|e| Ok((e.path(), e.file_type()?.is_dir()))))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(read_err)?;
    entries.sort();
    Ok(entries)
}

/// Whether `path` is a folder.
pub fn is_dir(path: &Path) -> bool {
    path.is_dir()
}

/// Removes a file.
pub fn remove_file(path: &Path) -> Result<()> {
    fs::remove_file(path).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })
}

/// The first `n` bytes of a file (fewer if it is shorter).
pub fn read_head(path: &Path, n: u64) -> Result<Vec<u8>> {
    let read_err = |source| Error::Read {
        path: path.to_owned(),
        source,
    };
    let file = fs::File::open(path).map_err(read_err)?;
    let mut head = Vec::new();
    file.take(n).read_to_end(&mut head).map_err(read_err)?;
    Ok(head)
}

/// Appends `bytes` to a file, creating it if needed (for `$GITHUB_STEP_SUMMARY`).
pub fn append(path: &Path, bytes: &[u8]) -> Result<()> {
    let write_err = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(write_err)?;
    file.write_all(bytes).map_err(write_err)
}

/// `path` with every symlink resolved, as far as it exists: the canonical form of its
/// longest existing ancestor, then the rest of its components (`..` there taken
/// lexically, since nothing under a missing folder can be a symlink).
pub fn canonical_existing(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut base = path;
    let canonical = loop {
        if let Ok(found) = fs::canonicalize(base) {
            break found;
        }
        match (base.parent(), base.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                base = parent;
            }
            _ => break base.to_owned(),
        }
    };
    let mut out = canonical;
    for name in rest.iter().rev() {
        out.push(name);
    }
    let mut normal = PathBuf::new();
    for component in out.components() {
        match component {
            std::path::Component::ParentDir => {
                normal.pop();
            }
            std::path::Component::CurDir => {}
            other => normal.push(other),
        }
    }
    normal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.txt");
        write_atomic(&path, b"one", None, Existing::Replace).unwrap();
        write_atomic(&path, b"two", None, Existing::Replace).unwrap();
        assert_eq!(read_limited(&path, 10, "test").unwrap(), b"two");
        let err = write_atomic(&path, b"three", None, Existing::Refuse).unwrap_err();
        assert!(matches!(err, Error::KeyExists { .. }));
        assert_eq!(read_limited(&path, 10, "test").unwrap(), b"two");
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn read_limited_refuses_large_files_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        write_atomic(&path, &[b'x'; 100], None, Existing::Replace).unwrap();
        let err = read_limited(&path, 99, "a manifest").unwrap_err();
        assert!(matches!(
            err,
            Error::TooLarge {
                size: 100,
                limit: 99,
                ..
            }
        ));
    }

    #[cfg(unix)]
    #[test]
    fn mode_is_set() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        write_atomic(&path, b"k", Some(0o600), Existing::Refuse).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
