//! `otactl publish github` against the local GitHub server (support/github.rs): the
//! release found or made as a draft, the upload, the publication last; re-runs that
//! converge, refusals that leave the release as it was, retries that never leave a
//! duplicate or a partial asset, and a token that goes only where it must. Each test
//! asserts the server's final state (releases, assets, digests, draft flag), not only
//! the exit code.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::support::assert::{assert_exit, assert_exit_case, assert_not_printed};
use crate::support::fixture::ID;
use crate::support::github::{AssetState, Fault, GitHubServer, Host, Release, Request, Route};
use crate::support::keys::hex;
use crate::support::output::assert_contains;
use crate::support::proc::Running;
use crate::support::{TestContext, stderr, stdout};

/// The token every server asks for; it must never be seen anywhere else. Made of two
/// literals so that the secret scan of `otactl tar` does not find it in this file.
const SENTINEL: &str = concat!("ghp_", "S3ntinelT0kenThatMustNeverBeSh0wn123");
const REPO: &str = "acme/firmware";
/// The release tag: the build id.
const TAG: &str = ID;
const NAME: &str = "app-src-20260115-1614-9121078.tar.gz";
const BYTES: &[u8] = b"release bytes\n";
/// `printf 'release bytes\n' | sha256sum`
const SHA: &str = "fee19ee9931cf7f5f2b8321a7cfd6195ef12910d804847cc1c689ce3831922ef";

/// No run may take longer (the server stops after two minutes anyway): a publish that
/// waits out an hour's rate limit fails here.
const RUN_LIMIT: Duration = Duration::from_secs(90);

/// The routes that change a release.
const CHANGES: [Route; 4] = [
    Route::CreateRelease,
    Route::UploadAsset,
    Route::UpdateRelease,
    Route::DeleteAsset,
];

/// Files larger than this are compared by size only (the 2 GiB sparse file).
const COMPARED_BYTES: u64 = 64 * 1024 * 1024;

/// `publish github --format json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishedJson {
    target: String,
    url: String,
    asset_id: u64,
    sha256: String,
    size: u64,
    already_there: bool,
}

/// The child's token: `GH_TOKEN` set to the sentinel. The rest of its environment is
/// the hermetic one, without `GH_TOKEN`, `GITHUB_TOKEN` or `GITHUB_API_URL`.
const GH_TOKEN: &[(&str, &str)] = &[("GH_TOKEN", SENTINEL)];

/// One test's world: a working folder holding `dist/<NAME>`, and a server asking for
/// [`SENTINEL`].
struct World {
    ctx: TestContext,
    server: GitHubServer,
}

impl World {
    fn new() -> World {
        let ctx = TestContext::new();
        ctx.write(&format!("dist/{NAME}"), BYTES);
        World {
            ctx,
            server: GitHubServer::with_token(SENTINEL),
        }
    }

    /// A release of [`TAG`] in [`REPO`] in the server's starting state.
    fn release(&self, draft: bool) -> u64 {
        self.server.add_release(REPO, TAG, draft)
    }

    /// `FILE --tag TAG --repo REPO --api-url <server>` for a file of `dist/`.
    fn args(&self, name: &str) -> Vec<String> {
        [
            &format!("dist/{name}"),
            "--tag",
            TAG,
            "--repo",
            REPO,
            "--api-url",
            &self.server.api_base(),
        ]
        .map(str::to_owned)
        .to_vec()
    }

    /// `otactl publish github dist/<NAME> --tag TAG --repo REPO --api-url … EXTRA…`
    /// with `GH_TOKEN` set to the sentinel.
    fn publish(&self, extra: &[&str]) -> Output {
        self.publish_file(NAME, extra)
    }

    /// [`World::publish`] of another file of `dist/`.
    fn publish_file(&self, name: &str, extra: &[&str]) -> Output {
        let mut args = self.args(name);
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        self.run(GH_TOKEN, &args)
    }

    /// `otactl publish github ARGS…` with `env`; see [`World::run_timed`].
    fn run(&self, env: &[(&str, &str)], args: &[String]) -> Output {
        self.run_timed(env, args).0
    }

