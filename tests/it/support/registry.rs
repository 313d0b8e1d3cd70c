//! A real OCI registry for the tests: Debian's `docker-registry` (distribution 2.8),
//! one process per [`Registry`], each with its own config file, filesystem storage and
//! log in a temporary folder, on a free port of 127.0.0.1. The package's system
//! service (port 5000, `/etc/docker/registry/config.yml`) is never used.
//!
//! Beside the process, raw read helpers for assertions ([`Registry::tags`],
//! [`Registry::manifest`], [`Registry::blob`]) and [`Registry::push_raw`], which
//! pushes an image manifest by hand for a test's starting state. They speak the
//! distribution API with reqwest (Basic auth on a registry made with
//! [`Registry::with_htpasswd`]); none of otactl's code is involved.
//!
//! Distribution 2.8 answers `404 MANIFEST_UNKNOWN` ("OCI manifest found, but accept
//! header does not support OCI manifests") to a GET or HEAD of an OCI manifest whose
//! `Accept` lacks `application/vnd.oci.image.manifest.v1+json`, ignores `n` and `last`
//! on a tag list (it lists every tag, unsorted, without a `Link`), answers
//! `"tags": null` for a repository whose tags were all deleted, and requires the
//! config blob of a manifest to be uploaded even when its descriptor carries `data`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::keys::hex;
use super::require_tool;

/// The image manifest media type of OCI.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// The image index media type of OCI.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker's image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker's manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The media type of the empty config `{}`.
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// The media type [`Registry::push_raw`] gives any other config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// How long a registry may take to answer `GET /v2/` after its start.
const START_LIMIT: Duration = Duration::from_secs(20);

/// How many ports to try when the one picked was taken in the meantime.
const PORT_TRIES: usize = 5;

/// A running `docker-registry serve CONFIG`; killed (and waited for) when dropped.
pub struct Registry {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    credentials: Option<(String, String)>,
    client: Client,
}

impl Registry {
    /// A registry that asks for no credentials.
    pub fn start() -> Registry {
        Registry::start_with(None)
    }

    /// A registry that answers 401 (`WWW-Authenticate: Basic realm="otactl-test"`)
    /// without `user`'s Basic credentials: an htpasswd file made by `htpasswd -Bbn`.
    pub fn with_htpasswd(user: &str, password: &str) -> Registry {
        Registry::start_with(Some((user.to_owned(), password.to_owned())))
    }

    fn start_with(credentials: Option<(String, String)>) -> Registry {
        require_tool("docker-registry");
        let dir = tempfile::Builder::new()
            .prefix("otactl-registry-")
            .tempdir()
            .unwrap();
        if let Some((user, password)) = &credentials {
            require_tool("htpasswd");
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "htpasswd -Bbn failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::fs::write(dir.path().join("htpasswd"), out.stdout).unwrap();
        }
        let mut registry = Registry {
            port: 0,
            dir,
            child: None,
            credentials,
            client: Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        };
        for _ in 0..PORT_TRIES {
            registry.port = free_port();
            registry.write_config();
            if registry.spawn_and_wait() {
                return registry;
            }
        }
        panic!(
            "docker-registry found no free port in {PORT_TRIES} tries; its log:\n{}",
            registry.log()
        );
    }

    /// `127.0.0.1:PORT`, the registry part of a reference.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT/v2/PATH`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/v2/{}", self.host(), path.trim_start_matches('/'))
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The registry's temporary folder (config, log, htpasswd, storage `data/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The storage's root folder.
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// What the registry wrote on stdout and stderr so far (its access log and
    /// errors), across restarts.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Kills the process now (SIGKILL) and waits for it: an upload in flight is cut.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the registry again after [`Registry::kill`], on the same port with the
    /// same storage.
    pub fn restart(&mut self) {
        self.kill();
        assert!(
            self.spawn_and_wait(),
            "docker-registry could not listen on {} again; its log:\n{}",
            self.host(),
            self.log()
        );
    }

