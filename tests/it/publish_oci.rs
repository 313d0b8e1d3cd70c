//! `otactl publish oci` against Debian's real `docker-registry` (support/registry.rs),
//! one per test: what is pushed is read back through the distribution API, skopeo
//! and, for cosign's signature, Python's `cryptography` as OtaFlux-style servers check
//! it; re-pushes that converge, refused tags and keys, logins from the environment,
//! `config.json` and a credential helper, a registry killed mid-upload, and
//! `otactl verify` of what was pushed. otactl's requests are read from the registry's
//! access log (by their user agent), in the order the registry finished them.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::support::assert::{assert_exit, assert_exit_case, assert_not_printed};
use crate::support::fixture::{ID, MIN};
use crate::support::keys::{hex, key_path};
use crate::support::output::assert_contains;
use crate::support::proc::{Running, wait_until};
use crate::support::registry::{OCI_EMPTY, OCI_MANIFEST, Registry, sha256_digest};
use crate::support::{GIT_DATE, TestContext, stderr, stdout};

const REPO: &str = "acme/fw";
const TAG: &str = "1.2.3";
/// The file pushed, in the working folder, and its media type.
const NAME: &str = "firmware.bin";
const BYTES: &[u8] = b"\xe9\x03\x02\x20 an ESP32 firmware image\n";
const MEDIA: &str = "application/vnd.espressif.esp32.firmware.v1+binary";

/// Where a login comes from.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// `OTACTL_REGISTRY_USERNAME` / `OTACTL_REGISTRY_PASSWORD`.
    Env,
    /// `auths."HOST".auth` in `$DOCKER_CONFIG/config.json`.
    ConfigJson,
    /// `credHelpers."HOST"` in `config.json`: `docker-credential-otactltest`.
    Helper,
}

/// The time of [`ID`] (`20260115-1614-…`): the manifest's `created`.
const CREATED: &str = "2026-01-15T16:14:00Z";
/// `sha256` of `{}`, the empty config.
const EMPTY: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
/// No run may take longer (a retry loop that never ends fails here).
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// `publish oci --format json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pushed {
    target: String,
    url: String,
    digest: String,
    sha256: String,
    size: u64,
    already_there: bool,
    signed: bool,
}

/// The login [`World::locked`]'s registry asks for. The password is made of two
/// literals, so that the secret scan of `otactl tar` does not find it in this file.
const USER: &str = "fw-ci";
const PASSWORD: &str = concat!("Registry", "Passw0rdThatMustNeverBeShown");
/// The credential helper's name: `docker-credential-otactltest`.
const HELPER: &str = "otactltest";

/// One test's world: a working folder holding [`NAME`] and an otactl.toml that trusts
/// `keys/ota_pubkey.pem` (made by `otactl key generate`, its private key outside the
/// working folder), and a registry of its own.
struct World {
    ctx: TestContext,
    registry: Registry,
    /// The private key of `keys/ota_pubkey.pem`.
    key: PathBuf,
}

impl World {
    fn new() -> World {
        World::with(Registry::start())
    }

    /// A registry that asks for [`USER`]'s Basic login.
    fn locked() -> World {
        World::with(Registry::with_htpasswd(USER, PASSWORD))
    }

    fn with(registry: Registry) -> World {
        let ctx = TestContext::new();
        ctx.write(NAME, BYTES);
        let mut w = World {
            ctx,
            registry,
            key: PathBuf::new(),
        };
        w.key = w.generate("channel", "keys/ota_pubkey.pem");
        w.configure("");
        w
    }

    /// `otactl key generate --private [TEMP]/keys/NAME.pem --public PUBLIC`; the
    /// private key's path.
    fn generate(&self, name: &str, public: &str) -> PathBuf {
        let private = key_path(&self.ctx, &format!("{name}.pem"));
        self.ok(&[
            "key",
            "generate",
            "--private",
            s(&private),
            "--public",
            public,
        ]);
        private
    }

    /// otactl.toml: `extra` (top-level keys, an `[oci]` table), then `[signing]`.
    fn configure(&self, extra: &str) {
        let signing = "[signing]\npublic_keys = [\"keys/ota_pubkey.pem\"]\n";
        self.ctx.write("otactl.toml", format!("{extra}\n{signing}"));
    }

    /// `HOST/acme/fw:TAG`.
    fn reference(&self, tag: &str) -> String {
        format!("{}/{REPO}:{tag}", self.registry.host())
    }

    /// `otactl ARGS…` with `env` added to the hermetic one; a command that failed left
    /// the working folder and the home folder as they were.
    fn run(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let before = self.files();
        let mut cmd = self.ctx.otactl();
        cmd.envs(env.iter().copied()).args(args);
        let (out, _) = Running::spawn(&mut cmd).wait_for(RUN_LIMIT);
        if !out.status.success() {
            let changed = self.files() != before;
            assert!(
                !changed,
                "a failed command changed files:\n{}",
                stderr(&out)
            );
        }
        out
    }

