//! `rollback`: the way back is forward. A channel never moves to an earlier build id,
//! so an earlier build's content ships again under a new build id made of now and
//! that build's git sha: a source tarball rebuilt from its commit, or the bytes it
//! shipped (found through the channel's git history, downloaded and checked against
//! their sha256) published again. Then [`release`](crate::ops::release) does the
//! rest, as for any release.

use std::io::Write as _;

use crate::build_id::BuildId;
use crate::error::{Error, Result};
use crate::fsx;
use crate::git;
use crate::hash::HashingWriter;
use crate::manifest::ArtifactKind;
use crate::manifest::fields::OciRef;
use crate::ops::release::ReleaseRequest;
use crate::progress::{ProgressReader, Reporter};
use crate::remote::Target;
use crate::remote::fetch::{self, FetchError, FileUrls, Limits};
use crate::remote::http::Client;
use crate::remote::oci::Registry;
use crate::remote::oci::image::{ImageManifest, TITLE_ANNOTATION};
use crate::repo::Repo;
use crate::settings::RemoteFlags;
use crate::text::code;

/// The way back.
#[derive(Clone, Debug, Default)]
pub struct RollbackRequest {
    /// The channel.
    pub channel: String,
    /// The earlier build whose content ships again.
    pub to: String,
    /// The OCI tag (above the repository's highest: `OtaFlux` serves the highest).
    pub version: Option<String>,
    /// The pull request's base branch.
    pub base: Option<String>,
    /// No pull request.
    pub no_pr: bool,
    /// Build and hash only.
    pub dry_run: bool,
    /// `--api-url`, `--repo`, `--insecure`.
    pub remote: RemoteFlags,
}

/// The earlier build, as the channel's history holds it.
#[derive(Clone, Debug)]
pub struct Earlier {
    /// Its build id.
    pub build_id: BuildId,
    /// Its artifact's kind, URL and sha256.
    pub kind: ArtifactKind,
    /// Where it was.
    pub url: String,
    /// Its sha256.
    pub sha256: String,
    /// The commit of the channel repository that wrote it.
    pub commit: String,
}

/// A rollback made ready: the release to run, and the downloaded bytes it ships.
pub struct Prepared {
    /// The release of the earlier content under the new build id.
    pub release: ReleaseRequest,
    /// The earlier build.
    pub earlier: Earlier,
    /// The folder holding the downloaded artifact, removed when dropped.
    pub work: Option<tempfile::TempDir>,
}

fn bad(flag: &'static str, message: String) -> Error {
    Error::InvalidArg { flag, message }
}

