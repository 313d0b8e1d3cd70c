//! Everything otactl prints: results to stdout, talk to stderr (SPEC 6).
//!
//! `Printer` is the only place that writes to the terminal. Text that came from a
//! file or a server is escaped before it is printed, so a hostile manifest cannot
//! move the cursor or reorder a line with bidi controls.

#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod github;
pub mod progress;

use std::io::{IsTerminal, Write as _};

use crate::error::Error;
use crate::manifest::{Finding, Severity};
use crate::text;

/// `--color`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Color when the stream is a terminal and `NO_COLOR` is unset.
    #[default]
    Auto,
    /// Always color.
    Always,
    /// Never color.
    Never,
}

/// `--format`: how a command prints its result. Each command accepts the formats
/// that make sense for it ([`Format::parser`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Lines for people.
    Text,
    /// One JSON document on stdout.
    Json,
    /// A Markdown table (the body of a PR).
    Markdown,
    /// GitHub Actions workflow commands, and a table appended to `$GITHUB_STEP_SUMMARY`.
    Github,
}

impl Format {
    /// Text and JSON: the formats of a command with a result worth parsing.
    pub const DATA: &'static [Format] = &[Format::Text, Format::Json];
    /// The formats of `lint`.
    pub const LINT: &'static [Format] = &[Format::Text, Format::Json, Format::Github];
    /// The formats of `verify`.
    pub const CHECKLIST: &'static [Format] =
        &[Format::Text, Format::Json, Format::Markdown, Format::Github];

    /// The name given to `--format`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Markdown => "markdown",
            Format::Github => "github",
        }
    }

    /// A `--format` parser that accepts `allowed` only (and lists them in the help).
    pub fn parser(
        allowed: &'static [Format],
    ) -> impl clap::builder::TypedValueParser<Value = Format> {
        use clap::builder::TypedValueParser as _;
        clap::builder::PossibleValuesParser::new(allowed.iter().map(|f| f.name())).map(
            move |name| {
                allowed
                    .iter()
                    .copied()
                    .find(|f| f.name() == name)
                    .unwrap_or(Format::Text)
            },
        )
    }
}

/// Writes results and messages with the run's verbosity and color choice.
#[derive(Clone, Debug)]
pub struct Printer {
    verbosity: Verbosity,
    color_err: bool,
    color_out: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

const RED: &str = "\x1b[1;31m";
const YELLOW: &str = "\x1b[1;33m";
const CYAN: &str = "\x1b[1;36m";
const GREEN: &str = "\x1b[1;32m";
const RESET: &str = "\x1b[0m";

impl Printer {
    /// A printer for this process's stdout and stderr.
    pub fn new(quiet: bool, verbose: bool, color: ColorChoice) -> Printer {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let decide = |is_tty: bool| match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => is_tty && !no_color,
        };
        let verbosity = match (quiet, verbose) {
            (true, _) => Verbosity::Quiet,
            (false, true) => Verbosity::Verbose,
            (false, false) => Verbosity::Normal,
        };
        Printer {
            verbosity,
            color_err: decide(std::io::stderr().is_terminal()),
            color_out: decide(std::io::stdout().is_terminal()),
        }
    }

    /// A reporter for long transfers: a bar at a terminal, unless `-q` or `-v`; the
    /// line that ends each step, unless `-q`.
    pub fn reporter(&self) -> progress::Bar {
        let terminal = std::io::stderr().is_terminal() && !crate::config::in_ci();
        progress::Bar::new(
            terminal && self.verbosity == Verbosity::Normal,
            self.verbosity != Verbosity::Quiet,
        )
    }

    /// Whether `-v` was given.
    pub fn is_verbose(&self) -> bool {
        self.verbosity == Verbosity::Verbose
    }

    /// A result line on stdout. A closed pipe is not an error.
    pub fn data(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", text::plain(line));
    }