    /// [`World::run`], which must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(&[], args);
        assert_exit(&out, 0);
        stdout(&out)
    }

    /// The SHA-256 of every file of the working folder and the home folder.
    fn files(&self) -> Vec<(String, PathBuf)> {
        let mut paths = walk(&self.ctx.cwd);
        paths.extend(walk(&self.ctx.root().join("home")));
        let hash = |p: &Path| hex(&Sha256::digest(std::fs::read(p).unwrap_or_default()));
        paths.into_iter().map(|p| (hash(&p), p)).collect()
    }

    /// `publish oci FILE --ref HOST/acme/fw:TAG EXTRA…` with `env`.
    fn publish_file(&self, env: &[(&str, &str)], file: &str, tag: &str, extra: &[&str]) -> Output {
        let reference = self.reference(tag);
        let args = [&["publish", "oci", file, "--ref", &reference][..], extra].concat();
        self.run(env, &args)
    }

    /// `publish oci firmware.bin --ref HOST/acme/fw:TAG --build-id ID EXTRA…`.
    fn publish(&self, tag: &str, extra: &[&str]) -> Output {
        self.publish_file(&[], NAME, tag, &[&["--build-id", ID], extra].concat())
    }

    /// [`World::publish`] with `--format json`, which must succeed.
    fn push(&self, tag: &str, extra: &[&str]) -> Pushed {
        pushed(&self.publish(tag, &[extra, &["--format", "json"]].concat()))
    }

    /// `--sign --key` the trusted key.
    fn sign(&self) -> [&str; 3] {
        ["--sign", "--key", s(&self.key)]
    }

    /// The manifest at `reference` as JSON.
    fn manifest(&self, reference: &str) -> Value {
        self.registry.manifest_json(REPO, reference)
    }

    /// The digest the registry gives the manifest at `reference`.
    fn digest(&self, reference: &str) -> String {
        self.registry.manifest(REPO, reference).1
    }

    /// The repository's tags, sorted.
    fn tags(&self) -> Vec<String> {
        let mut tags = self.registry.tags(REPO);
        tags.sort();
        tags
    }

    /// A refused command: exit `code`, stderr holds each of `says`, and the registry
    /// was asked nothing (and holds no tag).
    fn assert_refused(&self, out: &Output, code: i32, says: &[&str]) {
        assert_exit(out, code);
        for needle in says {
            assert_contains(&stderr(out), needle);
        }
        assert!(self.tags().is_empty());
        assert_eq!(
            self.requests(),
            Vec::<String>::new(),
            "the registry was asked"
        );
    }

    /// otactl's requests in the registry's access log, in order, as `METHOD PATH`
    /// without the query. A request of the test's own is logged first: the registry
    /// logs a request after answering it, so the log is read once that line is there.
    fn requests(&self) -> Vec<String> {
        let probe = "/v2/otactl-test-probe/tags/list";
        let logged = self.registry.log().matches(probe).count();
        assert!(self.registry.tags("otactl-test-probe").is_empty());
        let settled = || self.registry.log().matches(probe).count() > logged;
        wait_until(Duration::from_secs(20), "the probe's log line", settled);
        let log = self.registry.log();
        let line = |l: &str| Some(l.split_once("] \"")?.1.split(" HTTP/").next()?.to_owned());
        let otactl = log.lines().filter(|l| l.contains("\"otactl/"));
        let requests = otactl.filter_map(line);
        requests
            .map(|r| r.split('?').next().unwrap().to_owned())
            .collect()
    }

    /// Each of otactl's requests from the `from`-th on that changes something (not a
    /// `GET` or `HEAD`).
    fn writes_from(&self, from: usize) -> Vec<String> {
        let reads = |r: &String| r.starts_with("GET ") || r.starts_with("HEAD ");
        self.requests()
            .split_off(from)
            .into_iter()
            .filter(|r| !reads(r))
            .collect()
    }

    /// The environment and files of a login from `source` with `password`.
    fn login(&self, source: Source, password: &str) -> Vec<(String, String)> {
        let host = self.registry.host();
        let config = match source {
            Source::Env => {
                let user = ("OTACTL_REGISTRY_USERNAME".into(), USER.into());
                return vec![user, ("OTACTL_REGISTRY_PASSWORD".into(), password.into())];
            }
            Source::ConfigJson => {
                let auth = STANDARD.encode(format!("{USER}:{password}"));
                json!({"auths": {&host: {"auth": auth}}})
            }
            Source::Helper => {
                let answer = json!({"Username": USER, "Secret": password});
                self.helper(&format!("cat > \"$0.stdin\"\nprintf '%s' '{answer}'\n"));
                json!({"credHelpers": {&host: HELPER}})
            }
        };
        self.ctx
            .write("../home/.docker/config.json", config.to_string());
        vec![("PATH".into(), self.helper_path())]
    }

    /// `[TEMP]/bin/docker-credential-otactltest`, the shell program `body`.
    fn helper(&self, body: &str) {
        let path = self.ctx.root().join("bin/docker-credential-otactltest");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            format!("#!/bin/sh\n[ \"$1\" = get ] || exit 9\n{body}"),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// `PATH` with `[TEMP]/bin` first.
    fn helper_path(&self) -> String {
        let path = std::env::var("PATH").unwrap_or_default();
        format!("{}:{path}", self.ctx.root().join("bin").display())
    }

    /// [`World::publish_file`] of [`NAME`] with a login from `source`.
    fn publish_as(&self, source: Source, password: &str, extra: &[&str]) -> Output {
        let env = self.login(source, password);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (&**k, &**v)).collect();
        let args = [&["--build-id", ID], extra].concat();
        self.publish_file(&env, NAME, TAG, &args)
    }

    /// The signed `canary` manifest of [`NAME`] for [`ID`], kind `oci`, at the tag's
    /// `oci://` URL, written by `manifest new --from-file` and signed by the trusted
    /// key.
    fn release(&self, tag: &str) {
        let url = format!("oci://{}", self.reference(tag));
        let new = ["manifest", "new", "--channel", "canary", "--build-id", ID];
        self.ok(&[
            &new[..],
            &["--kind", "oci", "--url", &url, "--from-file", NAME],
        ]
        .concat());
        let file = "channels/canary/manifest.json";
        self.ok(&["manifest", "sign", file, "--key", s(&self.key)]);
    }

    /// `verify --channel canary --format json EXTRA…` with otactl.toml's `[oci]`
    /// table `oci`, which must exit with `code`; its items.
    fn verify(&self, oci: &str, extra: &[&str], code: i32) -> Items {
        self.configure(&format!("[oci]\n{oci}\n"));
        let args = ["verify", "--channel", "canary", "--format", "json"];
        let out = self.run(&[], &[&args[..], extra].concat());
        assert_exit_case(&out, code, &format!("[oci] {oci}, {extra:?}"));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let item = |i: &Value| (text(&i["status"]), text(&i["reason"]));
        Items(
            report["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(item)
                .collect(),
        )
    }

    /// `repository = "HOST/PATH"`.
    fn repository(&self, path: &str) -> String {
        format!("repository = \"{}/{path}\"", self.registry.host())
    }
}

