//! The edges to remotes: the shared HTTP layer ([`http`]), downloads ([`fetch`]),
//! and the publishing targets ([`github`], [`dir`]; OCI joins them).

pub mod dir;
pub mod fetch;
pub mod github;
pub mod http;
pub mod oci;
mod stream;

use serde::Serialize;

/// Where `publish` puts an artifact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// A GitHub release asset.
    Github,
    /// An OCI artifact in a registry.
    Oci,
    /// A file in a release folder.
    Dir,
}

/// A published artifact, whatever the target.
#[derive(Clone, Debug, Serialize)]
pub struct Published {
    /// The target.
    pub target: Target,
    /// The URL devices download from (`artifact.url`).
    pub url: String,
    /// SHA-256 of the artifact, lowercase hex.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// It was there already with the same content: nothing was uploaded or copied.
    pub already_there: bool,
    /// The GitHub asset id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_id: Option<u64>,
    /// The file in the release folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<std::path::PathBuf>,
    /// The OCI manifest's digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The OCI artifact carries a cosign signature pushed by this run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed: Option<bool>,
}
