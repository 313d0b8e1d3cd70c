//! `publish oci`: a file pushed as an OCI artifact with ORAS conventions (SPEC 8), as
//! OtaFlux-style servers read it: semver tags, the file as the first layer, and with
//! `--sign` cosign's signature under the channel's key. Blobs first, then the
//! manifest by digest, the signature, and the tag last, so that the newest tag is
//! never visible before it is complete and signed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;

use crate::build_id::BuildId;
use crate::error::{Error, Result};
use crate::fsx;
use crate::git;
use crate::hash;
use crate::keys::PrivateKey;
use crate::manifest::fields::OciRef;
use crate::progress::Reporter;
use crate::remote::http::Client;
use crate::remote::oci::image::{self, Artifact};
use crate::remote::oci::{Registry, Stored};
use crate::remote::{Published, Target};
use crate::repo::Repo;
use crate::settings;
use crate::text::code;

/// What to push (no `Debug`: it may hold the signing key).
#[derive(Clone, Default)]
#[allow(clippy::struct_excessive_bools)] // one per flag
pub struct OciRequest {
    /// The file: the artifact's one layer.
    pub file: PathBuf,
    /// `REGISTRY/REPOSITORY:TAG`.
    pub reference: String,
    /// The layer's media type (default: `[oci] media_type`).
    pub media_type: Option<String>,
    /// The manifest's `artifactType` (default: the media type).
    pub artifact_type: Option<String>,
    /// `--annotation K=V` pairs.
    pub annotations: Vec<String>,
    /// The build id (default: `build-id` of `source` at its `HEAD`).
    pub build_id: Option<String>,
    /// Take a tag that is not semver.
    pub allow_non_semver: bool,
    /// Take a pre-release tag.
    pub allow_prerelease: bool,
    /// Plain HTTP to a registry that is not loopback.
    pub insecure: bool,
    /// Sign with this key (`--sign`).
    pub sign: Option<Arc<PrivateKey>>,
}

/// What `publish oci` did, and what to warn of.
#[derive(Debug)]
pub struct OciPublished {
    /// The artifact.
    pub published: Published,
    /// Warnings for stderr (a tag below the highest, so devices will not get it).
    pub warnings: Vec<String>,
}

fn bad(flag: &'static str, message: String) -> Error {
    Error::InvalidArg { flag, message }
}

/// Refuses tags OtaFlux-style servers would ignore or rank wrongly.
fn check_tag(tag: &str, request: &OciRequest) -> Result<()> {
    match image::semver(tag) {
        None if !request.allow_non_semver => {
            let hint =
                if let Some(rest) = tag.strip_prefix('v').filter(|r| image::semver(r).is_some()) {
                    format!("write `{rest}` without the `v`")
                } else {
                    "write three numbers without leading zeros, such as `1.2.0`".into()
                };
            Err(bad(
                "--ref",
                format!(
                    "the tag {} is not a semver version as OtaFlux-style servers parse it (they would ignore it); {hint}, or pass `--allow-non-semver`",
                    code(tag)
                ),
            ))
        }
        Some(version) if !version.pre.is_empty() && !request.allow_prerelease => Err(bad(
            "--ref",
            format!(
                "the tag {} is a pre-release: OtaFlux-style servers rank it above older releases and serve it to every device; pass `--allow-prerelease` if that is what you want",
                code(tag)
            ),
        )),
        _ => Ok(()),
    }
}

/// `--annotation K=V` pairs; otactl's own keys cannot be set.
fn annotations(pairs: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| bad("--annotation", format!("{} is not `KEY=VALUE`", code(pair))))?;
        if image::RESERVED.contains(&key) {
            return Err(bad(
                "--annotation",
                format!("{} is set by otactl and cannot be given", code(key)),
            ));
        }
        out.insert(key.to_owned(), value.to_owned());
    }
    Ok(out)
}

/// `--build-id`, else the build id of `source` at its `HEAD`.
fn build_id(repo: &Repo, given: Option<&str>) -> Result<BuildId> {
    if let Some(id) = given {
        return id
            .parse::<BuildId>()
            .map_err(|e| bad("--build-id", e.to_string()));
    }
    let source = repo.settings.source_dir(None);
    let commit = git::resolve_commit(&source, "HEAD").map_err(|_| {
        bad(
            "--build-id",
            format!(
                "no build id: pass `--build-id ID`, or run where `source` ({}) is a git repository with a commit",
                code(fsx::display(&source))
            ),
        )
    })?;
    BuildId::from_parts(commit.committer_time, &commit.id[..7])
        .map_err(|e| bad("--build-id", e.to_string()))
}

