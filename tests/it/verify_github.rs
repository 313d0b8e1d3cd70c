//! `otactl verify` of a GitHub release asset against the local GitHub server
//! (support/github.rs): item 3 asks the API whether the published release of the
//! configured repository holds the asset and whether GitHub's digest is
//! `artifact.sha256`; item 4 downloads the link as a device does, without the token,
//! and through the asset API only when the link answers 404 and a token is set. Every
//! run checks that the token went nowhere but into `Authorization` headers to the API.

use std::process::Output;
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use crate::support::assert::{assert_exit, assert_not_printed};
use crate::support::github::{Fault, GitHubServer, Host, Request, Route};
use crate::support::http::FileServer;
use crate::support::keys::hex;
use crate::support::output::assert_contains;
use crate::support::proc::Running;
use crate::support::release::{Channel, item};
use crate::support::{stderr, stdout};

/// The token of [`World::new`]'s server; it must never be seen anywhere else. Two
/// literals, so that the secret scan of `otactl tar` does not find it in this file.
const SENTINEL: &str = concat!("ghp_", "V3rifyS3ntinelThatMustNeverBeSh0wn789");
/// The repository the channel repository publishes to.
const REPO: &str = "acme/firmware";
/// A fork, where anyone may publish the same bytes.
const FORK: &str = "evil/firmware";
/// `GH_TOKEN` set to the sentinel (the rest of the environment is the hermetic one).
const TOKEN: &[(&str, &str)] = &[("GH_TOKEN", SENTINEL)];
/// No run may take longer (the server stops after two minutes anyway).
const RUN_LIMIT: Duration = Duration::from_secs(90);

/// One test's world: a channel repository (support/release.rs: signed manifests, the
/// source tarball made) and a GitHub server.
struct World {
    c: Channel,
    server: GitHubServer,
}

impl World {
    /// `[github] repo` is [`REPO`] and `[github] api_url` the server, which asks for
    /// [`SENTINEL`].
    fn new() -> World {
        World::with(GitHubServer::with_token(SENTINEL), true)
    }

    /// [`World::new`] with a server that asks for no token, as GitHub reads a public
    /// repository to anyone.
    fn public() -> World {
        World::with(GitHubServer::start(), true)
    }

    /// No `[github]` table in otactl.toml, no `origin` remote.
    fn unconfigured() -> World {
        World::with(GitHubServer::with_token(SENTINEL), false)
    }

    fn with(server: GitHubServer, configured: bool) -> World {
        let c = Channel::new();
        if configured {
            let github = format!(
                "\n[github]\nrepo = \"{REPO}\"\napi_url = \"{}\"\n",
                server.api_base()
            );
            c.ctx
                .write("otactl.toml", c.ctx.read("otactl.toml") + &github);
        }
        World { c, server }
    }

    /// The asset's name: the tarball's.
    fn name(&self) -> String {
        format!("app-src-{}.tar.gz", self.c.id)
    }

