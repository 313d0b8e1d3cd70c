//! `publish`: a file put where devices download it, and its URL. `dir` copies it into
//! the release folder `DIR/<build_id>/`; `github` uploads it as a release asset (SPEC
//! 8): found or created as a draft, uploaded, published last, converging on re-runs.

use std::path::PathBuf;
use std::sync::Arc;

mod oci;

pub use oci::{OciPublished, OciRequest, oci};

use crate::build_id::BuildId;
use crate::error::{Error, Result};
use crate::fsx;
use crate::hash;
use crate::progress::Reporter;
use crate::remote::dir::{self, Origin, Origins};
use crate::remote::fetch;
use crate::remote::github::{
    Asset, GitHub, MAX_ASSET_SIZE, MAX_ASSETS, Release, UploadError, token_from_env,
};
use crate::remote::http::{Client, RemoteError};
use crate::remote::{Published, Target};
use crate::repo::Repo;
use crate::settings::{self, RemoteFlags};
use crate::text::code;

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
/// other content is refused) and returns where it is and its URL; the copy is
/// reported to `reporter`.
pub fn dir(repo: &Repo, request: &DirRequest, reporter: &dyn Reporter) -> Result<Published> {
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
        reporter,
    )
    .map_err(|e| e.for_flag("FILE"))
}

/// What to upload to a GitHub release.
#[derive(Clone, Debug, Default)]
pub struct GithubRequest {
    /// The file; its name is the asset's.
    pub file: PathBuf,
    /// The release tag (the build id).
    pub tag: String,
    /// The release title (default: the tag).
    pub title: Option<String>,
    /// Where GitHub creates the tag when the release is published
    /// (`target_commitish`; default: the default branch's head).
    pub target: Option<String>,
    /// `--api-url`, `--repo`, `--insecure`.
    pub remote: RemoteFlags,
}

/// Whether GitHub keeps `name` as given: it renames assets with other characters, and
/// a re-run would never find the asset again.
fn asset_name_ok(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-'))
}

/// Uploads one file as an asset of the release `request.tag`: the release found
/// (drafts too) or created as a draft, the asset uploaded unless one with the same
/// content is there, the release published last, its URL read back.
pub fn github(
    repo: &Repo,
    client: &Client,
    request: &GithubRequest,
    reporter: &Arc<dyn Reporter>,
) -> Result<Published> {
    let merged = settings::github_here(&repo.settings, &request.remote)?;
    let repository = merged.require_repository()?.clone();
    let (name, size) = checked_file(request)?;
    let token = token_from_env().ok_or_else(|| Error::MissingToken {
        why: format!("`publish github` uploads to {repository}"),
    })?;
    let mut gh = GitHub::new(client, merged.api.clone(), repository, Some(token));
    let release = find_or_create(&gh, request)?;
    gh.allow_upload_host(&release)
        .map_err(|message| Error::PublishRefused { message })?;
    let (asset, sha256, already_there) =
        put_asset(&gh, client, &release, &request.file, &name, reporter)?;
    let release = if release.draft {
        gh.publish(release.id)?
    } else {
        release
    };
    // A draft's links hold `untagged-…` and answer 404: the URL comes from the
    // published release, read again.
    let published = gh.release(release.id)?;
    let listed = match published.assets.iter().find(|a| a.id == asset.id) {
        Some(found) => Some(found.clone()),
        None => gh
            .assets(release.id)?
            .into_iter()
            .find(|a| a.id == asset.id),
    };
    let url = listed.map_or(asset.browser_download_url.clone(), |a| {
        a.browser_download_url
    });
    Ok(Published {
        target: Target::Github,
        url,
        sha256,
        size,
        already_there,
        asset_id: Some(asset.id),
        path: None,
        digest: None,
        signed: None,
    })
}

/// The asset's name and the file's size, checked before any request.
fn checked_file(request: &GithubRequest) -> Result<(String, u64)> {
    let file = &request.file;
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    if !asset_name_ok(&name) {
        return Err(Error::InvalidArg {
            flag: "FILE",
            message: format!(
                "the asset name {} has characters GitHub would change (it keeps only letters, digits, `.`, `_`, `+` and `-`, and no leading `.`); rename the file",
                code(&name)
            ),
        });
    }
    let tag = &request.tag;
    if tag.trim().is_empty() || tag.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::InvalidArg {
            flag: "--tag",
            message: format!("{} is not a tag name", code(tag)),
        });
    }
    let (_, size) = fsx::open_regular(file).map_err(|e| e.for_flag("FILE"))?;
    if size >= MAX_ASSET_SIZE {
        return Err(Error::InvalidArg {
            flag: "FILE",
            message: format!(
                "`{}` is {size} bytes; GitHub takes release assets under 2 GiB ({MAX_ASSET_SIZE} bytes): publish it to an OCI registry or a release folder instead",
                fsx::display(file)
            ),
        });
    }
    Ok((name, size))
}

