//! The release checklist of one manifest (SPEC 5): gathers the facts — the manifest
//! as read, the download, the manifest at the base ref, the channel before it — and
//! lets [`checklist`] decide each item.

mod oci;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::checklist::{
    self, BaseFacts, Download, Facts, Gathered, GithubAnswer, GithubPlace, Hashed, Place,
    Promotion, Report,
};
use crate::error::{Error, Result};
use crate::fsx;
use crate::git;
use crate::hash::{HashingReader, TooLong};
use crate::inspect::{UnpackLimit, inspect_tar_gz};
use crate::lint::SignaturePolicy;
use crate::manifest::{ArtifactKind, MAX_MANIFEST_BYTES, Manifest};
use crate::progress::{ProgressReader, Reporter};
use crate::remote::fetch::{self, Cutoff, FetchError, FileUrls, Limits, Payload};
use crate::remote::github::{Api, DEFAULT_API_URL, GitHub, ReleaseAsset, token_from_env};
use crate::remote::http::Client;
use crate::repo::{Repo, read_for_check};
use crate::settings::{self, GithubSettings, RemoteFlags};

/// What to check, and how far a download may go.
#[derive(Clone, Debug)]
#[allow(clippy::struct_excessive_bools)] // one per flag of `verify`
pub struct Request {
    /// The manifest file.
    pub manifest: PathBuf,
    /// The git ref holding the channel's current manifest (default: `origin/main`,
    /// else `main`).
    pub base: Option<String>,
    /// Skip items 3 to 5.
    pub offline: bool,
    /// Trusted public key files instead of `[signing] public_keys`.
    pub pubkeys: Vec<PathBuf>,
    /// A manifest without a signature fails (besides `[signing] require`).
    pub require_signature: bool,
    /// A build that skipped the previous channel fails instead of warning.
    pub strict_order: bool,
    /// The largest download.
    pub max_size: u64,
    /// The largest inflated tarball; `None`: the default of SPEC 6.
    pub max_unpacked: Option<u64>,
    /// The whole download, retries included.
    pub deadline: Duration,
    /// Read a `file://` artifact outside `[dir] path` even in CI.
    pub allow_file_url: bool,
    /// Whether this runs in CI (SPEC 6).
    pub in_ci: bool,
    /// Item 3 passes for an artifact outside where this repository publishes.
    pub allow_foreign_artifact: bool,
    /// `--api-url`, `--repo`, `--insecure`.
    pub remote: RemoteFlags,
    /// An OCI artifact needs a cosign signature under a trusted key (besides
    /// `[oci] cosign`).
    pub require_cosign: bool,
}

impl Request {
    /// The checklist of `manifest` with the defaults of `otactl verify`: downloads on,
    /// 4 GiB, one hour.
    pub fn new(manifest: PathBuf) -> Request {
        Request {
            manifest,
            base: None,
            offline: false,
            pubkeys: Vec::new(),
            require_signature: false,
            strict_order: false,
            max_size: 4 << 30,
            max_unpacked: None,
            deadline: Duration::from_secs(3600),
            allow_file_url: false,
            in_ci: crate::config::in_ci(),
            allow_foreign_artifact: false,
            remote: RemoteFlags::default(),
            require_cosign: false,
        }
    }
}

/// The manifest file of `channel`, which must be one of the repository's and have one.
pub fn channel_manifest(repo: &Repo, channel: &str) -> Result<PathBuf> {
    repo.require_channel(channel, "--channel")?;
    let path = repo.settings.manifest_path(channel);
    if !fsx::exists(&path) {
        return Err(Error::InvalidArg {
            flag: "--channel",
            message: format!(
                "`{channel}` has no manifest yet (`{}`)",
                fsx::display(&path)
            ),
        });
    }
    Ok(path)
}

/// Runs the checklist on `request.manifest`.
pub fn verify(
    repo: &Repo,
    client: &Client,
    request: &Request,
    reporter: &dyn Reporter,
) -> Result<Report> {
    let path = &request.manifest;
    let trusted = repo.trusted_keys(&request.pubkeys)?;
    let parsed = read_for_check(path, &repo.rules(path))?;
    let manifest = parsed.manifest.as_ref();
    let github = settings::github_here(&repo.settings, &request.remote)?;
    let facts = Facts {
        parsed: &parsed,
        policy: SignaturePolicy {
            trusted: &trusted,
            require: request.require_signature || repo.settings.require_signature,
        },
        lenient: repo.lenient_rules(),
        gathered: manifest.map(|m| {
            let (place, download) = place_and_download(repo, client, &github, request, m, reporter);
            Gathered {
                download,
                place,
                base: base_facts(path, request.base.as_deref()),
                promotion: promotion(repo, m),
            }
        }),
        strict_order: request.strict_order,
    };
    let items = checklist::evaluate(&facts);
    Ok(Report::new(
        fsx::display(path),
        parsed.string_field("channel"),
        parsed.string_field("build_id"),
        items,
    ))
}