/// `path` as text.
fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A JSON string's text.
fn text(value: &Value) -> String {
    value.as_str().unwrap().to_owned()
}

/// The files under `dir` (none when it does not exist, or vanish while it is read).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
    let mut files = Vec::new();
    for entry in entries {
        match entry.file_type() {
            Ok(t) if t.is_dir() => files.extend(walk(&entry.path())),
            Ok(_) => files.push(entry.path()),
            Err(_) => {}
        }
    }
    files.sort();
    files
}

/// `publish oci --format json`'s answer, which must have succeeded.
fn pushed(out: &Output) -> Pushed {
    assert_exit(out, 0);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: stdout is not the JSON:\n{}", stdout(out)))
}

/// The items of `verify --format json`: each one's status and reason, by number
/// from 1.
struct Items(Vec<(String, String)>);

impl Items {
    /// Asserts item `number`'s status, and that its reason holds each of `says`.
    fn assert(&self, number: usize, status: &str, says: &[&str]) {
        let (found, reason) = &self.0[number - 1];
        assert_eq!(found, status, "item {number}: {reason}");
        for needle in says {
            assert_contains(reason, needle);
        }
    }
}

/// The cosign tag of a manifest digest: `sha256-<hex>.sig`.
fn sig_tag(digest: &str) -> String {
    format!("{}.sig", digest.replacen(':', "-", 1))
}

/// Whether Python's `cryptography` (the venv's `python3`, first on PATH under
/// `scripts/test`) verifies the standard-base64 `signature` over `payload` under the
/// public key PEM file `public`, as OtaFlux-style servers check it.
fn python_verifies(ctx: &TestContext, public: &Path, payload: &[u8], signature: &str) -> bool {
    let script = r#"
import base64, sys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import load_pem_public_key
key = load_pem_public_key(open(sys.argv[1], "rb").read())
signature = base64.b64decode(sys.argv[3], validate=True)
try:
    key.verify(signature, open(sys.argv[2], "rb").read())
    print("valid")
except InvalidSignature:
    print("invalid")
"#;
    let file = ctx.root().join("payload");
    std::fs::write(&file, payload).unwrap();
    let out = ctx.run_tool("python3", &["-c", script, s(public), s(&file), signature]);
    match stdout(&out).trim() {
        "valid" => true,
        "invalid" => false,
        other => panic!("python3 said {other:?}"),
    }
}

