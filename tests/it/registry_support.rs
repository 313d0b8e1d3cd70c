//! The OCI test registries answer as the distribution API says, so tests of otactl
//! can trust them: Debian's real registry run by support/registry.rs, and the
//! hostile one of support/hostile_registry.rs. Both are checked with plain HTTP
//! (reqwest) and with a real OCI client, skopeo.

use std::path::Path;

use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};

use crate::support::TestContext;
use crate::support::hostile_registry::{Behaviour, HostileRegistry, Route, SERVICE, TOKEN};
use crate::support::registry::{DOCKER_MANIFEST, OCI_EMPTY, OCI_MANIFEST, Registry, sha256_digest};

const REPO: &str = "acme/firmware";

fn client() -> Client {
    Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// `POST /v2/REPO/blobs/uploads/`, which must answer 202: the `Location`.
fn start_upload(registry: &HostileRegistry) -> String {
    let started = client()
        .post(registry.url(&format!("v2/{REPO}/blobs/uploads/")))
        .send()
        .unwrap();
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    header(&started, "location")
}

/// `PUT LOCATION?digest=DIGEST` with these bytes.
fn finish_upload(
    registry: &HostileRegistry,
    location: &str,
    bytes: &[u8],
    digest: &str,
) -> Response {
    client()
        .put(format!("{}?digest={digest}", registry.url(location)))
        .body(bytes.to_vec())
        .send()
        .unwrap()
}

fn body_json(response: Response) -> Value {
    serde_json::from_slice(&response.bytes().unwrap()).unwrap()
}

/// The artifact manifest otactl pushes (the OCI contract of issue #10), for a
/// layer `layer`.
fn artifact_manifest(layer: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.otactl.artifact.v1",
        "config": {
            "mediaType": OCI_EMPTY,
            "digest": sha256_digest(b"{}"),
            "size": 2,
            "data": "e30=",
        },
        "layers": [{
            "mediaType": "application/vnd.otactl.artifact.v1",
            "digest": sha256_digest(layer),
            "size": layer.len(),
            "annotations": {"org.opencontainers.image.title": "fw.bin"},
        }],
        "annotations": {"dev.otactl.build-id": "20260115-1614-abcdef0"},
    }))
    .unwrap()
}

/// Whether a process with this id exists.
fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn registry_starts_answers_and_stops_on_drop() {
    let registry = Registry::start();
    let (port, pid) = (registry.port, registry.pid().unwrap());
    assert_eq!(registry.host(), format!("127.0.0.1:{port}"));
    let response = client().get(registry.url("")).send().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(&response, "docker-distribution-api-version"),
        "registry/2.0"
    );
    assert!(registry.log().contains("GET /v2/"), "{}", registry.log());
    let config = std::fs::read_to_string(registry.dir().join("config.yml")).unwrap();
    assert!(
        config.contains(&format!("addr: 127.0.0.1:{port}")),
        "{config}"
    );
    assert!(config.contains("enabled: true"), "{config}");
    assert!(!config.contains("/etc/docker"), "{config}");
    drop(registry);
    assert!(!process_exists(pid), "docker-registry {pid} still runs");
    std::net::TcpListener::bind(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("port {port} is still taken after the drop: {e}"));
}

#[test]
fn registry_push_raw_reads_back_tags_manifest_and_blobs() {
    let registry = Registry::start();
    assert!(registry.tags(REPO).is_empty(), "an unknown repository");
    let layer = b"firmware bytes".as_slice();
    let digest = registry.push_raw(
        REPO,
        "1.0.0",
        b"{}",
        &[("application/vnd.otactl.artifact.v1", layer)],
        &[("dev.otactl.build-id", "20260115-1614-abcdef0")],
    );
    registry.push_raw(REPO, "2.0.0", b"{\"other\":1}", &[], &[]);
    let mut tags = registry.tags(REPO);
    tags.sort();
    assert_eq!(tags, ["1.0.0", "2.0.0"]);

    let (content_type, answered, bytes) = registry.manifest(REPO, "1.0.0");
    assert_eq!(content_type, OCI_MANIFEST);
    assert_eq!(answered, digest);
    assert_eq!(sha256_digest(&bytes), digest);
    assert_eq!(registry.manifest(REPO, &digest).2, bytes);
    let manifest = registry.manifest_json(REPO, "1.0.0");
    assert_eq!(
        manifest["annotations"]["dev.otactl.build-id"],
        "20260115-1614-abcdef0"
    );
    assert_eq!(manifest["config"]["mediaType"], OCI_EMPTY);
    assert_eq!(manifest["config"]["digest"], sha256_digest(b"{}"));
    let layer_digest = manifest["layers"][0]["digest"].as_str().unwrap();
    assert_eq!(layer_digest, sha256_digest(layer));
    assert_eq!(registry.blob(REPO, layer_digest), layer);
    assert!(registry.blob_exists(REPO, layer_digest));
    assert!(!registry.blob_exists(REPO, &sha256_digest(b"never pushed")));
    assert!(
        registry
            .manifest_json(REPO, "2.0.0")
            .get("annotations")
            .is_none()
    );
}

