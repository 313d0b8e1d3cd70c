//! The release folder target (SPEC 8, dir): `DIR/<build_id>/<file>`, written through
//! a temporary file, fsync and rename; the same content again is success, other
//! content is refused.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::build_id::BuildId;
use crate::error::{Error, Result};
use crate::fsx::{self, EntryKind};
use crate::hash::{self, HashingWriter};
use crate::progress::{ProgressReader, Reporter};
use crate::remote::{Published, Target};

/// Where a setting of the release folder came from, so that an error about its value
/// names that place, not a flag that was never given.
#[derive(Clone, Copy, Debug)]
pub enum Origin<'a> {
    /// A flag, e.g. `--base-url`.
    Flag(&'static str),
    /// A key of the configuration file, which `flag` overrides.
    Config {
        /// The configuration file.
        file: &'a Path,
        /// The key, e.g. `[dir] base_url`.
        key: &'static str,
        /// The flag that overrides it.
        flag: &'static str,
    },
}

impl Origin<'_> {
    /// The error that the value from here is invalid: `message` says why.
    fn invalid(self, message: String) -> Error {
        match self {
            Origin::Flag(flag) => Error::InvalidArg { flag, message },
            Origin::Config { file, key, flag } => Error::Config {
                path: file.to_owned(),
                message: format!("`{key}`: {message}; correct it there, or give `{flag}`"),
            },
        }
    }
}

/// Where the release folder (`path`) and the URL it is served at (`base_url`) came
/// from.
#[derive(Clone, Copy, Debug)]
pub struct Origins<'a> {
    /// The release folder's.
    pub path: Origin<'a>,
    /// The base URL's.
    pub base_url: Origin<'a>,
}

/// The build id in a file name of the form `NAME-src-<build_id>.tar.gz`.
pub fn build_id_from_file_name(name: &str) -> Option<BuildId> {
    let stem = name.strip_suffix(".tar.gz")?;
    let (_, id) = stem.rsplit_once("-src-")?;
    id.parse().ok()
}

/// Copies `file` to `root/<build_id>/<name>` and returns its URL; an invalid `root`
/// or `base_url` is named by where it came from (`origins`).
///
/// FILE must be a regular file (a symlink to one is followed). Inside the release
/// folder nothing is followed: a symlink at `<build_id>` or at `<build_id>/<name>`
/// would send the file, or the "already published" answer, somewhere else than the
/// printed URL says, so it is refused. A failed publish removes the folders it made.
/// The copy (or the hashing that compares) is reported to `reporter`.
pub fn publish(
    file: &Path,
    build_id: &BuildId,
    root: &Path,
    base_url: Option<&str>,
    origins: Origins<'_>,
    reporter: &dyn Reporter,
) -> Result<Published> {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::InvalidArg {
            flag: "FILE",
            message: format!("`{}` has no usable file name", file.display()),
        })?;
    // Everything that can fail without touching the release folder comes first.
    let (mut input, size) = fsx::open_regular(file)?;
    url_for(
        &root.join(build_id.as_str()).join(name),
        build_id,
        name,
        base_url,
        origins,
    )?;
    let mut created = Vec::new();
    let result = place(
        (&mut input, size, file, name),
        build_id,
        (root, base_url, origins),
        &mut created,
        reporter,
    );
    if result.is_err() {
        for dir in &created {
            fsx::remove_empty_dir(dir);
        }
    }
    result
}

