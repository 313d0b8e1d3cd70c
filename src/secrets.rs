//! The secret scan of tracked files (SPEC 7): names that are secrets by themselves
//! (`.env`, `id_rsa`, `*.p12`, `.npmrc` …) and contents that hold one (private key
//! blocks in PEM, PGP and `.ppk` form, the issuers' tokens, AWS access key ids).
//! Findings carry the file and line, never the value. Pure: content arrives in chunks,
//! as it streams past.

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
    match lower.rsplit_once('.').map(|(_, ext)| ext) {
        Some("p12" | "pfx") => return Some("a PKCS#12 key store"),
        Some("jks" | "keystore") => return Some("a Java key store"),
        Some("ppk") => return Some("a PuTTY private key file"),
        _ => {}
    }
    match lower.as_str() {
        "credentials.json" => Some("a credentials file (`credentials.json`)"),
        ".npmrc" => Some("an npm credentials file (`.npmrc`)"),
        ".pypirc" => Some("a PyPI credentials file (`.pypirc`)"),
        ".netrc" | "_netrc" => Some("a netrc credentials file"),
        ".git-credentials" => Some("a git credentials file (`.git-credentials`)"),
        _ => None,
    }
}

/// A line break, real or escaped in a string literal (`\n`, `\r\n`).
macro_rules! line_break {
    () => {
        r"(?:\r?\n|(?:\\r)?\\n)"
    };
}

/// Between the lines of a PEM kept in source code or YAML: line breaks with the
/// indentation, quotes, concatenation (`+`, `,`) and continuation backslashes
/// around them; a blank line or two.
macro_rules! gap {
    () => {
        concat!(
            r#"(?:[ \t"'+,;\\]{0,24}"#,
            line_break!(),
            r#"){1,4}[ \t"'+,;\\]{0,24}"#
        )
    };
}

/// One kind of secret in file contents.
struct Pattern {
    /// Its capture group in [`CONTENT`].
    group: &'static str,
    /// What a match is, as reported.
    kind: &'static str,
    regex: &'static str,
    /// A token: a letter or digit right before it makes it part of a longer word.
    token: bool,
    /// The alphabet of a token of fixed length: one more of these right after it
    /// makes it something longer.
    tail: Option<fn(u8) -> bool>,
}

fn alphanumeric(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')
}

