//! The release checklist of SPEC 5: the eight checks, each decided by a function
//! over facts that `ops::verify` gathers (the download, the base manifest, the
//! previous channel), and the report. Pure: no files, network or git here.

use serde::Serialize;

use crate::build_id::BuildId;
use crate::error::ExitCode;
use crate::inspect::Inspection;
use crate::lint::{self, SignaturePolicy};
use crate::manifest::{Finding, Manifest, Parsed, Rules};
use crate::text::code;

/// How an item came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Holds.
    Pass,
    /// Holds, with something to look at.
    Warn,
    /// Does not hold: the release must not ship.
    Fail,
    /// Not checked, and the reason says why.
    Skip,
    /// Could not be checked because a remote failed.
    Error,
}

impl Status {
    /// The mark printed before the item.
    pub fn mark(self) -> &'static str {
        match self {
            Status::Pass => "✓",
            Status::Warn => "!",
            Status::Fail => "✗",
            Status::Skip => "-",
            Status::Error => "?",
        }
    }

    /// The word printed with the mark.
    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
            Status::Error => "error",
        }
    }
}

/// The eight checks of SPEC 5, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Check {
    /// 1: schema and strict keys hold; `channel` equals its folder.
    Schema,
    /// 2: `build_id` equals the release tag (or folder) in `artifact.url`.
    ReleaseTag,
    /// 3: the asset exists.
    AssetExists,
    /// 4: the downloaded payload's SHA-256 equals `artifact.sha256`.
    Sha256,
    /// 5: a source tarball's entries and commit.
    Tarball,
    /// 6: the signature.
    Signature,
    /// 7: no downgrade against the base.
    NoDowngrade,
    /// 8: promotion order.
    PromotionOrder,
}

impl Check {
    /// Every check, in order.
    pub const ALL: [Check; 8] = [
        Check::Schema,
        Check::ReleaseTag,
        Check::AssetExists,
        Check::Sha256,
        Check::Tarball,
        Check::Signature,
        Check::NoDowngrade,
        Check::PromotionOrder,
    ];

    /// 1 to 8, as in SPEC 5.
    pub fn number(self) -> u8 {
        match self {
            Check::Schema => 1,
            Check::ReleaseTag => 2,
            Check::AssetExists => 3,
            Check::Sha256 => 4,
            Check::Tarball => 5,
            Check::Signature => 6,
            Check::NoDowngrade => 7,
            Check::PromotionOrder => 8,
        }
    }

    /// What is checked, as printed.
    pub fn name(self) -> &'static str {
        match self {
            Check::Schema => "schema and strict keys",
            Check::ReleaseTag => "build id matches the release",
            Check::AssetExists => "asset exists",
            Check::Sha256 => "sha256 of the download",
            Check::Tarball => "tarball contents",
            Check::Signature => "signature",
            Check::NoDowngrade => "no downgrade",
            Check::PromotionOrder => "promotion order",
        }
    }
}

/// One item of the checklist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// What is checked.
    pub check: Check,
    /// The outcome.
    pub status: Status,
    /// Why.
    pub reason: String,
}

impl Serialize for Item {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut item = serializer.serialize_struct("Item", 4)?;
        item.serialize_field("number", &self.check.number())?;
        item.serialize_field("name", self.check.name())?;
        item.serialize_field("status", &self.status)?;
        item.serialize_field("reason", &self.reason)?;
        item.end()
    }
}

impl Item {
    /// The outcome of `check`, with its reason.
    pub fn new(check: Check, status: Status, reason: impl Into<String>) -> Item {
        Item {
            check,
            status,
            reason: reason.into(),
        }
    }

    fn pass(check: Check, reason: impl Into<String>) -> Item {
        Item::new(check, Status::Pass, reason)
    }

    fn fail(check: Check, reason: impl Into<String>) -> Item {
        Item::new(check, Status::Fail, reason)
    }

    fn skip(check: Check, reason: impl Into<String>) -> Item {
        Item::new(check, Status::Skip, reason)
    }
}

/// Where `artifact.url` says the release is, as far as item 2 cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReleaseLocation {
    /// `…/OWNER/REPO/releases/download/<tag>/<asset>` on GitHub or GitHub Enterprise.
    GithubRelease {
        /// The release tag.
        tag: String,
        /// The asset's file name.
        asset: String,
    },
    /// A release folder (`file://` or another web server): `…/<build_id>/<file>`.
    Folder {
        /// The folder holding the file.
        folder: String,
        /// The file name.
        file: String,
    },
    /// `oci://REGISTRY/REPOSITORY:TAG`.
    Oci,
}

/// The segments of a URL's path, percent-decoded.
pub fn decoded_segments(url: &url::Url) -> Option<Vec<String>> {
    Some(
        url.path_segments()?
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect(),
    )
}

/// Classifies an artifact URL (already validated by the manifest reader).
pub fn locate(url: &str) -> Option<ReleaseLocation> {
    let parsed = url::Url::parse(url).ok()?;
    if parsed.scheme() == "oci" {
        return Some(ReleaseLocation::Oci);
    }
    let segments = decoded_segments(&parsed)?;
    if let [.., releases, download, tag, asset] = segments.as_slice()
        && releases == "releases"
        && download == "download"
        && segments.len() >= 6
    {
        return Some(ReleaseLocation::GithubRelease {
            tag: tag.clone(),
            asset: asset.clone(),
        });
    }
    match segments.as_slice() {
        [.., folder, file] => Some(ReleaseLocation::Folder {
            folder: folder.clone(),
            file: file.clone(),
        }),
        _ => None,
    }
}