#[test]
fn registry_with_htpasswd_answers_401_without_credentials_and_200_with_them() {
    let registry = Registry::with_htpasswd("ci", "s3cret-pass");
    let anonymous = client().get(registry.url("")).send().unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&anonymous, "www-authenticate"),
        "Basic realm=\"otactl-test\""
    );
    for (password, status) in [
        ("wrong", StatusCode::UNAUTHORIZED),
        ("s3cret-pass", StatusCode::OK),
    ] {
        let response = client()
            .get(registry.url(""))
            .basic_auth("ci", Some(password))
            .send()
            .unwrap();
        assert_eq!(response.status(), status, "password {password}");
    }
    // The helpers send the credentials.
    registry.push_raw(REPO, "1.0.0", b"{}", &[("text/plain", b"x")], &[]);
    assert_eq!(registry.tags(REPO), ["1.0.0"]);
    let htpasswd = std::fs::read_to_string(registry.dir().join("htpasswd")).unwrap();
    assert!(htpasswd.starts_with("ci:$2y$"), "bcrypt: {htpasswd}");
}

#[test]
fn two_registries_at_once_get_their_own_ports_and_storage() {
    let one = Registry::start();
    let two = Registry::start();
    assert_ne!(one.port, two.port);
    assert_ne!(one.storage(), two.storage());
    one.push_raw(REPO, "1.0.0", b"{}", &[], &[]);
    assert_eq!(one.tags(REPO), ["1.0.0"]);
    assert!(two.tags(REPO).is_empty());
}

#[test]
fn registry_killed_refuses_connections_and_restarts_with_its_storage() {
    let mut registry = Registry::start();
    let port = registry.port;
    let digest = registry.push_raw(REPO, "1.0.0", b"{}", &[("text/plain", b"x")], &[]);
    let pid = registry.pid().unwrap();
    registry.kill();
    assert!(!process_exists(pid));
    assert!(client().get(registry.url("")).send().is_err());
    registry.restart();
    assert_eq!(registry.port, port);
    assert_ne!(registry.pid(), Some(pid));
    assert_eq!(registry.manifest(REPO, "1.0.0").1, digest);
}

/// Distribution 2.8 takes the contract's artifact manifest (`artifactType`, the
/// empty config with `data`) as it is, but serves an OCI manifest only to an
/// `Accept` that names the OCI type.
#[test]
fn registry_takes_an_artifact_manifest_and_serves_it_only_to_an_oci_accept() {
    let registry = Registry::start();
    let layer = b"firmware".as_slice();
    // The empty config must be uploaded even though its descriptor carries `data`.
    let refused = client()
        .put(registry.url(&format!("{REPO}/manifests/1.0.0")))
        .header("Content-Type", OCI_MANIFEST)
        .body(artifact_manifest(layer))
        .send()
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(
        body_json(refused)
            .to_string()
            .contains("MANIFEST_BLOB_UNKNOWN")
    );

    registry.push_blob(REPO, OCI_EMPTY, b"{}");
    registry.push_blob(REPO, "application/vnd.otactl.artifact.v1", layer);
    let bytes = artifact_manifest(layer);
    let digest = sha256_digest(&bytes);
    assert_eq!(
        registry.push_manifest(REPO, &digest, OCI_MANIFEST, &bytes),
        digest
    );
    assert_eq!(
        registry.push_manifest(REPO, "1.0.0", OCI_MANIFEST, &bytes),
        digest
    );
    assert_eq!(registry.manifest(REPO, "1.0.0").2, bytes, "stored as sent");

    for accept in [None, Some(DOCKER_MANIFEST)] {
        let mut request = client().get(registry.url(&format!("{REPO}/manifests/1.0.0")));
        if let Some(accept) = accept {
            request = request.header("Accept", accept);
        }
        let response = request.send().unwrap();
        assert_eq!(
            response.status(),
            StatusCode::NOT_FOUND,
            "Accept: {accept:?}"
        );
        assert!(body_json(response).to_string().contains("MANIFEST_UNKNOWN"));
    }
}

