//! The indicatif implementation of [`Reporter`]: a bar on stderr at a terminal,
//! nothing otherwise (nor with `-q` or `-v`).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::progress::Reporter;

/// A progress bar on stderr, or an invisible one.
pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    /// A bar that draws only when `visible`.
    pub fn new(visible: bool) -> Bar {
        let bar = ProgressBar::hidden();
        if visible {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        Bar { bar }
    }
}

impl Reporter for Bar {
    fn start(&self, what: &str, total: Option<u64>) {
        let template = match total {
            Some(total) => {
                self.bar.set_length(total);
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}"
            }
            None => "{spinner} {msg} {bytes} {bytes_per_sec}",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            self.bar.set_style(style.progress_chars("=> "));
        }
        self.bar
            .set_message(crate::output::sanitize(what).into_owned());
        self.bar.set_position(0);
    }

    fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
