//! `otactl rollback --channel canary --to A`: build A (the source's first commit) and
//! build B (its second commit, a later minute) were released to canary with
//! `otactl release`, the channel repository committed after each (the history
//! rollback reads); then A's content ships again under a new build id of now and A's
//! sha, to each target: the release folder (the source tarball rebuilt from A's
//! commit, or a firmware file fetched back and checked), the GitHub server and the
//! real registry. The worlds are release.rs's ([`World`]).

use std::path::PathBuf;
use std::process::Output;

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::release::{FIRMWARE, Files, LATER, MANIFEST, OCI_REPO, REPO, Target, World, tree};
use crate::support::assert::{assert_exit, assert_exit_case};
use crate::support::github::{Fault, Route};
use crate::support::keys::hex;
use crate::support::output::assert_contains;
use crate::support::registry::sha256_digest;
use crate::support::{stderr, stdout};

/// The committer date of the source's second commit: a minute after the first's.
const SECOND_DATE: &str = "2026-01-15T16:15:00Z";
/// The firmware image of build B.
const FIRMWARE_B: &[u8] = b"\xe9\x03\x02\x20 the ESP32 image of build B, the bad one\n";

/// A build of the source: its id and its commit.
#[derive(Clone, Debug)]
struct Build {
    id: String,
    commit: String,
}

/// What the channel's history holds: A, then B (the channel repository's commit
/// holding B is `holding_b`).
struct History {
    a: Build,
    b: Build,
    holding_b: String,
}

/// How each build is released: the flags of `otactl release`, and the firmware file
/// written at `../fw.bin` first (none: the source tarball).
struct Way<'a> {
    a: &'a [&'a str],
    b: &'a [&'a str],
    firmware: Option<(&'a [u8], &'a [u8])>,
}

/// The source tarball to the release folder.
const DIR_TARBALL: Way<'static> = Way {
    a: &["--target", "dir", "--no-pr", "--yes"],
    b: &["--target", "dir", "--no-pr", "--yes"],
    firmware: None,
};

/// `../fw.bin` to the release folder.
const DIR_FIRMWARE: Way<'static> = Way {
    a: &["--target", "dir", "--file", "../fw.bin", "--no-pr", "--yes"],
    b: &["--target", "dir", "--file", "../fw.bin", "--no-pr", "--yes"],
    firmware: Some((FIRMWARE, FIRMWARE_B)),
};

/// The current minute in UTC, as a build id begins: `YYYYMMDD-HHMM`.
fn this_minute() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}-{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute()
    )
}

/// Everything a rollback could publish or write: the channel repository's files
/// (`.git` aside), the release folder, the GitHub server's releases (their assets
/// and bytes) and the registry's tags.
#[derive(Debug, PartialEq, Eq)]
struct Everything {
    repo: Files,
    releases: Files,
    github: Vec<String>,
    tags: Vec<String>,
}

impl World {
    /// A second commit of the source (`src/main.c` changed) at [`SECOND_DATE`].
    fn commit_second_build(&self) -> Build {
        let src = self.ctx.root().join("src");
        std::fs::write(src.join("src/main.c"), "int main(void) { return 3; }\n").unwrap();
        self.ctx.git_in(&src, &["add", "-A"]);
        let mut git = self.ctx.tool("git");
        git.current_dir(&src).env("GIT_COMMITTER_DATE", SECOND_DATE);
        let out = git
            .args(["commit", "-q", "-m", "build B"])
            .output()
            .unwrap();
        assert_exit(&out, 0);
        let commit = self.ctx.git_in(&src, &["rev-parse", "HEAD"]);
        let out = self.run_with(false, &[], &["build-id", "--source", "../src"]);
        assert_exit(&out, 0);
        Build {
            id: stdout(&out).trim().to_owned(),
            commit: String::from_utf8(commit).unwrap().trim().to_owned(),
        }
    }

