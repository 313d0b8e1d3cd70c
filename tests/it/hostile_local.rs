//! What another local user, a path that lies, a pipe that never ends or a signal can
//! do to otactl: the private key is never readable by others, not even while it is
//! written; `..` is resolved on disk; key and configuration files may be pipes (read
//! under their size limit and a 10 s deadline); SIGINT and SIGTERM remove the
//! temporary files and exit 130 and 143.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use crate::support::assert::{assert_exit, assert_exit_case, assert_no_secret};
use crate::support::files::{mode, names, temp_files};
use crate::support::fixture::{ID, MANIFEST, SHA, release_url, test_private_key, test_public_key};
use crate::support::proc::{Running, feed_fifo, mkfifo, wait_until};
use crate::support::{TestContext, manifest_json, require_tool, stderr, stdout};

/// How long a test lets otactl run before it counts as hung: far above the 10 s
/// deadline for pipes, so that a slow machine never fails a test.
const HUNG: Duration = Duration::from_secs(90);

/// Panics when any part of the private key in `key_file` shows up in the output.
fn assert_key_not_printed(key_file: &Path, out: &Output) {
    assert_no_secret(&std::fs::read_to_string(key_file).unwrap(), out);
}

/// A named pipe `[TEMP]/NAME`, outside the working folder.
fn fifo_in(ctx: &TestContext, name: &str) -> std::path::PathBuf {
    let path = ctx.root().join(name);
    mkfifo(&path);
    path
}

/// A valid unsigned manifest at `MANIFEST`; returns its text.
fn unsigned_manifest(ctx: &TestContext) -> String {
    let text = manifest_json("stable", ID, None, "n");
    ctx.write(MANIFEST, &text);
    text
}

/// `otactl manifest sign MANIFEST --key KEY`.
fn sign_with(ctx: &TestContext, key: &Path) -> std::process::Command {
    let mut cmd = ctx.otactl();
    cmd.args(["manifest", "sign", MANIFEST, "--key"]).arg(key);
    cmd
}

fn assert_signed_by_test_key(ctx: &TestContext) {
    let out = ctx
        .otactl()
        .args([
            "manifest",
            "verify",
            MANIFEST,
            "--require-signature",
            "--pubkey",
        ])
        .arg(test_public_key())
        .output()
        .unwrap();
    assert_exit(&out, 0);
}

// ---------------------------------------------------------------------------------
// 1. The private key's temporary file is 0600 from the first byte.

/// One system call of an strace log, with the paths it names (`-y` prints the path
/// behind every file descriptor, so `fchmod(3</x/.otactl-a.tmp>, 0600)` names it too).
struct Call<'a> {
    name: &'a str,
    line: &'a str,
}

fn calls(log: &str) -> Vec<Call<'_>> {
    log.lines()
        .filter_map(|line| {
            // `PID name(args) = result`
            let rest = line.split_once(' ').map_or(line, |(_, r)| r).trim_start();
            let name = rest.split('(').next()?;
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                .then_some(Call { name, line })
        })
        .collect()
}

/// The quoted strings of a call, in order.
fn quoted(line: &str) -> Vec<&str> {
    line.split('"').skip(1).step_by(2).collect()
}

