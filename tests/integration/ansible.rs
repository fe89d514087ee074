//! The Ansible target: for every built-in profile, the real Ansible toolchain accepts the project
//! (`ansible-inventory`, `ansible-playbook --syntax-check`, `ansible-lint --profile production
//! --strict`, `yamllint`), the inventory is the topology, the roles install the bundle's bytes,
//! no secret value is written, and every profile-derived string is `!unsafe`.

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
                "inventory/hosts.yml",
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
            ansible(&playbook, &project, tmp.path()).args([
                "-i",
                "inventory/hosts.yml",
                "--syntax-check",
                "playbooks/site.yml",
            ]),
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
                    "  - src: !unsafe \"{rel}\"\n    dest: !unsafe \"{install}\"\n    mode: !unsafe \"{}\"\n",
                    f["mode"].as_str().unwrap()
                );
                assert!(host_vars.contains(&entry), "{profile}: {name}'s host_vars lack\n{entry}in\n{host_vars}");
                checked += 1;
            }
        }
        assert!(checked > 0, "{profile}: no files checked");
        // The files are copied, never templated: every role copies from tykgen_files_dir.
        let (tasks, _) = ansible.get("roles/common/tasks/config_files.yml").unwrap();
        let tasks = String::from_utf8_lossy(tasks);
        assert!(tasks.contains("ansible.builtin.copy:\n    src: \"{{ tykgen_files_dir }}/{{ item.src }}\""), "{tasks}");
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

#[test]
fn profile_strings_are_unsafe_everywhere() {
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

    // Every double-quoted scalar of the generated data (inventory, group_vars, host_vars) is tagged.
    let quoted = regex::Regex::new(r#"(?:: |- )(!unsafe )?("(?:[^"\\]|\\.)*")\s*$"#).unwrap();
    let mut seen = 0;
    for path in files(&project.join("inventory")) {
        let rel = path.strip_prefix(&project).unwrap().to_string_lossy().into_owned();
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            if let Some(c) = quoted.captures(line) {
                let jinja = c[2].contains("{{");
                if !jinja && &c[2] != "\"\"" {
                    assert!(c.get(1).is_some(), "{rel}: untagged string: {line}");
                    seen += 1;
                }
            }
        }
    }
    assert!(seen > 50, "only {seen} tagged strings");
    let main = std::fs::read_to_string(project.join("inventory/group_vars/all/main.yml")).unwrap();
    let want = format!("tykgen_description: !unsafe {}", serde_json::to_string(HOSTILE_DESCRIPTION).unwrap());
    assert!(main.contains(&want), "{main}");
    let hosts = std::fs::read_to_string(project.join("inventory/hosts.yml")).unwrap();
    assert!(hosts.contains("ansible_host: !unsafe \"192.0.2.11\""), "{hosts}");
    assert!(hosts.contains("ansible_host: !unsafe \"gateway-2.CHANGE-ME.invalid\""), "{hosts}");

    // Ansible itself keeps the description as unsafe (never templated) data.
    let Some(inv) = tool("ansible-inventory", "pip install ansible-core (.ci/run)") else { return };
    let out = run(
        ansible(&inv, &project, tmp.path()).env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "true").args([
            "-i",
            "inventory/hosts.yml",
            "--list",
        ]),
        Duration::from_secs(120),
    );
    assert!(out.status.success(), "{}", text(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let vars = &list["_meta"]["hostvars"]["gateway-1"];
    assert_eq!(vars["tykgen_description"]["__ansible_unsafe"], HOSTILE_DESCRIPTION, "{vars:#}");
    assert_eq!(vars["ansible_host"]["__ansible_unsafe"], "192.0.2.11");
}
