//! tykgen: one YAML topology profile for a Tyk stack in, Terraform, Ansible and docker-compose out.
//!
//! This file holds the pipeline, each step a plain function: `profile::load` ->
//! `validate::validate` -> `topology::build` ([`plan`]) -> `check::gate` -> `config::bundle`
//! ([`with_context`]) -> `targets::render` ([`render_profile`]) -> `output::write_all`. Nothing reads
//! the disk after `profile` and before `output`; nothing but `output` writes. The commands that
//! drive it live in `commands/`, one module each.

pub mod check;
pub mod cli;
pub mod commands;
pub mod config;
pub mod diagnostic;
pub mod escape;
pub mod explain;
pub mod output;
pub mod profile;
pub mod render;
pub mod targets;
pub mod topology;
pub mod validate;
pub mod versions;

use std::io::{IsTerminal, Write};
use std::path::Path;

use crate::diagnostic::Diagnostics;
use crate::output::{FileMode, FileSet};
use crate::profile::Loaded;
use crate::targets::Target;
use crate::topology::Topology;

pub use crate::commands::run;

/// A rendered profile: one file set per output folder, relative to `OUT/<profile>/`.
pub struct Rendered {
    /// The profile's name (the folder under `OUT/`).
    pub name: String,
    /// `(folder, files)`: `""` for the profile's own README, else the target's folder.
    pub sets: Vec<(String, FileSet)>,
}

/// A profile that loaded and passed validation, with its topology: what every command starts from.
pub struct Planned {
    /// The profile with its source locations.
    pub loaded: Loaded,
    /// Its machines and links, built once.
    pub topology: Topology,
}

/// The first stages of the pipeline: load, validate, build the topology.
///
/// # Errors
/// The profile's problems, located.
pub fn plan(input: &profile::Input) -> Result<Planned, Diagnostics> {
    let loaded = profile::load(input)?;
    validate::validate(&loaded)?;
    let topology = topology::build(&loaded.profile);
    Ok(Planned { loaded, topology })
}

/// Runs the check gate on a planned profile, then [`with_bundle`]: the one pipeline behind
/// `render`, `--dump-context` and `lab-secrets`.
///
/// # Errors
/// Check errors as `Diagnostics`; a template that fails to render.
pub fn with_context<T>(
    planned: &Planned,
    templates: Option<&Path>,
    f: impl FnOnce(&targets::Context<'_>) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    check::gate(&planned.loaded, &planned.topology)?;
    with_bundle(planned, templates, f)
}

/// Builds a planned profile's per-machine configuration and hands the rendering context to `f`,
/// without the check gate (`explain` shows the findings instead of stopping at them).
///
/// # Errors
/// A template that fails to render.
pub fn with_bundle<T>(
    planned: &Planned,
    templates: Option<&Path>,
    f: impl FnOnce(&targets::Context<'_>) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let Planned { loaded, topology } = planned;
    let renderer = render::Renderer::new(templates)?;
    let bundle = config::bundle(&loaded.profile, topology, &renderer)?;
    f(&targets::Context::new(&loaded.profile, topology, &bundle, &renderer))
}

/// Loads, validates and renders a profile in memory.
///
/// # Errors
/// `Diagnostics` for a bad profile; any other error for a template that fails to render.
pub fn render_profile(input: &profile::Input, target: Target, templates: Option<&Path>) -> anyhow::Result<Rendered> {
    with_context(&plan(input)?, templates, |ctx| {
        let mut sets = Vec::new();
        let mut readme = FileSet::new();
        // The README's context (the whole context plus its diagram) is dropped as soon as the
        // README is rendered: it shares the converted context, which `release_prepared` can
        // free only when nothing else holds it.
        let text = {
            let readme_ctx = ctx.prepared()?.with("diagram", &explain::readme_diagram(ctx))?;
            ctx.renderer.render_prepared("docs/profile-README.md.tera", &readme_ctx)?
        };
        readme.add("README.md", text, FileMode::Normal)?;
        sets.push((String::new(), readme));
        // The template engines of the last targets are built on a second thread while the first
        // ones render (a render that needs an engine being built waits for it).
        let renderer = ctx.renderer;
        let langs: Vec<_> = target.expand().iter().rev().flat_map(|t| renderer.langs_under(t.dir())).collect();
        std::thread::scope(|s| {
            s.spawn(move || renderer.warm(&langs));
            for t in target.expand() {
                sets.push((t.dir().to_owned(), targets::render(t, ctx)?));
                ctx.release_prepared();
            }
            Ok(Rendered { name: ctx.profile.name.clone(), sets })
        })
    })
}

/// The template context of a profile as JSON (for `render --dump-context`).
///
/// # Errors
/// As `render_profile`.
pub fn context_json(input: &profile::Input, templates: Option<&Path>) -> anyhow::Result<String> {
    with_context(&plan(input)?, templates, |ctx| Ok(serde_json::to_string_pretty(ctx)? + "\n"))
}

/// Prints an error the way tykgen reports every error: profile problems with their source lines,
/// anything else as `error:` plus one `caused by:` line per cause.
pub fn report(e: &anyhow::Error) {
    let color = diagnostic::color(std::io::stderr().is_terminal());
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