#[test]
fn a_push_reads_back_through_the_registry_api_as_an_oras_artifact() {
    let w = World::new();
    let out = w.publish(
        TAG,
        &[
            "--media-type",
            MEDIA,
            "--annotation",
            "com.example.board=esp32",
        ],
    );
    assert_exit(&out, 0);
    let (content_type, digest, bytes) = w.registry.manifest(REPO, TAG);
    let url = format!("oci://{}", w.reference(TAG));
    assert_eq!(stdout(&out), format!("{digest}\n{url}\n"));
    assert_eq!(content_type, OCI_MANIFEST);
    assert_eq!(
        digest,
        sha256_digest(&bytes),
        "the digest is the served bytes'"
    );
    let file_digest = sha256_digest(BYTES);
    let manifest: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        manifest,
        json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": MEDIA,
            "config": {"mediaType": OCI_EMPTY, "digest": EMPTY, "size": 2, "data": "e30="},
            "layers": [{
                "mediaType": MEDIA,
                "digest": file_digest,
                "size": BYTES.len(),
                "annotations": {"org.opencontainers.image.title": NAME},
            }],
            "annotations": {
                "com.example.board": "esp32",
                "dev.otactl.build-id": ID,
                "org.opencontainers.image.created": CREATED,
                "org.opencontainers.image.version": TAG,
            },
        })
    );
    assert_eq!(w.registry.blob(REPO, &file_digest), BYTES);
    assert_eq!(w.registry.blob(REPO, EMPTY), b"{}");
    assert_eq!(w.tags(), [TAG]);

    // --format json, to another tag.
    let json = w.push("1.2.4", &["--media-type", MEDIA]);
    assert_eq!(json.target, "oci");
    assert_eq!(json.url, format!("oci://{}", w.reference("1.2.4")));
    assert_eq!(json.digest, w.digest("1.2.4"));
    assert_eq!(
        (json.sha256, json.size),
        (hex(&Sha256::digest(BYTES)), BYTES.len() as u64)
    );
    assert_eq!((json.already_there, json.signed), (false, false));

    // skopeo reads it as any OCI client would.
    let policy = w.ctx.write(
        "policy.json",
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    );
    let image = format!("docker://{}", w.reference(TAG));
    let layout = w.ctx.root().join("layout");
    let skopeo = |args: &[&str]| {
        w.ctx
            .run_tool("skopeo", &[&["--policy", s(&policy)][..], args].concat())
    };
    let raw = skopeo(&["inspect", "--tls-verify=false", "--raw", &image]);
    assert_eq!(raw.stdout, bytes, "skopeo inspect --raw");
    let to = format!("oci:{}:{TAG}", layout.display());
    skopeo(&["copy", "--src-tls-verify=false", &image, &to]);
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], json!(digest), "{index}");
    let blob = |d: &str| std::fs::read(layout.join("blobs/sha256").join(&d[7..])).unwrap();
    assert_eq!(blob(&digest), bytes, "skopeo copied the manifest as is");
    assert_eq!(blob(&file_digest), BYTES);
}

#[test]
fn artifact_type_and_layer_media_type_fall_back_from_the_flags_to_oci_media_type_to_otactls() {
    let w = World::new();
    let (otactls, set) = ("application/vnd.otactl.artifact.v1", "application/x.set");
    let both = ["--media-type", MEDIA, "--artifact-type", "application/x.at"];
    let cases: [(&str, &[&str], [&str; 2]); 4] = [
        ("", &[], [otactls, otactls]),
        (set, &[], [set, set]),
        (set, &both[..2], [MEDIA, MEDIA]),
        (set, &both, ["application/x.at", MEDIA]),
    ];
    for (i, (setting, flags, want)) in cases.into_iter().enumerate() {
        let table = format!("[oci]\nmedia_type = \"{setting}\"\n");
        w.configure(if setting.is_empty() { "" } else { &table });
        let tag = format!("1.0.{i}");
        w.push(&tag, flags);
        let manifest = w.manifest(&tag);
        let found = [
            &manifest["artifactType"],
            &manifest["layers"][0]["mediaType"],
        ];
        assert_eq!(found.map(text), want, "{setting:?} {flags:?}");
    }
}

#[test]
fn a_re_push_of_the_same_file_and_build_is_already_there_and_uploads_nothing() {
    let w = World::new();
    let first = w.push(TAG, &[]);
    assert!(!first.already_there);
    let before = w.requests().len();
    let again = w.push(TAG, &[]);
    assert!(again.already_there);
    assert_eq!((again.digest, again.sha256), (first.digest, first.sha256));
    assert_eq!(
        w.writes_from(before),
        Vec::<String>::new(),
        "a re-push wrote to the registry"
    );
    assert_eq!(w.tags(), [TAG]);
}

