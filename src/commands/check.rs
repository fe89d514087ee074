//! `tykgen check`: the production-readiness rules of `check/` applied to a profile, reported as
//! text, JSON or SARIF.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use crate::check::{self, Report};
use crate::cli::{CheckArgs, CheckFormat};
use crate::profile;

/// Loads, validates and checks `input`; load and structural errors become `TYK-PROFILE` findings.
#[must_use]
pub(crate) fn report(input: &profile::Input, strict: bool) -> Report {
    // Load once more on its own to name the profile when only validation failed.
    match crate::plan(input) {
        Ok(planned) => Report {
            profile: Some(planned.loaded.profile.name.clone()),
            findings: check::run(&planned.loaded, &planned.topology),
            strict,
        },
        Err(errors) => {
            let name = profile::load(input).ok().map(|l| l.profile.name);
            Report::of_errors(name, &errors, strict)
        }
    }
}

pub(super) fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let report = report(&super::input_of(&args.input)?, args.strict);
    let text = match args.format {
        CheckFormat::Human => check::human(&report, crate::diagnostic::color(std::io::stdout().is_terminal())),
        CheckFormat::Json => serde_json::to_string_pretty(&check::json(&report))? + "\n",
        CheckFormat::Sarif => serde_json::to_string_pretty(&check::sarif(&report))? + "\n",
    };
    super::print_stdout(&text)?;
    Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