/// Items 3 to 5: for a GitHub release link, what the API says of the asset; then one
/// streamed read of the artifact that hashes it, bounds it and, for a source tarball,
/// inspects it. The link is downloaded as a device does, without the token; only when
/// it answers 404 and a token is set does the download go through the asset API.
fn place_and_download(
    repo: &Repo,
    client: &Client,
    github: &GithubSettings,
    request: &Request,
    m: &Manifest,
    reporter: &dyn Reporter,
) -> (Place, Download) {
    // A github.com link is GitHub's whatever the API URL; on another API's web host
    // than the configured one, it is asked without the token and is foreign.
    if m.artifact.kind == ArtifactKind::Oci {
        return oci::gather(repo, client, request, m, reporter);
    }
    let link = url::Url::parse(&m.artifact.url).ok().and_then(|url| {
        let own = github
            .api
            .release_asset(&url)
            .map(|l| (l, github.api.clone(), true));
        own.or_else(|| {
            let public = Api::parse(DEFAULT_API_URL, false).ok()?;
            public.release_asset(&url).map(|l| (l, public, false))
        })
    });
    let Some((link, api, own_host)) = link else {
        return (
            Place::Download,
            download(client, repo, request, m, reporter, None),
        );
    };
    let configured = github.repository.as_ref().map(|(r, _)| r);
    let found = if own_host {
        link.repository.to_string()
    } else {
        format!("{}/{}", api.web_host(), link.repository)
    };
    let mut place = GithubPlace {
        found,
        configured: configured.map(ToString::to_string),
        foreign: configured.is_some_and(|c| !own_host || !c.is(&link.repository)),
        allow_foreign: request.allow_foreign_artifact,
        tag: link.tag.clone(),
        asset: link.name.clone(),
        api: GithubAnswer::NotAsked,
        via_api: false,
        with_token: false,
    };
    if request.offline {
        return (Place::Github(place), Download::Offline);
    }
    let gh = GitHub::new(
        client,
        api,
        link.repository.clone(),
        token_from_env().filter(|_| own_host),
    );
    place.with_token = gh.token().is_some();
    let asset_id;
    (place.api, asset_id) = ask_github(&gh, &link);
    let fallback = asset_id.filter(|_| gh.token().is_some());
    let mut via_api = false;
    let download = download(
        client,
        repo,
        request,
        m,
        reporter,
        fallback.map(|id| (&gh, id, &mut via_api)),
    );
    place.via_api = via_api;
    (Place::Github(place), download)
}

/// What the API says of the asset a link names, and its id.
fn ask_github(gh: &GitHub<'_>, link: &ReleaseAsset) -> (GithubAnswer, Option<u64>) {
    let release = match gh.published_release(&link.tag) {
        Ok(Some(release)) => release,
        Ok(None) => return (GithubAnswer::NoRelease, None),
        Err(e) => return (GithubAnswer::Failed(e.to_string()), None),
    };
    let listed = release
        .assets
        .iter()
        .find(|a| a.name == link.name && a.is_uploaded())
        .cloned();
    let asset = match listed {
        Some(asset) => Some(asset),
        None => match gh.assets(release.id) {
            Ok(all) => all
                .into_iter()
                .find(|a| a.name == link.name && a.is_uploaded()),
            Err(e) => return (GithubAnswer::Failed(e.to_string()), None),
        },
    };
    match asset {
        Some(asset) => (
            GithubAnswer::Asset {
                sha256: asset.sha256(),
            },
            Some(asset.id),
        ),
        None => (GithubAnswer::NoAsset, None),
    }
}

