//! `tykgen render`: render a profile's targets into `OUT/<profile>/`, or with `--check`/`--diff`
//! compare a fresh render with what is on disk. After writing it says what changed and what to
//! run next, per target (`--quiet` keeps only errors and warnings).

use std::path::{Path, PathBuf};
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
            eprintln!(
                "error: {} is out of date; update it with `{}`",
                base.display(),
                update_command(args, input, &out)
            );
            return Ok(ExitCode::from(1));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut lines = Vec::new();
    for (dir, set) in &rendered.sets {
        let report = output::write(&root_of(&base, dir), set, args.force)?;
        if !dir.is_empty() {
            lines.push(format!(
                "  {dir}/: {} files ({} written, {} unchanged, {} deleted)",
                set.len(),
                report.written,
                report.unchanged,
                report.removed
            ));
            if let Some(next) =
                Target::expand(args.target).into_iter().find(|t| t.dir() == dir).map(|t| next_step(t, &base))
            {
                lines.push(format!("    next: {next}"));
            }
        }
    }
    if !args.quiet {
        eprintln!("rendered {} into {}:", rendered.name, base.display());
        for l in lines {
            eprintln!("{l}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn root_of(base: &Path, dir: &str) -> PathBuf {
    if dir.is_empty() { base.to_path_buf() } else { base.join(dir) }
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
