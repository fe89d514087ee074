//! tykgen: one YAML topology profile for a Tyk stack in, Terraform, Ansible and docker-compose out.
//!
//! This file holds the pipeline, each step a plain function: `profile::load` ->
//! `validate::validate` -> `topology::build` ([`plan`]) -> `check::gate` -> `config::bundle`
//! ([`with_context`]) -> `targets::render` ([`render_profile`]) -> `output`: each set goes to a
//! [`Sink`] as soon as it is rendered, and `tykgen render`'s sink stages it in an
//! `output::Transaction` that commits once every set is in. Nothing reads the disk after `profile`
//! but `output`; nothing but `output` writes. The commands that drive it live in `commands/`, one
//! module each.

pub mod check;
pub mod cli;
pub mod commands;
pub mod config;
pub mod diagnostic;
pub mod escape;
pub mod explain;
pub mod fast_hash;
pub mod output;
pub mod profile;
pub mod render;
pub mod targets;
pub mod threads;
pub mod topology;
pub mod validate;
pub mod versions;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

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
    let renderer = render::Renderer::new(templates)?;
    let Planned { loaded, topology } = planned;
    let bundle = config::bundle(&loaded.profile, topology, &renderer)?;
    f(&targets::Context::new(&loaded.profile, topology, &bundle, &renderer))
}

/// Where a render's file sets go, each as soon as it is rendered, on the thread that rendered it
/// (two at once): into memory ([`render_profile`]) or straight into the output transaction
/// (`tykgen render`), so a large render never holds every target's bytes at once.
pub trait Sink: Sync {
    /// Takes the set for the folder `dir` (`""` for the profile's own README); `order` is its
    /// position among the sets: the README first, then the targets in [`Target::expand`] order.
    ///
    /// # Errors
    /// Whatever stops the render (the sets given so far are dropped with the sink).
    fn take(&self, order: usize, dir: &str, set: FileSet) -> anyhow::Result<()>;

    /// Whether the process ends soon after this render (the `tykgen render` command): the
    /// render's profile, configuration and template engines are then left for the exit to free,
    /// all at once, instead of being freed one allocation at a time on a thread of their own
    /// (that thread and its work cost 3 to 5 % of a `production` render).
    fn process_ends_after(&self) -> bool {
        false
    }
}

/// Loads, validates and renders a profile in memory.
///
/// # Errors
/// `Diagnostics` for a bad profile; any other error for a template that fails to render.
pub fn render_profile(input: &profile::Input, target: Target, templates: Option<&Path>) -> anyhow::Result<Rendered> {
    struct Collect(std::sync::Mutex<Vec<(usize, String, FileSet)>>);
    impl Sink for Collect {
        fn take(&self, order: usize, dir: &str, set: FileSet) -> anyhow::Result<()> {
            self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((order, dir.to_owned(), set));
            Ok(())
        }
    }
    let mut name = String::new();
    let collected = render_profile_into(input, target, templates, |n| {
        name = n.to_owned();
        Ok(Collect(std::sync::Mutex::new(Vec::new())))
    })?;
    let mut sets = collected.0.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    sets.sort_by_key(|(order, ..)| *order);
    Ok(Rendered { name, sets: sets.into_iter().map(|(_, dir, set)| (dir, set)).collect() })
}

