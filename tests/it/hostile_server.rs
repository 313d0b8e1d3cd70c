//! `otactl verify` against a stranger's pull request (SPEC 6, untrusted input is
//! bounded): a server that drips bytes (stall limit), a download slower than
//! `--deadline`, redirects that leave the manifest's URL rules, and `file://` URLs
//! outside the release folder in CI.
//!
//! Every server listens on 127.0.0.1; the redirect to `0.0.0.0` is refused before any
//! connection, which a listener on the redirect's port checks.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use crate::support::assert::{assert_exit, assert_not_printed};
use crate::support::fixture::{ID, SHA};
use crate::support::hostile_http::{Behaviour, HostileServer};
use crate::support::http::FileServer;
use crate::support::release::item;
use crate::support::{TestContext, stderr, stdout};

/// A channel repository (no git, unsigned manifests allowed) whose release folder is
/// `../releases`, holding `releases/ID/app-src-ID.tar.gz`.
fn repo() -> TestContext {
    let ctx = TestContext::new();
    ctx.write(
        "otactl.toml",
        "name = \"app\"\n\n[dir]\npath = \"../releases\"\n",
    );
    let asset = asset_path(&ctx.root().join("releases"));
    std::fs::create_dir_all(asset.parent().unwrap()).unwrap();
    std::fs::write(&asset, b"release payload\n").unwrap();
    ctx
}

/// `FOLDER/ID/app-src-ID.tar.gz`.
fn asset_path(folder: &Path) -> PathBuf {
    folder.join(format!("{ID}/app-src-{ID}.tar.gz"))
}

/// The path of the asset on a server: `/ID/app-src-ID.tar.gz`.
fn asset_route() -> String {
    format!("{ID}/app-src-{ID}.tar.gz")
}

/// `file://` URL of a path under the (canonical) temporary folder.
fn file_url(ctx: &TestContext, rel: &str) -> String {
    format!(
        "file://{}/{rel}",
        ctx.root().canonicalize().unwrap().display()
    )
}

/// Writes the `canary` manifest: a source tarball at `url` with `sha256`.
fn manifest(ctx: &TestContext, url: &str, sha256: &str) {
    manifest_kind(ctx, url, sha256, "source-tar");
}

/// Writes the `canary` manifest: an artifact of `kind` at `url` with `sha256`.
fn manifest_kind(ctx: &TestContext, url: &str, sha256: &str, kind: &str) {
    let out = ctx
        .otactl()
        .args(["manifest", "new", "--channel", "canary", "--build-id", ID])
        .args(["--url", url, "--sha256", sha256, "--kind", kind])
        .output()
        .unwrap();
    assert_exit(&out, 0);
}

/// `manifest new --from-file FILE` for `url`.
fn manifest_of(ctx: &TestContext, url: &str, file: &Path) {
    let sha = sha256_of(ctx, file);
    manifest(ctx, url, &sha);
}

fn sha256_of(ctx: &TestContext, file: &Path) -> String {
    let out = ctx
        .tool("sha256sum")
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("sha256sum: {e}"));
    stdout(&out).split_whitespace().next().unwrap().to_owned()
}

fn verify(ctx: &TestContext, extra: &[&str]) -> Output {
    ctx.otactl()
        .args(["verify", "--channel", "canary"])
        .args(extra)
        .output()
        .unwrap()
}

fn verify_in_ci(ctx: &TestContext, ci: &str, extra: &[&str]) -> Output {
    ctx.otactl()
        .env("CI", ci)
        .args(["verify", "--channel", "canary"])
        .args(extra)
        .output()
        .unwrap()
}

/// Points the `canary` manifest at a server that redirects every request to
/// `location`; returns the server and `verify`'s output, which must exit `code`.
fn verify_redirected(ctx: &TestContext, location: String, code: i32) -> (HostileServer, Output) {
    let redirect = HostileServer::start(Behaviour::Redirect { location });
    manifest(ctx, &redirect.url(&asset_route()), SHA);
    let out = verify(ctx, &[]);
    assert_exit(&out, code);
    (redirect, out)
}

