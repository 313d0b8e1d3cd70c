//! `otactl release` to the GitHub server with the pull request on, stopped at a step
//! (the signing key, the checklist, the pull request) and run again: the re-run
//! converges on one release holding one asset and one pull request, and keeps the
//! signed manifest the failed run wrote byte for byte. (A publish failing after its
//! retries is release.rs's.) The worlds are release.rs's ([`World`]).

use crate::release::{MANIFEST, REPO, Target, World, json};
use crate::support::assert::assert_exit;
use crate::support::fixtures;
use crate::support::github::{Fault, Route};
use crate::support::output::assert_contains;
use crate::support::stderr;

/// The flags of every run: to the GitHub server, the pull request on.
const GITHUB: [&str; 3] = ["--target", "github", "--yes"];

/// The release run again, which must exit 0 and converge: the manifest is `written`
/// byte for byte (`unchanged`; none: written now), one release holding one asset
/// (the tarball), one pull request whose branch holds the manifest; the branch was
/// made once and the manifest committed to it once.
fn assert_rerun_converges(world: &World, written: Option<&[u8]>) {
    let done = json(&world.release(&[&GITHUB[..], &["--format", "json"]].concat()));
    if let Some(written) = written {
        assert!(
            world.manifest_bytes() == written,
            "the manifest was rewritten"
        );
    }
    assert_eq!(done["unchanged"], written.is_some(), "{done:#}");
    assert_eq!(done["checklist_ok"], true, "{done:#}");
    world.only_release();
    let pulls = world.pulls();
    assert_eq!(pulls.len(), 1, "{pulls:#?}");
    assert_eq!(done["pr"]["number"], pulls[0].number, "{done:#}");
    let on_branch = world.server().file_at(REPO, &pulls[0].head, MANIFEST);
    assert!(
        on_branch == Some(world.manifest_bytes()),
        "the branch does not hold it"
    );
    let once = [Route::UploadAsset, Route::CreateRef, Route::PutContents];
    for route in [Route::CreateRelease].iter().chain(&once) {
        assert!(
            world.count(*route) <= 1,
            "{route:?}: {:#?}",
            world.server().routes()
        );
    }
}

#[test]
fn an_untrusted_key_is_refused_before_publishing_and_a_rerun_with_the_trusted_key_converges() {
    let world = World::new(&[Target::GitHub]);
    let other = fixtures().join("vectors/rfc8032-test2.private.pem");
    let env = [("OTACTL_SIGNING_KEY_FILE", other.to_str().unwrap())];
    world.assert_refused(false, &env, &GITHUB, 4, "otactl.toml");
    assert_rerun_converges(&world, None);
}

#[test]
fn a_checklist_failing_on_the_served_bytes_is_exit_1_without_pr_and_converges_once_they_are_fixed()
{
    let world = World::new(&[Target::GitHub]);
    // The asset of an earlier run, whose storage now serves other bytes than the
    // digest says.
    let archive = world.git_archive();
    let release = world.server().add_release(REPO, &world.id, false);
    let name = world.tarball_name();
    let asset = world.server().add_asset(release, &name, &archive, true);
    world
        .server()
        .serve_other_bytes(asset, b"not the tarball that was uploaded\n");

    let out = world.release_with(true, &[], &GITHUB);
    assert_exit(&out, 1);
    assert_contains(&stderr(&out), "the checklist failed");
    assert_eq!(world.pulls(), Vec::new());
    for route in [Route::UploadAsset, Route::CreateRef, Route::CreatePull] {
        assert_eq!(world.count(route), 0, "{route:?}");
    }
    let written = world.manifest_bytes();
    assert_contains(&String::from_utf8_lossy(&written), "\"signature\"");

    world.server().serve_other_bytes(asset, &archive);
    assert_rerun_converges(&world, Some(&written));
    assert_eq!(world.only_release().assets[0].id, asset);
}

#[test]
fn a_pull_request_refused_or_failing_is_exit_3_naming_the_step_and_a_rerun_opens_exactly_one() {
    for faults in [vec![Fault::Forbidden], vec![Fault::Status(502); 2]] {
        let world = World::new(&[Target::GitHub]);
        world.server().inject(Route::CreatePull, faults.clone());
        let out = world.release_with(true, &[], &GITHUB);
        assert_exit(&out, 3);
        assert_contains(&stderr(&out), "opening the pull request");
        // Every fault was met: none is left for the re-run.
        assert_eq!(world.count(Route::CreatePull), faults.len(), "{faults:?}");
        assert_eq!(world.pulls(), Vec::new());
        world.only_release();
        let written = world.manifest_bytes();
        assert_rerun_converges(&world, Some(&written));
    }
}