#[test]
fn generate_creates_the_private_key_0600_from_the_first_byte() {
    require_tool("strace");
    let ctx = TestContext::new();
    let root = ctx.root().canonicalize().unwrap();
    let private = root.join("secret/k.pem");
    let public = root.join("keys/ota_pubkey.pem");
    let trace = root.join("strace.log");
    // umask 0: a file created 0666 and narrowed afterwards would be seen as such.
    let out = ctx
        .tool("sh")
        .arg("-c")
        .arg("umask 0 && exec strace -f -y -qq -o \"$0\" -e trace=open,openat,creat,rename,renameat,renameat2,link,linkat,chmod,fchmod,fchmodat \"$@\"")
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_otactl"))
        .args(["key", "generate", "--private"])
        .arg(&private)
        .arg("--public")
        .arg(&public)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let log = std::fs::read_to_string(&trace).unwrap();
    let calls = calls(&log);

    // The temporary file that became the private key.
    let private_str = private.to_str().unwrap();
    let renamed = calls
        .iter()
        .find(|c| {
            ["rename", "renameat", "renameat2", "link", "linkat"].contains(&c.name)
                && quoted(c.line).last() == Some(&private_str)
        })
        .unwrap_or_else(|| panic!("no rename to {private_str} in:\n{log}"));
    let tmp = quoted(renamed.line)[0];
    assert!(
        Path::new(tmp).parent() == private.parent()
            && Path::new(tmp).extension() == Some("tmp".as_ref()),
        "{}",
        renamed.line
    );

    // It was created with mode 0600 by the very call that made it...
    let created = calls
        .iter()
        .find(|c| {
            ["open", "openat", "creat"].contains(&c.name)
                && quoted(c.line).contains(&tmp)
                && (c.name == "creat" || c.line.contains("O_CREAT"))
        })
        .unwrap_or_else(|| panic!("no creation of {tmp} in:\n{log}"));
    let args = created.line.rsplit_once(')').unwrap().0;
    let mode_arg = args.rsplit(", ").next().unwrap();
    assert_eq!(
        mode_arg, "0600",
        "created wider than 0600: {}",
        created.line
    );
    // ... and no chmod changed it afterwards, neither of the file nor of the key.
    let chmods: Vec<&str> = calls
        .iter()
        .filter(|c| {
            c.name.contains("chmod") && (c.line.contains(tmp) || c.line.contains(private_str))
        })
        .map(|c| c.line)
        .collect();
    assert!(
        chmods.is_empty(),
        "the private key's mode was changed: {chmods:?}"
    );

    // The final modes, even with umask 0.
    assert_eq!(mode(&private), 0o600);
    assert_eq!(mode(&public), 0o644);
    assert_eq!(names(&root.join("secret")), ["k.pem"]);
    // The folder made for the private key is the owner's alone (nobody else can swap
    // the key in it); the public key's folder is an ordinary one.
    assert_eq!(mode(&root.join("secret")), 0o700);
    assert_eq!(mode(&root.join("keys")), 0o777);
}

// ---------------------------------------------------------------------------------
// 2. `..` after a symlink is resolved on disk.