/// Item 2: the build id's release tag (or folder) in the URL.
pub fn check_release_tag(build_id: &BuildId, url: &str) -> Item {
    match locate(url) {
        Some(ReleaseLocation::GithubRelease { tag, .. }) if tag == build_id.as_str() => Item::pass(
            Check::ReleaseTag,
            format!("the release tag {} equals `build_id`", code(&tag)),
        ),
        Some(ReleaseLocation::GithubRelease { tag, .. }) => Item::fail(
            Check::ReleaseTag,
            format!(
                "`artifact.url` points at the release {}, but `build_id` is `{build_id}`",
                code(&tag)
            ),
        ),
        Some(ReleaseLocation::Folder { folder, .. }) if folder == build_id.as_str() => Item::pass(
            Check::ReleaseTag,
            format!("the release folder {} equals `build_id`", code(&folder)),
        ),
        Some(ReleaseLocation::Folder { folder, .. }) => Item::fail(
            Check::ReleaseTag,
            format!(
                "`artifact.url` points into the folder {}, but `build_id` is `{build_id}`",
                code(&folder)
            ),
        ),
        Some(ReleaseLocation::Oci) => Item::skip(
            Check::ReleaseTag,
            "the OCI tag's `dev.otactl.build-id` annotation is not checked yet (no OCI support in this version)",
        ),
        None => Item::fail(
            Check::ReleaseTag,
            "`artifact.url` names no release folder or tag",
        ),
    }
}

/// Item 1 from the reader's findings.
pub fn schema(parsed: &Parsed) -> Item {
    let errors: Vec<&Finding> = parsed.findings.iter().filter(|f| f.is_error()).collect();
    let warnings = parsed.findings.len() - errors.len();
    if let Some(first) = errors.first() {
        let more = if errors.len() > 1 {
            format!(" (and {} more; run `otactl lint`)", errors.len() - 1)
        } else {
            String::new()
        };
        let line = first
            .line
            .map(|l| format!("line {l}: "))
            .unwrap_or_default();
        return Item::fail(Check::Schema, format!("{line}{}{more}", first.message));
    }
    match (&parsed.manifest, warnings) {
        (Some(m), 0) => Item::pass(
            Check::Schema,
            format!("valid, strict keys, channel `{}`", m.channel),
        ),
        (Some(m), n) => Item::new(
            Check::Schema,
            Status::Warn,
            format!(
                "valid, channel `{}`, with {n} warning{}: {}",
                m.channel,
                if n == 1 { "" } else { "s" },
                parsed.findings[0].message
            ),
        ),
        (None, _) => Item::fail(Check::Schema, "the manifest could not be read"),
    }
}

/// What became of the artifact's download (items 3 to 5).
#[derive(Clone, Debug)]
pub enum Download {
    /// `--offline`: not downloaded.
    Offline,
    /// The asset is not there (no file, HTTP 404, a refused redirect).
    Missing(String),
    /// A `file://` URL outside the release folder, in CI.
    OutsideFolder {
        /// `[dir] path` as shown, when there is one.
        folder: Option<String>,
    },
    /// The remote failed after retries.
    Unreachable(String),
    /// The announced length is over `--max-size`: not downloaded.
    TooLarge {
        /// The announced length.
        length: u64,
        /// `--max-size`.
        max: u64,
    },
    /// The payload was read.
    Read {
        /// Its digest, or why the read stopped.
        hashed: Hashed,
        /// The tarball inspection, for a `source-tar`.
        inspection: Option<Inspection>,
    },
}

/// How reading the payload ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hashed {
    /// Read to the end.
    Done {
        /// The SHA-256, lowercase hex.
        sha256: String,
        /// The bytes read.
        len: u64,
    },
    /// More than `--max-size` came.
    OverLimit {
        /// `--max-size`.
        max: u64,
    },
    /// Cut off: a stall or the deadline (the reason says which).
    Cut(String),
    /// The connection broke.
    Broke(String),
}

/// Items 3, 4 and 5 from what became of the download.
pub fn download(facts: &Download, m: &Manifest) -> [Item; 3] {
    use Check::{AssetExists, Sha256, Tarball};
    let url = code(&m.artifact.url);
    let none = "no asset to download (item 3)";
    match facts {
        Download::Offline => {
            let why = "skipped: `--offline`";
            [
                Item::skip(AssetExists, why),
                Item::skip(Sha256, why),
                Item::skip(Tarball, why),
            ]
        }
        Download::Missing(why) => [
            Item::fail(AssetExists, format!("{url}: {why}")),
            Item::skip(Sha256, none),
            Item::skip(Tarball, none),
        ],
        // The reason is the same whether the file exists or not: it tells nothing of
        // the runner's disk.
        Download::OutsideFolder { folder } => {
            let why = match folder {
                Some(folder) => format!(
                    "is outside the release folder `[dir] path` ({}) of otactl.toml; in CI (`CI` is set) a `file://` URL must name a file in that folder: publish the asset there with `otactl publish dir`, or pass `--allow-file-url` to read it anyway",
                    code(folder)
                ),
                None => "is a `file://` URL, and otactl.toml sets no release folder `[dir] path`; in CI (`CI` is set) a `file://` URL must name a file in that folder: set `[dir] path`, or pass `--allow-file-url` to read it anyway".to_owned(),
            };
            [
                Item::fail(AssetExists, format!("{url} {why}")),
                Item::skip(Sha256, none),
                Item::skip(Tarball, none),
            ]
        }
        Download::Unreachable(why) => {
            let then = "the download failed (item 3)";
            [
                Item::new(AssetExists, Status::Error, format!("{url}: {why}")),
                Item::skip(Sha256, then),
                Item::skip(Tarball, then),
            ]
        }
        Download::TooLarge { length, max } => [
            Item::pass(AssetExists, format!("{url} is there")),
            Item::fail(
                Sha256,
                format!("the asset is {length} bytes, more than `--max-size` {max}"),
            ),
            Item::skip(Tarball, "not downloaded (item 4)"),
        ],
        Download::Read { hashed, inspection } => {
            let sha = match hashed {
                Hashed::Done { sha256, len } if *sha256 == m.artifact.sha256 => Item::pass(
                    Sha256,
                    format!("{len} bytes downloaded, sha256 {sha256} as in the manifest"),
                ),
                Hashed::Done { sha256, len } => Item::fail(
                    Sha256,
                    format!(
                        "{len} bytes downloaded with sha256 {sha256}, but `artifact.sha256` is {}",
                        m.artifact.sha256
                    ),
                ),
                Hashed::OverLimit { max } => Item::fail(
                    Sha256,
                    format!("the download is larger than `--max-size` {max}"),
                ),
                Hashed::Cut(why) => Item::new(Sha256, Status::Error, why.clone()),
                Hashed::Broke(why) => Item::new(
                    Sha256,
                    Status::Error,
                    format!("the download broke off: {why}"),
                ),
            };
            let tar = match (inspection, hashed) {
                (None, _) => Item::skip(
                    Tarball,
                    format!("`{}` is not a source tarball", m.artifact.kind),
                ),
                (Some(_), Hashed::OverLimit { .. }) => Item::skip(
                    Tarball,
                    "not inspected: the download is over the size limit",
                ),
                (Some(_), Hashed::Cut(_) | Hashed::Broke(_)) => {
                    Item::skip(Tarball, "not inspected: the download broke off (item 4)")
                }
                (Some(found), Hashed::Done { .. }) => tarball(found, &m.build_id),
            };
            [Item::pass(AssetExists, format!("{url} is there")), sha, tar]
        }
    }
}

