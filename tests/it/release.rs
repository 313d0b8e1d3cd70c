//! `otactl release --channel canary`: the whole job in one command (build id, the
//! artifact, publish, `manifest new`, `manifest sign`, the checklist, the pull
//! request), run without a terminal in a channel repository whose otactl.toml names a
//! source repository beside it (`source = "../src"`) and its targets: a release folder
//! (`[dir] path = "../releases"`), the local GitHub server (support/github.rs) or
//! Debian's real registry (support/registry.rs). The signing key is the RFC 8032 test
//! key, given in `OTACTL_SIGNING_KEY_FILE`. Each test asserts the final state: the
//! channel repository byte for byte, the release folder, the server's releases,
//! assets and pull requests, the registry's tags, and the exit code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::support::assert::{assert_exit, assert_exit_case, assert_not_printed};
use crate::support::files::temp_files;
use crate::support::fixture::test_private_key;
use crate::support::github::{AssetState, Fault, GitHubServer, Pull, Release, Route};
use crate::support::keys::hex;
use crate::support::output::assert_contains;
use crate::support::proc::Running;
use crate::support::registry::{Registry, sha256_digest};
use crate::support::{TestContext, manifest_json, stderr, stdout};

/// The token the GitHub server asks for (in `GH_TOKEN` of every run); never printed.
/// Two literals, so that the secret scan of `otactl tar` does not find it here.
const SENTINEL: &str = concat!("ghp_", "Re1easeS3ntinelThatMustNeverBeSh0wn1");
/// The channel repository on the GitHub server, where releases and pull requests go.
pub(crate) const REPO: &str = "acme/ota";
/// The registry's repository: `[oci] repository` is `HOST/acme/fw`.
pub(crate) const OCI_REPO: &str = "acme/fw";
pub(crate) const MANIFEST: &str = "channels/canary/manifest.json";
/// A build later than the source's (its commit is of 2026-01-15), not in the future.
pub(crate) const LATER: &str = "20260301-0000-bbbbbbb";
/// The firmware image of `--file ../fw.bin`.
pub(crate) const FIRMWARE: &[u8] =
    b"\xe9\x03\x02\x20 an ESP32 image that release publishes as it is\n";
/// No run may take longer: a prompt that waits for an answer fails here.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// Where otactl.toml says releases go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// `[dir] path = "../releases"`.
    Dir,
    /// `[github] repo` ([`REPO`]) and `api_url` on the local server.
    GitHub,
    /// `[oci] repository` on a registry of the test's own.
    Oci,
}

impl Target {
    /// The value of `--target`.
    fn flag(self) -> &'static str {
        match self {
            Target::Dir => "dir",
            Target::GitHub => "github",
            Target::Oci => "oci",
        }
    }
}

/// Files (path → SHA-256 of the bytes).
pub(crate) type Files = BTreeMap<PathBuf, String>;

/// Every file under `dir` (none when it does not exist) and the SHA-256 of its bytes.
pub(crate) fn tree(dir: &Path) -> Files {
    let entries = std::fs::read_dir(dir).into_iter().flatten();
    entries
        .map(Result::unwrap)
        .flat_map(|entry| {
            if entry.file_type().unwrap().is_dir() {
                return tree(&entry.path());
            }
            let bytes = std::fs::read(entry.path()).unwrap();
            Files::from([(entry.path(), hex(&Sha256::digest(bytes)))])
        })
        .collect()
}

/// One test's world: the source repository at `[TEMP]/src` (one commit), the channel
/// repository in the working folder (`main` committed: otactl.toml, the trusted key),
/// and the servers its targets need.
pub(crate) struct World {
    pub(crate) ctx: TestContext,
    /// The build id of the source's HEAD.
    pub(crate) id: String,
    /// The source's HEAD commit.
    pub(crate) commit: String,
    pub(crate) github: Option<GitHubServer>,
    pub(crate) registry: Option<Registry>,
}

impl World {
    pub(crate) fn new(targets: &[Target]) -> World {
        World::with_source(targets, &[])
    }