/// The manifest of `to` in the channel's git history.
fn find_earlier(repo: &Repo, channel: &str, to: &BuildId) -> Result<Earlier> {
    let settings = &repo.settings;
    let relative = settings.manifest_in_root(channel);
    let needle = format!("\"build_id\": \"{to}\"");
    let commits = git::commits_touching(&settings.root, &needle, &relative).unwrap_or_default();
    let dir = settings.channel_dir(channel);
    for commit in commits.iter().rev() {
        let Ok(Some(bytes)) = git::show_at(&dir, commit, "manifest.json") else {
            continue;
        };
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        if value.get("build_id").and_then(|b| b.as_str()) != Some(to.as_str()) {
            continue;
        }
        let field = |key: &str| {
            value
                .pointer(&format!("/artifact/{key}"))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let (Some(url), Some(sha256), Some(kind)) = (
            field("url"),
            field("sha256"),
            field("kind").and_then(|k| ArtifactKind::from_manifest(&k)),
        ) else {
            continue;
        };
        return Ok(Earlier {
            build_id: to.clone(),
            kind,
            url,
            sha256,
            commit: commit.clone(),
        });
    }
    Err(bad(
        "--to",
        format!(
            "`{to}` was never on the channel `{channel}`: no commit of `{}` holds it; `git log -p {}` shows the builds it had",
            fsx::display(&relative),
            fsx::display(&relative)
        ),
    ))
}

/// The build id of a rollback of `to` the channel already holds (a run that failed
/// after writing its manifest): re-run later, it resumes under that id instead of
/// publishing the same content again under another minute's.
fn resumed(repo: &Repo, channel: &str, to: &BuildId) -> Option<BuildId> {
    let path = repo.settings.manifest_path(channel);
    let bytes = fsx::read_limited(&path, crate::manifest::MAX_MANIFEST_BYTES, "a manifest").ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let id: BuildId = value.get("build_id")?.as_str()?.parse().ok()?;
    let notes = value.get("notes")?.as_str()?;
    (id.sha() == to.sha() && id != *to && notes == format!("rollback: the content of {to}"))
        .then_some(id)
}

/// Finds the earlier build, fetches what it shipped (unless it is rebuilt from its
/// commit) and makes the release that ships it again under a new build id; the
/// download is reported to `reporter`.
pub fn prepare(
    repo: &Repo,
    client: &Client,
    request: &RollbackRequest,
    reporter: &dyn Reporter,
) -> Result<Prepared> {
    repo.require_channel(&request.channel, "--channel")?;
    let to: BuildId = request
        .to
        .parse()
        .map_err(|e: crate::build_id::BuildIdError| bad("--to", e.to_string()))?;
    let earlier = find_earlier(repo, &request.channel, &to)?;
    let new_id = match resumed(repo, &request.channel, &to) {
        Some(id) => id,
        None => BuildId::from_parts(repo.now, to.sha()).map_err(|e| bad("--to", e.to_string()))?,
    };
    let mut release = ReleaseRequest {
        channel: request.channel.clone(),
        reference: to.sha().to_owned(),
        base: request.base.clone(),
        no_pr: request.no_pr,
        dry_run: request.dry_run,
        remote: request.remote.clone(),
        build_id: Some(new_id),
        rollback_of: Some(to.to_string()),
        ..ReleaseRequest::default()
    };
    let mut work = None;
    match earlier.kind {
        ArtifactKind::SourceTar => {
            let source = repo.settings.source_dir(None);
            match git::resolve_commit(&source, to.sha()) {
                Err(e) if !matches!(e, Error::NotARepository { .. }) => {
                    return Err(bad(
                        "--to",
                        format!(
                            "the source tarball of `{to}` is rebuilt from its commit: {e}; fetch that commit into the source repository, then run again"
                        ),
                    ));
                }
                _ => {}
            }
        }
        ArtifactKind::Firmware | ArtifactKind::Oci => {
            let dir = tempfile::Builder::new()
                .prefix("otactl-rollback-")
                .tempdir()
                .map_err(|source| Error::Write {
                    path: std::env::temp_dir(),
                    source,
                })?;
            if earlier.kind == ArtifactKind::Oci {
                release.target = Some(Target::Oci);
                release.version = Some(request.version.clone().ok_or_else(|| {
                    bad(
                        "--version",
                        "an OCI rollback needs `--version SEMVER` above the repository's highest tag: OtaFlux-style servers serve the highest".into(),
                    )
                })?);
            }
            let file = fetch_checked(
                client,
                &earlier,
                dir.path(),
                request.remote.insecure,
                reporter,
            )?;
            release.file = Some(file);
            work = Some(dir);
        }
    }
    Ok(Prepared {
        release,
        earlier,
        work,
    })
}

/// The file name the earlier artifact had.
fn file_name(earlier: &Earlier) -> String {
    let last = earlier
        .url
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .rsplit('/')
        .next()
        .unwrap_or_default();
    safe_name(last.rsplit(':').next().unwrap_or(last))
}

/// `name` when it is a file name (no folder, not `.` or `..`), else `artifact.bin`.
fn safe_name(name: &str) -> String {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        "artifact.bin".into()
    } else {
        name.to_owned()
    }
}