/// Item 3 for a GitHub release asset: where it lives and what the API says; the
/// download's own verdict on item 3 moves to item 4 when the two disagree.
pub fn github_place(place: &GithubPlace, m: &Manifest, items: &mut [Item; 3]) {
    use Check::{AssetExists, Sha256};
    let (tag, asset) = (code(&place.tag), code(&place.asset));
    let found = code(&place.found);
    let where_ = format!("the release {tag} of {found}");
    let verdict = match (&place.api, &place.configured) {
        _ if place.foreign && !place.allow_foreign => Item::fail(
            AssetExists,
            format!(
                "the asset is a release of {found}, not of {} where this repository publishes (`[github] repo`): a fork's release with the same bytes would pass every other check; publish it to {}, or pass `--allow-foreign-artifact`",
                code(place.configured.as_deref().unwrap_or_default()),
                code(place.configured.as_deref().unwrap_or_default())
            ),
        ),
        (GithubAnswer::NotAsked, _) => return,
        (GithubAnswer::NoRelease, _) => Item::fail(
            AssetExists,
            format!(
                "{found} has no published release with the tag {tag} (a draft is not downloadable)"
            ),
        ),
        (GithubAnswer::NoAsset, _) => {
            Item::fail(AssetExists, format!("{where_} has no asset {asset}"))
        }
        (GithubAnswer::Failed(why), _) => Item::new(
            AssetExists,
            Status::Error,
            format!("cannot ask GitHub about {where_}: {why}"),
        ),
        (
            GithubAnswer::Asset {
                sha256: Some(theirs),
            },
            _,
        ) if *theirs != m.artifact.sha256 => Item::fail(
            AssetExists,
            format!(
                "{where_} has the asset {asset}, but GitHub's digest is sha256 {}, not `artifact.sha256` {}",
                code(theirs),
                m.artifact.sha256
            ),
        ),
        (GithubAnswer::Asset { sha256 }, configured) => {
            let digest = if sha256.is_some() {
                ", and GitHub's digest equals `artifact.sha256`"
            } else {
                " (GitHub gives no digest for it: item 4 hashes the download)"
            };
            let text = format!("{where_} has the asset {asset}{digest}");
            match configured {
                Some(_) if place.foreign => Item::new(
                    AssetExists,
                    Status::Warn,
                    format!(
                        "{text}; it is not this repository's release (`--allow-foreign-artifact`)"
                    ),
                ),
                Some(_) => Item::pass(AssetExists, text),
                None => Item::new(
                    AssetExists,
                    Status::Warn,
                    format!(
                        "{text}; no repository is configured to check it against: set `[github] repo` in otactl.toml (or an `origin` remote on GitHub)"
                    ),
                ),
            }
        }
    };
    // The download failed although the API knows the asset: that is item 4's.
    if matches!(items[0].status, Status::Fail | Status::Error)
        && matches!(verdict.status, Status::Pass | Status::Warn)
    {
        items[1] = Item::new(
            Sha256,
            items[0].status,
            format!("the download failed: {}", items[0].reason),
        );
    }
    if place.via_api && items[1].status == Status::Pass {
        items[1].reason.push_str(
            " (the download link answered 404 without a browser session: downloaded through the asset API with the token)",
        );
    }
    items[0] = verdict;
}

/// Item 2 for an OCI artifact: the tag's `dev.otactl.build-id` is `build_id`.
pub fn oci_build_id(place: &OciPlace, build_id: &BuildId) -> Item {
    let tag = code(&place.tag);
    match &place.answer {
        OciAnswer::Image {
            build_id: Some(found),
            ..
        } if found == build_id.as_str() => Item::pass(
            Check::ReleaseTag,
            format!("the tag {tag}'s `dev.otactl.build-id` equals `build_id`"),
        ),
        OciAnswer::Image {
            build_id: Some(found),
            ..
        } => Item::fail(
            Check::ReleaseTag,
            format!(
                "the tag {tag}'s `dev.otactl.build-id` is {}, but `build_id` is `{build_id}`",
                code(found)
            ),
        ),
        OciAnswer::Image { build_id: None, .. } => Item::fail(
            Check::ReleaseTag,
            format!(
                "the tag {tag}'s manifest has no `dev.otactl.build-id` annotation: it was not pushed by `otactl publish oci`"
            ),
        ),
        OciAnswer::NotAsked => Item::skip(
            Check::ReleaseTag,
            "skipped: `--offline` (the tag's annotation is read from the registry)",
        ),
        _ => Item::skip(
            Check::ReleaseTag,
            "the tag's manifest could not be read (item 3)",
        ),
    }
}