    /// A world whose source also holds `extra` (path, content) and whose otactl.toml
    /// configures each of `targets`; the GitHub server holds [`REPO`] with the same
    /// `main` (otactl.toml).
    fn with_source(targets: &[Target], extra: &[(&str, &str)]) -> World {
        let ctx = TestContext::new();
        let mut files = vec![
            ("README.md", "# app, released in one command\n"),
            ("src/main.c", "int main(void) { return 2; }\n"),
        ];
        files.extend_from_slice(extra);
        let commit = ctx.git_repo(&ctx.root().join("src"), "the app", &files);
        let github = targets
            .contains(&Target::GitHub)
            .then(|| GitHubServer::with_token(SENTINEL));
        let registry = targets.contains(&Target::Oci).then(Registry::start);
        let mut config = "name = \"app\"\nsource = \"../src\"\n\n[signing]\npublic_keys = [\"keys/ota_pubkey.pem\"]\nrequire = true\n".to_owned();
        for target in targets {
            config += &match target {
                Target::Dir => "\n[dir]\npath = \"../releases\"\n".to_owned(),
                Target::GitHub => format!(
                    "\n[github]\nrepo = \"{REPO}\"\napi_url = \"{}\"\n",
                    github.as_ref().unwrap().api_base()
                ),
                Target::Oci => format!(
                    "\n[oci]\nrepository = \"{}/{OCI_REPO}\"\n",
                    registry.as_ref().unwrap().host()
                ),
            };
        }
        ctx.trust("rfc8032-test1.public.pem");
        ctx.write("otactl.toml", &config);
        ctx.git_init();
        ctx.git_commit("the channel repository");
        if let Some(server) = &github {
            server.add_repo(REPO, "main", &[("otactl.toml", config.as_bytes())]);
        }
        let out = ctx
            .otactl()
            .args(["build-id", "--source", "../src"])
            .output();
        let out = out.unwrap();
        assert_exit(&out, 0);
        World {
            id: stdout(&out).trim().to_owned(),
            ctx,
            commit,
            github,
            registry,
        }
    }

    /// Commits on `main` a signed canary manifest of [`LATER`].
    pub(crate) fn commit_later_build(&self) {
        self.ctx.write(
            MANIFEST,
            manifest_json("canary", LATER, None, "a later build"),
        );
        let key = test_private_key();
        let sign = ["manifest", "sign", MANIFEST, "--key", key.to_str().unwrap()];
        assert_exit(&self.ctx.otactl().args(sign).output().unwrap(), 0);
        self.ctx.git_commit("a later build on canary");
    }

    /// `otactl release --channel canary ARGS…` with `GH_TOKEN` and `env` added to the
    /// hermetic environment, and `OTACTL_SIGNING_KEY_FILE` naming the trusted key's
    /// private key when `key`; without a terminal (stdin is null, stdout and stderr
    /// are pipes). The token is printed on neither stream.
    pub(crate) fn release_with(&self, key: bool, env: &[(&str, &str)], args: &[&str]) -> Output {
        self.run_with(
            key,
            env,
            &[&["release", "--channel", "canary"], args].concat(),
        )
    }

    /// `otactl ARGS…` as [`World::release_with`] runs it (`rollback …`, `release …`).
    pub(crate) fn run_with(&self, key: bool, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut cmd = self.ctx.otactl();
        cmd.env("GH_TOKEN", SENTINEL).envs(env.iter().copied());
        if key {
            cmd.env("OTACTL_SIGNING_KEY_FILE", test_private_key());
        }
        cmd.args(args);
        let (out, _) = Running::spawn(&mut cmd).wait_for(RUN_LIMIT);
        assert_not_printed(&out, &[SENTINEL]);
        out
    }

    /// [`World::release_with`] with the key, which must exit 0.
    pub(crate) fn release(&self, args: &[&str]) -> Output {
        let out = self.release_with(true, &[], args);
        assert_exit(&out, 0);
        out
    }

