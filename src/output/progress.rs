//! The indicatif implementation of [`Reporter`]: a bar on stderr at a terminal,
//! nothing otherwise (nor with `-q` or `-v`); the line that ends a step, unless `-q`.

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::progress::Reporter;

/// A progress bar on stderr, or an invisible one, for each transfer in turn.
pub struct Bar {
    visible: bool,
    lines: bool,
    current: Mutex<ProgressBar>,
}

impl Bar {
    /// Bars that draw only when `visible`; the lines that end steps shown when
    /// `lines`.
    pub fn new(visible: bool, lines: bool) -> Bar {
        Bar {
            visible,
            lines,
            current: Mutex::new(ProgressBar::hidden()),
        }
    }

    fn current(&self) -> ProgressBar {
        self.current
            .lock()
            .map_or_else(|_| ProgressBar::hidden(), |bar| bar.clone())
    }
}

impl Reporter for Bar {
    fn start(&self, what: &str, total: Option<u64>) {
        // A bar of its own for each transfer: a finished bar never draws again.
        let bar = if self.visible {
            ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        let template = match total {
            Some(_) => "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            None => "{spinner} {msg} {bytes} {bytes_per_sec}",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(crate::output::sanitize(what).into_owned());
        if let Ok(mut current) = self.current.lock() {
            current.finish_and_clear();
            *current = bar;
        }
    }

    fn advance(&self, bytes: u64) {
        self.current().inc(bytes);
    }

    fn finish(&self) {
        self.current().finish_and_clear();
    }

    fn step(&self, line: &str) {
        if self.lines {
            let line = crate::output::sanitize(line);
            self.current().suspend(|| eprintln!("{line}"));
        }
    }
}
