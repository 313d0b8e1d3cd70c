//! `otactl pr --channel C` against the local GitHub server (support/github.rs): a
//! channel repository naming `acme/ota` on the server, whose canary manifest points
//! at an asset of a published release of `acme/ota` on the same server, so the whole
//! checklist runs for real. Each test asserts the server's final state: the branch
//! `otactl/canary-BUILD` and its commits, the file on it, the one pull request, and
//! `main` as it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::Value;

use crate::support::assert::{assert_exit, assert_not_printed};
use crate::support::fixture::test_private_key;
use crate::support::github::{Fault, GitHubServer, Host, Pull, Route};
use crate::support::manifest_json;
use crate::support::output::assert_contains;
use crate::support::proc::Running;
use crate::support::release::{Channel, otactl_ok};
use crate::support::{stderr, stdout};

/// The token the server asks for; it must never be seen anywhere else. Two literals,
/// so that the secret scan of `otactl tar` does not find it in this file.
const SENTINEL: &str = concat!("ghp_", "Pr0penS3ntinelThatMustNeverBeSh0wn12");
/// `GH_TOKEN` set to the sentinel, added to the hermetic environment (which has no
/// `GH_TOKEN`, `GITHUB_TOKEN` or `CI`).
const GH_TOKEN: &[(&str, &str)] = &[("GH_TOKEN", SENTINEL)];
const REPO: &str = "acme/ota";
const MANIFEST: &str = "channels/canary/manifest.json";
/// The build of the canary manifest on `main`, when there is one.
const OLD: &str = "20260101-0000-aaaaaaa";
/// No run may take longer (the server stops after two minutes anyway).
const RUN_LIMIT: Duration = Duration::from_secs(90);

/// `pr --format json`.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct PrJson {
    url: String,
    number: u64,
    branch: String,
    created: bool,
}

/// One test's world: the channel repository and the server.
struct World {
    c: Channel,
    server: GitHubServer,
    /// `main`'s head on the server before otactl ran.
    main: String,
    /// The canary manifest on `main` (on the server and in the local `main`), if any.
    base_manifest: Option<Vec<u8>>,
}

impl World {
    /// See [`World::serving`]; the release serves the tarball itself.
    fn new(earlier: bool) -> World {
        World::serving(earlier, None)
    }

    /// A channel repository whose otactl.toml names [`REPO`] and the server, committed
    /// on `main` with, when `earlier`, a signed canary manifest of [`OLD`]; the server
    /// holds [`REPO`] with the same `main`, and a published release of the source's
    /// build whose asset holds `asset` (the tarball when `None`). The work tree holds the
    /// signed canary manifest of that asset (the tarball's sha256), not committed.
    fn serving(earlier: bool, asset: Option<&[u8]>) -> World {
        let c = Channel::new();
        let server = GitHubServer::with_token(SENTINEL);
        let config = format!(
            "{}\n[github]\nrepo = \"{REPO}\"\napi_url = \"{}\"\n",
            c.ctx.read("otactl.toml"),
            server.api_base()
        );
        c.ctx.write("otactl.toml", &config);
        let base_manifest = earlier.then(|| {
            c.ctx.write(
                MANIFEST,
                manifest_json("canary", OLD, None, "the earlier build"),
            );
            let key = test_private_key();
            otactl_ok(
                &c.ctx,
                &["manifest", "sign", MANIFEST, "--key", key.to_str().unwrap()],
            );
            std::fs::read(c.ctx.path(MANIFEST)).unwrap()
        });
        c.ctx.git_commit("the channel repository on GitHub");
        let mut files: Vec<(&str, &[u8])> = vec![("otactl.toml", config.as_bytes())];
        files.extend(base_manifest.as_deref().map(|bytes| (MANIFEST, bytes)));
        let main = server.add_repo(REPO, "main", &files);

        let name = format!("app-src-{}.tar.gz", c.id);
        let url = server.api_url(&format!("{REPO}/releases/download/{}/{name}", c.id));
        c.manifest("canary", &url, &c.tarball, &[]);
        let release = server.add_release(REPO, &c.id, false);
        let tarball = std::fs::read(&c.tarball).unwrap();
        server.add_asset(release, &name, asset.unwrap_or(&tarball), true);
        World {
            c,
            server,
            main,
            base_manifest,
        }
    }

