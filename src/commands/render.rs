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
        let mut text = String::new();
        for d in &drift {
            match &d.kind {
                DriftKind::Missing => text.push_str(&format!("missing: {}\n", d.path)),
                DriftKind::Stale => text.push_str(&format!("stale (no longer rendered): {}\n", d.path)),
                DriftKind::Changed { unified_diff } => text.push_str(unified_diff),
            }
        }
        super::print_stdout(&text)?;
        if !drift.is_empty() && args.check {
            eprintln!(
                "error: {} is out of date; update it with `{}`",
                base.display(),
                update_command(args, input, &out)
            );
            return Ok(ExitCode::from(1));
        }
        return Ok(ExitCode::SUCCESS);
    }
    // What will change, per folder, for the summary. A folder `write_all` must first repair (an
    // interrupted render, a corrupt manifest with --force) has no counts.
    let drift = if args.quiet { None } else { output::drift_all(&out, &rendered.name, &rendered.sets).ok() };
    // One transaction for the whole profile folder: every target or none (see `output`).
    output::write_all(&out, &rendered.name, &rendered.sets, args.force)?;
    if !args.quiet {
        eprintln!("rendered {} into {}:", rendered.name, base.display());
        for (dir, set) in rendered.sets.iter().filter(|(dir, _)| !dir.is_empty()) {
            match &drift {
                Some(drift) => {
                    let here: Vec<&output::Drift> = drift
                        .iter()
                        .filter(|d| d.path.strip_prefix(dir.as_str()).is_some_and(|r| r.starts_with('/')))
                        .collect();
                    let count = |k: fn(&DriftKind) -> bool| here.iter().filter(|d| k(&d.kind)).count();
                    let created = count(|k| matches!(k, DriftKind::Missing));
                    let changed = count(|k| matches!(k, DriftKind::Changed { .. }));
                    let deleted = count(|k| matches!(k, DriftKind::Stale));
                    eprintln!(
                        "  {dir}/: {} files ({created} created, {changed} changed, {deleted} deleted, {} unchanged)",
                        set.len(),
                        set.len().saturating_sub(created + changed)
                    );
                }
                None => eprintln!("  {dir}/: {} files", set.len()),
            }
            if let Some(t) = Target::expand(args.target).into_iter().find(|t| t.dir() == dir) {
                eprintln!("    next: {}", next_step(t, &base));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
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

/// The command that renders what `--check` compared, so the user can update the folder.
fn update_command(args: &RenderArgs, input: &crate::profile::Input, out: &Path) -> String {
    let mut words = vec!["tykgen".to_owned(), "render".to_owned()];
    if let Some(p) = &input.profile {
        words.push(shell_word(p));
    }
    for f in &input.overlays {
        words.extend(["-f".to_owned(), shell_word(&f.to_string_lossy())]);
    }
    for s in &input.sets {
        words.extend(["--set".to_owned(), shell_word(s)]);
    }
    if args.target != Target::All {
        words.extend(["-t".to_owned(), args.target.dir().to_owned()]);
    }
    if out != Path::new("out") {
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