/// The asset `name` of `release` with the content of `file`: the one there, or
/// uploaded; its SHA-256, and `true` when it was there already.
fn put_asset(
    gh: &GitHub<'_>,
    client: &Client,
    release: &Release,
    file: &std::path::Path,
    name: &str,
    reporter: &Arc<dyn Reporter>,
) -> Result<(Asset, String, bool)> {
    let mut sha256: Option<String> = None;
    let mut attempts = 0;
    let mut deleted = None;
    loop {
        let assets = gh.assets(release.id)?;
        match assets.iter().find(|a| a.name == name) {
            Some(asset) if asset.is_uploaded() => {
                let ours = match &sha256 {
                    Some(sha) => sha.clone(),
                    None => hash::sha256_file_reported(file, reporter.as_ref())?.0,
                };
                same_content(gh, asset, &ours, &release.tag_name, reporter.as_ref())?;
                return Ok((asset.clone(), ours, attempts == 0));
            }
            Some(starter) if deleted != Some(starter.id) => {
                // Left by a broken upload: it holds the name until deleted.
                gh.delete_asset(starter.id)?;
                deleted = Some(starter.id);
                continue;
            }
            Some(starter) => {
                return Err(Error::PublishRefused {
                    message: format!(
                        "the asset {} (id {}) of the release {} stays in state {} after it was deleted; delete it on GitHub, then run again",
                        code(name),
                        starter.id,
                        code(&release.tag_name),
                        code(&starter.state)
                    ),
                });
            }
            None => {}
        }
        can_add(gh, release, &assets, name)?;
        attempts += 1;
        let (input, len) = fsx::open_regular(file).map_err(|e| e.for_flag("FILE"))?;
        let upload = gh.upload(release, name, input, len, reporter);
        sha256.clone_from(&upload.sha256);
        let error = match upload.result {
            Ok(asset) => return uploaded(asset, sha256, file, name),
            Err(UploadError::Host(message)) => return Err(Error::PublishRefused { message }),
            Err(UploadError::Rejected(e) | UploadError::Remote(e)) => e,
        };
        match &error {
            RemoteError::RateLimited { wait, .. } if *wait <= client.policy.max_rate_wait => {
                std::thread::sleep(*wait);
            }
            // A 422 (`already_exists` after a retry that raced), a 5xx after the fact,
            // a dropped connection: the upload may have taken effect. The assets,
            // read again at the top of the loop, settle it; never a blind second upload.
            RemoteError::Status { status, .. }
                if *status == reqwest::StatusCode::UNPROCESSABLE_ENTITY => {}
            e if e.is_uncertain() => {
                std::thread::sleep(client.policy.next_pause(None, None) * attempts);
            }
            _ => return Err(error.into()),
        }
        if attempts >= client.policy.attempts {
            return Err(error.into());
        }
    }
}

/// An upload GitHub answered: what it holds must be what was sent.
fn uploaded(
    asset: Asset,
    sent: Option<String>,
    file: &std::path::Path,
    name: &str,
) -> Result<(Asset, String, bool)> {
    let sent = sent.ok_or_else(|| Error::PublishRefused {
        message: format!(
            "`{}` changed while it was uploaded; publish it again",
            fsx::display(file)
        ),
    })?;
    if let Some(theirs) = asset.sha256().filter(|t| *t != sent) {
        return Err(Error::PublishRefused {
            message: format!(
                "GitHub holds sha256 {theirs} for the asset {} just uploaded, but {sent} was sent; delete the asset on GitHub and publish again",
                code(name)
            ),
        });
    }
    Ok((asset, sent, false))
}

/// An asset of that name is there: success when its content is `ours`, else refused
/// (a published artifact is never replaced).
fn same_content(
    gh: &GitHub<'_>,
    asset: &Asset,
    ours: &str,
    tag: &str,
    reporter: &dyn Reporter,
) -> Result<()> {
    let theirs = match asset.sha256() {
        Some(sha) => sha,
        None => download_sha(gh, asset, reporter)?,
    };
    if theirs == ours {
        return Ok(());
    }
    Err(Error::AssetConflict {
        location: format!("{} of release {tag} ({})", asset.name, gh.repository),
        existing: theirs,
        new: ours.to_owned(),
    })
}