fn ports(text: &str, servers: &[&HostileServer]) -> String {
    servers.iter().fold(text.to_owned(), |t, s| {
        t.replace(&format!(":{}", s.port), ":[PORT]")
    })
}

// Finding 1: a slow server held `verify` for minutes.

/// Points the manifest at `server`'s asset and runs `verify ARGS`, which must end in
/// a remote error (exit 3); returns its output and how long it took.
fn remote_error(ctx: &TestContext, server: &HostileServer, args: &[&str]) -> (Output, Duration) {
    manifest(ctx, &server.url(&asset_route()), SHA);
    let started = Instant::now();
    let out = verify(ctx, args);
    let took = started.elapsed();
    assert_exit(&out, 3);
    (out, took)
}

#[test]
fn a_server_dripping_a_byte_a_second_is_cut_at_the_stall_limit_exit_3() {
    let ctx = repo();
    let server = HostileServer::start(Behaviour::Drip {
        len: 1 << 20,
        chunk: 1,
        every: Duration::from_secs(1),
    });
    let (out, took) = remote_error(&ctx, &server, &[]);
    // SPEC 6: under 1 KiB/s for 30 s. Generous above: only "not minutes" matters.
    assert!(
        took >= Duration::from_secs(29),
        "cut after {took:?}, before the 30 s of the stall limit"
    );
    assert!(took < Duration::from_secs(90), "cut only after {took:?}");
    let line = item(&out, 4);
    assert!(line.starts_with("? error 4."), "{line}");
    assert!(
        line.contains("the download stalled: the server sent ")
            && line.contains(" bytes in the last 30 s (the limit is 1 KiB/s for 30 s; "),
        "{line}"
    );
    assert!(line.contains("try again later"), "{line}");
    assert_eq!(
        item(&out, 5),
        "- skip  5. tarball contents: not inspected: the download broke off (item 4)"
    );
    assert_eq!(server.requests().len(), 1, "a stall is not retried");
}

#[test]
fn a_download_slower_than_the_deadline_is_cut_exit_3() {
    let ctx = repo();
    let server = HostileServer::start(Behaviour::Drip {
        len: 1 << 20,
        chunk: 64,
        every: Duration::from_millis(100),
    });
    let (out, took) = remote_error(&ctx, &server, &["--deadline", "2s"]);
    assert!(took >= Duration::from_secs(2), "cut after {took:?}");
    // Well before the stall limit, which this server never reaches.
    assert!(took < Duration::from_secs(25), "cut only after {took:?}");
    let line = item(&out, 4);
    assert!(line.starts_with("? error 4."), "{line}");
    assert!(
        line.contains("the download did not finish within `--deadline` 2s: ")
            && line.contains(" bytes arrived; raise `--deadline` (e.g. `--deadline 4s`)"),
        "{line}"
    );
    assert_eq!(
        item(&out, 5),
        "- skip  5. tarball contents: not inspected: the download broke off (item 4)"
    );
}

#[test]
fn a_server_that_never_answers_is_cut_at_the_deadline_exit_3() {
    let ctx = repo();
    let server = HostileServer::start(Behaviour::Silent);
    let (out, took) = remote_error(&ctx, &server, &["--deadline", "3s"]);
    assert!(took < Duration::from_secs(25), "cut only after {took:?}");
    let line = ports(&item(&out, 3), &[&server]);
    assert_eq!(
        line,
        format!(
            "? error 3. asset exists: `http://127.0.0.1:[PORT]/{}`: no answer within `--deadline` 3s; raise `--deadline` if the server is that slow",
            asset_route()
        )
    );
    assert!(item(&out, 4).starts_with("- skip  4."), "{}", stdout(&out));
}

