//! `tykgen render`: render a profile's targets into `OUT/<profile>/`, or with `--check`/`--diff`
//! compare a fresh render with what is on disk. After writing it says what changed and what to
//! run next, per target (`--quiet` keeps only errors and warnings).

use std::path::Path;
use std::process::ExitCode;

use crate::cli::RenderArgs;
use crate::output::{self, DriftKind, FileMode};
use crate::targets::Target;

pub(super) fn run(args: &RenderArgs) -> anyhow::Result<ExitCode> {
    let resolved = super::origin::resolve(&args.input)?;
    let input = &resolved.input;
    if args.dump_context {
        super::print_stdout(&crate::context_json(input, args.templates.as_deref())?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let out = resolved.out(args.out.as_deref());
    let mut rendered = crate::render_profile(input, args.target, args.templates.as_deref())?;
    let base = out.join(&rendered.name);
    // A profile read from standard input cannot be read again: such a folder records nothing.
    if let Some((_, top)) =
        rendered.sets.iter_mut().find(|(dir, _)| dir.is_empty()).filter(|_| input.profile.as_deref() != Some("-"))
    {
        top.add(super::origin::FILE, super::origin::record(input, &base)?, FileMode::Normal)?;
    }
    if args.check || args.diff {
        let drift = output::drift_all(&out, &rendered.name, &rendered.sets)?;
        super::print_stdout(&output::patch(&drift))?;
        if !drift.is_empty() && args.check {
            let counts = Counts::of(drift.iter());
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
    // What will change, per folder, for the summary. A folder `write_all` must first repair (an
    // interrupted render, a corrupt manifest with --force) has no counts.
    let drift = if args.quiet { None } else { output::drift_summary(&out, &rendered.name, &rendered.sets).ok() };
    // One transaction for the whole profile folder: every target or none (see `output`).
    output::write_all(&out, &rendered.name, &rendered.sets, args.force)?;
    if !args.quiet {
        let files = |set: &output::FileSet| set.len() + set.user_files().count();
        let in_dir = |dir: &str| -> Counts {
            let prefix = format!("{dir}/");
            Counts::of(drift.iter().flatten().filter(|d| dir.is_empty() || d.path.starts_with(&prefix)))
        };
        match &drift {
            Some(_) => {
                let total: usize = rendered.sets.iter().map(|(_, set)| files(set)).sum();
                eprintln!("rendered {} into {}: {}", rendered.name, base.display(), in_dir("").line(total));
            }
            None => eprintln!("rendered {} into {}:", rendered.name, base.display()),
        }
        for (dir, set) in rendered.sets.iter().filter(|(dir, _)| !dir.is_empty()) {
            match &drift {
                Some(_) => eprintln!("  {dir}/: {}", in_dir(dir).line(files(set))),
                None => eprintln!("  {dir}/: {} files", files(set)),
            }
            if let Some(t) = Target::expand(args.target).into_iter().find(|t| t.dir() == dir) {
                eprintln!("    next: {}", next_step(t, &base));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// How many files a render creates, changes and deletes (manifests are not counted).
struct Counts {
    created: usize,
    changed: usize,
    deleted: usize,
}

impl Counts {
    fn of<'a>(drift: impl Iterator<Item = &'a output::Drift>) -> Counts {
        let mut c = Counts { created: 0, changed: 0, deleted: 0 };
        for d in drift {
            match d.kind {
                DriftKind::Missing => c.created += 1,
                DriftKind::Changed | DriftKind::Blocked(_) => c.changed += 1,
                DriftKind::Stale => c.deleted += 1,
                DriftKind::Manifest => {}
            }
        }
        c
    }

    /// `N files (c created, c changed, d deleted, u unchanged)` for a folder of `files` files.
    fn line(&self, files: usize) -> String {
        format!(
            "{files} files ({} created, {} changed, {} deleted, {} unchanged)",
            self.created,
            self.changed,
            self.deleted,
            files.saturating_sub(self.created + self.changed)
        )
    }
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