#[test]
fn generate_resolves_dot_dot_after_a_symlink_on_disk() {
    // `link/..` is, on disk, the folder holding the symlink's target: the work tree,
    // although by name it is `outside`.
    let ctx = TestContext::new();
    ctx.git_init();
    std::fs::create_dir_all(ctx.path("sub")).unwrap();
    let outside = ctx.root().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(ctx.path("sub"), outside.join("link")).unwrap();

    let generate = || {
        ctx.otactl()
            .current_dir(&outside)
            .args(["key", "generate", "--private", "link/../k.pem"])
            .args(["--public", "pub.pem"])
            .output()
            .unwrap()
    };
    let out = generate();
    assert_exit(&out, 4);
    assert!(
        stderr(&out).contains("refusing to write a private key to `link/../k.pem`")
            && stderr(&out).contains("inside the git work tree"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
    assert_eq!(
        names(&ctx.cwd),
        [".git", "sub"],
        "a file was written into the work tree"
    );
    assert!(names(&ctx.path("sub")).is_empty());
    assert_eq!(names(&outside), ["link"]);

    // The same path whose `..` leaves the work tree on disk is fine.
    let elsewhere = ctx.root().join("elsewhere/deep");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::remove_file(outside.join("link")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, outside.join("link")).unwrap();
    let out = generate();
    assert_exit(&out, 0);
    assert_eq!(names(&ctx.root().join("elsewhere")), ["deep", "k.pem"]);
    assert_eq!(mode(&ctx.root().join("elsewhere/k.pem")), 0o600);
}

// ---------------------------------------------------------------------------------
// 3. A real OpenSSH private key gets its own message.

#[test]
fn openssh_private_key_gets_the_dedicated_message() {
    let ctx = TestContext::new();
    ctx.run_tool(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "test",
            "-f",
            "id_ed25519",
        ],
    );
    let key = ctx.path("id_ed25519");
    assert!(
        ctx.read("id_ed25519")
            .starts_with(concat!("-----BEGIN OPENSSH ", "PRIVATE KEY-----"))
    );
    let manifest = unsigned_manifest(&ctx);

    let show = ctx
        .otactl()
        .args(["key", "show", "id_ed25519"])
        .output()
        .unwrap();
    let sign = sign_with(&ctx, &key).output().unwrap();
    for (what, out) in [("key show", &show), ("manifest sign", &sign)] {
        assert_exit_case(out, 2, what);
        assert!(stdout(out).is_empty(), "{what}: {}", stdout(out));
        let err = stderr(out);
        assert!(
            err.contains("id_ed25519") && err.contains("is an OpenSSH private key"),
            "{what}: {err}"
        );
        // It says how to get a key otactl reads, and no decoder noise.
        assert!(err.contains("otactl key generate"), "{what}: {err}");
        assert!(!err.contains("Base64"), "{what}: {err}");
        assert_key_not_printed(&key, out);
    }
    assert_eq!(ctx.read(MANIFEST), manifest);
    assert!(temp_files(&ctx.path("channels/stable")).is_empty());
}

// ---------------------------------------------------------------------------------
// 4. Key and configuration files may be pipes.

#[test]
fn sign_reads_the_key_from_a_fifo() {
    let ctx = TestContext::new();
    unsigned_manifest(&ctx);
    let fifo = fifo_in(&ctx, "key.fifo");
    let key = test_private_key();
    let _writer = feed_fifo(&fifo, "exec cat \"$1\"", &[key.to_str().unwrap()]);
    let (out, _) = Running::spawn(&mut sign_with(&ctx, &fifo)).wait_for(HUNG);
    assert_exit(&out, 0);
    assert_key_not_printed(&key, &out);
    assert_signed_by_test_key(&ctx);

    // `--key <(…)`, as a shell hands over a secret from a password store.
    unsigned_manifest(&ctx);
    let mut cmd = ctx.tool("bash");
    cmd.arg("-c")
        .arg("exec \"$0\" manifest sign \"$1\" --key <(cat \"$2\")")
        .arg(env!("CARGO_BIN_EXE_otactl"))
        .arg(MANIFEST)
        .arg(&key);
    let (out, _) = Running::spawn(&mut cmd).wait_for(HUNG);
    assert_exit(&out, 0);
    assert_signed_by_test_key(&ctx);
}

#[test]
fn sign_gives_up_on_a_fifo_that_never_ends_after_ten_seconds() {
    let ctx = TestContext::new();
    let manifest = unsigned_manifest(&ctx);
    // Nobody ever opens this one for writing.
    let silent = fifo_in(&ctx, "silent.fifo");
    // This one gets the whole key, but its writer never closes it.
    let open = fifo_in(&ctx, "open.fifo");
    let key = test_private_key();
    let _writer = feed_fifo(
        &open,
        "cat \"$1\" && exec sleep 120",
        &[key.to_str().unwrap()],
    );
    let silent_run = Running::spawn(&mut sign_with(&ctx, &silent));
    let open_run = Running::spawn(&mut sign_with(&ctx, &open));
    for (fifo, run) in [(&silent, silent_run), (&open, open_run)] {
        let (out, elapsed) = run.wait_for(HUNG);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", fifo.display());
        assert!(
            err.contains(&format!("`{}`", fifo.display())) && err.contains("10 s"),
            "{err}"
        );
        assert!(
            elapsed >= Duration::from_secs(9),
            "gave up after {elapsed:?}"
        );
        assert!(stdout(&out).is_empty());
        assert_key_not_printed(&key, &out);
    }
    assert_eq!(ctx.read(MANIFEST), manifest);
    assert!(temp_files(&ctx.path("channels/stable")).is_empty());
}

#[test]
fn sign_refuses_a_fifo_that_sends_more_than_the_limit() {
    let ctx = TestContext::new();
    let manifest = unsigned_manifest(&ctx);
    let fifo = fifo_in(&ctx, "endless.fifo");
    let _writer = feed_fifo(&fifo, "exec yes", &[]);
    let (out, _) = Running::spawn(&mut sign_with(&ctx, &fifo)).wait_for(HUNG);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("`{}`", fifo.display()))
            && err.contains("more than the limit of 65536 bytes for a key file"),
        "{err}"
    );
    assert_eq!(ctx.read(MANIFEST), manifest);
}

