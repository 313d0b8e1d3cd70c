//! Untrusted values inside messages, and how each output format shows them.
//!
//! A message of otactl (a checklist reason, a finding, an error) is ordinary text in
//! which every value that came from outside — an entry name, a URL, a key of a
//! manifest, a server's answer — is marked with [`code`]. The mark is a pair of
//! private-use characters that [`code`] strips from the value itself, so a value can
//! never open or close a mark. Each output format then renders the marks its own way:
//! [`plain`] as backticks (text, JSON), [`markdown`] as code spans that no backtick or
//! `|` in the value can break out of, and the GitHub workflow commands as backticks
//! with their own escapes (`output::github`). Every marked value is cut at
//! [`MAX_QUOTED`] characters. Pure: no I/O.

use std::borrow::Cow;
use std::fmt::Write as _;

const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

/// The most characters of one untrusted value that a message shows.
pub const MAX_QUOTED: usize = 200;

/// Marks `value` as a value from outside: shown as code, cut at [`MAX_QUOTED`]
/// characters (an ellipsis says so), its hidden characters ([`is_hidden`], line
/// breaks too) written as `\u{…}` escapes in every format, so that a value can
/// never start a line of its own in a log.
pub fn code(value: impl AsRef<str>) -> String {
    let value = value.as_ref();
    let mut out = String::with_capacity(value.len().min(4 * MAX_QUOTED) + 8);
    out.push(OPEN);
    let mut chars = value.chars().filter(|c| *c != OPEN && *c != CLOSE);
    for c in chars.by_ref().take(MAX_QUOTED) {
        if is_hidden(c) {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    if chars.next().is_some() {
        out.push('…');
    }
    out.push(CLOSE);
    out
}

/// Cuts untrusted text at [`MAX_QUOTED`] characters, on a character boundary.
pub fn cap(value: &str) -> Cow<'_, str> {
    match value.char_indices().nth(MAX_QUOTED) {
        None => Cow::Borrowed(value),
        Some((at, _)) => Cow::Owned(format!("{}…", &value[..at])),
    }
}

/// A run of a message: our own words, or a marked value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Span<'a> {
    Words(&'a str),
    Value(&'a str),
}

/// The runs of a message, in order. An unclosed mark runs to the end.
fn spans(text: &str) -> impl Iterator<Item = Span<'_>> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        if let Some(after) = rest.strip_prefix(OPEN) {
            let (value, tail) = after.split_once(CLOSE).unwrap_or((after, ""));
            rest = tail;
            return Some(Span::Value(value));
        }
        let end = rest.find(OPEN).unwrap_or(rest.len());
        let (words, tail) = rest.split_at(end);
        rest = tail;
        Some(Span::Words(words.trim_start_matches(CLOSE)))
    })
}

/// The message for text and JSON: each marked value in backticks. Control
/// characters are left to the printer, which escapes them for a terminal, and to
/// serde, which escapes them in JSON.
pub fn plain(text: &str) -> Cow<'_, str> {
    if !text.contains([OPEN, CLOSE]) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for span in spans(text) {
        match span {
            Span::Words(w) => out.push_str(w),
            Span::Value(v) => {
                out.push('`');
                out.push_str(v);
                out.push('`');
            }
        }
    }
    Cow::Owned(out)
}

/// The message as one cell of a Markdown table (GitHub flavour). Each marked value
/// becomes a code span whose fence is longer than the value's longest run of
/// backticks. Our own words keep their code spans, found as `CommonMark` finds them (a
/// run of backticks closes at the next run of the same length); outside them, every
/// character Markdown could act on is escaped, a backtick run that closes nothing
/// included, so that even a value left unmarked cannot add a link or an image. `|`
/// is escaped everywhere (it splits table cells even inside code spans); control
/// characters and line breaks are replaced.
pub fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for span in spans(text) {
        match span {
            Span::Words(w) => push_markdown_words(&mut out, w),
            Span::Value(v) => push_code_span(&mut out, v),
        }
    }
    out
}