    /// Bytes otactl made itself (a completion script, a man page) on stdout, as they
    /// are. A closed pipe is not an error.
    pub fn raw(&self, bytes: &[u8]) -> crate::error::Result<()> {
        let mut out = std::io::stdout().lock();
        match out.write_all(bytes).and_then(|()| out.flush()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                Err(crate::error::Error::Write {
                    path: std::path::PathBuf::from("-"),
                    source: e,
                })
            }
            _ => Ok(()),
        }
    }

    /// `value` as one pretty JSON document on stdout; a value that cannot be written
    /// as JSON is an error, never an empty line.
    pub fn json(&self, value: &impl serde::Serialize) -> crate::error::Result<()> {
        let text = serde_json::to_string_pretty(value).map_err(crate::error::Error::Json)?;
        self.data(&text);
        Ok(())
    }

    /// A status line on stderr, unless `-q`.
    pub fn status(&self, line: &str) {
        if self.verbosity != Verbosity::Quiet {
            eprintln!("{}", sanitize(line));
        }
    }

    /// A detail line on stderr, only with `-v`.
    pub fn detail(&self, line: &str) {
        if self.verbosity == Verbosity::Verbose {
            eprintln!("{}", sanitize(line));
        }
    }

    /// A line on stderr that says why a command failed, even with `-q`.
    pub fn explain(&self, line: &str) {
        eprintln!("{}", sanitize(line));
    }

    /// `hint: …` on stderr, unless `-q`.
    pub fn hint(&self, line: &str) {
        if self.verbosity != Verbosity::Quiet {
            eprintln!("{}: {}", self.paint_err(CYAN, "hint"), sanitize(line));
        }
    }

    /// `warning: …` on stderr, unless `-q`.
    pub fn warning(&self, line: &str) {
        if self.verbosity != Verbosity::Quiet {
            eprintln!("{}: {}", self.paint_err(YELLOW, "warning"), sanitize(line));
        }
    }

    /// The error chain, once, then its hint.
    pub fn error(&self, err: &Error) {
        eprintln!(
            "{}: {}",
            self.paint_err(RED, "error"),
            sanitize(&err.to_string())
        );
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            eprintln!("  caused by: {}", sanitize(&cause.to_string()));
            source = cause.source();
        }
        if let Some(hint) = err.hint() {
            eprintln!("\n{}: {}", self.paint_err(CYAN, "hint"), sanitize(&hint));
        }
    }

    /// A finding of a check, on stdout: `error: PATH:LINE: message` and its hint.
    pub fn finding(&self, path: &str, finding: &Finding) {
        let label = match finding.severity {
            Severity::Error => self.paint_out(RED, "error"),
            Severity::Warning => self.paint_out(YELLOW, "warning"),
        };
        self.data(&format!(
            "{label}: {}",
            sanitize(&finding.render_plain(path))
        ));
        if let Some(hint) = &finding.hint {
            self.data(&format!(
                "  {}: {}",
                self.paint_out(CYAN, "hint"),
                sanitize(hint)
            ));
        }
    }

    /// A finding given as a warning on stderr (for writing commands).
    pub fn finding_warning(&self, path: &str, finding: &Finding) {
        self.warning(&finding.render_plain(path));
    }

    /// `ok` painted green on stdout.
    pub fn ok_label(&self) -> String {
        self.paint_out(GREEN, "ok")
    }

    fn paint_err(&self, color: &str, text: &str) -> String {
        paint(self.color_err, color, text)
    }

    fn paint_out(&self, color: &str, text: &str) -> String {
        paint(self.color_out, color, text)
    }
}

fn paint(on: bool, color: &str, text: &str) -> String {
    if on {
        format!("{color}{text}{RESET}")
    } else {
        text.to_owned()
    }
}

/// Escapes control, bidi-override and zero-width characters in untrusted text (a
/// line break is kept), and shows the values marked by [`text::code`] in backticks.
pub fn sanitize(text: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| c != '\n' && text::is_hidden(c);
    match text::plain(text) {
        std::borrow::Cow::Borrowed(plain) => text::escape_where(plain, bad),
        std::borrow::Cow::Owned(plain) => {
            std::borrow::Cow::Owned(text::escape_where(&plain, bad).into_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_escapes_terminal_tricks() {
        assert_eq!(sanitize("plain ş"), "plain ş");
        assert_eq!(sanitize("a\x1b[2Jb"), "a\\u{001b}[2Jb");
        assert_eq!(sanitize("x\u{202E}y"), "x\\u{202e}y");
    }
}