/// The part of [`publish`] that touches the release folder; every folder it makes
/// is pushed on `created`, deepest first once done.
fn place(
    (input, size, file, name): (&mut std::fs::File, u64, &Path, &str),
    build_id: &BuildId,
    (root, base_url, origins): (&Path, Option<&str>, Origins<'_>),
    created: &mut Vec<PathBuf>,
    reporter: &dyn Reporter,
) -> Result<Published> {
    let read_err = |source| Error::Read {
        path: file.to_owned(),
        source,
    };
    // The release folder itself may be a symlink: that is where the user keeps it.
    created.extend(
        root.ancestors()
            .take_while(|dir| !dir.as_os_str().is_empty() && !fsx::exists(dir))
            .map(Path::to_owned),
    );
    fsx::create_dir_all(root)?;
    let root = fsx::canonicalize(root)?;
    let folder = root.join(build_id.as_str());
    if fsx::create_dir(&folder)? {
        created.insert(0, folder.clone());
    }
    match fsx::entry_kind(&folder)? {
        Some(EntryKind::Folder) => {}
        Some(EntryKind::Symlink) => {
            return Err(Error::UnsafePath {
                path: folder,
                message: "it is a symlink; the file would land outside the release folder and the printed URL would not say where".into(),
            });
        }
        kind => {
            return Err(Error::UnsafePath {
                path: folder,
                message: format!(
                    "it is {}, not a folder",
                    kind.map_or("missing", EntryKind::describe)
                ),
            });
        }
    }
    let dest = folder.join(name);
    let url = url_for(&dest, build_id, name, base_url, origins)?;
    if fsx::entry_kind(&dest)?.is_some() {
        let (new, _) =
            hash::sha256_reported(input, Some(size), name, reporter).map_err(read_err)?;
        return already_there(&dest, url, new, reporter);
    }
    let write_err = |source| Error::Write {
        path: dest.clone(),
        source,
    };
    let tmp = crate::fsx::new_file_builder()
        .tempfile_in(&folder)
        .map_err(write_err)?;
    let mut writer =
        HashingWriter::new(std::io::BufWriter::with_capacity(256 * 1024, tmp.as_file()));
    reporter.start(&format!("copying `{name}`"), Some(size));
    let copied = std::io::copy(&mut ProgressReader::new(input, reporter), &mut writer);
    reporter.finish();
    copied.map_err(read_err)?;
    writer.flush().map_err(write_err)?;
    let (sha256, size, _) = writer.finish();
    // A link or rename that never replaces (nor follows) what is at `dest`; someone
    // else may have published it meanwhile: then compare with theirs.
    if !tmp.commit(&dest, fsx::Existing::Refuse)? {
        return already_there(&dest, url, sha256, reporter);
    }
    Ok(Published {
        target: Target::Dir,
        url,
        sha256,
        size,
        already_there: false,
        asset_id: None,
        path: Some(dest),
        digest: None,
        signed: None,
    })
}

/// `dest` exists: success when it is a regular file (not a link) holding `new`.
fn already_there(
    dest: &Path,
    url: String,
    new: String,
    reporter: &dyn Reporter,
) -> Result<Published> {
    match fsx::entry_kind(dest)? {
        Some(EntryKind::File) => {}
        Some(EntryKind::Symlink) => {
            return Err(Error::UnsafePath {
                path: dest.to_owned(),
                message: "it is a symlink; the release folder must hold the published file itself, or the printed URL would serve whatever it points to".into(),
            });
        }
        kind => {
            return Err(Error::UnsafePath {
                path: dest.to_owned(),
                message: format!(
                    "it is {}, not a published file",
                    kind.map_or("missing", EntryKind::describe)
                ),
            });
        }
    }
    let (existing, size) = hash::sha256_file_reported(dest, reporter)?;
    if existing != new {
        return Err(Error::AssetConflict {
            location: dest.display().to_string(),
            existing,
            new,
        });
    }
    Ok(Published {
        target: Target::Dir,
        url,
        sha256: existing,
        size,
        already_there: true,
        asset_id: None,
        path: Some(dest.to_owned()),
        digest: None,
        signed: None,
    })
}

fn url_for(
    dest: &Path,
    build_id: &BuildId,
    name: &str,
    base_url: Option<&str>,
    origins: Origins<'_>,
) -> Result<String> {
    if let Some(base) = base_url {
        let mut url = url::Url::parse(base.trim_end_matches('/')).map_err(|e| {
            origins
                .base_url
                .invalid(format!("`{base}` is not a URL: {e}"))
        })?;
        url.path_segments_mut()
            .map_err(|()| {
                origins
                    .base_url
                    .invalid(format!("`{base}` cannot hold a path"))
            })?
            .pop_if_empty()
            .push(build_id.as_str())
            .push(name);
        Ok(url.to_string())
    } else {
        let abs = std::path::absolute(dest).map_err(|source| Error::Read {
            path: dest.to_owned(),
            source,
        })?;
        url::Url::from_file_path(&abs)
            .map(|u| u.to_string())
            .map_err(|()| {
                origins
                    .path
                    .invalid(format!("`{}` cannot be a file:// URL", abs.display()))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS: Origins<'static> = Origins {
        path: Origin::Flag("--path"),
        base_url: Origin::Flag("--base-url"),
    };

    #[test]
    fn a_bad_value_names_where_it_came_from() {
        let id: BuildId = "20260115-1614-9121078".parse().unwrap();
        let e = url_for(Path::new("/x"), &id, "f.bin", Some("not a url"), FLAGS).unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidArg {
                    flag: "--base-url",
                    ..
                }
            ),
            "{e}"
        );
        let config = Origins {
            path: Origin::Config {
                file: Path::new("otactl.toml"),
                key: "[dir] path",
                flag: "--path",
            },
            base_url: Origin::Config {
                file: Path::new("otactl.toml"),
                key: "[dir] base_url",
                flag: "--base-url",
            },
        };
        let e = url_for(Path::new("/x"), &id, "f.bin", Some("not a url"), config).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`otactl.toml`: `[dir] base_url`: `not a url` is not a URL: relative URL without a base; correct it there, or give `--base-url`"
        );
        let e = config.path.invalid("`x` cannot be a file:// URL".into());
        assert!(
            e.to_string()
                .starts_with("`otactl.toml`: `[dir] path`: `x` cannot be a file:// URL"),
            "{e}"
        );
    }

    #[test]
    fn build_id_from_names() {
        assert_eq!(
            build_id_from_file_name("evse-src-20260115-1614-9121078.tar.gz")
                .unwrap()
                .as_str(),
            "20260115-1614-9121078"
        );
        assert!(build_id_from_file_name("firmware.bin").is_none());
        assert!(build_id_from_file_name("evse-src-2026.tar.gz").is_none());
    }

    #[test]
    fn urls() {
        let id: BuildId = "20260115-1614-9121078".parse().unwrap();
        let url = url_for(
            Path::new("/x"),
            &id,
            "a b.bin",
            Some("https://ota.example.com/releases/"),
            FLAGS,
        )
        .unwrap();
        assert_eq!(
            url,
            "https://ota.example.com/releases/20260115-1614-9121078/a%20b.bin"
        );
        let url = url_for(
            Path::new("/srv/ota/20260115-1614-9121078/f.bin"),
            &id,
            "f.bin",
            None,
            FLAGS,
        )
        .unwrap();
        assert_eq!(url, "file:///srv/ota/20260115-1614-9121078/f.bin");
    }
}