/// Items 3 and 4 for an OCI artifact: where it lives, what the tag holds, the first
/// layer's digest, and the cosign signature when one is required.
pub fn oci_place(
    place: &OciPlace,
    m: &Manifest,
    policy: &SignaturePolicy<'_>,
    items: &mut [Item; 3],
) {
    use Check::{AssetExists, Sha256};
    let found = code(&place.found);
    let tag = code(&place.tag);
    let verdict = match &place.answer {
        _ if place.foreign && !place.allow_foreign => Item::fail(
            AssetExists,
            format!(
                "{found} is not under {} where this repository publishes (`[oci] repository`); pass `--allow-foreign-artifact` to accept it",
                code(place.configured.as_deref().unwrap_or_default())
            ),
        ),
        OciAnswer::NotAsked => return,
        OciAnswer::NoTag => Item::fail(AssetExists, format!("{found} has no tag {tag}")),
        OciAnswer::NotImage(media_type) => Item::fail(
            AssetExists,
            format!(
                "the tag {tag} of {found} holds a {}, not an OCI image manifest: OtaFlux-style servers do not serve it",
                code(media_type)
            ),
        ),
        OciAnswer::Failed(why) => Item::new(
            AssetExists,
            Status::Error,
            format!("cannot read the tag {tag} of {found}: {why}"),
        ),
        OciAnswer::Image { .. } => {
            let text = format!("the tag {tag} of {found} holds an OCI image manifest");
            match &place.configured {
                Some(_) if place.foreign => Item::new(
                    AssetExists,
                    Status::Warn,
                    format!(
                        "{text}; it is not under `[oci] repository` (`--allow-foreign-artifact`)"
                    ),
                ),
                Some(_) => Item::pass(AssetExists, text),
                None => Item::new(
                    AssetExists,
                    Status::Warn,
                    format!(
                        "{text}; no repository is configured to check it against: set `[oci] repository` in otactl.toml"
                    ),
                ),
            }
        }
    };
    let want = format!("sha256:{}", m.artifact.sha256);
    if let OciAnswer::Image {
        first_layer,
        digest,
        ..
    } = &place.answer
    {
        if first_layer.as_deref() != Some(want.as_str()) {
            items[1] = Item::fail(
                Sha256,
                format!(
                    "the first layer (what devices get) is {}, not `sha256:` + `artifact.sha256`",
                    code(first_layer.as_deref().unwrap_or("missing"))
                ),
            );
        } else if let (Status::Pass, Some(cosign)) = (items[1].status, &place.cosign) {
            items[1] = cosign_item(cosign, digest, policy, &items[1].reason);
        }
    }
    items[0] = verdict;
}

/// Item 4 with the cosign signature required: `OtaFlux`'s checks, one by one.
fn cosign_item(
    cosign: &Cosign,
    digest: &str,
    policy: &SignaturePolicy<'_>,
    downloaded: &str,
) -> Item {
    let item = |status, why: String| Item::new(Check::Sha256, status, why);
    match cosign {
        Cosign::Failed(why) => item(
            Status::Error,
            format!("{downloaded}; the cosign signature could not be read: {why}"),
        ),
        Cosign::Missing(why) => item(
            Status::Fail,
            format!(
                "{downloaded}, but the cosign signature is required and {why}: sign with `otactl publish oci --sign`"
            ),
        ),
        Cosign::Found { payload, signature } => {
            if !payload_names(payload, digest) {
                return item(
                    Status::Fail,
                    format!(
                        "{downloaded}, but the cosign payload does not name the manifest {digest}"
                    ),
                );
            }
            let Some(signature) = signature else {
                return item(
                    Status::Fail,
                    format!(
                        "{downloaded}, but the cosign signature is not base64 of an Ed25519 signature"
                    ),
                );
            };
            match policy.trusted.iter().find(|k| k.verify(payload, signature)) {
                Some(key) => item(
                    Status::Pass,
                    format!(
                        "{downloaded}; the cosign signature verifies under the trusted key {}",
                        key.key_id()
                    ),
                ),
                None => item(
                    Status::Fail,
                    format!(
                        "{downloaded}, but the cosign signature verifies under none of the trusted keys"
                    ),
                ),
            }
        }
    }
}

/// Whether a cosign simple-signing payload names `digest`
/// (`critical.image.docker-manifest-digest`), as `OtaFlux` requires.
pub fn payload_names(payload: &[u8], digest: &str) -> bool {
    serde_json::from_slice::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| {
            v.pointer("/critical/image/docker-manifest-digest")
                .and_then(|d| d.as_str())
                .map(|d| d == digest)
        })
        .unwrap_or(false)
}

/// Item 5 from the inspection of a tarball that was read whole.
pub fn tarball(found: &Inspection, build_id: &BuildId) -> Item {
    if let Some(first) = found.problems.first() {
        let more = if found.problems.len() > 1 {
            format!(" (and {} more)", found.problems.len() - 1)
        } else {
            String::new()
        };
        return Item::fail(Check::Tarball, format!("{first}{more}"));
    }
    let top = found.top.clone().unwrap_or_default();
    if !top.ends_with(&format!("-{build_id}/")) {
        return Item::fail(
            Check::Tarball,
            format!(
                "the entries are under {}, not `NAME-{build_id}/`",
                code(&top)
            ),
        );
    }
    match &found.commit {
        Some(commit) if commit.starts_with(build_id.sha()) => Item::pass(
            Check::Tarball,
            format!(
                "{} entries under {}, commit {}",
                found.entries,
                code(&top),
                code(commit)
            ),
        ),
        Some(commit) => Item::fail(
            Check::Tarball,
            format!(
                "the tarball was made from commit {}, not from `{}` of the build id",
                code(commit),
                build_id.sha()
            ),
        ),
        None => Item::fail(
            Check::Tarball,
            "the tarball has no pax header with a commit id (not made by `git archive` of a commit)",
        ),
    }
}

/// Item 6 under the signature policy.
pub fn signature(parsed: &Parsed, policy: &SignaturePolicy<'_>) -> Item {
    let mut findings = Vec::new();
    let signer = lint::check_signature(parsed, policy, &mut findings);
    if let Some(error) = findings.iter().find(|f| f.is_error()) {
        return Item::fail(Check::Signature, error.message.clone());
    }
    if let Some(warning) = findings.first() {
        return Item::new(Check::Signature, Status::Warn, warning.message.clone());
    }
    match signer {
        Some(key) => Item::pass(
            Check::Signature,
            format!("valid signature by trusted key {key}"),
        ),
        None => Item::skip(
            Check::Signature,
            "not signed, and signatures are not required",
        ),
    }
}