/// skopeo with a policy that accepts anything, and no TLS for the loopback
/// registries.
fn skopeo(ctx: &TestContext, args: &[&str]) -> std::process::Output {
    let policy = ctx.write(
        "policy.json",
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    );
    let mut cmd = ctx.tool("skopeo");
    cmd.arg("--policy").arg(policy).args(args);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn registry_push_raw_is_what_skopeo_inspects() {
    let ctx = TestContext::new();
    let registry = Registry::start();
    let digest = registry.push_raw(
        REPO,
        "1.0.0",
        b"{}",
        &[("application/vnd.otactl.artifact.v1", b"fw")],
        &[("org.opencontainers.image.version", "1.0.0")],
    );
    let image = format!("docker://{}/{REPO}:1.0.0", registry.host());
    let out = skopeo(&ctx, &["inspect", "--tls-verify=false", "--raw", &image]);
    assert_eq!(sha256_digest(&out.stdout), digest);
    let out = skopeo(
        &ctx,
        &[
            "list-tags",
            "--tls-verify=false",
            &format!("docker://{}/{REPO}", registry.host()),
        ],
    );
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["Tags"], json!(["1.0.0"]));
}

/// Writes an image in skopeo's `dir:` layout: `manifest.json`, the blobs by hex
/// digest and `version`. Returns the manifest's bytes.
fn dir_image(dir: &Path, layer: &[u8]) -> Vec<u8> {
    std::fs::create_dir_all(dir).unwrap();
    for blob in [b"{}".as_slice(), layer] {
        let digest = sha256_digest(blob);
        std::fs::write(dir.join(digest.trim_start_matches("sha256:")), blob).unwrap();
    }
    let manifest = artifact_manifest(layer);
    std::fs::write(dir.join("manifest.json"), &manifest).unwrap();
    std::fs::write(dir.join("version"), "Directory Transport Version: 1.1\n").unwrap();
    manifest
}

#[test]
fn hostile_registry_plain_takes_a_push_by_skopeo() {
    let ctx = TestContext::new();
    let registry = HostileRegistry::plain();
    let layer = b"firmware".repeat(1000);
    let manifest = dir_image(&ctx.path("image"), &layer);
    let source = format!("dir:{}", ctx.path("image").display());
    let dest = format!("docker://{}/{REPO}:1.0.0", registry.host());
    skopeo(
        &ctx,
        &["copy", "--quiet", "--dest-tls-verify=false", &source, &dest],
    );
    assert_eq!(registry.tags(REPO), ["1.0.0"]);
    assert_eq!(registry.manifest(REPO, "1.0.0").unwrap(), manifest);
    assert_eq!(registry.blob(&sha256_digest(&layer)).unwrap(), layer);
    let routes = registry.routes();
    assert!(routes.contains(&Route::UploadPatch), "{routes:?}");
    assert!(routes.contains(&Route::ManifestPut), "{routes:?}");
    // And skopeo reads it back.
    let out = skopeo(&ctx, &["inspect", "--tls-verify=false", "--raw", &dest]);
    assert_eq!(out.stdout, manifest);
}