    /// Releases A then B `way` says, committing the channel repository after each.
    fn release_a_then_b(&self, way: &Way<'_>) -> History {
        let a = Build {
            id: self.id.clone(),
            commit: self.commit.clone(),
        };
        let fw = self.ctx.root().join("fw.bin");
        if let Some((bytes, _)) = way.firmware {
            std::fs::write(&fw, bytes).unwrap();
        }
        self.release(way.a);
        self.ctx.git_commit("canary: build A");
        let b = self.commit_second_build();
        assert!(b.id > a.id, "{b:?} is not later than {a:?}");
        if let Some((_, bytes)) = way.firmware {
            std::fs::write(&fw, bytes).unwrap();
        }
        self.release(way.b);
        self.ctx.git_commit("canary: build B");
        let holding_b = self.ctx.git_in(&self.ctx.cwd, &["rev-parse", "HEAD"]);
        let manifest: Value = serde_json::from_slice(&self.manifest_bytes()).unwrap();
        assert_eq!(manifest["build_id"], b.id.as_str());
        History {
            a,
            b,
            holding_b: String::from_utf8(holding_b).unwrap().trim().to_owned(),
        }
    }

    /// `otactl rollback --channel canary ARGS…` with the key, without a terminal.
    fn rollback_with(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        self.run_with(
            true,
            env,
            &[&["rollback", "--channel", "canary"], args].concat(),
        )
    }

    /// `rollback --to A EXTRA…`, which must succeed: the manifest's build id is of
    /// the minute it ran and A's sha, later than B's, and its notes name A; returns
    /// that id.
    fn rollback_to_a(&self, history: &History, extra: &[&str]) -> String {
        let before = this_minute();
        let args = [&["--to", &*history.a.id, "--yes"], extra].concat();
        let out = self.rollback_with(&[], &args);
        let after = this_minute();
        assert_exit(&out, 0);
        let manifest: Value = serde_json::from_slice(&self.manifest_bytes()).unwrap();
        let id = manifest["build_id"].as_str().unwrap_or_default().to_owned();
        let (minute, sha) = id.split_at(13.min(id.len()));
        assert!(
            before.as_str() <= minute && minute <= after.as_str(),
            "{id}"
        );
        assert_eq!(sha, format!("-{}", &history.a.commit[..7]));
        assert!(id > history.b.id, "{id} is not later than {}", history.b.id);
        let notes = format!("rollback: the content of {}", history.a.id);
        assert_eq!(manifest["notes"], notes.as_str(), "{manifest:#}");
        let says = format!("the content of `{}`", history.a.id);
        assert_contains(&stderr(&out), &says);
        assert_contains(&stderr(&out), &format!("ships again as `{id}`"));
        assert_contains(&stdout(&out), MANIFEST);
        id
    }

    /// The state of everything a rollback could touch.
    fn everything(&self) -> Everything {
        let github = self.github.as_ref().map_or_else(Vec::new, |server| {
            let releases = server.releases().into_iter();
            let bytes = |id| hex(&Sha256::digest(server.asset_bytes(id)));
            let assets = releases.flat_map(|r| r.assets.into_iter().map(move |a| (r.id, a)));
            let described = assets.map(|(release, a)| format!("{release} {a:?} {}", bytes(a.id)));
            described.collect()
        });
        let tags = self.registry.as_ref().map_or_else(Vec::new, |r| {
            let mut tags = r.tags(OCI_REPO);
            tags.sort();
            tags
        });
        Everything {
            repo: self.repo_files(),
            releases: tree(&self.releases_dir()),
            github,
            tags,
        }
    }

    /// `rollback ARGS…` must exit `code` naming `says`, and change nothing.
    fn assert_rollback_refused(
        &self,
        env: &[(&str, &str)],
        args: &[&str],
        code: i32,
        says: &str,
    ) -> Output {
        let before = self.everything();
        let out = self.rollback_with(env, args);
        assert_exit_case(&out, code, &format!("env {env:?}, args {args:?}"));
        assert_contains(&stderr(&out), says);
        assert_eq!(self.everything(), before, "args {args:?}");
        out
    }

    /// `releases/ID/NAME`.
    fn published(&self, id: &str, name: &str) -> PathBuf {
        self.releases_dir().join(id).join(name)
    }
}

/// `tests/interop/device_check.py`, the device's own check, accepts the channel's
/// manifest under the trusted key.
fn assert_device_accepts(world: &World) {
    let check = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/device_check.py");
    let args = [
        check.to_str().unwrap(),
        "--pubkey",
        "keys/ota_pubkey.pem",
        MANIFEST,
    ];
    let out = world.ctx.run_tool("python3", &args);
    assert_contains(&stdout(&out), &format!("ok {MANIFEST}"));
}

