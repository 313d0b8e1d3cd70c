//! Assertions every module makes: the exit code (with the output shown when it is
//! wrong) and that no secret reaches the terminal.

use std::process::Output;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::keys::hex;
use super::{stderr, stdout};

/// Panics, showing how it ended, stdout and stderr, unless the command exited with
/// `code`.
pub fn assert_exit(out: &Output, code: i32) {
    assert_exit_case(out, code, "");
}

/// [`assert_exit`] for one case of a table: `case` heads the message.
pub fn assert_exit_case(out: &Output, code: i32, case: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{case}\n{:?}\nstdout:\n{}stderr:\n{}",
        out.status,
        stdout(out),
        stderr(out)
    );
}

/// Panics when any of `needles` (tokens, passwords) is on stdout or stderr.
pub fn assert_not_printed(out: &Output, needles: &[&str]) {
    let printed = format!("{}{}", stdout(out), stderr(out));
    for needle in needles {
        assert!(!needle.is_empty());
        assert!(
            !printed.contains(needle),
            "`{needle}` was printed:\n{printed}"
        );
    }
}

/// Panics when any part of `secret` (a private key's PEM text, or any text that must
/// stay unseen) is on stdout or stderr; see [`assert_text_has_no_secret`].
pub fn assert_no_secret(secret: &str, out: &Output) {
    assert_text_has_no_secret(secret, &format!("{}{}", stdout(out), stderr(out)));
}

/// Panics when `printed` shows `secret`: any line of it of 16 characters or more
/// (PEM markers aside), the key-specific tail of such a line (a PKCS#8 header common
/// to every key ends within 24 characters), the whole body with white space removed
/// (however the output wraps it), and, when the body is base64 of a DER key, its last
/// 32 bytes (an Ed25519 seed) in hex or base64.
pub fn assert_text_has_no_secret(secret: &str, printed: &str) {
    let flat: String = printed.split_whitespace().collect();
    let lines: Vec<&str> = secret
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    for line in &lines {
        let tail = line.get(24..).unwrap_or("");
        for part in [*line, tail] {
            assert!(
                part.len() < 16 || !printed.contains(part),
                "secret material was printed:\n{printed}"
            );
        }
    }
    let body = lines.concat();
    assert!(
        body.is_empty() || !flat.contains(&body),
        "secret material was printed:\n{printed}"
    );
    if let Ok(der) = STANDARD.decode(&body)
        && der.len() >= 32
    {
        let seed = &der[der.len() - 32..];
        assert!(
            !printed.contains(&hex(seed)) && !flat.contains(&STANDARD.encode(seed)),
            "the raw private key was printed:\n{printed}"
        );
    }
}
