//! The Ansible target: for every built-in profile, the real Ansible toolchain accepts the project
//! (`ansible-inventory`, `ansible-playbook --syntax-check`, `ansible-lint --profile production
//! --strict`, `yamllint`), the inventory is the topology, the roles install the bundle's bytes,
//! no secret value is written, every profile-derived string that could hold Jinja is `!unsafe`, and
//! versions, modes and names reach the roles as strings.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tykgen::profile::Input;
use tykgen::targets::Target;

use crate::common::{builtins, files, tykgen};
use crate::tools::{command, run, tool};

/// Renders `profile` (a built-in name or a path) with `-t ansible` into `out`; returns the project folder.
fn render(profile: &str, out: &Path) -> PathBuf {
    let output = tykgen().args(["render", profile, "-t", "ansible", "-o"]).arg(out).output().expect("tykgen runs");
    assert!(
        output.status.success(),
        "tykgen render {profile} -t ansible failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let name = Path::new(profile).file_stem().map_or(profile.to_owned(), |s| s.to_string_lossy().into_owned());
    let name = if Path::new(profile).exists() { loaded_name(profile) } else { name };
    out.join(name).join("ansible")
}

fn loaded_name(profile: &str) -> String {
    tykgen::profile::load(&Input { profile: Some(profile.into()), ..Input::default() })
        .unwrap_or_else(|e| panic!("{profile}: {e}"))
        .profile
        .name
}

/// The topology's groups: group -> hosts.
fn topology_groups(profile: &str) -> BTreeMap<String, BTreeSet<String>> {
    let loaded = tykgen::profile::load(&Input { profile: Some(profile.into()), ..Input::default() }).unwrap();
    let t = tykgen::topology::build(&loaded.profile);
    let mut groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in &t.machines {
        groups.entry(m.group()).or_default().insert(m.name.clone());
    }
    groups
}

/// A command for an Ansible tool run from the project folder, with its state in `home`.
fn ansible(tool_path: &Path, project: &Path, home: &Path) -> std::process::Command {
    let mut cmd = command(tool_path);
    cmd.current_dir(project)
        .env("ANSIBLE_HOME", home.join("home"))
        .env("ANSIBLE_LOCAL_TEMP", home.join("tmp"))
        .env("ANSIBLE_REMOTE_TEMP", home.join("remote"))
        .env("ANSIBLE_NOCOLOR", "1")
        .env("NO_COLOR", "1")
        .env_remove("ANSIBLE_CONFIG");
    cmd
}

/// Runs `play` of the project on this machine (`ansible_connection=local`), with the user's
/// addresses from `addresses` as a second inventory source, as a user would supply them.
fn run_locally(
    playbook: &Path,
    project: &Path,
    home: &Path,
    addresses: &Path,
    (name, yaml): (&str, &str),
    timeout_secs: u64,
) -> std::process::Output {
    // A test's own play, beside the project's playbooks (so `playbook_dir` and the roles resolve).
    let play = format!("playbooks/{name}");
    std::fs::write(project.join(&play), yaml).unwrap();
    let args = ["-i", "inventory/hosts.yml", "-i", addresses.to_str().unwrap(), "-e", "ansible_connection=local"];
    let mut cmd = ansible(playbook, project, home);
    cmd.args(args).args(["-e", "ansible_python_interpreter={{ ansible_playbook_python }}", &play]);
    run(&mut cmd, Duration::from_secs(timeout_secs))
}

fn text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn inventory_lists_the_topology_without_warnings() {
    let Some(inv) = tool("ansible-inventory", "pip install ansible-core (.ci/run)") else { return };
    for profile in builtins() {
        let tmp = tempfile::tempdir().unwrap();
        let project = render(&profile, &tmp.path().join("out"));
        let out = run(
            ansible(&inv, &project, tmp.path()).env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "true").args([
                "-i",
                "inventory",
                "--list",
            ]),
            Duration::from_secs(120),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{profile}: ansible-inventory failed:\n{}", text(&out));
        assert!(!stderr.contains("[WARNING]"), "{profile}: ansible-inventory warned:\n{stderr}");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for g in json["all"]["children"].as_array().unwrap() {
            let g = g.as_str().unwrap();
            if g == "ungrouped" {
                assert!(json.get("ungrouped").is_none_or(|u| u.get("hosts").is_none()), "{profile}: ungrouped hosts");
                continue;
            }
            let hosts = json[g]["hosts"].as_array().unwrap_or_else(|| panic!("{profile}: group {g} has no hosts"));
            groups.insert(g.to_owned(), hosts.iter().map(|h| h.as_str().unwrap().to_owned()).collect());
        }
        assert_eq!(groups, topology_groups(&profile), "{profile}: inventory groups differ from the topology");
        // Every host has an address (pinned or the marked placeholder) and its host_vars.
        for (host, vars) in json["_meta"]["hostvars"].as_object().unwrap() {
            assert!(vars.get("ansible_host").is_some(), "{profile}: {host} has no ansible_host");
            assert!(vars.get("tykgen_files").is_some(), "{profile}: {host} has no host_vars");
        }
    }
}

#[test]
fn playbooks_pass_syntax_check_lint_and_yamllint() {
    let Some(playbook) = tool("ansible-playbook", "pip install ansible-core (.ci/run)") else { return };
    let Some(lint) = tool("ansible-lint", "pip install ansible-lint (.ci/run)") else { return };
    let Some(yamllint) = tool("yamllint", "pip install yamllint (.ci/run)") else { return };
    for profile in builtins() {
        let tmp = tempfile::tempdir().unwrap();
        let project = render(&profile, &tmp.path().join("out"));

        let out = run(
            ansible(&playbook, &project, tmp.path()).args(["-i", "inventory", "--syntax-check", "playbooks/site.yml"]),
            Duration::from_secs(180),
        );
        assert!(out.status.success(), "{profile}: ansible-playbook --syntax-check failed:\n{}", text(&out));
        assert!(!text(&out).contains("[WARNING]"), "{profile}: syntax check warned:\n{}", text(&out));

        let out = run(
            ansible(&lint, &project, tmp.path()).args([
                "--offline",
                "--profile",
                "production",
                "--strict",
                "--nocolor",
                "playbooks/site.yml",
            ]),
            Duration::from_secs(600),
        );
        let report = text(&out);
        assert!(out.status.success(), "{profile}: ansible-lint reported:\n{report}");
        assert!(report.contains("0 failure(s), 0 warning(s)"), "{profile}: ansible-lint reported:\n{report}");

        let out =
            run(command(&yamllint).current_dir(&project).args(["-s", "-f", "parsable", "."]), Duration::from_secs(120));
        assert!(out.status.success(), "{profile}: yamllint reported:\n{}", text(&out));
        assert!(out.stdout.is_empty(), "{profile}: yamllint reported:\n{}", text(&out));
    }
}

#[test]
fn roles_install_the_bundle_bytes() {
    for profile in builtins() {
        let rendered = tykgen::render_profile(
            &Input { profile: Some(profile.clone()), ..Input::default() },
            Target::Ansible,
            None,
        )
        .unwrap();
        let config =
            tykgen::render_profile(&Input { profile: Some(profile.clone()), ..Input::default() }, Target::Config, None)
                .unwrap();
        let ansible = &rendered.sets.iter().find(|(d, _)| d == "ansible").unwrap().1;
        let bundle = &config.sets.iter().find(|(d, _)| d == "config").unwrap().1;
        let machines: serde_json::Value =
            serde_json::from_slice(bundle.get("machines.json").expect("machines.json").0).unwrap();
        let mut checked = 0;
        for m in machines["machines"].as_array().unwrap() {
            let name = m["name"].as_str().unwrap();
            let (host_vars, _) = ansible
                .get(&format!("inventory/host_vars/{name}.yml"))
                .unwrap_or_else(|| panic!("{profile}: no host_vars for {name}"));
            let host_vars = String::from_utf8_lossy(host_vars);
            for f in m["files"].as_array().unwrap() {
                let rel = f["file"].as_str().unwrap();
                let (want, want_mode) = bundle.get(rel).unwrap();
                let (got, got_mode) =
                    ansible.get(&format!("files/{rel}")).unwrap_or_else(|| panic!("{profile}: no files/{rel}"));
                assert_eq!(got, want, "{profile}: files/{rel} differs from the bundle");
                assert_eq!(got_mode, want_mode, "{profile}: files/{rel} mode");
                let install = f["install_path"].as_str().unwrap();
                let entry = format!(
                    "  - src: \"{rel}\"\n    dest: \"{install}\"\n    mode: \"{}\"\n",
                    f["mode"].as_str().unwrap()
                );
                assert!(host_vars.contains(&entry), "{profile}: {name}'s host_vars lack\n{entry}in\n{host_vars}");
                checked += 1;
            }
        }
        assert!(checked > 0, "{profile}: no files checked");
        // The files are copied, never templated: every role copies from tykgen_files_dir, to the
        // install path, or for the files the service rewrites (redis.conf, sentinel.conf) to the
        // reference copy <install path>.tykgen, which the live file is seeded from.
        let (tasks, _) = ansible.get("roles/common/tasks/config_files.yml").unwrap();
        let tasks = String::from_utf8_lossy(tasks);
        let installed = "ansible.builtin.copy:\n    src: \"{{ tykgen_files_dir }}/{{ item.src }}\"\n    dest: \"{{ item.dest }}\"\n";
        let reference = "ansible.builtin.copy:\n    src: \"{{ tykgen_files_dir }}/{{ item.src }}\"\n    dest: \"{{ item.dest }}.tykgen\"\n";
        assert!(tasks.contains(installed), "{tasks}");
        assert!(tasks.contains(reference), "{tasks}");
        let after = |what: &str| &tasks[tasks.find(what).unwrap()..];
        assert!(
            after(installed)
                .contains("    mode: \"{{ item.mode }}\"\n  loop: \"{{ tykgen_files | rejectattr('rewritten') | rejectattr('by_address') }}\"")
        );
        assert!(
            after(reference)
                .contains("    mode: \"{{ item.mode }}\"\n  loop: \"{{ tykgen_files | selectattr('rewritten') }}\"")
        );
        assert!(after(reference).contains(
            "    src: \"{{ item.item.dest }}.tykgen\"\n    dest: \"{{ item.item.dest }}\"\n    remote_src: true\n"
        ));
    }
}

#[test]
fn no_secret_values_and_every_secret_in_the_vault_example() {
    let assignment = regex::Regex::new(r"(?m)^\s*(vault_[a-z_]+)\s*:").unwrap();
    let secret_value =
        regex::Regex::new(r#"(?m)^\s*-?\s*"?([A-Za-z_]*(?:PASSWORD|SECRET|LICENSE|password|secret|requirepass)[A-Za-z_]*)"?[ \t]*[:=][ \t]*(\S.*)$"#).unwrap();
    for profile in builtins() {
        let loaded = tykgen::profile::load(&Input { profile: Some(profile.clone()), ..Input::default() }).unwrap();
        let t = tykgen::topology::build(&loaded.profile);
        let tmp = tempfile::tempdir().unwrap();
        let project = render(&profile, &tmp.path().join("out"));
        let example = std::fs::read_to_string(project.join("vault.yml.example")).unwrap();
        let assigned: Vec<&str> = example.lines().filter(|l| l.starts_with("vault_")).collect();
        assert_eq!(assigned.len(), t.secrets.len(), "{profile}: vault.yml.example:\n{example}");
        for s in &t.secrets {
            assert!(
                assigned.contains(&format!("vault_{}: \"CHANGE-ME\"", s.name).as_str()),
                "{profile}: vault_{} missing from vault.yml.example",
                s.name
            );
        }
        // No vault file is written, and nothing outside the example assigns a vault variable.
        assert!(!project.join("inventory/group_vars/all/vault.yml").exists());
        for path in files(&project) {
            let rel = path.strip_prefix(&project).unwrap().to_string_lossy().into_owned();
            let content = std::fs::read_to_string(&path).unwrap();
            if rel != "vault.yml.example" {
                assert!(!assignment.is_match(&content), "{profile}: {rel} assigns a vault variable");
            }
            // Outside the bundle's files (checked by the config tests), a value given to anything
            // named like a secret is a vault reference, a {secret} placeholder or a variable name.
            if rel.starts_with("files/") || rel == "vault.yml.example" {
                continue;
            }
            for c in secret_value.captures_iter(&content) {
                let value = c[2].trim().trim_matches('"');
                assert!(
                    value.contains("{{")
                        || value.contains("vault_")
                        || (value.starts_with('{') && value.ends_with('}')),
                    "{profile}: {rel}: `{}` is given a literal: {value}",
                    &c[1]
                );
            }
        }
        // Tasks that receive secrets hide them.
        for rel in ["roles/common/tasks/config_files.yml", "roles/common/tasks/vault.yml"] {
            let tasks = std::fs::read_to_string(project.join(rel)).unwrap();
            assert!(tasks.contains("no_log: true"), "{profile}: {rel} without no_log");
        }
    }
}

/// A profile whose description tries Jinja: it must reach Ansible only as `!unsafe` data.
const HOSTILE_DESCRIPTION: &str = "{{ lookup('pipe','id') }} {% if true %}x{% endif %} \"q\" $HOME";

/// Variables whose value is the project's own Jinja (group_vars), not profile data.
const OWN_JINJA: &[&str] = &["tykgen_files_dir:", "tykgen_tls_dir:", "tykgen_address:", "suites:"];

#[test]
fn profile_strings_that_could_hold_jinja_are_unsafe_and_the_others_plain() {
    let tmp = tempfile::tempdir().unwrap();
    let profile_text = std::fs::read_to_string(crate::tools::repo_root().join("profiles/production.yaml"))
        .unwrap()
        .replace("name: production\n", "name: hostile-ansible\n")
        .lines()
        .map(|l| {
            if l.starts_with("description:") {
                format!("description: {}", serde_json::to_string(HOSTILE_DESCRIPTION).unwrap())
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\nmachines:\n  gateway-1:\n    address: 192.0.2.11\n";
    let path = tmp.path().join("hostile-ansible.yaml");
    std::fs::write(&path, profile_text).unwrap();
    let project = render(path.to_str().unwrap(), &tmp.path().join("out"));

    // Every double-quoted scalar of the generated data (inventory, group_vars, host_vars) is tagged
    // exactly when it holds a `{` (all Jinja delimiters start with one).
    let quoted = regex::Regex::new(r#"(?:: |- )(!unsafe )?("(?:[^"\\]|\\.)*")\s*$"#).unwrap();
    let (mut tagged, mut plain) = (0, 0);
    for path in files(&project.join("inventory")) {
        let rel = path.strip_prefix(&project).unwrap().to_string_lossy().into_owned();
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            if line.trim_start().starts_with('#') || OWN_JINJA.iter().any(|v| line.trim_start().starts_with(v)) {
                continue;
            }
            if let Some(c) = quoted.captures(line) {
                let brace = c[2].contains('{');
                assert_eq!(c.get(1).is_some(), brace, "{rel}: tagged must equal holds-a-brace: {line}");
                if brace {
                    tagged += 1;
                } else {
                    plain += 1;
                }
            }
        }
    }
    assert!(tagged > 3 && plain > 50, "only {tagged} tagged and {plain} plain strings");
    let main = std::fs::read_to_string(project.join("inventory/group_vars/all/main.yml")).unwrap();
    let want = format!("tykgen_description: !unsafe {}", serde_json::to_string(HOSTILE_DESCRIPTION).unwrap());
    assert!(main.contains(&want), "{main}");
    let hosts = std::fs::read_to_string(project.join("inventory/hosts.yml")).unwrap();
    assert!(hosts.contains("ansible_host: \"192.0.2.11\""), "{hosts}");
    let addresses = std::fs::read_to_string(project.join("inventory/addresses.yml")).unwrap();
    assert!(addresses.contains("ansible_host: \"gateway-2.CHANGE-ME.invalid\""), "{addresses}");
    assert!(!hosts.contains("CHANGE-ME"), "{hosts}");

    // Ansible itself keeps the description as unsafe (never templated) data.
    let Some(inv) = tool("ansible-inventory", "pip install ansible-core (.ci/run)") else { return };
    let out = run(
        ansible(&inv, &project, tmp.path()).env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "true").args([
            "-i",
            "inventory",
            "--list",
        ]),
        Duration::from_secs(120),
    );
    assert!(out.status.success(), "{}", text(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let vars = &list["_meta"]["hostvars"]["gateway-1"];
    assert_eq!(vars["tykgen_description"]["__ansible_unsafe"], HOSTILE_DESCRIPTION, "{vars:#}");
    assert_eq!(vars["ansible_host"], "192.0.2.11");
}

/// ansible-core 2.19 types a `!unsafe` scalar by its text (`!unsafe "7.2"` became the float 7.2 and
/// broke `tykgen_redis_version.split('.')` on every Redis host; `"0644"` became 420): as Ansible
/// loads them, versions, modes and names are strings. (Failed on the `!unsafe` output: 7.2, 420.)
#[test]
fn versions_modes_and_names_reach_the_roles_as_strings() {
    let Some(inv) = tool("ansible-inventory", "pip install ansible-core (.ci/run)") else { return };
    for profile in builtins() {
        let tmp = tempfile::tempdir().unwrap();
        let project = render(&profile, &tmp.path().join("out"));
        let out = run(
            ansible(&inv, &project, tmp.path()).args(["-i", "inventory/hosts.yml", "--list"]),
            Duration::from_secs(120),
        );
        assert!(out.status.success(), "{profile}: {}", text(&out));
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut checked = 0;
        for (host, vars) in list["_meta"]["hostvars"].as_object().unwrap() {
            let mut strings = vec![
                ("tykgen_tyk_version", &vars["tykgen_tyk_version"]),
                ("tykgen_machine", &vars["tykgen_machine"]),
                ("tykgen_part", &vars["tykgen_part"]),
            ];
            for key in ["tykgen_redis_version", "tykgen_database_version"] {
                if let Some(v) = vars.get(key) {
                    strings.push((key, v));
                }
            }
            for f in vars["tykgen_files"].as_array().unwrap() {
                strings.push(("tykgen_files[].mode", &f["mode"]));
            }
            for f in vars["tykgen_tls_files"].as_array().unwrap() {
                strings.push(("tykgen_tls_files[].mode", &f["mode"]));
            }
            for (key, v) in strings {
                assert!(v.is_string(), "{profile}: {host}: {key} is {v}, not a string");
                checked += 1;
            }
        }
        assert!(checked > 20, "{profile}: only {checked} values checked");
    }
}

/// The Ansible project of a built-in profile, rendered in memory: path -> text.
fn project(profile: &str) -> BTreeMap<String, String> {
    let rendered =
        tykgen::render_profile(&Input { profile: Some(profile.to_owned()), ..Input::default() }, Target::Ansible, None)
            .unwrap_or_else(|e| panic!("{profile}: {e}"));
    let set = &rendered.sets.iter().find(|(d, _)| d == "ansible").expect("an ansible set").1;
    set.iter().map(|(p, bytes, _)| (p.to_owned(), String::from_utf8_lossy(bytes).into_owned())).collect()
}

/// Names Ansible or Jinja provide without the project defining them.
const MAGIC_VARIABLES: &[&str] = &[
    "ansible_facts",
    "ansible_host",
    "ansible_check_mode",
    "inventory_hostname",
    "item",
    "groups",
    "hostvars",
    "playbook_dir",
    "role_path",
    "omit",
    "loop",
    "ansible_failed_result",
    "ansible_play_hosts_all",
];

/// Jinja words that are not variables.
const JINJA_WORDS: &[&str] = &[
    "and", "or", "not", "in", "is", "if", "elif", "else", "endif", "for", "endfor", "set", "endset", "macro",
    "endmacro", "true", "false", "none", "True", "False", "None",
];

/// The variables a Jinja expression reads: identifiers that are not attributes, filters, tests,
/// called functions, keyword arguments, string contents or Jinja words.
fn expression_variables(expr: &str, out: &mut BTreeSet<String>) {
    let strings = regex::Regex::new(r#"'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*""#).unwrap();
    let ident = regex::Regex::new(r"[A-Za-z_][A-Za-z0-9_]*").unwrap();
    let expr = strings.replace_all(expr, " ");
    for m in ident.find_iter(&expr) {
        let before = expr[..m.start()].trim_end();
        let after = expr[m.end()..].trim_start();
        let prev_char = before.chars().last();
        if matches!(prev_char, Some('.' | '|'))
            || before.split_whitespace().last().is_some_and(|w| w == "is")
            || before.ends_with(" is not")
            || after.starts_with('(')
            || (after.starts_with('=') && !after.starts_with("=="))
            || JINJA_WORDS.contains(&m.as_str())
        {
            continue;
        }
        out.insert(m.as_str().to_owned());
    }
}

/// Variables read by a task, handler, playbook or template file: in `{{ }}`, `{% %}` and the
/// raw-Jinja keys (`when`, `changed_when`, `failed_when`, `until`, `that`).
fn referenced_variables(text: &str) -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    let jinja = regex::Regex::new(r"(?s)\{\{-?(.*?)-?\}\}|\{%-?(.*?)-?%\}").unwrap();
    for c in jinja.captures_iter(text) {
        expression_variables(c.get(1).or_else(|| c.get(2)).unwrap().as_str(), &mut refs);
    }
    let conditional = regex::Regex::new(r"^(\s*)(?:- )?(when|changed_when|failed_when|until|that):\s*(.*)$").unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(c) = conditional.captures(line) else { continue };
        let indent = c[1].len();
        let rest = c[3].split(" # ").next().unwrap_or_default().trim();
        let mut exprs = Vec::new();
        if !rest.is_empty() && !rest.starts_with('>') && !rest.starts_with('|') {
            exprs.push(rest.trim_matches('"').to_owned());
        } else {
            for l in &lines[i + 1..] {
                if l.trim().is_empty() || l.len() - l.trim_start().len() <= indent {
                    break;
                }
                let l = l.trim().trim_start_matches("- ").trim_start_matches(">-").trim();
                exprs.push(l.split(" # ").next().unwrap_or_default().trim_matches('"').to_owned());
            }
        }
        for e in exprs {
            // Jinja inside a raw-Jinja key is already counted above.
            if !e.contains("{{") {
                expression_variables(&e, &mut refs);
            }
        }
    }
    refs
}

/// Variables a file defines: top-level keys of variable files; `register`, `loop_var`, `vars:`
/// and `set_fact` keys of tasks and playbooks; Jinja `for` and `set` names of templates.
fn defined_variables(path: &str, text: &str, out: &mut BTreeSet<String>) {
    let top_key = regex::Regex::new(r"(?m)^([A-Za-z_][A-Za-z0-9_]*):").unwrap();
    let var_file = path.starts_with("inventory/group_vars/")
        || path.starts_with("inventory/host_vars/")
        || path == "vault.yml.example"
        || regex::Regex::new(r"^roles/[^/]+/(defaults|vars)/").unwrap().is_match(path);
    if var_file {
        out.extend(top_key.captures_iter(text).map(|c| c[1].to_owned()));
        return;
    }
    let named = regex::Regex::new(r"(?m)^\s*(?:- )?(?:register|loop_var):\s*([A-Za-z_][A-Za-z0-9_]*)\s*$").unwrap();
    out.extend(named.captures_iter(text).map(|c| c[1].to_owned()));
    let jinja_names =
        regex::Regex::new(r"\{%-?\s*(?:for\s+([A-Za-z_][A-Za-z0-9_, ]*?)\s+in\s|set\s+([A-Za-z_][A-Za-z0-9_]*)\s*=)")
            .unwrap();
    for c in jinja_names.captures_iter(text) {
        let names = c.get(1).or_else(|| c.get(2)).unwrap().as_str();
        out.extend(names.split(',').map(|n| n.trim().to_owned()));
    }
    let block = regex::Regex::new(r"^(\s*)(?:- )?(?:vars|ansible\.builtin\.set_fact):\s*$").unwrap();
    let key = regex::Regex::new(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*):").unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(c) = block.captures(line) else { continue };
        let indent = c[1].len() + if line.trim_start().starts_with("- ") { 2 } else { 0 };
        let mut child = None;
        for l in &lines[i + 1..] {
            if l.trim().is_empty() {
                continue;
            }
            let l_indent = l.len() - l.trim_start().len();
            if l_indent <= indent {
                break;
            }
            let child_indent = *child.get_or_insert(l_indent);
            if let Some(k) = key.captures(l).filter(|k| k[1].len() == child_indent) {
                out.insert(k[2].to_owned());
            }
        }
    }
}

#[test]
fn every_variable_the_roles_and_playbooks_read_is_defined() {
    let used_in = regex::Regex::new(r"^(roles/[^/]+/(tasks|handlers|templates|defaults)/|playbooks/)").unwrap();
    for profile in builtins() {
        let project = project(&profile);
        let mut defined: BTreeSet<String> = MAGIC_VARIABLES.iter().map(|s| (*s).to_owned()).collect();
        for (path, text) in &project {
            defined_variables(path, text, &mut defined);
        }
        let mut undefined = Vec::new();
        for (path, text) in project.iter().filter(|(p, _)| used_in.is_match(p)) {
            for name in referenced_variables(text) {
                if !defined.contains(&name) {
                    undefined.push(format!("{path}: {name}"));
                }
            }
        }
        assert!(undefined.is_empty(), "{profile}: variables read but defined nowhere:\n{}", undefined.join("\n"));
        // The check sees what it should: role defaults and the variables they feed.
        if project.contains_key("roles/postgresql/tasks/main.yml") {
            assert!(defined.contains("postgresql_retention_sql"), "{profile}: postgresql defaults not rendered");
        }
    }
}

#[test]
fn the_check_for_undefined_variables_finds_them() {
    let tasks = "- name: X\n  ansible.builtin.copy:\n    content: \"{{ a_var | default(b_filter_arg) }} {{ item.x }}\"\n  \
                 when:\n    - c_var is defined\n    - d_var.attr in e_list\n  register: f_result\n";
    let refs = referenced_variables(tasks);
    let want: BTreeSet<String> = ["a_var", "b_filter_arg", "item", "c_var", "d_var", "e_list"].map(String::from).into();
    assert_eq!(refs, want);
    let mut defined = BTreeSet::new();
    defined_variables("roles/x/tasks/main.yml", tasks, &mut defined);
    assert!(defined.contains("f_result"), "{defined:?}");
}

#[test]
fn vault_variable_names_are_whole_strings() {
    let name_of = regex::Regex::new(r#"(?m)(?:password_variable|redis_cluster_password_variable): (.*)$"#).unwrap();
    for profile in builtins() {
        let project = project(&profile);
        let example = &project["vault.yml.example"];
        for (path, text) in &project {
            assert!(!text.contains("vault_!unsafe"), "{profile}: {path} has `vault_!unsafe`:\n{text}");
            for c in name_of.captures_iter(text) {
                let value = c[1].strip_prefix('"').and_then(|v| v.strip_suffix('"'));
                let value = value.unwrap_or_else(|| panic!("{profile}: {path}: not a quoted string: {}", &c[1]));
                assert!(
                    example.contains(&format!("\n{value}: ")),
                    "{profile}: {path}: {value} is not a vault variable"
                );
            }
        }
    }
}

#[test]
fn files_the_services_rewrite_are_reseeded_only_when_tykgen_or_the_secrets_change() {
    for profile in builtins() {
        let project = project(&profile);
        for (path, text) in project.iter().filter(|(p, _)| p.starts_with("inventory/host_vars/")) {
            for conf in ["/etc/redis/redis.conf", "/etc/redis/sentinel.conf"] {
                if text.contains(&format!("dest: \"{conf}\"")) {
                    assert!(
                        text.contains(&format!("dest: \"{conf}\"\n    mode: \"0644\"\n    owner: \"redis\"\n    group: \"redis\"\n    rewritten: true\n")),
                        "{profile}: {path}: {conf} is not marked rewritten"
                    );
                }
            }
        }
        let tasks = &project["roles/common/tasks/config_files.yml"];
        assert!(
            tasks.contains("loop: \"{{ tykgen_files | rejectattr('rewritten') | rejectattr('by_address') }}\""),
            "{tasks}"
        );
        assert!(tasks.contains("register: common_secret_files"), "{tasks}");
        assert!(tasks.contains("force: \"{{ item is changed or common_secret_files is changed }}\""), "{tasks}");
        assert!(tasks.contains("  when: common_seed_live_files | default(true)\n"), "{tasks}");
        assert_eq!(tasks.matches("mode: \"0640\"").count(), 2, "{profile}: live files not 0640:\n{tasks}");
        assert!(!tasks.contains("0644"), "{tasks}");
        // The Redis roles seed their live files themselves, from the live topology, only on a
        // fresh install, a change of tykgen's bytes or of the secrets.
        for role in ["redis", "redis_sentinel"] {
            let main = &project[&format!("roles/{role}/tasks/main.yml")];
            assert!(
                main.contains("tasks_from: config_files.yml\n  vars:\n    common_seed_live_files: false\n"),
                "{role}: {main}"
            );
        }
        let live = &project["roles/redis/tasks/live_config.yml"];
        assert!(live.contains("redis_previous.content is not defined or common_secret_files is changed"), "{live}");
        assert!(live.contains("hostvars[redis_live_primary].tykgen_host"), "{live}");
        let sentinel = &project["roles/redis_sentinel/tasks/main.yml"];
        assert!(sentinel.contains("when: item is changed or common_secret_files is changed"), "{sentinel}");
        assert!(
            sentinel.contains("'sentinel monitor \\1 \"' ~ hostvars[redis_live_primary].tykgen_host"),
            "{sentinel}"
        );
        let readme = &project["README.md"];
        assert!(readme.contains("**live primary**"), "{profile}: README does not explain the live primary");
    }
}

/// Sentinel mode: the live primary comes from the Sentinels, the replicas roll first (one at a
/// time, each back in sync), the live primary last, a restart of it fails over first with writes
/// fenced, settings change at runtime with CONFIG SET + CONFIG REWRITE, the Sentinels one at a time.
#[test]
fn redis_rolls_replicas_first_from_the_live_primary_the_sentinels_name() {
    let project = project("production");
    let play = &project["playbooks/redis.yml"];
    let rounds: Vec<usize> = ["'unwatched'", "'new_primary'", "'replica'", "'live_primary'"]
        .iter()
        .map(|r| play.find(&format!("when: redis_round != {r}")).unwrap_or_else(|| panic!("no round {r}:\n{play}")))
        .collect();
    assert!(rounds.windows(2).all(|w| w[0] < w[1]), "rounds out of order:\n{play}");
    assert!(play[..rounds[0]].contains("tasks_from: live_primary.yml"), "{play}");
    let serial_before = |at: usize| play[..at].rfind("\n- name:").is_some_and(|p| play[p..at].contains("serial: 1"));
    assert!(serial_before(rounds[2]) && serial_before(rounds[3]), "replicas and primary not one at a time:\n{play}");
    assert!(project["playbooks/sentinels.yml"].contains("  serial: 1\n"));
    let discover = &project["roles/redis/tasks/live_primary.yml"];
    assert!(discover.contains("'sentinel', 'get-master-addr-by-name', tykgen_redis_master_name"), "{discover}");
    assert!(discover.contains("delegate_to: \"{{ item }}\""), "{discover}");
    let live = &project["roles/redis/tasks/live_config.yml"];
    for want in ["'config', 'set', item", "'config', 'rewrite'", "master_link_status:up", "include_tasks: failover.yml"]
    {
        assert!(live.contains(want), "live_config.yml lacks {want}:\n{live}");
    }
    let failover = &project["roles/redis/tasks/failover.yml"];
    // Fence, WAIT (after a replicated PUBLISH on the same connection), SENTINEL FAILOVER and the
    // old primary following the new one: one task on the Sentinel's host, so writes are refused
    // for the failover only, not for the seconds each Ansible task takes.
    let order = [
        "'CONFIG SET min-replicas-to-write 1000' 'PUBLISH tykgen:failover fenced'",
        "\"WAIT $replicas 5000\" | redis",
        "ask \"$sentinel\" sentinel failover \"$name\"",
        "\"REPLICAOF $new 6379\" \"CONFIG SET min-replicas-to-write $min_replicas\" 'CONFIG REWRITE'",
        "role:slave",
    ];
    let at: Vec<usize> =
        order.iter().map(|w| failover.find(w).unwrap_or_else(|| panic!("no {w}:\n{failover}"))).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "failover steps out of order:\n{failover}");
    assert!(!failover[at[0]..at[3]].contains("- name:"), "the fenced steps are not one task:\n{failover}");
    assert!(failover.contains("  rescue:\n"), "a failed failover must lift the fence:\n{failover}");
    let vars = &project["inventory/host_vars/redis-2.yml"];
    assert!(vars.contains("tykgen_redis_nodes:\n  - \"redis-1\"\n  - \"redis-2\"\n  - \"redis-3\"\n"), "{vars}");
    assert!(vars.contains("tykgen_redis_sentinels:\n  - \"sentinel-1\"\n"), "{vars}");
}

/// Redis Cluster: each node's live role comes from CLUSTER NODES (never its index), replicas
/// roll first, and a master that must restart first has one of its replicas take over
/// (CLUSTER FAILOVER, then role:master, its own role:slave and cluster_state:ok).
#[test]
fn redis_cluster_masters_hand_over_with_cluster_failover_before_they_restart() {
    let project = project("redis-cluster");
    let play = &project["playbooks/redis.yml"];
    assert!(
        play.contains("('live_primary' if redis_cluster_master else 'replica') if tykgen_part == 'cluster_node' and redis_cluster_answered"),
        "{play}"
    );
    let discover = &project["roles/redis/tasks/live_primary.yml"];
    assert!(discover.contains("'-p', '6379', 'cluster', 'nodes']"), "{discover}");
    assert!(discover.contains("selectattr('2', 'search', '(^|,)myself(,|$)')"), "{discover}");
    let live = &project["roles/redis/tasks/live_config.yml"];
    assert!(live.contains("or tykgen_part == 'cluster_node' and redis_cluster_master | default(false)"), "{live}");
    assert!(live.contains("redis_back_in_cluster.stdout is search('cluster_state:ok')"), "{live}");
    let failover = &project["roles/redis/tasks/failover.yml"];
    let cluster =
        &failover[failover.find("- name: CLUSTER FAILOVER to a replica").expect("no CLUSTER FAILOVER block")..];
    let order =
        ["'cluster', 'failover'", "search('role:master')", "search('role:slave')", "search('cluster_state:ok')"];
    let at: Vec<usize> =
        order.iter().map(|w| cluster.find(w).unwrap_or_else(|| panic!("no {w}:\n{cluster}"))).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "CLUSTER FAILOVER steps out of order:\n{cluster}");
    assert!(cluster.contains("  rescue:\n"), "{cluster}");
    // A registered result outranks role vars: none may take the name of a variable the Cluster
    // play gives its role (found on hosts: `register: redis_cluster_nodes` made the creation's
    // loop a dict).
    let cluster_play = &project["playbooks/redis_cluster.yml"];
    for (name, text) in &project {
        for reg in text.lines().filter_map(|l| l.trim().strip_prefix("register: ")) {
            assert!(
                !cluster_play.contains(&format!("        {reg}:")),
                "{name} registers {reg}, a var of the Cluster play"
            );
        }
    }
    // The restart itself comes after the hand-over.
    assert!(
        live.find("include_tasks: failover.yml") < live.find("- name: Redis restarted with the new settings"),
        "{live}"
    );
}

/// A Redis package install or upgrade never starts or restarts the service by itself (dpkg's
/// maintainer scripts would restart a live primary before its failover): policy-rc.d refuses
/// service actions for the install only, and the restart comes in the rolling order.
#[test]
fn redis_package_upgrades_leave_the_restart_to_the_rolling_order() {
    let project = project("production");
    let install = &project["roles/redis/tasks/install.yml"];
    let order = [
        "check_mode: true\n  register: redis_package_plan",
        "when: redis_install_due\n  block:",
        "dest: /usr/sbin/policy-rc.d",
        "exit 101",
        "force: false",
        "- name: Install Redis at the pinned version\n",
        "  always:\n",
        "path: /usr/sbin/policy-rc.d\n        state: absent\n      when: redis_policy_rc_ours | default(false)",
    ];
    let at: Vec<usize> =
        order.iter().map(|w| install.find(w).unwrap_or_else(|| panic!("no {w}:\n{install}"))).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "install steps out of order:\n{install}");
    // The package's change is what restarts Redis, in live_config.yml (after a failover).
    assert!(project["roles/redis/tasks/live_config.yml"].contains("or redis_package is changed"));
}

/// pg_hba.conf names clients by address (a CIDR), not by host name: checked by rendering the
/// project's own template with the real ansible-core.
#[test]
fn pg_hba_names_clients_by_cidr_from_the_inventory_addresses() {
    let Some(playbook) = tool("ansible-playbook", "pip install ansible-core (.ci/run)") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let project = render("production", &tmp.path().join("out"));
    let vars = std::fs::read_to_string(project.join("inventory/host_vars/postgres-1.yml")).unwrap();
    assert_eq!(vars.matches("    by_address: true\n").count(), 1, "only pg_hba.conf is installed by address:\n{vars}");
    let inventory = tmp.path().join("addresses.yml");
    std::fs::write(
        &inventory,
        "all:\n  hosts:\n    dashboard-1: {ansible_host: 192.0.2.5}\n    pump-1: {ansible_host: \"2001:db8::7\"}\n    postgres-2: {ansible_host: 192.0.2.9}\n",
    )
    .unwrap();
    let out_file = tmp.path().join("pg_hba.conf");
    let play = format!(
        "- hosts: postgres-1\n  gather_facts: false\n  tasks:\n    - ansible.builtin.copy:\n        content: \"{{{{ lookup('ansible.builtin.template', playbook_dir ~ '/../roles/common/templates/by_address.j2') }}}}\"\n        dest: {}\n        mode: \"0600\"\n      delegate_to: localhost\n      vars:\n        item: \"{{{{ tykgen_files | selectattr('by_address') | first }}}}\"\n",
        out_file.display()
    );
    let out = run_locally(&playbook, &project, tmp.path(), &inventory, ("zz-hba.yml", &play), 180);
    assert!(out.status.success(), "ansible-playbook failed:\n{}", text(&out));
    let hba = std::fs::read_to_string(&out_file).unwrap();
    assert!(hba.contains("tyk  192.0.2.5/32  scram-sha-256\n"), "{hba}");
    assert!(hba.contains("tyk  2001:db8::7/128  scram-sha-256\n"), "{hba}");
    assert!(hba.contains("replicator  192.0.2.9/32  scram-sha-256\n"), "{hba}");
    let rules = hba.lines().filter(|l| l.starts_with("host"));
    assert!(rules.clone().all(|l| !l.contains(".tyk.internal")), "{hba}");
}

/// `/etc/hosts` (here a copy): one block with every machine that has an IP address, lines that
/// name a machine otherwise removed (Debian's `127.0.1.1 <fqdn> <name>`: getaddrinfo returns
/// every match), the rest kept; a second run changes nothing. Run by the real ansible-core.
#[test]
fn etc_hosts_names_every_machine_once_at_its_address() {
    let Some(playbook) = tool("ansible-playbook", "pip install ansible-core (.ci/run)") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let project = render("production", &tmp.path().join("out"));
    // Every machine has an address, as the pre-flight play demands: IPv4, one IPv6, one DNS name.
    let loaded = tykgen::profile::load(&Input { profile: Some("production".into()), ..Input::default() }).unwrap();
    let mut addresses = String::from("all:\n  hosts:\n");
    for (i, m) in tykgen::topology::build(&loaded.profile).machines.iter().enumerate() {
        let address = match m.name.as_str() {
            "pump-1" => "\"2001:db8::7\"".to_owned(),
            "dashboard-1" => "dash.example.com".to_owned(),
            "redis-1" => "192.0.2.11".to_owned(),
            "redis-2" => "192.0.2.12".to_owned(),
            _ => format!("192.0.2.{}", 100 + i),
        };
        addresses.push_str(&format!("    {}: {{ansible_host: {address}}}\n", m.name));
    }
    let inventory = tmp.path().join("addresses.yml");
    std::fs::write(&inventory, addresses).unwrap();
    let hosts = tmp.path().join("hosts");
    let before = "127.0.0.1\tlocalhost\n127.0.1.1\tredis-1.tyk.internal redis-1\n# 10.9.9.9 redis-2.tyk.internal was here\n10.0.0.5 redis-2.tyk.internal\n192.0.2.11 redis-1.tyk.internal.example other\n";
    std::fs::write(&hosts, before).unwrap();
    let play = format!(
        "- hosts: redis-1\n  gather_facts: false\n  tasks:\n    - ansible.builtin.include_role:\n        name: common\n        tasks_from: hosts.yml\n      vars:\n        common_etc_hosts_file: {}\n",
        hosts.display()
    );
    for run in 1..=2 {
        let out = run_locally(&playbook, &project, tmp.path(), &inventory, ("zz-hosts.yml", &play), 180);
        assert!(out.status.success(), "run {run}: ansible-playbook failed:\n{}", text(&out));
        let changed = text(&out).lines().find(|l| l.starts_with("redis-1 ")).unwrap_or_default().to_owned();
        assert_eq!(changed.contains("changed=0"), run == 2, "run {run}: {changed}");
    }
    let after = std::fs::read_to_string(&hosts).unwrap();
    let block: Vec<&str> = after
        .lines()
        .skip_while(|l| !l.starts_with("# BEGIN machines of the Tyk stack production (tykgen)"))
        .skip(1)
        .take_while(|l| !l.starts_with("# END "))
        .collect();
    assert!(block.contains(&"192.0.2.11 redis-1.tyk.internal redis-1"), "{after}");
    assert!(block.contains(&"192.0.2.12 redis-2.tyk.internal redis-2"), "{after}");
    assert!(block.contains(&"2001:db8::7 pump-1.tyk.internal pump-1"), "{after}");
    assert!(
        !after.contains("dash.example.com") && !after.contains("dashboard-1"),
        "a host name is no address:\n{after}"
    );
    for kept in [
        "127.0.0.1\tlocalhost\n",
        "# 10.9.9.9 redis-2.tyk.internal was here\n",
        "192.0.2.11 redis-1.tyk.internal.example other\n",
    ] {
        assert!(after.contains(kept), "lost {kept:?}:\n{after}");
    }
    for gone in ["127.0.1.1", "10.0.0.5"] {
        assert!(!after.contains(gone), "{gone} still names a machine:\n{after}");
    }
}

#[test]
fn data_tier_machines_mount_their_data_volume_before_the_server_starts() {
    for profile in builtins() {
        let loaded = tykgen::profile::load(&Input { profile: Some(profile.clone()), ..Input::default() }).unwrap();
        let t = tykgen::topology::build(&loaded.profile);
        let project = project(&profile);
        for m in &t.machines {
            let host_vars = &project[&format!("inventory/host_vars/{}.yml", m.name)];
            let mount = match m.role {
                tykgen::topology::Role::Redis => Some("/var/lib/redis"),
                tykgen::topology::Role::Postgres => Some("/var/lib/postgresql"),
                tykgen::topology::Role::Mongodb => Some("/var/lib/mongodb"),
                _ => None,
            };
            assert_eq!(
                mount.is_some(),
                tykgen::targets::terraform::has_data_volume(m.role),
                "{profile}: {} differs from Terraform's data volumes",
                m.name
            );
            match mount {
                Some(mount) => {
                    let want = format!("tykgen_data_volume_mount: \"{mount}\"\n");
                    assert!(host_vars.contains(&want), "{profile}: {}: no {want}in\n{host_vars}", m.name);
                }
                None => assert!(!host_vars.contains("tykgen_data_volume"), "{profile}: {}: {host_vars}", m.name),
            }
        }
        let main = &project["inventory/group_vars/all/main.yml"];
        assert!(main.contains("tykgen_data_volume_device: \"\"\n"), "{profile}: the data volume is not off by default");
        // Mounted by `common`, which runs on every host before any server role.
        let common = &project["roles/common/tasks/main.yml"];
        assert!(common.contains("ansible.builtin.import_tasks: data_volume.yml"), "{common}");
        let site = &project["playbooks/site.yml"];
        let first_server = site.find("import_playbook: redis.yml").unwrap();
        assert!(site.find("import_playbook: common.yml").unwrap() < first_server, "{site}");
        let tasks = &project["roles/common/tasks/data_volume.yml"];
        for want in [
            "argv: [blkid, -p, -o, export, \"{{ tykgen_data_volume_device }}\"]",
            "changed_when: false",
            "    - common_data_volume_blkid.rc == 2\n  changed_when: true",
            "dest: \"/etc/systemd/system/{{ common_data_volume_unit.stdout }}\"",
            "RequiresMountsFor={{ tykgen_data_volume_mount }}",
            "nvme-Amazon_Elastic_Block_Store_vol",
        ] {
            assert!(tasks.contains(want), "{profile}: data_volume.yml lacks {want}:\n{tasks}");
        }
        // Every task is skipped while no device is set.
        let task_count = tasks.lines().filter(|l| l.starts_with("- name:")).count();
        assert_eq!(tasks.matches("tykgen_data_volume_device | length > 0").count(), task_count, "{tasks}");
    }
}

#[test]
fn the_postgres_primary_runs_the_retention_script_daily_when_it_has_one() {
    for profile in builtins() {
        let project = project(&profile);
        let Some(primary) = project.get("roles/postgresql/tasks/primary.yml") else { continue };
        let defaults = &project["roles/postgresql/defaults/main.yml"];
        assert!(defaults.contains("postgresql_retention_sql: /usr/local/lib/tykgen/retention.sql\n"), "{defaults}");
        assert!(defaults.contains("postgresql_retention_database: tyk_analytics\n"), "{defaults}");
        // Wanted exactly when the host's files (the bundle's) include the script.
        assert!(
            primary.contains(
                "postgresql_retention: \"{{ tykgen_files | selectattr('dest', 'equalto', postgresql_retention_sql) | list | length > 0 }}\""
            ),
            "{primary}"
        );
        for want in [
            "User=postgres\n",
            "ExecStart=/usr/bin/psql -X -v ON_ERROR_STOP=1 -d {{ postgresql_retention_database }} -f {{ postgresql_retention_sql }}\n",
            "OnCalendar=daily\n",
            "name: tykgen-retention.timer\n    enabled: true\n    state: started\n",
        ] {
            assert!(primary.contains(want), "{profile}: primary.yml lacks {want}");
        }
        // The script reaches the host through the generic bundle files, into a folder that exists.
        let main = &project["roles/postgresql/tasks/main.yml"];
        assert!(
            main.find("path: /usr/local/lib/tykgen").unwrap() < main.find("tasks_from: config_files.yml").unwrap(),
            "{main}"
        );
        // Only the primary's host_vars may carry it.
        for (path, text) in project.iter().filter(|(p, _)| p.starts_with("inventory/host_vars/")) {
            if text.contains("/usr/local/lib/tykgen/retention.sql") {
                assert!(text.contains("tykgen_part: \"primary\""), "{profile}: {path} has retention.sql");
            }
        }
    }
}

#[test]
fn the_redis_cluster_is_created_from_ip_addresses() {
    for profile in builtins() {
        let project = project(&profile);
        let Some(tasks) = project.get("roles/redis_cluster/tasks/main.yml") else { continue };
        assert!(tasks.contains("argv: [getent, ahostsv4, \"{{ hostvars[item].tykgen_address }}\"]"), "{tasks}");
        let create = &tasks[tasks.find("--cluster', 'create'").unwrap()..];
        assert!(create.contains("redis_cluster_ips"), "{tasks}");
        assert!(!create[..create.find("- name:").unwrap_or(create.len())].contains("tykgen_address"), "{tasks}");
    }
}

/// `copy` does not create folders, and a fresh host has no `/etc/systemd/system/<unit>.d/`: every
/// drop-in a role writes there has its folder created earlier in the same task file. (Failed before
/// the fix on roles/redis/tasks/install.yml, roles/common/tasks/data_volume.yml and the three Tyk
/// roles' main.yml.)
#[test]
fn systemd_drop_in_folders_are_created_before_the_drop_ins() {
    let dest = regex::Regex::new(r#"(?m)^\s*dest: "?(/etc/systemd/system/[^"/]+\.d)/[^"]+"?$"#).unwrap();
    let mut checked = 0;
    for profile in builtins() {
        let project = project(&profile);
        for (path, text) in project.iter().filter(|(p, _)| p.starts_with("roles/") && p.contains("/tasks/")) {
            for c in dest.captures_iter(text) {
                let folder = &c[1];
                let at = c.get(0).unwrap().start();
                let before = &text[..at];
                let made = [format!("path: \"{folder}\"\n"), format!("path: {folder}\n")]
                    .iter()
                    .filter_map(|p| before.rfind(p.as_str()))
                    .max()
                    .is_some_and(|i| before[i..].contains("state: directory"));
                assert!(made, "{profile}: {path}: {folder} is not created before its drop-in");
                checked += 1;
            }
        }
    }
    assert!(checked >= 5, "only {checked} drop-ins checked");
}

/// pg_ctlcluster splits pg_ctl.conf's options on spaces (`-o "-c data_directory=..."` made pg_ctl
/// fail with "too many command-line arguments") and passes config_file, hba_file and ident_file
/// itself: the role must not write pg_ctl.conf, and gives pg_ctlcluster the data directory through
/// the pgdata link. (Failed before the fix: the role wrote pg_ctl_options.)
#[test]
fn postgresql_leaves_pg_ctl_conf_alone() {
    let mut seen = 0;
    for profile in builtins() {
        let project = project(&profile);
        let Some(main) = project.get("roles/postgresql/tasks/main.yml") else { continue };
        seen += 1;
        for (path, text) in project.iter().filter(|(p, _)| p.starts_with("roles/postgresql/")) {
            assert!(!text.contains("pg_ctl_options"), "{profile}: {path} writes pg_ctl_options:\n{text}");
            assert!(!text.contains("dest: \"/etc/postgresql/{{ tykgen_database_major }}/main/pg_ctl.conf\""), "{path}");
        }
        assert!(main.contains("dest: \"{{ postgresql_conf_dir }}/pgdata\"\n    state: link"), "{main}");
    }
    assert!(seen >= 2, "only {seen} PostgreSQL profiles");
}

/// The MongoDB key URL is one string (the filter once quoted only the `.asc` suffix, rendering
/// `server-7.0!unsafe ".asc"`), named by the major release as the fingerprint is.
#[test]
fn the_mongodb_key_url_is_one_string() {
    let project = project("production-mongo");
    let main = &project["inventory/group_vars/all/main.yml"];
    let vars: serde_json::Value = serde_saphyr::from_str(main).unwrap();
    let key = &vars["tykgen_repo_keys"]["mongodb"];
    let url = key["url"].as_str().unwrap_or_else(|| panic!("no mongodb key url in\n{main}"));
    let major = vars["tykgen_database_major"].as_u64().unwrap();
    assert_eq!(url, format!("https://pgp.mongodb.com/server-{major}.0.asc"));
    assert_eq!(key["fingerprint"].as_str().map(str::len), Some(40), "{main}");
}

/// The firewall of every PostgreSQL member admits the other members on 5432 (a promoted replica's
/// old primary must re-attach; the topology's links only run replica -> primary), and the firewall
/// unit loads before the network (DefaultDependencies=no). (Failed before: postgres-2 admitted
/// no member, and the unit had the default dependencies.)
#[test]
fn database_members_admit_each_other_and_the_firewall_loads_early() {
    let vars = regex::Regex::new(r"(?s)tykgen_firewall_rules:\n(.*)").unwrap();
    for profile in builtins() {
        let project = project(&profile);
        let firewall = &project["roles/common/tasks/firewall.yml"];
        assert!(firewall.contains("      DefaultDependencies=no\n"), "{profile}: {firewall}");
        let loaded = tykgen::profile::load(&Input { profile: Some(profile.clone()), ..Input::default() }).unwrap();
        let t = tykgen::topology::build(&loaded.profile);
        let Some(db) = t.database.as_ref().filter(|d| d.engine == tykgen::profile::Engine::Postgres) else { continue };
        for m in &db.members {
            let host_vars = &project[&format!("inventory/host_vars/{m}.yml")];
            let rules = &vars.captures(host_vars).unwrap()[1];
            let pg = &rules[rules.find("- port: 5432\n").unwrap_or_else(|| panic!("{profile}: {m}: no 5432 rule"))..];
            let pg = pg.split("\n  - port:").next().unwrap();
            // As the server group `postgres` (every member but the host itself, see the nft
            // template), or by name.
            let group = pg.split("    groups:\n").nth(1).is_some_and(|g| g.contains("- \"postgres\"\n"));
            for other in db.members.iter().filter(|o| *o != m) {
                assert!(
                    group || pg.contains(&format!("- \"{other}\"\n")),
                    "{profile}: {m} does not admit {other}:\n{pg}"
                );
            }
        }
    }
}

#[test]
fn every_host_firewall_is_a_ruleset_nft_accepts_with_one_set_per_group() {
    let Some(playbook) = tool("ansible-playbook", "pip install ansible-core (.ci/run)") else { return };
    let Some(nft) = tool("nft", "apt-get install nftables (.ci/run)") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let project = render("production", &tmp.path().join("out"));
    // The user's addresses: gateway-2 on IPv6, so the Gateway group has a set in each family.
    let groups = topology_groups("production");
    let hosts: Vec<&String> = groups.values().flatten().collect();
    let address =
        |i: usize, h: &str| if h == "gateway-2" { "2001:db8::12".to_owned() } else { format!("192.0.2.{}", 10 + i) };
    let mut inventory = String::from("all:\n  hosts:\n");
    for (i, h) in hosts.iter().enumerate() {
        inventory.push_str(&format!("    {h}: {{ansible_host: \"{}\"}}\n", address(i, h)));
    }
    let addresses = tmp.path().join("addresses.yml");
    std::fs::write(&addresses, inventory).unwrap();
    let rules = tmp.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    let play = format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.template:\n        src: \"{{{{ playbook_dir }}}}/../roles/common/templates/firewall.nft.j2\"\n        dest: \"{}/{{{{ inventory_hostname }}}}.nft\"\n        mode: \"0600\"\n      delegate_to: localhost\n",
        rules.display()
    );
    let out = run_locally(&playbook, &project, tmp.path(), &addresses, ("zz-firewall.yml", &play), 300);
    assert!(out.status.success(), "ansible-playbook failed:\n{}", text(&out));
    for h in &hosts {
        let file = rules.join(format!("{h}.nft"));
        // The real judge: nft parses and checks the whole ruleset without loading it.
        let check = run(command(&nft).arg("-c").arg("-f").arg(&file), Duration::from_secs(30));
        let ruleset = std::fs::read_to_string(&file).unwrap();
        assert!(check.status.success(), "{h}: nft -c refused its ruleset:\n{}\n{ruleset}", text(&check));
    }
    // redis-1 admits the Gateways as one set per family, and its own group without itself.
    let redis = std::fs::read_to_string(rules.join("redis-1.nft")).unwrap();
    assert!(redis.contains("ip saddr @gateway_v4 tcp dport 6379 accept"), "{redis}");
    assert!(redis.contains("ip6 saddr @gateway_v6 tcp dport 6379 accept"), "{redis}");
    assert!(redis.contains("elements = { 2001:db8::12 }"), "{redis}");
    let own = hosts.iter().position(|h| h.as_str() == "redis-1").unwrap();
    let redis_set = redis.split("set redis_v4 {").nth(1).and_then(|s| s.split('}').nth(1)).unwrap_or_default();
    assert!(!redis_set.contains(&address(own, "redis-1")), "redis-1 admits itself: {redis}");
}

/// The project's own Cluster tasks (`live_primary.yml`, `failover.yml`) on six real Redis
/// Cluster nodes (127.0.27.1-6, plain text): every master hands its slots to a replica with
/// CLUSTER FAILOVER, one at a time, and the Cluster stays `cluster_state:ok` with three masters,
/// none of them an old one.
#[test]
fn cluster_masters_hand_over_on_real_redis_with_the_projects_tasks() {
    use crate::data_tier::{Proc, claim_range, wait_for};
    let Some(playbook) = tool("ansible-playbook", "pip install ansible-core (.ci/run)") else { return };
    let Some(server) = tool("redis-server", "apt-get install redis-server (.ci/run)") else { return };
    let Some(cli) = tool("redis-cli", "apt-get install redis-tools (.ci/run)") else { return };
    let _range = claim_range(27);
    let tmp = tempfile::tempdir().unwrap();
    let project = render("redis-cluster", &tmp.path().join("out"));
    let ip = |i: usize| format!("127.0.27.{i}");
    let redis = |i: usize, args: &[&str]| {
        let out = command(&cli).env("REDISCLI_AUTH", "pw").args(["-h", &ip(i), "-p", "6379"]).args(args).output();
        String::from_utf8_lossy(&out.expect("redis-cli").stdout).into_owned()
    };
    let mut nodes: Vec<Proc> = Vec::new();
    for i in 1..=6 {
        let dir = tmp.path().join(format!("n{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = format!(
            "bind {a}\nport 6379\nrequirepass pw\nmasterauth pw\ndir {d}\nsave \"\"\nappendonly no\ncluster-enabled yes\ncluster-config-file nodes.conf\ncluster-node-timeout 5000\ncluster-announce-ip {a}\ncluster-announce-hostname \"{a}\"\ncluster-preferred-endpoint-type hostname\n",
            a = ip(i),
            d = dir.display()
        );
        std::fs::write(dir.join("redis.conf"), conf).unwrap();
        nodes.push(Proc::spawn("redis-server", command(&server).arg(dir.join("redis.conf")), &dir.join("log")));
    }
    for i in 1..=6 {
        wait_for(&format!("node {i}"), Duration::from_secs(20), String::new, || {
            if redis(i, &["ping"]).trim() == "PONG" { Ok(()) } else { Err("no PONG".into()) }
        });
    }
    let addrs: Vec<String> = (1..=6).map(|i| format!("{}:6379", ip(i))).collect();
    let out = run(
        command(&cli).env("REDISCLI_AUTH", "pw").args(["--cluster", "create"]).args(&addrs).args([
            "--cluster-replicas",
            "1",
            "--cluster-yes",
        ]),
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "cluster create: {}", text(&out));
    let masters = || -> BTreeSet<String> {
        redis(1, &["cluster", "nodes"])
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|f| f.len() > 8 && f[2].contains("master"))
            .map(|f| f[1].split(':').next().unwrap_or_default().to_owned())
            .collect()
    };
    wait_for("cluster_state:ok and 3 masters", Duration::from_secs(30), String::new, || {
        if (1..=6).all(|i| redis(i, &["cluster", "info"]).contains("cluster_state:ok")) && masters().len() == 3 {
            Ok(())
        } else {
            Err("not yet".into())
        }
    });
    let before = masters();
    let inventory = tmp.path().join("addresses.yml");
    let hosts: String = (1..=6).map(|i| format!("    redis-{i}: {{test_address: \"{}\"}}\n", ip(i))).collect();
    std::fs::write(&inventory, format!("all:\n  hosts:\n{hosts}")).unwrap();
    // The nodes announce their addresses as host names here (tykgen_host in the project). As in
    // playbooks/redis.yml, the masters are the nodes that were masters before the round.
    let play = "- hosts: redis-1:redis-2:redis-3:redis-4:redis-5:redis-6\n  gather_facts: false\n  tasks:\n    - ansible.builtin.set_fact:\n        tykgen_host: \"{{ test_address }}\"\n        tykgen_redis_cli: [timeout, \"10\", redis-cli]\n        vault_redis_password: pw\n        redis_new_lines: []\n    - ansible.builtin.include_role:\n        name: redis\n        tasks_from: live_primary.yml\n    - ansible.builtin.set_fact:\n        test_was_master: \"{{ redis_cluster_master }}\"\n- hosts: redis-1:redis-2:redis-3:redis-4:redis-5:redis-6\n  gather_facts: false\n  serial: 1\n  tasks:\n    - ansible.builtin.include_role:\n        name: redis\n        tasks_from: live_primary.yml\n    - ansible.builtin.include_role:\n        name: redis\n        tasks_from: failover.yml\n      when: test_was_master and redis_cluster_master and redis_cluster_successors | length > 0\n";
    let out = run_locally(&playbook, &project, tmp.path(), &inventory, ("zz-cluster.yml", play), 400);
    assert!(out.status.success(), "ansible-playbook failed:\n{}", text(&out));
    // Node 1's view follows the last hand-over by gossip.
    wait_for(
        "three new masters, cluster_state:ok",
        Duration::from_secs(30),
        || text(&out),
        || {
            let after = masters();
            let ok = (1..=6).all(|i| redis(i, &["cluster", "info"]).contains("cluster_state:ok"));
            if after.len() == 3 && after.is_disjoint(&before) && ok {
                Ok(())
            } else {
                Err(format!("before {before:?}, after {after:?}, cluster_state ok: {ok}"))
            }
        },
    );
    drop(nodes);
}