/// Downloads the earlier artifact into `dir`, hashing it: it must be the bytes the
/// manifest named. Returns the file, named as it was (an OCI layer's title, else the
/// URL's last segment).
fn fetch_checked(
    client: &Client,
    earlier: &Earlier,
    dir: &std::path::Path,
    insecure: bool,
    reporter: &dyn Reporter,
) -> Result<std::path::PathBuf> {
    let mut name = file_name(earlier);
    let limits = Limits {
        deadline: std::time::Duration::from_secs(3600),
        files: FileUrls::Anywhere,
    };
    let gone = |why: String| {
        bad(
            "--to",
            format!(
                "the artifact of `{}` ({}) cannot be fetched: {why}; it must still exist to be shipped again",
                earlier.build_id,
                code(&earlier.url)
            ),
        )
    };
    let (reader, len): (Box<dyn std::io::Read + Send>, Option<u64>) = if earlier.kind
        == ArtifactKind::Oci
    {
        let reference = OciRef::from_url(&earlier.url).map_err(gone)?;
        let registry = Registry::connect(client, &reference, insecure, false)?;
        let stored = registry
            .manifest(&reference.tag)?
            .ok_or_else(|| gone("the tag is gone".into()))?;
        let manifest: ImageManifest = serde_json::from_slice(&stored.bytes)
            .map_err(|_| gone("the tag holds no image manifest".into()))?;
        let layer = manifest
            .layers
            .first()
            .ok_or_else(|| gone("the manifest has no layer".into()))?;
        if let Some(title) = layer
            .annotations
            .as_ref()
            .and_then(|a| a.get(TITLE_ANNOTATION))
        {
            name = safe_name(title);
        }
        (
            Box::new(registry.blob(&layer.digest)?.into_reader()),
            Some(layer.size),
        )
    } else {
        match fetch::open(client, &earlier.url, &limits) {
            Ok(payload) => (payload.reader, payload.length),
            Err(FetchError::Missing(why) | FetchError::Refused(why)) => return Err(gone(why)),
            Err(FetchError::OutsideFolder) => return Err(gone("outside the folder".into())),
            Err(FetchError::Remote(why)) => {
                return Err(Error::Remote {
                    message: format!(
                        "the artifact of `{}` ({}) cannot be fetched: {why}; run again when the server answers",
                        earlier.build_id,
                        code(&earlier.url)
                    ),
                });
            }
        }
    };
    let file = dir.join(name);
    let tmp = fsx::new_file_builder()
        .tempfile_in(dir)
        .map_err(|source| Error::Write {
            path: file.clone(),
            source,
        })?;
    let mut writer = HashingWriter::new(std::io::BufWriter::new(tmp.as_file()));
    reporter.start(&earlier.url, len);
    let copied = std::io::copy(&mut ProgressReader::new(reader, reporter), &mut writer);
    reporter.finish();
    copied.map_err(|source| Error::Write {
        path: file.clone(),
        source,
    })?;
    writer.flush().map_err(|source| Error::Write {
        path: file.clone(),
        source,
    })?;
    let (sha256, _, _) = writer.finish();
    if sha256 != earlier.sha256 {
        return Err(Error::PublishRefused {
            message: format!(
                "the artifact of `{}` at {} now has sha256 {sha256}, not {} as its manifest says: it is not the content that build shipped, so it is not shipped again",
                earlier.build_id,
                code(&earlier.url),
                earlier.sha256
            ),
        });
    }
    tmp.commit(&file, fsx::Existing::Replace)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_manifest(repo: &Repo, build_id: &str, notes: &str) {
        let path = repo.settings.manifest_path("canary");
        fsx::create_dir_all(path.parent().unwrap()).unwrap();
        let json = serde_json::json!({"build_id": build_id, "notes": notes});
        fsx::write_atomic(
            &path,
            json.to_string().as_bytes(),
            None,
            fsx::Existing::Replace,
        )
        .unwrap();
    }

    #[test]
    fn a_rollback_the_channel_already_holds_is_resumed_under_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::for_tests(dir.path());
        let to: BuildId = "20260115-1614-9121078".parse().unwrap();
        write_manifest(
            &repo,
            "20260120-0900-9121078",
            "rollback: the content of 20260115-1614-9121078",
        );
        assert_eq!(
            resumed(&repo, "canary", &to)
                .map(|id| id.to_string())
                .as_deref(),
            Some("20260120-0900-9121078")
        );
        // Another build's rollback, another commit, or no rollback at all: a new id.
        write_manifest(
            &repo,
            "20260120-0900-9121078",
            "rollback: the content of 20260114-1000-9121078",
        );
        assert!(resumed(&repo, "canary", &to).is_none());
        write_manifest(
            &repo,
            "20260120-0900-aaaaaaa",
            "rollback: the content of 20260115-1614-9121078",
        );
        assert!(resumed(&repo, "canary", &to).is_none());
        write_manifest(&repo, "20260120-0900-9121078", "a bad build");
        assert!(resumed(&repo, "canary", &to).is_none());
    }

    #[test]
    fn fetching_the_earlier_artifact_is_reported_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let shipped = dir.path().join("fw.bin");
        let bytes = vec![5u8; 200_000];
        fsx::write_atomic(&shipped, &bytes, None, fsx::Existing::Refuse).unwrap();
        let url = url::Url::from_file_path(&shipped).unwrap().to_string();
        let earlier = Earlier {
            build_id: "20260115-1614-9121078".parse().unwrap(),
            kind: ArtifactKind::Firmware,
            url: url.clone(),
            sha256: crate::hash::sha256_file(&shipped).unwrap().0,
            commit: "0".repeat(40),
        };
        let work = dir.path().join("work");
        fsx::create_dir_all(&work).unwrap();
        let told = crate::progress::testing::Recording::default();
        let client = Client::new(None).unwrap();
        let file = fetch_checked(&client, &earlier, &work, false, &told).unwrap();
        assert_eq!(file, work.join("fw.bin"));
        assert_eq!(told.told(), [format!("{url} (200000): 200000 bytes")]);
    }
}
