//! `otactl publish oci` and `verify` of `oci://` artifacts against the hostile
//! registry (support/hostile_registry.rs): what Debian's real registry never does. A
//! digest the registry gets wrong, rate limits on each route, the Bearer flow and its
//! refusals, a 416 on the upload, ten thousand tags, a token endpoint over plain
//! http, the `-v` trace, and tags holding what OtaFlux-style servers do not serve.
//! Each test asserts what the registry received or holds, not only the exit code, and
//! every run checks that neither the password nor the token was printed.

use std::process::Output;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::TestContext;
use crate::support::assert::{assert_exit, assert_exit_case, assert_not_printed};
use crate::support::fixture::{ID, test_private_key};
use crate::support::hostile_registry::{
    Behaviour, HostileRegistry, Request, Route, TOKEN, UPLOAD_STATE,
};
use crate::support::output::assert_contains;
use crate::support::proc::Running;
use crate::support::registry::{
    DOCKER_MANIFEST, OCI_EMPTY, OCI_INDEX, OCI_MANIFEST, sha256_digest,
};
use crate::support::release::{item, otactl_ok};
use crate::support::{stderr, stdout};

const REPO: &str = "acme/fw";
const FILE: &str = "fw.bin";
const BYTES: &[u8] = b"firmware bytes\n";
const TAG: &str = "1.0.0";
const USER: &str = "ci";
const PASSWORD: &str = "s3cret-registry-pass-5d1f";

/// No run may take longer (the registry stops after two minutes anyway).
const RUN_LIMIT: Duration = Duration::from_secs(90);

/// The login in the environment: `OTACTL_REGISTRY_USERNAME`/`_PASSWORD`.
const LOGIN: &[(&str, &str)] = &[
    ("OTACTL_REGISTRY_USERNAME", USER),
    ("OTACTL_REGISTRY_PASSWORD", PASSWORD),
];

/// The Bearer flow, the token handed out for [`LOGIN`].
fn bearer() -> Behaviour {
    Behaviour::Bearer {
        username: USER.into(),
        password: PASSWORD.into(),
    }
}

/// One test's world: a working folder holding [`FILE`], and a hostile registry.
struct World {
    ctx: TestContext,
    registry: HostileRegistry,
}

impl World {
    fn new(behaviours: &[Behaviour]) -> World {
        let ctx = TestContext::new();
        ctx.write(FILE, BYTES);
        World {
            ctx,
            registry: HostileRegistry::start(behaviours),
        }
    }

    /// `127.0.0.1:PORT/acme/fw:TAG`.
    fn reference(&self, tag: &str) -> String {
        format!("{}/{REPO}:{tag}", self.registry.host())
    }

    /// `otactl publish oci fw.bin --ref … --build-id ID EXTRA…` with `env` added to the
    /// hermetic environment, started.
    fn spawn(&self, tag: &str, env: &[(&str, &str)], extra: &[&str]) -> Running {
        let mut cmd = self.ctx.otactl();
        cmd.envs(env.iter().copied())
            .args(["publish", "oci", FILE, "--ref", &self.reference(tag)])
            .args(["--build-id", ID])
            .args(extra);
        Running::spawn(&mut cmd)
    }

    /// [`World::spawn`] run to its end: its output and how long it ran. Neither the
    /// password nor the token may be printed, whatever the outcome.
    fn push_timed(&self, tag: &str, env: &[(&str, &str)], extra: &[&str]) -> (Output, Duration) {
        finish(self.spawn(tag, env, extra))
    }

    /// [`World::push_timed`] without a login.
    fn push(&self, tag: &str, extra: &[&str]) -> Output {
        self.push_timed(tag, &[], extra).0
    }

    /// The requests that took `route`, in order.
    fn requests_of(&self, route: Route) -> Vec<Request> {
        let mut requests = self.registry.requests();
        requests.retain(|r| r.route == Some(route));
        requests
    }

    /// The references of the manifest `PUT`s, in order.
    fn manifest_puts(&self) -> Vec<String> {
        self.requests_of(Route::ManifestPut)
            .into_iter()
            .map(|r| r.path.rsplit('/').next().unwrap_or_default().to_owned())
            .collect()
    }

    /// The run succeeded and printed the digest and the URL; the registry holds `tag`,
    /// whose manifest's first layer is [`BYTES`]. Returns the manifest digest.
    fn assert_pushed(&self, out: &Output, tag: &str) -> String {
        let bytes = self
            .registry
            .manifest(REPO, tag)
            .expect("the tag was pushed");
        let digest = sha256_digest(&bytes);
        assert_eq!(
            stdout(out),
            format!("{digest}\noci://{}\n", self.reference(tag))
        );
        let manifest: Value = serde_json::from_slice(&bytes).unwrap();
        let layer = manifest["layers"][0]["digest"].as_str().unwrap();
        assert_eq!(self.registry.blob(layer).as_deref(), Some(BYTES));
        digest
    }