/// Pushes the file as the artifact `request.reference` names.
pub fn oci(
    repo: &Repo,
    client: &Client,
    request: &OciRequest,
    reporter: &Arc<dyn Reporter>,
) -> Result<OciPublished> {
    let reference: OciRef = request
        .reference
        .parse()
        .map_err(|message| bad("--ref", message))?;
    check_tag(&reference.tag, request)?;
    let extra = annotations(&request.annotations)?;
    let build_id = build_id(repo, request.build_id.as_deref())?;
    let merged = settings::oci(&repo.settings, None, request.media_type.as_ref());
    let media_type = merged.media_type.0;
    let artifact_type = request
        .artifact_type
        .clone()
        .unwrap_or_else(|| media_type.clone());
    let file = &request.file;
    let title = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    let (_, size) = fsx::open_regular(file).map_err(|e| e.for_flag("FILE"))?;
    if let Some(key) = &request.sign {
        repo.check_signer(key)?;
    }
    let registry = Registry::connect(client, &reference, request.insecure, true)?;
    let manifest_for = |layer_digest: &str| {
        image::artifact_manifest(&Artifact {
            title: &title,
            media_type: &media_type,
            artifact_type: &artifact_type,
            layer_digest,
            layer_size: size,
            version: &reference.tag,
            build_id: &build_id,
            annotations: &extra,
        })
    };
    let mut warnings = Vec::new();
    let (digest, sha256, already_there) = if let Some(stored) = registry.manifest(&reference.tag)? {
        // The tag is there: hash first, and compare; never move a tag.
        let (sha256, _) = hash::sha256_file_reported(file, reporter.as_ref())?;
        let bytes = manifest_for(&format!("sha256:{sha256}"));
        same_manifest(&reference, &stored, &image::digest_of(&bytes))?;
        (stored.digest, sha256, true)
    } else {
        warnings.extend(lower_than_highest(&registry, &reference)?);
        registry.push_bytes(image::EMPTY_BYTES)?;
        let open = || -> std::io::Result<Box<dyn std::io::Read + Send>> {
            let (input, _) = fsx::open_regular(file).map_err(std::io::Error::other)?;
            Ok(Box::new(input))
        };
        // A layer the registry has (the same file under another tag) is not sent again.
        let known = format!(
            "sha256:{}",
            hash::sha256_file_reported(file, reporter.as_ref())?.0
        );
        let layer = if registry.blob_exists(&known)? {
            known
        } else {
            registry.push_stream(&open, size, &title, reporter)?
        };
        let bytes = manifest_for(&layer);
        let digest = registry.put_manifest(&image::digest_of(&bytes), &bytes)?;
        let sha256 = layer.trim_start_matches("sha256:").to_owned();
        if let Some(key) = &request.sign {
            sign(&registry, &digest, key)?;
        }
        registry.put_manifest(&reference.tag, &bytes)?;
        (digest, sha256, false)
    };
    // A tag pushed before without `--sign`, or whose signature is missing: signing
    // is idempotent (Ed25519 gives the same bytes), so it is added now.
    if already_there && let Some(key) = &request.sign {
        sign(&registry, &digest, key)?;
    }
    Ok(OciPublished {
        published: Published {
            target: Target::Oci,
            url: reference.url(),
            sha256,
            size,
            already_there,
            asset_id: None,
            path: None,
            digest: Some(digest),
            signed: Some(request.sign.is_some()),
        },
        warnings,
    })
}

/// The tag holds `digest`'s manifest, or the push is refused (exit 4).
fn same_manifest(reference: &OciRef, stored: &Stored, digest: &str) -> Result<()> {
    if stored.digest == digest {
        return Ok(());
    }
    Err(Error::PublishRefused {
        message: format!(
            "the tag {} already holds the manifest {} ({}), not {digest} as this file and build give; a tag is never moved: push under a new version",
            code(reference.to_string()),
            stored.digest,
            code(&stored.media_type)
        ),
    })
}

/// A warning when a higher semver tag is in the repository: devices keep that one.
fn lower_than_highest(registry: &Registry<'_>, reference: &OciRef) -> Result<Option<String>> {
    let Some(ours) = image::semver(&reference.tag) else {
        return Ok(None);
    };
    let highest = registry
        .tags()?
        .iter()
        .filter_map(|t| image::semver(t).map(|v| (v, t.clone())))
        .max_by(|a, b| a.0.cmp(&b.0));
    Ok(highest.filter(|(v, _)| *v > ours).map(|(_, tag)| {
        format!(
            "{} already has the tag {}, higher than {}: OtaFlux-style servers serve the highest, so devices will not get this one",
            registry.name,
            code(&tag),
            code(&reference.tag)
        )
    }))
}

/// Pushes cosign's signature of `digest`: the payload blob, then its image manifest
/// at the tag `sha256-<hex>.sig`.
fn sign(registry: &Registry<'_>, digest: &str, key: &PrivateKey) -> Result<()> {
    let payload = image::signature_payload(&registry.name, digest);
    let signature = base64::engine::general_purpose::STANDARD.encode(key.sign(&payload));
    registry.push_bytes(image::EMPTY_BYTES)?;
    registry.push_bytes(&payload)?;
    let manifest = image::signature_manifest(&payload, &signature);
    registry.put_manifest(&image::signature_tag(digest), &manifest)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_devices_would_miss_are_refused_with_a_hint() {
        let request = OciRequest::default();
        assert!(check_tag("0.1.2", &request).is_ok());
        let err = check_tag("v1.2.3", &request).unwrap_err().to_string();
        assert!(err.contains("`1.2.3` without the `v`"), "{err}");
        assert!(check_tag("1.2", &request).is_err());
        assert!(check_tag("01.2.3", &request).is_err());
        assert!(check_tag("1.1.0-rc.1", &request).is_err());
        let allowed = OciRequest {
            allow_non_semver: true,
            allow_prerelease: true,
            ..OciRequest::default()
        };
        assert!(check_tag("v1.2.3", &allowed).is_ok());
        assert!(check_tag("1.1.0-rc.1", &allowed).is_ok());
    }

    #[test]
    fn annotations_cannot_override_otactls_own() {
        let pairs = ["com.example.board=esp32".to_owned()];
        assert_eq!(annotations(&pairs).unwrap()["com.example.board"], "esp32");
        for bad in [
            "dev.otactl.build-id=x",
            "org.opencontainers.image.version=9.9.9",
            "novalue",
            "=x",
        ] {
            assert!(annotations(&[bad.to_owned()]).is_err(), "{bad}");
        }
    }
}
