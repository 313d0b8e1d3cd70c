//! `otactl build-id` and `otactl tar`: byte identity with `git archive`, the secret
//! scan, and the warnings for content a tarball cannot hold.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::otactl_snapshot;
use crate::support::assert::{assert_exit, assert_exit_case, assert_not_printed};
use crate::support::files::names;
use crate::support::{TestContext, stderr, stdout};

/// A source repository at `ctx.path("src")` with every kind of entry git archives.
fn rich_repo(ctx: &TestContext) -> PathBuf {
    let src = ctx.path("src");
    std::fs::create_dir_all(&src).unwrap();
    let git = |args: &[&str], date: &str| {
        let out = ctx
            .tool("git")
            .current_dir(&src)
            .env("GIT_COMMITTER_DATE", date)
            .env("GIT_AUTHOR_DATE", date)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
        out
    };
    let write = |rel: &str, content: &[u8]| {
        let path = src.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    };
    git(&["init", "-q", "-b", "main"], "2026-01-10T08:00:00Z");
    write("README.md", b"# rich\n");
    write("empty.txt", b"");
    write("bin/run.sh", b"#!/bin/sh\necho run\n");
    set_executable(&src.join("bin/run.sh"));
    write("a/b/c/d/e/nested.txt", b"deep\n");
    write("name with spaces.txt", b"spaces\n");
    write("ünïcödé-şğ.txt", "non-ASCII name\n".as_bytes());
    let long = format!("{}/{}.txt", "long-directory-name".repeat(4), "f".repeat(60));
    assert!(long.len() > 100);
    write(&long, b"a path longer than 100 bytes\n");
    write("version.txt", b"commit $Format:%H$ at $Format:%ci$\n");
    write("ignored/notes.txt", b"not shipped\n");
    // A secret in a path that is never shipped does not refuse the build.
    write("ignored/.env", b"TOKEN=not-shipped\n");
    write(
        ".gitattributes",
        b"version.txt export-subst\nignored/ export-ignore\n",
    );
    write("assets/big.bin", &pseudo_random(24 * 1024 * 1024));
    write(
        "assets/model.bin",
        b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n",
    );
    std::os::unix::fs::symlink("../README.md", src.join("a/readme-link")).unwrap();
    std::os::unix::fs::symlink("../../etc/passwd", src.join("outside-link")).unwrap();
    git(&["add", "-A"], "2026-01-10T08:00:00Z");
    // A submodule gitlink, not checked out (an empty folder, as after a plain clone).
    std::fs::create_dir_all(src.join("vendor/sub")).unwrap();
    git(
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            "160000,0123456789abcdef0123456789abcdef01234567,vendor/sub",
        ],
        "2026-01-10T08:00:00Z",
    );
    git(&["commit", "-q", "-m", "first"], "2026-01-10T08:00:00Z");
    git(
        &["tag", "-a", "-m", "release one", "v1"],
        "2026-01-10T08:05:00Z",
    );
    write("README.md", b"# rich, second\n");
    git(
        &["commit", "-q", "-am", "second"],
        "2026-02-03T23:59:59+05:30",
    );
    git(&["tag", "v2"], "2026-02-03T23:59:59+05:30");
    write("bin/run.sh", b"#!/bin/sh\necho third\n");
    git(&["commit", "-q", "-am", "third"], "2026-03-01T00:00:00Z");
    src
}

fn set_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Bytes that compress somewhat, like real binaries: runs of structure and noise.
fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if x.is_multiple_of(4) {
            out.extend_from_slice(b"structured text line for the compressor\n");
        } else {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    out.truncate(len);
    out
}

fn build_id(ctx: &TestContext, src: &Path, reference: &str) -> String {
    let out = ctx
        .otactl()
        .arg("build-id")
        .arg("--source")
        .arg(src)
        .args(["--ref", reference])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    stdout(&out).trim().to_owned()
}