/// SPEC 8: blobs are pushed after `blob_exists`. The same file under a new tag (a
/// version promoted, a build pushed again) had its layer uploaded again.
#[test]
fn the_same_file_under_a_new_tag_uploads_no_blob_again() {
    let w = World::new();
    let first = w.push(TAG, &[]);
    let before = w.requests().len();
    let second = w.push("1.2.4", &[]);
    assert!(!second.already_there);
    assert_ne!(
        second.digest, first.digest,
        "the version annotation differs"
    );
    let manifests = |r: &str| format!("PUT /v2/{REPO}/manifests/{r}");
    let want = [manifests(&second.digest), manifests("1.2.4")];
    assert_eq!(
        w.writes_from(before),
        want,
        "only the new manifest and its tag"
    );
    assert_eq!(
        w.manifest("1.2.4")["layers"][0]["digest"],
        json!(sha256_digest(BYTES))
    );
}

#[test]
fn other_content_under_an_existing_tag_is_exit_4_and_the_tag_is_left_as_it_was() {
    let w = World::new();
    let first = w.push(TAG, &[]);
    w.ctx
        .write("other/firmware.bin", b"another build's image\n");
    let cases: [(&str, &str); 3] = [
        ("other/firmware.bin", ID),
        (NAME, MIN),
        (NAME, "20260115-1614-1234567"),
    ];
    for (file, build_id) in cases {
        let before = w.requests().len();
        let out = w.publish_file(&[], file, TAG, &["--build-id", build_id]);
        assert_exit_case(&out, 4, &format!("{file} {build_id}"));
        assert_contains(&stderr(&out), &first.digest);
        assert_contains(&stderr(&out), "never moved");
        assert_eq!(w.writes_from(before), Vec::<String>::new());
        assert_eq!(w.digest(TAG), first.digest);
    }
}

#[test]
fn without_build_id_the_build_id_is_sources_at_head_with_its_commit_time() {
    let w = World::new();
    w.ctx
        .git_repo(&w.ctx.path("src"), "app", &[("README.md", "# app\n")]);
    w.configure("source = \"src\"\n");
    let id = w.ok(&["build-id", "--source", "src"]).trim().to_owned();
    assert_ne!(id, ID);
    let out = w.publish_file(&[], NAME, TAG, &[]);
    assert_exit(&out, 0);
    let annotations = &w.manifest(TAG)["annotations"];
    assert_eq!(annotations["dev.otactl.build-id"], json!(id));
    assert_eq!(
        annotations["org.opencontainers.image.created"],
        json!(GIT_DATE)
    );
    // The same commit later gives the same manifest.
    assert!(pushed(&w.publish_file(&[], NAME, TAG, &["--format", "json"])).already_there);
}

#[test]
fn without_build_id_or_a_source_repository_is_exit_2_naming_build_id() {
    let w = World::new();
    let out = w.publish_file(&[], NAME, TAG, &[]);
    w.assert_refused(&out, 2, &["`--build-id`"]);
}

#[test]
fn tags_devices_would_misread_are_refused_with_a_hint_and_nothing_is_pushed() {
    let w = World::new();
    let cases = [
        ("v1.0.0", "`1.0.0` without the `v`"),
        ("1.0", "`--allow-non-semver`"),
        ("01.0.0", "`--allow-non-semver`"),
        ("1.1.0-rc.1", "`--allow-prerelease`"),
    ];
    for (tag, hint) in cases {
        let out = w.publish(tag, &[]);
        w.assert_refused(&out, 2, &[&format!("`{tag}`"), hint, "`--ref`"]);
    }
    assert_exit(&w.publish("v1.0.0", &["--allow-non-semver"]), 0);
    assert_exit(&w.publish("1.1.0-rc.1", &["--allow-prerelease"]), 0);
    assert_eq!(w.tags(), ["1.1.0-rc.1", "v1.0.0"]);
}

#[test]
fn a_tag_below_the_highest_warns_that_devices_will_not_get_it_and_is_pushed() {
    let w = World::new();
    w.registry
        .push_raw(REPO, "2.0.0", b"{}", &[(MEDIA, &b"newer"[..])], &[]);
    let out = w.publish("1.0.0", &[]);
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(err.starts_with("warning: "), "{err}");
    assert_contains(&err, "`2.0.0`");
    assert_contains(&err, "devices will not get this one");
    assert_eq!(w.tags(), ["1.0.0", "2.0.0"]);
    // No warning for a tag above.
    assert!(!stderr(&w.publish("2.0.1", &[])).contains("warning"));
}

#[test]
fn an_annotation_of_otactls_own_keys_or_without_a_value_is_exit_2() {
    let w = World::new();
    let cases = [
        "dev.otactl.build-id=x",
        "org.opencontainers.image.version=9.9.9",
        "org.opencontainers.image.created=2020-01-01T00:00:00Z",
        "novalue",
    ];
    for annotation in cases {
        let out = w.publish(TAG, &["--annotation", annotation]);
        let key = format!("`{}", annotation.split('=').next().unwrap());
        w.assert_refused(&out, 2, &[&key, "`--annotation`"]);
    }
}

