//! File access with the path in every error, and atomic writes (SPEC 2.4).
//!
//! Every read and write of otactl goes through here (clippy forbids bare `std::fs`
//! elsewhere). A write goes to a temporary file in the target folder, is synced, then
//! renamed over the target, so a crash never leaves a half-written file behind.
//! Every temporary file is registered while it exists, and SIGINT or SIGTERM removes
//! the registered files before the process exits (SPEC 6).

#![allow(clippy::disallowed_methods)]

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::error::{Error, Result};

/// How long a file that is a pipe (`--key <(pass show k)`, a FIFO) may take to be
/// written and closed.
pub const PIPE_DEADLINE: Duration = Duration::from_secs(10);

/// Reads a whole file, refusing one larger than `limit` bytes before reading it.
///
/// A file that is not a regular file (a FIFO, `/dev/fd/N` of a process substitution)
/// is read by a thread, at most `limit` bytes, and given up after [`PIPE_DEADLINE`]
/// when its writer never writes or never closes it.
pub fn read_limited(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>> {
    let read_err = |source| Error::Read {
        path: path.to_owned(),
        source,
    };
    // `stat`, not `open`: opening a FIFO waits for its writer, maybe forever.
    let meta = fs::metadata(path).map_err(read_err)?;
    if meta.is_dir() {
        return Err(read_err(std::io::Error::other(
            "it is a directory, not a file",
        )));
    }
    if !meta.is_file() {
        return read_pipe(path, limit, what);
    }
    let file = fs::File::open(path).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
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

/// Reads a pipe under `limit` and [`PIPE_DEADLINE`]: a thread opens and reads it
/// (both can block), this one waits for its answer no longer than the deadline.
fn read_pipe(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let owned = path.to_owned();
    let reader = move || {
        let read = || -> std::io::Result<Vec<u8>> {
            let file = fs::File::open(&owned)?;
            // Room for all that is read: growing the buffer would leave copies of a
            // key behind in freed memory.
            let capacity = usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX);
            let mut bytes = Vec::with_capacity(capacity);
            file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
            Ok(bytes)
        };
        let _ = tx.send(read());
    };
    std::thread::Builder::new()
        .name("pipe reader".into())
        .spawn(reader)
        .map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
    match rx.recv_timeout(PIPE_DEADLINE) {
        Ok(Ok(mut bytes)) if bytes.len() as u64 > limit => {
            zeroize::Zeroize::zeroize(&mut bytes);
            Err(Error::Pipe {
                path: path.to_owned(),
                message: format!(
                    "is a pipe that sent more than the limit of {limit} bytes for {what}; otactl stopped reading it"
                ),
            })
        }
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(source)) => Err(Error::Read {
            path: path.to_owned(),
            source,
        }),
        Err(_) => Err(Error::Pipe {
            path: path.to_owned(),
            message: format!(
                "is a pipe that was not written and closed within {} s; otactl stopped waiting for it (the program writing it must send the whole file and end, as `--key <(pass show ota/signing-key)` does)",
                PIPE_DEADLINE.as_secs()
            ),
        }),
    }
}

/// Whether a path exists (a broken symlink counts as existing).
pub fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// The path with every symlink, `.` and `..` resolved on disk; `None` when it does
/// not exist (or leads nowhere).
pub fn real_path(path: &Path) -> Option<PathBuf> {
    fs::canonicalize(path).ok()
}

/// Creates a folder and its parents.
pub fn create_dir_all(path: &Path) -> Result<()> {
    fs::create_dir_all(path).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })
}

/// Creates a folder and its parents that only the owner can enter (0700 from the
/// start), for a private key: nobody else can swap the key file in a folder they
/// cannot write. Folders that exist are left as they are.
pub fn create_private_dir_all(path: &Path) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })
}

/// How [`write_atomic`] treats an existing target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// Replace it.
    Replace,
    /// Never replace an existing file (checked atomically by the rename).
    Refuse,
}

/// Writes `bytes` to `path` atomically: temporary file in the same folder, fsync,
/// rename, fsync of the folder. `mode` is the Unix mode the temporary file is created
/// with, in the `open` call itself (a private key is never readable by others, not
/// even for a moment); where the umask narrowed it, it is set before any byte is
/// written.
pub fn write_atomic(
    path: &Path,
    bytes: &[u8],
    mode: Option<u32>,
    existing: Existing,
) -> Result<()> {
    if !place(path, bytes, mode, existing)? {
        return Err(Error::KeyExists {
            path: path.to_owned(),
        });
    }
    Ok(())
}