    /// The run failed with `code`, saying each of `says`, printing nothing on stdout;
    /// no tag was put (a manifest by digest may have been).
    fn assert_refused(&self, out: &Output, code: i32, says: &[&str]) {
        assert_exit(out, code);
        for needle in says {
            assert_contains(&stderr(out), needle);
        }
        assert_eq!(stdout(out), "", "a failed push printed a result");
        // A registry's refusal never sends the user to GitHub's token.
        assert!(!stderr(out).contains("GH_TOKEN"), "{}", stderr(out));
        assert_eq!(self.registry.tags(REPO), Vec::<String>::new());
        let puts = self.manifest_puts();
        assert!(puts.iter().all(|r| r.starts_with("sha256:")), "{puts:?}");
    }
}

#[test]
fn a_wrong_docker_content_digest_on_the_manifest_put_exits_3_naming_both_digests_and_tags_nothing()
{
    let world = World::new(&[Behaviour::WrongDigest]);
    let out = world.push(TAG, &[]);
    let puts = world.manifest_puts();
    assert_eq!(puts.len(), 1, "only the manifest by digest: {puts:?}");
    let local = &puts[0];
    let stored = world.registry.manifest(REPO, local).unwrap();
    assert_eq!(sha256_digest(&stored), *local);
    let answered = sha256_digest(b"not the manifest that was sent");
    world.assert_refused(&out, 3, &[local, &answered]);
}

/// Waits for a push to end; its output and how long it ran. Neither the password
/// nor the token may be printed, whatever the outcome.
fn finish(running: Running) -> (Output, Duration) {
    let (out, elapsed) = running.wait_for(RUN_LIMIT);
    assert_not_printed(&out, &[PASSWORD, TOKEN]);
    (out, elapsed)
}

/// For each `(route, first)`, a registry whose `first` calls of `route` answer 429
/// with `Retry-After: 1`, and a push to it (all at once): each waits out every 429
/// (at least a second each) and succeeds.
fn assert_rate_limits_waited_out(limits: &[(Route, usize)]) {
    let runs: Vec<(Route, usize, World, Running)> = limits
        .iter()
        .map(|&(route, first)| {
            let world = World::new(&[Behaviour::TooManyRequests { route, first }]);
            let running = world.spawn(TAG, &[], &[]);
            (route, first, world, running)
        })
        .collect();
    for (route, first, world, running) in runs {
        let (out, elapsed) = finish(running);
        assert_exit_case(&out, 0, &format!("429 on {route:?}"));
        world.assert_pushed(&out, TAG);
        assert!(world.registry.calls(route) > first, "{route:?}");
        let waited = Duration::from_secs(first as u64);
        assert!(
            elapsed >= waited,
            "{route:?}: {elapsed:?}, `Retry-After` not honoured"
        );
    }
}

#[test]
fn a_429_with_retry_after_on_the_ping_the_tag_the_tags_or_a_put_is_waited_out() {
    assert_rate_limits_waited_out(&[
        (Route::Base, 1),
        (Route::ManifestGet, 1),
        (Route::TagList, 1),
        (Route::BlobHead, 2),
        (Route::UploadPut, 1),
        (Route::ManifestPut, 2),
    ]);
}

#[test]
fn a_429_with_retry_after_on_opening_or_feeding_an_upload_session_is_waited_out() {
    assert_rate_limits_waited_out(&[(Route::UploadStart, 2), (Route::UploadPatch, 1)]);
}

/// Who sent which scheme: the token request Basic, every request after it Bearer,
/// none before it any.
fn assert_basic_then_bearer(world: &World) {
    let requests = world.registry.requests();
    let token = requests
        .iter()
        .position(|r| r.route == Some(Route::Token))
        .unwrap_or_else(|| panic!("no token request: {requests:#?}"));
    assert_eq!(world.registry.calls(Route::Token), 1, "{requests:#?}");
    for (at, request) in requests.iter().enumerate() {
        let expected = match at.cmp(&token) {
            std::cmp::Ordering::Less => None,
            std::cmp::Ordering::Equal => Some("Basic"),
            std::cmp::Ordering::Greater => Some("Bearer"),
        };
        assert_eq!(request.authorization.as_deref(), expected, "{request:?}");
    }
}