    /// The tarball's bytes.
    fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.c.tarball).unwrap()
    }

    /// The download link of the asset in `repo`'s release of the build id.
    fn link(&self, repo: &str) -> String {
        let path = format!("{repo}/releases/download/{}/{}", self.c.id, self.name());
        self.server.api_url(&path)
    }

    /// Adds a release of the build id to `repo` holding `name` with `bytes`; returns
    /// the asset's id.
    fn publish(&self, repo: &str, draft: bool, name: &str, bytes: &[u8], digest: bool) -> u64 {
        let release = self.server.add_release(repo, &self.c.id, draft);
        self.server.add_asset(release, name, bytes, digest)
    }

    /// Writes the signed canary manifest of the tarball, pointing at `repo`'s link.
    fn manifest(&self, repo: &str) {
        self.manifest_at(&self.link(repo));
    }

    /// Writes the signed canary manifest of the tarball, pointing at `url` (the one
    /// before removed: `manifest new` keeps a build id to one artifact).
    fn manifest_at(&self, url: &str) {
        let _ = std::fs::remove_file(self.c.ctx.path("channels/canary/manifest.json"));
        self.c.manifest("canary", url, &self.c.tarball, &[]);
    }

    /// A published release of `repo` holding the asset with `bytes`, and the manifest
    /// of the tarball pointing at it.
    fn release(&self, repo: &str, bytes: &[u8], digest: bool) {
        self.publish(repo, false, &self.name(), bytes, digest);
        self.manifest(repo);
    }

    /// `otactl verify --channel canary EXTRA…` with `env`; checks, whatever the
    /// outcome, that the token was kept (see [`World::assert_token_kept`]).
    fn verify(&self, env: &[(&str, &str)], extra: &[&str]) -> Output {
        let mut cmd = self.c.ctx.otactl();
        cmd.envs(env.iter().copied());
        cmd.args(["verify", "--channel", "canary"]).args(extra);
        let (out, _) = Running::spawn(&mut cmd).wait_for(RUN_LIMIT);
        self.assert_token_kept(&out);
        out
    }

    /// [`World::verify`] with `--format json`: the items.
    fn items(&self, env: &[(&str, &str)], extra: &[&str], code: i32) -> Items {
        let out = self.verify(env, &[extra, &["--format", "json"]].concat());
        assert_exit(&out, code);
        Items::of(&out)
    }

    /// The sentinel is on neither stream, in no file under the test's folder, in no
    /// URL or header but `Authorization` to the API; the objects host (where links
    /// redirect) never got `Authorization`.
    fn assert_token_kept(&self, out: &Output) {
        assert_not_printed(out, &[SENTINEL]);
        let leaks = (
            self.server.saw_text(SENTINEL),
            self.server.redirect_host_saw_authorization(),
        );
        assert_eq!(
            leaks,
            (false, false),
            "(the token in a URL or another header, Authorization to a redirect target)\nstderr:\n{}",
            stderr(out)
        );
        let grep = self
            .c
            .ctx
            .tool("grep")
            .args(["-rlF", SENTINEL])
            .arg(self.c.ctx.root())
            .output()
            .unwrap();
        assert_eq!(grep.status.code(), Some(1), "written: {}", stdout(&grep));
    }

    /// `verify --offline` of the manifest pointing at `url` fails item 3, naming
    /// `found` and `--allow-foreign-artifact`, and asks the server nothing.
    fn assert_foreign_offline(&self, url: &str, found: &str) {
        self.manifest_at(url);
        let items = self.items(TOKEN, &["--offline"], 1);
        items.assert(3, "fail", &[&quoted(found), "`--allow-foreign-artifact`"]);
        items.assert(4, "skip", &["`--offline`"]);
        self.assert_no_request();
    }

    /// No request reached the server.
    fn assert_no_request(&self) {
        let requests = self.server.requests();
        assert!(requests.is_empty(), "{requests:#?}");
    }

    /// The requests that took `route`.
    fn requests_of(&self, route: Route) -> Vec<Request> {
        let all = self.server.requests().into_iter();
        all.filter(|r| r.route() == Some(route)).collect()
    }

    /// The only request that took `route`.
    fn only(&self, route: Route) -> Request {
        let found = self.requests_of(route);
        assert_eq!(found.len(), 1, "{route:?}: {:#?}", self.server.requests());
        found[0].clone()
    }
}

/// The items of `verify --format json`.
struct Items(Vec<serde_json::Value>);

impl Items {
    fn of(out: &Output) -> Items {
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: stdout is not the report:\n{}", stdout(out)));
        Items(report["items"].as_array().unwrap().clone())
    }

    /// Item `number`'s status and reason.
    fn get(&self, number: u64) -> (&str, &str) {
        let found = self.0.iter().find(|i| i["number"] == number).unwrap();
        (
            found["status"].as_str().unwrap(),
            found["reason"].as_str().unwrap(),
        )
    }

    /// Asserts item `number`'s status, and that its reason holds each of `says`.
    fn assert(&self, number: u64, status: &str, says: &[&str]) {
        let (found, reason) = self.get(number);
        assert_eq!(found, status, "item {number}: {reason}");
        for needle in says {
            assert_contains(reason, needle);
        }
    }

