//! What a folder holds, to compare before and after a command: its names, a file's
//! mode, the temporary files of an atomic write.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

/// The names in a folder, sorted (hidden ones included).
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The permission bits of a file or folder (setuid, setgid and sticky included).
pub fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// The temporary files of an atomic write in a folder (`.otactl-…` or `….tmp`); none
/// for a folder that does not exist.
pub fn temp_files(dir: &Path) -> Vec<String> {
    if !dir.exists() {
        return Vec::new();
    }
    names(dir)
        .into_iter()
        .filter(|n| n.starts_with(".otactl-") || Path::new(n).extension() == Some("tmp".as_ref()))
        .collect()
}

/// Every entry under `dir` (relative, sorted, hidden ones included, symlinks not
/// followed), with what it is and, for a file, its content: a snapshot of a folder to
/// compare before and after a refused command.
pub fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                found.push(format!("{rel} -> {}", target.display()));
            } else if meta.is_dir() {
                found.push(format!("{rel}/"));
                walk(root, &path, found);
            } else if meta.is_file() {
                let bytes = std::fs::read(&path).unwrap();
                found.push(format!("{rel}: {}", String::from_utf8_lossy(&bytes)));
            } else {
                // A FIFO: never opened, it would block.
                found.push(format!("{rel} ({:?})", meta.file_type()));
            }
        }
    }
    let mut found = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut found);
    }
    found.sort();
    found
}