#[test]
fn rollback_of_a_source_tarball_rebuilds_as_commit_from_a_under_a_new_id_that_passes_everything() {
    let world = World::new(&[Target::Dir]);
    let history = world.release_a_then_b(&DIR_TARBALL);
    let id = world.rollback_to_a(&history, &["--no-pr"]);

    // A's tree, byte for byte what `git archive` makes of commit 1 under the new id.
    let name = format!("app-src-{id}.tar.gz");
    let archive = world.git_archive_of(&id, &history.a.commit);
    let published = std::fs::read(world.published(&id, &name)).unwrap();
    assert!(published == archive, "not git archive's bytes of commit A");
    assert!(published != world.git_archive_of(&id, &history.b.commit));
    let url = world.file_url_of(&id, &name);
    world.assert_manifest_of(&id, "source-tar", &url, &hex(&Sha256::digest(&archive)));

    let lint = ["lint", "--base", &history.holding_b];
    assert_exit(&world.run_with(false, &[], &lint), 0);
    assert_device_accepts(&world);
}

#[test]
fn rollback_of_a_firmware_publishes_as_bytes_again_and_refuses_them_tampered_or_gone() {
    let world = World::new(&[Target::Dir]);
    let history = world.release_a_then_b(&DIR_FIRMWARE);
    let old = world.published(&history.a.id, "fw.bin");

    // Other bytes where A was published: not what A shipped, so refused.
    std::fs::write(&old, FIRMWARE_B).unwrap();
    let to = ["--to", &*history.a.id, "--yes", "--no-pr"];
    world.assert_rollback_refused(&[], &to, 4, &history.a.id);
    std::fs::remove_file(&old).unwrap();
    let out = world.assert_rollback_refused(&[], &to, 2, "--to");
    // Said in plain words: the file, and that it does not exist.
    let err = stderr(&out);
    assert_contains(&err, &format!("`{}` does not exist", old.display()));
    assert!(!err.contains("Missing("), "{err}");

    std::fs::write(&old, FIRMWARE).unwrap();
    let id = world.rollback_to_a(&history, &["--no-pr"]);
    assert!(std::fs::read(world.published(&id, "fw.bin")).unwrap() == FIRMWARE);
    let url = world.file_url_of(&id, "fw.bin");
    world.assert_manifest_of(&id, "firmware", &url, &hex(&Sha256::digest(FIRMWARE)));
    assert_device_accepts(&world);
}

#[test]
fn rollback_to_github_makes_a_new_release_of_as_tarball_and_leaves_a_and_b_alone() {
    let world = World::new(&[Target::GitHub]);
    let no_pr = ["--target", "github", "--no-pr", "--yes"];
    let way = Way {
        a: &no_pr,
        b: &no_pr,
        firmware: None,
    };
    let history = world.release_a_then_b(&way);
    let before = world.everything().github;
    let id = world.rollback_to_a(&history, &["--no-pr"]);

    let releases = world.server().releases();
    let tags: Vec<&str> = releases.iter().map(|r| r.tag_name.as_str()).collect();
    assert_eq!(tags, [&*history.a.id, &*history.b.id, &*id]);
    let new = &releases[2];
    assert!(!new.draft, "{new:#?}");
    assert_eq!(new.assets.len(), 1, "{new:#?}");
    let name = format!("app-src-{id}.tar.gz");
    assert_eq!(new.assets[0].name, name);
    let archive = world.git_archive_of(&id, &history.a.commit);
    assert!(world.server().asset_bytes(new.assets[0].id) == archive);
    // A's and B's assets: the same ids, states, digests and bytes.
    assert_eq!(world.everything().github[..2], before[..]);
    let path = format!("{REPO}/releases/download/{id}/{name}");
    let url = world.server().api_url(&path);
    world.assert_manifest_of(&id, "source-tar", &url, &hex(&Sha256::digest(&archive)));
}