/// The streamed read of items 3 to 5; `api` is the asset API to fall back on when
/// the link answers 404 (and where to note that it was used).
fn download(
    client: &Client,
    repo: &Repo,
    request: &Request,
    m: &Manifest,
    reporter: &dyn Reporter,
    api: Option<(&GitHub<'_>, u64, &mut bool)>,
) -> Download {
    if request.offline {
        return Download::Offline;
    }
    let settings = &repo.settings;
    let files = match &settings.dir_path {
        _ if request.allow_file_url || !request.in_ci => FileUrls::Anywhere,
        Some(folder) => FileUrls::Under(folder.clone()),
        None => FileUrls::Nowhere,
    };
    let limits = Limits {
        deadline: request.deadline,
        files,
    };
    let opened = match (fetch::open(client, &m.artifact.url, &limits), api) {
        (Err(FetchError::Missing(why)), Some((gh, id, via_api))) => match gh.download_asset(id) {
            Ok(response) => {
                *via_api = true;
                let length = response.content_length();
                Ok(fetch::guarded(response.into_reader(), length, &limits))
            }
            Err(e) => Err(FetchError::Missing(format!(
                "{why}; through the asset API: {e}"
            ))),
        },
        (opened, _) => opened,
    };
    read(repo, request, m, reporter, opened)
}

/// Items 4 and 5 from an opened payload: hashed, bounded and, for a source tarball,
/// inspected in one streamed read.
fn read(
    repo: &Repo,
    request: &Request,
    m: &Manifest,
    reporter: &dyn Reporter,
    opened: std::result::Result<Payload, FetchError>,
) -> Download {
    let settings = &repo.settings;
    let payload: Payload = match opened {
        Ok(payload) => payload,
        Err(FetchError::OutsideFolder) => {
            return Download::OutsideFolder {
                folder: settings.dir_path.as_ref().map(|folder| {
                    fsx::display(folder.strip_prefix(&settings.root).unwrap_or(folder))
                }),
            };
        }
        Err(FetchError::Missing(why) | FetchError::Refused(why)) => return Download::Missing(why),
        Err(FetchError::Remote(why)) => return Download::Unreachable(why),
    };
    if let Some(length) = payload.length.filter(|len| *len > request.max_size) {
        return Download::TooLarge {
            length,
            max: request.max_size,
        };
    }
    reporter.start(&m.artifact.url, payload.length);
    let progress = ProgressReader::new(payload.reader, reporter);
    let mut reader = HashingReader::new(progress, request.max_size);
    let limit = match request.max_unpacked {
        Some(n) => UnpackLimit::Fixed(n),
        None => UnpackLimit::Default {
            announced: payload.length,
        },
    };
    let inspection = (m.artifact.kind == ArtifactKind::SourceTar)
        .then(|| inspect_tar_gz(&mut reader, expected_prefix(repo, m).as_deref(), limit));
    let hashed = match reader.finish() {
        Ok((sha256, len)) => Hashed::Done { sha256, len },
        Err(e)
            if e.get_ref()
                .is_some_and(<dyn std::error::Error + Send + Sync>::is::<TooLong>) =>
        {
            Hashed::OverLimit {
                max: request.max_size,
            }
        }
        Err(e) => match e.get_ref().and_then(|i| i.downcast_ref::<Cutoff>()) {
            Some(cut) => Hashed::Cut(cut.to_string()),
            None => Hashed::Broke(e.to_string()),
        },
    };
    reporter.finish();
    Download::Read { hashed, inspection }
}

/// `NAME-BUILD_ID/`: NAME from the asset name `NAME-src-<build_id>.tar.gz`, else `name`.
fn expected_prefix(repo: &Repo, m: &Manifest) -> Option<String> {
    let file = m
        .artifact
        .url
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .split('?')
        .next()
        .unwrap_or_default();
    let suffix = format!("-src-{}.tar.gz", m.build_id);
    let name = file
        .strip_suffix(&suffix)
        .map(str::to_owned)
        .or_else(|| repo.settings.name.clone())?;
    Some(format!("{name}-{}/", m.build_id))
}

/// Item 7's facts: the manifest at the base ref.
fn base_facts(path: &Path, base: Option<&str>) -> BaseFacts {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !git::is_work_tree(dir) {
        return BaseFacts::NotInWorkTree;
    }
    let base = match base {
        Some(base) => base.to_owned(),
        None => match ["origin/main", "main"]
            .into_iter()
            .find(|r| git::verify_commit(dir, r).is_ok())
        {
            Some(found) => found.to_owned(),
            None => return BaseFacts::NoDefaultBase,
        },
    };
    if let Err(e) = git::verify_commit(dir, &base) {
        return BaseFacts::BadRef(e.to_string());
    }
    match git::show_at(dir, &base, "manifest.json") {
        Ok(Some(bytes)) => BaseFacts::Found { base, bytes },
        Ok(None) => BaseFacts::NoManifest { base },
        Err(e) => BaseFacts::BadRef(e.to_string()),
    }
}

/// Item 8's facts: the channel before this one, its manifest now and in its history.
fn promotion(repo: &Repo, m: &Manifest) -> Promotion {
    let settings = &repo.settings;
    let Some(index) = settings.channels.position(&m.channel) else {
        return Promotion::Unordered;
    };
    let Some(previous) = index.checked_sub(1).map(|i| settings.channels[i].clone()) else {
        return Promotion::First;
    };
    let previous_path = settings.manifest_path(&previous);
    let now = fsx::read_limited(&previous_path, MAX_MANIFEST_BYTES, "a manifest")
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|object| {
            let field = |key: &str| object.get(key).and_then(|v| v.as_str()).map(str::to_owned);
            let sha = object
                .get("artifact")
                .and_then(|a| a.get("sha256"))
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            Some((field("build_id")?, sha.unwrap_or_default()))
        });
    let on_previous = now
        .as_ref()
        .is_some_and(|(id, _)| *id == m.build_id.as_str());
    let first_commit = if on_previous || !git::is_work_tree(&settings.root) {
        None
    } else {
        let relative = settings.manifest_in_root(&previous);
        let needle = format!("\"build_id\": \"{}\"", m.build_id);
        git::commits_touching(&settings.root, &needle, &relative)
            .ok()
            .and_then(|commits| commits.last().cloned())
    };
    Promotion::After {
        previous,
        now,
        first_commit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checklist::Status;
    use crate::ops::manifest::{NewRequest, new};
    use crate::progress::Silent;

    fn client() -> Client {
        Client::new(None).unwrap()
    }

    fn request(manifest: PathBuf, offline: bool) -> Request {
        Request {
            manifest,
            base: None,
            offline,
            pubkeys: Vec::new(),
            require_signature: false,
            strict_order: false,
            max_size: 1 << 20,
            max_unpacked: None,
            deadline: Duration::from_secs(10),
            allow_file_url: false,
            in_ci: true,
            allow_foreign_artifact: false,
            remote: RemoteFlags::default(),
            require_cosign: false,
        }
    }

    /// A firmware file in a release folder `rel/<id>/`, and the canary manifest for it.
    fn release(dir: &Path, repo: &Repo, content: &[u8]) -> PathBuf {
        let id = "20260115-1614-9121078";
        let folder = dir.join("rel").join(id);
        fsx::create_dir_all(&folder).unwrap();
        let file = folder.join("fw.bin");
        fsx::write_atomic(&file, content, None, fsx::Existing::Replace).unwrap();
        let written = new(
            repo,
            &NewRequest {
                channel: "canary".into(),
                build_id: id.into(),
                url: url::Url::from_file_path(&file).unwrap().to_string(),
                from_file: Some(file),
                ..NewRequest::default()
            },
        )
        .unwrap();
        written.path
    }

    #[test]
    fn a_local_release_passes_and_offline_skips_the_download() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::for_tests(dir.path());
        let manifest = release(dir.path(), &repo, b"firmware");
        let mut online = request(manifest.clone(), false);
        online.in_ci = false;
        let report = verify(&repo, &client(), &online, &Silent).unwrap();
        let statuses: Vec<Status> = report.items.iter().map(|i| i.status).collect();
        assert_eq!(statuses[..4], [Status::Pass; 4], "{report:#?}");
        assert_eq!(report.exit_code(), crate::error::ExitCode::Success);
        let offline = verify(&repo, &client(), &request(manifest, true), &Silent).unwrap();
        assert_eq!(offline.items[2].status, Status::Skip);
    }

    #[test]
    fn in_ci_a_file_url_needs_a_release_folder() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::for_tests(dir.path());
        let manifest = release(dir.path(), &repo, b"firmware");
        let report = verify(&repo, &client(), &request(manifest, false), &Silent).unwrap();
        assert_eq!(report.items[2].status, Status::Fail, "{report:#?}");
        assert!(report.items[2].reason.contains("`--allow-file-url`"));
    }

    #[test]
    fn a_channel_must_exist_and_have_a_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::for_tests(dir.path());
        assert!(channel_manifest(&repo, "beta").is_err());
        assert!(channel_manifest(&repo, "canary").is_err());
        release(dir.path(), &repo, b"firmware");
        assert!(channel_manifest(&repo, "canary").is_ok());
    }
}