/// Writes a new file atomically, as [`write_atomic`] does, never over one that is
/// there: `Ok(false)` when `path` exists (and nothing was written).
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<bool> {
    place(path, bytes, None, Existing::Refuse)
}

fn place(path: &Path, bytes: &[u8], mode: Option<u32>, existing: Existing) -> Result<bool> {
    let write_err = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    let dir = parent_dir(path);
    let mut builder = new_file_builder();
    if let Some(mode) = mode {
        builder = builder.mode(mode);
    }
    let tmp = builder.tempfile_in(&dir).map_err(write_err)?;
    if let Some(mode) = mode {
        ensure_mode(tmp.as_file(), mode).map_err(write_err)?;
    }
    tmp.as_file().write_all(bytes).map_err(write_err)?;
    tmp.commit(path, existing)
}

/// Makes a rename in `dir` durable (best effort: not every file system allows it).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A temporary file that becomes an ordinary file: readable like any new file
/// (0666 less the umask), not tempfile's private 0600, unless [`TempBuilder::mode`]
/// says otherwise.
pub fn new_file_builder() -> TempBuilder {
    TempBuilder { mode: 0o666 }
}

/// Makes `.otactl-*.tmp` files that are registered for removal on a signal.
#[derive(Clone, Copy, Debug)]
pub struct TempBuilder {
    mode: u32,
}

impl TempBuilder {
    /// The Unix mode the file is created with (less the umask), set by the `open`
    /// call that creates it.
    #[must_use]
    pub fn mode(self, mode: u32) -> TempBuilder {
        TempBuilder { mode }
    }

    /// Creates the temporary file in `dir` and registers it.
    pub fn tempfile_in(&self, dir: impl AsRef<Path>) -> std::io::Result<TempFile> {
        let mut builder = tempfile::Builder::new();
        builder.prefix(".otactl-").suffix(".tmp");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(fs::Permissions::from_mode(self.mode));
        }
        // Created and registered under the lock: the signal handler takes it before
        // it removes the files, and keeps it until the process ends, so no file is
        // made between its sweep and the exit, and none is missed.
        let mut registry = registry();
        let file = builder.tempfile_in(dir)?;
        let path = std::path::absolute(file.path()).unwrap_or_else(|_| file.path().to_owned());
        registry.push(path.clone());
        Ok(TempFile {
            file,
            registered: Registered(Some(path)),
        })
    }
}

/// The temporary files that exist now: the signal handler removes them.
static TEMP_FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn registry() -> MutexGuard<'static, Vec<PathBuf>> {
    TEMP_FILES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A registered temporary file: removed when dropped, or renamed into place.
pub struct TempFile {
    // Dropped first: the file is removed, then unregistered.
    file: tempfile::NamedTempFile,
    registered: Registered,
}

/// A path in the registry, taken out when dropped.
struct Registered(Option<PathBuf>);

impl Drop for Registered {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            registry().retain(|p| *p != path);
        }
    }
}

impl TempFile {
    /// The open file.
    pub fn as_file(&self) -> &fs::File {
        self.file.as_file()
    }

    /// Puts the file in place: syncs it, renames it to `path` (with
    /// [`Existing::Refuse`], never over a file that is there: then `Ok(false)`, and
    /// the temporary file is removed) and syncs the folder. The one way otactl's
    /// temporary files become real ones: manifests, keys, tarballs, published files.
    pub fn commit(self, path: &Path, existing: Existing) -> Result<bool> {
        let write_err = |source| Error::Write {
            path: path.to_owned(),
            source,
        };
        self.as_file().sync_all().map_err(write_err)?;
        let TempFile { file, registered } = self;
        let placed = match existing {
            Existing::Replace => file.persist(path).map(drop),
            Existing::Refuse => file.persist_noclobber(path).map(drop),
        };
        // Renamed, or removed with the error: either way no longer ours to clean up.
        drop(registered);
        match placed {
            Ok(()) => {}
            Err(e)
                if existing == Existing::Refuse
                    && e.error.kind() == std::io::ErrorKind::AlreadyExists =>
            {
                return Ok(false);
            }
            Err(e) => return Err(write_err(e.error)),
        }
        sync_dir(&parent_dir(path));
        Ok(true)
    }
}

