//! `tykgen render`: render a profile's targets into `OUT/<profile>/`, or with `--check`/`--diff`
//! compare a fresh render with what is on disk. After writing it says what changed and what to
//! run next, per target (`--quiet` keeps only errors and warnings).

use std::path::Path;
use std::process::ExitCode;

use crate::cli::RenderArgs;
use crate::output::{self, Changes, FileMode, FileSet};
use crate::targets::Target;

pub(super) fn run(args: &RenderArgs) -> anyhow::Result<ExitCode> {
    let resolved = super::origin::resolve(&args.input)?;
    let input = &resolved.input;
    if args.dump_context {
        super::print_stdout(&crate::context_json(input, args.templates.as_deref())?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let out = resolved.out(args.out.as_deref());
    if args.check || args.diff {
        let mut rendered = crate::render_profile(input, args.target, args.templates.as_deref())?;
        let base = out.join(&rendered.name);
        if let Some((_, top)) = rendered.sets.iter_mut().find(|(dir, _)| dir.is_empty()) {
            add_origin(top, input, &base)?;
        }
        let drift = output::drift_all(&out, &rendered.name, &rendered.sets)?;
        super::print_stdout(&output::patch(&drift))?;
        if !drift.is_empty() && args.check {
            let counts = Changes::of(&drift);
            let stdin =
                if input.profile.as_deref() == Some("-") { " (the same profile on standard input)" } else { "" };
            eprintln!(
                "error: {} is out of date ({} to create, {} to change, {} to delete); update it with `{}`{stdin}",
                base.display(),
                counts.created,
                counts.changed,
                counts.deleted,
                update_command(args)
            );
            return Ok(ExitCode::from(1));
        }
        return Ok(ExitCode::SUCCESS);
    }
    // One transaction for the whole profile folder: every target or none (see `output`). Each
    // set is staged as soon as it is rendered, and its bytes dropped.
    let mut name = String::new();
    let into = crate::render_profile_into(input, args.target, args.templates.as_deref(), |n| {
        name = n.to_owned();
        FolderSink::open(&out, n, input, args)
    })?;
    let base = out.join(&name);
    let mut summary = std::mem::take(&mut *into.summary.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    into.finish()?;
    if !args.quiet {
        summary.sort_by_key(|s| s.order);
        // Counts only when every folder has them (a folder whose manifest is corrupt, written
        // with --force, has none).
        let counted = summary.iter().all(|s| s.counts.is_some());
        let total: usize = summary.iter().map(|s| s.files).sum();
        if counted {
            let all = summary.iter().filter_map(|s| s.counts.as_ref()).fold(Changes::default(), |a, c| a.plus(c));
            eprintln!("rendered {name} into {}: {}", base.display(), counts_line(&all, total));
        } else {
            eprintln!("rendered {name} into {}:", base.display());
        }
        for s in summary.iter().filter(|s| !s.dir.is_empty()) {
            match (&s.counts, counted) {
                (Some(c), true) => eprintln!("  {}/: {}", s.dir, counts_line(c, s.files)),
                _ => eprintln!("  {}/: {} files", s.dir, s.files),
            }
            if let Some(t) = Target::expand(args.target).into_iter().find(|t| t.dir() == s.dir) {
                eprintln!("    next: {}", next_step(t, &base));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The profile's own set records where it came from, unless it came from standard input (which
/// cannot be read again: such a folder records nothing).
fn add_origin(top: &mut output::FileSet, input: &crate::profile::Input, base: &Path) -> anyhow::Result<()> {
    if input.profile.as_deref() != Some("-") {
        top.add(super::origin::FILE, super::origin::record(input, base)?, FileMode::Normal)?;
    }
    Ok(())
}

/// A render going straight into its output folder: each set is counted for the summary (what
/// it will create, change and delete), then staged.
struct FolderSink<'a> {
    to: Destination,
    base: std::path::PathBuf,
    input: &'a crate::profile::Input,
    quiet: bool,
    summary: std::sync::Mutex<Vec<SetSummary>>,
}

/// What the summary says of one folder.
struct SetSummary {
    order: usize,
    dir: String,
    files: usize,
    counts: Option<Changes>,
}

/// Where the sets go: staged as they come, or, when the profile folder's path holds a link or a
/// file that `--force` replaces, kept until every target has rendered (a render that fails must
/// not have replaced it).
enum Destination {
    Staged(output::Transaction),
    Deferred { out: std::path::PathBuf, name: String, sets: std::sync::Mutex<Vec<(usize, String, FileSet)>> },
}

impl<'a> FolderSink<'a> {
    fn open(out: &Path, name: &str, input: &'a crate::profile::Input, args: &RenderArgs) -> anyhow::Result<Self> {
        let in_the_way = std::fs::symlink_metadata(out.join(name)).is_ok_and(|m| !m.is_dir());
        let to = if in_the_way && args.force {
            Destination::Deferred {
                out: out.to_path_buf(),
                name: name.to_owned(),
                sets: std::sync::Mutex::new(Vec::new()),
            }
        } else {
            Destination::Staged(output::Transaction::open(out, name, args.force)?)
        };
        Ok(Self { to, base: out.join(name), input, quiet: args.quiet, summary: std::sync::Mutex::new(Vec::new()) })
    }

    /// Commits every set.
    fn finish(self) -> anyhow::Result<()> {
        match self.to {
            Destination::Staged(tx) => tx.commit().map(drop),
            Destination::Deferred { out, name, sets } => {
                let mut sets = sets.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
                sets.sort_by_key(|(order, ..)| *order);
                let sets: Vec<_> = sets.into_iter().map(|(_, dir, set)| (dir, set)).collect();
                output::write_all(&out, &name, &sets, true).map(drop)
            }
        }
    }
}

impl crate::Sink for FolderSink<'_> {
    fn take(&self, order: usize, dir: &str, mut set: output::FileSet) -> anyhow::Result<()> {
        if dir.is_empty() {
            add_origin(&mut set, self.input, &self.base)?;
        }
        let files = set.len() + set.user_files().count();
        let counts = match &self.to {
            // Staging plans what the commit changes: the summary counts that.
            Destination::Staged(tx) => tx.stage(order, dir, &set)?,
            Destination::Deferred { out, name, sets } => {
                let one = [(dir.to_owned(), set)];
                let counts = if self.quiet {
                    None
                } else {
                    output::drift_summary(out, name, &one).ok().map(|d| Changes::of(&d))
                };
                let [(dir, set)] = one;
                sets.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((order, dir, set));
                counts
            }
        };
        if !self.quiet {
            let summary = SetSummary { order, dir: dir.to_owned(), files, counts };
            self.summary.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(summary);
        }
        Ok(())
    }

    /// `tykgen render` exits once the sets are committed and the summary printed.
    fn process_ends_after(&self) -> bool {
        true
    }
}

/// `N files (c created, c changed, d deleted, u unchanged)` for a folder of `files` files.
fn counts_line(c: &Changes, files: usize) -> String {
    format!(
        "{files} files ({} created, {} changed, {} deleted, {} unchanged)",
        c.created,
        c.changed,
        c.deleted,
        files.saturating_sub(c.created + c.changed)
    )
}

/// What to run next with a freshly rendered target, with the real path.
fn next_step(target: Target, base: &Path) -> String {
    let dir = base.join(target.dir());
    let dir = shell_word(&dir.to_string_lossy());
    match target {
        Target::Config | Target::All => format!("{dir}/README.md says where each machine's files go"),
        Target::Compose => format!("cd {dir} && tykgen lab-secrets && docker compose up -d"),
        Target::Terraform => format!(
            "cd {dir} && cp terraform.tfvars.example terraform.tfvars && terraform init && terraform plan (see README.md)"
        ),
        Target::Ansible => {
            format!(
                "cd {dir}, fill in the inventory and the vault (README.md), then `ansible-playbook playbooks/site.yml`"
            )
        }
    }
}

/// `s` as one shell word: as it is when it needs no quoting, else single-quoted.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@+%".contains(&b));
    if plain { s.to_owned() } else { format!("'{}'", s.replace('\'', "'\\''")) }
}

/// The command that renders what `--check` compared, so the user can update the folder: the
/// same arguments without `--check`. Run where `--check` ran, it reads the same profile (or the
/// same `tykgen-source.json`) and writes into the same folder.
fn update_command(args: &RenderArgs) -> String {
    let mut words = vec!["tykgen".to_owned(), "render".to_owned()];
    let input = &args.input;
    if let Some(p) = &input.profile {
        words.push(shell_word(p));
    }
    for f in &input.values {
        words.extend(["-f".to_owned(), shell_word(&f.to_string_lossy())]);
    }
    for s in &input.set {
        words.extend(["--set".to_owned(), shell_word(s)]);
    }
    if args.target != Target::All {
        words.extend(["-t".to_owned(), args.target.dir().to_owned()]);
    }
    if let Some(out) = &args.out {
        words.extend(["-o".to_owned(), shell_word(&out.to_string_lossy())]);
    }
    if let Some(t) = &args.templates {
        words.extend(["--templates".to_owned(), shell_word(&t.to_string_lossy())]);
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[test]
    fn words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("out/my-stack"), "out/my-stack");
        assert_eq!(shell_word("gateway.nodes=4"), "gateway.nodes=4");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word("$(rm)"), "'$(rm)'");
    }
}
