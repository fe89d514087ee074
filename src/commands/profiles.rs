//! `tykgen profiles`: the built-in profiles, one line each.

use std::process::ExitCode;

use crate::profile;

pub(super) fn run() -> anyhow::Result<ExitCode> {
    let list = profile::builtins();
    let width = list.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let text: String = list.iter().map(|(n, d)| format!("{n:width$}  {d}\n")).collect();
    super::print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}