/// Removes the registered temporary files and ends the process with `128 + N` when
/// signal N, SIGINT or SIGTERM, arrives: exit 130 or 143 (SPEC 6). A thread waits for
/// the signals; call once, at the start of `main`.
#[cfg(unix)]
#[allow(
    clippy::exit,
    reason = "the process ends on the signal, as SPEC 6 says"
)]
pub fn remove_temp_files_on_signal() -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                // Held until the end: no temporary file is made after the sweep.
                let registry = registry();
                for path in registry.iter() {
                    let _ = fs::remove_file(path);
                }
                std::process::exit(128 + signal);
            }
        })?;
    Ok(())
}

/// Signals are not handled off Unix.
#[cfg(not(unix))]
pub fn remove_temp_files_on_signal() -> std::io::Result<()> {
    Ok(())
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Gives a new file exactly `mode` where the umask made it narrower (no `chmod` at
/// all where it did not).
#[cfg(unix)]
fn ensure_mode(file: &fs::File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if file.metadata()?.permissions().mode() & 0o7777 != mode {
        file.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn ensure_mode(_file: &fs::File, _mode: u32) -> std::io::Result<()> {
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

/// Appends what `fit` makes of `bytes` given the file's current length to a file,
/// creating it if needed (for `$GITHUB_STEP_SUMMARY`, whose size GitHub limits).
pub fn append(path: &Path, bytes: &[u8], fit: impl FnOnce(u64, &[u8]) -> Vec<u8>) -> Result<()> {
    let write_err = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(write_err)?;
    let len = file.metadata().map_err(write_err)?.len();
    file.write_all(&fit(len, bytes)).map_err(write_err)
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

/// A path as shown to the user: relative to the working folder when under it.
pub fn display(path: &Path) -> String {
    display_path(path).display().to_string()
}

/// [`display`] as a path.
pub fn display_path(path: &Path) -> PathBuf {
    // The working folder is fixed once `-C` is applied; ask the OS once.
    static CWD: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let cwd = CWD.get_or_init(|| std::env::current_dir().unwrap_or_default());
    path.strip_prefix(cwd)
        .map_or_else(|_| path.to_owned(), Path::to_owned)
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

    #[test]
    fn temporary_files_are_registered_while_they_exist() {
        let dir = tempfile::tempdir().unwrap();
        let registered = |path: &Path| registry().iter().any(|p| p == path);
        let dropped = new_file_builder().tempfile_in(dir.path()).unwrap();
        let dropped_path = dropped.file.path().to_owned();
        let kept = new_file_builder().tempfile_in(dir.path()).unwrap();
        let kept_path = kept.file.path().to_owned();
        assert!(registered(&dropped_path) && registered(&kept_path));
        drop(dropped);
        assert!(!registered(&dropped_path) && !dropped_path.exists());
        let target = dir.path().join("target");
        assert!(kept.commit(&target, Existing::Replace).unwrap());
        assert!(!registered(&kept_path) && target.exists());
        let refused = new_file_builder().tempfile_in(dir.path()).unwrap();
        let refused_path = refused.file.path().to_owned();
        assert!(!refused.commit(&target, Existing::Refuse).unwrap());
        assert!(!registered(&refused_path) && !refused_path.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
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

// ---- Inputs that must be regular files; entries of a release folder ----
//
// An artifact comes from whoever opened the pull request: opening a FIFO for reading
// blocks until a writer comes, and a device such as `/dev/zero` never ends. So the
// type is read before anything is opened, and the open file is checked again.

/// What a file system entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A folder.
    Folder,
    /// A symbolic link (only from [`entry_kind`], which does not follow links).
    Symlink,
    /// A FIFO (named pipe).
    Fifo,
    /// A character device such as `/dev/zero`.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A Unix socket.
    Socket,
    /// Anything else.
    Other,
}

impl EntryKind {
    fn of(file_type: fs::FileType) -> EntryKind {
        #[cfg(unix)]
        use std::os::unix::fs::FileTypeExt as _;
        if file_type.is_symlink() {
            return EntryKind::Symlink;
        }
        if file_type.is_file() {
            return EntryKind::File;
        }
        if file_type.is_dir() {
            return EntryKind::Folder;
        }
        #[cfg(unix)]
        {
            if file_type.is_fifo() {
                return EntryKind::Fifo;
            }
            if file_type.is_char_device() {
                return EntryKind::CharDevice;
            }
            if file_type.is_block_device() {
                return EntryKind::BlockDevice;
            }
            if file_type.is_socket() {
                return EntryKind::Socket;
            }
        }
        EntryKind::Other
    }

    /// The kind in words, with its article: `a FIFO (named pipe)`.
    pub fn describe(self) -> &'static str {
        match self {
            EntryKind::File => "a regular file",
            EntryKind::Folder => "a folder",
            EntryKind::Symlink => "a symlink",
            EntryKind::Fifo => "a FIFO (named pipe)",
            EntryKind::CharDevice => "a character device",
            EntryKind::BlockDevice => "a block device",
            EntryKind::Socket => "a socket",
            EntryKind::Other => "not a regular file",
        }
    }
}

/// What `path` itself is (a symlink is not followed), or `None` when nothing is there.
pub fn entry_kind(path: &Path) -> Result<Option<EntryKind>> {
    match fs::symlink_metadata(path) {
        Ok(meta) => Ok(Some(EntryKind::of(meta.file_type()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Opens for reading a file that must be a regular file (an artifact); a symlink to
/// one is followed. Anything else is refused with [`Error::NotRegularFile`] before it
/// is opened. Returns the file and its size.
pub fn open_regular(path: &Path) -> Result<(fs::File, u64)> {
    let read_err = |source| Error::Read {
        path: path.to_owned(),
        source,
    };
    let refuse = |kind: EntryKind| Error::NotRegularFile {
        path: path.to_owned(),
        kind: kind.describe(),
    };
    let before = fs::metadata(path).map_err(read_err)?;
    let kind = EntryKind::of(before.file_type());
    if kind != EntryKind::File {
        return Err(refuse(kind));
    }
    let file = fs::File::open(path).map_err(read_err)?;
    let after = file.metadata().map_err(read_err)?;
    let kind = EntryKind::of(after.file_type());
    if kind != EntryKind::File {
        return Err(refuse(kind));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        if (before.dev(), before.ino()) != (after.dev(), after.ino()) {
            return Err(read_err(std::io::Error::other(
                "it was replaced while it was being opened; run the command again",
            )));
        }
    }
    Ok((file, after.len()))
}

/// The absolute path with every symlink resolved.
pub fn canonicalize(path: &Path) -> Result<PathBuf> {
    fs::canonicalize(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })
}

/// Creates one folder whose parent exists: `Ok(true)` when it made it, `Ok(false)`
/// when something (of any kind) is there already.
pub fn create_dir(path: &Path) -> Result<bool> {
    match fs::create_dir(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(source) => Err(Error::Write {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Removes a folder if it is empty, quietly: for undoing what a failed command made.
pub fn remove_empty_dir(path: &Path) {
    let _ = fs::remove_dir(path);
}

/// The permission bits (`0o777`) of the file at `path`, if it exists.
pub fn permissions_of(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::metadata(path)
            .ok()
            .map(|meta| meta.permissions().mode() & 0o777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

#[cfg(test)]
mod regular_file_tests {
    use super::*;

    #[test]
    fn only_regular_files_are_opened_and_symlinks_to_them_are_followed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("fw.bin");
        write_atomic(&file, b"fw", None, Existing::Refuse).unwrap();
        assert_eq!(open_regular(&file).unwrap().1, 2);
        #[cfg(unix)]
        {
            let link = dir.path().join("link.bin");
            std::os::unix::fs::symlink(&file, &link).unwrap();
            assert_eq!(open_regular(&link).unwrap().1, 2);
            assert_eq!(entry_kind(&link).unwrap(), Some(EntryKind::Symlink));
            let err = open_regular(Path::new("/dev/null")).unwrap_err();
            assert_eq!(
                err.for_flag("--from-file").to_string(),
                "invalid value for `--from-file`: `/dev/null` is a character device, not a regular file; give the artifact file itself"
            );
        }
        let err = open_regular(dir.path()).unwrap_err().to_string();
        assert!(err.contains("is a folder, not a regular file"), "{err}");
        assert!(matches!(
            open_regular(&dir.path().join("missing")),
            Err(Error::Read { .. })
        ));
        assert_eq!(entry_kind(&dir.path().join("missing")).unwrap(), None);
        assert_eq!(entry_kind(dir.path()).unwrap(), Some(EntryKind::Folder));
    }
}