    /// [`World::new`] with an earlier manifest, `fault` queued for the next call of
    /// `route`, and `pr --channel canary` run.
    fn pr_with_fault(route: Route, fault: Fault) -> (World, Output) {
        let world = World::new(true);
        world.server.inject(route, [fault]);
        let out = world.pr(&[]);
        (world, out)
    }

    /// `otactl/canary-BUILD`.
    fn branch(&self) -> String {
        format!("otactl/canary-{}", self.c.id)
    }

    /// The old build the commit message names.
    fn old_id(&self) -> &str {
        if self.base_manifest.is_some() {
            OLD
        } else {
            "none"
        }
    }

    /// The local manifest's bytes.
    fn local_manifest(&self) -> Vec<u8> {
        std::fs::read(self.c.ctx.path(MANIFEST)).unwrap()
    }

    /// `otactl pr --channel canary EXTRA…` with `GH_TOKEN`; see [`World::run`].
    fn pr(&self, extra: &[&str]) -> Output {
        let mut args = vec!["pr", "--channel", "canary"];
        args.extend_from_slice(extra);
        self.run(GH_TOKEN, &args)
    }

    /// `otactl ARGS…` with `env` added, in the channel repository. Checks, whatever
    /// the outcome, that the token is on neither stream, in no file of the test's
    /// folder and in no request line or header but `Authorization`; and, when it
    /// failed, that no local file changed.
    fn run(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let before = files_under(self.c.ctx.root());
        let mut cmd = self.c.ctx.otactl();
        cmd.envs(env.iter().copied()).args(args);
        let (out, _) = Running::spawn(&mut cmd).wait_for(RUN_LIMIT);
        let after = files_under(self.c.ctx.root());
        assert_not_printed(&out, &[SENTINEL]);
        for (path, bytes) in &after {
            let holds = bytes
                .windows(SENTINEL.len())
                .any(|w| w == SENTINEL.as_bytes());
            assert!(!holds, "the token was written to {}", path.display());
        }
        assert!(
            !self.server.saw_text(SENTINEL),
            "the token was sent in a URL or in a header other than Authorization\nstderr:\n{}",
            stderr(&out)
        );
        if !out.status.success() {
            assert!(
                outside_git(&after) == outside_git(&before),
                "a failed run changed local files\nstderr:\n{}",
                stderr(&out)
            );
        }
        out
    }

