//! `tykgen render`: render a profile's targets into `OUT/<profile>/`, or with `--check`/`--diff`
//! compare a fresh render with what is on disk.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::RenderArgs;
use crate::output::{self, DriftKind};

pub(super) fn run(args: &RenderArgs) -> anyhow::Result<ExitCode> {
    let input = super::input_of(&args.input);
    if args.dump_context {
        super::print_stdout(&crate::context_json(&input, args.templates.as_deref())?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rendered = crate::render_profile(&input, args.target, args.templates.as_deref())?;
    let base = args.out.join(&rendered.name);
    if args.check || args.diff {
        let mut differs = false;
        let mut text = String::new();
        for (dir, set) in &rendered.sets {
            for d in output::drift(&root_of(&base, dir), set)? {
                differs = true;
                let path = if dir.is_empty() { d.path.clone() } else { format!("{dir}/{}", d.path) };
                match d.kind {
                    DriftKind::Missing => text.push_str(&format!("missing: {path}\n")),
                    DriftKind::Stale => text.push_str(&format!("stale (no longer rendered): {path}\n")),
                    DriftKind::Changed { unified_diff } => text.push_str(&unified_diff),
                }
            }
        }
        super::print_stdout(&text)?;
        if differs && args.check {
            eprintln!("error: {} is out of date; run `tykgen render` to update it", base.display());
            return Ok(ExitCode::from(1));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut written = 0;
    let mut unchanged = 0;
    for (dir, set) in &rendered.sets {
        let report = output::write(&root_of(&base, dir), set, args.force)?;
        written += report.written + report.removed;
        unchanged += report.unchanged;
    }
    eprintln!("rendered {} into {} ({written} changed, {unchanged} unchanged)", rendered.name, base.display());
    Ok(ExitCode::SUCCESS)
}

fn root_of(base: &Path, dir: &str) -> PathBuf {
    if dir.is_empty() { base.to_path_buf() } else { base.join(dir) }
}
