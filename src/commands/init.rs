//! `tykgen init`: a commented profile to start from, copied from a built-in.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::cli::InitArgs;
use crate::profile;

pub(super) fn run(args: &InitArgs) -> anyhow::Result<ExitCode> {
    let Some(text) = profile::builtin_text(&args.from) else {
        let names: Vec<String> = profile::builtins().into_iter().map(|(n, _)| n).collect();
        bail!("no built-in profile `{}`; built-in profiles: {}", args.from, names.join(", "));
    };
    let to_stdout = args.path.as_os_str() == "-";
    // Name the new profile after its file, so its output does not land on the built-in's folder.
    let stem = args.path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_lowercase();
    let valid = !to_stdout
        && !stem.is_empty()
        && stem.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let shown = if to_stdout { "my-stack.yaml".to_owned() } else { args.path.display().to_string() };
    let mut out = format!("# Started from the built-in profile `{}` (tykgen init).\n", args.from);
    for line in text.lines() {
        if valid && line.starts_with("name:") {
            out.push_str(&format!("name: {stem}\n"));
        } else if line.starts_with("description:") {
            let description = format!("My Tyk stack (started from the built-in profile {})", args.from);
            out.push_str(&format!("description: \"{}\"\n", crate::escape::yaml_dq_string(&description)));
        } else if line.starts_with('#') && line.contains("tykgen init --from") {
            // Advice for the built-in; this file is already the user's own.
        } else if line.starts_with('#') && line.contains("tykgen ") {
            // The built-in's commands, for this file instead.
            out.push_str(&line.replace(&format!(" {}", args.from), &format!(" {shown}")));
            out.push('\n');
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if to_stdout {
        super::print_stdout(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(dir) = args.path.parent().filter(|d| !d.as_os_str().is_empty() && !d.is_dir()) {
        bail!(
            "cannot create `{}`: the folder `{}` does not exist (create it first)",
            args.path.display(),
            dir.display()
        );
    }
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).open(&args.path).with_context(|| {
            format!("cannot create `{}` (tykgen init never overwrites a file)", args.path.display())
        })?;
    file.write_all(out.as_bytes()).with_context(|| format!("writing `{}`", args.path.display()))?;
    eprintln!("wrote {}; render it with `tykgen render {}`", args.path.display(), args.path.display());
    Ok(ExitCode::SUCCESS)
}