    /// Asserts that items `numbers` pass.
    fn assert_pass(&self, numbers: &[u64]) {
        for n in numbers {
            self.assert(*n, "pass", &[]);
        }
    }
}

/// `w` once its repository is private and holds the asset in a published release:
/// the download link answers 404 (it needs a browser session).
fn private(w: World) -> World {
    w.server.set_private(true);
    w.release(REPO, &w.bytes(), true);
    w
}

/// `code`-quoted, as reasons quote names.
fn quoted(text: &str) -> String {
    format!("`{text}`")
}

/// Panics, showing `text`, when `needle` is in it.
fn assert_lacks(text: &str, needle: &str) {
    assert!(!text.contains(needle), "`{needle}` is in:\n{text}");
}

/// The SHA-256 of `bytes`, lowercase hex.
fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

#[test]
fn a_published_asset_whose_github_digest_matches_passes_every_item() {
    let w = World::public();
    w.release(REPO, &w.bytes(), true);
    let out = w.verify(&[], &[]);
    assert_exit(&out, 0);
    assert_eq!(
        item(&out, 3),
        format!(
            "✓ pass  3. asset exists: the release `{}` of `{REPO}` has the asset `{}`, and GitHub's digest equals `artifact.sha256`",
            w.c.id,
            w.name()
        )
    );
    assert!(item(&out, 4).starts_with("✓ pass"), "{}", stdout(&out));
    // The API read, then the link as a device reads it, then its redirect.
    assert_eq!(
        w.server.routes(),
        [Route::ReleaseByTag, Route::Download, Route::Object]
    );
    let items = w.items(&[], &[], 0);
    items.assert_pass(&[1, 2, 3, 4, 5, 6, 7, 8]);
    items.assert(2, "pass", &[&format!("the release tag `{}`", w.c.id)]);
    items.assert(4, "pass", &[&sha256(&w.bytes())]);
    assert!(w.server.requests().iter().all(|r| !r.authorization));
}

#[test]
fn with_gh_token_set_the_api_gets_the_token_and_the_download_link_does_not() {
    let w = World::new();
    w.release(REPO, &w.bytes(), true);
    let items = w.items(TOKEN, &[], 0);
    items.assert_pass(&[2, 3, 4, 5]);
    items.assert(3, "pass", &["GitHub's digest equals `artifact.sha256`"]);
    let api = w.only(Route::ReleaseByTag);
    assert!(api.authorization_matches, "{api:#?}");
    let link = w.only(Route::Download);
    assert!(!link.authorization, "the download link got the token");
    let object = w.only(Route::Object);
    assert_eq!((object.host, object.authorization), (Host::Objects, false));
}

#[test]
fn a_forks_release_of_the_same_bytes_fails_item_3_unless_allowed() {
    let w = World::new();
    w.release(FORK, &w.bytes(), true);
    let items = w.items(TOKEN, &[], 1);
    let (fork, repo) = (quoted(FORK), quoted(REPO));
    items.assert(3, "fail", &[&fork, &repo, "`--allow-foreign-artifact`"]);
    // The bytes are the same: only item 3 tells the fork from the repository.
    items.assert_pass(&[4, 5]);
    let out = w.verify(TOKEN, &[]);
    assert_exit(&out, 1);
    assert_contains(&stderr(&out), "item 3");

    let allowed = w.items(TOKEN, &["--allow-foreign-artifact"], 0);
    allowed.assert(3, "warn", &[&quoted(FORK), "`--allow-foreign-artifact`"]);
    allowed.assert_pass(&[4, 5]);
}

#[test]
fn without_a_configured_repository_item_3_warns_until_origin_names_one() {
    let w = World::unconfigured();
    w.release(REPO, &w.bytes(), true);
    let api = w.server.api_base();
    let flags = ["--api-url", api.as_str()];
    let items = w.items(TOKEN, &flags, 0);
    items.assert(3, "warn", &["`[github] repo`", "GitHub's digest equals"]);
    items.assert_pass(&[4, 5]);

    let origin = format!("{api}/{REPO}.git");
    w.c.ctx
        .run_tool("git", &["remote", "add", "origin", &origin]);
    w.items(TOKEN, &flags, 0).assert_pass(&[3, 4, 5]);
    // The origin now names the repository: a fork's release is foreign.
    w.release(FORK, &w.bytes(), true);
    w.items(TOKEN, &flags, 1)
        .assert(3, "fail", &[&quoted(FORK), &quoted(REPO)]);
}

