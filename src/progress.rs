//! Progress of long transfers, as the core reports it. The core calls a
//! [`Reporter`]; the binary decides how (or whether) it is shown.

use std::io::Read;

/// Receives the progress of one transfer.
pub trait Reporter: Send + Sync {
    /// A transfer of `total` bytes (when known) starts.
    fn start(&self, what: &str, total: Option<u64>);
    /// `bytes` more were moved.
    fn advance(&self, bytes: u64);
    /// The transfer ended.
    fn finish(&self);
    /// A step of a command of several (`release`: build, hash, publish, …) ended;
    /// `line` says what it did, shown as the step's one line, at a terminal or not.
    fn step(&self, line: &str) {
        let _ = line;
    }
}

/// A reporter that shows nothing.
pub struct Silent;

impl Reporter for Silent {
    fn start(&self, _what: &str, _total: Option<u64>) {}
    fn advance(&self, _bytes: u64) {}
    fn finish(&self) {}
}

/// A reader that reports every byte it yields.
pub struct ProgressReader<'a, R> {
    inner: R,
    reporter: &'a dyn Reporter,
}

impl<'a, R: Read> ProgressReader<'a, R> {
    /// Wraps `inner`.
    pub fn new(inner: R, reporter: &'a dyn Reporter) -> Self {
        ProgressReader { inner, reporter }
    }
}

impl<R: Read> Read for ProgressReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.reporter.advance(n as u64);
        Ok(n)
    }
}

/// A reporter that writes down what it is told, for the tests of the code that
/// reports.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Mutex;

    use super::Reporter;

    /// Each transfer as `NAME (TOTAL): N bytes`, once it finished; each step's line.
    #[derive(Default)]
    pub(crate) struct Recording {
        state: Mutex<(Vec<String>, Option<String>, u64)>,
    }

    impl Recording {
        /// What was reported, in order.
        pub(crate) fn told(&self) -> Vec<String> {
            self.state.lock().unwrap().0.clone()
        }
    }

    impl Reporter for Recording {
        fn start(&self, what: &str, total: Option<u64>) {
            let mut state = self.state.lock().unwrap();
            let total = total.map_or("?".to_owned(), |t| t.to_string());
            state.1 = Some(format!("{what} ({total})"));
            state.2 = 0;
        }

        fn advance(&self, bytes: u64) {
            self.state.lock().unwrap().2 += bytes;
        }

        fn finish(&self) {
            let mut state = self.state.lock().unwrap();
            let started = state.1.take().unwrap_or_else(|| "never started".into());
            let line = format!("{started}: {} bytes", state.2);
            state.0.push(line);
        }

        fn step(&self, line: &str) {
            self.state.lock().unwrap().0.push(format!("step: {line}"));
        }
    }
}
