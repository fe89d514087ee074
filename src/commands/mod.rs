//! The commands, one module each: each turns its parsed arguments into calls of the pipeline in
//! `lib.rs` and prints the result. Only this layer knows the command line (`cli.rs`).

pub(crate) mod check;
mod completions;
mod explain;
mod init;
mod lab_secrets;
mod origin;
mod profiles;
mod render;
mod schema;

use std::io::Write as _;
use std::process::ExitCode;

use crate::cli::{Cli, Command, ProfileArgs};
use crate::profile;

/// Runs a parsed command line.
///
/// # Errors
/// Everything that makes tykgen exit 1; `report` prints it.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    crate::diagnostic::set_color(cli.color);
    match cli.command {
        Command::Render(args) => render::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::LabSecrets(args) => lab_secrets::run(&args),
        Command::Profiles => profiles::run(),
        Command::Init(args) => init::run(&args),
        Command::Schema => schema::run(),
        Command::Completions { shell } => completions::run(shell),
    }
}

/// The pipeline's input from the profile arguments every command shares (see `origin`).
fn input_of(args: &ProfileArgs) -> anyhow::Result<profile::Input> {
    Ok(origin::resolve(args)?.input)
}

/// Prints to standard output; a closed pipe (`tykgen schema | head`) is not an error.
fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
