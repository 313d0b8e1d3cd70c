//! `otactl publish dir` and `otactl verify`: the local release flow end to end, and
//! each checklist item failing for its own reason.

use std::path::PathBuf;
use std::process::Output;

use serde::Deserialize;

use crate::support::http::{Fault, FileServer};
use crate::support::{TestContext, fixtures, stderr, stdout};

/// A source repository, a channel repository (git, `main`) trusting the RFC 8032
/// test key, and a release folder.
struct Release {
    ctx: TestContext,
    id: String,
    tarball: PathBuf,
}

fn run(ctx: &TestContext, args: &[&str]) -> Output {
    ctx.otactl().args(args).output().unwrap()
}

fn ok(ctx: &TestContext, args: &[&str]) -> String {
    let out = run(ctx, args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

fn sign(ctx: &TestContext, channel: &str) {
    let key = fixtures().join("vectors/rfc8032-test1.private.pem");
    ok(
        ctx,
        &[
            "manifest",
            "sign",
            &format!("channels/{channel}/manifest.json"),
            "--key",
            key.to_str().unwrap(),
        ],
    );
}

impl Release {
    /// build-id → tar → publish dir → manifest new → sign, on `canary`.
    fn new() -> Release {
        let ctx = TestContext::new();
        let src = ctx.root().join("src");
        std::fs::create_dir_all(src.join("lib")).unwrap();
        std::fs::write(src.join("README.md"), "# app\n").unwrap();
        std::fs::write(src.join("lib/main.c"), "int main(void) { return 0; }\n").unwrap();
        ctx.git_in(&src, &["init", "-q", "-b", "main"]);
        ctx.git_in(&src, &["add", "-A"]);
        ctx.git_in(&src, &["commit", "-q", "-m", "app"]);
        ctx.trust("rfc8032-test1.public.pem");
        ctx.write(
            "otactl.toml",
            "name = \"app\"\nsource = \"../src\"\n[signing]\npublic_keys = [\"keys/ota_pubkey.pem\"]\nrequire = true\n[dir]\npath = \"../releases\"\n",
        );
        ctx.git_init();
        ctx.git_commit("channel repository");
        let id = ok(&ctx, &["build-id"]).trim().to_owned();
        let tarball = ctx.root().join(format!("app-src-{id}.tar.gz"));
        ok(&ctx, &["tar", "-o", tarball.to_str().unwrap()]);
        let url = ok(&ctx, &["publish", "dir", tarball.to_str().unwrap()])
            .trim()
            .to_owned();
        ok(
            &ctx,
            &[
                "manifest",
                "new",
                "--channel",
                "canary",
                "--build-id",
                &id,
                "--url",
                &url,
                "--from-file",
                tarball.to_str().unwrap(),
                "--notes",
                "first",
            ],
        );
        sign(&ctx, "canary");
        Release { ctx, id, tarball }
    }

    fn published(&self) -> PathBuf {
        self.ctx
            .root()
            .join(format!("releases/{}/app-src-{}.tar.gz", self.id, self.id))
    }

    fn verify(&self, extra: &[&str]) -> Output {
        self.ctx
            .otactl()
            .args(["verify", "--channel", "canary"])
            .args(extra)
            .output()
            .unwrap()
    }

    /// The verify transcript with the build id and commit replaced.
    fn transcript(&self, out: &Output) -> String {
        let commit = String::from_utf8(
            self.ctx
                .git_in(&self.ctx.root().join("src"), &["rev-parse", "HEAD"]),
        )
        .unwrap();
        self.ctx
            .transcript(out)
            .replace(commit.trim(), "[COMMIT]")
            .replace(&self.id, "[ID]")
    }

    /// Replaces the published artifact (and the manifest's digest) with `bytes`.
    fn republish(&self, bytes: &[u8]) {
        std::fs::write(self.published(), bytes).unwrap();
        let digest = self
            .ctx
            .run_tool("sha256sum", &[self.published().to_str().unwrap()]);
        let digest = String::from_utf8(digest.stdout).unwrap()[..64].to_owned();
        let path = self.ctx.path("channels/canary/manifest.json");
        let mut value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        value["artifact"]["sha256"] = digest.into();
        std::fs::write(&path, serde_json::to_string_pretty(&value).unwrap() + "\n").unwrap();
        sign(&self.ctx, "canary");
    }

    fn item(out: &Output, number: u8) -> String {
        stdout(out)
            .lines()
            .find(|l| l.contains(&format!(" {number}. ")))
            .unwrap_or("")
            .to_owned()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportJson {
    ok: bool,
    manifest: String,
    channel: Option<String>,
    build_id: Option<String>,
    items: Vec<ItemJson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemJson {
    number: u8,
    name: String,
    status: String,
    reason: String,
}

#[test]
fn the_local_release_flow_passes_every_item() {
    let r = Release::new();
    let out = r.verify(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    insta::assert_snapshot!("flow_text", r.transcript(&out));
    let out = r.verify(&["--format", "markdown"]);
    insta::assert_snapshot!("flow_markdown", r.transcript(&out));
    let out = r.verify(&["--format", "json"]);
    let report: ReportJson = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report.ok);
    assert_eq!(report.manifest, "channels/canary/manifest.json");
    assert_eq!(report.channel.as_deref(), Some("canary"));
    assert_eq!(report.build_id.as_deref(), Some(r.id.as_str()));
    let numbers: Vec<u8> = report.items.iter().map(|i| i.number).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert!(
        report.items.iter().all(|i| i.status == "pass"),
        "{:?}",
        report
            .items
            .iter()
            .map(|i| (&i.name, &i.status, &i.reason))
            .collect::<Vec<_>>()
    );
    // The tarball is git's, and lint agrees.
    let theirs = r.ctx.git_in(
        &r.ctx.root().join("src"),
        &[
            "archive",
            "--format=tar.gz",
            &format!("--prefix=app-{}/", r.id),
            "HEAD",
        ],
    );
    assert!(std::fs::read(&r.tarball).unwrap() == theirs);
    ok(&r.ctx, &["lint"]);
}

#[test]
fn an_altered_or_missing_artifact_fails() {
    let r = Release::new();
    std::fs::write(r.published(), b"not the release").unwrap();
    let out = r.verify(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        Release::item(&out, 4)
            .starts_with("✗ FAIL  4. sha256 of the download: 15 bytes downloaded with sha256"),
        "{}",
        stdout(&out)
    );
    std::fs::remove_file(r.published()).unwrap();
    let out = r.verify(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        Release::item(&out, 3).contains("FAIL")
            && Release::item(&out, 3).contains("does not exist"),
        "{}",
        stdout(&out)
    );
    assert!(Release::item(&out, 4).contains("skip") && Release::item(&out, 5).contains("skip"));
    // --offline skips the download and says so.
    let out = r.verify(&["--offline"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    for n in 3..=5 {
        assert!(
            Release::item(&out, n).contains("skipped: `--offline`"),
            "{}",
            stdout(&out)
        );
    }
    // A download larger than --max-size is stopped.
    r.republish(&vec![7u8; 4096]);
    let out = r.verify(&["--max-size", "100"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        Release::item(&out, 4).contains("more than `--max-size` 100"),
        "{}",
        stdout(&out)
    );
}

/// A gzip tarball made by Python's tarfile with the given entries.
fn hostile_tarball(ctx: &TestContext, entries: &str, pax_comment: &str) -> Vec<u8> {
    let script = format!(
        r#"
import io, tarfile, gzip, sys
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, pax_headers={{"comment": "{pax_comment}"}}) as t:
    for kind, name, target in [{entries}]:
        info = tarfile.TarInfo(name)
        if kind == "file":
            data = b"x\n"
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        else:
            info.type = tarfile.SYMTYPE
            info.linkname = target
            t.addfile(info)
sys.stdout.buffer.write(gzip.compress(buf.getvalue(), mtime=0))
"#
    );
    let out = ctx.tool("python3").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    out.stdout
}

#[test]
fn hostile_tarballs_fail_item_5() {
    let r = Release::new();
    let commit = String::from_utf8(
        r.ctx
            .git_in(&r.ctx.root().join("src"), &["rev-parse", "HEAD"]),
    )
    .unwrap();
    let commit = commit.trim();
    let p = format!("app-{}", r.id);
    let mut table = String::new();
    for (name, entries, comment) in [
        (
            "climbs out with ..",
            format!("('file', '{p}/a', ''), ('file', '{p}/../evil', '')"),
            commit.to_owned(),
        ),
        (
            "another prefix",
            format!("('file', 'other-{}/a', '')", r.id),
            commit.to_owned(),
        ),
        (
            "another commit",
            format!("('file', '{p}/a', '')"),
            "0123456789abcdef0123456789abcdef01234567".to_owned(),
        ),
        (
            "absolute symlink",
            format!("('file', '{p}/a', ''), ('link', '{p}/l', '/etc/passwd')"),
            commit.to_owned(),
        ),
        (
            "symlink leaving the tree",
            format!("('file', '{p}/a', ''), ('link', '{p}/d/l', '../../../x')"),
            commit.to_owned(),
        ),
    ] {
        let bytes = hostile_tarball(&r.ctx, &entries, &comment);
        r.republish(&bytes);
        let out = r.verify(&[]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stdout(&out));
        assert!(
            Release::item(&out, 4).contains("pass"),
            "{name}: {}",
            stdout(&out)
        );
        table.push_str(&format!(
            "{name}: {}\n",
            Release::item(&out, 5)
                .replace(&r.id, "[ID]")
                .replace(commit, "[COMMIT]")
        ));
    }
    r.republish(b"plain bytes, not gzip");
    let out = r.verify(&[]);
    table.push_str(&format!("not gzip: {}\n", Release::item(&out, 5)));
    insta::assert_snapshot!("hostile_tarballs", table);
}

#[test]
fn a_downgrade_against_the_base_fails_item_7() {
    let r = Release::new();
    r.ctx.git_commit("canary release");
    // An earlier build in the working tree than on `main`.
    let earlier = "20200101-0000-".to_owned() + &r.id[14..];
    let path = r.ctx.path("channels/canary/manifest.json");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        &format!("\"build_id\": \"{}\"", r.id),
        &format!("\"build_id\": \"{earlier}\""),
    );
    std::fs::write(&path, text).unwrap();
    sign(&r.ctx, "canary");
    let out = r.verify(&["--offline"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        Release::item(&out, 7).contains("downgrade") && Release::item(&out, 7).contains("`main`"),
        "{}",
        stdout(&out)
    );
    let out = r.verify(&["--offline", "--base", "nosuchref"]);
    assert!(
        Release::item(&out, 7).contains("FAIL") && Release::item(&out, 7).contains("nosuchref"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn promotion_order_warns_or_fails() {
    let r = Release::new();
    // The canary build goes straight to stable, skipping staging.
    let canary = std::fs::read_to_string(r.ctx.path("channels/canary/manifest.json")).unwrap();
    r.ctx.write(
        "channels/stable/manifest.json",
        canary.replace("\"channel\": \"canary\"", "\"channel\": \"stable\""),
    );
    sign(&r.ctx, "stable");
    let verify_stable = |extra: &[&str]| {
        r.ctx
            .otactl()
            .args(["verify", "--channel", "stable", "--offline"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = verify_stable(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        Release::item(&out, 8).starts_with("! warn")
            && Release::item(&out, 8).contains("never on `staging`"),
        "{}",
        stdout(&out)
    );
    let out = verify_stable(&["--strict-order"]);
    assert_eq!(out.status.code(), Some(1));
    // Once staging had it (in the git history), the order holds.
    r.ctx.write(
        "channels/staging/manifest.json",
        canary.replace("\"channel\": \"canary\"", "\"channel\": \"staging\""),
    );
    sign(&r.ctx, "staging");
    r.ctx.git_commit("staging");
    std::fs::remove_file(r.ctx.path("channels/staging/manifest.json")).unwrap();
    let out = verify_stable(&["--strict-order"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        Release::item(&out, 8).contains("was published on `staging` (commit"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn downloads_over_http_with_retries() {
    let r = Release::new();
    let server = FileServer::start(r.ctx.root().join("releases"));
    let url = server.url(&format!("{}/app-src-{}.tar.gz", r.id, r.id));
    // A manifest pointing at the HTTP server instead of the file.
    let path = r.ctx.path("channels/canary/manifest.json");
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    value["artifact"]["url"] = url.clone().into();
    std::fs::write(&path, serde_json::to_string_pretty(&value).unwrap() + "\n").unwrap();
    sign(&r.ctx, "canary");
    let out = r.verify(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(server.requests().len(), 1);

    server.inject([Fault::Status(500), Fault::Status(502)]);
    let out = r.verify(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(
        server.requests().len(),
        4,
        "two failures, then the download"
    );

    server.inject([Fault::Reset, Fault::RateLimited]);
    let out = r.verify(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // As many failures as otactl makes attempts.
    server.inject(std::iter::repeat_n(Fault::Status(503), 4));
    let out = r.verify(&[]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "a remote that keeps failing is exit 3: {}",
        stdout(&out)
    );
    assert!(
        Release::item(&out, 3).starts_with("? error")
            && Release::item(&out, 3).contains("after 4 attempts"),
        "{}",
        stdout(&out)
    );

    // 404: the asset does not exist, a failed check.
    value["artifact"]["url"] = server.url(&format!("{}/missing.tar.gz", r.id)).into();
    std::fs::write(&path, serde_json::to_string_pretty(&value).unwrap() + "\n").unwrap();
    sign(&r.ctx, "canary");
    let out = r.verify(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(Release::item(&out, 3).contains("404"), "{}", stdout(&out));
}

#[test]
fn github_format_and_usage_errors() {
    let r = Release::new();
    std::fs::write(r.published(), b"altered").unwrap();
    let summary = r.ctx.root().join("summary.md");
    let out = r
        .ctx
        .otactl()
        .args(["verify", "--channel", "canary", "--format", "github"])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with("::error file=channels/canary/manifest.json,title=otactl verify%3A 4. sha256 of the download::"), "{}", stdout(&out));
    let table = std::fs::read_to_string(&summary).unwrap();
    assert!(
        table.contains("| 4 | sha256 of the download | ❌ fail |"),
        "{table}"
    );
    let out = run(&r.ctx, &["verify", "--channel", "nosuch"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&r.ctx, &["verify", "--channel", "stable"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`stable` has no manifest yet"),
        "{}",
        stderr(&out)
    );
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishedJson {
    url: String,
    path: String,
    sha256: String,
    size: u64,
    already_present: bool,
}

#[test]
fn publish_dir_is_idempotent_and_never_replaces() {
    let ctx = TestContext::new();
    let id = "20260115-1614-9121078";
    ctx.write("out/app-src-20260115-1614-9121078.tar.gz", b"release bytes");
    let releases = ctx.root().join("releases");
    let publish = |file: &str, extra: &[&str]| {
        ctx.otactl()
            .args(["publish", "dir", file, "--path"])
            .arg(&releases)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = publish("out/app-src-20260115-1614-9121078.tar.gz", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let dest = releases
        .join(id)
        .join("app-src-20260115-1614-9121078.tar.gz");
    assert_eq!(
        stdout(&out),
        format!("file://{}\n", dest.canonicalize().unwrap().display())
    );
    assert_eq!(std::fs::read(&dest).unwrap(), b"release bytes");
    // Again: success, nothing changes.
    let out = publish(
        "out/app-src-20260115-1614-9121078.tar.gz",
        &["--format", "json"],
    );
    assert_eq!(out.status.code(), Some(0));
    let json: PublishedJson = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json.already_present);
    assert_eq!(json.size, 13);
    assert_eq!(json.sha256.len(), 64);
    assert!(json.url.starts_with("file://") && json.path.ends_with(".tar.gz"));
    // Other content under the same name: refused, the published file untouched.
    ctx.write("out/app-src-20260115-1614-9121078.tar.gz", b"other bytes");
    let out = publish("out/app-src-20260115-1614-9121078.tar.gz", &[]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("already exists with other content"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&dest).unwrap(), b"release bytes");
    let leftovers: Vec<_> = std::fs::read_dir(releases.join(id))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    // A base URL, and a file whose name carries no build id.
    ctx.write("fw image.bin", b"fw");
    let out = publish(
        "fw image.bin",
        &[
            "--base-url",
            "https://ota.example.com/releases/",
            "--build-id",
            id,
        ],
    );
    assert_eq!(
        stdout(&out),
        format!("https://ota.example.com/releases/{id}/fw%20image.bin\n")
    );
    let out = publish("fw image.bin", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("`--build-id`"), "{}", stderr(&out));
    let out = ctx
        .otactl()
        .args(["publish", "dir", "fw image.bin", "--build-id", id])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("`[dir] path`"), "{}", stderr(&out));
}