/// The shapes, as the issuers document them. A match is at most 1,468 bytes long
/// (a PEM with the longest marker, gaps and four headers), less than [`OVERLAP`].
const PATTERNS: &[Pattern] = &[
    // `-----BEGIN … PRIVATE KEY-----` (PKCS#1, PKCS#8, SEC1, OpenSSH) and
    // `-----BEGIN PGP PRIVATE KEY BLOCK-----`, then up to four header lines
    // (`Proc-Type: 4,ENCRYPTED`, `DEK-Info: …`, `Comment: …`), then key material:
    // 40 base64 characters. The lines may be broken by `\n` inside a string
    // literal (a service-account JSON), be string literals themselves or be
    // indented (YAML); a mention of the marker without material is no key.
    Pattern {
        group: "pem",
        kind: "a private key block",
        regex: concat!(
            r"-----BEGIN (?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY(?: BLOCK)?-----",
            gap!(),
            r"(?:[A-Za-z][A-Za-z0-9-]{0,63}: [^\r\n\\]{1,100}",
            gap!(),
            r"){0,4}[A-Za-z0-9+/]{40}",
        ),
        token: false,
        tail: None,
    },
    // PuTTY's `.ppk`: `PuTTY-User-Key-File-3: ssh-ed25519` then `Encryption: …`.
    Pattern {
        group: "putty",
        kind: "a PuTTY private key",
        regex: concat!(
            r"PuTTY-User-Key-File-[0-9]{1,2}: [a-z0-9-]{3,40}",
            line_break!(),
            r"Encryption: "
        ),
        token: true,
        tail: None,
    },
    // `ghp_` (also `gho_`, `ghu_`, `ghs_`, `ghr_`) and 36 base62 characters;
    // fine-grained `github_pat_…`.
    Pattern {
        group: "gh",
        kind: "a GitHub token",
        regex: r"gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,255}",
        token: true,
        tail: Some(alphanumeric),
    },
    // `npm_` and 36 base62 characters (GitHub's format).
    Pattern {
        group: "npm",
        kind: "an npm token",
        regex: r"npm_[A-Za-z0-9]{36}",
        token: true,
        tail: Some(alphanumeric),
    },
    // `glpat-` and 20 characters of `[0-9A-Za-z_-]`, or a routable token:
    // `glpat-`, 27 or more of those, `.`, maybe a version and `.`, two characters of
    // payload length and seven of CRC.
    Pattern {
        group: "gitlab",
        kind: "a GitLab token",
        regex: concat!(
            r"glpat-[A-Za-z0-9_-]{27,300}\.(?:[0-9a-z]{2}\.)?[0-9a-z]{2}[0-9a-z]{7}",
            r"|glpat-[A-Za-z0-9_-]{20}"
        ),
        token: true,
        tail: Some(token_char),
    },
    // Slack bot, user and app tokens: `xoxb-`, `xoxp-`, `xoxa-`, numeric ids
    // separated by `-`, then the secret part.
    Pattern {
        group: "slack",
        kind: "a Slack token",
        regex: r"xox[abp]-(?:[0-9]{1,16}-){1,3}[A-Za-z0-9]{24,64}",
        token: true,
        tail: None,
    },
    // `pypi-` and a macaroon in URL-safe base64: it begins with its location,
    // `pypi.org` or `test.pypi.org`.
    Pattern {
        group: "pypi",
        kind: "a PyPI token",
        regex: r"pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,300}",
        token: true,
        tail: None,
    },
    Pattern {
        group: "aws",
        kind: "an AWS access key id",
        regex: r"(?:AKIA|ASIA)[0-9A-Z]{16}",
        token: true,
        tail: Some(alphanumeric),
    },
];

static CONTENT: LazyLock<Regex> = LazyLock::new(|| {
    let alternatives: Vec<String> = PATTERNS
        .iter()
        .map(|p| format!("(?P<{}>{})", p.group, p.regex))
        .collect();
    Regex::new(&format!("(?-u){}", alternatives.join("|")))
        .unwrap_or_else(|e| unreachable!("the secret pattern is valid: {e}"))
});

/// Whether the match `buf[start..end]` is the secret its pattern describes, rather
/// than a piece of a longer word or a placeholder.
fn accepts(pattern: &Pattern, buf: &[u8], start: usize, end: usize) -> bool {
    if pattern.token && start > 0 && buf[start - 1].is_ascii_alphanumeric() {
        return false;
    }
    if let (Some(tail), Some(&next)) = (pattern.tail, buf.get(end))
        && tail(next)
    {
        return false;
    }
    // AWS documents `AKIA…EXAMPLE` as its example key; it grants nothing.
    if pattern.group == "aws" && buf[..end].ends_with(b"EXAMPLE") {
        return false;
    }
    !is_placeholder(&buf[start..end])
}

/// A value that ends in one character repeated (`xxxx…`, `0000…`, separators aside)
/// stands in for a secret in docs and templates; no issuer makes one.
fn is_placeholder(value: &[u8]) -> bool {
    let mut rest = value[value.len().saturating_sub(16)..]
        .iter()
        .filter(|b| !matches!(b, b'-' | b'_'));
    rest.next().is_some_and(|first| rest.all(|b| b == first))
}

