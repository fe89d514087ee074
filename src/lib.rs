//! tykgen: one YAML topology profile for a Tyk stack in, Terraform, Ansible and docker-compose out.
//!
//! The pipeline, each step a plain function: `profile::load` -> `validate::validate` ->
//! `topology::build` -> `config::bundle` -> `targets::render` -> `output::write`. Nothing reads
//! the disk after `profile` and before `output`; nothing but `output` writes.

pub mod check;
pub mod cli;
pub mod config;
pub mod diagnostic;
pub mod escape;
pub mod output;
pub mod profile;
pub mod render;
pub mod targets;
pub mod topology;
pub mod validate;
pub mod versions;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::cli::{Cli, Command, InitArgs, ProfileArgs, RenderArgs};
use crate::diagnostic::Diagnostics;
use crate::output::{DriftKind, FileMode, FileSet};
use crate::targets::Target;

/// A rendered profile: one file set per output folder, relative to `OUT/<profile>/`.
pub struct Rendered {
    /// The profile's name (the folder under `OUT/`).
    pub name: String,
    /// `(folder, files)`: `""` for the profile's own README, else the target's folder.
    pub sets: Vec<(String, FileSet)>,
}

/// Loads, validates and checks a profile, builds its topology and configuration, and hands the
/// rendering context to `f`: the one pipeline behind `render` and `--dump-context`.
fn with_context<T>(
    input: &profile::Input,
    templates: Option<&Path>,
    f: impl FnOnce(&targets::Context<'_>) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let loaded = profile::load(input)?;
    validate::validate(&loaded)?;
    check::gate(&loaded)?;
    let renderer = render::Renderer::new(templates)?;
    let topology = topology::build(&loaded.profile);
    let bundle = config::bundle(&loaded.profile, &topology, &renderer)?;
    f(&targets::Context { profile: &loaded.profile, topology: &topology, bundle: &bundle, renderer: &renderer })
}

/// Loads, validates and renders a profile in memory.
///
/// # Errors
/// `Diagnostics` for a bad profile; any other error for a template that fails to render.
pub fn render_profile(input: &profile::Input, target: Target, templates: Option<&Path>) -> anyhow::Result<Rendered> {
    with_context(input, templates, |ctx| {
        let mut sets = Vec::new();
        let mut readme = FileSet::new();
        readme.add("README.md", ctx.renderer.render("docs/profile-README.md.tera", ctx)?, FileMode::Normal)?;
        sets.push((String::new(), readme));
        for t in target.expand() {
            sets.push((t.dir().to_owned(), targets::render(t, ctx)?));
        }
        Ok(Rendered { name: ctx.profile.name.clone(), sets })
    })
}

/// The template context of a profile as JSON (for `render --dump-context`).
///
/// # Errors
/// As `render_profile`.
pub fn context_json(input: &profile::Input, templates: Option<&Path>) -> anyhow::Result<String> {
    with_context(input, templates, |ctx| Ok(serde_json::to_string_pretty(ctx)? + "\n"))
}

/// Runs a parsed command line.
///
/// # Errors
/// Everything that makes tykgen exit 1; `report` prints it.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Render(args) => render_command(&args),
        Command::LabSecrets(args) => targets::compose::lab::command(&input_of(&args.input), &args.out, None),
        Command::Check(args) => check::command(&args),
        Command::Profiles => {
            let list = profile::builtins();
            let width = list.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
            let text: String = list.iter().map(|(n, d)| format!("{n:width$}  {d}\n")).collect();
            print_stdout(&text)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Init(args) => init_command(&args),
        Command::Schema => {
            print_stdout(&(serde_json::to_string_pretty(&profile::json_schema())? + "\n"))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd, "tykgen", &mut buf);
            print_stdout(&String::from_utf8_lossy(&buf))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn input_of(args: &ProfileArgs) -> profile::Input {
    profile::Input { profile: Some(args.profile.clone()), overlays: args.values.clone(), sets: args.set.clone() }
}

fn render_command(args: &RenderArgs) -> anyhow::Result<ExitCode> {
    let input = input_of(&args.input);
    if args.dump_context {
        print_stdout(&context_json(&input, args.templates.as_deref())?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rendered = render_profile(&input, args.target, args.templates.as_deref())?;
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
        print_stdout(&text)?;
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

fn init_command(args: &InitArgs) -> anyhow::Result<ExitCode> {
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
    let mut out = format!("# Started from the built-in profile `{}` (tykgen init).\n", args.from);
    for line in text.lines() {
        if valid && line.starts_with("name:") {
            out.push_str(&format!("name: {stem}\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if to_stdout {
        print_stdout(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).open(&args.path).with_context(|| {
            format!("cannot create `{}` (tykgen init never overwrites a file)", args.path.display())
        })?;
    file.write_all(out.as_bytes()).with_context(|| format!("writing `{}`", args.path.display()))?;
    eprintln!("wrote {}; render it with `tykgen render {}`", args.path.display(), args.path.display());
    Ok(ExitCode::SUCCESS)
}

/// Prints to standard output; a closed pipe (`tykgen schema | head`) is not an error.
fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Prints an error the way tykgen reports every error: profile problems with their source lines,
/// anything else as `error:` plus one `caused by:` line per cause.
pub fn report(e: &anyhow::Error) {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut err = std::io::stderr().lock();
    if let Some(diags) = e.downcast_ref::<Diagnostics>() {
        let _ = write!(err, "{}", diags.render(color));
        return;
    }
    let _ = writeln!(err, "error: {e}");
    for cause in e.chain().skip(1) {
        let _ = writeln!(err, "caused by: {cause}");
    }
}
