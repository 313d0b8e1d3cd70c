//! A release made the local way (build-id → tar → publish dir → manifest new →
//! manifest sign) in a channel repository, for the modules that run `otactl verify`,
//! and the line of one checklist item in its report.

use std::path::{Path, PathBuf};
use std::process::Output;

use super::assert::assert_exit;
use super::fixture::test_private_key;
use super::{TestContext, stderr, stdout};

/// A source repository at `src/` inside a channel repository (git, `main` committed
/// without manifests) that trusts the RFC 8032 test key, requires signatures and
/// publishes to `../releases`; the source tarball is made.
pub struct Channel {
    pub ctx: TestContext,
    /// The build id of the source's HEAD.
    pub id: String,
    /// The source's HEAD commit.
    pub commit: String,
    /// `../app-src-<id>.tar.gz`, made by `otactl tar`.
    pub tarball: PathBuf,
}

/// Runs otactl in the working folder, asserts exit 0 and returns stdout.
pub fn otactl_ok(ctx: &TestContext, args: &[&str]) -> String {
    let out = ctx.otactl().args(args).output().unwrap();
    assert_exit(&out, 0);
    stdout(&out)
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The line of item `number` in a text report.
pub fn item(out: &Output, number: u8) -> String {
    let label = format!("{number}.");
    stdout(out)
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some(label.as_str()))
        .unwrap_or_else(|| panic!("no item {number} in:\n{}", stdout(out)))
        .to_owned()
}

impl Channel {
    pub fn new() -> Channel {
        Channel::with_files(&[])
    }

    /// A channel whose source holds `files` (path, content) besides its own.
    pub fn with_files(files: &[(&str, &str)]) -> Channel {
        let ctx = TestContext::new();
        let mut all = vec![
            ("README.md", "# app\n"),
            ("lib/main.c", "int main(void) { return 0; }\n"),
        ];
        all.extend_from_slice(files);
        let commit = ctx.git_repo(&ctx.path("src"), "app", &all);

        ctx.trust("rfc8032-test1.public.pem");
        ctx.write(
            "otactl.toml",
            "name = \"app\"\n\n[signing]\npublic_keys = [\"keys/ota_pubkey.pem\"]\nrequire = true\n\n[dir]\npath = \"../releases\"\n",
        );
        ctx.write(".gitignore", "src/\n");
        ctx.git_init();
        ctx.git_commit("channel repository");

        let id = otactl_ok(&ctx, &["build-id", "--source", "src"])
            .trim()
            .to_owned();
        let tarball = ctx.root().join(format!("app-src-{id}.tar.gz"));
        otactl_ok(
            &ctx,
            &[
                "tar",
                "--source",
                "src",
                "-o",
                &format!("../app-src-{id}.tar.gz"),
            ],
        );
        Channel {
            ctx,
            id,
            commit,
            tarball,
        }
    }

    /// A channel whose `canary` manifest points at the published tarball (file://).
    pub fn released() -> Channel {
        let c = Channel::new();
        let url = c.publish(&c.tarball, &[]);
        c.manifest("canary", &url, &c.tarball, &[]);
        c
    }

    /// `publish dir FILE` (release folder from otactl.toml); returns the URL.
    pub fn publish(&self, file: &Path, extra: &[&str]) -> String {
        let mut args = vec!["publish", "dir", path_str(file)];
        args.extend_from_slice(extra);
        otactl_ok(&self.ctx, &args).trim().to_owned()
    }

    /// `manifest new` for `channel` with `--from-file FILE`, then `manifest sign`.
    pub fn manifest(&self, channel: &str, url: &str, file: &Path, extra: &[&str]) {
        let mut args = vec![
            "manifest",
            "new",
            "--channel",
            channel,
            "--build-id",
            &self.id,
            "--url",
            url,
            "--from-file",
            path_str(file),
            "--notes",
            "first release",
        ];
        args.extend_from_slice(extra);
        otactl_ok(&self.ctx, &args);
        self.sign(channel);
    }

    fn sign(&self, channel: &str) {
        let file = format!("channels/{channel}/manifest.json");
        let key = test_private_key();
        otactl_ok(
            &self.ctx,
            &["manifest", "sign", &file, "--key", path_str(&key)],
        );
    }

    /// The published tarball in the release folder.
    pub fn published(&self) -> PathBuf {
        self.ctx
            .root()
            .join(format!("releases/{0}/app-src-{0}.tar.gz", self.id))
    }

    pub fn verify(&self, extra: &[&str]) -> Output {
        self.verify_channel("canary", extra)
    }

    pub fn verify_channel(&self, channel: &str, extra: &[&str]) -> Output {
        self.ctx
            .otactl()
            .args(["verify", "--channel", channel])
            .args(extra)
            .output()
            .unwrap()
    }

    /// Publishes `bytes` as `name` under the build id and writes a signed `canary`
    /// manifest of kind `source-tar` pointing at it; returns `verify`'s output.
    pub fn verify_tarball(&self, name: &str, bytes: &[u8]) -> Output {
        self.release_tarball(name, bytes);
        self.verify(&[])
    }

    /// Publishes `bytes` as `name` under the build id and writes a signed `canary`
    /// manifest of kind `source-tar` pointing at it.
    pub fn release_tarball(&self, name: &str, bytes: &[u8]) {
        let file = self.ctx.root().join(name);
        std::fs::write(&file, bytes).unwrap();
        let url = self.publish(&file, &["--build-id", &self.id]);
        self.manifest("canary", &url, &file, &["--kind", "source-tar"]);
    }

    /// A gzip tarball written by Python's `tarfile` (PAX format, the global header's
    /// `comment` = `comment`). `members` is a JSON list of gzip members, each a list of
    /// `[kind, name, link target]` with kind `file`, `dir` or `symlink`; only the last
    /// member ends the tar archive, as if one archive was split across gzip members.
    pub fn python_tarball(&self, comment: &str, members: &serde_json::Value) -> Vec<u8> {
        let script = r#"
import gzip, io, json, sys, tarfile
comment, members = sys.argv[1], json.loads(sys.argv[2])
out = b""
for i, entries in enumerate(members):
    buf = io.BytesIO()
    headers = {"comment": comment} if i == 0 else {}
    t = tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, pax_headers=headers)
    for kind, name, target in entries:
        info = tarfile.TarInfo(name)
        if kind == "file":
            info.size = 2
            t.addfile(info, io.BytesIO(b"x\n"))
        elif kind == "dir":
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            t.addfile(info)
        else:
            info.type, info.linkname = tarfile.SYMTYPE, target
            t.addfile(info)
    if i == len(members) - 1:
        t.close()
    out += gzip.compress(buf.getvalue(), mtime=0)
sys.stdout.buffer.write(out)
"#;
        let out = self
            .ctx
            .tool("python3")
            .args(["-c", script, comment, &members.to_string()])
            .output()
            .unwrap();
        assert!(out.status.success(), "python3: {}", stderr(&out));
        out.stdout
    }

    /// The top folder of the tarball, `app-<id>/`.
    pub fn top(&self) -> String {
        format!("app-{}/", self.id)
    }
}
