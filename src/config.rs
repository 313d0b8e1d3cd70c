//! `otactl.toml` (SPEC 3) merged with flags into [`Settings`].
//!
//! Finding the file is the caller's business ([`find_config`] walks up from the
//! working folder to the git work tree root); this module parses and validates.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::fsx;
use crate::manifest::{Channels, DEFAULT_CHANNELS};

/// The file name otactl looks for.
pub const CONFIG_FILE: &str = "otactl.toml";

/// The file as written; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Tarball prefix and asset name stem.
    pub name: Option<String>,
    /// Folder holding one folder per channel.
    pub channels_dir: Option<String>,
    /// Channels in promotion order.
    pub channels: Option<Vec<String>>,
    /// Git repository the tarballs are built from.
    pub source: Option<String>,
    /// Globs of tracked paths the secret scan lets through.
    pub allow_secrets: Option<Vec<String>>,
    /// `[signing]`.
    pub signing: Option<SigningConfig>,
    /// `[github]`.
    pub github: Option<GithubConfig>,
    /// `[oci]`.
    pub oci: Option<OciConfig>,
    /// `[dir]`.
    pub dir: Option<DirConfig>,
}

/// `[signing]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningConfig {
    /// Public key files devices trust, relative to the repository root.
    pub public_keys: Option<Vec<String>>,
    /// Every manifest must carry a valid signature.
    pub require: Option<bool>,
    /// Non-ASCII text is an error, not a warning.
    pub ascii_only: Option<bool>,
}

/// `[github]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubConfig {
    /// `OWNER/REPO`.
    pub repo: Option<String>,
    /// API base URL.
    pub api_url: Option<String>,
}

/// `[oci]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OciConfig {
    /// `REGISTRY/REPOSITORY`.
    pub repository: Option<String>,
    /// Media type of the payload layer.
    pub media_type: Option<String>,
    /// `publish oci` signs; `verify` requires the signature.
    pub cosign: Option<bool>,
}

/// `[dir]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirConfig {
    /// The release folder.
    pub path: Option<String>,
    /// The URL the folder is served at.
    pub base_url: Option<String>,
}

/// The settings of one run, from `otactl.toml` and defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The repository root: the folder holding `otactl.toml`, else the working folder.
    pub root: PathBuf,
    /// The configuration file, when there is one.
    pub config_path: Option<PathBuf>,
    /// `name`.
    pub name: Option<String>,
    /// The channels folder, relative to `root`.
    pub channels_dir: PathBuf,
    /// Channels in promotion order.
    pub channels: Channels,
    /// Trusted public key files, relative to `root`.
    pub public_keys: Vec<PathBuf>,
    /// `[signing] require`.
    pub require_signature: bool,
    /// `[signing] ascii_only`.
    pub ascii_only: bool,
    /// `allow_secrets`.
    pub allow_secrets: Vec<String>,
    /// `source`, relative to `root`.
    pub source: Option<PathBuf>,
    /// `[dir] path`, relative to `root`.
    pub dir_path: Option<PathBuf>,
    /// `[dir] base_url`.
    pub dir_base_url: Option<String>,
    /// `[github]` as written.
    pub github: GithubConfig,
    /// `[oci]` as written.
    pub oci: OciConfig,
    /// `channels` was set in `otactl.toml`: those channels are configured, not
    /// defaults.
    pub channels_configured: bool,
    /// Set when `channels_dir` was read as `.` because, with no `otactl.toml`, channel
    /// folders sit at the root (SPEC 3): what `-v` says of it.
    pub layout_note: Option<String>,
}

impl Settings {
    /// Reads the configuration at `path` (when given) with `root` as the repository.
    pub fn load(root: &Path, path: Option<&Path>) -> Result<Settings> {
        let Some(path) = path else {
            let mut settings = Settings::from_file(root, None, ConfigFile::default())?;
            settings.detect_root_layout();
            return Ok(settings);
        };
        let bytes = fsx::read_limited(path, 1024 * 1024, "a configuration file")?;
        let text = String::from_utf8(bytes).map_err(|_| Error::Config {
            path: path.to_owned(),
            message: "is not valid UTF-8".into(),
        })?;
        Settings::parse(root, path, &text)
    }