#[test]
fn a_retry_that_would_pass_the_deadline_is_not_waited_for_exit_3() {
    let ctx = repo();
    let server = HostileServer::start(Behaviour::Unavailable { retry_after: 30 });
    let (out, took) = remote_error(&ctx, &server, &["--deadline", "5s"]);
    assert!(
        took < Duration::from_secs(25),
        "gave up only after {took:?}"
    );
    let line = ports(&item(&out, 3), &[&server]);
    assert_eq!(
        line,
        format!(
            "? error 3. asset exists: `http://127.0.0.1:[PORT]/{}`: the server answered 503 Service Unavailable (after 1 attempt; the next would pass `--deadline` 5s, raise it to retry longer)",
            asset_route()
        )
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn deadline_takes_a_human_duration_and_names_itself_when_bad() {
    let ctx = repo();
    manifest(
        &ctx,
        &file_url(&ctx, &format!("releases/{}", asset_route())),
        SHA,
    );
    for good in ["90s", "30m", "1h", "600", " 2h "] {
        let out = verify(&ctx, &["--offline", "--deadline", good]);
        assert_exit(&out, 0);
    }
    for (bad, why) in [
        (
            "5x",
            "unknown unit `x`; use s, m or h, e.g. `90s`, `30m` or `1h`",
        ),
        ("", "give a duration, e.g. `90s`, `30m` or `1h`"),
        ("m", "`m` is not a duration, e.g. `90s`, `30m` or `1h`"),
        ("0s", "the deadline must be at least 1 second"),
        ("-5s", "`-5s` is not a duration, e.g. `90s`, `30m` or `1h`"),
        (
            "99999999999999999999h",
            "`99999999999999999999h` is too long",
        ),
    ] {
        let out = verify(&ctx, &["--offline", &format!("--deadline={bad}")]);
        assert_exit(&out, 2);
        let text = stderr(&out);
        assert!(
            text.starts_with(&format!(
                "error: invalid value '{bad}' for '--deadline <DURATION>': {why}\n"
            )),
            "{bad}: {text}"
        );
    }
}

// Finding 2: redirects left the manifest's URL rules.

#[test]
fn a_redirect_to_another_loopback_port_is_followed() {
    let ctx = repo();
    let files = FileServer::start(ctx.root().join("releases"));
    let target = files.url(&asset_route());
    let redirect = HostileServer::start(Behaviour::Redirect {
        location: target.clone(),
    });
    let sha = sha256_of(&ctx, &asset_path(&ctx.root().join("releases")));
    manifest_kind(&ctx, &redirect.url(&asset_route()), &sha, "firmware");
    let out = verify(&ctx, &[]);
    assert_exit(&out, 0);
    assert!(item(&out, 4).starts_with("✓ pass  4."), "{}", stdout(&out));
    assert_eq!(
        files.requests(),
        [format!("GET /{} HTTP/1.1", asset_route())]
    );
}

#[test]
fn a_redirect_to_0_0_0_0_is_refused_before_connecting() {
    let ctx = repo();
    // Were the redirect followed, Linux would connect `0.0.0.0:PORT` to this listener.
    let listener = HostileServer::start(Behaviour::Silent);
    let location = format!(
        "http://0.0.0.0:{}/{}?token=hunter2",
        listener.port,
        asset_route()
    );
    let (redirect, out) = verify_redirected(&ctx, location, 1);
    let line = ports(&item(&out, 3), &[&listener, &redirect]);
    assert_eq!(
        line,
        format!(
            "✗ FAIL  3. asset exists: `http://127.0.0.1:[PORT]/{0}`: redirect 1 leads to `http://0.0.0.0:[PORT]/{0}`, which the URL rules refuse: it uses plain http; use https (http is accepted only for loopback hosts); otactl did not follow it: point `artifact.url` at a server whose redirects stay within the rules",
            asset_route()
        )
    );
    assert_not_printed(&out, &["hunter2"]);
    assert_eq!(listener.connections(), 0, "otactl connected to 0.0.0.0");
    assert_eq!(
        redirect.requests().len(),
        1,
        "a refused redirect is not retried"
    );
}

#[test]
fn a_redirect_carrying_credentials_is_refused_and_never_printed() {
    let ctx = repo();
    let files = FileServer::start(ctx.root().join("releases"));
    let redirect = HostileServer::start(Behaviour::Redirect {
        location: format!(
            "http://deploy:hunter2@127.0.0.1:{}/{}?sig=s3cr3t",
            files.port,
            asset_route()
        ),
    });
    manifest_of(
        &ctx,
        &redirect.url(&asset_route()),
        &asset_path(&ctx.root().join("releases")),
    );
    let out = verify(&ctx, &[]);
    assert_exit(&out, 1);
    let line = item(&out, 3)
        .replace(&format!(":{}", files.port), ":[FILES]")
        .replace(&format!(":{}", redirect.port), ":[PORT]");
    assert_eq!(
        line,
        format!(
            "✗ FAIL  3. asset exists: `http://127.0.0.1:[PORT]/{0}`: redirect 1 leads to `http://127.0.0.1:[FILES]/{0}`, which the URL rules refuse: it must not carry a user name or password; use a token or registry credentials instead; otactl did not follow it: point `artifact.url` at a server whose redirects stay within the rules",
            asset_route()
        )
    );
    assert_not_printed(&out, &["deploy", "hunter2", "s3cr3t"]);
    assert!(files.requests().is_empty(), "{:?}", files.requests());
    assert_eq!(redirect.requests().len(), 1);
}

#[test]
fn a_redirect_to_a_file_url_is_refused_and_not_retried() {
    let ctx = repo();
    let (redirect, out) = verify_redirected(&ctx, "file:///etc/passwd".into(), 1);
    let line = ports(&item(&out, 3), &[&redirect]);
    assert_eq!(
        line,
        format!(
            "✗ FAIL  3. asset exists: `http://127.0.0.1:[PORT]/{}`: redirect 1 leads to `file:///etc/passwd`, which the URL rules refuse: a redirect may lead only to `https://`, or `http://` on a loopback host; otactl did not follow it: point `artifact.url` at a server whose redirects stay within the rules",
            asset_route()
        )
    );
    assert_eq!(
        redirect.requests().len(),
        1,
        "a refused redirect is not retried"
    );
}

#[test]
fn endless_redirects_stop_at_ten_and_are_not_retried() {
    let ctx = repo();
    let (redirect, out) = verify_redirected(&ctx, "{base}/again".into(), 3);
    let line = ports(&item(&out, 3), &[&redirect]);
    assert_eq!(
        line,
        format!(
            "? error 3. asset exists: `http://127.0.0.1:[PORT]/{}`: more than 10 redirects (the last to `http://127.0.0.1:[PORT]/again`); otactl did not follow it: point `artifact.url` at the asset itself",
            asset_route()
        )
    );
    // The first request and ten redirects, once: too many redirects do not heal.
    assert_eq!(redirect.requests().len(), 11);
}

// Finding 4: in CI, `verify` of a `file://` URL told the size and hash of any file.

/// A file outside the release folder, under a folder named by the build id.
fn outside(ctx: &TestContext) -> (PathBuf, String) {
    let path = asset_path(&ctx.root().join("elsewhere"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"a file the runner can read\n").unwrap();
    (path, file_url(ctx, &format!("elsewhere/{}", asset_route())))
}

fn refusal(url: &str) -> String {
    format!(
        "✗ FAIL  3. asset exists: `{url}` is outside the release folder `[dir] path` (`../releases`) of otactl.toml; in CI (`CI` is set) a `file://` URL must name a file in that folder: publish the asset there with `otactl publish dir`, or pass `--allow-file-url` to read it anyway"
    )
}

#[test]
fn in_ci_a_file_url_outside_the_release_folder_fails_item_3() {
    let ctx = repo();
    let (path, url) = outside(&ctx);
    manifest_of(&ctx, &url, &path);
    let out = verify_in_ci(&ctx, "true", &[]);
    assert_exit(&out, 1);
    assert_eq!(item(&out, 3), refusal(&url));
    assert_eq!(
        item(&out, 4),
        "- skip  4. sha256 of the download: no asset to download (item 3)"
    );
    assert!(!stdout(&out).contains("bytes"), "{}", stdout(&out));

    // `--allow-file-url` reads it; so does a run outside CI, as before.
    for (ci, extra) in [
        ("true", &["--allow-file-url"][..]),
        ("", &[][..]),
        ("0", &[][..]),
        ("false", &[][..]),
    ] {
        let out = verify_in_ci(&ctx, ci, extra);
        assert!(
            item(&out, 3).starts_with("✓ pass  3."),
            "CI={ci:?}: {}",
            stdout(&out)
        );
        assert!(
            item(&out, 4).starts_with("✓ pass  4."),
            "CI={ci:?}: {}",
            stdout(&out)
        );
    }
    let out = verify(&ctx, &[]);
    assert!(item(&out, 4).starts_with("✓ pass  4."), "{}", stdout(&out));
}

#[test]
fn in_ci_a_missing_file_outside_the_release_folder_is_refused_the_same_way() {
    let ctx = repo();
    let url = file_url(&ctx, &format!("nowhere/{}", asset_route()));
    manifest(&ctx, &url, SHA);
    let out = verify_in_ci(&ctx, "1", &[]);
    assert_exit(&out, 1);
    // The same words as for a file that exists: the refusal tells nothing of the disk.
    assert_eq!(item(&out, 3), refusal(&url));
}

#[test]
fn in_ci_a_symlink_in_the_release_folder_to_a_file_outside_is_refused() {
    let ctx = repo();
    let (target, _) = outside(&ctx);
    let link = asset_path(&ctx.root().join("releases"));
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let url = file_url(&ctx, &format!("releases/{}", asset_route()));
    manifest_of(&ctx, &url, &target);
    let out = verify_in_ci(&ctx, "true", &[]);
    assert_exit(&out, 1);
    assert_eq!(item(&out, 3), refusal(&url));
}

#[test]
fn in_ci_a_file_in_the_release_folder_is_read_through_any_symlinked_spelling() {
    let ctx = repo();
    // `[dir] path` names the release folder through a symlink; the URL the real path.
    std::os::unix::fs::symlink(ctx.root().join("releases"), ctx.root().join("link")).unwrap();
    ctx.write(
        "otactl.toml",
        "name = \"app\"\n\n[dir]\npath = \"../link\"\n",
    );
    let url = file_url(&ctx, &format!("releases/{}", asset_route()));
    manifest_of(&ctx, &url, &asset_path(&ctx.root().join("releases")));
    let out = verify_in_ci(&ctx, "true", &[]);
    assert!(item(&out, 3).starts_with("✓ pass  3."), "{}", stdout(&out));
    assert!(item(&out, 4).starts_with("✓ pass  4."), "{}", stdout(&out));

    // A missing file in the release folder is missing, as outside CI.
    std::fs::remove_file(ctx.path("channels/canary/manifest.json")).unwrap();
    let url = file_url(&ctx, &format!("releases/{ID}/app-src-gone.tar.gz"));
    manifest(&ctx, &url, SHA);
    let out = verify_in_ci(&ctx, "true", &[]);
    assert_exit(&out, 1);
    assert!(item(&out, 3).contains("does not exist"), "{}", stdout(&out));
}

#[test]
fn in_ci_without_a_release_folder_every_file_url_is_refused() {
    let ctx = repo();
    ctx.write("otactl.toml", "name = \"app\"\n");
    let url = file_url(&ctx, &format!("releases/{}", asset_route()));
    manifest_of(&ctx, &url, &asset_path(&ctx.root().join("releases")));
    let out = verify_in_ci(&ctx, "true", &[]);
    assert_exit(&out, 1);
    assert_eq!(
        item(&out, 3),
        format!(
            "✗ FAIL  3. asset exists: `{url}` is a `file://` URL, and otactl.toml sets no release folder `[dir] path`; in CI (`CI` is set) a `file://` URL must name a file in that folder: set `[dir] path`, or pass `--allow-file-url` to read it anyway"
        )
    );
    let out = verify_in_ci(&ctx, "true", &["--allow-file-url"]);
    assert!(item(&out, 4).starts_with("✓ pass  4."), "{}", stdout(&out));
}