#[test]
fn a_github_digest_other_than_artifact_sha256_fails_items_3_and_4() {
    let w = World::new();
    let other = b"other bytes under the same name\n";
    w.release(REPO, other, true);
    let items = w.items(TOKEN, &[], 1);
    let ours = sha256(&w.bytes());
    items.assert(3, "fail", &[&quoted(&sha256(other)), &ours]);
    items.assert(4, "fail", &[&sha256(other)]);
}

#[test]
fn a_draft_only_or_a_release_without_the_asset_fails_item_3() {
    let w = World::new();
    w.publish(REPO, true, &w.name(), &w.bytes(), true);
    w.manifest(REPO);
    let items = w.items(TOKEN, &[], 1);
    items.assert(3, "fail", &["no published release", &quoted(&w.c.id)]);
    assert!(w.requests_of(Route::GetAsset).is_empty());

    // A published release of the tag, holding another asset.
    w.publish(REPO, false, "other.bin", b"other", true);
    let out = w.verify(TOKEN, &["-v"]);
    assert_exit(&out, 1);
    assert!(
        item(&out, 3).starts_with("✗ FAIL  3.") && item(&out, 3).contains(&quoted(&w.name())),
        "{}",
        stdout(&out)
    );
    // The listing of the assets is read and traced without its query.
    let listed = w.only(Route::ListAssets);
    assert!(listed.path.contains("per_page="), "{listed:#?}");
    let trace = format!(
        "GET {} -> 200",
        w.server.api_url(listed.path.split('?').next().unwrap())
    );
    assert_contains(&stderr(&out), &trace);
    assert_lacks(&stderr(&out), "per_page");
}

#[test]
fn a_private_repositorys_asset_downloads_through_the_asset_api_with_the_token() {
    let w = private(World::new());
    let items = w.items(TOKEN, &[], 0);
    items.assert_pass(&[3, 4, 5]);
    items.assert(4, "pass", &["through the asset API"]);
    let link = w.only(Route::Download);
    assert!(!link.authorization, "the download link got the token");
    let asset = w.only(Route::GetAsset);
    assert_eq!(asset.accept.as_deref(), Some("application/octet-stream"));
    assert!(asset.authorization_matches, "{asset:#?}");
    let object = w.only(Route::Object);
    assert!(!object.authorization, "the signed URL got the token");
}

#[test]
fn without_a_token_a_private_repositorys_asset_is_an_error_naming_gh_token() {
    let w = private(World::new());
    let items = w.items(&[], &[], 3);
    items.assert(3, "error", &["401", "`GH_TOKEN`"]);
    assert!(w.requests_of(Route::GetAsset).is_empty());
}

#[test]
fn a_private_link_that_answers_404_without_a_token_fails_item_4() {
    let w = private(World::public());
    let items = w.items(&[], &[], 1);
    items.assert(3, "pass", &["GitHub's digest equals"]);
    items.assert(4, "fail", &["404"]);
    assert!(w.requests_of(Route::GetAsset).is_empty());
}

#[test]
fn an_asset_without_a_github_digest_is_hashed_by_item_4() {
    let w = World::new();
    w.release(REPO, &w.bytes(), false);
    let items = w.items(TOKEN, &[], 0);
    items.assert(3, "pass", &["GitHub gives no digest"]);
    items.assert(4, "pass", &[&sha256(&w.bytes())]);
}

