//! Terminal manners: a progress bar for each long step at a terminal and one final
//! line per step without one, `-q`, `--color` and `NO_COLOR`, untrusted text shown
//! escaped at a real terminal, and the shape of `--help`. The terminal is tmux
//! (`support::terminal`), read with `capture-pane` or recorded byte for byte.

use std::ffi::OsStr;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::assert::assert_exit;
use crate::support::fixture::{ID, MANIFEST, test_private_key};
use crate::support::gated_http::GatedServer;
use crate::support::github::GitHubServer;
use crate::support::output::assert_contains;
use crate::support::registry::Registry;
use crate::support::release::Channel;
use crate::support::terminal::Terminal;
use crate::support::{TestContext, manifest_json, stderr, stdout};

const MIB: usize = 1024 * 1024;

/// The global flags, as `--help` names them.
const GLOBAL: [&str; 8] = [
    "-C",
    "--config",
    "-v",
    "--verbose",
    "-q",
    "--quiet",
    "--color",
    "--no-strict-keys",
];

/// A word for a shell: single-quoted.
fn quote(word: impl AsRef<OsStr>) -> String {
    let word = word.as_ref().to_str().unwrap();
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// `cmd` as one shell line for a terminal: its folder, its environment and nothing
/// else (but the terminal's `TERM`), its program and arguments.
fn shell_line(cmd: &Command) -> String {
    let mut line = format!(
        "cd {} && env -i TERM=\"$TERM\"",
        quote(cmd.get_current_dir().unwrap())
    );
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            let pair = format!("{}={}", key.to_str().unwrap(), value.to_str().unwrap());
            line.push(' ');
            line.push_str(&quote(pair));
        }
    }
    line.push(' ');
    line.push_str(&quote(cmd.get_program()));
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&quote(arg));
    }
    line
}

