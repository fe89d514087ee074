//! `tykgen completions SHELL`: a shell completion script.
//!
//! The script is generated from the command line's definition, with what the shells cannot learn
//! from it: a profile is a built-in's name or a file (bash offers the names, and files when no
//! name matches), `init --from` takes built-in names only, and `--set KEY=VALUE` is no file name.
//! These hints change the generated script only, never what the parser accepts.

use std::process::ExitCode;

use clap::builder::PossibleValuesParser;
use clap::{Command, ValueHint};
use clap_complete::Shell;

use crate::cli::Cli;

pub(super) fn run(shell: Shell) -> anyhow::Result<ExitCode> {
    let mut cmd = with_hints(<Cli as clap::CommandFactory>::command());
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "tykgen", &mut buf);
    super::print_stdout(&String::from_utf8_lossy(&buf))?;
    Ok(ExitCode::SUCCESS)
}

/// The command line with the completion hints above.
fn with_hints(cmd: Command) -> Command {
    let names: Vec<String> = crate::profile::builtins().into_iter().map(|(name, _)| name).collect();
    let profiles = || PossibleValuesParser::new(names.clone());
    let mut cmd = cmd;
    for sub in ["render", "check", "explain", "lab-secrets"] {
        cmd = cmd.mut_subcommand(sub, |c| {
            let c =
                c.mut_arg("profile", |a| a.value_parser(profiles())).mut_arg("set", |a| a.value_hint(ValueHint::Other));
            if c.get_arguments().any(|a| a.get_id() == "out") {
                c.mut_arg("out", |a| a.value_hint(ValueHint::DirPath))
            } else {
                c
            }
        });
    }
    cmd.mut_subcommand("render", |c| c.mut_arg("templates", |a| a.value_hint(ValueHint::DirPath)))
        .mut_subcommand("explain", |c| c.mut_arg("against", |a| a.value_parser(profiles())))
        .mut_subcommand("init", |c| {
            c.mut_arg("from", |a| a.value_parser(profiles())).mut_arg("path", |a| a.value_hint(ValueHint::FilePath))
        })
}
