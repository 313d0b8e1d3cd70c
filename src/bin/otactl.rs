//! The `otactl` binary: parse, run, print the error chain once, exit with SPEC 6 codes.

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let cli = otactl::cli::Cli::parse();
    let (printer, result) = otactl::cli::run(cli);
    match result {
        Ok(code) => code.into(),
        Err(err) => {
            printer.error(&err);
            err.exit_code().into()
        }
    }
}