    /// `otactl publish github ARGS…` with `env` added to the hermetic environment, in
    /// the working folder; returns its output and how long it ran. Checks, whatever
    /// the outcome, that the token went nowhere but into `Authorization` headers to
    /// the API and upload hosts, and, when it failed, that no local file changed.
    fn run_timed(&self, env: &[(&str, &str)], args: &[String]) -> (Output, Duration) {
        let before = contents(self.ctx.root());
        let mut cmd = self.ctx.otactl();
        cmd.envs(env.iter().copied());
        cmd.args(["publish", "github"]).args(args);
        let (out, elapsed) = Running::spawn(&mut cmd).wait_for(RUN_LIMIT);
        self.assert_token_kept(&out);
        if !out.status.success() {
            assert_eq!(
                outside_git(contents(self.ctx.root())),
                outside_git(before),
                "a failed publish changed local files\nstderr:\n{}",
                stderr(&out)
            );
        }
        (out, elapsed)
    }

    /// The sentinel is on neither stream, in no file of the test's folder, in no URL
    /// or header but `Authorization`; no request to the objects host had
    /// `Authorization`.
    fn assert_token_kept(&self, out: &Output) {
        assert_not_printed(out, &[SENTINEL]);
        for (path, bytes) in contents(self.ctx.root()) {
            assert!(
                !bytes
                    .windows(SENTINEL.len())
                    .any(|w| w == SENTINEL.as_bytes()),
                "the token was written to {path}"
            );
        }
        assert!(
            !self.server.saw_text(SENTINEL),
            "the token was sent in a URL or in a header other than Authorization\nstderr:\n{}",
            stderr(out)
        );
        assert!(
            !self.server.redirect_host_saw_authorization(),
            "the objects host (a redirect target) got an Authorization header\nstderr:\n{}",
            stderr(out)
        );
    }

    /// The route of each request received from the `from`-th on.
    fn routes_from(&self, from: usize) -> Vec<Route> {
        self.server.routes().split_off(from)
    }

    /// Queues one fault for the next call of `route`.
    fn inject(&self, route: Route, fault: Fault) {
        self.server.inject(route, [fault]);
    }

    /// The requests that took `route`.
    fn requests_of(&self, route: Route) -> Vec<Request> {
        let mut requests = self.server.requests();
        requests.retain(|r| r.route() == Some(route));
        requests
    }

    /// How many requests took `route`.
    fn count(&self, route: Route) -> usize {
        self.server.routes().iter().filter(|r| **r == route).count()
    }

    /// The JSON body of the only request that took `route`.
    fn only_json(&self, route: Route) -> serde_json::Value {
        let bodies: Vec<serde_json::Value> = self
            .requests_of(route)
            .into_iter()
            .map(|r| r.json.unwrap_or_default())
            .collect();
        assert_eq!(bodies.len(), 1, "{route:?}: {bodies:?}");
        bodies[0].clone()
    }

    /// The release's browser download URL of an asset of [`TAG`] in [`REPO`].
    fn download_url(&self, name_in_url: &str) -> String {
        self.server
            .api_url(&format!("{REPO}/releases/download/{TAG}/{name_in_url}"))
    }

    /// No request reached the server.
    fn assert_no_request(&self) {
        let requests = self.server.requests();
        assert!(requests.is_empty(), "{requests:#?}");
    }

    /// Nothing was uploaded, deleted, created or published.
    fn assert_nothing_changed(&self) {
        self.assert_no_change_from(0);
    }

    /// No request from the `from`-th on uploaded, deleted, created or published.
    fn assert_no_change_from(&self, from: usize) {
        let routes = self.routes_from(from);
        assert!(!routes.iter().any(|r| CHANGES.contains(r)), "{routes:?}");
    }

    /// `publish` of `dist/<name>`, which must succeed, print the download URL and leave
    /// the file published once (see [`World::assert_published`]); returns the release.
    fn publish_ok(&self, name: &str) -> Release {
        let out = self.publish_file(name, &[]);
        assert_exit(&out, 0);
        assert_eq!(stdout(&out), format!("{}\n", self.download_url(name)));
        let bytes = std::fs::read(self.ctx.path(&format!("dist/{name}"))).unwrap();
        self.assert_published(name, &bytes)
    }

