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