#[test]
fn a_bearer_login_asks_the_token_with_basic_then_sends_the_token_and_prints_neither() {
    for extra in [&[][..], &["-v"]] {
        let world = World::new(&[bearer()]);
        let (out, _) = world.push_timed(TAG, LOGIN, extra);
        assert_exit_case(&out, 0, &format!("{extra:?}"));
        world.assert_pushed(&out, TAG);
        assert_basic_then_bearer(&world);
    }
}

#[test]
fn a_token_endpoint_that_refuses_exits_3_naming_where_the_password_came_from() {
    let world = World::new(&[Behaviour::TokenRefused]);
    let (out, _) = world.push_timed(TAG, LOGIN, &["-v"]);
    let says = [
        "token endpoint",
        "refused the login",
        "OTACTL_REGISTRY_PASSWORD",
    ];
    world.assert_refused(&out, 3, &says);
    assert!(world.manifest_puts().is_empty());
    let tokens = world.requests_of(Route::Token);
    let basic = |r: &Request| r.authorization.as_deref() == Some("Basic");
    assert!(
        !tokens.is_empty() && tokens.iter().all(basic),
        "{tokens:#?}"
    );
}

#[test]
fn no_login_for_a_registry_that_asks_for_one_exits_2_saying_how_to_log_in() {
    let world = World::new(&[bearer()]);
    let out = world.push(TAG, &[]);
    world.assert_refused(
        &out,
        2,
        &[
            "asks for a login",
            "docker login",
            "OTACTL_REGISTRY_USERNAME",
        ],
    );
    // Nothing but the ping and an anonymous token request.
    let requests = world.registry.requests();
    let routes = [Some(Route::Base), Some(Route::Token)];
    assert!(
        requests
            .iter()
            .all(|r| routes.contains(&r.route) && r.authorization.is_none()),
        "{requests:#?}"
    );
}

#[test]
fn a_416_on_the_blob_patch_exits_3_naming_the_file_and_tags_nothing() {
    let world = World::new(&[Behaviour::RangeNotSatisfiable]);
    let out = world.push(TAG, &[]);
    world.assert_refused(&out, 3, &["`fw.bin`", "416"]);
    assert!(world.manifest_puts().is_empty());
}

/// The warning of a tag below the highest one.
const BELOW: &str = "OtaFlux-style servers serve the highest, so devices will not get this one";

#[test]
fn among_ten_thousand_tags_a_push_below_the_highest_semver_warns_and_still_pushes() {
    let world = World::new(&[Behaviour::ManyTags(10_000)]);
    // The listed tags go up to 0.99.99; 0.5.100 is not one of them.
    let out = world.push("0.5.100", &[]);
    world.assert_pushed(&out, "0.5.100");
    assert_contains(
        &stderr(&out),
        &format!("`0.99.99`, higher than `0.5.100`: {BELOW}"),
    );
    assert_eq!(world.registry.calls(Route::TagList), 1);
    // The highest by semver, not by text: 10.0.0 is above 9.0.0.
    for (tag, warned) in [("10.0.0", false), ("9.0.0", true)] {
        let out = world.push(tag, &[]);
        assert_exit_case(&out, 0, tag);
        assert_eq!(
            stderr(&out).contains(BELOW),
            warned,
            "{tag}: {}",
            stderr(&out)
        );
    }
    assert_contains(&stderr(&world.push("9.0.0", &[])), "nothing uploaded");
    assert_eq!(world.registry.tags(REPO), ["0.5.100", "10.0.0", "9.0.0"]);
}

#[test]
fn a_token_endpoint_over_plain_http_elsewhere_is_refused_before_any_credential_is_sent() {
    let realm = "http://example.invalid/token";
    let world = World::new(&[Behaviour::BearerRealm(realm.into())]);
    let (out, _) = world.push_timed(TAG, LOGIN, &[]);
    world.assert_refused(&out, 3, &[&format!("`{realm}` is not https")]);
    let requests = world.registry.requests();
    assert!(
        requests.iter().all(|r| r.route == Some(Route::Base)),
        "{requests:#?}"
    );
    assert!(
        requests.iter().all(|r| r.authorization.is_none()),
        "{requests:#?}"
    );
}