/// Whether an asset may be added: GitHub's limits and immutable releases, checked
/// before any byte is sent.
fn can_add(gh: &GitHub<'_>, release: &Release, assets: &[Asset], name: &str) -> Result<()> {
    let tag = code(&release.tag_name);
    if release.immutable && !release.draft {
        return Err(Error::PublishRefused {
            message: format!(
                "the release {tag} of {} is published and immutable, and has no asset {}: nothing can be added to it; use a new build id (a new tag)",
                gh.repository,
                code(name)
            ),
        });
    }
    let count = assets.len();
    if count >= MAX_ASSETS {
        return Err(Error::PublishRefused {
            message: format!(
                "the release {tag} of {} holds {count} assets, GitHub's limit of {MAX_ASSETS}; use a new build id (a new tag)",
                gh.repository
            ),
        });
    }
    Ok(())
}

/// The release with the tag: the one there (drafts included), else a new draft. Two
/// with the tag are refused: which one would devices get?
fn find_or_create(gh: &GitHub<'_>, request: &GithubRequest) -> Result<Release> {
    let tag = &request.tag;
    let found = gh.releases_with_tag(tag)?;
    if let Some(release) = one_release(gh, tag, found)? {
        return Ok(release);
    }
    let title = request.title.as_deref().unwrap_or(tag);
    match gh.create_draft(tag, title, request.target.as_deref()) {
        Ok(release) => Ok(release),
        // It may have been created (a 502 after the fact), or another run made it:
        // look again before anything else.
        Err(e) => {
            let again = gh.releases_with_tag(tag)?;
            match one_release(gh, tag, again)? {
                Some(release) => Ok(release),
                None if e.is_uncertain() => {
                    Ok(gh.create_draft(tag, title, request.target.as_deref())?)
                }
                None => Err(e.into()),
            }
        }
    }
}

fn one_release(gh: &GitHub<'_>, tag: &str, mut found: Vec<Release>) -> Result<Option<Release>> {
    if found.len() > 1 {
        let ids: Vec<String> = found
            .iter()
            .map(|r| format!("{} ({})", r.id, if r.draft { "draft" } else { "published" }))
            .collect();
        return Err(Error::PublishRefused {
            message: format!(
                "{} has {} releases with the tag {}: {}; delete the extra drafts on GitHub, then run again",
                gh.repository,
                found.len(),
                code(tag),
                ids.join(", ")
            ),
        });
    }
    Ok(found.pop())
}

/// The SHA-256 of an asset without `digest` (uploaded before mid-2025): downloaded
/// through the API and hashed, never kept; bounded like any download (the stall
/// limit, the default deadline, GitHub's size limit).
fn download_sha(gh: &GitHub<'_>, asset: &Asset, reporter: &dyn Reporter) -> Result<String> {
    let response = gh.download_asset(asset.id)?;
    let length = response.content_length();
    let payload = fetch::guarded(response.into_reader(), length, &fetch::Limits::default());
    reporter.start(&format!("downloading the asset `{}`", asset.name), length);
    let progress = crate::progress::ProgressReader::new(payload.reader, reporter);
    let reader = hash::HashingReader::new(progress, MAX_ASSET_SIZE);
    let finished = reader.finish();
    reporter.finish();
    let (sha, _) = finished.map_err(|e| {
        Error::from(RemoteError::Transport {
            what: format!("download the asset {}", code(&asset.name)),
            url: String::new(),
            message: e.to_string(),
            timed_out: false,
        })
    })?;
    Ok(sha)
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
        let published = super::dir(&repo, &request, &crate::progress::Silent).unwrap();
        assert!(
            published
                .path
                .unwrap()
                .ends_with(format!("releases/{id}/evse-src-{id}.tar.gz"))
        );
        assert!(
            super::dir(&repo, &request, &crate::progress::Silent)
                .unwrap()
                .already_there
        );
        let other = DirRequest {
            file: dir.path().join("fw.bin"),
            ..request
        };
        assert!(matches!(
            super::dir(&repo, &other, &crate::progress::Silent),
            Err(Error::InvalidArg {
                flag: "--build-id",
                ..
            })
        ));
    }
}