    /// `publish` of `dist/<name>`, which must exit `code` with `says` on stderr,
    /// nothing on stdout, and change no release.
    fn assert_refused(&self, name: &str, code: i32, says: &str) -> Output {
        let out = self.publish_file(name, &[]);
        assert_exit(&out, code);
        assert_contains(&stderr(&out), says);
        assert_eq!(stdout(&out), "", "a refused publish printed a URL");
        self.assert_nothing_changed();
        out
    }

    /// The one release of [`TAG`]: published, in [`REPO`], holding one uploaded asset
    /// `name` with `bytes` and their digest.
    fn assert_published(&self, name: &str, bytes: &[u8]) -> Release {
        let releases: Vec<Release> = self
            .server
            .releases()
            .into_iter()
            .filter(|r| r.tag_name == TAG)
            .collect();
        assert_eq!(releases.len(), 1, "{releases:#?}");
        let release = releases[0].clone();
        assert_eq!(release.repo, REPO);
        assert!(!release.draft, "the release stayed a draft: {release:#?}");
        assert_eq!(release.assets.len(), 1, "{release:#?}");
        let asset = &release.assets[0];
        assert_eq!(
            (asset.name.as_str(), asset.state, asset.size),
            (name, AssetState::Uploaded, bytes.len() as u64)
        );
        assert_eq!(asset.digest, Some(digest_of(bytes)));
        assert_eq!(self.server.asset_bytes(asset.id), bytes);
        release
    }

    /// A published release of [`TAG`] already holding [`NAME`] with `bytes`; returns
    /// the asset's id.
    fn with_existing_asset(&self, bytes: &[u8], with_digest: bool) -> u64 {
        let release = self.release(false);
        self.server.add_asset(release, NAME, bytes, with_digest)
    }

    /// The asset [`NAME`] is still the one `asset_id` with `bytes`, and their digest
    /// when `with_digest` (else `null`).
    fn assert_asset_kept(&self, asset_id: u64, bytes: &[u8], with_digest: bool) {
        let digest = with_digest.then(|| digest_of(bytes));
        let releases = self.server.releases();
        let assets: Vec<_> = releases.iter().flat_map(|r| r.assets.iter()).collect();
        assert_eq!(assets.len(), 1, "{assets:#?}");
        assert_eq!((assets[0].id, &assets[0].digest), (asset_id, &digest));
        assert_eq!(self.server.asset_bytes(asset_id), bytes);
    }
}

/// GitHub's `digest` of `bytes`.
fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

/// `args` without `flag` and its value.
fn without(mut args: Vec<String>, flag: &str) -> Vec<String> {
    let at = args.iter().position(|a| a == flag).unwrap();
    args.drain(at..at + 2);
    args
}

/// Every file under `dir` (hidden ones included) and its bytes; a file larger than
/// [`COMPARED_BYTES`] by its size only.
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, found: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            if meta.is_dir() {
                walk(root, &path, found);
            } else if meta.len() > COMPARED_BYTES {
                found.insert(rel, format!("<{} bytes>", meta.len()).into_bytes());
            } else if meta.is_file() {
                found.insert(rel, std::fs::read(&path).unwrap());
            } else {
                found.insert(rel, Vec::new());
            }
        }
    }
    let mut found = BTreeMap::new();
    walk(dir, dir, &mut found);
    found
}

/// The entries of [`contents`] outside `.git` folders (which git itself may touch,
/// refreshing its index).
fn outside_git(mut files: BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    files.retain(|path, _| !path.split('/').any(|part| part == ".git"));
    files
}

fn json(out: &Output) -> PublishedJson {
    assert_exit(out, 0);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: stdout is not the JSON object:\n{}", stdout(out)))
}

/// The id of the release's only asset.
fn only_asset_id(release: &Release) -> u64 {
    assert_eq!(release.assets.len(), 1, "{release:#?}");
    release.assets[0].id
}

/// A `-v` trace line `METHOD URL -> STATUS` is on stderr.
fn assert_traced(out: &Output, trace: &str) {
    assert_contains(&stderr(out), trace);
}

