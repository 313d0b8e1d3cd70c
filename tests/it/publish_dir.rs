//! `otactl publish dir`: the copy in `DIR/<build_id>/<file>`, the URL it prints, where
//! the build id, folder and base URL come from, and that a published file is never
//! replaced or left half-written.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde::Deserialize;

use crate::support::assert::assert_exit;
use crate::support::fixture::ID;
use crate::support::{TestContext, stderr, stdout};

const NAME: &str = "app-src-20260115-1614-9121078.tar.gz";
const BYTES: &[u8] = b"release bytes\n";
/// `printf 'release bytes\n' | sha256sum`
const SHA: &str = "fee19ee9931cf7f5f2b8321a7cfd6195ef12910d804847cc1c689ce3831922ef";

/// `publish dir --format json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishedJson {
    target: String,
    url: String,
    path: String,
    sha256: String,
    size: u64,
    already_there: bool,
}

/// A working folder holding `out/app-src-<ID>.tar.gz`.
fn setup() -> TestContext {
    let ctx = TestContext::new();
    ctx.write(&format!("out/{NAME}"), BYTES);
    ctx
}

fn publish(ctx: &TestContext, args: &[&str]) -> Output {
    ctx.otactl()
        .args(["publish", "dir"])
        .args(args)
        .output()
        .unwrap()
}

/// `publish dir FILE --path ../releases --build-id BUILD_ID`, which must succeed: its
/// stdout.
fn publish_as(ctx: &TestContext, file: &str, build_id: &str) -> String {
    let out = publish(
        ctx,
        &[file, "--path", "../releases", "--build-id", build_id],
    );
    assert_exit(&out, 0);
    stdout(&out)
}

/// `publish dir` of the test file into `../releases`.
fn publish_to_releases(ctx: &TestContext) -> Output {
    publish(ctx, &[&file_arg(), "--path", "../releases"])
}

/// The release folder holds the build's folder and the published file, nothing else.
fn assert_only_the_published_file(ctx: &TestContext) {
    assert_eq!(
        files_under(&releases(ctx)),
        [ID.to_owned(), format!("{ID}/{NAME}")]
    );
}

/// `../releases`, seen from the working folder.
fn releases(ctx: &TestContext) -> PathBuf {
    ctx.root().join("releases")
}

fn file_arg() -> String {
    format!("out/{NAME}")
}

/// Every folder and file under `dir`, relative and sorted (hidden ones included).
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            found.push(
                path.strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
            if path.is_dir() {
                walk(root, &path, found);
            }
        }
    }
    let mut found = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut found);
    }
    found.sort();
    found
}

/// The published copy of `out/<NAME>`.
fn dest(ctx: &TestContext) -> PathBuf {
    releases(ctx).join(ID).join(NAME)
}

#[test]
fn publishes_a_copy_and_prints_its_normalised_file_url() {
    let ctx = setup();
    let out = publish_to_releases(&ctx);
    assert_exit(&out, 0);
    let canonical = releases(&ctx).canonicalize().unwrap();
    assert_eq!(
        stdout(&out),
        format!("file://{}/{ID}/{NAME}\n", canonical.display())
    );
    assert!(!stdout(&out).contains(".."), "{}", stdout(&out));
    assert_eq!(std::fs::read(dest(&ctx)).unwrap(), BYTES);
    assert_only_the_published_file(&ctx);
    insta::assert_snapshot!("file_url", ctx.transcript(&out));
}

/// A release folder is served by a web server running as another user: the copy gets
/// the permissions any new file gets (as `cp` would give it), not a temporary file's
/// private 0600.
#[test]
fn the_copy_is_as_readable_as_any_new_file() {
    use std::os::unix::fs::PermissionsExt;
    let ctx = setup();
    let out = publish_to_releases(&ctx);
    assert_exit(&out, 0);
    let probe = ctx.root().join("probe");
    std::fs::write(&probe, b"").unwrap();
    let usual = std::fs::metadata(&probe).unwrap().permissions().mode() & 0o777;
    let mode = std::fs::metadata(dest(&ctx)).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        format!("{mode:o}"),
        format!("{usual:o}"),
        "the published file's mode"
    );
}

#[test]
fn publishing_the_same_file_again_succeeds_and_says_already_published() {
    let ctx = setup();
    let first = publish_to_releases(&ctx);
    assert_exit(&first, 0);
    let out = publish_to_releases(&ctx);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), stdout(&first));
    insta::assert_snapshot!("already_published", ctx.transcript(&out));
    assert_eq!(std::fs::read(dest(&ctx)).unwrap(), BYTES);
    assert_only_the_published_file(&ctx);
}

#[test]
fn other_content_under_the_same_name_is_refused_with_exit_4() {
    let ctx = setup();
    assert_exit(&publish_to_releases(&ctx), 0);
    ctx.write(&format!("out/{NAME}"), b"other bytes\n");
    let out = publish_to_releases(&ctx);
    assert_exit(&out, 4);
    insta::assert_snapshot!("other_content", ctx.transcript(&out));
    assert_eq!(std::fs::read(dest(&ctx)).unwrap(), BYTES);
    // No temporary file is left next to it.
    assert_only_the_published_file(&ctx);
}

