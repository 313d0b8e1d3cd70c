//! The secret scan of tracked files (SPEC 7): names that are secrets by themselves
//! (`.env`, `id_rsa`, `*.p12` …) and contents that hold one (private key blocks,
//! GitHub tokens, AWS access key ids). Findings carry the file and line, never the
//! value. Pure: content arrives in chunks, as it streams past.

use std::sync::LazyLock;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use regex::bytes::Regex;
use serde::Serialize;

/// One secret found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SecretFinding {
    /// The tracked path (without the tarball prefix).
    pub path: String,
    /// The 1-based line, for a content match.
    pub line: Option<usize>,
    /// What it looks like, e.g. `GitHub token`.
    pub kind: &'static str,
}

impl std::fmt::Display for SecretFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path, self.kind),
            None => write!(f, "{}: {}", self.path, self.kind),
        }
    }
}

/// What a file's name alone says about it.
pub fn secret_name(path: &str) -> Option<&'static str> {
    let base = path.rsplit('/').next().unwrap_or(path);
    let lower = base.to_ascii_lowercase();
    if lower == ".env"
        || lower
            .strip_prefix(".env.")
            .is_some_and(|rest| !matches!(rest, "example" | "sample" | "template" | "dist"))
    {
        return Some("an environment file (`.env`)");
    }
    if matches!(
        lower.as_str(),
        "id_rsa" | "id_dsa" | "id_ecdsa" | "id_ed25519"
    ) {
        return Some("an SSH private key file");
    }
    if [".p12", ".pfx"].iter().any(|ext| lower.ends_with(ext)) {
        return Some("a PKCS#12 key store");
    }
    if lower == "credentials.json" {
        return Some("a credentials file (`credentials.json`)");
    }
    None
}

static CONTENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?-u)(?P<pem>-----BEGIN[ A-Z0-9]*PRIVATE KEY-----\r?\n[A-Za-z0-9+/=:\r\n-]{16})",
        r"|(?P<gh>\bgh[pousr]_[A-Za-z0-9]{36}\b|\bgithub_pat_[A-Za-z0-9_]{22,255}\b)",
        r"|(?P<aws>\b(?:AKIA|ASIA)[0-9A-Z]{16}\b)",
    ))
    .unwrap_or_else(|e| unreachable!("the secret pattern is valid: {e}"))
});

/// The longest a match can be; chunks overlap by this much.
const OVERLAP: usize = 512;

/// Scans one file's content chunk by chunk, reporting each line with a secret once.
pub struct ContentScanner {
    carry: Vec<u8>,
    line_at_carry: usize,
    found: Vec<(usize, &'static str)>,
}

impl Default for ContentScanner {
    fn default() -> Self {
        ContentScanner {
            carry: Vec::new(),
            line_at_carry: 1,
            found: Vec::new(),
        }
    }
}

impl ContentScanner {
    /// Feeds the next chunk of the file.
    pub fn feed(&mut self, chunk: &[u8]) {
        let mut buf = std::mem::take(&mut self.carry);
        let carry_len = buf.len();
        buf.extend_from_slice(chunk);
        let mut line = self.line_at_carry;
        let mut counted = 0;
        for m in CONTENT.captures_iter(&buf) {
            let whole = m
                .get(0)
                .unwrap_or_else(|| unreachable!("group 0 always matches"));
            if whole.end() <= carry_len {
                continue; // already reported with the previous chunk
            }
            line += memchr_count(&buf[counted..whole.start()]);
            counted = whole.start();
            // AWS documents `AKIA…EXAMPLE` as its example key; it grants nothing.
            if m.name("aws").is_some() && whole.as_bytes().ends_with(b"EXAMPLE") {
                continue;
            }
            let kind = if m.name("pem").is_some() {
                "a private key block"
            } else if m.name("gh").is_some() {
                "a GitHub token"
            } else {
                "an AWS access key id"
            };
            if self.found.last() != Some(&(line, kind)) {
                self.found.push((line, kind));
            }
        }
        let keep = buf.len().min(OVERLAP);
        let cut = buf.len() - keep;
        self.line_at_carry += memchr_count(&buf[..cut]);
        self.carry = buf.split_off(cut);
    }