#[test]
fn hostile_registry_plain_speaks_the_distribution_api() {
    let registry = HostileRegistry::plain();
    let http = client();
    assert_eq!(
        http.get(registry.url("v2/")).send().unwrap().status(),
        StatusCode::OK
    );
    let missing = registry.url(&format!("v2/{REPO}/tags/list"));
    assert_eq!(
        http.get(&missing).send().unwrap().status(),
        StatusCode::NOT_FOUND
    );

    // A chunked upload: POST, PATCH, PUT with the digest (checked).
    let location = start_upload(&registry);
    assert!(
        location.starts_with(&format!("/v2/{REPO}/blobs/uploads/")),
        "{location}"
    );
    let patched = http
        .patch(registry.url(&location))
        .body(b"{".to_vec())
        .send()
        .unwrap();
    assert_eq!(patched.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&patched, "range"), "0-0");
    let wrong = finish_upload(&registry, &location, b"}", &sha256_digest(b"{x"));
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);

    let location = start_upload(&registry);
    let put = finish_upload(&registry, &location, b"{}", &sha256_digest(b"{}"));
    assert_eq!(put.status(), StatusCode::CREATED);
    assert_eq!(header(&put, "docker-content-digest"), sha256_digest(b"{}"));
    // A monolithic POST with the digest.
    let layer = b"firmware".as_slice();
    let mono = http
        .post(registry.url(&format!(
            "v2/{REPO}/blobs/uploads/?digest={}",
            sha256_digest(layer)
        )))
        .body(layer.to_vec())
        .send()
        .unwrap();
    assert_eq!(mono.status(), StatusCode::CREATED);
    let head = http
        .head(registry.url(&format!("v2/{REPO}/blobs/{}", sha256_digest(layer))))
        .send()
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, "content-length"), layer.len().to_string());

    // Manifests: every blob named must be there; by digest, then by tag.
    let manifest = artifact_manifest(layer);
    let digest = sha256_digest(&manifest);
    let put = |reference: &str, bytes: &[u8]| {
        http.put(registry.url(&format!("v2/{REPO}/manifests/{reference}")))
            .header("Content-Type", OCI_MANIFEST)
            .body(bytes.to_vec())
            .send()
            .unwrap()
    };
    let unknown_blob = put("1.0.0", &artifact_manifest(b"never uploaded"));
    assert_eq!(unknown_blob.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        put(&sha256_digest(b"other"), &manifest).status(),
        StatusCode::BAD_REQUEST
    );
    let by_digest = put(&digest, &manifest);
    assert_eq!(by_digest.status(), StatusCode::CREATED);
    assert_eq!(header(&by_digest, "docker-content-digest"), digest);
    assert!(registry.tags(REPO).is_empty());
    assert_eq!(put("1.0.0", &manifest).status(), StatusCode::CREATED);
    let got = http
        .get(registry.url(&format!("v2/{REPO}/manifests/1.0.0")))
        .send()
        .unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(header(&got, "content-type"), OCI_MANIFEST);
    assert_eq!(header(&got, "docker-content-digest"), digest);
    assert_eq!(got.bytes().unwrap(), manifest);
    let head = http
        .head(registry.url(&format!("v2/{REPO}/manifests/2.0.0")))
        .send()
        .unwrap();
    assert_eq!(head.status(), StatusCode::NOT_FOUND);
    let tags = body_json(http.get(&missing).send().unwrap());
    assert_eq!(tags, json!({"name": REPO, "tags": ["1.0.0"]}));
    assert!(
        registry
            .requests()
            .iter()
            .all(|r| r.authorization.is_none()),
        "nobody sent credentials"
    );
}

#[test]
fn hostile_registry_wrong_digest_answers_other_bytes_digest() {
    let registry = HostileRegistry::start(&[Behaviour::WrongDigest]);
    let manifest = serde_json::to_vec(&json!({"schemaVersion": 2, "layers": []})).unwrap();
    let put = client()
        .put(registry.url(&format!("v2/{REPO}/manifests/1.0.0")))
        .header("Content-Type", OCI_MANIFEST)
        .body(manifest.clone())
        .send()
        .unwrap();
    assert_eq!(put.status(), StatusCode::CREATED);
    let answered = header(&put, "docker-content-digest");
    assert!(answered.starts_with("sha256:"), "{answered}");
    assert_ne!(answered, sha256_digest(&manifest));
}