    /// The settings `text` holds, as if read from `path` (which names it in errors).
    pub fn parse(root: &Path, path: &Path, text: &str) -> Result<Settings> {
        let file = toml::from_str::<ConfigFile>(text).map_err(|e| Error::Config {
            path: path.to_owned(),
            message: masked_toml_error(text, &e),
        })?;
        Settings::from_file(root, Some(path), file)
    }

    /// Without `otactl.toml`, a repository whose channel folders sit at its root
    /// (`stable/manifest.json`, the layout of the real channel repository) and that
    /// has no `channels/` folder is read as `channels_dir = "."` (SPEC 3).
    fn detect_root_layout(&mut self) {
        if fsx::is_dir(&self.root.join(&self.channels_dir)) {
            return;
        }
        let at_root: Vec<String> = self
            .channels
            .iter()
            .filter(|c| fsx::exists(&self.root.join(c).join("manifest.json")))
            .map(|c| format!("`{c}/`"))
            .collect();
        if !at_root.is_empty() {
            self.channels_dir = PathBuf::from(".");
            self.layout_note = Some(format!(
                "no `otactl.toml`: the channel folders sit at the root ({}), so the layout is read as `channels_dir = \".\"`",
                at_root.join(", ")
            ));
        }
    }

    /// The error of a check that finds no channel at all (SPEC 3, 6: exit 2, never a
    /// pass).
    pub fn no_channel_error(&self) -> Error {
        let channels = self.channels.join(", ");
        let message = match &self.config_path {
            None => format!(
                "no channel found: there is no `otactl.toml`, and no `channels/CHANNEL/manifest.json` or `CHANNEL/manifest.json` exists for the channels {channels}; a check that finds no manifest is not a pass. Run otactl in the channel repository (`-C DIR`), or name its channels and `channels_dir` in otactl.toml"
            ),
            Some(_) => format!(
                "no channel found: `channels` is not set and no folder of `channels_dir` (`{}`) holds one of the channels {channels}; a check that finds no manifest is not a pass. Name the channels in `channels`, or set `channels_dir` to the folder that holds them",
                self.channels_dir.display()
            ),
        };
        Error::Config {
            path: self
                .config_path
                .clone()
                .unwrap_or_else(|| self.root.clone()),
            message,
        }
    }

    fn from_file(root: &Path, path: Option<&Path>, file: ConfigFile) -> Result<Settings> {
        let config_err = |message: String| Error::Config {
            path: path.map_or_else(|| PathBuf::from(CONFIG_FILE), Path::to_owned),
            message,
        };
        let channels_configured = file.channels.is_some();
        let channels = file
            .channels
            .unwrap_or_else(|| DEFAULT_CHANNELS.map(String::from).to_vec());
        if channels.is_empty() {
            return Err(config_err(
                "`channels` is empty; name at least one channel".into(),
            ));
        }
        // Looked up, not compared one by one: a repository may list thousands.
        let mut seen = std::collections::HashSet::with_capacity(channels.len());
        for (i, channel) in channels.iter().enumerate() {
            if !is_simple_name(channel) {
                // The value itself is not shown: it may be anything, a token too.
                return Err(config_err(format!(
                    "`channels`: entry {} is not a valid channel name: {} (use lowercase letters, digits, `-` and `_`, starting with a letter or digit)",
                    i + 1,
                    first_bad_char(channel, |c| c.is_ascii_lowercase()
                        || c.is_ascii_digit()
                        || c == '-'
                        || c == '_'),
                )));
            }
            if !seen.insert(channel.as_str()) {
                return Err(config_err(format!(
                    "`channels`: `{channel}` is listed twice"
                )));
            }
        }
        if let Some(name) = &file.name
            && !name.chars().all(is_name_char)
        {
            return Err(config_err(format!(
                "`name`: {}; it may hold only letters, digits, `.`, `_` and `-`",
                first_bad_char(name, is_name_char),
            )));
        }
        let signing = file.signing.unwrap_or_default();
        let dir = file.dir.unwrap_or_default();
        Ok(Settings {
            root: root.to_owned(),
            config_path: path.map(Path::to_owned),
            name: file.name,
            channels_dir: PathBuf::from(file.channels_dir.unwrap_or_else(|| "channels".into())),
            channels: Channels::new(channels),
            public_keys: signing
                .public_keys
                .unwrap_or_default()
                .into_iter()
                .map(PathBuf::from)
                .collect(),
            require_signature: signing.require.unwrap_or(false),
            ascii_only: signing.ascii_only.unwrap_or(false),
            allow_secrets: file.allow_secrets.unwrap_or_default(),
            source: file.source.map(PathBuf::from),
            dir_path: dir.path.map(|p| root.join(p)),
            dir_base_url: dir.base_url,
            github: file.github.unwrap_or_default(),
            oci: file.oci.unwrap_or_default(),
            channels_configured,
            layout_note: None,
        })
    }

