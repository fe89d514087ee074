//! The `tykgen` binary: parse the command line, run it, report errors, choose the exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = tykgen::cli::Cli::parse();
    match tykgen::run(cli) {
        Ok(code) => code,
        Err(e) => {
            tykgen::report(&e);
            ExitCode::from(1)
        }
    }
}
