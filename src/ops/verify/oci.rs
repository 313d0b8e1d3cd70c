//! Items 2 to 4 of an `oci://` artifact: what the registry holds at the tag, its
//! first layer downloaded and hashed, and cosign's signature read as `OtaFlux` reads it
//! (the checklist decides; this gathers).

use base64::Engine as _;

use super::{Request, read};
use crate::checklist::{Cosign, Download, OciAnswer, OciPlace, Place};
use crate::manifest::Manifest;
use crate::manifest::fields::OciRef;
use crate::progress::Reporter;
use crate::remote::fetch::{self, FetchError, FileUrls, Limits};
use crate::remote::http::Client;
use crate::remote::oci::Registry;
use crate::remote::oci::image::{self, ImageManifest};
use crate::repo::Repo;
use crate::settings;

/// The largest signature payload read.
const MAX_PAYLOAD: u64 = 64 * 1024;

/// Whether `found` (`REGISTRY/REPO`) is `configured` or under it.
fn under(found: &str, configured: &str) -> bool {
    let configured = configured.trim_end_matches('/');
    found == configured || found.starts_with(&format!("{configured}/"))
}

/// The facts of an `oci://` artifact, and its first layer's download.
pub(super) fn gather(
    repo: &Repo,
    client: &Client,
    request: &Request,
    m: &Manifest,
    reporter: &dyn Reporter,
) -> (Place, Download) {
    let Ok(reference) = OciRef::from_url(&m.artifact.url) else {
        return (
            Place::Download,
            Download::Missing("not an `oci://` reference".into()),
        );
    };
    let found = format!("{}/{}", reference.registry, reference.repository);
    let configured = settings::oci(&repo.settings, None, None)
        .repository
        .map(|(r, _)| r);
    let required = request.require_cosign || repo.settings.oci.cosign == Some(true);
    let mut place = OciPlace {
        foreign: configured.as_deref().is_some_and(|c| !under(&found, c)),
        found,
        configured,
        allow_foreign: request.allow_foreign_artifact,
        tag: reference.tag.clone(),
        answer: OciAnswer::NotAsked,
        cosign: None,
    };
    if request.offline {
        return (Place::Oci(place), Download::Offline);
    }
    let registry = match Registry::connect(client, &reference, request.remote.insecure, false) {
        Ok(registry) => registry,
        Err(e) => {
            place.answer = OciAnswer::Failed(e.to_string());
            return (Place::Oci(place), Download::Unreachable(e.to_string()));
        }
    };
    let stored = match registry.manifest(&reference.tag) {
        Ok(Some(stored)) => stored,
        Ok(None) => {
            place.answer = OciAnswer::NoTag;
            return (Place::Oci(place), Download::Missing("no such tag".into()));
        }
        Err(e) => {
            place.answer = OciAnswer::Failed(e.to_string());
            return (Place::Oci(place), Download::Unreachable(e.to_string()));
        }
    };
    let parsed = (stored.media_type == image::OCI_MANIFEST)
        .then(|| serde_json::from_slice::<ImageManifest>(&stored.bytes).ok())
        .flatten();
    let Some(manifest) = parsed else {
        place.answer = OciAnswer::NotImage(stored.media_type.clone());
        return (
            Place::Oci(place),
            Download::Missing("not an image manifest".into()),
        );
    };
    let first = manifest.layers.first().cloned();
    place.answer = OciAnswer::Image {
        digest: stored.digest.clone(),
        build_id: manifest
            .annotations
            .as_ref()
            .and_then(|a| a.get(image::BUILD_ID_ANNOTATION).cloned()),
        first_layer: first.as_ref().map(|l| l.digest.clone()),
    };
    if required {
        place.cosign = Some(cosign(&registry, &stored.digest));
    }
    let Some(layer) = first else {
        return (
            Place::Oci(place),
            Download::Missing("the manifest has no layer".into()),
        );
    };
    let limits = Limits {
        deadline: request.deadline,
        files: FileUrls::Nowhere,
    };
    let opened = registry
        .blob(&layer.digest)
        .map(|response| {
            let length = response.content_length().or(Some(layer.size));
            fetch::guarded(response.into_reader(), length, &limits)
        })
        .map_err(|e| {
            if e.is_not_found() {
                FetchError::Missing(e.to_string())
            } else {
                FetchError::Remote(e.to_string())
            }
        });
    let download = read(repo, request, m, reporter, opened);
    (Place::Oci(place), download)
}

/// The signature at `sha256-<hex>.sig`: its first layer's payload and annotation.
fn cosign(registry: &Registry<'_>, digest: &str) -> Cosign {
    let tag = image::signature_tag(digest);
    let stored = match registry.manifest(&tag) {
        Ok(Some(stored)) => stored,
        Ok(None) => return Cosign::Missing(format!("there is no tag `{tag}`")),
        Err(e) => return Cosign::Failed(e.to_string()),
    };
    let Some(layer) = serde_json::from_slice::<ImageManifest>(&stored.bytes)
        .ok()
        .and_then(|m| m.layers.into_iter().next())
    else {
        return Cosign::Missing(format!(
            "the tag `{tag}` holds no image manifest with a layer"
        ));
    };
    let Some(encoded) = layer
        .annotations
        .as_ref()
        .and_then(|a| a.get(image::SIGNATURE_ANNOTATION))
    else {
        return Cosign::Missing(format!(
            "the first layer of `{tag}` has no `{}` annotation",
            image::SIGNATURE_ANNOTATION
        ));
    };
    let signature = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok());
    let payload = match registry
        .blob(&layer.digest)
        .and_then(|r| r.bytes_capped(MAX_PAYLOAD))
    {
        Ok(payload) => payload,
        Err(e) => return Cosign::Failed(e.to_string()),
    };
    if payload.is_empty() || image::digest_of(&payload) != layer.digest {
        return Cosign::Missing(format!(
            "the payload of `{tag}` is empty or not its layer's digest"
        ));
    }
    Cosign::Found { payload, signature }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repository_is_under_the_configured_one_by_whole_path_parts() {
        assert!(under("r.example/fw/esp32", "r.example/fw"));
        assert!(under("r.example/fw", "r.example/fw/"));
        assert!(!under("r.example/fw-evil", "r.example/fw"));
        assert!(!under("evil.example/fw", "r.example/fw"));
    }
}