    /// A run that must exit `code` with `says` on stderr and leave everything as it
    /// was (see [`World::assert_nothing_released`]).
    pub(crate) fn assert_refused(
        &self,
        key: bool,
        env: &[(&str, &str)],
        args: &[&str],
        code: i32,
        says: &str,
    ) {
        let before = self.repo_files();
        let out = self.release_with(key, env, args);
        assert_exit_case(&out, code, &format!("env {env:?}, args {args:?}"));
        assert_contains(&stderr(&out), says);
        self.assert_nothing_released(&before);
    }

    /// The channel repository holds `before` byte for byte (`.git` aside, which git
    /// itself may refresh), no release folder was made, the GitHub server was sent no
    /// write and the registry holds no tag.
    fn assert_nothing_released(&self, before: &Files) {
        assert_eq!(&self.repo_files(), before, "the channel repository changed");
        let releases = self.releases_dir();
        assert!(!releases.exists(), "{} was made", releases.display());
        if let Some(server) = &self.github {
            let requests = server.requests();
            let writes: Vec<_> = requests.iter().filter(|r| r.method != "GET").collect();
            assert!(
                writes.is_empty(),
                "the GitHub server was written to: {writes:#?}"
            );
        }
        if let Some(registry) = &self.registry {
            assert_eq!(registry.tags(OCI_REPO), Vec::<String>::new());
        }
    }

    /// The files of the channel repository outside `.git`.
    pub(crate) fn repo_files(&self) -> Files {
        let git = self.ctx.path(".git");
        let mut files = tree(&self.ctx.cwd);
        files.retain(|path, _| !path.starts_with(&git));
        files
    }

    /// `[TEMP]/releases`, the release folder.
    pub(crate) fn releases_dir(&self) -> PathBuf {
        self.ctx.root().join("releases")
    }

    /// `app-src-ID.tar.gz`.
    pub(crate) fn tarball_name(&self) -> String {
        format!("app-src-{}.tar.gz", self.id)
    }

    /// `git archive --format=tar.gz --prefix=app-ID/ COMMIT` of the source.
    pub(crate) fn git_archive(&self) -> Vec<u8> {
        self.git_archive_of(&self.id, &self.commit)
    }

    /// `git archive --format=tar.gz --prefix=app-ID/ COMMIT` of the source, for `id`.
    pub(crate) fn git_archive_of(&self, id: &str, commit: &str) -> Vec<u8> {
        let prefix = format!("--prefix=app-{id}/");
        let args = ["archive", "--format=tar.gz", &prefix, commit];
        self.ctx.git_in(&self.ctx.root().join("src"), &args)
    }

    /// The `file://` URL of `name` published in the release folder under the build.
    fn file_url(&self, name: &str) -> String {
        self.file_url_of(&self.id, name)
    }

    /// The `file://` URL of `name` published in the release folder under `id`.
    pub(crate) fn file_url_of(&self, id: &str, name: &str) -> String {
        let releases = self.releases_dir().canonicalize().unwrap();
        format!("file://{}/{id}/{name}", releases.display())
    }

    /// The local canary manifest's bytes.
    pub(crate) fn manifest_bytes(&self) -> Vec<u8> {
        std::fs::read(self.ctx.path(MANIFEST)).unwrap()
    }

    /// The local canary manifest: of the build, at `url`, of `kind`, with the sha256
    /// `sha256`, signed, and no temporary file beside it; the checklist passes on it.
    fn assert_manifest(&self, kind: &str, url: &str, sha256: &str) {
        self.assert_manifest_of(&self.id, kind, url, sha256);
    }