#[test]
fn base_url_gives_an_https_url_with_the_file_name_percent_encoded() {
    let ctx = TestContext::new();
    ctx.write("fw image.bin", b"firmware\n");
    for base in [
        "https://ota.example.com/releases",
        "https://ota.example.com/releases/",
    ] {
        let out = publish(
            &ctx,
            &[
                "fw image.bin",
                "--path",
                "../releases",
                "--build-id",
                ID,
                "--base-url",
                base,
            ],
        );
        assert_exit(&out, 0);
        assert_eq!(
            stdout(&out),
            format!("https://ota.example.com/releases/{ID}/fw%20image.bin\n"),
            "--base-url {base}"
        );
    }
    assert_eq!(
        std::fs::read(releases(&ctx).join(ID).join("fw image.bin")).unwrap(),
        b"firmware\n"
    );
    // Without a base URL the file:// URL is percent-encoded too.
    let url = publish_as(&ctx, "fw image.bin", ID);
    assert!(url.ends_with(&format!("/{ID}/fw%20image.bin\n")), "{url}");
}

#[test]
fn the_build_id_flag_names_the_folder_for_any_file() {
    let ctx = setup();
    ctx.write("firmware.bin", b"firmware\n");
    let url = publish_as(&ctx, "firmware.bin", ID);
    assert!(
        url.ends_with(&format!("/releases/{ID}/firmware.bin\n")),
        "{url}"
    );
    // The flag comes first, before the build id in the file name.
    let other = "20260201-0800-abcdef0";
    publish_as(&ctx, &file_arg(), other);
    assert_eq!(
        std::fs::read(releases(&ctx).join(other).join(NAME)).unwrap(),
        BYTES
    );
}

#[test]
fn a_file_name_without_a_build_id_needs_the_build_id_flag() {
    let ctx = TestContext::new();
    ctx.write("firmware.bin", b"firmware\n");
    let out = publish(&ctx, &["firmware.bin", "--path", "../releases"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--build-id"), "{}", stderr(&out));
    insta::assert_snapshot!("no_build_id", ctx.transcript(&out));
    assert!(!releases(&ctx).exists());
}

#[test]
fn an_invalid_build_id_flag_is_a_usage_error() {
    let ctx = setup();
    let out = publish(
        &ctx,
        &[&file_arg(), "--path", "../releases", "--build-id", "v1.2.3"],
    );
    assert_exit(&out, 2);
    insta::assert_snapshot!("bad_build_id", ctx.transcript(&out));
    assert!(!releases(&ctx).exists());
}

#[test]
fn dir_path_and_base_url_come_from_otactl_toml() {
    let ctx = setup();
    ctx.write(
        "otactl.toml",
        "name = \"app\"\n\n[dir]\npath = \"../releases\"\nbase_url = \"https://ota.example.com/releases\"\n",
    );
    ctx.git_init();
    std::fs::create_dir_all(ctx.path("sub")).unwrap();
    // Run from a subfolder: `[dir] path` is relative to otactl.toml's folder.
    let out = ctx
        .otactl()
        .current_dir(ctx.path("sub"))
        .args(["publish", "dir", &format!("../out/{NAME}")])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert_eq!(
        stdout(&out),
        format!("https://ota.example.com/releases/{ID}/{NAME}\n")
    );
    assert_eq!(std::fs::read(dest(&ctx)).unwrap(), BYTES);
    assert!(!ctx.path("releases").exists() && !ctx.path("sub/releases").exists());

    // Flags win over the file.
    let out = publish(
        &ctx,
        &[
            &file_arg(),
            "--path",
            "../cdn",
            "--base-url",
            "https://cdn.example.com/ota",
        ],
    );
    assert_exit(&out, 0);
    assert_eq!(
        stdout(&out),
        format!("https://cdn.example.com/ota/{ID}/{NAME}\n")
    );
    assert_eq!(
        std::fs::read(ctx.root().join("cdn").join(ID).join(NAME)).unwrap(),
        BYTES
    );
}

#[test]
fn no_path_and_no_config_is_a_usage_error() {
    let ctx = setup();
    let out = publish(&ctx, &[&file_arg()]);
    assert_exit(&out, 2);
    insta::assert_snapshot!("no_path", ctx.transcript(&out));
}

#[test]
fn json_output_describes_the_copy() {
    let ctx = setup();
    let json = |out: &Output| -> PublishedJson {
        assert_exit(out, 0);
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let args = [&file_arg(), "--path", "../releases", "--format", "json"];
    let first = json(&publish(&ctx, &args));
    let dest = dest(&ctx).canonicalize().unwrap();
    assert_eq!(first.url, format!("file://{}", dest.display()));
    assert_eq!(first.path, dest.display().to_string());
    assert_eq!(first.sha256, SHA);
    assert_eq!(first.size, 14);
    assert_eq!(first.target, "dir");
    assert!(!first.already_there);
    let again = json(&publish(&ctx, &args));
    assert_eq!(
        (again.url, again.path, again.sha256, again.size),
        (first.url, first.path, first.sha256, first.size)
    );
    assert!(again.already_there);
}

/// A refused command writes nothing: not even the build's folder.
#[test]
fn a_failed_publish_leaves_nothing_in_the_release_folder() {
    let ctx = setup();
    let missing = format!("out/nothing-src-{ID}.tar.gz");
    let out = publish(&ctx, &[&missing, "--path", "../releases"]);
    assert_exit(&out, 2);
    assert_eq!(files_under(&releases(&ctx)), Vec::<String>::new());

    let out = publish(
        &ctx,
        &[
            &file_arg(),
            "--path",
            "../releases",
            "--base-url",
            "not a url",
        ],
    );
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--base-url"), "{}", stderr(&out));
    assert_eq!(files_under(&releases(&ctx)), Vec::<String>::new());
}