#[test]
fn a_signed_push_passes_otafluxs_checks_one_by_one() {
    let w = World::new();
    let pushed = w.push(TAG, &w.sign());
    assert!(pushed.signed);
    let digest = pushed.digest;
    let tag = sig_tag(&digest);
    assert_eq!(tag, format!("sha256-{}.sig", &digest[7..]));
    assert_eq!(w.tags(), [TAG.to_owned(), tag.clone()]);

    let (content_type, _, bytes) = w.registry.manifest(REPO, &tag);
    assert_eq!(content_type, OCI_MANIFEST);
    let signature: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(signature["mediaType"], json!(OCI_MANIFEST));
    assert_eq!(signature["config"]["digest"], json!(EMPTY));
    let layer = &signature["layers"][0];
    assert_eq!(
        layer["mediaType"],
        json!("application/vnd.dev.cosign.simplesigning.v1+json")
    );
    let encoded = text(&layer["annotations"]["dev.cosignproject.cosign/signature"]);

    let payload = w.registry.blob(REPO, layer["digest"].as_str().unwrap());
    assert!(!payload.is_empty());
    assert_eq!(sha256_digest(&payload), text(&layer["digest"]));
    let claims: Value = serde_json::from_slice(&payload).unwrap();
    let critical = &claims["critical"];
    assert_eq!(critical["image"]["docker-manifest-digest"], json!(digest));
    let reference = format!("{}/{REPO}", w.registry.host());
    assert_eq!(critical["identity"]["docker-reference"], json!(reference));
    assert_eq!(critical["type"], json!("cosign container image signature"));

    let public = w.ctx.path("keys/ota_pubkey.pem");
    assert_eq!(STANDARD.decode(&encoded).unwrap().len(), 64, "{encoded}");
    let mut tampered = payload.clone();
    let last = tampered.len() - 2;
    tampered[last] ^= 1;
    w.generate("other", "../keys/other.pub.pem");
    let other = w.ctx.root().join("keys/other.pub.pem");
    let cases = [
        (&public, &payload),
        (&public, &tampered),
        (&other, &payload),
    ];
    let verdicts = cases.map(|(key, bytes)| python_verifies(&w.ctx, key, bytes, &encoded));
    // As pushed, tampered, under another key.
    assert_eq!(verdicts, [true, false, false]);
}

#[test]
fn a_re_sign_is_idempotent_and_signs_a_tag_pushed_unsigned() {
    let w = World::new();
    let unsigned = w.push(TAG, &[]);
    assert!(!unsigned.signed);
    assert_eq!(w.tags(), [TAG]);
    // The key from OTACTL_SIGNING_KEY_FILE this time.
    let env = [("OTACTL_SIGNING_KEY_FILE", s(&w.key))];
    let args = ["--build-id", ID, "--sign", "--format", "json"];
    let signed = pushed(&w.publish_file(&env, NAME, TAG, &args));
    assert!(signed.already_there && signed.signed);
    assert_eq!(signed.digest, unsigned.digest);
    let tag = sig_tag(&signed.digest);
    let first = w.digest(&tag);
    let again = w.push(TAG, &w.sign());
    assert!(again.already_there && again.signed);
    assert_eq!(w.digest(&tag), first, "the signature's manifest changed");
    assert_eq!(w.tags(), [TAG.to_owned(), tag]);
}

#[test]
fn a_key_the_repository_does_not_trust_is_exit_4_and_nothing_is_pushed() {
    let w = World::new();
    let other = w.generate("other", "../keys/other.pub.pem");
    let out = w.publish(TAG, &["--sign", "--key", s(&other)]);
    let says = [
        "not among the trusted public keys of `otactl.toml`",
        "`[signing] public_keys`",
    ];
    w.assert_refused(&out, 4, &says);
}

#[test]
fn the_tag_is_written_last_after_the_manifest_by_digest_and_its_signature() {
    let w = World::new();
    let pushed = w.push(TAG, &w.sign());
    let writes = w.writes_from(0);
    let manifests = |r: &str| format!("PUT /v2/{REPO}/manifests/{r}");
    let put_manifests: Vec<&String> = writes
        .iter()
        .filter(|r| r.contains("/manifests/"))
        .collect();
    let want = [
        manifests(&pushed.digest),
        manifests(&sig_tag(&pushed.digest)),
        manifests(TAG),
    ];
    assert_eq!(
        put_manifests,
        want.iter().collect::<Vec<_>>(),
        "{writes:#?}"
    );
    assert_eq!(
        w.requests().last(),
        Some(&manifests(TAG)),
        "the tag is the last request"
    );
    let first_manifest = writes
        .iter()
        .position(|r| r.contains("/manifests/"))
        .unwrap();
    let blob_puts = writes
        .iter()
        .rposition(|r| r.starts_with("PUT ") && r.contains("/blobs/uploads/"));
    assert!(
        blob_puts.unwrap() > first_manifest,
        "the signature's payload is a blob after the manifest"
    );
    let layer = writes.iter().position(|r| r.starts_with("PATCH ")).unwrap();
    assert!(
        layer < first_manifest,
        "the layer before the manifest: {writes:#?}"
    );
}

