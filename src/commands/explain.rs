//! `tykgen explain`: what a profile will build, as tables, a Mermaid or Graphviz diagram, or
//! JSON; with `--against`, what changes since another profile.

use std::process::ExitCode;

use crate::cli::{ExplainArgs, ExplainFormat};
use crate::explain::{self, Explanation};
use crate::profile;

/// The explanation of `input`, through the same pipeline as `render` (without stopping at check
/// errors: they are part of what is shown).
///
/// # Errors
/// A profile that does not load or validate; a template that fails to render.
pub(crate) fn explanation(input: &profile::Input) -> anyhow::Result<Explanation> {
    let planned = crate::plan(input)?;
    let findings = crate::check::run(&planned.loaded, &planned.topology);
    crate::with_bundle(&planned, None, |ctx| explain::explain(ctx, &findings))
}

pub(super) fn run(args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    if args.schema {
        super::print_stdout(&(serde_json::to_string_pretty(&explain::json_schema())? + "\n"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut e = explanation(&super::input_of(&args.input)?)?;
    if let Some(old) = &args.against {
        let old = explanation(&profile::Input { profile: Some(old.clone()), ..profile::Input::default() })?;
        e.changes = Some(explain::changes(&old, &e));
    }
    let text = match args.format {
        ExplainFormat::Text => explain::text(&e),
        ExplainFormat::Mermaid => explain::mermaid(&e),
        ExplainFormat::Dot => explain::dot(&e),
        ExplainFormat::Json => serde_json::to_string_pretty(&e)? + "\n",
    };
    super::print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}
