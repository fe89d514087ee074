//! The command line: `profiles`, `schema`, `init`, `completions`, `render --diff`, `--help`.

use crate::common::{builtins, render_all, tree, tree_diff, tykgen};
use crate::tools::repo_root;

const BUILTINS: [&str; 5] = ["lab", "oss", "production", "production-mongo", "redis-cluster"];

#[test]
fn profiles_lists_the_five_builtins_with_a_description() {
    let out = tykgen().arg("profiles").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let names = builtins();
    for name in BUILTINS {
        assert!(names.iter().any(|n| n == name), "`tykgen profiles` does not list {name}:\n{text}");
    }
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        assert!(parts.next().is_some() && parts.next().is_some(), "a line without a description: {line:?}");
    }
}

fn schema() -> serde_json::Value {
    let out = tykgen().arg("schema").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("`tykgen schema` prints JSON")
}

#[test]
fn schema_is_strict_draft07_and_accepts_every_builtin() {
    let schema = schema();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(schema["additionalProperties"], false, "the root must reject unknown keys");
    let validator = jsonschema::draft7::new(&schema).expect("a valid draft-07 schema");
    for name in BUILTINS {
        let path = repo_root().join("profiles").join(format!("{name}.yaml"));
        let text = std::fs::read_to_string(&path).unwrap();
        let value: serde_json::Value = serde_saphyr::from_str(&text).expect("a built-in profile is YAML");
        let errors: Vec<String> =
            validator.iter_errors(&value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{name}.yaml does not fit `tykgen schema`:\n{}", errors.join("\n"));
    }
    // And it does reject what the loader rejects.
    let bad: serde_json::Value = serde_json::json!({"name": "x", "tyk": {"version": "5.8.2", "pump_version": "1.12.0"},
        "redis": {"version": "7.2"}, "gatway": {}});
    assert!(!validator.is_valid(&bad), "the schema accepts an unknown top-level key");
}

#[test]
fn init_writes_a_profile_that_renders_and_never_overwrites() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("x.yaml");
    tykgen().args(["init", "--from", "production"]).arg(&path).assert().success();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.lines().any(|l| l.trim_start().starts_with('#')), "the new profile should be commented");
    assert!(text.contains("\nname: x\n"), "the new profile should be named after its file:\n{text}");

    let out = tmp.path().join("out");
    render_all(path.to_str().unwrap(), &out, &[]);
    assert!(out.join("x").is_dir(), "rendered into {:?}", tree(&out).keys().collect::<Vec<_>>());

    std::fs::write(&path, "# mine\n").unwrap();
    let result = tykgen().args(["init", "--from", "production"]).arg(&path).output().unwrap();
    assert_eq!(result.status.code(), Some(1), "init over an existing file must fail");
    assert!(String::from_utf8_lossy(&result.stderr).starts_with("error"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n", "init overwrote a file");

    let result = tykgen().args(["init", "--from", "producton"]).arg(tmp.path().join("y.yaml")).output().unwrap();
    assert_eq!(result.status.code(), Some(1));
    assert!(!tmp.path().join("y.yaml").exists());
}

/// What the bash completion offers for the words `line` (the last one being completed), run in
/// real bash in `dir`: the generated script sourced, `_tykgen` called as bash calls it.
fn bash_completes(script: &std::path::Path, dir: &std::path::Path, line: &[&str]) -> Vec<String> {
    let words = line.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" ");
    let prog = format!(
        "source '{}' && complete -p tykgen >/dev/null && COMP_WORDS=({words}) && COMP_CWORD={} && \
         COMP_LINE='{}' && COMP_POINT=${{#COMP_LINE}} && _tykgen tykgen '{}' '{}' && printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        line.len() - 1,
        line.join(" "),
        line[line.len() - 1],
        line[line.len().saturating_sub(2)]
    );
    let out = std::process::Command::new("bash").current_dir(dir).args(["--norc", "-c", &prog]).output().unwrap();
    assert!(out.status.success(), "bash: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

#[test]
fn completions_offer_builtin_profiles_and_no_files_after_from_or_set() {
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("tykgen.bash");
    let out = tykgen().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    std::fs::write(&script, &out.stdout).unwrap();
    std::fs::write(tmp.path().join("prod-overlay.yaml"), "name: x\n").unwrap();
    let has = |got: &[String], want: &str| got.iter().any(|g| g == want);

    for sub in ["render", "check", "explain", "lab-secrets"] {
        let got = bash_completes(&script, tmp.path(), &["tykgen", sub, ""]);
        assert!(builtins().iter().all(|b| has(&got, b)), "tykgen {sub} <TAB>: {got:?}");
        let got = bash_completes(&script, tmp.path(), &["tykgen", sub, "prod"]);
        assert_eq!(got, ["production", "production-mongo"], "tykgen {sub} prod<TAB>");
        let got = bash_completes(&script, tmp.path(), &["tykgen", sub, "--set", ""]);
        assert!(!has(&got, "prod-overlay.yaml") && !has(&got, "tykgen.bash"), "--set <TAB> offers files: {got:?}");
        let got = bash_completes(&script, tmp.path(), &["tykgen", sub, "-f", "prod"]);
        assert_eq!(got, ["prod-overlay.yaml"], "-f prod<TAB>");
    }
    let got = bash_completes(&script, tmp.path(), &["tykgen", "init", "--from", ""]);
    assert_eq!(got, builtins(), "init --from <TAB>");
    let got = bash_completes(&script, tmp.path(), &["tykgen", "init", "--from", "prod"]);
    assert_eq!(got, ["production", "production-mongo"], "init --from prod<TAB> (no prod-overlay.yaml)");
    let got = bash_completes(&script, tmp.path(), &["tykgen", "explain", "--against", "l"]);
    assert_eq!(got, ["lab"], "explain --against l<TAB>");

    for (shell, from) in [("zsh", "'--from="), ("fish", "-l from ")] {
        let out = tykgen().args(["completions", shell]).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let names = builtins().join(" ");
        assert!(builtins().iter().all(|b| text.contains(b.as_str())), "{shell}: no built-in names");
        let line = text.lines().find(|l| l.contains(from)).unwrap_or_default();
        let names_only =
            if shell == "zsh" { line.ends_with(&format!(":({names})' \\")) } else { line.contains(" -r -f -a ") };
        assert!(names_only, "{shell}: init --from is not built-in names only: {line}");
    }
}

#[test]
fn diff_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tykgen().args(["render", "lab", "-t", "all", "--diff", "-o"]).arg(tmp.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(tree(tmp.path()).is_empty(), "--diff wrote into an empty folder: {:?}", tree(tmp.path()).keys());
    assert!(!out.stdout.is_empty(), "--diff against nothing should say what would be written");

    render_all("lab", tmp.path(), &[]);
    let conf = tmp.path().join("lab/config/gateway-1/tyk.conf");
    std::fs::write(&conf, "{}\n").unwrap();
    let before = tree(tmp.path());
    let out = tykgen().args(["render", "lab", "-t", "all", "--diff", "-o"]).arg(tmp.path()).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("listen_port"), "--diff should show the change");
    assert_eq!(tree_diff(&before, &tree(tmp.path())), None, "--diff wrote files");
}

/// Profilers and memory checkers run tykgen under Valgrind, which gives a program no vDSO: a
/// dependency that parses the vDSO itself (rustix's `linux_raw` backend, for `sched_getcpu`)
/// crashed there before the first file was written (rustix issue #1559).
#[test]
fn renders_under_valgrind() {
    let Some(valgrind) = crate::tools::tool("valgrind", "apt install valgrind") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = crate::tools::command(&valgrind)
        .args(["--tool=none", "--quiet"])
        .arg(assert_cmd::cargo::cargo_bin("tykgen"))
        .args(["render", "production", "-t", "all", "-o"])
        .arg(tmp.path())
        .current_dir(crate::tools::repo_root())
        .output()
        .unwrap();
    assert!(out.status.success(), "tykgen under valgrind: {:?}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    assert!(tmp.path().join("production/config/README.md").is_file(), "nothing rendered under valgrind");
}

#[test]
fn every_subcommand_help_has_an_example() {
    for sub in ["render", "profiles", "init", "schema", "completions"] {
        let out = tykgen().args([sub, "--help"]).output().unwrap();
        assert!(out.status.success(), "{sub} --help failed");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("Example"), "`tykgen {sub} --help` has no example:\n{text}");
    }
    let out = tykgen().arg("--help").output().unwrap();
    assert!(out.status.success());
}

#[test]
fn templates_dir_overrides_exactly_one_file() {
    let base = tempfile::tempdir().unwrap();
    let over = tempfile::tempdir().unwrap();
    render_all("lab", base.path(), &[]);
    let overrides = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(overrides.path().join("docs")).unwrap();
    std::fs::write(overrides.path().join("docs/config-README.md.tera"), "# Ours: {{ profile.name }}\n").unwrap();
    let dir = overrides.path().display().to_string();
    render_all("lab", over.path(), &["--templates", &dir]);
    let (a, b) = (tree(base.path()), tree(over.path()));
    let differing: Vec<&String> = a.keys().filter(|k| a.get(*k) != b.get(*k)).collect();
    assert_eq!(a.len(), b.len(), "the override must not add or remove files");
    // The README itself and the manifest that records its hash.
    assert_eq!(differing, ["lab/config/.tykgen-manifest", "lab/config/README.md"], "{differing:?}");
    assert_eq!(b["lab/config/README.md"].0, b"# Ours: lab\n");
}