#[test]
fn the_api_failing_past_every_retry_is_an_item_3_error_exit_3() {
    let w = World::new();
    w.release(REPO, &w.bytes(), true);
    w.server.inject(
        Route::ReleaseByTag,
        std::iter::repeat_n(Fault::Status(500), 6),
    );
    let out = w.verify(TOKEN, &[]);
    assert_exit(&out, 3);
    assert!(item(&out, 3).starts_with("? error 3."), "{}", stdout(&out));
    assert_contains(&item(&out, 3), "500");
    assert_eq!(w.requests_of(Route::ReleaseByTag).len(), 4, "4 attempts");
    // The link still downloads: the hint blames the API, not the download.
    assert!(item(&out, 4).starts_with("✓ pass"), "{}", stdout(&out));
    let hint = "hint: the artifact was downloaded, but GitHub's API could not be asked about its release (item 3)";
    assert_contains(&stderr(&out), hint);
    assert_lacks(&stderr(&out), "could not be downloaded");
}

#[test]
fn offline_asks_nothing_yet_a_forks_release_still_fails_item_3() {
    let w = World::new();
    w.release(REPO, &w.bytes(), true);
    let items = w.items(TOKEN, &["--offline"], 0);
    for n in [3, 4, 5] {
        items.assert(n, "skip", &["`--offline`"]);
    }
    w.assert_foreign_offline(&w.link(FORK), FORK);
}

/// A link on github.com is a GitHub release link whatever the API URL (GitHub
/// Enterprise here): a release there is not the configured repository's, even under
/// the same name.
#[test]
fn a_release_on_github_com_is_foreign_when_the_api_is_elsewhere() {
    let w = World::new();
    for repo in [FORK, REPO] {
        let tail = format!("releases/download/{}/{}", w.c.id, w.name());
        let url = format!("https://github.com/{repo}/{tail}");
        w.assert_foreign_offline(&url, &format!("github.com/{repo}"));
    }
}

#[test]
fn the_token_is_never_printed_traced_sent_in_a_url_or_written() {
    let w = World::new();
    w.release(REPO, &w.bytes(), true);
    let out = w.verify(TOKEN, &["-v"]);
    assert_exit(&out, 0);
    let tags = w
        .server
        .api_url(&format!("repos/{REPO}/releases/tags/{}", w.c.id));
    assert_contains(&stderr(&out), &format!("GET {tags} -> 200"));
    let printed = stderr(&out);
    let traces: Vec<&str> = printed.lines().filter(|l| l.contains(" -> ")).collect();
    assert!(traces.len() >= 3, "{printed}");
    assert!(traces.iter().all(|l| !l.contains('?')), "{traces:#?}");
    w.items(TOKEN, &["-v"], 0).assert_pass(&[3, 4, 5]);
    let summary = w.c.ctx.root().join("step-summary.md");
    let out = w.verify(
        &[TOKEN[0], ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
        &["--format", "github"],
    );
    assert_exit(&out, 0);
    assert!(summary.exists(), "no summary written");
    assert!(!w.server.saw_text(SENTINEL));
    // The API got the token on every call of every run.
    let api = w.requests_of(Route::ReleaseByTag);
    assert_eq!(api.len(), 3);
    assert!(api.iter().all(|r| r.authorization_matches));
}

#[test]
fn an_artifact_on_another_web_server_never_gets_the_token() {
    let w = World::new();
    let path = format!("{REPO}/releases/download/{}/{}", w.c.id, w.name());
    let web = w.c.ctx.root().join("web");
    std::fs::create_dir_all(web.join(&path).parent().unwrap()).unwrap();
    std::fs::copy(&w.c.tarball, web.join(&path)).unwrap();
    let plain = FileServer::start(web.clone());
    w.manifest_at(&plain.url(&path));
    let items = w.items(TOKEN, &[], 0);
    items.assert(3, "pass", &["is there"]);
    items.assert_pass(&[4, 5]);
    // Not a GitHub link: nothing asks the API, and a 404 has no asset API to fall on.
    std::fs::remove_file(web.join(&path)).unwrap();
    w.items(TOKEN, &[], 1).assert(3, "fail", &["404"]);
    assert_eq!(plain.requests().len(), 2, "{:?}", plain.requests());
    assert!(
        plain.saw_header("host"),
        "the web server recorded no header"
    );
    assert!(
        !plain.saw_header("authorization"),
        "the web server got Authorization"
    );
    w.assert_no_request();
}