#[test]
fn the_v_trace_shows_method_url_and_status_without_queries_or_credentials() {
    let world = World::new(&[Behaviour::UploadState, bearer()]);
    let (out, _) = world.push_timed(TAG, LOGIN, &["-v"]);
    let digest = world.assert_pushed(&out, TAG);
    let err = stderr(&out);
    let v2 = world.registry.url(&format!("v2/{REPO}"));
    let empty = sha256_digest(b"{}");
    for line in [
        format!("GET {} -> 200 OK", world.registry.url("token")),
        format!("HEAD {v2}/blobs/{empty} -> 404 Not Found"),
        format!("POST {v2}/blobs/uploads/ -> 202 Accepted"),
        format!("PATCH {v2}/blobs/uploads/upload-2 -> 202 Accepted"),
        format!("PUT {v2}/blobs/uploads/upload-2 -> 201 Created"),
        format!("PUT {v2}/manifests/{digest} -> 201 Created"),
        format!("PUT {v2}/manifests/{TAG} -> 201 Created"),
    ] {
        assert!(
            err.lines().any(|l| l.ends_with(&line)),
            "`{line}` is not in:\n{err}"
        );
    }
    for hidden in [
        "_state",
        UPLOAD_STATE,
        "digest=",
        "scope=",
        "Basic ",
        "Bearer ",
    ] {
        assert!(!err.contains(hidden), "`{hidden}` is in the trace:\n{err}");
    }
    // The Locations did carry the state, and otactl sent it back.
    let patches = world.requests_of(Route::UploadPatch);
    let sent = |r: &Request| r.path.contains(UPLOAD_STATE);
    assert!(
        !patches.is_empty() && patches.iter().all(sent),
        "{patches:#?}"
    );
}

// `verify` of a `kind: oci` manifest.

/// A channel repository (git, `main` committed without manifests) trusting the RFC
/// 8032 test key, its `[oci] repository` the hostile registry's `acme/fw`.
fn channel(world: &World) {
    let ctx = &world.ctx;
    ctx.trust("rfc8032-test1.public.pem");
    ctx.write(
        "otactl.toml",
        format!(
            "name = \"app\"\nchannels = [\"canary\", \"docker\", \"index\", \"bare\"]\n\n[signing]\npublic_keys = [\"keys/ota_pubkey.pem\"]\nrequire = true\n\n[oci]\nrepository = \"{}/{REPO}\"\n",
            world.registry.host()
        ),
    );
    ctx.write(".gitignore", format!("{FILE}\n"));
    ctx.git_init();
    ctx.git_commit("channel repository");
}

/// A signed manifest of channel `name` for `oci://…:TAG` with the sha256 of [`BYTES`],
/// then `verify` of it.
fn verify(world: &World, name: &str, tag: &str) -> Output {
    let ctx = &world.ctx;
    let url = format!("oci://{}", world.reference(tag));
    let sha = sha256_digest(BYTES).replacen("sha256:", "", 1);
    let mut new = vec!["manifest", "new", "--channel", name, "--build-id", ID];
    new.extend(["--kind", "oci", "--url", &url, "--sha256", &sha]);
    otactl_ok(ctx, &new);
    let file = format!("channels/{name}/manifest.json");
    let key = test_private_key();
    otactl_ok(
        ctx,
        &["manifest", "sign", &file, "--key", key.to_str().unwrap()],
    );
    ctx.otactl().args(["verify", &file]).output().unwrap()
}

/// Uploads `bytes` as a blob of the plain registry (a monolithic `POST ?digest=`).
fn put_blob(world: &World, bytes: &[u8]) -> String {
    let digest = sha256_digest(bytes);
    let url = world
        .registry
        .url(&format!("v2/{REPO}/blobs/uploads/?digest={digest}"));
    let answer = http().post(url).body(bytes.to_vec()).send().unwrap();
    assert_eq!(answer.status().as_u16(), 201, "{digest}");
    digest
}

/// Puts `manifest` as `reference` with `media_type`, by hand; its digest.
fn put_manifest(world: &World, reference: &str, media_type: &str, manifest: &Value) -> String {
    let bytes = serde_json::to_vec(manifest).unwrap();
    let url = world
        .registry
        .url(&format!("v2/{REPO}/manifests/{reference}"));
    let answer = http()
        .put(url)
        .header("Content-Type", media_type)
        .body(bytes.clone())
        .send()
        .unwrap();
    assert_eq!(answer.status().as_u16(), 201, "{reference}");
    sha256_digest(&bytes)
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
}

/// An image manifest of `media_type` whose config is `{}` of `config_type` and whose
/// one layer is [`BYTES`], both uploaded; `annotations` on the manifest.
fn image(world: &World, media_type: &str, config_type: &str, annotations: &Value) -> Value {
    let config = put_blob(world, b"{}");
    let layer = put_blob(world, BYTES);
    json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_type, "digest": config, "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": layer, "size": BYTES.len()}],
        "annotations": annotations,
    })
}

