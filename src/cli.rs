//! The command line: clap definitions only. The doc comments are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use clap_complete::Shell;

use crate::targets::Target;

/// Turn one YAML topology profile for a Tyk API Management stack into Terraform, Ansible and a
/// docker-compose lab, with every component on its own machine.
#[derive(Debug, Parser)]
#[command(name = "tykgen", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// When to colour messages: `auto` (on a terminal; `NO_COLOR`, `TERM=dumb` and
    /// `CLICOLOR_FORCE` are honoured), `always` or `never`.
    #[arg(long, global = true, value_enum, default_value_t = crate::diagnostic::ColorWhen::Auto, value_name = "WHEN")]
    pub color: crate::diagnostic::ColorWhen,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render a profile's output into `OUT/<profile>/<target>/`.
    ///
    /// Nothing is written unless the whole render succeeds; files tykgen did not write (or that
    /// were edited since) are never overwritten without `--force`.
    ///
    /// Example: `tykgen render production -t compose --set gateway.nodes=3`
    Render(RenderArgs),
    /// Check a profile against Tyk's production guidance and compatibility matrix.
    ///
    /// Every finding has a stable rule id (see `docs/check-rules.md`), the profile location it is
    /// about and the guidance it comes from. Exits 1 on errors; with `--strict`, on warnings too.
    ///
    /// Example: `tykgen check production --strict --format sarif > tykgen.sarif`
    Check(CheckArgs),
    /// Show what a profile will build, before anything is built: the machines, who talks to whom
    /// on which port, the Redis and database members, the connection budget, and what each target
    /// creates.
    ///
    /// `--format mermaid` and `dot` draw the topology (GitHub and GitLab render Mermaid in
    /// Markdown; Graphviz renders dot); `json` is the same data for tooling (`--schema` prints its
    /// JSON Schema). With `--against OLD`, the machines, links and versions added, removed or
    /// changed since OLD are shown, in the diagrams coloured.
    ///
    /// Example: `tykgen explain production --set gateway.nodes=4 --against production`
    Explain(ExplainArgs),
    /// Write the compose lab's `.env` (random secrets) and, with TLS, a lab CA and certificates.
    ///
    /// Into `OUT/<profile>/compose/`: `.env` (mode 0600) and `tls/` (keys 0600). Existing files
    /// are never overwritten. Not part of `render`: these are secrets, never committed.
    ///
    /// Run it in the rendered folder with no argument (`cd out/my-stack/compose && tykgen
    /// lab-secrets`): it finds the profile that rendered the folder. Run again after adding
    /// machines: it adds their certificates and any new secrets, and changes nothing else.
    ///
    /// Example: `tykgen lab-secrets production`
    LabSecrets(LabSecretsArgs),
    /// List the built-in profiles, one line each.
    ///
    /// Example: `tykgen profiles`
    Profiles,
    /// Write a commented profile to start from.
    ///
    /// Example: `tykgen init --from production my-stack.yaml`
    Init(InitArgs),
    /// Print the JSON Schema (draft-07) of the profile format, for editor autocompletion.
    ///
    /// Example: `tykgen schema > tykgen.schema.json`
    Schema,
    /// Print a shell completion script.
    ///
    /// Example: `tykgen completions bash > /etc/bash_completion.d/tykgen`
    Completions {
        /// The shell.
        shell: Shell,
    },
}

/// Where the profile comes from.
#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// A profile file, or the name of a built-in profile (see `tykgen profiles`). Without it: the
    /// profile that rendered the folder you are in (its `tykgen-source.json`), else `production`.
    #[arg(value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Overlay a values file (maps merge, lists replace, `null` removes); repeatable.
    #[arg(short = 'f', long = "values", value_name = "FILE")]
    pub values: Vec<PathBuf>,
    /// Set one value, e.g. `--set redis.mode=cluster`; parsed as YAML, then type-checked; repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// `tykgen render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The profile.
    #[command(flatten)]
    pub input: ProfileArgs,
    /// What to render.
    #[arg(short, long, value_enum, default_value_t = Target::All)]
    pub target: Target,
    /// The output folder; the profile's output goes into `OUT/<profile>/` [default: the folder
    /// above the rendered folder you are in, else `out`].
    #[arg(short, long, value_name = "OUT")]
    pub out: Option<PathBuf>,
    /// A folder of templates that replace the built-in ones of the same relative path.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Write nothing; when the files on disk differ from a fresh render, print the patch (as
    /// `--diff`) and the command that updates them, and exit 1.
    #[arg(long, conflicts_with = "diff")]
    pub check: bool,
    /// Write nothing; print what a render would change as one patch for the whole profile folder
    /// (`cd OUT/<profile> && patch -p1 < the.diff` applies it; `git apply` too).
    #[arg(long)]
    pub diff: bool,
    /// Overwrite files that tykgen did not write, or that were edited since it did.
    #[arg(long)]
    pub force: bool,
    /// Print only errors and warnings, not what was written and what to run next.
    #[arg(short, long)]
    pub quiet: bool,
    /// Print the template context as JSON instead of rendering (what templates given with
    /// `--templates` can use).
    #[arg(long)]
    pub dump_context: bool,
}

/// `tykgen check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The profile.
    #[command(flatten)]
    pub input: ProfileArgs,
    /// Output format: `human` (with source lines), `json` for CI, `sarif` for code-review tools.
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,
    /// Fail (exit 1) on warnings as well as errors.
    #[arg(long)]
    pub strict: bool,
}

/// `tykgen explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The profile (the new side of a change review).
    #[command(flatten)]
    pub input: ProfileArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    pub format: ExplainFormat,
    /// Compare with this profile (a file or a built-in; taken as it is, without the `-f`/`--set`
    /// of the new side) and show what changes.
    #[arg(long, value_name = "OLD")]
    pub against: Option<String>,
    /// Print the JSON Schema of `--format json` instead.
    #[arg(long, conflicts_with_all = ["against", "format"])]
    pub schema: bool,
}

/// Output format of `tykgen explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExplainFormat {
    /// Tables for a terminal or a merge-request comment.
    Text,
    /// A Mermaid flowchart.
    Mermaid,
    /// A Graphviz digraph.
    Dot,
    /// The same data as JSON.
    Json,
}

/// Output format of `tykgen check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    /// Findings with their source lines, help and guidance, then a summary.
    Human,
    /// One JSON document (schema: `tests/fixtures/schemas/tykgen-check.schema.json`).
    Json,
    /// SARIF 2.1.0, for code-review tools.
    Sarif,
}

/// `tykgen lab-secrets`.
#[derive(Debug, Args)]
pub struct LabSecretsArgs {
    /// The profile.
    #[command(flatten)]
    pub input: ProfileArgs,
    /// The output folder; files go into `OUT/<profile>/compose/` [default: the folder above the
    /// rendered folder you are in, else `out`].
    #[arg(short, long, value_name = "OUT")]
    pub out: Option<PathBuf>,
}

/// `tykgen init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The built-in profile to start from.
    #[arg(long, value_name = "NAME", default_value = crate::profile::DEFAULT_PROFILE)]
    pub from: String,
    /// Where to write it (never overwritten); `-` for standard output.
    #[arg(value_name = "PATH", default_value = "tykgen.yaml")]
    pub path: PathBuf,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        super::Cli::command().debug_assert();
    }
}