#[test]
fn hostile_registry_answers_429_to_the_first_calls_of_a_route() {
    let registry = HostileRegistry::start(&[Behaviour::TooManyRequests {
        route: Route::ManifestHead,
        first: 2,
    }]);
    let url = registry.url(&format!("v2/{REPO}/manifests/1.0.0"));
    for _ in 0..2 {
        let response = client().head(&url).send().unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(header(&response, "retry-after"), "1");
    }
    assert_eq!(
        client().head(&url).send().unwrap().status(),
        StatusCode::NOT_FOUND
    );
    // Other routes are not limited.
    assert_eq!(
        client().get(registry.url("v2/")).send().unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(registry.calls(Route::ManifestHead), 3);
}

#[test]
fn hostile_registry_bearer_flow_hands_a_token_for_the_right_credentials() {
    let registry = HostileRegistry::start(&[Behaviour::Bearer {
        username: "robot".into(),
        password: "p4ss-word".into(),
    }]);
    let http = client();
    let base = http.get(registry.url("v2/")).send().unwrap();
    assert_eq!(base.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&base, "www-authenticate"),
        format!(
            "Bearer realm=\"http://127.0.0.1:{}/token\",service=\"{SERVICE}\"",
            registry.port
        )
    );
    let tags_url = registry.url(&format!("v2/{REPO}/tags/list"));
    let challenge = header(&http.get(&tags_url).send().unwrap(), "www-authenticate");
    assert!(
        challenge.ends_with(&format!(",scope=\"repository:{REPO}:pull,push\"")),
        "{challenge}"
    );
    let token_url = registry.url(&format!(
        "token?service={SERVICE}&scope=repository:{REPO}:pull,push"
    ));
    assert_eq!(
        http.get(&token_url).send().unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        http.get(&token_url)
            .basic_auth("robot", Some("wrong"))
            .send()
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let granted = http
        .get(&token_url)
        .basic_auth("robot", Some("p4ss-word"))
        .send()
        .unwrap();
    assert_eq!(granted.status(), StatusCode::OK);
    assert_eq!(body_json(granted), json!({"token": TOKEN}));
    assert_eq!(
        http.get(&tags_url)
            .bearer_auth("not-the-token")
            .send()
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // With the token: on to the registry (which does not know the repository).
    let with_token = http.get(&tags_url).bearer_auth(TOKEN).send().unwrap();
    assert_eq!(with_token.status(), StatusCode::NOT_FOUND);

    let requests = registry.requests();
    let schemes: Vec<Option<&str>> = requests
        .iter()
        .map(|r| r.authorization.as_deref())
        .collect();
    assert_eq!(
        schemes,
        [
            None,
            None,
            None,
            Some("Basic"),
            Some("Basic"),
            Some("Bearer"),
            Some("Bearer")
        ]
    );
    let recorded = format!("{:?}", registry.requests());
    for secret in ["p4ss-word", TOKEN, "not-the-token"] {
        assert!(!recorded.contains(secret), "{secret} recorded: {recorded}");
    }
}

#[test]
fn hostile_registry_token_refused_answers_401_to_everyone() {
    let registry = HostileRegistry::start(&[Behaviour::TokenRefused]);
    let http = client();
    let challenge = header(
        &http.get(registry.url("v2/")).send().unwrap(),
        "www-authenticate",
    );
    assert!(challenge.starts_with("Bearer realm="), "{challenge}");
    let token = http
        .get(registry.url("token?service=test"))
        .basic_auth("robot", Some("p4ss-word"))
        .send()
        .unwrap();
    assert_eq!(token.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(registry.calls(Route::Token), 1);
}

#[test]
fn hostile_registry_answers_416_to_a_blob_patch() {
    let registry = HostileRegistry::start(&[Behaviour::RangeNotSatisfiable]);
    let http = client();
    let location = start_upload(&registry);
    let patch = http
        .patch(registry.url(&location))
        .body(vec![b'x'; 4096])
        .send()
        .unwrap();
    assert_eq!(patch.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    // A monolithic PUT still goes through.
    let put = finish_upload(&registry, &location, b"x", &sha256_digest(b"x"));
    assert_eq!(put.status(), StatusCode::CREATED);
}

#[test]
fn hostile_registry_lists_ten_thousand_tags_whole_or_by_page() {
    let registry = HostileRegistry::start(&[Behaviour::ManyTags(10_000)]);
    let http = client();
    let url = registry.url(&format!("v2/{REPO}/tags/list"));
    let whole = body_json(http.get(&url).send().unwrap());
    let tags = whole["tags"].as_array().unwrap();
    assert_eq!(tags.len(), 10_000);
    assert!(tags.contains(&json!("0.99.99")));
    assert!(tags.contains(&json!("0.0.0")));

    let mut seen = 0;
    let mut next = Some(format!("{url}?n=1000"));
    while let Some(page) = next.take() {
        let response = http.get(&page).send().unwrap();
        let link = header(&response, "link");
        seen += body_json(response)["tags"].as_array().unwrap().len();
        if let Some(path) = link.strip_prefix('<').and_then(|l| l.split_once('>')) {
            next = Some(registry.url(path.0));
        }
        assert!(seen <= 10_000);
    }
    assert_eq!(seen, 10_000);
}