    /// The folder of a channel.
    pub fn channel_dir(&self, channel: &str) -> PathBuf {
        self.root.join(&self.channels_dir).join(channel)
    }

    /// The manifest file of a channel.
    pub fn manifest_path(&self, channel: &str) -> PathBuf {
        self.channel_dir(channel).join("manifest.json")
    }

    /// The manifest of a channel relative to the root, as git names it there.
    pub fn manifest_in_root(&self, channel: &str) -> PathBuf {
        let path = self.manifest_path(channel);
        path.strip_prefix(&self.root).unwrap_or(&path).to_owned()
    }

    /// The source repository: the flag, else `source` (relative to the root), else `.`.
    pub fn source_dir(&self, flag: Option<&Path>) -> PathBuf {
        match (flag, &self.source) {
            (Some(flag), _) => flag.to_owned(),
            (None, Some(source)) => self.root.join(source),
            (None, None) => PathBuf::from("."),
        }
    }

    /// The channel whose folder holds `path`, if `path` is a channel's `manifest.json`.
    pub fn folder_channel<'a>(&self, path: &'a Path) -> Option<&'a str> {
        if path.file_name()? != "manifest.json" {
            return None;
        }
        path.parent()?.file_name()?.to_str()
    }
}

/// A character `name` may hold: a letter, a digit, `.`, `_` or `-`.
pub(crate) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._-".contains(c)
}

/// A channel name: lowercase letters, digits, `-` and `_`, starting with a letter or digit.
pub(crate) fn is_simple_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && s.as_bytes()[0].is_ascii_alphanumeric()
}

/// Where a name breaks its rule, without showing the name ("it holds `S`").
fn first_bad_char(value: &str, allowed: impl Fn(char) -> bool) -> String {
    let Some(first) = value.chars().next() else {
        return "it is empty".into();
    };
    if !first.is_ascii_alphanumeric() && allowed(first) {
        return format!("it starts with `{first}`");
    }
    match value.chars().find(|c| !allowed(*c)) {
        Some(c) => format!("it holds `{}`", c.escape_debug()),
        None => "it is not allowed".into(),
    }
}

/// The message of a file `toml` could not read, with the bad line shown and a caret
/// under the error, every value on that line masked as `…` (keys and punctuation
/// kept): a token on that line, or quoted in serde's message, is never printed.
fn masked_toml_error(text: &str, e: &toml::de::Error) -> String {
    use std::fmt::Write as _;
    let mut message = mask_message(e.message());
    let Some(span) = e.span() else {
        return message;
    };
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let raw = text[line_start..line_end].trim_end_matches('\r');
    let line_no = text[..line_start].matches('\n').count() + 1;
    let column = text[line_start..start].chars().count() + 1;
    let masked = mask_line(raw);
    for secret in &masked.hidden {
        if secret.chars().count() >= 4 {
            message = message.replace(secret.as_str(), "…");
        }
    }
    let from = masked.column(start - line_start);
    let to = masked.column(
        span.end
            .min(line_start + raw.len())
            .saturating_sub(line_start),
    );
    let width = to.saturating_sub(from).max(1);
    let gutter = " ".repeat(line_no.to_string().len());
    let mut out = format!("TOML parse error at line {line_no}, column {column}");
    let _ = write!(
        out,
        "\n  {gutter} |\n  {line_no} | {}\n  {gutter} | {}{}",
        masked.text,
        " ".repeat(from),
        "^".repeat(width)
    );
    let _ = write!(out, "\n  {message}");
    if !masked.hidden.is_empty() {
        out.push_str("\n  (values on that line are shown as `…`)");
    }
    out
}