    /// [`World::assert_manifest`] of the build `id`.
    pub(crate) fn assert_manifest_of(&self, id: &str, kind: &str, url: &str, sha256: &str) {
        let manifest: Value = serde_json::from_slice(&self.manifest_bytes()).unwrap();
        let fields = ["channel", "build_id"].map(|k| manifest[k].clone());
        assert_eq!(fields, ["canary", id].map(Value::from), "{manifest:#}");
        let artifact = ["kind", "url", "sha256"].map(|k| manifest["artifact"][k].clone());
        assert_eq!(
            artifact,
            [kind, url, sha256].map(Value::from),
            "{manifest:#}"
        );
        let signature = manifest["signature"].as_str().unwrap_or_default();
        assert!(!signature.is_empty(), "not signed: {manifest:#}");
        assert_eq!(
            temp_files(&self.ctx.path("channels/canary")),
            Vec::<String>::new()
        );
        let mut verify = self.ctx.otactl();
        verify.env("GH_TOKEN", SENTINEL);
        let checklist = verify.args(["verify", "--channel", "canary"]).output();
        assert_exit(&checklist.unwrap(), 0);
    }

    /// [`World::assert_manifest`] of the source tarball (`git archive`'s bytes) at `url`.
    fn assert_tarball_manifest(&self, url: &str) {
        let sha256 = hex(&Sha256::digest(self.git_archive()));
        self.assert_manifest("source-tar", url, &sha256);
    }

    /// The GitHub server.
    pub(crate) fn server(&self) -> &GitHubServer {
        self.github.as_ref().unwrap()
    }

    /// The one release of [`REPO`]: tagged with the build id, published, holding one
    /// uploaded asset, the tarball, byte for byte `git archive`'s.
    pub(crate) fn only_release(&self) -> Release {
        let releases = self.server().releases();
        assert_eq!(releases.len(), 1, "{releases:#?}");
        let release = releases[0].clone();
        let found = (
            release.repo.as_str(),
            release.tag_name.as_str(),
            release.draft,
        );
        assert_eq!(found, (REPO, self.id.as_str(), false), "{release:#?}");
        assert_eq!(release.assets.len(), 1, "{release:#?}");
        let asset = &release.assets[0];
        assert_eq!(
            (asset.name.clone(), asset.state),
            (self.tarball_name(), AssetState::Uploaded)
        );
        assert!(self.server().asset_bytes(asset.id) == self.git_archive());
        release
    }

    /// The browser download URL of the tarball's asset.
    fn download_url(&self) -> String {
        let path = format!(
            "{REPO}/releases/download/{}/{}",
            self.id,
            self.tarball_name()
        );
        self.server().api_url(&path)
    }

    /// The pull requests of [`REPO`].
    pub(crate) fn pulls(&self) -> Vec<Pull> {
        self.server().pulls(REPO)
    }

    /// How many requests took `route`.
    pub(crate) fn count(&self, route: Route) -> usize {
        let routes = self.server().routes();
        routes.into_iter().filter(|r| *r == route).count()
    }

    /// Writes the firmware image at `../fw.bin`; returns that path.
    fn write_firmware(&self) -> &'static str {
        std::fs::write(self.ctx.root().join("fw.bin"), FIRMWARE).unwrap();
        "../fw.bin"
    }

    /// The registry.
    pub(crate) fn registry(&self) -> &Registry {
        self.registry.as_ref().unwrap()
    }

    /// `--target oci --file ../fw.bin --yes --no-pr EXTRA…`, which must succeed: the
    /// registry holds the one tag `version` whose first layer is the file, and the
    /// manifest points at it (kind `oci`).
    fn assert_oci_release(&self, extra: &[&str], version: &str) {
        let file = self.write_firmware();
        let args = ["--target", "oci", "--file", file, "--yes", "--no-pr"];
        let out = self.release(&[&args[..], extra].concat());
        let registry = self.registry();
        assert_eq!(registry.tags(OCI_REPO), [version]);
        let layer = &registry.manifest_json(OCI_REPO, version)["layers"][0];
        let digest = layer["digest"].as_str().unwrap_or_default().to_owned();
        assert_eq!(digest, sha256_digest(FIRMWARE));
        assert!(registry.blob(OCI_REPO, &digest) == FIRMWARE);
        let url = format!("oci://{}/{OCI_REPO}:{version}", registry.host());
        assert_contains(&stdout(&out), &url);
        self.assert_manifest("oci", &url, &hex(&Sha256::digest(FIRMWARE)));
    }
}