/// What the base ref holds of the channel's manifest (item 7).
#[derive(Clone, Debug)]
pub enum BaseFacts {
    /// The manifest is not in a git work tree.
    NotInWorkTree,
    /// No `--base`, and neither `origin/main` nor `main` exists.
    NoDefaultBase,
    /// The base ref cannot be read (the reason names it).
    BadRef(String),
    /// The channel has no manifest at the base.
    NoManifest {
        /// The base ref.
        base: String,
    },
    /// The manifest's bytes at the base.
    Found {
        /// The base ref.
        base: String,
        /// The bytes.
        bytes: Vec<u8>,
    },
}

/// Item 7: no downgrade against the manifest at the base; `rules` are the lenient
/// rules the base copy is read with.
pub fn no_downgrade(facts: &BaseFacts, m: &Manifest, parsed: &Parsed, rules: &Rules<'_>) -> Item {
    let (base, bytes) = match facts {
        BaseFacts::NotInWorkTree => {
            return Item::skip(
                Check::NoDowngrade,
                "skipped: the manifest is not in a git work tree",
            );
        }
        BaseFacts::NoDefaultBase => {
            return Item::skip(
                Check::NoDowngrade,
                "skipped: neither `origin/main` nor `main` exists; pass `--base GITREF`",
            );
        }
        BaseFacts::BadRef(why) => return Item::fail(Check::NoDowngrade, why.clone()),
        BaseFacts::NoManifest { base } => {
            return Item::pass(
                Check::NoDowngrade,
                format!("the channel has no manifest at `{base}` yet"),
            );
        }
        BaseFacts::Found { base, bytes } => (base, bytes),
    };
    let (old, legacy) = match lint::read_base(bytes, rules) {
        lint::BaseManifest::Valid(old) => (old, None),
        lint::BaseManifest::Legacy(old) => {
            let whose = format!("the manifest at `{base}`");
            let warning = lint::legacy_base_warning(&old.build_id, parsed, &whose);
            (old, Some(warning.message))
        }
        lint::BaseManifest::Template => {
            return Item::pass(
                Check::NoDowngrade,
                format!(
                    "the manifest at `{base}` is a template (empty `build_id`): the channel has no earlier build"
                ),
            );
        }
        lint::BaseManifest::Invalid => {
            return Item::fail(
                Check::NoDowngrade,
                format!("the manifest at `{base}` is invalid, so a downgrade cannot be ruled out"),
            );
        }
    };
    let problems = lint::compare_with_base(m, &old, parsed, &format!("`{base}`"));
    if let Some(first) = problems.first() {
        let way_back = if first.message.starts_with("downgrade") {
            format!(
                "; to ship that earlier build's content again: `otactl rollback --channel {} --to {}`",
                m.channel, m.build_id
            )
        } else {
            String::new()
        };
        return Item::fail(Check::NoDowngrade, format!("{}{way_back}", first.message));
    }
    if let Some(legacy) = legacy {
        return Item::new(
            Check::NoDowngrade,
            Status::Warn,
            format!("`{}` is later; {legacy}", m.build_id),
        );
    }
    if old.build_id == m.build_id {
        Item::pass(Check::NoDowngrade, format!("same build as at `{base}`"))
    } else {
        Item::pass(
            Check::NoDowngrade,
            format!(
                "`{}` is later than `{}` at `{base}`",
                m.build_id, old.build_id
            ),
        )
    }
}

/// Where the channel stands in the promotion order, and what the channel before it
/// holds (item 8).
#[derive(Clone, Debug)]
pub enum Promotion {
    /// The channel is not in the promotion order.
    Unordered,
    /// The channel is the first of the order.
    First,
    /// The channel comes after `previous`.
    After {
        /// The channel before.
        previous: String,
        /// The previous channel's manifest now, as (`build_id`, `artifact.sha256`).
        now: Option<(String, String)>,
        /// The first commit of the previous channel's manifest that named this build.
        first_commit: Option<String>,
    },
}

/// Item 8: a build reaching a channel was on the channel before it, with the same
/// artifact; otherwise a warning, or a failure under `--strict-order`.
pub fn promotion_order(facts: &Promotion, m: &Manifest, strict: bool) -> Item {
    let order = Check::PromotionOrder;
    let (previous, now, first_commit) = match facts {
        Promotion::Unordered => {
            return Item::skip(
                order,
                format!("`{}` is not in the promotion order", m.channel),
            );
        }
        Promotion::First => {
            return Item::pass(
                order,
                format!(
                    "`{}` is the first channel of the promotion order",
                    m.channel
                ),
            );
        }
        Promotion::After {
            previous,
            now,
            first_commit,
        } => (previous, now, first_commit),
    };
    if let Some((build_id, sha256)) = now
        && *build_id == m.build_id.as_str()
    {
        if *sha256 != m.artifact.sha256 {
            return Item::fail(
                order,
                format!(
                    "`{}` is on `{previous}` with another artifact (sha256 {}); a build id names one artifact",
                    m.build_id,
                    code(sha256)
                ),
            );
        }
        return Item::pass(
            order,
            format!(
                "`{}` is on `{previous}`, the channel before `{}`",
                m.build_id, m.channel
            ),
        );
    }
    if let Some(first) = first_commit {
        return Item::pass(
            order,
            format!(
                "`{}` was published on `{previous}` (commit {first})",
                m.build_id
            ),
        );
    }
    Item::new(
        order,
        if strict { Status::Fail } else { Status::Warn },
        format!(
            "`{}` was never on `{previous}`, the channel before `{}`; it skips the promotion order",
            m.build_id, m.channel
        ),
    )
}

/// Everything `verify` gathered about one manifest.
pub struct Facts<'a> {
    /// The manifest as read.
    pub parsed: &'a Parsed,
    /// The signature policy.
    pub policy: SignaturePolicy<'a>,
    /// The rules a base copy is read with.
    pub lenient: Rules<'a>,
    /// What was gathered about a valid manifest; `None` when it is invalid.
    pub gathered: Option<Gathered>,
    /// `--strict-order`.
    pub strict_order: bool,
}