#[test]
fn config_is_read_from_a_fifo() {
    let ctx = TestContext::new();
    let fifo = ctx.path("otactl-fifo.toml");
    mkfifo(&fifo);
    // `beta` is no default channel: only the configuration makes it one.
    let _writer = feed_fifo(&fifo, "printf 'channels = [\"beta\"]\\n'", &[]);
    let mut cmd = ctx.otactl();
    cmd.args([
        "--config",
        "otactl-fifo.toml",
        "manifest",
        "new",
        "--channel",
        "beta",
        "--build-id",
        ID,
        "--url",
        &release_url(ID),
        "--sha256",
        SHA,
    ]);
    let (out, _) = Running::spawn(&mut cmd).wait_for(HUNG);
    assert_exit(&out, 0);
    assert!(
        ctx.read("channels/beta/manifest.json")
            .contains("\"channel\": \"beta\"")
    );
}

// ---------------------------------------------------------------------------------
// 5. SIGINT and SIGTERM remove the temporary files and exit 130 and 143.

#[test]
fn sigterm_during_tar_removes_the_temporary_file_and_exits_143() {
    let ctx = TestContext::new();
    let src = ctx.path("src");
    ctx.git_repo(
        &src,
        "first",
        &[
            ("README.md", "# gated\n"),
            ("gated.txt", "held back by a smudge filter\n"),
            (".gitattributes", "gated.txt filter=gate\n"),
        ],
    );
    // git archive runs the smudge filter of `gated.txt`: it says it started, then
    // waits (at most a minute) until the test lets it go.
    let gate = ctx.root().join("gate.sh");
    std::fs::write(
        &gate,
        "#!/bin/sh\ndir=$(dirname \"$0\")\n: > \"$dir/gate-started\"\ni=0\nwhile [ ! -e \"$dir/gate-open\" ] && [ \"$i\" -lt 600 ]; do sleep 0.1; i=$((i+1)); done\nexec cat\n",
    )
    .unwrap();
    std::fs::set_permissions(&gate, std::fs::Permissions::from_mode(0o755)).unwrap();
    ctx.git_in(
        &src,
        &["config", "filter.gate.smudge", gate.to_str().unwrap()],
    );

    // The target files exist from an earlier run; they must stay as they are.
    let out_dir = ctx.path("out");
    ctx.write("out/evse.tar.gz", "the earlier tarball\n");
    ctx.write("out/evse.tar.gz.sha256", "the earlier digest\n");

    let mut cmd = ctx.otactl();
    cmd.args([
        "tar",
        "--source",
        "src",
        "--name",
        "evse",
        "--output",
        "out/evse.tar.gz",
    ]);
    let mut run = Running::spawn(&mut cmd);
    wait_until(HUNG, "git archive to reach the smudge filter", || {
        if let Some(status) = run.try_status() {
            panic!("otactl tar ended early: {status}");
        }
        ctx.root().join("gate-started").exists() && !temp_files(&out_dir).is_empty()
    });
    run.signal("TERM");
    let (out, _) = run.wait_for(HUNG);
    std::fs::write(ctx.root().join("gate-open"), "").unwrap();

    assert_exit(&out, 143);
    assert!(stdout(&out).is_empty());
    assert_eq!(names(&out_dir), ["evse.tar.gz", "evse.tar.gz.sha256"]);
    assert_eq!(ctx.read("out/evse.tar.gz"), "the earlier tarball\n");
    assert_eq!(ctx.read("out/evse.tar.gz.sha256"), "the earlier digest\n");
}

#[test]
fn sigint_while_waiting_for_a_key_fifo_exits_130() {
    let ctx = TestContext::new();
    let manifest = unsigned_manifest(&ctx);
    let fifo = fifo_in(&ctx, "key.fifo");
    // The writer opens the pipe (which waits for otactl to open it), says so, and
    // writes nothing.
    let opened = ctx.root().join("opened");
    let _writer = feed_fifo(
        &fifo,
        ": > \"$1\" && exec sleep 120",
        &[opened.to_str().unwrap()],
    );
    let mut run = Running::spawn(&mut sign_with(&ctx, &fifo));
    wait_until(HUNG, "otactl to open the key pipe", || {
        if let Some(status) = run.try_status() {
            panic!("otactl manifest sign ended early: {status}");
        }
        opened.exists()
    });
    run.signal("INT");
    let (out, _) = run.wait_for(HUNG);
    assert_exit(&out, 130);
    assert!(stdout(&out).is_empty());
    assert_eq!(ctx.read(MANIFEST), manifest);
    assert_eq!(names(&ctx.path("channels/stable")), ["manifest.json"]);
}
