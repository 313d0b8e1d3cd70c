//! The OCI documents otactl writes and reads: the artifact's image manifest (ORAS
//! conventions, SPEC 8), the cosign signature's manifest and its simple-signing
//! payload. Pure: bytes in, bytes out; the same inputs always give the same bytes, so
//! a re-push gives the same digest.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::build_id::BuildId;
use crate::hash::to_hex;

/// An OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// An OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// A Docker v2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// A Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The `Accept` of every manifest read: without the OCI type, Debian's registry
/// answers 404 for an OCI manifest, which would read as "no such tag".
pub const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";
/// The empty config of an artifact.
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// Its two bytes.
pub const EMPTY_BYTES: &[u8] = b"{}";
/// The artifact type (and layer media type) when none is given.
pub const DEFAULT_ARTIFACT_TYPE: &str = "application/vnd.otactl.artifact.v1";
/// The layer media type of a cosign signature's payload.
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The manifest annotation naming the build.
pub const BUILD_ID_ANNOTATION: &str = "dev.otactl.build-id";
/// The layer annotation naming the file.
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";
/// The manifest annotation naming the version (the tag).
pub const VERSION_ANNOTATION: &str = "org.opencontainers.image.version";
/// The manifest annotation naming the build's time.
pub const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";
/// Manifest annotations `--annotation` cannot set.
pub const RESERVED: [&str; 3] = [BUILD_ID_ANNOTATION, VERSION_ANNOTATION, CREATED_ANNOTATION];

/// A content descriptor.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The media type.
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Bytes.
    pub size: u64,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// The content itself, base64 (the empty config carries it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// An OCI image manifest (unknown fields ignored when read).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// [`OCI_MANIFEST`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// What the artifact is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers; the first is what `OtaFlux` serves.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// `sha256:<hex>` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", to_hex(&Sha256::digest(bytes)))
}

/// The empty config's descriptor.
pub fn empty_config() -> Descriptor {
    Descriptor {
        media_type: EMPTY_MEDIA_TYPE.into(),
        digest: digest_of(EMPTY_BYTES),
        size: EMPTY_BYTES.len() as u64,
        annotations: None,
        data: Some("e30=".into()),
    }
}

/// What the artifact's manifest says.
#[derive(Clone, Debug)]
pub struct Artifact<'a> {
    /// The file name (`org.opencontainers.image.title`).
    pub title: &'a str,
    /// The layer's media type.
    pub media_type: &'a str,
    /// The manifest's `artifactType`.
    pub artifact_type: &'a str,
    /// The layer's digest and size.
    pub layer_digest: &'a str,
    /// Its size.
    pub layer_size: u64,
    /// The tag (`org.opencontainers.image.version`).
    pub version: &'a str,
    /// The build (`dev.otactl.build-id`; its time is `created`).
    pub build_id: &'a BuildId,
    /// `--annotation` pairs; none of [`RESERVED`].
    pub annotations: &'a BTreeMap<String, String>,
}

/// The build's time as `org.opencontainers.image.created` holds it (RFC 3339, UTC).
pub fn created(build_id: &BuildId) -> String {
    build_id
        .time()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The artifact's image manifest, as bytes.
pub fn artifact_manifest(artifact: &Artifact<'_>) -> Vec<u8> {
    let mut annotations = artifact.annotations.clone();
    annotations.insert(BUILD_ID_ANNOTATION.into(), artifact.build_id.to_string());
    annotations.insert(CREATED_ANNOTATION.into(), created(artifact.build_id));
    annotations.insert(VERSION_ANNOTATION.into(), artifact.version.into());
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.into()),
        artifact_type: Some(artifact.artifact_type.into()),
        config: empty_config(),
        layers: vec![Descriptor {
            media_type: artifact.media_type.into(),
            digest: artifact.layer_digest.into(),
            size: artifact.layer_size,
            annotations: Some(BTreeMap::from([(
                TITLE_ANNOTATION.to_owned(),
                artifact.title.to_owned(),
            )])),
            data: None,
        }],
        annotations: Some(annotations),
    };
    serde_json::to_vec(&manifest).unwrap_or_default()
}

