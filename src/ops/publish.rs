//! `publish dir`: a file copied into the release folder `DIR/<build_id>/`, its URL.
//! The GitHub and OCI targets join this module.

use std::path::PathBuf;

use crate::build_id::BuildId;
use crate::error::{Error, Result};
use crate::fsx;
use crate::remote::dir::{self, Origin, Origins, Published};
use crate::repo::Repo;

/// What to publish into the release folder.
#[derive(Clone, Debug)]
pub struct DirRequest {
    /// The file (a regular file).
    pub file: PathBuf,
    /// The release folder (default: `[dir] path`).
    pub path: Option<PathBuf>,
    /// The folder's public URL (default: `[dir] base_url`; else a `file://` URL).
    pub base_url: Option<String>,
    /// The build id (default: from a file named `NAME-src-<build_id>.tar.gz`).
    pub build_id: Option<String>,
}

/// Copies the file to `DIR/<build_id>/<file>` (the same content again is success,
/// other content is refused) and returns where it is and its URL.
pub fn dir(repo: &Repo, request: &DirRequest) -> Result<Published> {
    let settings = &repo.settings;
    let root = request
        .path
        .clone()
        .or(settings.dir_path.clone())
        .ok_or_else(|| Error::InvalidArg {
            flag: "--path",
            message: "no release folder: pass `--path DIR` or set `[dir] path` in otactl.toml"
                .into(),
        })?;
    let build_id = match &request.build_id {
        Some(id) => id.parse::<BuildId>().map_err(|e| Error::InvalidArg {
            flag: "--build-id",
            message: e.to_string(),
        })?,
        None => request
            .file
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(dir::build_id_from_file_name)
            .ok_or_else(|| Error::InvalidArg {
                flag: "--build-id",
                message: format!(
                    "`{}` is not named `NAME-src-<build_id>.tar.gz`; pass the build id",
                    fsx::display(&request.file)
                ),
            })?,
    };
    let base_url = request.base_url.clone().or(settings.dir_base_url.clone());
    // A bad value is named by where it came from: the flag, or otactl.toml.
    let origin = |given: bool, flag, key| match &settings.config_path {
        Some(file) if !given => Origin::Config { file, key, flag },
        _ => Origin::Flag(flag),
    };
    let origins = Origins {
        path: origin(request.path.is_some(), "--path", "[dir] path"),
        base_url: origin(request.base_url.is_some(), "--base-url", "[dir] base_url"),
    };
    dir::publish(
        &request.file,
        &build_id,
        &root,
        base_url.as_deref(),
        origins,
    )
    .map_err(|e| e.for_flag("FILE"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_id_comes_from_the_file_name_or_the_request() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::for_tests(dir.path());
        let id = "20260115-1614-9121078";
        let file = dir.path().join(format!("evse-src-{id}.tar.gz"));
        fsx::write_atomic(&file, b"tarball", None, fsx::Existing::Refuse).unwrap();
        let request = DirRequest {
            file: file.clone(),
            path: Some(dir.path().join("releases")),
            base_url: None,
            build_id: None,
        };
        let published = super::dir(&repo, &request).unwrap();
        assert!(
            published
                .path
                .ends_with(format!("releases/{id}/evse-src-{id}.tar.gz"))
        );
        assert!(super::dir(&repo, &request).unwrap().already_present);
        let other = DirRequest {
            file: dir.path().join("fw.bin"),
            ..request
        };
        assert!(matches!(
            super::dir(&repo, &other),
            Err(Error::InvalidArg {
                flag: "--build-id",
                ..
            })
        ));
    }
}