fn push_markdown_words(out: &mut String, words: &str) {
    let mut rest = words;
    while let Some(c) = rest.chars().next() {
        if c != '`' {
            match c {
                '|' => out.push_str("\\|"),
                '\\' | '*' | '_' | '[' | ']' | '<' | '>' | '!' | '~' | '&' => {
                    out.push('\\');
                    out.push(c);
                }
                c if is_hidden(c) => push_escape(out, c),
                c => out.push(c),
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let run = rest.len() - rest.trim_start_matches('`').len();
        let after = &rest[run..];
        if let Some(end) = closing_run(after, run) {
            out.push_str(&rest[..run]);
            for c in after[..end].chars() {
                match c {
                    '|' => out.push_str("\\|"),
                    c if is_hidden(c) => push_escape(out, c),
                    c => out.push(c),
                }
            }
            out.push_str(&rest[..run]);
            rest = &after[end + run..];
        } else {
            for _ in 0..run {
                out.push_str("\\`");
            }
            rest = after;
        }
    }
}

/// Where the next run of exactly `len` backticks starts in `text`.
fn closing_run(text: &str, len: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'`' {
            let start = i;
            while i < bytes.len() && bytes[i] == b'`' {
                i += 1;
            }
            if i - start == len {
                return Some(start);
            }
        } else {
            i += 1;
        }
    }
    None
}

/// One untrusted value as a Markdown code span (cut at [`MAX_QUOTED`]).
pub fn markdown_code(value: &str) -> String {
    let mut out = String::new();
    push_code_span(&mut out, &cap(value));
    out
}

fn push_code_span(out: &mut String, value: &str) {
    let longest = value.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    // CommonMark strips one space inside each end when both ends have one: pad a
    // value that starts or ends with a backtick (it would merge with the fence) or
    // with spaces at both ends (they would be stripped).
    let pad = value.is_empty()
        || value.starts_with('`')
        || value.ends_with('`')
        || (value.starts_with(' ') && value.ends_with(' ') && value.trim() != "");
    out.push_str(&fence);
    if pad {
        out.push(' ');
    }
    for c in value.chars() {
        match c {
            '|' => out.push_str("\\|"),
            c if is_hidden(c) => push_escape(out, c),
            c => out.push(c),
        }
    }
    if pad {
        out.push(' ');
    }
    out.push_str(&fence);
}

/// Characters a reader cannot see or that move the text: controls (line breaks
/// too), bidirectional controls, zero-width characters, the byte-order mark.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// `s` with every character for which `escape` holds written as `\u{…}` (the
/// same text, borrowed, when there is none).
pub fn escape_where(s: &str, escape: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(&escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if escape(c) {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn push_escape(out: &mut String, c: char) {
    let _ = write!(out, "\\u{{{:04x}}}", c as u32);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_quotes_values_in_backticks() {
        let m = format!("{} is not under {}", code("a/b"), code("evse-1/"));
        assert_eq!(plain(&m), "`a/b` is not under `evse-1/`");
        assert_eq!(plain("no values"), "no values");
    }

    #[test]
    fn a_value_cannot_forge_a_mark() {
        let hostile = format!("x{CLOSE} injected {OPEN}y");
        let m = format!("see {} now", code(&hostile));
        assert_eq!(plain(&m), "see `x injected y` now");
    }

    #[test]
    fn values_are_cut_at_200_characters() {
        let long = "ş".repeat(500);
        let quoted = plain(&code(&long)).into_owned();
        assert_eq!(quoted.chars().count(), MAX_QUOTED + 3);
        assert!(quoted.ends_with("…`"));
        assert_eq!(cap(&long).chars().count(), MAX_QUOTED + 1);
        assert_eq!(cap("short"), "short");
    }

    #[test]
    fn markdown_code_span_outgrows_the_value_backticks() {
        let m = format!("entry {} found", code("a``b`](http://x)|c"));
        assert_eq!(markdown(&m), "entry ```a``b`](http://x)\\|c``` found");
    }

    #[test]
    fn markdown_escapes_words_and_hidden_characters() {
        assert_eq!(markdown("a|b *c* <d>"), "a\\|b \\*c\\* \\<d\\>");
        assert_eq!(markdown("see `build_id` [x]"), "see `build_id` \\[x\\]");
    }

    #[test]
    fn markdown_words_find_code_spans_as_commonmark_does() {
        // A run of three backticks that closes nothing is literal: what follows is
        // not code, so it is escaped.
        assert_eq!(
            markdown("key \"```![x](http://e)`\""),
            "key \"\\`\\`\\`\\!\\[x\\](http://e)\\`\""
        );
        // Runs of the same length pair up; other lengths inside are content.
        assert_eq!(markdown("`a``b` c_d"), "`a``b` c\\_d");
        assert_eq!(markdown("``a`b`` |"), "``a`b`` \\|");
        let m = code("x\ny\u{1b}[2J\u{202e}");
        assert_eq!(markdown(&m), "`x\\u{000a}y\\u{001b}[2J\\u{202e}`");
        assert_eq!(markdown(&code("`x")), "`` `x ``");
        assert_eq!(markdown(&code(" x ")), "`  x  `");
    }

    #[test]
    fn values_cannot_break_a_line() {
        assert_eq!(plain(&code("a\n::error::x")), "`a\\u{000a}::error::x`");
    }

    #[test]
    fn unclosed_mark_runs_to_the_end() {
        let m = format!("a {OPEN}b");
        assert_eq!(plain(&m), "a `b`");
    }
}