/// The plan lines (`plan: …`) of stderr, joined; panics when there is none.
fn plan(out: &Output) -> String {
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("plan:")).collect();
    assert!(!lines.is_empty(), "no plan on stderr:\n{err}");
    lines.join("\n")
}

/// The one JSON object of stdout (`--format json`).
pub(crate) fn json(out: &Output) -> Value {
    let parsed = serde_json::from_slice::<Value>(&out.stdout);
    let value = parsed.unwrap_or_else(|e| panic!("{e}: stdout is not JSON:\n{}", stdout(out)));
    assert!(value["plan"].is_object(), "no plan object: {value:#}");
    value
}

/// Makes bodiless uploads of the test's own to the upload host until the server has
/// had `queued` upload requests in all: no fault queued for uploads is left for the
/// next run (once none is left, each is answered 401 and nothing is stored).
fn use_up_upload_faults(world: &World, queued: usize) {
    let client = reqwest::blocking::Client::builder().no_proxy().build();
    let client = client.unwrap();
    let path = format!("repos/{REPO}/releases/1/assets?name=spent.bin");
    let url = world.server().upload_url(&path);
    for _ in world.count(Route::UploadAsset)..queued {
        let _answer = client.post(&url).body(Vec::new()).send();
    }
    assert!(world.count(Route::UploadAsset) >= queued);
}

#[test]
fn release_to_a_folder_lands_git_archives_tarball_and_a_signed_manifest_naming_it() {
    let world = World::new(&[Target::Dir]);
    let before = world.repo_files();
    let out = world.release(&["--target", "dir", "--no-pr", "--yes"]);

    let published = world
        .releases_dir()
        .join(&world.id)
        .join(world.tarball_name());
    let archive = world.git_archive();
    assert!(
        std::fs::read(&published).unwrap() == archive,
        "not git archive's bytes"
    );
    assert_eq!(
        tree(&world.releases_dir()).into_keys().collect::<Vec<_>>(),
        [published]
    );
    let url = world.file_url(&world.tarball_name());
    world.assert_manifest("source-tar", &url, &hex(&Sha256::digest(&archive)));
    for printed in [MANIFEST, &url] {
        assert_contains(&stdout(&out), printed);
    }
    // The manifest is the one file added to the channel repository.
    let mut after = world.repo_files();
    assert!(after.remove(&world.ctx.path(MANIFEST)).is_some());
    assert_eq!(after, before);
}

#[test]
fn a_second_release_keeps_the_signed_manifest_and_the_folder_byte_for_byte_and_says_unchanged() {
    let world = World::new(&[Target::Dir]);
    let args = ["--target", "dir", "--no-pr", "--yes"];
    world.release(&args);
    let (manifest, releases) = (world.manifest_bytes(), tree(&world.releases_dir()));

    let again = json(&world.release(&[&args[..], &["--format", "json"]].concat()));
    // Not written again: `created_utc` kept, not re-signed.
    assert!(world.manifest_bytes() == manifest, "the manifest changed");
    assert_eq!(tree(&world.releases_dir()), releases);
    assert_eq!(again["unchanged"], true, "{again:#}");
    assert_eq!(again["checklist_ok"], true, "{again:#}");
    assert_eq!(again["pr"], Value::Null, "{again:#}");
    assert_eq!(again["url"], world.file_url(&world.tarball_name()).as_str());
    let path = again["manifest"].as_str().unwrap_or_default();
    assert!(path.ends_with(MANIFEST), "{again:#}");
}

#[test]
fn without_target_the_one_target_configured_is_used() {
    let world = World::new(&[Target::Dir]);
    world.release(&["--no-pr", "--yes"]);
    let published = world
        .releases_dir()
        .join(&world.id)
        .join(world.tarball_name());
    assert!(std::fs::read(published).unwrap() == world.git_archive());
    let url = world.file_url(&world.tarball_name());
    world.assert_tarball_manifest(&url);
}