    /// The lines found, with what was found on them.
    pub fn finish(self) -> Vec<(usize, &'static str)> {
        self.found
    }
}

#[allow(clippy::naive_bytecount)] // a chunk at a time; not worth a crate
fn memchr_count(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

/// Paths that the scan lets through (`--allow-secret`, `allow_secrets`). A pattern
/// with a `/` matches the whole path, one without matches the file name, as in
/// `.gitignore`.
#[derive(Clone, Debug)]
pub struct AllowList {
    full: GlobSet,
    base: GlobSet,
}

impl AllowList {
    /// Builds the list; `Err` names the bad pattern.
    pub fn new(patterns: &[String]) -> Result<AllowList, String> {
        let mut full = GlobSetBuilder::new();
        let mut base = GlobSetBuilder::new();
        for pattern in patterns {
            let glob: Result<Glob, _> = GlobBuilder::new(pattern.trim_start_matches('/'))
                .literal_separator(true)
                .build();
            let glob = glob.map_err(|e| format!("`{pattern}` is not a valid glob: {e}"))?;
            if pattern.contains('/') {
                full.add(glob);
            } else {
                base.add(glob);
            }
        }
        let build = |b: GlobSetBuilder| b.build().map_err(|e| e.to_string());
        Ok(AllowList {
            full: build(full)?,
            base: build(base)?,
        })
    }

    /// Whether `path` is let through.
    pub fn allows(&self, path: &str) -> bool {
        let base = path.rsplit('/').next().unwrap_or(path);
        self.full.is_match(path) || self.base.is_match(base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(chunks: &[&[u8]]) -> Vec<(usize, &'static str)> {
        let mut s = ContentScanner::default();
        for c in chunks {
            s.feed(c);
        }
        s.finish()
    }

    #[test]
    fn names() {
        assert!(secret_name("a/.env").is_some());
        assert!(secret_name(".env.production").is_some());
        assert!(secret_name(".env.example").is_none());
        assert!(secret_name("home/.ssh/id_ed25519").is_some());
        assert!(secret_name("home/.ssh/id_ed25519.pub").is_none());
        assert!(secret_name("certs/STORE.P12").is_some());
        assert!(secret_name("x.pfx").is_some());
        assert!(secret_name("gcp/credentials.json").is_some());
        assert!(secret_name("src/main.rs").is_none());
    }

    #[test]
    fn contents_with_lines() {
        let token = format!("x\ny\ntoken = \"ghp_{}\"\n", "a".repeat(36));
        assert_eq!(scan(&[token.as_bytes()]), [(3, "a GitHub token")]);
        // Split, so that no secret scanner takes this file for a key.
        let pem = concat!(
            "a\n-----BEGIN ",
            "PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
        );
        assert_eq!(scan(&[pem.as_bytes()]), [(2, "a private key block")]);
        let aws = format!("{}{}\n", "AKIA", "Z7Q3W4E5R6T7Y8U9");
        assert_eq!(scan(&[aws.as_bytes()]), [(1, "an AWS access key id")]);
        assert!(
            scan(&[b"AKIAIOSFODNN7EXAMPLE\n"]).is_empty(),
            "AWS's documented example key"
        );
        let pat = format!("\n\ngithub_pat_{}", "B".repeat(82));
        assert_eq!(scan(&[pat.as_bytes()]), [(3, "a GitHub token")]);
    }

    #[test]
    fn mentions_are_not_secrets() {
        assert!(
            scan(&[concat!("expects `-----BEGIN ", "PRIVATE KEY-----` (PKCS#8)\n").as_bytes()])
                .is_empty()
        );
        assert!(scan(&[b"prefix ghp_ is a token\n"]).is_empty());
    }

    #[test]
    fn matches_across_chunks_are_found_once() {
        let text = format!(
            "{}\nkey {}Z7Q3W4E5R6T7Y8U9 here\n",
            "z\n".repeat(1000),
            "AKIA"
        );
        let bytes = text.as_bytes();
        for split in [1990, 2001, 2005, 2010, 2030] {
            assert_eq!(
                scan(&[&bytes[..split], &bytes[split..]]),
                [(1002, "an AWS access key id")],
                "split {split}"
            );
        }
        let pieces: Vec<&[u8]> = bytes.chunks(7).collect();
        assert_eq!(scan(&pieces), [(1002, "an AWS access key id")]);
    }

    #[test]
    fn allow_list() {
        let allow = AllowList::new(&["tests/fixtures/**".into(), "*.p12".into()]).unwrap();
        assert!(allow.allows("tests/fixtures/keys/a.pem"));
        assert!(allow.allows("deep/store.p12"));
        assert!(!allow.allows("src/tests/fixtures/a.pem"));
        assert!(AllowList::new(&["a[".into()]).is_err());
    }
}