#[test]
fn rollback_to_oci_pushes_as_layer_and_file_name_under_the_version_given_and_needs_one() {
    let mut world = World::new(&[Target::Oci]);
    let oci = |version| {
        [
            "--target",
            "oci",
            "--file",
            "../fw.bin",
            "--version",
            version,
        ]
    };
    let (a, b) = (oci("1.0.0"), oci("1.1.0"));
    let way = Way {
        a: &[&a[..], &["--no-pr", "--yes"]].concat(),
        b: &[&b[..], &["--no-pr", "--yes"]].concat(),
        firmware: Some((FIRMWARE, FIRMWARE_B)),
    };
    let history = world.release_a_then_b(&way);
    let to = ["--to", &*history.a.id, "--yes", "--no-pr"];
    world.assert_rollback_refused(&[], &to, 2, "--version");

    let id = world.rollback_to_a(&history, &["--no-pr", "--version", "1.2.0"]);
    let registry = world.registry();
    let mut tags = registry.tags(OCI_REPO);
    tags.sort();
    assert_eq!(tags, ["1.0.0", "1.1.0", "1.2.0"]);
    let manifest = registry.manifest_json(OCI_REPO, "1.2.0");
    let layer = &manifest["layers"][0];
    assert_eq!(layer["digest"], sha256_digest(FIRMWARE).as_str());
    assert!(registry.blob(OCI_REPO, &sha256_digest(FIRMWARE)) == FIRMWARE);
    // The file keeps its name: the layer's title is A's.
    let title = "/annotations/org.opencontainers.image.title";
    let a_layer = &registry.manifest_json(OCI_REPO, "1.0.0")["layers"][0];
    assert_eq!(layer.pointer(title), a_layer.pointer(title), "{manifest:#}");
    let url = format!("oci://{}/{OCI_REPO}:1.2.0", registry.host());
    world.assert_manifest_of(&id, "oci", &url, &hex(&Sha256::digest(FIRMWARE)));

    // A missing `--version` is said before the registry is asked anything: it is
    // said even when the registry is down.
    world.registry.as_mut().unwrap().kill();
    let out = world.rollback_with(&[], &to);
    assert_exit(&out, 2);
    assert_contains(&stderr(&out), "--version");
}

/// A and B released as firmware (`../fw.bin`) to the GitHub server, without PR.
fn github_firmware() -> (World, History) {
    let world = World::new(&[Target::GitHub]);
    let args = [
        "--target",
        "github",
        "--file",
        "../fw.bin",
        "--no-pr",
        "--yes",
    ];
    let way = Way {
        a: &args,
        b: &args,
        firmware: Some((FIRMWARE, FIRMWARE_B)),
    };
    let history = world.release_a_then_b(&way);
    (world, history)
}

#[test]
fn rollback_of_a_firmware_the_server_fails_to_serve_is_exit_3_not_a_build_gone() {
    let (world, history) = github_firmware();
    let queued = 10;
    let faults = std::iter::repeat_n(Fault::Status(503), queued);
    world.server().inject(Route::Download, faults);
    let to = ["--to", &*history.a.id, "--yes", "--no-pr"];
    let out = world.assert_rollback_refused(&[], &to, 3, "503");
    assert!(!stderr(&out).contains("--to"), "{}", stderr(&out));
}

#[test]
fn rollback_without_yes_and_without_a_terminal_sends_no_request() {
    let (world, history) = github_firmware();
    let sent = world.server().requests().len();
    let to = ["--to", &*history.a.id, "--no-pr"];
    world.assert_rollback_refused(&[], &to, 2, "--yes");
    let requests = world.server().requests();
    assert_eq!(requests.len(), sent, "{:#?}", &requests[sent..]);
}

#[test]
fn rollback_refuses_a_build_never_on_the_channel_no_yes_without_terminal_and_dry_run_publishes_nothing()
 {
    let world = World::new(&[Target::Dir]);
    let history = world.release_a_then_b(&DIR_FIRMWARE);
    let never = format!("20260110-0900-{}", &history.b.commit[..7]);
    for to in [&*never, "20260110-0900-0000000"] {
        let args = ["--to", to, "--yes", "--no-pr"];
        world.assert_rollback_refused(&[], &args, 2, "--to");
    }
    let to = ["--to", &*history.a.id, "--no-pr"];
    for env in [&[][..], &[("CI", "true")]] {
        world.assert_rollback_refused(env, &to, 2, "--yes");
    }

    let before = world.everything();
    let out = world.run_with(
        false,
        &[],
        &[&["rollback", "--channel", "canary", "--dry-run"], &to[..]].concat(),
    );
    assert_exit(&out, 0);
    assert_contains(&stderr(&out), &hex(&Sha256::digest(FIRMWARE)));
    assert_eq!(world.everything(), before);
}

#[test]
fn rollback_to_a_build_whose_commit_the_source_lacks_is_exit_2_naming_to() {
    let world = World::new(&[Target::Dir]);
    world.commit_later_build();
    let to = ["--to", LATER, "--yes", "--no-pr"];
    let out = world.assert_rollback_refused(&[], &to, 2, "--to");
    let err = stderr(&out);
    assert_contains(&err, "bbbbbbb");
    assert!(!err.contains("--ref"), "rollback has no --ref:\n{err}");
}