/// The longest a match can be, and one byte more to see what comes before it;
/// chunks overlap by this much.
const OVERLAP: usize = 2048;

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
        self.scan(&buf, carry_len, false);
        let keep = buf.len().min(OVERLAP);
        let cut = buf.len() - keep;
        self.line_at_carry += memchr_count(&buf[..cut]);
        self.carry = buf.split_off(cut);
    }

    /// The lines found, with what was found on them.
    pub fn finish(mut self) -> Vec<(usize, &'static str)> {
        let rest = std::mem::take(&mut self.carry);
        self.scan(&rest, rest.len(), true);
        self.found
    }

    /// Records the secrets in `buf` (the carry, then the new chunk) that end at
    /// `from` or later; those that end before were dealt with by the previous
    /// chunk. One that ends with `buf` waits for the next chunk, whose first byte
    /// may make it part of something longer, unless this is the end of the file.
    fn scan(&mut self, buf: &[u8], from: usize, at_end: bool) {
        let mut line = self.line_at_carry;
        let mut counted = 0;
        for m in CONTENT.captures_iter(buf) {
            let whole = m
                .get(0)
                .unwrap_or_else(|| unreachable!("group 0 always matches"));
            if whole.end() < from || (whole.end() == buf.len() && !at_end) {
                continue;
            }
            let Some(pattern) = PATTERNS.iter().find(|p| m.name(p.group).is_some()) else {
                continue;
            };
            if !accepts(pattern, buf, whole.start(), whole.end()) {
                continue;
            }
            line += memchr_count(&buf[counted..whole.start()]);
            counted = whole.start();
            if self.found.last() != Some(&(line, pattern.kind)) {
                self.found.push((line, pattern.kind));
            }
        }
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
    use std::fmt::Write;

    use super::*;

    fn scan(chunks: &[&[u8]]) -> Vec<(usize, &'static str)> {
        let mut s = ContentScanner::default();
        for c in chunks {
            s.feed(c);
        }
        s.finish()
    }

    fn scan_str(text: &str) -> Vec<(usize, &'static str)> {
        scan(&[text.as_bytes()])
    }

    /// `-----BEGIN {label}-----`, put together at run time so that no secret scanner
    /// takes this file for a key.
    fn begin(label: &str) -> String {
        format!("{}BEGIN {label}{}", "-".repeat(5), "-".repeat(5))
    }

    // The first lines of keys made by `openssl` and thrown away.
    const PKCS8_RSA: &str = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCzjmI7tNMtltZz";
    const PKCS8_ED25519: &str = "MC4CAQAwBQYDK2VwBCIEINH7hqlfXk6NxMhMf3wo+c5jRxGGO+YvaLDID104Lex0";
    const SEC1_EC: &str = "MHcCAQEEILC+D9/l2L7WBzuAXIocjPwwke8+yJfcPSDTEhmCA3JyoAoGCCqGSM49";
    const TRADITIONAL: &str = "Opxb4woBtMLMHe36yIiHczpu7scydlSrz4cAd5H+9TMrusXtlOK3cA7VXu0gzECE";
    const PGP: &str = "lFgEaWjxQBYJKwYBBAHaRw8BAQdAZ4UtHzlwX4HG+LSOSR3KAkQ571ngzd5G+mDZ";
    const PYPI_MACAROON: &str = concat!(
        "AgEIcHlwaS5vcmcCJDFjN2JlMzhlLTFlN2QtNGNkNi1iMWU1LTFjNDViNzE1MTdmN1ud_t5nsBI7teT2adeQD2",
        "gXMDj_6i166oHwwJMgIrd0ACc8RCPg-qi7VTz27qRl1zHNZ025uF17phabiQ"
    );

    #[test]
    fn names() {
        assert!(secret_name("a/.env").is_some());
        assert!(secret_name(".env.production").is_some());
        assert!(secret_name(".env.example").is_none());
        assert!(secret_name(".env.sample").is_none());
        assert!(secret_name(".env.template").is_none());
        assert!(secret_name(".env.dist").is_none());
        assert!(secret_name("home/.ssh/id_ed25519").is_some());
        assert!(secret_name("home/.ssh/id_ed25519.pub").is_none());
        assert!(secret_name("certs/STORE.P12").is_some());
        assert!(secret_name("x.pfx").is_some());
        assert!(secret_name("gcp/credentials.json").is_some());
        assert!(secret_name("src/main.rs").is_none());
    }

    #[test]
    fn credential_files_by_name() {
        for (path, kind) in [
            ("web/.npmrc", "an npm credentials file (`.npmrc`)"),
            (".pypirc", "a PyPI credentials file (`.pypirc`)"),
            ("home/.netrc", "a netrc credentials file"),
            ("home/_netrc", "a netrc credentials file"),
            (
                ".git-credentials",
                "a git credentials file (`.git-credentials`)",
            ),
            ("android/release.jks", "a Java key store"),
            ("android/debug.keystore", "a Java key store"),
            ("KEYS/Store.JKS", "a Java key store"),
            ("tools/deploy.ppk", "a PuTTY private key file"),
        ] {
            assert_eq!(secret_name(path), Some(kind), "{path}");
        }
        for path in [
            ".npmrc.example",
            "docs/npmrc.md",
            "src/netrc.rs",
            "git-credentials.md",
            "jks.rs",
        ] {
            assert_eq!(secret_name(path), None, "{path}");
        }
    }

    #[test]
    fn contents_with_lines() {
        let token = format!(
            "x\ny\ntoken = \"ghp_{}\"\n",
            "U67yCGUzzTSIuBtxSUN2LX92MVHtcabm4lnb"
        );
        assert_eq!(scan_str(&token), [(3, "a GitHub token")]);
        let pem = format!("a\n{}\n{PKCS8_ED25519}\n", begin("PRIVATE KEY"));
        assert_eq!(scan_str(&pem), [(2, "a private key block")]);
        let aws = format!("{}{}\n", "AKIA", "Z7Q3W4E5R6T7Y8U9");
        assert_eq!(scan_str(&aws), [(1, "an AWS access key id")]);
        assert!(
            scan(&[b"AKIAIOSFODNN7EXAMPLE\n"]).is_empty(),
            "AWS's documented example key"
        );
        let pat = format!(
            "\n\ngithub_pat_{}",
            "11ABCDEFG0aBcDeFgHiJkL_U9JTbrDtWhpyvcPYbxmZQD2jZkyFhrdEJaNrncuqAZ52yRUv29GCFRLgIiv"
        );
        assert_eq!(scan_str(&pat), [(3, "a GitHub token")]);
    }

    #[test]
    fn traditional_encrypted_rsa_key() {
        let pem = format!(
            "{}\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,F80B4D360EA868BDEF871951C63595B2\n\n{TRADITIONAL}\n",
            begin("RSA PRIVATE KEY")
        );
        assert_eq!(scan_str(&pem), [(1, "a private key block")]);
        let crlf = pem.replace('\n', "\r\n");
        assert_eq!(scan_str(&crlf), [(1, "a private key block")]);
        // A long header line before them (a test vector of the `pem-rfc7468` crate).
        let chosen = pem.replacen(
            "\nProc-Type",
            "\nA-Header-That-Happens-To-Be-Exactly: 64 characters long.........\nProc-Type",
            1,
        );
        assert_eq!(scan_str(&chosen), [(1, "a private key block")]);
    }

    #[test]
    fn service_account_json_with_escaped_newlines() {
        let json = format!(
            "{{\n  \"type\": \"service_account\",\n  \"private_key_id\": \"5f2b8e0c41d7\",\n  \"private_key\": \"{}\\n{PKCS8_RSA}\\nONdictK+JQuFEz3CNP2cl3o4ZsHlfh7zRd7ItptZnVGlbPvzK3ddR7rJ5dcN1N1R\\n\",\n}}\n",
            begin("PRIVATE KEY")
        );
        assert_eq!(scan_str(&json), [(4, "a private key block")]);
        // Escaped once more (JSON in a JSON string), and with `\r\n`.
        let twice = json.replace("\\n", "\\\\n");
        assert_eq!(scan_str(&twice), [(4, "a private key block")]);
        let crlf = json.replace("\\n", "\\r\\n");
        assert_eq!(scan_str(&crlf), [(4, "a private key block")]);
    }

    #[test]
    fn pem_in_string_literals_and_yaml() {
        let marker = begin("EC PRIVATE KEY");
        let cases = [
            // C: one literal per line.
            format!("static const char key[] =\n    \"{marker}\\n\"\n    \"{SEC1_EC}\\n\";\n"),
            // JavaScript: concatenation.
            format!("const key =\n  '{marker}\\n' +\n  '{SEC1_EC}\\n';\n"),
            // Python: implicit concatenation.
            format!("KEY = (\n    \"{marker}\\n\"\n    \"{SEC1_EC}\\n\"\n)\n"),
            // Rust: a continuation backslash.
            format!("const KEY: &str = \"{marker}\\n\\\n    {SEC1_EC}\\n\";\n"),
            // Python: a triple-quoted string.
            format!("KEY = \"\"\"{marker}\n{SEC1_EC}\n\"\"\"\n"),
            // YAML: a block scalar, indented.
            format!("tls:\n  key: |\n    {marker}\n    {SEC1_EC}\n"),
            // YAML: a quoted scalar with escapes.
            format!("tls:\n  key: \"{marker}\\n  {SEC1_EC}\\n\"\n"),
        ];
        for text in &cases {
            let line = text.lines().position(|l| l.contains("BEGIN")).unwrap() + 1;
            assert_eq!(scan_str(text), [(line, "a private key block")], "{text}");
        }
    }

    #[test]
    fn pgp_private_key_block() {
        let armour = format!(
            "{}\nVersion: GnuPG v2\nComment: release signing key\n\n{PGP}\n=dYoJ\n",
            begin("PGP PRIVATE KEY BLOCK")
        );
        assert_eq!(scan_str(&armour), [(1, "a private key block")]);
        let bare = format!("{}\n\n{PGP}\n", begin("PGP PRIVATE KEY BLOCK"));
        assert_eq!(scan_str(&bare), [(1, "a private key block")]);
        // A public key block is no secret.
        let public = format!("{}\n\n{PGP}\n", begin("PGP PUBLIC KEY BLOCK"));
        assert!(scan_str(&public).is_empty());
    }

    #[test]
    fn putty_key_file() {
        for version in [2, 3] {
            let ppk = format!(
                "{}-User-Key-File-{version}: ssh-ed25519\nEncryption: none\nComment: deploy\nPublic-Lines: 2\n",
                "PuTTY"
            );
            assert_eq!(scan_str(&ppk), [(1, "a PuTTY private key")]);
            let encrypted = format!(
                "{}-User-Key-File-{version}: ssh-rsa\r\nEncryption: aes256-cbc\r\n",
                "PuTTY"
            );
            assert_eq!(scan_str(&encrypted), [(1, "a PuTTY private key")]);
        }
        let prose = format!(
            "PuTTY key files begin with `{}-User-Key-File-3:`.\n",
            "PuTTY"
        );
        assert!(scan_str(&prose).is_empty());
    }

    #[test]
    fn issuer_tokens() {
        let cases = [
            (
                format!(
                    "NPM_TOKEN={}{}\n",
                    "npm_", "1R3enJMJYyF82tFqcGIaqHw6TxMzNOQTj6p1"
                ),
                "an npm token",
            ),
            (
                format!(
                    "//registry.npmjs.org/:_authToken={}{}\n",
                    "npm_", "1R3enJMJYyF82tFqcGIaqHw6TxMzNOQTj6p1"
                ),
                "an npm token",
            ),
            (
                format!("PRIVATE-TOKEN: {}{}\n", "glpat-", "Y4xmt3wBhDQvPKUn7t9b"),
                "a GitLab token",
            ),
            (
                format!("token: \"{}{}\"\n", "glpat-", "x_Y4xmt3wB-DQvPKUn7t"),
                "a GitLab token",
            ),
            // Routable tokens (GitLab's examples): payload, `.`, length and CRC;
            // and with a version.
            (
                format!("{}{}\n", "glpat-", "bzox79Of-KE9FD2LjoXXF4CvyxA.0r03gxo7s"),
                "a GitLab token",
            ),
            (
                format!(
                    "{}{}\n",
                    "glpat-", "TESTtokenGq5K56y8RBbu286MQp1OmFwOAk.01.0z11111is"
                ),
                "a GitLab token",
            ),
            (
                format!(
                    "SLACK_BOT_TOKEN={}{}\n",
                    "xoxb-", "263594206564-2343594206574-Svolr1CxafYNkzjX1gGGYQ4k"
                ),
                "a Slack token",
            ),
            (
                format!(
                    "{}{}\n",
                    "xoxp-",
                    "1234567890-1234567890123-1234567890123-0b36e13447f21dc7cf77a528e687ee0a"
                ),
                "a Slack token",
            ),
            (
                format!("password = {}{PYPI_MACAROON}\n", "pypi-"),
                "a PyPI token",
            ),
        ];
        for (text, kind) in &cases {
            assert_eq!(scan_str(text), [(1, *kind)], "{text}");
        }
    }

    #[test]
    fn token_followed_or_preceded_by_underscore() {
        let ghp = format!("{}{}", "ghp_", "U67yCGUzzTSIuBtxSUN2LX92MVHtcabm4lnb");
        for text in [
            format!("{ghp}_old\n"),
            format!("_{ghp}_\n"),
            format!("GH_TOKEN_{ghp}\n"),
        ] {
            assert_eq!(scan_str(&text), [(1, "a GitHub token")], "{text}");
        }
        let npm = format!("{}{}", "npm_", "1R3enJMJYyF82tFqcGIaqHw6TxMzNOQTj6p1");
        assert_eq!(scan_str(&format!("{npm}_\n")), [(1, "an npm token")]);
        let aws = format!("{}{}", "AKIA", "Z7Q3W4E5R6T7Y8U9");
        assert_eq!(
            scan_str(&format!("{aws}_id\n")),
            [(1, "an AWS access key id")]
        );
    }

    #[test]
    fn mentions_are_not_secrets() {
        assert!(
            scan(&[concat!("expects `-----BEGIN ", "PRIVATE KEY-----` (PKCS#8)\n").as_bytes()])
                .is_empty()
        );
        assert!(scan(&[b"prefix ghp_ is a token\n"]).is_empty());
        // A key's shape in docs: headers, but no material.
        let doc = format!(
            "{}\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,<iv>\n\n<base64>\n",
            begin("RSA PRIVATE KEY")
        );
        assert!(scan_str(&doc).is_empty());
        let truncated = format!("{}\nMIIEowIBAAKCAQEA...\n", begin("RSA PRIVATE KEY"));
        assert!(scan_str(&truncated).is_empty());
        let template = format!("\"private_key\": \"{}\\n...\\n\"\n", begin("PRIVATE KEY"));
        assert!(scan_str(&template).is_empty());
        let code = format!(
            "const TAG: &str = \"{}\";\nfn f() {{}}\n",
            begin("PRIVATE KEY")
        );
        assert!(scan_str(&code).is_empty());
    }

    #[test]
    fn words_and_placeholders_are_not_tokens() {
        let readme = concat!(
            "Set `npm_config_registry` and run the `pypi-upload` job.\n",
            "`npm_packageJsonScriptsPrepublishOnlyCommandLine` is longer than a token.\n",
            "scripts/npm_publish_with_provenance_and_tags_for_the_release.sh\n",
            "Slack bot tokens start with `xoxb-`; `xoxb-token-for-the-release-bot-of-ci`.\n",
            "PyPI tokens start with `pypi-AgEIcHlwaS5vcmc`; see pypi-AgEIcHlwaS5vcmc-docs.\n",
            "The `glpat-` prefix; `glpat-rotation-reminder-cronjob-weekly` runs on Mondays.\n",
            "AKIAIOSFODNN7EXAMPLE, AKIA_not_a_key, ASIAPACIFICREGIONALOFFICE.\n",
            "myghp_U67yCGUzzTSIuBtxSUN2LX92MVHtcabm4lnb is inside a longer word.\n",
        );
        assert_eq!(scan_str(readme), []);
        for placeholder in [
            format!("{}{}", "glpat-", "x".repeat(20)),
            format!("{}{}", "glpat-", "XXXXXXXXXXX-XXXXXXXX"),
            format!("{}{}", "ghp_", "x".repeat(36)),
            format!("{}{}", "npm_", "0".repeat(36)),
            format!(
                "{}{}",
                "xoxb-", "0000000000-0000000000-xxxxxxxxxxxxxxxxxxxxxxxx"
            ),
            format!("{}{}", "AKIA", "X".repeat(16)),
            format!("{}\n{}\n", begin("PRIVATE KEY"), "A".repeat(64)),
        ] {
            assert_eq!(scan_str(&placeholder), [], "{placeholder}");
        }
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
    fn the_longest_match_is_found_across_every_split() {
        // A PEM with every part as long as the pattern allows: three words before
        // `PRIVATE KEY BLOCK`, gaps of four escaped `\r\n` in 24 spaces, four headers.
        let pad = " ".repeat(24);
        let gap = format!("{}{pad}", format!("{pad}\\r\\n").repeat(4));
        let words = ["A", "B", "C"].map(|w| w.repeat(16)).join(" ");
        let mut pem = format!("{}{gap}", begin(&format!("{words} PRIVATE KEY BLOCK")));
        for name in ["Proc-Type", "DEK-Info", "Version", "Comment"] {
            let name = format!("{name}{}", "-".repeat(64 - name.len()));
            let _ = write!(pem, "{name}: {}{gap}", "v".repeat(100));
        }
        pem.push_str(&TRADITIONAL[..40]);
        assert_eq!(pem.len(), 1468);
        assert!(pem.len() < OVERLAP);
        let text = format!("{}{pem}\n{}", "z\n".repeat(2000), "y\n".repeat(2000));
        let bytes = text.as_bytes();
        assert_eq!(scan(&[bytes]), [(2001, "a private key block")]);
        for split in (3990..4000 + pem.len() + 10).step_by(3) {
            assert_eq!(
                scan(&[&bytes[..split], &bytes[split..]]),
                [(2001, "a private key block")],
                "split {split}"
            );
        }
        // One byte less of material is no key.
        let short = text.replacen(&TRADITIONAL[..40], &TRADITIONAL[..39], 1);
        assert_eq!(scan(&[short.as_bytes()]), []);
    }

    #[test]
    fn a_token_at_a_chunk_end_waits_for_the_next_byte() {
        let ghp = format!("{}{}", "ghp_", "U67yCGUzzTSIuBtxSUN2LX92MVHtcabm4lnb");
        // At the end of a chunk, then followed by more of its alphabet: a longer word.
        assert_eq!(scan(&[ghp.as_bytes(), b"x\n"]), []);
        // Followed by something else, or by the end of the file: a token, once.
        assert_eq!(scan(&[ghp.as_bytes(), b"_\n"]), [(1, "a GitHub token")]);
        assert_eq!(scan(&[ghp.as_bytes()]), [(1, "a GitHub token")]);
        assert_eq!(scan(&[ghp.as_bytes(), b""]), [(1, "a GitHub token")]);
        // A byte at a time.
        let text = format!("a\nb {ghp} c\n");
        let pieces: Vec<&[u8]> = text.as_bytes().chunks(1).collect();
        assert_eq!(scan(&pieces), [(2, "a GitHub token")]);
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