/// The simple-signing payload cosign signs for `digest` in `repository`
/// (`REGISTRY/REPO`).
pub fn signature_payload(repository: &str, digest: &str) -> Vec<u8> {
    let payload = serde_json::json!({
        "critical": {
            "identity": {"docker-reference": repository},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": null,
    });
    serde_json::to_vec(&payload).unwrap_or_default()
}

/// The tag of `digest`'s cosign signature: `sha256-<hex>.sig`.
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replacen(':', "-", 1))
}

/// The signature's image manifest: the payload as its first layer, the signature
/// (standard base64) in that layer's annotation.
pub fn signature_manifest(payload: &[u8], signature_b64: &str) -> Vec<u8> {
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.into()),
        artifact_type: None,
        config: empty_config(),
        layers: vec![Descriptor {
            media_type: SIMPLE_SIGNING.into(),
            digest: digest_of(payload),
            size: payload.len() as u64,
            annotations: Some(BTreeMap::from([(
                SIGNATURE_ANNOTATION.to_owned(),
                signature_b64.to_owned(),
            )])),
            data: None,
        }],
        annotations: None,
    };
    serde_json::to_vec(&manifest).unwrap_or_default()
}

/// Whether `tag` is one OtaFlux-style servers take: semver as the `semver` crate
/// parses it (no leading `v`, three parts, no leading zeros).
pub fn semver(tag: &str) -> Option<semver::Version> {
    semver::Version::parse(tag).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> BuildId {
        "20260115-1614-9121078".parse().unwrap()
    }

    #[test]
    fn the_empty_config_is_the_two_byte_object() {
        assert_eq!(
            empty_config().digest,
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn the_artifact_manifest_is_the_same_bytes_for_the_same_inputs() {
        let extra = BTreeMap::from([("com.example.board".to_owned(), "esp32".to_owned())]);
        let id = id();
        let artifact = Artifact {
            title: "firmware.bin",
            media_type: "application/vnd.espressif.esp32.firmware.v1+binary",
            artifact_type: "application/vnd.espressif.esp32.firmware.v1+binary",
            layer_digest: "sha256:aa",
            layer_size: 3,
            version: "0.1.2",
            build_id: &id,
            annotations: &extra,
        };
        let bytes = artifact_manifest(&artifact);
        assert_eq!(bytes, artifact_manifest(&artifact));
        let read: ImageManifest = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(read.media_type.as_deref(), Some(OCI_MANIFEST));
        assert_eq!(
            read.layers[0].annotations.as_ref().unwrap()[TITLE_ANNOTATION],
            "firmware.bin"
        );
        let annotations = read.annotations.unwrap();
        assert_eq!(annotations[CREATED_ANNOTATION], "2026-01-15T16:14:00Z");
        assert_eq!(annotations[BUILD_ID_ANNOTATION], "20260115-1614-9121078");
        assert_eq!(annotations[VERSION_ANNOTATION], "0.1.2");
        assert_eq!(annotations["com.example.board"], "esp32");
    }

    #[test]
    fn the_signature_payload_names_the_digest_and_its_tag_is_cosigns() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let payload = signature_payload("r.example/fw", &digest);
        assert_eq!(
            String::from_utf8(payload.clone()).unwrap(),
            format!(
                "{{\"critical\":{{\"identity\":{{\"docker-reference\":\"r.example/fw\"}},\"image\":{{\"docker-manifest-digest\":\"{digest}\"}},\"type\":\"cosign container image signature\"}},\"optional\":null}}"
            )
        );
        assert!(crate::checklist::payload_names(&payload, &digest));
        assert!(!crate::checklist::payload_names(&payload, "sha256:00"));
        assert_eq!(
            signature_tag(&digest),
            format!("sha256-{}.sig", "ab".repeat(32))
        );
    }

    #[test]
    fn tags_are_semver_as_the_crate_parses_them() {
        assert!(semver("0.1.2").is_some());
        assert!(semver("1.1.0-rc.1").is_some());
        for bad in ["v1.0.0", "1.0", "01.0.0", "latest"] {
            assert!(semver(bad).is_none(), "{bad}");
        }
    }
}