/// Where a GitHub release asset lives, and what the API says of it (item 3, SPEC 5).
#[derive(Clone, Debug)]
#[allow(clippy::struct_excessive_bools)] // one per fact item 3 weighs
pub struct GithubPlace {
    /// `OWNER/REPO` of the download link.
    pub found: String,
    /// The repository this channel repository publishes to, when configured.
    pub configured: Option<String>,
    /// `found` is not `configured` (GitHub compares names without case).
    pub foreign: bool,
    /// `--allow-foreign-artifact`.
    pub allow_foreign: bool,
    /// The release tag and asset name of the link.
    pub tag: String,
    /// The asset's name.
    pub asset: String,
    /// What the API answered.
    pub api: GithubAnswer,
    /// The download went through the asset API (the link answered 404 to a
    /// download without a browser session).
    pub via_api: bool,
    /// A token was sent to the API.
    pub with_token: bool,
}

/// What GitHub's API says of a release asset.
#[derive(Clone, Debug)]
pub enum GithubAnswer {
    /// The published release has the asset; its `digest` when GitHub gives one.
    Asset {
        /// `sha256:<hex>`, or `None` on assets uploaded before mid-2025.
        sha256: Option<String>,
    },
    /// No published release has the tag.
    NoRelease,
    /// The release has no asset of that name.
    NoAsset,
    /// The API could not be asked (after retries).
    Failed(String),
    /// Not asked: `--offline`.
    NotAsked,
}

/// An OCI artifact: where it lives, what its tag holds, and its signature (items 2
/// to 4, SPEC 5).
#[derive(Clone, Debug)]
pub struct OciPlace {
    /// `REGISTRY/REPOSITORY` of the URL.
    pub found: String,
    /// `[oci] repository`, when configured.
    pub configured: Option<String>,
    /// `found` is not `configured` nor under it.
    pub foreign: bool,
    /// `--allow-foreign-artifact`.
    pub allow_foreign: bool,
    /// The tag.
    pub tag: String,
    /// What the registry holds at the tag.
    pub answer: OciAnswer,
    /// The cosign signature, when one is required (`[oci] cosign`, `--require-cosign`).
    pub cosign: Option<Cosign>,
}

/// What the registry holds at a tag.
#[derive(Clone, Debug)]
pub enum OciAnswer {
    /// Not asked: `--offline`.
    NotAsked,
    /// No such tag.
    NoTag,
    /// The tag holds something OtaFlux-style servers do not serve (an index, a Docker
    /// manifest): its media type.
    NotImage(String),
    /// An OCI image manifest.
    Image {
        /// Its digest.
        digest: String,
        /// `dev.otactl.build-id`.
        build_id: Option<String>,
        /// The first layer's digest: what OtaFlux-style servers serve.
        first_layer: Option<String>,
    },
    /// The registry could not be asked.
    Failed(String),
}

/// A cosign signature as gathered from the registry (checked here, as `OtaFlux` does).
#[derive(Clone, Debug)]
pub enum Cosign {
    /// No `sha256-<hex>.sig` tag, or no layer, annotation or payload in it.
    Missing(String),
    /// The payload and the decoded signature of the `.sig` tag's first layer.
    Found {
        /// The payload blob.
        payload: Vec<u8>,
        /// The signature, decoded from standard base64 (`None`: not base64 of 64 bytes).
        signature: Option<[u8; 64]>,
    },
    /// The registry could not be asked.
    Failed(String),
}

/// Item 3's facts beyond the download.
#[derive(Clone, Debug)]
pub enum Place {
    /// Not a GitHub release link: the download alone decides item 3.
    Download,
    /// A GitHub release asset.
    Github(GithubPlace),
    /// An OCI artifact.
    Oci(OciPlace),
}

/// The facts about a valid manifest that only the world outside it holds.
#[derive(Clone, Debug)]
pub struct Gathered {
    /// Items 3 to 5.
    pub download: Download,
    /// Where the artifact lives (item 3).
    pub place: Place,
    /// Item 7.
    pub base: BaseFacts,
    /// Item 8.
    pub promotion: Promotion,
}

/// The eight items, in order. Items 2 to 5, 7 and 8 need a valid manifest.
pub fn evaluate(facts: &Facts<'_>) -> Vec<Item> {
    let mut items = vec![schema(facts.parsed)];
    let (Some(m), Some(gathered)) = (&facts.parsed.manifest, &facts.gathered) else {
        let invalid = "the manifest is invalid (item 1)";
        items.extend(
            [
                Check::ReleaseTag,
                Check::AssetExists,
                Check::Sha256,
                Check::Tarball,
            ]
            .map(|c| Item::skip(c, invalid)),
        );
        items.push(signature(facts.parsed, &facts.policy));
        items.push(Item::skip(Check::NoDowngrade, invalid));
        items.push(Item::skip(Check::PromotionOrder, invalid));
        return items;
    };
    let mut downloaded = download(&gathered.download, m);
    match &gathered.place {
        Place::Oci(place) => {
            items.push(oci_build_id(place, &m.build_id));
            oci_place(place, m, &facts.policy, &mut downloaded);
        }
        Place::Github(place) => {
            items.push(check_release_tag(&m.build_id, &m.artifact.url));
            github_place(place, m, &mut downloaded);
        }
        Place::Download => items.push(check_release_tag(&m.build_id, &m.artifact.url)),
    }
    items.extend(downloaded);
    items.push(signature(facts.parsed, &facts.policy));
    items.push(no_downgrade(
        &gathered.base,
        m,
        facts.parsed,
        &facts.lenient,
    ));
    items.push(promotion_order(&gathered.promotion, m, facts.strict_order));
    items
}

/// The report of one `verify` run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// True when no item failed or errored.
    pub ok: bool,
    /// The manifest file.
    pub manifest: String,
    /// `channel`, when it could be read.
    pub channel: Option<String>,
    /// `build_id`, when it could be read.
    pub build_id: Option<String>,
    /// The eight items, in order.
    pub items: Vec<Item>,
}

impl Report {
    /// Builds a report; `ok` follows from the items.
    pub fn new(
        manifest: String,
        channel: Option<String>,
        build_id: Option<String>,
        items: Vec<Item>,
    ) -> Report {
        let ok = items
            .iter()
            .all(|i| !matches!(i.status, Status::Fail | Status::Error));
        Report {
            ok,
            manifest,
            channel,
            build_id,
            items,
        }
    }

    /// The numbers of the items that failed or could not be checked.
    pub fn failed(&self) -> Vec<u8> {
        self.items
            .iter()
            .filter(|i| matches!(i.status, Status::Fail | Status::Error))
            .map(|i| i.check.number())
            .collect()
    }