/// otactl's own annotations of the build [`ID`].
fn build_annotations() -> Value {
    json!({"dev.otactl.build-id": ID, "org.opencontainers.image.version": TAG})
}

/// Item `number` of the report has the status `word` (`PASS`, `FAIL`, `ERROR`) and
/// says each of `says`.
fn assert_item(out: &Output, number: u8, word: &str, says: &[&str]) {
    let line = item(out, number);
    let status = line.split_whitespace().nth(1).unwrap_or_default();
    assert!(status.eq_ignore_ascii_case(word), "not {word}: {line}");
    for needle in says {
        assert_contains(&line, needle);
    }
}

#[test]
fn verify_fails_item_3_for_a_docker_manifest_or_an_index_and_item_2_without_a_build_id() {
    let world = World::new(&[]);
    channel(&world);
    let docker_config = "application/vnd.docker.container.image.v1+json";
    let docker = image(&world, DOCKER_MANIFEST, docker_config, &build_annotations());
    put_manifest(&world, "1.0.0", DOCKER_MANIFEST, &docker);
    let oci = image(&world, OCI_MANIFEST, OCI_EMPTY, &build_annotations());
    let size = serde_json::to_vec(&oci).unwrap().len();
    let oci_digest = put_manifest(&world, "1.1.0", OCI_MANIFEST, &oci);
    let index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": oci_digest, "size": size}],
    });
    put_manifest(&world, "2.0.0", OCI_INDEX, &index);
    let bare = image(&world, OCI_MANIFEST, OCI_EMPTY, &json!({}));
    put_manifest(&world, "3.0.0", OCI_MANIFEST, &bare);

    // The OCI image manifest with the build id passes items 2 to 4.
    let out = verify(&world, "canary", "1.1.0");
    assert_exit(&out, 0);
    for number in [2, 3, 4] {
        assert_item(&out, number, "PASS", &[]);
    }
    for (channel, tag, media_type) in [
        ("docker", "1.0.0", DOCKER_MANIFEST),
        ("index", "2.0.0", OCI_INDEX),
    ] {
        let out = verify(&world, channel, tag);
        assert_exit_case(&out, 1, tag);
        let says = [media_type, "OtaFlux-style servers do not serve it"];
        assert_item(&out, 3, "FAIL", &says);
    }
    let out = verify(&world, "bare", "3.0.0");
    assert_exit(&out, 1);
    let says = ["has no `dev.otactl.build-id` annotation"];
    assert_item(&out, 2, "FAIL", &says);
    assert_item(&out, 3, "PASS", &[]);
}

#[test]
fn verify_against_a_registry_answering_500_to_every_manifest_get_is_an_error_of_item_3_exit_3() {
    let world = World::new(&[Behaviour::ServerError(Route::ManifestGet)]);
    channel(&world);
    let oci = image(&world, OCI_MANIFEST, OCI_EMPTY, &build_annotations());
    put_manifest(&world, TAG, OCI_MANIFEST, &oci);
    let out = verify(&world, "canary", TAG);
    assert_exit(&out, 3);
    assert_item(&out, 3, "ERROR", &["cannot read the tag", "500"]);
    assert!(world.registry.calls(Route::ManifestGet) > 1, "not retried");
}

#[test]
fn an_identity_token_in_config_json_is_exchanged_as_a_refresh_token_and_never_printed() {
    const IDENTITY: &str = "identity-token-3f9a77e0";
    let world = World::new(&[Behaviour::IdentityToken(IDENTITY.into())]);
    let config = serde_json::json!({
        "auths": {world.registry.host(): {"identitytoken": IDENTITY}}
    });
    world.ctx.write("docker/config.json", config.to_string());
    let docker = world.ctx.path("docker");
    let env = [("DOCKER_CONFIG", docker.to_str().unwrap())];
    let (out, _) = world.push_timed(TAG, &env, &["-v"]);
    assert_exit(&out, 0);
    assert!(
        !stdout(&out).contains(IDENTITY) && !stderr(&out).contains(IDENTITY),
        "the identity token was printed"
    );
    world.assert_pushed(&out, TAG);
    let tokens = world.requests_of(Route::Token);
    assert_eq!(
        tokens.iter().map(|r| r.method.as_str()).collect::<Vec<_>>(),
        ["POST"],
        "{tokens:#?}"
    );
    let later: Vec<_> = world
        .registry
        .requests()
        .into_iter()
        .skip_while(|r| r.route != Some(Route::Token))
        .skip(1)
        .collect();
    assert!(
        !later.is_empty()
            && later
                .iter()
                .all(|r| r.authorization.as_deref() == Some("Bearer")),
        "{later:#?}"
    );
}