/// serde's messages quote the value they did not expect; keep only its kind.
fn mask_message(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some(at) = rest.rfind(", expected ")
        {
            let kind = rest[..at].split(['`', '"']).next().unwrap_or("").trim_end();
            return format!("{prefix}{kind}{}", &rest[at..]);
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant ")
        && let Some(at) = rest.rfind(", expected ")
    {
        return format!("unknown variant `…`{}", &rest[at..]);
    }
    message.to_owned()
}

/// One line of TOML with its values masked.
struct MaskedLine {
    text: String,
    /// The column in `text` of each byte offset of the line (one more for its end).
    columns: Vec<usize>,
    /// What was masked, so that a message quoting it can be masked too.
    hidden: Vec<String>,
}

impl MaskedLine {
    fn column(&self, offset: usize) -> usize {
        self.columns[offset.min(self.columns.len() - 1)]
    }

    /// Copies `src[from..to]` as it is; returns `to`.
    fn keep(&mut self, src: &str, from: usize, to: usize) -> usize {
        for (i, c) in src[from..to].char_indices() {
            let column = self.text.chars().count();
            self.columns[from + i..from + i + c.len_utf8()].fill(column);
            self.text.push(c);
        }
        to
    }

    /// Writes `replacement` for `src[from..to]`, whose `inner` part is hidden;
    /// returns `to`.
    fn mask(
        &mut self,
        src: &str,
        from: usize,
        to: usize,
        replacement: &str,
        inner: (usize, usize),
    ) -> usize {
        let column = self.text.chars().count();
        self.columns[from..to].fill(column);
        self.text.push_str(replacement);
        let hidden = &src[inner.0..inner.1];
        if !hidden.is_empty() {
            self.hidden.push(hidden.to_owned());
        }
        to
    }
}

/// Masks the values of one TOML line, however malformed: strings, numbers, dates,
/// booleans, bare words and comments become `…`; a key is kept only when an `=`
/// follows it (a bare word alone on a line may be a pasted token); table headers,
/// brackets, braces, commas and `=` are kept.
fn mask_line(line: &str) -> MaskedLine {
    let mut out = MaskedLine {
        text: String::with_capacity(line.len()),
        columns: vec![0; line.len() + 1],
        hidden: Vec::new(),
    };
    let bytes = line.as_bytes();
    // Inline tables (true) and arrays (false) the line is inside.
    let mut stack: Vec<bool> = Vec::new();
    let mut expect_key = true;
    let mut i = 0;
    if line.trim_start().starts_with('[') {
        i = out.header(line);
        expect_key = false;
    }
    while i < bytes.len() {
        let b = bytes[i];
        let next = match b {
            b' ' | b'\t' => out.keep(line, i, i + 1),
            _ if expect_key && (is_bare(b) || b == b'"' || b == b'\'') => {
                expect_key = false;
                out.key(line, i)
            }
            b'#' => out.comment(line, i),
            b'"' | b'\'' => out.string(line, i),
            b'[' | b'{' => {
                stack.push(b == b'{');
                expect_key = b == b'{';
                out.keep(line, i, i + 1)
            }
            b']' | b'}' => {
                stack.pop();
                out.keep(line, i, i + 1)
            }
            b',' => {
                expect_key = stack.last() == Some(&true);
                out.keep(line, i, i + 1)
            }
            b'=' => out.keep(line, i, i + 1),
            _ => {
                // A bare value: number, boolean, date, or an unquoted word.
                let end = bytes[i..]
                    .iter()
                    .position(|c| b" \t,[]{}#=\"'".contains(c))
                    .map_or(bytes.len(), |n| i + n);
                out.mask(line, i, end, "…", (i, end))
            }
        };
        i = next;
    }
    out.columns[line.len()] = out.text.chars().count();
    out
}

fn is_bare(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// For a string opening at `at`: the length of its quotes, where its content ends,
/// and where it ends (`None` when it does not close on this line).
fn string_end(bytes: &[u8], at: usize) -> (usize, usize, Option<usize>) {
    let quote = bytes[at];
    let triple = bytes.get(at..at + 3) == Some(&[quote, quote, quote][..]);
    let open = if triple { 3 } else { 1 };
    let mut j = at + open;
    while j < bytes.len() {
        if quote == b'"' && bytes[j] == b'\\' {
            j += 2;
            continue;
        }
        if bytes[j] == quote && (!triple || bytes.get(j..j + 3) == Some(&[quote, quote, quote][..]))
        {
            return (open, j, Some(j + open));
        }
        j += 1;
    }
    (open, bytes.len(), None)
}

impl MaskedLine {
    /// A table header: its name is kept when it is a plain dotted name (a line of a
    /// multi-line array may start with `[` too), else masked. Returns where it ends.
    fn header(&mut self, line: &str) -> usize {
        let bytes = line.as_bytes();
        let mut j = line.len() - line.trim_start().len();
        while j < bytes.len() && bytes[j] == b'[' {
            j += 1;
        }
        let Some(k) = line[j..].find(']').map(|k| j + k) else {
            self.keep(line, 0, j);
            return self.mask(line, j, bytes.len(), "…", (j, bytes.len()));
        };
        let plain = bytes[j..k]
            .iter()
            .all(|&c| is_bare(c) || c == b'.' || c == b' ' || c == b'\t');
        if plain {
            self.keep(line, 0, k);
        } else {
            self.keep(line, 0, j);
            self.mask(line, j, k, "…", (j, k));
        }
        let end = bytes[k..]
            .iter()
            .position(|&c| c != b']')
            .map_or(bytes.len(), |n| k + n);
        self.keep(line, k, end)
    }

    /// A dotted key (quoted parts included): kept with its `=` when one follows,
    /// else masked.
    fn key(&mut self, line: &str, at: usize) -> usize {
        let bytes = line.as_bytes();
        let mut j = at;
        while j < bytes.len() {
            match bytes[j] {
                b'"' | b'\'' => j = string_end(bytes, j).2.unwrap_or(bytes.len()),
                c if is_bare(c) || c == b'.' || c == b' ' || c == b'\t' => j += 1,
                _ => break,
            }
        }
        if bytes.get(j) == Some(&b'=') {
            return self.keep(line, at, j + 1);
        }
        let key_end = line[..j].trim_end().len();
        self.mask(line, at, key_end, "…", (at, key_end));
        self.keep(line, key_end, j)
    }

    /// A comment: `#` kept, its text masked.
    fn comment(&mut self, line: &str, at: usize) -> usize {
        let rest = line[at + 1..].trim_start();
        let from = line.len() - rest.len();
        self.keep(line, at, from);
        if rest.is_empty() {
            return from;
        }
        self.mask(line, from, line.len(), "…", (from, line.len()))
    }

    /// A string value: quotes kept, content masked (an empty one is kept).
    fn string(&mut self, line: &str, at: usize) -> usize {
        let (open, inner_end, end) = string_end(line.as_bytes(), at);
        let quotes = &line[at..at + open];
        match end {
            Some(end) if inner_end == at + open => self.keep(line, at, end),
            Some(end) => self.mask(
                line,
                at,
                end,
                &format!("{quotes}…{quotes}"),
                (at + open, inner_end),
            ),
            None => {
                let len = line.len();
                self.mask(
                    line,
                    at,
                    len,
                    &format!("{quotes}…"),
                    ((at + open).min(len), len),
                )
            }
        }
    }
}

/// Finds `otactl.toml` in `start` or a parent, stopping at the git work tree root.
pub fn find_config(start: &Path) -> Option<PathBuf> {
    for dir in start.ancestors() {
        let candidate = dir.join(CONFIG_FILE);
        if candidate.is_file() {
            return Some(candidate);
        }
        if fsx::exists(&dir.join(".git")) {
            return None;
        }
    }
    None
}

/// Whether this runs in CI (SPEC 6: `CI` set, and not empty, `0` or `false`): no
/// prompts, no progress bars, `file://` artifacts confined to the release folder.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| Error::Config {
            path: PathBuf::from("otactl.toml"),
            message: e.to_string(),
        })?;
        Settings::from_file(
            Path::new("/repo"),
            Some(Path::new("/repo/otactl.toml")),
            file,
        )
    }

    #[test]
    fn defaults() {
        let s = parse("").unwrap();
        assert_eq!(&*s.channels, ["canary", "staging", "stable"]);
        assert_eq!(
            s.manifest_path("stable"),
            Path::new("/repo/channels/stable/manifest.json")
        );
        assert!(!s.require_signature);
    }

    #[test]
    fn full_file() {
        let s = parse(
            r#"
name = "evse"
channels_dir = "."
channels = ["beta", "stable"]
source = "../evse"
[signing]
public_keys = ["keys/ota_pubkey.pem"]
require = true
ascii_only = true
[github]
repo = "o/r"
[oci]
repository = "r.example/x"
[dir]
path = "/srv"
"#,
        )
        .unwrap();
        assert_eq!(
            s.manifest_path("beta"),
            Path::new("/repo/./beta/manifest.json")
        );
        assert!(s.require_signature && s.ascii_only);
        assert_eq!(s.public_keys, [PathBuf::from("keys/ota_pubkey.pem")]);
    }

    #[test]
    fn mask_line_keeps_keys_and_punctuation_only() {
        for (line, masked) in [
            ("name = \"evse\"", "name = \"…\""),
            (
                "channels = [\"a\", 'b', \"\"]",
                "channels = [\"…\", '…', \"\"]",
            ),
            ("require = true # ghp_x", "require = … # …"),
            ("a.b = 1979-05-27T07:32:00Z", "a.b = …"),
            ("token = ghp_abc", "token = …"),
            ("name = \"ghp_abc", "name = \"…"),
            ("name = 'x' ghp_abc", "name = '…' …"),
            ("ghp_abc", "…"),
            ("ghp_abc€ = 1", "…… = …"),
            (
                "repo = { token = \"x\", n = 2 }",
                "repo = { token = \"…\", n = … }",
            ),
            ("\"quoted key\" = \"v\\\"q\"", "\"quoted key\" = \"…\""),
            ("x = \"\"\"ghp", "x = \"\"\"…"),
            ("[signing] # ghp", "[signing] # …"),
            ("[[ghp", "[[…"),
            ("  [\"ghp_a\", \"b\"],", "  […],"),
            ("api_url = = \"x\"", "api_url = = \"…\""),
        ] {
            assert_eq!(mask_line(line).text, masked, "{line}");
        }
    }

    #[test]
    fn toml_errors_show_the_masked_line_with_the_caret_in_place() {
        // Made at run time: the secret scan of `otactl tar` would find it in the source.
        let token = format!("ghp_{}", "0123456789abcdefghijABCDEFGHIJ012345");
        let text = format!("name = \"app\"\n[signing]\nrequire = \"{token}\"\n");
        let e = toml::from_str::<ConfigFile>(&text).unwrap_err();
        assert_eq!(
            masked_toml_error(&text, &e),
            "TOML parse error at line 3, column 11\n    |\n  3 | require = \"…\"\n    |           ^^^\n  invalid type: string, expected a boolean\n  (values on that line are shown as `…`)"
        );
        let text = format!("token = {token} # {token}\n");
        let e = toml::from_str::<ConfigFile>(&text).unwrap_err();
        let shown = masked_toml_error(&text, &e);
        assert!(!shown.contains("ghp_"), "{shown}");
        assert!(
            shown.contains("  1 | token = … # …\n    |         ^\n"),
            "{shown}"
        );
        // An unknown key is named; nothing else of its line is shown.
        let text = format!("[github]\ntoken = \"{token}\"\n");
        let e = toml::from_str::<ConfigFile>(&text).unwrap_err();
        let shown = masked_toml_error(&text, &e);
        assert!(
            shown.contains("  2 | token = \"…\"\n    | ^^^^^\n  unknown field `token`"),
            "{shown}"
        );
    }

    #[test]
    fn unknown_keys_and_bad_channels_are_errors() {
        let e = parse("nmae = \"x\"").unwrap_err().to_string();
        assert!(e.contains("unknown field `nmae`"), "{e}");
        let e = parse("channels = [\"Stable\"]").unwrap_err().to_string();
        assert!(e.contains("not a valid channel name"), "{e}");
        let e = parse("channels = [\"a\", \"a\"]").unwrap_err().to_string();
        assert!(e.contains("listed twice"), "{e}");
        let e = parse("channels = []").unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
    }
}