#[test]
fn a_login_from_the_environment_config_json_or_a_credential_helper_pushes() {
    for source in [Source::Env, Source::ConfigJson, Source::Helper] {
        let w = World::locked();
        let out = w.publish_as(source, PASSWORD, &["-v"]);
        assert_exit_case(&out, 0, &format!("{source:?}"));
        assert_not_printed(&out, &[PASSWORD]);
        assert_eq!(w.tags(), [TAG], "{source:?}");
    }
    // The helper was asked `get` with the registry on stdin.
    let w = World::locked();
    assert_exit(&w.publish_as(Source::Helper, PASSWORD, &[]), 0);
    let asked =
        std::fs::read_to_string(w.ctx.root().join("bin/docker-credential-otactltest.stdin"));
    assert_eq!(asked.unwrap(), w.registry.host());
}

/// The message of a missing registry login was GitHub's ("no GitHub token: …; set
/// `GH_TOKEN`"), and one of the two variables alone was blamed on a `config.json`.
#[test]
fn no_login_for_a_registry_that_asks_for_one_is_exit_2_naming_the_variables_not_github() {
    let w = World::locked();
    let only_user = [("OTACTL_REGISTRY_USERNAME", USER)];
    for env in [&[][..], &only_user] {
        let out = w.publish_file(env, NAME, TAG, &["--build-id", ID]);
        assert_exit_case(&out, 2, &format!("{env:?}"));
        let err = stderr(&out);
        assert_contains(
            &err,
            "`OTACTL_REGISTRY_USERNAME` and `OTACTL_REGISTRY_PASSWORD`",
        );
        for wrong in ["GitHub", "GH_TOKEN", "config.json"] {
            assert!(!err.contains(wrong), "{env:?}: `{wrong}` in:\n{err}");
        }
    }
    assert_contains(
        &stderr(&w.publish(TAG, &[])),
        &format!("`{}` asks for a login", w.registry.host()),
    );
    assert!(w.tags().is_empty());
}

#[test]
fn a_wrong_password_is_exit_3_naming_the_registry_and_where_it_came_from_never_the_password() {
    let wrong = concat!("Wrong", "Passw0rdThatMustNeverBeShown");
    let cases = [
        (Source::Env, "`OTACTL_REGISTRY_PASSWORD`".to_owned()),
        (Source::ConfigJson, "home/.docker/config.json".to_owned()),
        (Source::Helper, format!("`docker-credential-{HELPER}`")),
    ];
    for (source, place) in cases {
        for verbose in [&[][..], &["-v"]] {
            let w = World::locked();
            let out = w.publish_as(source, wrong, verbose);
            let case = format!("{source:?} {verbose:?}");
            assert_exit_case(&out, 3, &case);
            assert_contains(&stderr(&out), &format!("`{}`", w.registry.host()));
            assert_contains(&stderr(&out), &place);
            assert_not_printed(&out, &[wrong, PASSWORD]);
            assert!(w.tags().is_empty(), "{case}");
        }
    }
}

#[test]
fn a_credential_helper_that_fails_is_exit_2_naming_it() {
    let w = World::locked();
    let config = json!({"credHelpers": {w.registry.host(): HELPER}});
    w.ctx
        .write("../home/.docker/config.json", config.to_string());
    let program = format!("`docker-credential-{HELPER}`");
    for (body, says) in [
        ("echo 'not found' >&2\nexit 1\n", "found no login"),
        ("echo '{not json'\n", "not its JSON"),
    ] {
        w.helper(body);
        let path = w.helper_path();
        let out = w.publish_file(&[("PATH", &path)], NAME, TAG, &["--build-id", ID]);
        assert_exit_case(&out, 2, body);
        assert_contains(&stderr(&out), &program);
        assert_contains(&stderr(&out), says);
    }
    // No such program on PATH.
    let out = w.publish(TAG, &[]);
    assert_exit(&out, 2);
    assert_contains(&stderr(&out), &program);
    assert!(w.tags().is_empty());
}

/// The file the registry is killed while uploading (sparse).
const BIG: u64 = 256 * 1024 * 1024;