#[test]
fn without_target_no_target_or_several_configured_is_exit_2_naming_target() {
    let cases: [&[Target]; 3] = [
        &[],
        &[Target::Dir, Target::GitHub],
        &[Target::GitHub, Target::Oci],
    ];
    for targets in cases {
        let world = World::new(targets);
        world.assert_refused(true, &[], &["--yes", "--no-pr"], 2, "--target");
    }
}

#[test]
fn without_yes_and_without_a_terminal_is_exit_2_naming_yes_and_nothing_is_done() {
    let world = World::new(&[Target::Dir]);
    for env in [&[][..], &[("CI", "true")]] {
        let args = ["--target", "dir", "--no-pr"];
        world.assert_refused(true, env, &args, 2, "--yes");
    }
}

#[test]
fn dry_run_prints_the_plan_and_writes_nothing_without_yes_or_key() {
    let world = World::new(&[Target::Dir]);
    let before = world.repo_files();
    let out = world.release_with(false, &[], &["--target", "dir", "--no-pr", "--dry-run"]);
    assert_exit(&out, 0);
    let plan = plan(&out);
    let sha256 = hex(&Sha256::digest(world.git_archive()));
    for named in ["canary", "dir", &world.id, &world.tarball_name(), &sha256] {
        assert_contains(&plan, named);
    }
    world.assert_nothing_released(&before);
}

#[test]
fn dry_run_to_github_sends_no_request_at_all() {
    let world = World::new(&[Target::GitHub]);
    let before = world.repo_files();
    let dry = ["--target", "github", "--dry-run"];
    let text = world.release_with(false, &[], &dry);
    assert_exit(&text, 0);
    assert_contains(&plan(&text), &world.tarball_name());
    let out = world.release_with(false, &[], &[&dry[..], &["--format", "json"]].concat());
    assert_exit(&out, 0);
    assert_contains(&json(&out)["plan"].to_string(), &world.id);
    let requests = world.server().requests();
    assert!(requests.is_empty(), "{requests:#?}");
    world.assert_nothing_released(&before);
}

#[test]
fn release_to_github_uploads_one_asset_and_opens_one_pull_request_holding_the_manifest() {
    let world = World::new(&[Target::GitHub]);
    let out = world.release(&["--target", "github", "--yes"]);
    let asset = world.only_release().assets[0].id;
    let url = world.download_url();
    world.assert_tarball_manifest(&url);
    let pulls = world.pulls();
    assert_eq!(pulls.len(), 1, "{pulls:#?}");
    let branch = format!("otactl/canary-{}", world.id);
    assert_eq!(
        (pulls[0].head.as_str(), pulls[0].base.as_str()),
        (&*branch, "main")
    );
    let on_branch = world.server().file_at(REPO, &branch, MANIFEST);
    assert!(
        on_branch == Some(world.manifest_bytes()),
        "the branch does not hold the manifest"
    );
    for printed in [MANIFEST, &url, &pulls[0].html_url] {
        assert_contains(&stdout(&out), printed);
    }

    // Again: the same asset, release and pull request; nothing uploaded or opened.
    let manifest = world.manifest_bytes();
    world.release(&["--target", "github", "--yes"]);
    assert_eq!(world.only_release().assets[0].id, asset);
    assert_eq!(world.pulls().len(), 1, "{:#?}", world.pulls());
    for route in [Route::CreateRelease, Route::UploadAsset, Route::CreatePull] {
        assert_eq!(world.count(route), 1, "{route:?}");
    }
    assert!(world.manifest_bytes() == manifest, "the manifest changed");
}

#[test]
fn release_to_github_with_no_pr_opens_no_pull_request() {
    let world = World::new(&[Target::GitHub]);
    let out = world.release(&["--target", "github", "--yes", "--no-pr"]);
    world.only_release();
    assert_eq!(world.pulls(), Vec::new());
    for route in [Route::CreateRef, Route::PutContents, Route::CreatePull] {
        assert_eq!(world.count(route), 0, "{route:?}");
    }
    assert!(!stdout(&out).contains("/pull/"), "{}", stdout(&out));
    let url = world.download_url();
    world.assert_tarball_manifest(&url);
}