/// Loads, validates and renders a profile, handing each file set to a [`Sink`] as it is
/// rendered. `open` makes the sink, given the profile's name, once the profile has passed
/// planning and the check gate (so a bad profile never opens an output folder); the sink is
/// returned when every set has gone into it.
///
/// Two threads, from the start: this one plans and checks the profile, builds the
/// configuration, then renders the profile's README, `config` and `ansible`; the other builds the
/// template engines this render needs (the targets', the configuration's, the READMEs')
/// meanwhile. `compose` and `terraform` then go to whichever thread is free first (see
/// [`renders_beside`]). A render that needs an engine being built waits for it, one not yet
/// started it builds itself, and none is built twice. A profile's problems are still reported
/// before a template's.
///
/// # Errors
/// `Diagnostics` for a bad profile; those of `open` and of the sink; any other error for a
/// template that fails to render (the first in set order).
pub fn render_profile_into<S: Sink + Send>(
    input: &profile::Input,
    target: Target,
    templates: Option<&Path>,
    open: impl FnOnce(&str) -> anyhow::Result<S>,
) -> anyhow::Result<S> {
    let renderer = match render::Renderer::new(templates) {
        Ok(renderer) => renderer,
        Err(e) => {
            let planned = plan(input)?;
            check::gate(&planned.loaded, &planned.topology)?;
            return Err(e);
        }
    };
    let targets = target.expand();
    let folders: Vec<&str> = ["config", "docs"].into_iter().chain(targets.iter().map(|t| t.dir())).collect();
    let (beside, here): (Vec<Target>, Vec<Target>) = targets.iter().partition(|t| renders_beside(**t, &targets));
    // Taken in order by whichever thread is free first: the other thread, once the engines are
    // built, and this one, once its own targets are rendered.
    let beside = Queue { targets: beside, next: AtomicUsize::new(0) };
    // What the other thread renders with, once this one has it; `None` when it never will (the
    // profile or the sink failed first).
    let ready: OnceLock<Option<(Planned, config::Bundle, S)>> = OnceLock::new();
    let done = std::thread::scope(|s| {
        let (renderer, ready, targets, beside) = (&renderer, &ready, &targets, &beside);
        let other = threads::spawn_beside(s, move || {
            renderer.warm(&folders);
            match ready.wait() {
                Some((planned, bundle, sink)) => {
                    let ctx = targets::Context::new(&planned.loaded.profile, &planned.topology, bundle, renderer);
                    render_sets(&ctx, std::iter::from_fn(|| beside.take()), targets, sink)
                }
                None => Vec::new(),
            }
        });
        let here = (|| {
            let planned = plan(input)?;
            check::gate(&planned.loaded, &planned.topology)?;
            let sink = open(&planned.loaded.profile.name)?;
            let bundle = config::bundle(&planned.loaded.profile, &planned.topology, renderer)?;
            let Some((planned, bundle, sink)) = ready.get_or_init(|| Some((planned, bundle, sink))) else {
                anyhow::bail!(GIVEN_UP);
            };
            let ctx = targets::Context::new(&planned.loaded.profile, &planned.topology, bundle, renderer);
            let mut done = vec![(0, give(sink, 0, "", render_readme(&ctx)))];
            // `config` takes the whole context the README converted; no other target does.
            if here.first() != Some(&Target::Config) {
                ctx.release_prepared();
            }
            let mine = here.iter().copied().chain(std::iter::from_fn(|| beside.take()));
            done.extend(render_sets(&ctx, mine, targets, sink));
            anyhow::Ok(done)
        })();
        // The other thread waits for the context until it is given or given up.
        let _ = ready.set(None);
        let other = other.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        here.map(|mut done| {
            done.extend(other);
            done
        })
    })?;
    // A template's error before the sink's (as when every target rendered before anything was
    // written), then the first in set order, whichever thread met it.
    let first = done
        .into_iter()
        .filter_map(|(order, result)| match result.err()? {
            Failed::Template(e) => Some((false, order, e)),
            Failed::Sink(e) => Some((true, order, e)),
        })
        .min_by_key(|(sink, order, _)| (*sink, *order));
    if let Some((.., e)) = first {
        return Err(e);
    }
    let Some((planned, bundle, sink)) = ready.into_inner().flatten() else {
        anyhow::bail!(GIVEN_UP);
    };
    let values = (planned, bundle, renderer);
    if sink.process_ends_after() {
        std::mem::forget(values);
    } else {
        drop_later(values);
    }
    Ok(sink)
}

/// Cannot happen: only this thread gives the context up, after it has built it or failed.
const GIVEN_UP: &str = "the render's context was given up before it was built";

/// Frees `value` on a thread of its own, which the process need not wait for: a large render's
/// profile, configuration and template engines take longer to free than the commit after them
/// takes to run, and exiting frees them at once. (Where no thread can start, here.)
fn drop_later<T: Send + 'static>(value: T) {
    threads::spawn_detached("drop", move || drop(value));
}

/// Targets that either of two threads takes, each exactly once, in order.
struct Queue {
    targets: Vec<Target>,
    next: AtomicUsize,
}

impl Queue {
    fn take(&self) -> Option<Target> {
        self.targets.get(self.next.fetch_add(1, Ordering::Relaxed)).copied()
    }
}

/// Renders each of `ts` (of `all`, the targets of the render, which give each set its position)
/// into `sink` as soon as it is rendered, and says for each whether it got there.
fn render_sets(
    ctx: &targets::Context<'_>,
    ts: impl Iterator<Item = Target>,
    all: &[Target],
    sink: &impl Sink,
) -> Vec<(usize, Result<(), Failed>)> {
    ts.map(|t| {
        let order = 1 + all.iter().position(|x| *x == t).unwrap_or_default();
        let set = targets::render(t, ctx);
        ctx.release_prepared();
        (order, give(sink, order, t.dir(), set))
    })
    .collect()
}

/// Hands a rendered set (or the error rendering it gave) to `sink`.
fn give(sink: &impl Sink, order: usize, dir: &str, set: anyhow::Result<FileSet>) -> Result<(), Failed> {
    sink.take(order, dir, set.map_err(Failed::Template)?).map_err(Failed::Sink)
}

/// Why a set did not get into the sink.
enum Failed {
    /// Its templates failed to render.
    Template(anyhow::Error),
    /// The sink failed to take it.
    Sink(anyhow::Error),
}

/// The profile's own README. Its context (the whole context plus its diagram) is dropped as soon
/// as the README is rendered: it shares the converted context, which `release_prepared` can free
/// only when nothing else holds it.
fn render_readme(ctx: &targets::Context<'_>) -> anyhow::Result<FileSet> {
    let text = {
        let readme_ctx = ctx.prepared()?.with("diagram", &explain::readme_diagram(ctx))?;
        ctx.renderer.render_prepared("docs/profile-README.md.tera", &readme_ctx)?
    };
    let mut readme = FileSet::new();
    readme.add("README.md", text, FileMode::Normal)?;
    Ok(readme)
}

/// Whether `t` may render on the second thread when all of `all` render: `compose` and
/// `terraform` may (in that order, each on the thread free first), `ansible` renders on the first
/// with the README and `config` (which share one converted context).
fn renders_beside(t: Target, all: &[Target]) -> bool {
    all.len() > 1 && matches!(t, Target::Compose | Target::Terraform)
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