#[test]
fn first_publish_creates_a_draft_uploads_then_publishes_and_prints_the_download_url() {
    let world = World::new();
    let out = world.publish(&[]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), format!("{}\n", world.download_url(NAME)));
    assert!(!stdout(&out).contains("untagged-"), "{}", stdout(&out));
    let release = world.assert_published(NAME, BYTES);
    assert_eq!(
        (release.name.as_str(), release.target_commitish.as_str()),
        (TAG, "main")
    );

    // Draft first, the upload, the publication last, then the release read again
    // for its download URL.
    let routes = world.server.routes();
    let changes: Vec<Route> = routes
        .iter()
        .copied()
        .filter(|r| CHANGES.contains(r))
        .collect();
    assert_eq!(
        changes,
        [
            Route::CreateRelease,
            Route::UploadAsset,
            Route::UpdateRelease
        ]
    );
    let published_at = routes
        .iter()
        .position(|r| *r == Route::UpdateRelease)
        .unwrap();
    assert!(
        routes[published_at..].contains(&Route::GetRelease),
        "the release is not read again after it is published: {routes:?}"
    );
    let created = world.only_json(Route::CreateRelease);
    assert_eq!(
        (&created["tag_name"], &created["name"], &created["draft"]),
        (&TAG.into(), &TAG.into(), &true.into()),
        "{created}"
    );
    assert!(created["target_commitish"].is_null(), "{created}");
    assert_eq!(world.only_json(Route::UpdateRelease)["draft"], false);
    assert_eq!(
        world.requests_of(Route::UploadAsset)[0].path,
        format!("/repos/{REPO}/releases/{}/assets?name={NAME}", release.id)
    );
    // Every API and upload request carried the token, and only those.
    for request in world.server.requests() {
        assert_eq!(
            request.authorization_matches,
            request.host != Host::Objects,
            "{request:?}"
        );
    }
}

#[test]
fn title_and_target_go_into_the_created_draft() {
    let world = World::new();
    let out = world.publish(&["--title", "Firmware 1.2 (EVSE)", "--target", "release/1.2"]);
    assert_exit(&out, 0);
    let created = world.only_json(Route::CreateRelease);
    assert_eq!(created["name"], "Firmware 1.2 (EVSE)", "{created}");
    assert_eq!(created["target_commitish"], "release/1.2", "{created}");
    assert_eq!(created["draft"], true, "{created}");
    let release = world.assert_published(NAME, BYTES);
    assert_eq!(release.name, "Firmware 1.2 (EVSE)");
    assert_eq!(release.target_commitish, "release/1.2");
}

#[test]
fn a_rerun_with_the_same_file_uploads_nothing_and_says_already_there() {
    let world = World::new();
    let first = json(&world.publish(&["--format", "json"]));
    let release = world.assert_published(NAME, BYTES);
    let asset_id = only_asset_id(&release);
    assert_eq!(first.url, world.download_url(NAME));
    assert_eq!(
        (first.asset_id, first.sha256.as_str(), first.size),
        (asset_id, SHA, BYTES.len() as u64)
    );
    assert!(!first.already_there);
    assert_eq!(first.target, "github");

    let before = world.server.routes().len();
    let again = json(&world.publish(&["--format", "json"]));
    assert!(again.already_there);
    assert_eq!(
        (again.url, again.asset_id, again.sha256, again.size),
        (first.url, first.asset_id, first.sha256, first.size)
    );
    world.assert_no_change_from(before);
    assert_eq!(
        only_asset_id(&world.assert_published(NAME, BYTES)),
        asset_id
    );
}

/// [`NAME`] is already there with other bytes (and their digest, or `null`): the
/// publish exits 4 naming it, prints no URL, and the old asset stays.
fn assert_other_bytes_refused(with_digest: bool) {
    let world = World::new();
    let old = b"the bytes published before\n";
    let asset_id = world.with_existing_asset(old, with_digest);
    world.assert_refused(NAME, 4, NAME);
    world.assert_asset_kept(asset_id, old, with_digest);
}

#[test]
fn a_different_file_under_the_same_name_is_refused_with_exit_4_and_the_asset_stays() {
    assert_other_bytes_refused(true);
}

#[test]
fn an_asset_without_digest_holding_other_bytes_is_refused_with_exit_4() {
    assert_other_bytes_refused(false);
}