    /// `METHOD PATH` of every request but GETs from the `from`-th on.
    fn writes_from(&self, from: usize) -> Vec<String> {
        self.server.requests()[from..]
            .iter()
            .filter(|r| r.method != "GET")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    /// How many requests took `route`.
    fn count(&self, route: Route) -> usize {
        self.server.routes().iter().filter(|r| **r == route).count()
    }

    /// The JSON body of the only request that took `route`.
    fn only_json(&self, route: Route) -> Value {
        let mut bodies: Vec<Value> = self
            .server
            .requests()
            .into_iter()
            .filter(|r| r.route() == Some(route))
            .map(|r| r.json.unwrap_or_default())
            .collect();
        assert_eq!(bodies.len(), 1, "{route:?}: {bodies:#?}");
        bodies.remove(0)
    }

    /// The one pull request of [`REPO`].
    fn only_pull(&self) -> Pull {
        let mut pulls = self.server.pulls(REPO);
        assert_eq!(pulls.len(), 1, "{pulls:#?}");
        pulls.remove(0)
    }

    /// The commits of the head branch beyond `base_head`, newest first.
    fn commits_beyond(&self, base_head: &str) -> Vec<(String, String)> {
        let mut commits = self.server.commits_on(REPO, &self.branch());
        let at = commits
            .iter()
            .position(|(sha, _)| sha == base_head)
            .unwrap_or_else(|| panic!("the branch does not grow from {base_head}: {commits:?}"));
        commits.truncate(at);
        commits
    }

    /// `main` on the server is as it was: the same head, the same manifest.
    fn assert_main_kept(&self) {
        let head = self.server.branch_head(REPO, "main");
        assert_eq!(head.as_deref(), Some(self.main.as_str()));
        let file = self.server.file_at(REPO, "main", MANIFEST);
        assert_eq!(file, self.base_manifest);
    }

    /// A run that failed with `code`, `says` on stderr, and wrote nothing to GitHub: no
    /// request but GETs, no head branch, no pull request, `main` as it was.
    fn assert_refused(&self, out: &Output, code: i32, says: &str) {
        assert_exit(out, code);
        assert_contains(&stderr(out), says);
        assert_eq!(self.writes_from(0), Vec::<String>::new());
        assert_eq!(self.server.pulls(REPO), Vec::new());
        self.assert_main_kept();
    }

    /// A run that succeeded: one open pull request from the head branch into `base`,
    /// the branch holding the local manifest byte for byte in exactly one commit beyond
    /// `base_head` whose message names the channel and the old and new builds; the
    /// title names the channel and the build; `main` as it was.
    fn assert_released(&self, out: &Output, base: &str, base_head: &str) -> Pull {
        assert_exit(out, 0);
        let pull = self.only_pull();
        let branch = self.branch();
        assert_eq!(
            (pull.head.as_str(), pull.base.as_str(), pull.state.as_str()),
            (branch.as_str(), base, "open")
        );
        for name in ["canary", &self.c.id] {
            assert_contains(&pull.title, name);
        }
        let file = self.server.file_at(REPO, &branch, MANIFEST);
        assert!(
            file == Some(self.local_manifest()),
            "the branch does not hold the local manifest: {:?}",
            file.map(|f| String::from_utf8_lossy(&f).into_owned())
        );
        let commits = self.commits_beyond(base_head);
        assert_eq!(commits.len(), 1, "{commits:?}");
        for name in ["canary", self.old_id(), &self.c.id] {
            assert_contains(&commits[0].1, name);
        }
        self.assert_main_kept();
        pull
    }
}

/// Every file under `dir` (in `.git` folders too) and its bytes.
fn files_under(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut folders = vec![dir.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().map(Result::unwrap) {
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                folders.push(entry.path());
            } else if kind.is_file() {
                found.insert(entry.path(), std::fs::read(entry.path()).unwrap());
            }
        }
    }
    found
}

