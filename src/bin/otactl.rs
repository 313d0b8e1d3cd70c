//! The `otactl` binary: parse, run, print the error chain once, exit with SPEC 6 codes.

// Linting thousands of manifests allocates many small strings; mimalloc halves the
// time spent in the allocator (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // SIGINT and SIGTERM remove the temporary files and exit 130 and 143. Should the
    // handler not start, the signals keep their default action.
    let _ = otactl::fsx::remove_temp_files_on_signal();
    let cli = otactl::cli::Cli::from_env();
    let (printer, result) = otactl::cli::run(cli);
    match result {
        Ok(code) => code.into(),
        Err(err) => {
            printer.error(&err);
            err.exit_code().into()
        }
    }
}