#[test]
fn an_asset_without_digest_holding_the_same_bytes_is_downloaded_hashed_and_accepted() {
    let world = World::new();
    let asset_id = world.with_existing_asset(BYTES, false);
    // The browser link needs a session: the bytes come through the asset API.
    world.server.set_private(true);
    let out = world.publish(&["--format", "json", "-v"]);
    let published = json(&out);
    assert!(published.already_there);
    assert_eq!(
        (published.asset_id, published.sha256.as_str()),
        (asset_id, SHA)
    );
    assert_eq!(published.url, world.download_url(NAME));
    world.assert_asset_kept(asset_id, BYTES, false);
    world.assert_nothing_changed();
    let raw = world.requests_of(Route::GetAsset);
    assert!(
        raw.iter().any(
            |r| r.path == format!("/repos/{REPO}/releases/assets/{asset_id}")
                && r.accept.as_deref() == Some("application/octet-stream")
        ),
        "{raw:#?}"
    );
    let objects: Vec<bool> = world
        .server
        .requests()
        .iter()
        .filter(|r| r.host == Host::Objects)
        .map(|r| r.authorization)
        .collect();
    assert!(
        !objects.is_empty() && !objects.contains(&true),
        "{objects:?}"
    );
    // The signed URL is a secret of its own: no trace shows its query.
    assert!(
        !stderr(&out).contains("X-Amz-Signature"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_existing_draft_with_the_tag_is_reused_not_duplicated() {
    let world = World::new();
    // Another release, published, which must stay as it is.
    let other = world
        .server
        .add_release(REPO, "20251201-0930-1a2b3c4", false);
    let draft = world.release(true);
    assert_eq!(world.publish_ok(NAME).id, draft);
    assert_eq!(world.count(Route::CreateRelease), 0);
    let releases = world.server.releases();
    assert_eq!(releases.len(), 2);
    let kept = releases.iter().find(|r| r.id == other).unwrap();
    assert!(!kept.draft && kept.assets.is_empty(), "{kept:#?}");
}

#[test]
fn a_draft_already_holding_the_file_is_published_without_uploading() {
    let world = World::new();
    let draft = world.release(true);
    let asset_id = world.server.add_asset(draft, NAME, BYTES, true);
    let published = json(&world.publish(&["--format", "json"]));
    assert!(published.already_there);
    assert_eq!(published.asset_id, asset_id);
    assert_eq!(published.url, world.download_url(NAME));
    assert_eq!(world.assert_published(NAME, BYTES).id, draft);
    assert_eq!(world.count(Route::UploadAsset), 0);
    assert_eq!(world.only_json(Route::UpdateRelease)["draft"], false);
}

#[test]
fn two_releases_with_the_tag_are_refused_with_exit_4_naming_both_ids() {
    for drafts in [[true, true], [false, true]] {
        let world = World::new();
        let ids = drafts.map(|draft| world.release(draft));
        let out = world.publish(&[]);
        let case = format!("drafts {drafts:?}");
        assert_exit_case(&out, 4, &case);
        for id in ids {
            assert_contains(&stderr(&out), &id.to_string());
        }
        world.assert_nothing_changed();
        let releases = world.server.releases();
        let state: Vec<(u64, bool, usize)> = releases
            .iter()
            .map(|r| (r.id, r.draft, r.assets.len()))
            .collect();
        assert_eq!(
            state,
            [(ids[0], drafts[0], 0), (ids[1], drafts[1], 0)],
            "{case}"
        );
    }
}

#[test]
fn a_502_on_an_upload_that_took_effect_ends_with_one_asset_and_success() {
    let world = World::new();
    world.inject(Route::UploadAsset, Fault::ApplyThen(502));
    world.publish_ok(NAME);
    assert_eq!(world.count(Route::CreateRelease), 1);
    assert_eq!(world.count(Route::DeleteAsset), 0);
}

#[test]
fn a_502_on_creating_the_release_that_took_effect_does_not_make_a_second_one() {
    let world = World::new();
    world.inject(Route::CreateRelease, Fault::ApplyThen(502));
    // A publication answered 502 after it took effect is simply done.
    world.inject(Route::UpdateRelease, Fault::ApplyThen(502));
    world.publish_ok(NAME);
    assert_eq!(world.server.releases().len(), 1);
}

#[test]
fn an_upload_dropped_midway_is_retried_after_deleting_the_starter_asset() {
    let world = World::new();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    world.ctx.write("dist/fw.bin", &big);
    world.inject(Route::UploadAsset, Fault::StopUploadAfter(1000));
    let release = world.publish_ok("fw.bin");
    // The starter asset the cut upload left was deleted, not the new one.
    let deleted: Vec<String> = world
        .requests_of(Route::DeleteAsset)
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert!(
        !deleted[0].ends_with(&format!("/{}", only_asset_id(&release))),
        "{deleted:?}"
    );
}

#[test]
fn a_starter_asset_left_by_an_earlier_run_is_deleted_and_the_upload_done() {
    let world = World::new();
    let draft = world.release(true);
    let starter = world.server.add_starter_asset(draft, NAME);
    let release = world.publish_ok(NAME);
    assert_eq!(release.id, draft);
    assert_ne!(only_asset_id(&release), starter);
    let deleted: Vec<String> = world
        .requests_of(Route::DeleteAsset)
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(
        deleted,
        [format!("/repos/{REPO}/releases/assets/{starter}")]
    );
}

#[test]
fn rate_limits_with_retry_after_are_waited_out_and_the_publish_succeeds() {
    let world = World::new();
    world.inject(Route::ListReleases, Fault::SecondaryRateLimit);
    world.inject(Route::UpdateRelease, Fault::TooManyRequests);
    let (out, elapsed) = world.run_timed(GH_TOKEN, &world.args(NAME));
    assert_exit(&out, 0);
    world.assert_published(NAME, BYTES);
    assert!(world.count(Route::ListReleases) >= 2);
    assert_eq!(world.count(Route::UpdateRelease), 2);
    // `retry-after: 1` was honoured.
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
}

/// The request that took `route` was made once, and no request came after it.
fn assert_stopped_at(world: &World, route: Route) {
    let requests = world.server.requests();
    assert_eq!(world.count(route), 1, "{requests:#?}");
    assert_eq!(
        requests.last().and_then(Request::route),
        Some(route),
        "{requests:#?}"
    );
}

#[test]
fn a_plain_403_fails_at_once_with_exit_3_naming_gh_token() {
    let world = World::new();
    world.inject(Route::ListReleases, Fault::Forbidden);
    let out = world.publish(&["-v"]);
    assert_exit(&out, 3);
    assert_contains(&stderr(&out), "GH_TOKEN");
    assert_stopped_at(&world, Route::ListReleases);
    assert!(world.server.releases().is_empty());
}

#[test]
fn a_401_fails_at_once_with_exit_3_naming_github_token_when_only_that_is_set() {
    let world = World::new();
    let wrong = concat!("ghp_", "WrongTokenValueWrongTokenValue123456");
    let out = world.run(&[("GITHUB_TOKEN", wrong)], &world.args(NAME));
    assert_exit(&out, 3);
    assert_contains(&stderr(&out), "GITHUB_TOKEN");
    assert_not_printed(&out, &[wrong]);
    let requests = world.server.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert!(requests[0].authorization && !requests[0].authorization_matches);
    assert!(world.server.releases().is_empty());
}

#[test]
fn a_primary_rate_limit_reset_an_hour_away_fails_at_once_with_exit_3_saying_when() {
    let world = World::new();
    world.inject(
        Route::ListReleases,
        Fault::PrimaryRateLimit { reset_in: 3600 },
    );
    let started = now_epoch();
    let out = world.publish(&["-v"]);
    let ended = now_epoch();
    assert_exit(&out, 3);
    assert_stopped_at(&world, Route::ListReleases);
    let err = stderr(&out);
    assert_contains(&err, "rate limit");
    assert!(
        says_when(&err, started + 3600, ended + 3600),
        "stderr does not say when to retry (the reset is an hour away):\n{err}"
    );
}

fn now_epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Whether `text` says when a rate limit resets, between the epochs `from` and `to`:
/// as the time of day in UTC (`HH:MM`), or as a wait of about an hour (`60 min`,
/// `59 minutes`, `1 hour`, `1h`).
fn says_when(text: &str, from: u64, to: u64) -> bool {
    let clock = (from / 60..=to / 60 + 1).any(|minute| {
        let of_day = minute % (24 * 60);
        text.contains(&format!("{:02}:{:02}", of_day / 60, of_day % 60))
    });
    let wait = ["60 min", "59 min", "60m", "59m", "1 hour", "1h", "an hour"]
        .iter()
        .any(|w| text.contains(w));
    clock || wait
}

#[test]
fn a_500_and_a_dropped_answer_on_reads_are_retried() {
    let world = World::new();
    world.inject(Route::ListReleases, Fault::Status(500));
    world.inject(Route::GetRelease, Fault::DropMidBody);
    world.publish_ok(NAME);
    assert!(world.count(Route::ListReleases) >= 2);
    assert!(world.count(Route::GetRelease) >= 2);
    assert_eq!(world.count(Route::CreateRelease), 1);
}

#[test]
fn a_name_outside_the_safe_characters_is_refused_before_any_request() {
    let world = World::new();
    for name in [
        "fw image.bin",
        "fw#1.bin",
        "fw~1.bin",
        "fw,1.bin",
        "fw(1).bin",
        "fw%41.bin",
    ] {
        world.ctx.write(&format!("dist/{name}"), BYTES);
        let out = world.publish_file(name, &[]);
        assert_exit_case(&out, 2, name);
        assert_contains(&stderr(&out), name);
    }
    world.assert_no_request();
}

#[test]
fn a_name_with_plus_underscore_dot_and_dash_is_uploaded_under_that_exact_name() {
    let world = World::new();
    let name = "fw_1.2+build-7.bin";
    world.ctx.write(&format!("dist/{name}"), BYTES);
    let out = world.publish_file(name, &[]);
    assert_exit(&out, 0);
    world.assert_published(name, BYTES);
    // The link as the server gives it (`+` escaped).
    assert_eq!(
        stdout(&out),
        format!("{}\n", world.download_url("fw_1.2%2Bbuild-7.bin"))
    );
}

#[test]
fn a_file_of_2_gib_is_refused_before_any_upload() {
    let world = World::new();
    let path = world.ctx.path("dist/big.bin");
    // Sparse: costs no disk.
    std::fs::File::create(&path)
        .unwrap()
        .set_len(1 << 31)
        .unwrap();
    let out = world.assert_refused("big.bin", 2, "2 GiB");
    assert_contains(&stderr(&out), "big.bin");
    assert!(world.server.releases().is_empty());
}

#[test]
fn a_release_holding_1000_assets_is_refused_with_exit_4_before_uploading() {
    let world = World::new();
    let release = world.release(false);
    world.server.add_placeholder_assets(release, 1000);
    world.assert_refused(NAME, 4, "1000");
    let releases = world.server.releases();
    assert_eq!(releases[0].assets.len(), 1000);
    assert!(releases[0].assets.iter().all(|a| a.name != NAME));
}

#[test]
fn an_immutable_published_release_without_the_asset_is_refused_saying_use_a_new_build_id() {
    let world = World::new();
    let release = world.release(false);
    world.server.set_immutable(release, true);
    world.assert_refused(NAME, 4, "new build id");
    assert!(world.server.releases()[0].assets.is_empty());
}

#[test]
fn an_immutable_release_already_holding_the_same_file_is_success() {
    let world = World::new();
    let asset_id = world.with_existing_asset(BYTES, true);
    world
        .server
        .set_immutable(world.server.releases()[0].id, true);
    let published = json(&world.publish(&["--format", "json"]));
    assert!(published.already_there);
    assert_eq!(published.asset_id, asset_id);
    world.assert_published(NAME, BYTES);
    world.assert_nothing_changed();
}

#[test]
fn no_token_is_a_usage_error_before_any_request() {
    let world = World::new();
    let out = world.run(&[], &world.args(NAME));
    assert_exit(&out, 2);
    assert_contains(&stderr(&out), "GH_TOKEN");
    world.assert_no_request();
}

#[test]
fn the_token_never_shows_in_output_traces_urls_headers_files_or_redirects() {
    let world = World::new();
    // An upload, traced.
    let out = world.publish(&["-v"]);
    assert_exit(&out, 0);
    let release = world.assert_published(NAME, BYTES).id;
    assert_traced(
        &out,
        &format!(
            "POST {} -> 201",
            world
                .server
                .upload_url(&format!("repos/{REPO}/releases/{release}/assets"))
        ),
    );
    assert_traced(
        &out,
        &format!(
            "PATCH {} -> 200",
            world
                .server
                .api_url(&format!("repos/{REPO}/releases/{release}"))
        ),
    );
    // Traces carry no query string.
    for query in ["?name=", "per_page="] {
        assert!(!stderr(&out).contains(query), "{}", stderr(&out));
    }
    // A download through the asset API and its redirect, traced: the token goes with
    // the first request and not to the objects host (checked by every run).
    world.ctx.write("dist/old.bin", b"old bytes\n");
    world
        .server
        .add_asset(release, "old.bin", b"old bytes\n", false);
    let out = world.publish_file("old.bin", &["-v"]);
    assert_exit(&out, 0);
    assert!(
        world
            .server
            .requests()
            .iter()
            .any(|r| r.host == Host::Objects),
        "the bytes were not fetched from the objects host"
    );
}

#[test]
fn gh_token_wins_over_github_token() {
    let world = World::new();
    let other = concat!("ghp_", "OtherTokenValueOtherTokenValue123456");
    let out = world.run(
        &[("GITHUB_TOKEN", other), ("GH_TOKEN", SENTINEL)],
        &world.args(NAME),
    );
    assert_exit(&out, 0);
    world.assert_published(NAME, BYTES);
    assert!(
        world
            .server
            .requests()
            .iter()
            .all(|r| r.host == Host::Objects || r.authorization_matches)
    );
    assert!(!world.server.saw_text(other));
}

#[test]
fn the_repository_comes_from_github_repo_in_otactl_toml_and_the_flag_wins() {
    let world = World::new();
    world
        .ctx
        .write("otactl.toml", format!("[github]\nrepo = \"{REPO}\"\n"));
    let args = without(world.args(NAME), "--repo");
    assert_exit(&world.run(GH_TOKEN, &args), 0);
    world.assert_published(NAME, BYTES);

    let flagged = [args, vec!["--repo".to_owned(), "acme/flagged".to_owned()]].concat();
    assert_exit(&world.run(GH_TOKEN, &flagged), 0);
    let repos: Vec<String> = world
        .server
        .releases()
        .into_iter()
        .map(|r| r.repo)
        .collect();
    assert_eq!(repos, [REPO, "acme/flagged"]);
}

/// `otactl.toml` naming the server as `[github] api_url`, and `git init` with an
/// `origin` remote `url`; returns `FILE --tag TAG`, the arguments left.
fn with_origin(world: &World, url: &str) -> Vec<String> {
    world.ctx.write(
        "otactl.toml",
        format!("[github]\napi_url = \"{}\"\n", world.server.api_base()),
    );
    world.ctx.git_init();
    world.ctx.run_tool("git", &["remote", "add", "origin", url]);
    without(without(world.args(NAME), "--repo"), "--api-url")
}

#[test]
fn the_repository_comes_from_an_origin_remote_on_the_api_host() {
    let world = World::new();
    let origin = world.server.api_url(&format!("{REPO}.git"));
    let args = with_origin(&world, &origin);
    let out = world.run(GH_TOKEN, &args);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), format!("{}\n", world.download_url(NAME)));
    world.assert_published(NAME, BYTES);
}

#[test]
fn no_repository_anywhere_is_a_usage_error_naming_the_flag_and_the_key() {
    // No git at all; then an origin on another host than GitHub's or the API's.
    for origin in [None, Some("https://gitlab.example.com/acme/firmware.git")] {
        let world = World::new();
        let args = match origin {
            Some(url) => with_origin(&world, url),
            None => without(world.args(NAME), "--repo"),
        };
        let out = world.run(GH_TOKEN, &args);
        let case = format!("origin {origin:?}");
        assert_exit_case(&out, 2, &case);
        assert_contains(&stderr(&out), "--repo");
        assert_contains(&stderr(&out), "[github] repo");
        world.assert_no_request();
    }
}

#[test]
fn the_api_url_comes_from_github_api_url_without_flag_or_key() {
    let world = World::new();
    let api = world.server.api_base();
    let env = [("GH_TOKEN", SENTINEL), ("GITHUB_API_URL", api.as_str())];
    let out = world.run(&env, &without(world.args(NAME), "--api-url"));
    assert_exit(&out, 0);
    world.assert_published(NAME, BYTES);
}
