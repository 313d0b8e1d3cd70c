//! `status`: each channel's build, its age, its `min_build_id` and who signed it, in
//! promotion order, and which channel lags behind the one before it. Reads the work
//! tree, or a git ref; nothing remote.

use serde::Serialize;
use time::OffsetDateTime;

use crate::build_id::BuildId;
use crate::error::Result;
use crate::fsx;
use crate::git;
use crate::lint::{self, LintInput, SignaturePolicy};
use crate::manifest::MAX_MANIFEST_BYTES;
use crate::repo::Repo;

/// One channel.
#[derive(Clone, Debug, Serialize)]
pub struct ChannelStatus {
    /// The channel.
    pub channel: String,
    /// The manifest file.
    pub manifest: String,
    /// `released`, `not released` (no manifest) or `invalid`.
    pub state: &'static str,
    /// `build_id`.
    pub build_id: Option<String>,
    /// `created_utc`.
    pub created_utc: Option<String>,
    /// Seconds since `created_utc`.
    pub age_seconds: Option<i64>,
    /// `min_build_id`.
    pub min_build_id: Option<String>,
    /// The trusted key id the signature verifies under; else `unsigned` or
    /// `unverified` (signed, but under no trusted key, or none to check with).
    pub signer: String,
}

/// A channel and the one before it in the promotion order.
#[derive(Clone, Debug, Serialize)]
pub struct Lag {
    /// The channel before.
    pub earlier: String,
    /// The channel after it.
    pub later: String,
    /// `later` runs an older build than `earlier`.
    pub behind: bool,
    /// `later` runs a newer build than `earlier`: it did not come through it.
    pub ahead: bool,
    /// The builds `earlier` had after `later`'s (from its git history), when behind.
    pub builds: Option<usize>,
    /// How much older `later`'s build is, in seconds, when behind.
    pub seconds: Option<i64>,
}

/// Every channel, and the lags.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    /// Where the manifests were read: `the work tree`, or the git ref.
    pub read_from: String,
    /// The channels in promotion order.
    pub channels: Vec<ChannelStatus>,
    /// Each adjacent pair of the promotion order.
    pub lags: Vec<Lag>,
}

/// The status of every channel, from the work tree or from `base`.
pub fn status(repo: &Repo, base: Option<&str>) -> Result<Status> {
    let settings = &repo.settings;
    if let Some(base) = base {
        git::verify_commit(&settings.root, base).map_err(|e| e.for_flag("--base"))?;
    }
    let trusted = repo.trusted_keys(&[])?;
    let policy = SignaturePolicy {
        trusted: &trusted,
        require: false,
    };
    let mut channels = Vec::new();
    for channel in settings.channels.iter() {
        let path = settings.manifest_path(channel);
        let shown = fsx::display(&path);
        let bytes = match base {
            Some(base) => git::show_at(&settings.channel_dir(channel), base, "manifest.json")?,
            None => fsx::exists(&path)
                .then(|| fsx::read_limited(&path, MAX_MANIFEST_BYTES, "a manifest"))
                .transpose()?,
        };
        channels.push(match bytes {
            None => ChannelStatus {
                channel: channel.clone(),
                manifest: shown,
                state: "not released",
                build_id: None,
                created_utc: None,
                age_seconds: None,
                min_build_id: None,
                signer: "unsigned".into(),
            },
            Some(bytes) => describe(repo, channel, shown, &bytes, &policy),
        });
    }
    let lags = channels
        .windows(2)
        .map(|pair| lag(repo, &pair[0], &pair[1], base))
        .collect();
    Ok(Status {
        read_from: base.map_or_else(|| "the work tree".to_owned(), |b| format!("`{b}`")),
        channels,
        lags,
    })
}

fn describe(
    repo: &Repo,
    channel: &str,
    shown: String,
    bytes: &[u8],
    policy: &SignaturePolicy<'_>,
) -> ChannelStatus {
    let path = repo.settings.manifest_path(channel);
    let report = lint::lint_file(
        &LintInput {
            path: shown.clone(),
            bytes,
            base: None,
        },
        &repo.rules(&path),
        policy,
    );
    let object: Option<serde_json::Value> = serde_json::from_slice(bytes).ok();
    let field = |key: &str| {
        object
            .as_ref()
            .and_then(|o| o.get(key))
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let created_utc = field("created_utc");
    let age_seconds = created_utc.as_deref().and_then(|c| {
        OffsetDateTime::parse(c, &time::format_description::well_known::Rfc3339)
            .ok()
            .map(|at| (repo.now - at).whole_seconds())
    });
    let signer = match (&report.signed_by, field("signature")) {
        (Some(key), _) => key.clone(),
        (None, Some(_)) => "unverified".into(),
        (None, None) => "unsigned".into(),
    };
    ChannelStatus {
        channel: channel.to_owned(),
        manifest: shown,
        state: if report.errors() > 0 {
            "invalid"
        } else {
            "released"
        },
        build_id: field("build_id"),
        created_utc,
        age_seconds,
        min_build_id: field("min_build_id"),
        signer,
    }
}

/// Whether `later` runs an older build than `earlier`, and by how much.
fn lag(repo: &Repo, earlier: &ChannelStatus, later: &ChannelStatus, base: Option<&str>) -> Lag {
    let ids = |s: &ChannelStatus| {
        s.build_id
            .as_deref()
            .and_then(|b| BuildId::parse_legacy(b).ok())
    };
    let ahead = matches!((ids(earlier), ids(later)), (Some(e), Some(l)) if l.cmp_time(&e).is_gt());
    let (behind, seconds, builds) = match (ids(earlier), ids(later)) {
        (Some(e), Some(l)) if e.cmp_time(&l).is_gt() => {
            let seconds = (e.time() - l.time()).whole_seconds();
            let builds = builds_after(repo, &earlier.channel, &l, base);
            (true, Some(seconds), builds)
        }
        (Some(_), None) => (true, None, None),
        _ => (false, None, None),
    };
    Lag {
        earlier: earlier.channel.clone(),
        later: later.channel.clone(),
        behind,
        ahead,
        builds,
        seconds,
    }
}

/// The distinct builds `channel`'s manifest held after `after`, from its git history
/// (at most the last 500 commits).
fn builds_after(repo: &Repo, channel: &str, after: &BuildId, base: Option<&str>) -> Option<usize> {
    let settings = &repo.settings;
    let relative = settings.manifest_in_root(channel);
    let ids =
        git::build_ids_in_history(&settings.root, base.unwrap_or("HEAD"), &relative, 500).ok()?;
    let mut later: Vec<String> = ids
        .into_iter()
        .filter(|id| BuildId::parse_legacy(id).is_ok_and(|b| b.cmp_time(after).is_gt()))
        .collect();
    later.sort();
    later.dedup();
    Some(later.len())
}