    fn write_config(&self) {
        let mut secret = [0u8; 16];
        std::io::Read::read_exact(
            &mut std::fs::File::open("/dev/urandom").unwrap(),
            &mut secret,
        )
        .unwrap();
        let dir = self.dir.path().display();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {dir}/data\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{}\n  secret: {}\n",
            self.port,
            hex(&secret)
        );
        if self.credentials.is_some() {
            config +=
                &format!("auth:\n  htpasswd:\n    realm: otactl-test\n    path: {dir}/htpasswd\n");
        }
        std::fs::write(self.dir.path().join("config.yml"), config).unwrap();
    }

    /// Starts the process and waits until it answers `GET /v2/`; false when its port
    /// was taken (the log says `address already in use`).
    fn spawn_and_wait(&mut self) -> bool {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("registry.log"))
            .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(self.dir.path().join("config.yml"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let started = Instant::now();
        let probe = Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(1))
            .build()
            .unwrap();
        let ready = if self.credentials.is_some() {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        };
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                let log = self.log();
                assert!(
                    log.contains("address already in use"),
                    "docker-registry stopped ({status}) before answering; its log:\n{log}"
                );
                return false;
            }
            if probe
                .get(self.url(""))
                .send()
                .is_ok_and(|r| r.status() == ready)
            {
                return true;
            }
            if started.elapsed() > START_LIMIT {
                self.kill();
                panic!(
                    "docker-registry did not answer GET /v2/ on {} within {START_LIMIT:?}; its log:\n{}",
                    self.host(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A request with the registry's credentials, if it has any.
    fn request(&self, method: reqwest::Method, url: &str) -> RequestBuilder {
        let builder = self.client.request(method, url);
        match &self.credentials {
            Some((user, password)) => builder.basic_auth(user, Some(password)),
            None => builder,
        }
    }

    /// `GET /v2/PATH` (with `Accept` if given): the status, the headers and the body.
    fn get(&self, path: &str, accept: Option<&str>) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut request = self.request(reqwest::Method::GET, &self.url(path));
        if let Some(accept) = accept {
            request = request.header("Accept", accept);
        }
        let response = request.send().unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        (status, headers, response.bytes().unwrap().to_vec())
    }

    /// The tags of `repo` as the registry lists them (unsorted); none for a
    /// repository it does not know.
    pub fn tags(&self, repo: &str) -> Vec<String> {
        let (status, _, body) = self.get(&format!("{repo}/tags/list"), None);
        let body: Value = serde_json::from_slice(&body).unwrap();
        if status == StatusCode::NOT_FOUND && body.to_string().contains("NAME_UNKNOWN") {
            return Vec::new();
        }
        assert_eq!(status, StatusCode::OK, "tags of {repo}: {body}");
        serde_json::from_value::<Option<Vec<String>>>(body["tags"].clone())
            .unwrap()
            .unwrap_or_default()
    }

    /// `GET /v2/REPO/manifests/REFERENCE` accepting OCI and Docker manifests and
    /// indexes: the `Content-Type`, the `Docker-Content-Digest` and the bytes.
    pub fn manifest(&self, repo: &str, reference: &str) -> (String, String, Vec<u8>) {
        let accept = [
            OCI_MANIFEST,
            OCI_INDEX,
            DOCKER_MANIFEST,
            DOCKER_MANIFEST_LIST,
        ]
        .join(", ");
        let (status, headers, bytes) =
            self.get(&format!("{repo}/manifests/{reference}"), Some(&accept));
        assert_eq!(
            status,
            StatusCode::OK,
            "manifest {repo}:{reference}: {}",
            String::from_utf8_lossy(&bytes)
        );
        let header = |name: &str| headers[name].to_str().unwrap().to_owned();
        (
            header("content-type"),
            header("docker-content-digest"),
            bytes,
        )
    }

    /// The manifest `REPO:REFERENCE` as JSON.
    pub fn manifest_json(&self, repo: &str, reference: &str) -> Value {
        serde_json::from_slice(&self.manifest(repo, reference).2).unwrap()
    }

    /// The bytes of a blob.
    pub fn blob(&self, repo: &str, digest: &str) -> Vec<u8> {
        let (status, _, bytes) = self.get(&format!("{repo}/blobs/{digest}"), None);
        assert_eq!(
            status,
            StatusCode::OK,
            "blob {repo}@{digest}: {}",
            String::from_utf8_lossy(&bytes)
        );
        bytes
    }

    /// Whether `HEAD /v2/REPO/blobs/DIGEST` answers 200 (false for 404).
    pub fn blob_exists(&self, repo: &str, digest: &str) -> bool {
        let url = self.url(&format!("{repo}/blobs/{digest}"));
        let status = self
            .request(reqwest::Method::HEAD, &url)
            .send()
            .unwrap()
            .status();
        assert!(
            status == StatusCode::OK || status == StatusCode::NOT_FOUND,
            "HEAD blob {repo}@{digest}: {status}"
        );
        status == StatusCode::OK
    }

    /// Uploads a blob (monolithic: `POST` an upload, then `PUT` it with `digest=`);
    /// returns its descriptor.
    pub fn push_blob(&self, repo: &str, media_type: &str, bytes: &[u8]) -> Value {
        let digest = sha256_digest(bytes);
        let response = self
            .request(
                reqwest::Method::POST,
                &self.url(&format!("{repo}/blobs/uploads/")),
            )
            .send()
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED, "POST upload");
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let mut url = reqwest::Url::parse(&self.url(""))
            .unwrap()
            .join(&location)
            .unwrap();
        url.query_pairs_mut().append_pair("digest", &digest);
        let response = self
            .request(reqwest::Method::PUT, url.as_str())
            .header("Content-Type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "PUT blob {digest}: {}",
            response.text().unwrap_or_default()
        );
        json!({"mediaType": media_type, "digest": digest, "size": bytes.len()})
    }

    /// Pushes an OCI image manifest by hand and tags it `tag`: the config (media type
    /// [`OCI_EMPTY`] for `{}`, else [`OCI_CONFIG`]), the layers with their media types
    /// and the manifest's annotations (none: no `annotations` key). Returns the
    /// manifest's digest.
    pub fn push_raw(
        &self,
        repo: &str,
        tag: &str,
        config: &[u8],
        layers: &[(&str, &[u8])],
        annotations: &[(&str, &str)],
    ) -> String {
        let config_type = if config == b"{}" {
            OCI_EMPTY
        } else {
            OCI_CONFIG
        };
        let mut manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": self.push_blob(repo, config_type, config),
            "layers": layers
                .iter()
                .map(|(media_type, bytes)| self.push_blob(repo, media_type, bytes))
                .collect::<Vec<_>>(),
        });
        if !annotations.is_empty() {
            manifest["annotations"] = annotations
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
                .collect::<serde_json::Map<_, _>>()
                .into();
        }
        self.push_manifest(
            repo,
            tag,
            OCI_MANIFEST,
            &serde_json::to_vec(&manifest).unwrap(),
        )
    }

    /// `PUT /v2/REPO/manifests/REFERENCE` with these bytes; returns the digest the
    /// registry answered (checked against the bytes').
    pub fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> String {
        let response = self
            .request(
                reqwest::Method::PUT,
                &self.url(&format!("{repo}/manifests/{reference}")),
            )
            .header("Content-Type", media_type)
            .body(bytes.to_vec())
            .send()
            .unwrap();
        let status = response.status();
        let digest = response
            .headers()
            .get("docker-content-digest")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(
            status,
            StatusCode::CREATED,
            "PUT manifest {repo}:{reference}: {}",
            response.text().unwrap_or_default()
        );
        assert_eq!(digest.as_deref(), Some(&*sha256_digest(bytes)));
        digest.unwrap()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

/// A port of 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
