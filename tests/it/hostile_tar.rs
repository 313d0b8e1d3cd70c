//! Item 5 against tarballs made to hurt the checker: extension entries of hundreds of
//! megabytes, pax and GNU names that differ from the ustar name, links that leave the
//! tree through other links, a gzip bomb, and names made to break the output formats.
//! Memory is measured on the `otactl` child under GNU `time`.

use std::process::Output;

use crate::support::assert::assert_exit;
use crate::support::output::assert_contains;
use crate::support::raw_tar::{RawTar, pax_record};
use crate::support::release::{Channel, item};
use crate::support::{require_tool, stderr, stdout};

/// What `verify` of one hostile tarball may use at most.
const MAX_RSS_KIB: u64 = 64 * 1024;

/// Publishes `bytes` as the canary's source tarball, then runs `verify` under
/// `/usr/bin/time -f %M`; returns the output and the child's peak RSS in KiB.
fn verify_measured(c: &Channel, name: &str, bytes: &[u8], extra: &[&str]) -> (Output, u64) {
    require_tool("time");
    c.release_tarball(name, bytes);
    let rss_file = c.ctx.root().join("rss.txt");
    let out = c
        .ctx
        .tool("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&rss_file)
        .arg(env!("CARGO_BIN_EXE_otactl"))
        .args(["verify", "--channel", "canary"])
        .args(extra)
        .output()
        .unwrap();
    let rss = std::fs::read_to_string(&rss_file).unwrap();
    let rss: u64 = rss
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no RSS figure from time: {rss:?}"));
    // Shown with `--nocapture`: the figures BENCHMARKS.md quotes.
    eprintln!("verify of {name}: peak RSS {rss} KiB");
    (out, rss)
}

/// Asserts exit 1 with item 5 failed, bounded output and memory; returns item 5's line.
fn fails_item_5_bounded(out: &Output, rss_kib: u64) -> String {
    assert_exit(out, 1);
    let line = item(out, 5);
    assert!(line.starts_with("✗ FAIL  5."), "{}", stdout(out));
    assert!(
        out.stdout.len() + out.stderr.len() < 8 * 1024,
        "output of {} bytes:\n{}",
        out.stdout.len() + out.stderr.len(),
        stdout(out)
    );
    assert!(
        rss_kib < MAX_RSS_KIB,
        "verify used {rss_kib} KiB of memory (limit {MAX_RSS_KIB} KiB)"
    );
    line
}

/// A fresh channel and a tarball begun as git begins one: the commit in the pax
/// global header, then the top folder.
fn begun() -> (Channel, RawTar) {
    let c = Channel::new();
    let tar = RawTar::new().commit(&c.commit).dir(&c.top());
    (c, tar)
}

/// Releases `bytes` as `name` on `c`: `verify` must fail item 5, within bounds,
/// saying `expected`.
fn fails_item_5_with(c: &Channel, name: &str, bytes: &[u8], expected: &str) {
    let (out, rss) = verify_measured(c, name, bytes, &[]);
    let line = fails_item_5_bounded(&out, rss);
    assert!(line.contains(expected), "{line}");
}

/// tar 0.4 reads a GNU long-name (`L`) or pax (`x`) entry whole before any caller
/// code runs: an entry of 256 MiB must be refused by its declared size, unread.
#[test]
fn extension_entry_bombs_are_refused_unread() {
    for (kind, name, what) in [
        (
            tar::EntryType::GNULongName,
            "././@LongLink",
            "GNU long name (`L`)",
        ),
        (tar::EntryType::XHeader, "PaxHeader/x", "pax header (`x`)"),
    ] {
        let (c, tar) = begun();
        let bytes = tar
            .repeated(kind, name.as_bytes(), 256 << 20, b'a')
            .file(format!("{}x", c.top()).as_bytes(), b"x\n")
            .finish();
        assert!(bytes.len() < 2 << 20, "the bomb is {} bytes", bytes.len());
        fails_item_5_with(
            &c,
            "extension-bomb.tar.gz",
            &bytes,
            &format!("{what} entry of 268435456 bytes"),
        );
    }
}

/// An extractor names the entry by its pax `path`, not by the clean ustar name.
#[test]
fn a_clean_ustar_name_with_a_pax_path_climbing_out_fails_item_5() {
    let (c, tar) = begun();
    let top = c.top();
    let bytes = tar
        .pax(&[("path", b"../x")])
        .file(format!("{top}clean.txt").as_bytes(), b"x\n")
        .finish();
    fails_item_5_with(&c, "pax-path.tar.gz", &bytes, "`../x` climbs out with `..`");
}

/// The same with a GNU long name that is absolute, and a pax `linkpath` that leaves.
#[test]
fn gnu_long_names_and_pax_link_paths_are_the_names_checked() {
    let (c, tar) = begun();
    let top = c.top();
    let bytes = tar
        .long_name(b"/etc/cron.d/x")
        .file(format!("{top}a").as_bytes(), b"x\n")
        .finish();
    fails_item_5_with(
        &c,
        "gnu-long-name.tar.gz",
        &bytes,
        "`/etc/cron.d/x` is an absolute path",
    );

    let (c, tar) = begun();
    let top = c.top();
    let bytes = tar
        .pax(&[("linkpath", b"../../../etc")])
        .symlink(&format!("{top}l"), "ok")
        .finish();
    fails_item_5_with(
        &c,
        "pax-linkpath.tar.gz",
        &bytes,
        "-> `../../../etc` leaves the tree",
    );
}

/// A pax `size` other than the header's makes extractors walk the archive
/// differently from a reader that ignores it: refused.
#[test]
fn a_pax_size_that_disagrees_with_the_header_fails_item_5() {
    let (c, tar) = begun();
    let top = c.top();
    let bytes = tar
        .pax(&[("size", b"1024")])
        .file(format!("{top}a").as_bytes(), b"x\n")
        .finish();
    fails_item_5_with(
        &c,
        "pax-size.tar.gz",
        &bytes,
        "extractors would read the archive differently",
    );
}

/// git writes a pax header for a path over 100 bytes; such a real tarball passes.
#[test]
fn a_git_archive_with_paths_over_100_bytes_passes_item_5() {
    let long = format!("{}/{}.txt", "d".repeat(60), "f".repeat(80));
    let c = Channel::with_files(&[(&long, "long\n")]);
    let listing = c
        .ctx
        .run_tool("tar", &["-tzf", c.tarball.to_str().unwrap()]);
    assert_contains(&stdout(&listing), &long);
    let bytes = std::fs::read(&c.tarball).unwrap();
    let (out, rss) = verify_measured(&c, &format!("app-src-{}.tar.gz", c.id), &bytes, &[]);
    assert_exit(&out, 0);
    assert!(item(&out, 5).starts_with("✓ pass  5."), "{}", stdout(&out));
    assert!(rss < MAX_RSS_KIB, "{rss} KiB");
}

/// `a/b -> ..` stays inside; `c -> a/b/..` then resolves above the top folder.
#[test]
fn a_symlink_leaving_through_a_chain_of_symlinks_fails_item_5() {
    let (c, tar) = begun();
    let top = c.top();
    let bytes = tar
        .dir(&format!("{top}a/"))
        .symlink(&format!("{top}a/b"), "..")
        .symlink(&format!("{top}c"), "a/b/..")
        .finish();
    fails_item_5_with(
        &c,
        "chain.tar.gz",
        &bytes,
        &format!("symlink `{top}c` -> `a/b/..` leaves the tree once extracted"),
    );
}

/// The chain defined after the link that uses it: the file system resolves links
/// after extraction, so the order does not matter. A hard link through it too.
#[test]
fn a_hard_link_through_a_later_symlink_chain_fails_item_5() {
    let (c, tar) = begun();
    let top = c.top();
    let bytes = tar
        .symlink(&format!("{top}c"), "a/b/..")
        .dir(&format!("{top}a/"))
        .symlink(&format!("{top}a/b"), "..")
        .hard_link(&format!("{top}h"), &format!("{top}c/etc/passwd"))
        .finish();
    let (out, rss) = verify_measured(&c, "hard-chain.tar.gz", &bytes, &[]);
    fails_item_5_bounded(&out, rss);
    let text = stdout(&out);
    assert!(text.contains("and 1 more"), "{text}");
    let json = c
        .ctx
        .otactl()
        .args(["verify", "--channel", "canary", "--format", "json"])
        .output()
        .unwrap();
    assert_contains(&stdout(&json), "symlink `app-");
}

/// 1.1 GiB of zeros in a 1 MiB download: the default limit (64 × the download, at
/// least 1 GiB) stops the inflation; `--max-unpacked` sets another.
#[test]
fn a_gzip_bomb_stops_at_the_unpacked_limit() {
    let (c, tar) = begun();
    let top = c.top();
    let bytes = tar
        .repeated(
            tar::EntryType::Regular,
            format!("{top}zeros").as_bytes(),
            (1 << 30) + (100 << 20),
            0,
        )
        .finish();
    assert!(bytes.len() < 4 << 20, "the bomb is {} bytes", bytes.len());
    let (out, rss) = verify_measured(&c, "gzip-bomb.tar.gz", &bytes, &[]);
    let line = fails_item_5_bounded(&out, rss);
    assert!(
        line.contains("inflates to more than 1073741824 bytes (`--max-unpacked`)"),
        "{line}"
    );
    // The hash of the download is still checked: item 4 passes.
    assert!(item(&out, 4).starts_with("✓ pass  4."), "{}", stdout(&out));

    let out = c
        .ctx
        .otactl()
        .args(["verify", "--channel", "canary", "--max-unpacked", "10M"])
        .output()
        .unwrap();
    assert_exit(&out, 1);
    assert!(
        item(&out, 5).contains("inflates to more than 10485760 bytes"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn names_in_messages_are_cut_at_200_characters() {
    let c = Channel::new();
    let name = format!("other/{}", "n".repeat(5000));
    let bytes = RawTar::new()
        .commit(&c.commit)
        .pax(&[("path", name.as_bytes())])
        .file(b"other/short", b"x\n")
        .finish();
    let shown = format!("`other/{}…`", "n".repeat(194));
    fails_item_5_with(&c, "long-names.tar.gz", &bytes, &shown);
}

/// A name made to break out of a Markdown code span (backticks), a table cell (`|`),
/// a workflow command (newline) and the terminal (escape sequences).
#[test]
fn hostile_names_are_escaped_in_every_output_format() {
    let c = Channel::new();
    let hostile =
        "x``](https://evil.example/a.png)|![i](https://evil.example/i.png)\n::error::forged\x1b[2J";
    let bytes = RawTar::new()
        .commit(&c.commit)
        .pax(&[("path", hostile.as_bytes())])
        .file(b"x", b"x\n")
        .finish();
    let (out, _) = verify_measured(&c, "hostile-name.tar.gz", &bytes, &[]);
    assert_exit(&out, 1);
    for format in ["text", "json", "markdown", "github"] {
        let summary = c.ctx.root().join(format!("summary-{format}.md"));
        let out = c
            .ctx
            .otactl()
            .args(["verify", "--channel", "canary", "--format", format])
            .env("GITHUB_STEP_SUMMARY", &summary)
            .output()
            .unwrap();
        assert_exit(&out, 1);
        let all = [out.stdout.clone(), out.stderr.clone()].concat();
        assert!(
            !all.contains(&0x1b),
            "{format}: a raw escape:\n{}",
            stdout(&out)
        );
        let text = stdout(&out);
        assert!(
            !text.lines().any(|l| l.starts_with("::error::forged")),
            "{format}: a forged workflow command:\n{text}"
        );
        if format == "markdown" || format == "github" {
            let md = if format == "markdown" {
                text.clone()
            } else {
                std::fs::read_to_string(&summary).unwrap()
            };
            let row = md
                .lines()
                .find(|l| l.starts_with("| 5 |"))
                .unwrap_or_else(|| panic!("{format}: no item 5 row:\n{md}"));
            // Five cell borders and no other unescaped `|`.
            let unescaped = row
                .char_indices()
                .filter(|(i, ch)| *ch == '|' && (*i == 0 || row.as_bytes()[i - 1] != b'\\'))
                .count();
            assert_eq!(unescaped, 5, "{format}: {row}");
            // The value sits in a code span with a fence longer than its backticks.
            assert!(
                row.contains("```x``](https://evil.example/a.png)\\|![i](https://evil.example/i.png)\\u{000a}::error::forged\\u{001b}[2J```"),
                "{format}: {row}"
            );
        }
        if format == "github" {
            let command = text
                .lines()
                .find(|l| l.contains("5. tarball contents"))
                .unwrap();
            assert!(command.starts_with("::error "), "{command}");
            assert!(command.contains("\\u{000a}::error::forged"), "{command}");
        }
        if format == "json" {
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            let reason = value["items"][4]["reason"].as_str().unwrap();
            assert!(
                reason.contains("\\u{000a}::error::forged\\u{001b}[2J"),
                "{reason}"
            );
        }
    }
}

/// `otactl tar` of a commit holding such a chain warns: devices would write outside
/// the folder, and `verify` would fail it.
#[test]
fn tar_warns_when_the_commit_holds_a_symlink_chain_that_leaves() {
    let c = Channel::new();
    let src = c.ctx.path("src");
    std::fs::create_dir_all(src.join("a")).unwrap();
    std::os::unix::fs::symlink("..", src.join("a/b")).unwrap();
    std::os::unix::fs::symlink("a/b/..", src.join("c")).unwrap();
    c.ctx.git_in(&src, &["add", "-A"]);
    c.ctx.git_in(&src, &["commit", "-q", "-m", "links"]);
    let out = c
        .ctx
        .otactl()
        .args(["tar", "--source", "src", "-o", "../chain.tar.gz"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert_contains(
        &stderr(&out),
        "warning: symlink `c` -> `a/b/..` leaves the tree once extracted: `otactl verify` fails this tarball (item 5)",
    );
    assert!(!stderr(&out).contains("`a/b`"), "{}", stderr(&out));
}

#[test]
fn pax_records_count_their_own_length() {
    assert_eq!(pax_record("path", b"../x"), b"13 path=../x\n");
    let long = pax_record("path", &[b'a'; 95]);
    assert_eq!(long.len(), 105);
    assert!(long.starts_with(b"105 "));
}