/// The files of [`files_under`] outside `.git` folders (git itself refreshes its index).
fn outside_git(files: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<(&PathBuf, &Vec<u8>)> {
    files
        .iter()
        .filter(|(path, _)| !path.components().any(|c| c.as_os_str() == ".git"))
        .collect()
}

/// The JSON document a successful `pr --format json` printed.
fn printed_json(out: &Output) -> PrJson {
    assert_exit(out, 0);
    let parsed = serde_json::from_slice(&out.stdout);
    parsed.unwrap_or_else(|e| panic!("{e}: stdout is not the JSON object:\n{}", stdout(out)))
}

#[test]
fn pr_opens_one_pull_request_from_a_new_branch_holding_the_manifest_and_leaves_main_as_it_was() {
    let world = World::new(true);
    // The checklist passes as things stand; its Markdown is what the body must hold.
    let checklist = world.run(
        GH_TOKEN,
        &["verify", "--channel", "canary", "--format", "markdown"],
    );
    assert_exit(&checklist, 0);
    let table = stdout(&checklist);
    assert_eq!(table.matches("✅ pass").count(), 8, "{table}");
    assert_contains(&table, "GitHub's digest equals");
    let from = world.server.requests().len();

    let out = world.pr(&[]);
    let pull = world.assert_released(&out, "main", &world.main);
    assert_eq!(
        pull.html_url,
        world.server.api_url(&format!("{REPO}/pull/1"))
    );
    assert_eq!(stdout(&out), format!("{}\n", pull.html_url));
    assert!(!pull.draft, "{pull:#?}");

    // The body: a heading naming the channel and the build, the checklist as
    // `verify --format markdown` prints it, then the lint result.
    let (heading, rest) = pull.body.split_once('\n').unwrap_or((&pull.body, ""));
    assert!(heading.starts_with("## "), "{}", pull.body);
    for name in ["canary", &world.c.id] {
        assert_contains(heading, name);
    }
    let table = table.trim_end();
    let at = rest.find(table).unwrap_or_else(|| {
        panic!(
            "the body does not hold the checklist:\n{table}\n----- body -----\n{}",
            pull.body
        )
    });
    let lint = rest[at + table.len()..].to_lowercase();
    assert!(
        lint.contains("lint"),
        "no lint result after the checklist:\n{}",
        pull.body
    );

    // The writes, in order: the branch from main's head, the manifest on it, the PR.
    let writes: Vec<Route> = world.server.routes()[from..]
        .iter()
        .copied()
        .filter(|r| matches!(r, Route::CreateRef | Route::PutContents | Route::CreatePull))
        .collect();
    assert_eq!(
        writes,
        [Route::CreateRef, Route::PutContents, Route::CreatePull]
    );
    let made = world.only_json(Route::CreateRef);
    let branch_ref = format!("refs/heads/{}", world.branch());
    assert_eq!(
        (&made["ref"], &made["sha"]),
        (&branch_ref.into(), &world.main.clone().into())
    );
    let put = world.only_json(Route::PutContents);
    assert_eq!(put["branch"], world.branch().as_str());
    let content = STANDARD.decode(put["content"].as_str().unwrap_or_default());
    assert_eq!(content.ok(), Some(world.local_manifest()));
    let opened = world.only_json(Route::CreatePull);
    assert_eq!(
        (&opened["base"], &opened["draft"]),
        (&"main".into(), &false.into())
    );
}

#[test]
fn pr_of_a_channel_without_a_manifest_on_main_names_none_as_the_old_build_and_prints_json() {
    let world = World::new(false);
    let out = world.pr(&["--format", "json"]);
    let pull = world.assert_released(&out, "main", &world.main);
    let expected = PrJson {
        url: pull.html_url,
        number: pull.number,
        branch: world.branch(),
        created: true,
    };
    assert_eq!(printed_json(&out), expected);
    // The file is new on the branch: written without a blob sha.
    let put = world.only_json(Route::PutContents);
    assert!(put.get("sha").is_none_or(Value::is_null), "{put}");
}

#[test]
fn a_second_run_with_nothing_changed_updates_the_pull_request_and_commits_nothing() {
    let world = World::new(true);
    let first = world.assert_released(&world.pr(&[]), "main", &world.main);
    let commits = world.server.commits_on(REPO, &world.branch());
    let from = world.server.requests().len();

    let again = world.pr(&["--format", "json"]);
    let pull = world.assert_released(&again, "main", &world.main);
    let expected = PrJson {
        url: first.html_url.clone(),
        number: first.number,
        branch: world.branch(),
        created: false,
    };
    assert_eq!(printed_json(&again), expected);
    assert_eq!(world.server.commits_on(REPO, &world.branch()), commits);
    let patch = format!("PATCH /repos/{REPO}/pulls/{}", first.number);
    assert_eq!(world.writes_from(from), [patch]);
    assert_eq!((pull.title, pull.body), (first.title, first.body));
}

#[test]
fn the_draft_flag_opens_a_draft_pull_request() {
    let world = World::new(true);
    let out = world.pr(&["--draft"]);
    assert!(world.assert_released(&out, "main", &world.main).draft);
    assert_eq!(world.only_json(Route::CreatePull)["draft"], true);
}

#[test]
fn the_base_flag_branches_from_that_branch_and_targets_it() {
    let world = World::new(true);
    world.server.add_branch(REPO, "release", "main");
    let release = world.server.commit_file(
        REPO,
        "release",
        "RELEASE.md",
        b"the release line\n",
        "start the release line",
    );
    let out = world.pr(&["--base", "release"]);
    world.assert_released(&out, "release", &release);
    let head = world.server.branch_head(REPO, "release");
    assert_eq!(head.as_deref(), Some(release.as_str()));
    assert_eq!(world.only_json(Route::CreatePull)["base"], "release");
}

#[test]
fn a_payload_that_no_longer_matches_its_sha256_fails_with_exit_1_and_writes_nothing() {
    let world = World::serving(true, Some(b"other bytes under the same name\n"));
    // The checklist fails as things stand.
    assert_exit(&world.run(GH_TOKEN, &["verify", "--channel", "canary"]), 1);
    let out = world.pr(&[]);
    world.assert_refused(&out, 1, "sha256");
    assert_eq!(world.server.branch_head(REPO, &world.branch()), None);
}

#[test]
fn a_stale_blob_sha_answered_409_is_read_again_and_written_once_more() {
    let (world, out) = World::pr_with_fault(Route::PutContents, Fault::Status(409));
    world.assert_released(&out, "main", &world.main);
    let contents: Vec<Route> = world
        .server
        .routes()
        .into_iter()
        .filter(|r| matches!(r, Route::GetContents | Route::PutContents))
        .collect();
    let (get, put) = (Route::GetContents, Route::PutContents);
    assert_eq!(contents[contents.len() - 4..], [get, put, get, put]);
    assert_eq!(world.count(put), 2);
}

#[test]
fn a_502_after_the_pull_request_was_opened_finds_it_instead_of_opening_another() {
    let (world, out) = World::pr_with_fault(Route::CreatePull, Fault::ApplyThen(502));
    let pull = world.assert_released(&out, "main", &world.main);
    assert_eq!(world.count(Route::CreatePull), 1);
    assert_eq!(stdout(&out), format!("{}\n", pull.html_url));
}

#[test]
fn an_existing_branch_holding_a_foreign_commit_is_refused_with_exit_4_naming_it() {
    let world = World::new(true);
    let branch = world.branch();
    world.server.add_branch(REPO, &branch, "main");
    let foreign = world.server.commit_file(
        REPO,
        &branch,
        "README.md",
        b"not otactl's\n",
        "someone else's change",
    );
    let out = world.pr(&[]);
    world.assert_refused(&out, 4, &branch);
    let head = world.server.branch_head(REPO, &branch);
    assert_eq!(head.as_deref(), Some(foreign.as_str()));
}

#[test]
fn a_403_on_opening_the_pull_request_fails_at_once_with_exit_3_naming_gh_token() {
    let (world, out) = World::pr_with_fault(Route::CreatePull, Fault::Forbidden);
    assert_exit(&out, 3);
    assert_contains(&stderr(&out), "GH_TOKEN");
    assert_eq!(world.count(Route::CreatePull), 1);
    assert_eq!(world.server.pulls(REPO), Vec::new());
    world.assert_main_kept();
}

#[test]
fn the_token_goes_only_into_authorization_headers_even_with_verbose_traces() {
    let world = World::new(true);
    let out = world.run(GH_TOKEN, &["-v", "pr", "--channel", "canary"]);
    world.assert_released(&out, "main", &world.main);
    assert_contains(&stderr(&out), &format!("/repos/{REPO}/pulls"));
    // Every API request carried it (the download link is fetched as a device does,
    // without it), and no redirect target saw it.
    for request in world.server.requests() {
        let api = request.host == Host::Api && request.route() != Some(Route::Download);
        assert_eq!(request.authorization_matches, api, "{request:?}");
    }
    assert!(!world.server.redirect_host_saw_authorization());
}

#[test]
fn no_token_is_a_usage_error_before_any_request() {
    let world = World::new(true);
    let out = world.run(&[], &["pr", "--channel", "canary"]);
    assert_exit(&out, 2);
    assert_contains(&stderr(&out), "GH_TOKEN");
    assert!(
        world.server.requests().is_empty(),
        "{:#?}",
        world.server.requests()
    );
}

#[test]
fn once_the_base_holds_the_manifest_a_rerun_proposes_nothing_and_writes_nothing() {
    let world = World::new(true);
    // The pull request was merged: `main` on GitHub holds the local manifest.
    let merged = world.server.commit_file(
        REPO,
        "main",
        MANIFEST,
        &world.local_manifest(),
        "Merge the canary release",
    );
    let out = world.pr(&[]);
    assert_exit(&out, 0);
    assert_contains(&stderr(&out), "nothing to propose");
    assert_eq!(stdout(&out), "");
    assert_eq!(world.writes_from(0), Vec::<String>::new());
    assert_eq!(world.server.pulls(REPO), Vec::new());
    assert_eq!(world.server.branch_head(REPO, &world.branch()), None);
    assert_eq!(world.server.branch_head(REPO, "main"), Some(merged));
}
