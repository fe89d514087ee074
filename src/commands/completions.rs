//! `tykgen completions SHELL`: a shell completion script.

use std::process::ExitCode;

use clap_complete::Shell;

use crate::cli::Cli;

pub(super) fn run(shell: Shell) -> anyhow::Result<ExitCode> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "tykgen", &mut buf);
    super::print_stdout(&String::from_utf8_lossy(&buf))?;
    Ok(ExitCode::SUCCESS)
}