#[test]
fn a_registry_killed_mid_upload_is_exit_3_and_a_re_run_after_its_restart_completes() {
    let mut w = World::new();
    std::fs::File::create(w.ctx.path("big.bin"))
        .unwrap()
        .set_len(BIG)
        .unwrap();
    let reference = w.reference(TAG);
    let mut cmd = w.ctx.otactl();
    cmd.args([
        "publish",
        "oci",
        "big.bin",
        "--ref",
        &reference,
        "--build-id",
        ID,
    ]);
    let running = Running::spawn(&mut cmd);
    let storage = w.registry.storage();
    let stored = || {
        walk(&storage)
            .iter()
            .filter_map(|p| p.metadata().ok())
            .map(|m| m.len())
            .sum::<u64>()
    };
    wait_until(RUN_LIMIT, "the upload to reach 4 MiB", || {
        stored() > 4 << 20
    });
    w.registry.kill();
    let (out, _) = running.wait_for(RUN_LIMIT);
    assert_exit(&out, 3);
    assert_contains(&stderr(&out), "`big.bin`");
    assert_contains(&stderr(&out), &w.registry.host());
    w.registry.restart();
    assert!(w.tags().is_empty(), "a tag was written for a broken upload");
    let again =
        pushed(&w.publish_file(&[], "big.bin", TAG, &["--build-id", ID, "--format", "json"]));
    assert!(!again.already_there);
    let zeros = vec![0u8; usize::try_from(BIG).unwrap()];
    let layer = &w.manifest(TAG)["layers"][0];
    assert_eq!(layer["digest"], json!(sha256_digest(&zeros)));
    assert_eq!(layer["size"], json!(BIG));
    assert_eq!(again.digest, w.digest(TAG));
}

#[test]
fn verify_passes_items_2_to_4_under_oci_repository_the_parent_or_the_repository_itself() {
    let w = World::new();
    w.push(TAG, &[]);
    w.release(TAG);
    let sha256 = hex(&Sha256::digest(BYTES));
    for configured in ["acme", REPO, "acme/"].map(|r| w.repository(r)) {
        let items = w.verify(&configured, &[], 0);
        items.assert(2, "pass", &["`dev.otactl.build-id` equals `build_id`"]);
        items.assert(3, "pass", &["holds an OCI image manifest"]);
        items.assert(4, "pass", &[&sha256]);
    }
}

#[test]
fn verify_with_oci_cosign_passes_item_4_for_a_signed_push_saying_the_signature_verifies() {
    let w = World::new();
    w.push(TAG, &w.sign());
    w.release(TAG);
    let says = ["the cosign signature verifies under the trusted key"];
    let cosign = format!("{}\ncosign = true", w.repository("acme"));
    w.verify(&cosign, &[], 0).assert(4, "pass", &says);
    let flag = ["--require-cosign"];
    w.verify(&w.repository("acme"), &flag, 0)
        .assert(4, "pass", &says);
}

#[test]
fn verify_require_cosign_fails_item_4_for_an_unsigned_push() {
    let w = World::new();
    let pushed = w.push(TAG, &[]);
    w.release(TAG);
    let tag = format!("`{}`", sig_tag(&pushed.digest));
    let says = [
        "the cosign signature is required",
        &tag,
        "`otactl publish oci --sign`",
    ];
    let cosign = format!("{}\ncosign = true", w.repository("acme"));
    w.verify(&cosign, &[], 1).assert(4, "fail", &says);
    let flag = ["--require-cosign"];
    w.verify(&w.repository("acme"), &flag, 1)
        .assert(4, "fail", &says);
    w.verify(&w.repository("acme"), &[], 0)
        .assert(4, "pass", &[]);
}

#[test]
fn verify_of_a_repository_outside_oci_repository_fails_item_3_unless_allowed() {
    let w = World::new();
    w.push(TAG, &[]);
    w.release(TAG);
    let found = format!("`{}/{REPO}`", w.registry.host());
    let allow = "`--allow-foreign-artifact`";
    let fails = [&found, "`[oci] repository`", allow];
    for elsewhere in ["other", "acme/f", "acme/fw/esp32"].map(|r| w.repository(r)) {
        w.verify(&elsewhere, &[], 1).assert(3, "fail", &fails);
        let allowed = w.verify(&elsewhere, &[&allow[1..allow.len() - 1]], 0);
        allowed.assert(3, "warn", &["holds an OCI image manifest", allow]);
        allowed.assert(4, "pass", &[]);
    }
}

#[test]
fn verify_of_a_tag_pushed_with_another_build_id_fails_item_2() {
    let w = World::new();
    assert_exit(&w.publish_file(&[], NAME, TAG, &["--build-id", MIN]), 0);
    w.release(TAG);
    let items = w.verify(&w.repository("acme"), &[], 1);
    let says = [MIN, ID, TAG].map(|v| format!("`{v}`"));
    items.assert(2, "fail", &says.each_ref().map(String::as_str));
    items.assert(3, "pass", &[]);
}