fn otactl_tar(
    ctx: &TestContext,
    src: &Path,
    reference: &str,
    out_file: &Path,
    env: &[(&str, &str)],
) -> Output {
    let mut cmd = ctx.otactl();
    cmd.arg("tar")
        .arg("--source")
        .arg(src)
        .args(["--ref", reference, "--name", "rich", "-o"])
        .arg(out_file);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn byte_identical_to_git_archive_for_every_ref() {
    let ctx = TestContext::new();
    let src = rich_repo(&ctx);
    for (reference, env) in [
        ("HEAD", vec![]),
        ("v1", vec![("TZ", "Asia/Kolkata")]),
        ("v2", vec![("TZ", "America/Los_Angeles")]),
        ("main~1", vec![]),
    ] {
        let id = build_id(&ctx, &src, reference);
        let ours = ctx.root().join(format!("rich-src-{id}.tar.gz"));
        let out = otactl_tar(&ctx, &src, reference, &ours, &env);
        assert_exit_case(&out, 0, reference);
        let prefix = format!("--prefix=rich-{id}/");
        let theirs = ctx.git_in(&src, &["archive", "--format=tar.gz", &prefix, reference]);
        let ours_bytes = std::fs::read(&ours).unwrap();
        assert!(
            ours_bytes == theirs,
            "{reference}: the .tar.gz differs from git archive's"
        );
        let tar = ctx.git_in(&src, &["archive", "--format=tar", &prefix, reference]);
        assert!(
            gunzip(&ours_bytes) == tar,
            "{reference}: the tar stream differs from git archive's"
        );
        // stdout: path, size and sha256; FILE.sha256 in sha256sum format.
        let sha = ctx.run_tool("sha256sum", &[ours.to_str().unwrap()]);
        let sha = String::from_utf8(sha.stdout).unwrap();
        let sha = sha.split_whitespace().next().unwrap();
        assert_eq!(
            stdout(&out),
            format!(
                "path: {}\nsize: {}\nsha256: {sha}\n",
                ours.display(),
                ours_bytes.len()
            )
        );
        let sums = std::fs::read_to_string(format!("{}.sha256", ours.display())).unwrap();
        assert_eq!(sums, format!("{sha}  rich-src-{id}.tar.gz\n"));
    }
}

#[test]
fn same_bytes_under_another_umask_and_timezone() {
    let ctx = TestContext::new();
    let src = rich_repo(&ctx);
    let a = ctx.root().join("a.tar.gz");
    let b = ctx.root().join("b.tar.gz");
    assert!(otactl_tar(&ctx, &src, "HEAD", &a, &[]).status.success());
    let out = ctx
        .tool("sh")
        .env("TZ", "Pacific/Chatham")
        .arg("-c")
        .arg(format!(
            "umask 077 && exec {} tar --source {} --name rich -o {}",
            env!("CARGO_BIN_EXE_otactl"),
            src.display(),
            b.display()
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::read(a).unwrap() == std::fs::read(b).unwrap());
}

#[test]
fn transcript_warns_about_submodules_and_lfs() {
    let ctx = TestContext::new();
    let src = rich_repo(&ctx);
    let mut cmd = ctx.otactl();
    cmd.arg("tar")
        .arg("--source")
        .arg(&src)
        .args(["--name", "rich", "-o", "rich.tar.gz"]);
    let out = otactl_snapshot!(ctx, cmd, "rich_transcript");
    assert_exit(&out, 0);
}

#[test]
fn build_id_and_tar_take_the_source_and_name_from_otactl_toml() {
    // A channel repository next to its source, as the release flow runs them: neither
    // `--source` nor `--name` is given.
    let ctx = TestContext::new();
    let src = ctx.root().join("src");
    ctx.git_repo(
        &src,
        "app",
        &[
            ("README.md", "# app\n"),
            ("lib/main.c", "int main(void) { return 0; }\n"),
        ],
    );
    ctx.write("otactl.toml", "name = \"app\"\nsource = \"../src\"\n");
    let out = ctx.otactl().arg("build-id").output().unwrap();
    assert_exit(&out, 0);
    let id = stdout(&out).trim().to_owned();
    assert_eq!(id, build_id(&ctx, &src, "HEAD"));
    let tarball = ctx.root().join(format!("app-src-{id}.tar.gz"));
    let out = ctx
        .otactl()
        .arg("tar")
        .arg("-o")
        .arg(&tarball)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let theirs = ctx.git_in(
        &src,
        &[
            "archive",
            "--format=tar.gz",
            &format!("--prefix=app-{id}/"),
            "HEAD",
        ],
    );
    assert!(std::fs::read(&tarball).unwrap() == theirs);
}

#[test]
fn byte_identical_on_this_repository() {
    let ctx = TestContext::new();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        repo.join(".git").exists(),
        "this test runs in a git checkout of otactl"
    );
    let out_file = ctx.root().join("self.tar.gz");
    // The test fixtures hold public RFC 8032 test keys on purpose.
    let out = ctx
        .otactl()
        .arg("tar")
        .arg("--source")
        .arg(repo)
        .args([
            "--name",
            "otactl",
            "--allow-secret",
            "tests/fixtures/**",
            "-o",
        ])
        .arg(&out_file)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let id = build_id(&ctx, repo, "HEAD");
    let theirs = ctx.git_in(
        repo,
        &[
            "archive",
            "--format=tar.gz",
            &format!("--prefix=otactl-{id}/"),
            "HEAD",
        ],
    );
    assert!(std::fs::read(out_file).unwrap() == theirs);
}

#[test]
fn build_id_is_the_committer_time_in_utc() {
    let ctx = TestContext::new();
    let src = rich_repo(&ctx);
    let head = String::from_utf8(ctx.git_in(&src, &["rev-parse", "HEAD"])).unwrap();
    assert_eq!(
        build_id(&ctx, &src, "HEAD"),
        format!("20260301-0000-{}", &head[..7])
    );
    let v2 = String::from_utf8(ctx.git_in(&src, &["rev-parse", "v2^{commit}"])).unwrap();
    // 23:59:59 at +05:30 is 18:29 UTC.
    assert_eq!(
        build_id(&ctx, &src, "v2"),
        format!("20260203-1829-{}", &v2[..7])
    );
    // --at now takes the clock.
    let out = ctx
        .otactl()
        .arg("build-id")
        .arg("--source")
        .arg(&src)
        .args(["--at", "now"])
        .output()
        .unwrap();
    let now = stdout(&out);
    assert!(
        now.starts_with("20") && now.trim().ends_with(&head[..7]) && now.trim().len() == 21,
        "{now}"
    );
}

#[test]
fn a_tree_is_refused() {
    let ctx = TestContext::new();
    let src = rich_repo(&ctx);
    let tree = String::from_utf8(ctx.git_in(&src, &["rev-parse", "HEAD^{tree}"])).unwrap();
    for command in ["build-id", "tar"] {
        let out = ctx
            .otactl()
            .arg(command)
            .arg("--source")
            .arg(&src)
            .args(["--ref", tree.trim()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{command}");
        assert!(
            stderr(&out).contains("names a tree, not a commit"),
            "{}",
            stderr(&out)
        );
    }
    let mut cmd = ctx.otactl();
    cmd.arg("tar")
        .arg("--source")
        .arg(&src)
        .args(["--ref", "no-such-ref"]);
    let out = otactl_snapshot!(ctx, cmd, "unknown_ref");
    assert_exit(&out, 2);
}

#[test]
fn build_id_flag_must_name_the_commit() {
    let ctx = TestContext::new();
    let src = rich_repo(&ctx);
    let mut cmd = ctx.otactl();
    cmd.arg("tar").arg("--source").arg(&src).args([
        "--build-id",
        "20260301-0000-0000000",
        "-o",
        "x.tar.gz",
    ]);
    let out = otactl_snapshot!(ctx, cmd, "build_id_other_commit");
    assert_exit(&out, 2);
    assert!(!ctx.path("x.tar.gz").exists());
}

/// A one-commit repository holding `rel` with `content`.
fn repo_with(ctx: &TestContext, rel: &str, content: &[u8]) -> PathBuf {
    let src = ctx.path("secret-src");
    let main: &[u8] = b"int main(void) { return 0; }\n";
    ctx.git_repo(&src, "x", &[("main.c", main), (rel, content)]);
    src
}

#[test]
fn secrets_refuse_the_build_and_are_never_printed() {
    let pem_body = "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g";
    let token = format!("ghp_{}", "Z9".repeat(18));
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "keys/deploy.pem",
            format!(
                "-----BEGIN {0}-----\n{pem_body}\n-----END {0}-----\n",
                "PRIVATE KEY"
            ),
            pem_body,
        ),
        (
            ".env",
            "DATABASE_PASSWORD=hunter2-very-secret\n".to_owned(),
            "hunter2-very-secret",
        ),
        (
            "home/.ssh/id_ed25519",
            "openssh key body zzzz-secret\n".to_owned(),
            "zzzz-secret",
        ),
        (
            "config/app.toml",
            format!("[github]\nuser = \"bot\"\ntoken = \"{token}\"\n"),
            token.as_str(),
        ),
    ];
    let mut table = String::new();
    for (rel, content, secret) in &cases {
        let ctx = TestContext::new();
        let src = repo_with(&ctx, rel, content.as_bytes());
        let tar = |extra: &[&str]| {
            ctx.otactl()
                .arg("tar")
                .arg("--source")
                .arg(&src)
                .args(["--name", "app", "-o", "out.tar.gz"])
                .args(extra)
                .output()
                .unwrap()
        };
        let out = tar(&[]);
        assert_exit_case(&out, 4, rel);
        assert!(
            !ctx.path("out.tar.gz").exists(),
            "{rel}: a tarball was written"
        );
        assert!(!ctx.path("out.tar.gz.sha256").exists());
        assert_eq!(
            names(&ctx.cwd),
            ["secret-src"],
            "{rel}: temporary files left behind"
        );
        assert_not_printed(&out, &[secret]);
        table.push_str(&format!("--- {rel}\n{}", ctx.filter(&stderr(&out))));
        // Let through by --allow-secret, and by allow_secrets in otactl.toml.
        assert_exit_case(&tar(&["--allow-secret", rel]), 0, &format!("{rel} allowed"));
        std::fs::remove_file(ctx.path("out.tar.gz")).unwrap();
        ctx.write("otactl.toml", format!("allow_secrets = [\"{rel}\"]\n"));
        assert_exit_case(&tar(&[]), 0, &format!("{rel} allowed by config"));
    }
    insta::assert_snapshot!("secret_refusals", table);
}