/// A folder of its own for one terminal (its socket and exit code live there).
fn terminal_dir(ctx: &TestContext, name: &str) -> std::path::PathBuf {
    let dir = ctx.root().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A channel repository whose `source` is its `src/`.
fn channel_with_source() -> Channel {
    let c = Channel::new();
    let config = format!("source = \"src\"\n{}", c.ctx.read("otactl.toml"));
    c.ctx.write("otactl.toml", &config);
    c
}

/// `release --channel C --target dir --no-pr --yes`, the signing key in the
/// environment, with `before` (such as `-q`) ahead of the command.
fn release(c: &Channel, channel: &str, before: &[&str]) -> Command {
    let mut cmd = c.ctx.otactl();
    cmd.args(before)
        .args(["release", "--channel", channel, "--target", "dir"])
        .args(["--no-pr", "--yes"])
        .env("OTACTL_SIGNING_KEY_FILE", test_private_key());
    cmd
}

/// Waits until the recorded output of `terminal` holds `text`.
fn wait_for_recorded(terminal: &Terminal, text: &str) {
    let start = Instant::now();
    while !terminal.recorded().contains(text) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the terminal never showed {text:?}; it recorded:\n{:?}",
            terminal.recorded()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Panics unless `err` (a command's stderr off a terminal) is plain lines: no
/// carriage return, no escape sequence (a bar's leftovers).
fn assert_plain_lines(err: &str, what: &str) {
    assert!(
        !err.contains('\r') && !err.contains('\x1b'),
        "{what}: stderr holds a carriage return or an escape sequence:\n{err:?}"
    );
}

/// Panics unless exactly one line of `err` starts with `prefix`.
fn assert_one_line(err: &str, prefix: &str, what: &str) {
    let count = err.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(
        count, 1,
        "{what}: {count} lines start with {prefix:?} on stderr:\n{err}"
    );
}

// ---- Progress bars at a terminal, one line per step without one ----

/// A channel whose `canary` manifest names a 4 MiB firmware image served by a
/// [`GatedServer`] that sends its first MiB, then waits for the gate.
fn gated_download() -> (Channel, GatedServer) {
    let c = Channel::new();
    let body: Vec<u8> = (0..4 * MIB)
        .map(|i| u8::try_from(i % 251).unwrap())
        .collect();
    let file = c.ctx.root().join("fw.bin");
    std::fs::write(&file, &body).unwrap();
    let server = GatedServer::start(body, MIB);
    let url = server.url(&format!("{}/fw.bin", c.id));
    c.manifest("canary", &url, &file, &["--kind", "firmware"]);
    (c, server)
}

#[test]
fn at_a_terminal_a_download_shows_a_bar_that_gives_way_to_the_final_line() {
    let (c, server) = gated_download();
    let url = server.url(&format!("{}/fw.bin", c.id));
    let mut verify = c.ctx.otactl();
    verify.args(["verify", "--channel", "canary"]);
    let terminal = Terminal::start(&terminal_dir(&c.ctx, "t"), &shell_line(&verify));
    // The download is held after its first MiB: the bar is on the screen now.
    terminal.wait_for("/4.00 MiB");
    let screen = terminal.screen();
    assert_contains(&screen, &format!("{url} ["));
    server.open();
    assert_eq!(terminal.exit_code(), 0, "{}", terminal.screen());
    let screen = terminal.screen();
    assert_contains(
        &screen,
        "checklist passed for `channels/canary/manifest.json`",
    );
    assert_contains(&screen, "✓ pass  4. sha256 of the download: 4194304 bytes");
    assert!(
        !screen.contains("/4.00 MiB") && !screen.contains(&format!("{url} [")),
        "the bar was not cleared:\n{screen}"
    );

    // Without a terminal: the same download, and only its final line.
    let out = verify.output().unwrap();
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert_plain_lines(&err, "verify");
    assert_eq!(
        err,
        "checklist passed for `channels/canary/manifest.json`\n"
    );
}

#[test]
fn at_a_terminal_every_long_step_of_a_release_draws_its_own_bar_then_one_line() {
    let c = channel_with_source();
    let cmd = release(&c, "canary", &[]);
    let terminal = Terminal::start_recorded(&terminal_dir(&c.ctx, "t"), &shell_line(&cmd));
    assert_eq!(terminal.exit_code(), 0, "{}", terminal.screen());
    let name = format!("app-src-{}.tar.gz", c.id);
    // Each bar's first frame: the tarball built, hashed, copied into the release
    // folder, hashed for the manifest, and downloaded again by the checklist.
    let bars = [
        format!("archiving app-{}/", c.id),
        format!("hashing `{name}` ["),
        format!("copying `{name}` ["),
        format!("{}/{name} [", c.id),
    ];
    for bar in &bars {
        wait_for_recorded(&terminal, bar);
    }
    // Each bar was cleared, and each step left one line.
    let screen = terminal.screen();
    for bar in &bars {
        assert!(!screen.contains(bar.as_str()), "{bar:?} stayed:\n{screen}");
    }
    for line in [
        format!("built `{name}`"),
        format!("hashed `{name}`"),
        format!("published `{name}`"),
        "wrote `channels/canary/manifest.json`".to_owned(),
        "signed `channels/canary/manifest.json`".to_owned(),
        "`channels/canary/manifest.json` written and signed".to_owned(),
    ] {
        assert_eq!(
            screen.lines().filter(|l| l.starts_with(&line)).count(),
            1,
            "{line:?}:\n{screen}"
        );
    }
}

#[test]
fn at_a_terminal_in_ci_or_with_verbose_no_bar_is_drawn_and_each_step_keeps_its_line() {
    for (i, (env, before)) in [(Some(("CI", "true")), &[][..]), (None, &["-v"][..])]
        .into_iter()
        .enumerate()
    {
        let c = channel_with_source();
        let mut cmd = release(&c, "canary", before);
        cmd.envs(env);
        let terminal =
            Terminal::start_recorded(&terminal_dir(&c.ctx, &format!("t{i}")), &shell_line(&cmd));
        assert_eq!(terminal.exit_code(), 0, "{}", terminal.screen());
        let name = format!("app-src-{}.tar.gz", c.id);
        wait_for_recorded(&terminal, "written and signed");
        let recorded = terminal.recorded();
        for bar in [format!("hashing `{name}`"), format!("copying `{name}`")] {
            assert!(
                !recorded.contains(&bar),
                "{env:?} {before:?}: {bar}:\n{recorded:?}"
            );
        }
        for line in [format!("hashed `{name}`"), format!("published `{name}`")] {
            assert_contains(&recorded, &line);
        }
    }
}

#[test]
fn without_a_terminal_each_long_step_ends_in_one_line_and_nothing_else() {
    let c = channel_with_source();
    let tarball = format!("../app-src-{}.tar.gz", c.id);
    let run = |args: &[&str]| {
        let out = c.ctx.otactl().args(args).output().unwrap();
        assert_exit(&out, 0);
        let err = stderr(&out);
        assert_plain_lines(&err, &args.join(" "));
        (stdout(&out), err)
    };
    let (_, err) = run(&["tar", "--source", "src", "-o", &tarball]);
    assert_one_line(&err, &format!("wrote `{tarball}`"), "tar");
    assert_eq!(err.lines().count(), 1, "{err}");
    let (url, err) = run(&["publish", "dir", &tarball]);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_one_line(&err, "published `", "publish dir");
    let url = url.trim();
    let (_, err) = run(&[
        "manifest",
        "new",
        "--channel",
        "canary",
        "--build-id",
        &c.id,
        "--url",
        url,
        "--from-file",
        &tarball,
    ]);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_one_line(
        &err,
        "wrote `channels/canary/manifest.json`",
        "manifest new",
    );
    let key = test_private_key();
    let key = key.to_str().unwrap();
    let manifest = "channels/canary/manifest.json";
    run(&["manifest", "sign", manifest, "--key", key]);
    let (_, err) = run(&["verify", "--channel", "canary"]);
    assert_eq!(err, format!("checklist passed for `{manifest}`\n"));

    // `release`: one line for each step between the plan and the checklist.
    let c = channel_with_source();
    let out = release(&c, "canary", &[]).output().unwrap();
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert_plain_lines(&err, "release");
    let name = format!("app-src-{}.tar.gz", c.id);
    for prefix in [
        format!("built `{name}`"),
        format!("hashed `{name}`"),
        format!("published `{name}`"),
        format!("wrote `{manifest}`"),
        format!("signed `{manifest}`"),
        "✓ pass  4. sha256 of the download".to_owned(),
        format!("`{manifest}` written and signed"),
    ] {
        assert_one_line(&err, &prefix, "release");
    }
}

/// `publish ARGS` at a recorded terminal in `ctx`, with `env`; its recording once it
/// exited 0.
fn publish_at_terminal(
    ctx: &TestContext,
    name: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Terminal {
    let mut cmd = ctx.otactl();
    cmd.arg("publish").args(args).envs(env.iter().copied());
    let terminal = Terminal::start_recorded(&terminal_dir(ctx, name), &shell_line(&cmd));
    assert_eq!(terminal.exit_code(), 0, "{}", terminal.screen());
    terminal
}

#[test]
fn at_a_terminal_publish_github_draws_a_bar_for_the_upload_and_for_checking_an_asset_already_there()
{
    let ctx = TestContext::new();
    let bytes = vec![3u8; 2 * MIB];
    ctx.write("fw.bin", &bytes);
    let server = GitHubServer::start();
    let api = server.api_base();
    let env = [("GH_TOKEN", "test-token-of-no-account")];
    let args = |tag| {
        [
            "github",
            "fw.bin",
            "--tag",
            tag,
            "--repo",
            "acme/fw",
            "--api-url",
            &api,
        ]
    };
    let terminal = publish_at_terminal(&ctx, "upload", &args(ID), &env);
    wait_for_recorded(&terminal, "fw.bin [");
    let screen = terminal.screen();
    assert_contains(&screen, "uploaded 2097152 bytes");
    assert!(!screen.contains("fw.bin ["), "the bar stayed:\n{screen}");

    // An asset of that name from before GitHub had digests: the file is hashed and
    // the asset downloaded to compare, each with its bar.
    let other = "20260116-0900-9121078";
    let release = server.add_release("acme/fw", other, false);
    server.add_asset(release, "fw.bin", &bytes, false);
    let terminal = publish_at_terminal(&ctx, "again", &args(other), &env);
    wait_for_recorded(&terminal, "hashing `fw.bin` [");
    wait_for_recorded(&terminal, "downloading the asset `fw.bin` [");
    assert_contains(&terminal.screen(), "the release already has this asset");
}

#[test]
fn at_a_terminal_publish_oci_draws_a_bar_for_hashing_and_for_the_upload() {
    let ctx = TestContext::new();
    ctx.write("fw.bin", vec![9u8; 2 * MIB]);
    let registry = Registry::start();
    let reference = format!("{}/acme/fw:1.2.3", registry.host());
    let args = ["oci", "fw.bin", "--ref", &reference, "--build-id", ID];
    let terminal = publish_at_terminal(&ctx, "push", &args, &[]);
    wait_for_recorded(&terminal, "hashing `fw.bin` [");
    wait_for_recorded(&terminal, "fw.bin [");
    assert_contains(&terminal.screen(), "pushed 2097152 bytes");
    // The tag holds it already: hashed to compare, with its bar.
    let terminal = publish_at_terminal(&ctx, "again", &args, &[]);
    wait_for_recorded(&terminal, "hashing `fw.bin` [");
    assert_contains(&terminal.screen(), "the tag already holds this artifact");
}

// ---- -q ----

#[test]
fn quiet_prints_only_results_and_errors() {
    let c = channel_with_source();
    let quiet = |args: &[&str]| {
        let out = c.ctx.otactl().arg("-q").args(args).output().unwrap();
        (out.status.code(), stdout(&out), stderr(&out))
    };
    let ok = |what: &str, (code, out, err): (Option<i32>, String, String)| {
        assert_eq!(code, Some(0), "{what}: {err}");
        assert_eq!(err, "", "{what}: stderr is not empty with -q");
        out
    };

    let out = release(&c, "canary", &["-q"]).output().unwrap();
    let shown = (out.status.code(), stdout(&out), stderr(&out));
    let results = ok("release", shown);
    assert_contains(&results, "channels/canary/manifest.json\nfile://");

    // A clean lint: its result is its exit code (findings would be on stdout).
    assert_eq!(ok("lint", quiet(&["lint"])), "");

    let tarball = "../quiet.tar.gz";
    let results = ok("tar", quiet(&["tar", "--source", "src", "-o", tarball]));
    assert_contains(&results, "sha256: ");

    let id = ["--build-id", &c.id];
    let results = ok(
        "publish dir",
        quiet(&[&["publish", "dir", tarball], &id[..]].concat()),
    );
    assert!(results.starts_with("file://"), "{results}");

    // A manifest whose URL names no release: a warning without -q, nothing with it.
    let new = [
        &[
            "manifest",
            "new",
            "--channel",
            "staging",
            "--kind",
            "firmware",
        ][..],
        &id,
        &[
            "--url",
            "https://ota.example.com/fw.bin",
            "--from-file",
            tarball,
        ],
    ]
    .concat();
    let results = ok("manifest new", quiet(&new));
    assert_eq!(results, "channels/staging/manifest.json\n");
    let loud = c.ctx.otactl().args(&new).output().unwrap();
    assert_contains(&stderr(&loud), "warning: ");

    // A failure still says why, with -q.
    let (code, out, err) = quiet(&["publish", "dir", "../missing.bin", "--build-id", &c.id]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(out, "");
    assert!(
        err.starts_with("error: ") && err.contains("missing.bin"),
        "{err}"
    );
    let (code, _, err) = quiet(&["release", "--channel", "nosuch", "--yes"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.starts_with("error: ") && err.contains("nosuch"),
        "{err}"
    );
}

// ---- --color and NO_COLOR ----

/// A repository whose stable manifest has an unknown key: `lint` reports an error
/// (on stdout) and a status line (on stderr).
fn broken_repo() -> TestContext {
    let ctx = TestContext::new();
    ctx.write(
        MANIFEST,
        manifest_json("stable", ID, None, "n").replace("\"notes\"", "\"x\": \"y\",\n  \"notes\""),
    );
    ctx
}

#[test]
fn color_always_paints_even_piped_never_never_paints_and_the_flag_wins_over_no_color() {
    let ctx = broken_repo();
    let run = |color: Option<&str>, no_color: bool, args: &[&str]| {
        let mut cmd = ctx.otactl();
        if !no_color {
            cmd.env_remove("NO_COLOR");
        }
        if let Some(color) = color {
            cmd.args(["--color", color]);
        }
        let out = cmd.args(args).output().unwrap();
        format!("{}{}", stdout(&out), stderr(&out))
    };
    let painted = |text: &str| text.contains("\x1b[");
    for no_color in [false, true] {
        // `--color always` wins over `NO_COLOR`, as an explicit flag does.
        let always = run(Some("always"), no_color, &["lint"]);
        assert_contains(
            &always,
            "\x1b[1;31merror\x1b[0m: channels/stable/manifest.json",
        );
        assert!(!painted(&run(Some("never"), no_color, &["lint"])));
        assert!(!painted(&run(None, no_color, &["lint"])), "piped");
        // clap's own words (usage errors, help) follow `--color` too.
        let usage = run(Some("always"), no_color, &["lint", "--bogus"]);
        assert!(painted(&usage), "{usage:?}");
        let help = run(Some("always"), no_color, &["lint", "--help"]);
        assert!(painted(&help), "{help:?}");
        assert!(!painted(&run(
            Some("never"),
            no_color,
            &["lint", "--bogus"]
        )));
    }
}

#[test]
fn at_a_terminal_colors_follow_color_auto_and_no_color_and_the_flag_wins() {
    let ctx = broken_repo();
    // (NO_COLOR set, --color, colored)
    let cases = [
        (false, None, true),
        (true, None, false),
        (true, Some("always"), true),
        (false, Some("never"), false),
    ];
    for (i, (no_color, color, colored)) in cases.into_iter().enumerate() {
        let lines: Vec<String> = [&["lint"][..], &["lint", "--bogus"]]
            .iter()
            .map(|args| {
                let mut cmd = ctx.otactl();
                if !no_color {
                    cmd.env_remove("NO_COLOR");
                }
                if let Some(color) = color {
                    cmd.args(["--color", color]);
                }
                cmd.args(*args);
                shell_line(&cmd)
            })
            .collect();
        let terminal = Terminal::start(&terminal_dir(&ctx, &format!("t{i}")), &lines.join("; "));
        assert_eq!(terminal.exit_code(), 2, "{}", terminal.screen());
        let screen = terminal.screen_with_escapes();
        let case = format!("NO_COLOR {no_color}, --color {color:?}");
        assert_contains(&screen, "channels/stable/manifest.json:");
        assert_contains(&screen, "--bogus");
        assert_eq!(screen.contains('\x1b'), colored, "{case}:\n{screen:?}");
    }
}

// ---- Untrusted text at a terminal ----

#[test]
fn at_a_terminal_escape_sequences_and_bidi_controls_from_a_manifest_are_shown_escaped() {
    let ctx = TestContext::new();
    let notes = "\u{1b}[2J\u{1b}[31mred\u{1b}]0;pwned\u{7} \u{202e}txt.exe";
    let mut manifest: serde_json::Value =
        serde_json::from_str(&manifest_json("stable", ID, None, "n")).unwrap();
    manifest["notes"] = notes.into();
    manifest["x\u{1b}[2Jy"] = "z".into();
    ctx.write(MANIFEST, serde_json::to_string_pretty(&manifest).unwrap());
    let commands: Vec<String> = [
        &["verify", "--channel", "stable", "--offline"][..],
        &["status"],
        &["lint"],
    ]
    .iter()
    .map(|args| {
        let mut cmd = ctx.otactl();
        cmd.args(*args);
        shell_line(&cmd)
    })
    .collect();
    let script = format!("echo before-otactl; {}", commands.join("; "));
    let terminal = Terminal::start(&terminal_dir(&ctx, "t"), &script);
    assert_eq!(terminal.exit_code(), 1, "{}", terminal.screen());
    let screen = terminal.screen();
    // Nothing cleared the screen, nothing painted it, nothing renamed the window.
    assert_contains(&screen, "before-otactl");
    assert_contains(&screen, "x\\u{001b}[2Jy");
    assert_contains(&screen, "U+001B");
    assert_contains(&screen, "checked 1 manifest");
    assert!(
        !terminal.screen_with_escapes().contains('\x1b'),
        "{:?}",
        terminal.screen_with_escapes()
    );
    assert_ne!(terminal.title(), "pwned");
    assert!(
        !screen.contains("txt.exe"),
        "the notes were shown raw:\n{screen}"
    );
}

// ---- --help ----

/// The flag names of the option lines of `section` (`-v`, `--verbose`, `-C`).
fn flag_names(section: &str) -> Vec<String> {
    section
        .lines()
        .filter(|l| {
            let indent = l.len() - l.trim_start().len();
            (1..=6).contains(&indent) && l.trim_start().starts_with('-')
        })
        .flat_map(|l| {
            let head = l.trim_start().split("  ").next().unwrap_or_default();
            head.split(", ")
                .map(|part| {
                    part.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn each_command_lists_its_own_options_first_and_the_global_ones_once_under_one_heading() {
    let ctx = TestContext::new();
    for (command, own) in [
        (&["publish", "github"][..], "--tag"),
        (&["verify"], "--channel"),
        (&["release"], "--channel"),
    ] {
        for help in ["--help", "-h"] {
            let out = ctx.otactl().args(command).arg(help).output().unwrap();
            assert_exit(&out, 0);
            let text = stdout(&out);
            let what = format!("{} {help}", command.join(" "));
            assert_eq!(
                text.matches("Global options:").count(),
                1,
                "{what}:\n{text}"
            );
            let (mine, global) = text.split_at(text.find("\nGlobal options:\n").unwrap());
            let mine = flag_names(mine);
            assert_eq!(
                mine.first().map(String::as_str),
                Some(own),
                "{what}:\n{text}"
            );
            for flag in GLOBAL {
                assert!(
                    !mine.iter().any(|f| f == flag),
                    "{what}: {flag} above:\n{text}"
                );
            }
            let mut global = flag_names(global);
            global.sort();
            let mut expected = GLOBAL.map(str::to_owned).to_vec();
            expected.sort();
            assert_eq!(global, expected, "{what}:\n{text}");
        }
    }
}

#[test]
fn top_level_help_lists_the_commands_in_release_order() {
    let ctx = TestContext::new();
    let out = ctx.otactl().arg("--help").output().unwrap();
    assert_exit(&out, 0);
    let text = stdout(&out);
    let commands: Vec<&str> = text
        .split("Commands:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let release_order = [
        "init",
        "key",
        "build-id",
        "tar",
        "publish",
        "manifest",
        "lint",
        "verify",
        "pr",
        "release",
        "rollback",
        "promote",
        "status",
        "completions",
        "man",
    ];
    let listed: Vec<&str> = commands
        .iter()
        .copied()
        .filter(|c| release_order.contains(c))
        .collect();
    let expected: Vec<&str> = release_order
        .iter()
        .copied()
        .filter(|c| commands.contains(c))
        .collect();
    assert_eq!(listed, expected, "{text}");
    for command in &release_order {
        assert!(
            commands.contains(command),
            "{command} is not listed:\n{text}"
        );
    }
    assert_eq!(commands.last(), Some(&"help"), "{text}");
}
