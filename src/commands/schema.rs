//! `tykgen schema`: the profile format as JSON Schema (draft-07), for editors.

use std::process::ExitCode;

use crate::profile;

pub(super) fn run() -> anyhow::Result<ExitCode> {
    super::print_stdout(&(serde_json::to_string_pretty(&profile::json_schema())? + "\n"))?;
    Ok(ExitCode::SUCCESS)
}