#[test]
fn a_publish_failing_after_retries_is_exit_3_without_manifest_and_a_rerun_converges() {
    let world = World::new(&[Target::GitHub]);
    // More 500s than any sane number of attempts.
    let queued = 10;
    world.server().inject(
        Route::UploadAsset,
        std::iter::repeat_n(Fault::Status(500), queued),
    );
    let before = world.repo_files();
    let args = ["--target", "github", "--yes", "--no-pr"];
    let out = world.release_with(true, &[], &args);
    assert_exit(&out, 3);
    assert_contains(&stderr(&out), "publish");
    assert!(!world.ctx.path(MANIFEST).exists(), "a manifest was written");
    assert_eq!(world.repo_files(), before);

    use_up_upload_faults(&world, queued);
    world.release(&args);
    world.only_release();
    let url = world.download_url();
    world.assert_tarball_manifest(&url);
}

#[test]
fn a_missing_signing_key_is_exit_2_before_anything_is_published() {
    for target in [Target::Dir, Target::GitHub] {
        let world = World::new(&[target]);
        let args = ["--target", target.flag(), "--yes", "--no-pr"];
        world.assert_refused(false, &[], &args, 2, "OTACTL_SIGNING_KEY");
    }
}

#[test]
fn a_firmware_file_is_published_as_it_is_with_kind_firmware_and_its_sha256() {
    let world = World::new(&[Target::Dir]);
    let file = world.write_firmware();
    world.release(&["--target", "dir", "--file", file, "--yes", "--no-pr"]);
    let published = world.releases_dir().join(&world.id).join("fw.bin");
    assert!(std::fs::read(published).unwrap() == FIRMWARE);
    let url = world.file_url("fw.bin");
    world.assert_manifest("firmware", &url, &hex(&Sha256::digest(FIRMWARE)));
}

#[test]
fn release_to_oci_pushes_the_file_as_the_first_layer_of_the_version_tag() {
    let world = World::new(&[Target::Oci]);
    world.assert_oci_release(&["--version", "1.2.3"], "1.2.3");
}

#[test]
fn release_to_oci_takes_the_version_from_the_sources_cargo_toml() {
    let cargo = "[package]\nname = \"app\"\nversion = \"0.4.0\"\nedition = \"2021\"\n";
    let world = World::with_source(&[Target::Oci], &[("Cargo.toml", cargo)]);
    world.assert_oci_release(&[], "0.4.0");
}

#[test]
fn release_to_oci_without_a_version_is_exit_2_with_a_hint() {
    let world = World::new(&[Target::Oci]);
    let args = [
        "--target",
        "oci",
        "--file",
        world.write_firmware(),
        "--yes",
        "--no-pr",
    ];
    world.assert_refused(true, &[], &args, 2, "--version");
}

#[test]
fn a_channel_holding_a_later_build_is_exit_4_and_nothing_is_published() {
    for target in [Target::Dir, Target::GitHub] {
        let world = World::new(&[target]);
        world.commit_later_build();
        let args = ["--target", target.flag(), "--yes", "--no-pr"];
        world.assert_refused(true, &[], &args, 4, LATER);
    }
}

#[test]
fn a_source_that_is_no_git_repository_names_otactl_tomls_source() {
    let ctx = TestContext::new();
    ctx.write(
        "otactl.toml",
        "channels = [\"canary\"]\nsource = \"not-a-repo\"\n[dir]\npath = \"../releases\"\n",
    );
    ctx.write("not-a-repo/README", "no git here\n");
    let out = ctx
        .otactl()
        .args(["release", "--channel", "canary", "--dry-run"])
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert_contains(&stderr(&out), "`source` in otactl.toml");
    assert!(!stderr(&out).contains("--source"), "{}", stderr(&out));
}
