//! The generated Ansible project on real Debian 12 hosts (systemd-nspawn, `tests/real_hosts/`):
//! the data tier and `common` of `production` converge on a first run and a second run changes
//! nothing. **Opt-in, not yet in CI**: it needs root, debootstrap, systemd-container and the PyPI
//! `ansible` package (`TYKGEN_REAL_HOSTS=1 bash .ci/run install` installs them), boots 8 hosts and
//! takes 10-20 minutes on a loaded 2-core machine. Run it with
//! `TYKGEN_REAL_HOSTS=1 cargo test --test integration real_hosts -- --nocapture`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::tools::{repo_root, run, tool};

fn opted_in() -> bool {
    std::env::var("TYKGEN_REAL_HOSTS").is_ok_and(|v| v == "1")
}

#[test]
fn production_data_tier_converges_and_a_second_run_changes_nothing() {
    if !opted_in() {
        eprintln!("skipping: the real-host harness is opt-in (TYKGEN_REAL_HOSTS=1; tests/real_hosts/README.md)");
        return;
    }
    let Some(_) = tool("debootstrap", "apt-get install debootstrap (TYKGEN_REAL_HOSTS=1 .ci/run)") else { return };
    let Some(_) = tool("systemd-nspawn", "apt-get install systemd-container (TYKGEN_REAL_HOSTS=1 .ci/run)") else {
        return;
    };
    let venv = repo_root().join("target/real-hosts/venv/bin/ansible-playbook");
    if !venv.exists() {
        let msg = "no target/real-hosts/venv (pip install ansible: TYKGEN_REAL_HOSTS=1 bash .ci/run install)";
        assert!(!crate::tools::require_tools(), "{msg}");
        eprintln!("skipping: {msg}");
        return;
    }
    let tykgen = PathBuf::from(env!("CARGO_BIN_EXE_tykgen"));
    // One harness at a time on this machine (fixed namespaces, guard route and address range).
    let out = run(
        Command::new("flock")
            .arg("/tmp/tykgen-real-hosts.lock")
            .arg("bash")
            .arg(repo_root().join("tests/real_hosts/run.sh"))
            .arg(&tykgen)
            .arg("production"),
        Duration::from_secs(40 * 60),
    );
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("{text}");
    assert!(out.status.success(), "the real-host harness failed:\n{text}");
    assert!(text.contains("run 2: changed=0 on every host"), "{text}");
}
