//! The release checklist of SPEC 5: items, their marks and the report. Pure: the
//! `verify` command gathers the facts (files, downloads, git) and fills the items.

use serde::Serialize;

use crate::build_id::BuildId;
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

/// One item of the checklist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Item {
    /// 1 to 8, as in SPEC 5.
    pub number: u8,
    /// What is checked.
    pub name: &'static str,
    /// The outcome.
    pub status: Status,
    /// Why.
    pub reason: String,
}

/// The names of the eight items.
pub const NAMES: [&str; 8] = [
    "schema and strict keys",
    "build id matches the release",
    "asset exists",
    "sha256 of the download",
    "tarball contents",
    "signature",
    "no downgrade",
    "promotion order",
];

impl Item {
    /// Item `number` with a status and reason.
    pub fn new(number: u8, status: Status, reason: impl Into<String>) -> Item {
        Item {
            number,
            name: NAMES[usize::from(number) - 1],
            status,
            reason: reason.into(),
        }
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

/// Classifies an artifact URL (already validated by the manifest reader).
pub fn locate(url: &str) -> Option<ReleaseLocation> {
    let parsed = url::Url::parse(url).ok()?;
    if parsed.scheme() == "oci" {
        return Some(ReleaseLocation::Oci);
    }
    let segments: Vec<String> = parsed
        .path_segments()?
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
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
        Some(ReleaseLocation::GithubRelease { tag, .. }) if tag == build_id.as_str() => Item::new(
            2,
            Status::Pass,
            format!("the release tag {} equals `build_id`", code(&tag)),
        ),
        Some(ReleaseLocation::GithubRelease { tag, .. }) => Item::new(
            2,
            Status::Fail,
            format!(
                "`artifact.url` points at the release {}, but `build_id` is `{build_id}`",
                code(&tag)
            ),
        ),
        Some(ReleaseLocation::Folder { folder, .. }) if folder == build_id.as_str() => Item::new(
            2,
            Status::Pass,
            format!("the release folder {} equals `build_id`", code(&folder)),
        ),
        Some(ReleaseLocation::Folder { folder, .. }) => Item::new(
            2,
            Status::Fail,
            format!(
                "`artifact.url` points into the folder {}, but `build_id` is `{build_id}`",
                code(&folder)
            ),
        ),
        Some(ReleaseLocation::Oci) => Item::new(
            2,
            Status::Skip,
            "the OCI tag's `dev.otactl.build-id` annotation is not checked yet (no OCI support in this version)",
        ),
        None => Item::new(
            2,
            Status::Fail,
            "`artifact.url` names no release folder or tag",
        ),
    }
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
                item.number,
                item.name,
                crate::text::markdown(&item.reason)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let pass = Item::new(1, Status::Pass, "fine");
        let fail = Item::new(4, Status::Fail, "bad | pipe");
        assert!(
            Report::new(
                "m".into(),
                None,
                None,
                vec![pass.clone(), Item::new(7, Status::Skip, "")]
            )
            .ok
        );
        let report = Report::new("m".into(), None, None, vec![pass, fail]);
        assert!(!report.ok);
        assert!(
            report
                .markdown()
                .contains("| 4 | sha256 of the download | ❌ fail | bad \\| pipe |")
        );
    }
}