    /// Exit 1 when an item failed, else 3 when a remote could not be reached, else 0.
    pub fn exit_code(&self) -> ExitCode {
        if self.items.iter().any(|i| i.status == Status::Fail) {
            ExitCode::ChecksFailed
        } else if self.items.iter().any(|i| i.status == Status::Error) {
            ExitCode::Remote
        } else {
            ExitCode::Success
        }
    }

    /// The Markdown table (the body of a PR).
    pub fn markdown(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::from("| # | check | result | details |\n| --- | --- | --- | --- |\n");
        for item in &self.items {
            let icon = match item.status {
                Status::Pass => "✅ pass",
                Status::Warn => "⚠️ warn",
                Status::Fail => "❌ fail",
                Status::Skip => "⏭️ skip",
                Status::Error => "❓ error",
            };
            let _ = writeln!(
                out,
                "| {} | {} | {icon} | {} |",
                item.check.number(),
                item.check.name(),
                crate::text::markdown(&item.reason)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::plain;

    fn id() -> BuildId {
        "20260115-1614-9121078".parse().unwrap()
    }

    #[test]
    fn github_release_tag() {
        let url = "https://github.com/o/r/releases/download/20260115-1614-9121078/evse-src-20260115-1614-9121078.tar.gz";
        assert_eq!(check_release_tag(&id(), url).status, Status::Pass);
        let url =
            "https://github.com/o/r/releases/download/20260115-1614-0000000/evse-src-x.tar.gz";
        let item = check_release_tag(&id(), url);
        assert_eq!(item.status, Status::Fail);
        assert!(crate::text::plain(&item.reason).contains("`20260115-1614-0000000`"));
    }

    #[test]
    fn folder_and_file_urls() {
        assert_eq!(
            check_release_tag(&id(), "file:///srv/ota/20260115-1614-9121078/fw.bin").status,
            Status::Pass
        );
        assert_eq!(
            check_release_tag(
                &id(),
                "https://ota.example.com/r/20260115-1614-9121078/fw.bin?x=1"
            )
            .status,
            Status::Pass
        );
        assert_eq!(
            check_release_tag(&id(), "file:///srv/ota/other/fw.bin").status,
            Status::Fail
        );
        assert_eq!(
            check_release_tag(&id(), "oci://r.example/x:1.0.0").status,
            Status::Skip
        );
    }

    #[test]
    fn report_ok_follows_items() {
        let pass = Item::new(Check::Schema, Status::Pass, "fine");
        let fail = Item::new(Check::Sha256, Status::Fail, "bad | pipe");
        let skipped = Item::new(Check::NoDowngrade, Status::Skip, "");
        let report = Report::new("m".into(), None, None, vec![pass.clone(), skipped]);
        assert!(report.ok);
        assert_eq!(report.exit_code(), ExitCode::Success);
        let report = Report::new("m".into(), None, None, vec![pass, fail]);
        assert!(!report.ok);
        assert_eq!(report.failed(), [4]);
        assert_eq!(report.exit_code(), ExitCode::ChecksFailed);
        assert!(
            report
                .markdown()
                .contains("| 4 | sha256 of the download | ❌ fail | bad \\| pipe |")
        );
        let error = Item::new(Check::AssetExists, Status::Error, "down");
        let report = Report::new("m".into(), None, None, vec![error]);
        assert_eq!(report.exit_code(), ExitCode::Remote);
    }

    #[test]
    fn checks_are_numbered_as_in_the_spec() {
        let numbers: Vec<u8> = Check::ALL.iter().map(|c| c.number()).collect();
        assert_eq!(numbers, [1, 2, 3, 4, 5, 6, 7, 8]);
        let json = serde_json::to_value(Item::new(Check::Tarball, Status::Pass, "r")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"number": 5, "name": "tarball contents", "status": "pass", "reason": "r"})
        );
    }

    const SHA: &str = "3f0c2b4a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a";

    fn manifest(channel: &str, build_id: &str) -> Manifest {
        Manifest {
            channel: channel.into(),
            build_id: build_id.parse().unwrap(),
            created_utc: "2026-01-15T16:20:00Z".into(),
            min_build_id: None,
            notes: String::new(),
            signature: None,
            artifact: crate::manifest::Artifact {
                kind: crate::manifest::ArtifactKind::SourceTar,
                url: format!("file:///r/{build_id}/app-src-{build_id}.tar.gz"),
                sha256: SHA.into(),
            },
        }
    }

    fn reasons(items: &[Item]) -> Vec<(Status, String)> {
        items
            .iter()
            .map(|i| (i.status, crate::text::plain(&i.reason).into_owned()))
            .collect()
    }

    #[test]
    fn item_1_reports_the_first_error_and_counts_the_rest() {
        let mut parsed = Parsed {
            findings: vec![
                Finding::error(Some(3), None, "first"),
                Finding::error(Some(5), None, "second"),
            ],
            ..Parsed::default()
        };
        let item = schema(&parsed);
        assert_eq!(item.status, Status::Fail);
        assert_eq!(item.reason, "line 3: first (and 1 more; run `otactl lint`)");
        parsed.findings = vec![Finding::warning(None, None, "look")];
        parsed.manifest = Some(manifest("stable", "20260115-1614-9121078"));
        let item = schema(&parsed);
        assert_eq!(item.status, Status::Warn);
        assert_eq!(item.reason, "valid, channel `stable`, with 1 warning: look");
    }

    #[test]
    fn items_3_to_5_follow_the_download() {
        use Status::{Error, Fail, Pass, Skip};
        let m = manifest("canary", "20260115-1614-9121078");
        let status = |d: &Download| download(d, &m).map(|i| i.status);
        assert_eq!(status(&Download::Offline), [Skip, Skip, Skip]);
        assert_eq!(status(&Download::Missing("404".into())), [Fail, Skip, Skip]);
        assert_eq!(
            status(&Download::Unreachable("reset".into())),
            [Error, Skip, Skip]
        );
        assert_eq!(
            status(&Download::TooLarge { length: 9, max: 8 }),
            [Pass, Fail, Skip]
        );
        let read =
            |hashed: Hashed, inspection: Option<Inspection>| Download::Read { hashed, inspection };
        let good = Inspection {
            entries: 3,
            commit: Some("9121078aa".into()),
            top: Some("app-20260115-1614-9121078/".into()),
            ..Inspection::default()
        };
        let done = |sha: &str| Hashed::Done {
            sha256: sha.into(),
            len: 10,
        };
        assert_eq!(
            status(&read(done(SHA), Some(good.clone()))),
            [Pass, Pass, Pass]
        );
        assert_eq!(
            status(&read(done("00"), Some(good.clone()))),
            [Pass, Fail, Pass]
        );
        assert_eq!(status(&read(done(SHA), None)), [Pass, Pass, Skip]);
        assert_eq!(
            status(&read(Hashed::Cut("stalled".into()), Some(good.clone()))),
            [Pass, Error, Skip]
        );
        assert_eq!(
            status(&read(Hashed::OverLimit { max: 4 }, Some(good))),
            [Pass, Fail, Skip]
        );
        let outside = download(&Download::OutsideFolder { folder: None }, &m);
        assert!(outside[0].reason.contains("`--allow-file-url`"));
    }

    #[test]
    fn item_5_checks_prefix_and_commit() {
        let id: BuildId = "20260115-1614-9121078".parse().unwrap();
        let mut found = Inspection {
            entries: 3,
            commit: Some("0000000".into()),
            top: Some("app-20260115-1614-9121078/".into()),
            ..Inspection::default()
        };
        assert_eq!(tarball(&found, &id).status, Status::Fail);
        found.commit = None;
        assert!(tarball(&found, &id).reason.contains("no pax header"));
        found.commit = Some("9121078".into());
        found.top = Some("other/".into());
        assert!(plain(&tarball(&found, &id).reason).contains("under `other/`"));
        found.problems = vec!["bad".into(), "worse".into()];
        assert_eq!(tarball(&found, &id).reason, "bad (and 1 more)");
    }

    #[test]
    fn item_7_compares_with_the_base() {
        let channels = crate::manifest::Channels::from(["canary"]);
        let rules = Rules {
            channels: &channels,
            folder: None,
            strict_keys: false,
            ascii_only: false,
            now: time::macros::datetime!(2026-02-01 00:00 UTC),
        };
        let m = manifest("canary", "20260115-1614-9121078");
        let parsed = Parsed::default();
        let old = |id: &str| {
            let o = manifest("canary", id);
            let object = Manifest::new_object(
                &o.channel,
                &o.build_id,
                &o.created_utc,
                None,
                "",
                &o.artifact,
            );
            crate::manifest::canonical::house_layout(&object)
        };
        let item = |facts: BaseFacts| no_downgrade(&facts, &m, &parsed, &rules);
        assert_eq!(item(BaseFacts::NotInWorkTree).status, Status::Skip);
        assert_eq!(item(BaseFacts::NoDefaultBase).status, Status::Skip);
        assert_eq!(item(BaseFacts::BadRef("no".into())).status, Status::Fail);
        assert_eq!(
            item(BaseFacts::NoManifest {
                base: "main".into()
            })
            .status,
            Status::Pass
        );
        let found = |id: &str| BaseFacts::Found {
            base: "main".into(),
            bytes: old(id),
        };
        assert_eq!(item(found("20260114-0900-1111111")).status, Status::Pass);
        let later = item(found("20260116-0900-1111111"));
        assert_eq!(later.status, Status::Fail);
        assert!(later.reason.starts_with("downgrade:"), "{}", later.reason);
        let invalid = BaseFacts::Found {
            base: "main".into(),
            bytes: b"{}".to_vec(),
        };
        assert!(item(invalid).reason.contains("cannot be ruled out"));
    }

    #[test]
    fn item_8_follows_the_promotion_order() {
        let m = manifest("stable", "20260115-1614-9121078");
        let after = |now: Option<(&str, &str)>, first: Option<&str>| Promotion::After {
            previous: "staging".into(),
            now: now.map(|(a, b)| (a.into(), b.into())),
            first_commit: first.map(str::to_owned),
        };
        let item = |p: &Promotion, strict| promotion_order(p, &m, strict);
        assert_eq!(item(&Promotion::Unordered, false).status, Status::Skip);
        assert_eq!(item(&Promotion::First, false).status, Status::Pass);
        let on = after(Some(("20260115-1614-9121078", SHA)), None);
        assert_eq!(item(&on, true).status, Status::Pass);
        let other_artifact = after(Some(("20260115-1614-9121078", "ff")), None);
        let failed = item(&other_artifact, false);
        assert_eq!(failed.status, Status::Fail);
        assert!(failed.reason.contains("another artifact"));
        let history = after(Some(("20260116-0000-2222222", SHA)), Some("abc1234"));
        assert_eq!(
            reasons(&[item(&history, true)]),
            [(
                Status::Pass,
                "`20260115-1614-9121078` was published on `staging` (commit abc1234)".into()
            )]
        );
        let never = after(None, None);
        assert_eq!(item(&never, false).status, Status::Warn);
        assert_eq!(item(&never, true).status, Status::Fail);
    }

    #[test]
    fn an_invalid_manifest_skips_what_needs_one() {
        let parsed = Parsed {
            findings: vec![Finding::error(Some(1), None, "broken")],
            ..Parsed::default()
        };
        let channels = crate::manifest::Channels::from(["stable"]);
        let facts = Facts {
            parsed: &parsed,
            policy: SignaturePolicy {
                trusted: &[],
                require: false,
            },
            lenient: Rules {
                channels: &channels,
                folder: None,
                strict_keys: false,
                ascii_only: false,
                now: time::macros::datetime!(2026-02-01 00:00 UTC),
            },
            gathered: None,
            strict_order: false,
        };
        let items = evaluate(&facts);
        assert_eq!(items.len(), 8);
        assert_eq!(items[0].status, Status::Fail);
        for i in [1, 2, 3, 4, 6, 7] {
            assert_eq!(items[i].status, Status::Skip, "{:?}", items[i]);
            assert_eq!(items[i].reason, "the manifest is invalid (item 1)");
        }
    }
}
