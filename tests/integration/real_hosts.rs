//! The generated Ansible project on real Debian 12 hosts (systemd-nspawn, `tests/real_hosts/`):
//! the data tier and `common` converge, re-runs change nothing, a failover by hand survives a
//! re-run, and a changed Redis setting and re-issued certificates roll out while a writer writes
//! through Sentinel without a gap over 2 s or a lost acknowledged write.
//!
//! It needs root, debootstrap, systemd-container and the PyPI `ansible` package in
//! `target/real-hosts/venv` (`bash .ci/run install` installs them); without them it prints one
//! `skipping:` line, and fails under `TYKGEN_REQUIRE_TOOLS=1`. `TYKGEN_REAL_HOSTS=0` skips it.
//! By default it runs `production` in the harness's `ci` mode (runs 1, 3 and 4, for CI's
//! 20-minute budget);
//! `TYKGEN_REAL_HOSTS=all` runs every scenario of `production` and of `redis-cluster` (about
//! 25 minutes each).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::tools::{repo_root, require_tools, run, tool};

/// `TYKGEN_REAL_HOSTS`: `0` (skip), `all` (every scenario, both profiles), else the CI set.
fn mode() -> Option<&'static str> {
    match std::env::var("TYKGEN_REAL_HOSTS").as_deref() {
        Ok("0") => None,
        Ok("all") => Some("full"),
        _ => Some("ci"),
    }
}

/// What the harness needs on this machine; `None` after one `skipping:` line (a panic under
/// `TYKGEN_REQUIRE_TOOLS=1`).
fn harness_ready() -> Option<()> {
    tool("debootstrap", "apt-get install debootstrap (bash .ci/run install)")?;
    tool("systemd-nspawn", "apt-get install systemd-container (bash .ci/run install)")?;
    tool("nsenter", "apt-get install util-linux")?;
    let missing = if !is_root() {
        Some("the real-host harness needs root (network namespaces, systemd-nspawn)".to_owned())
    } else if !repo_root().join("target/real-hosts/venv/bin/ansible-playbook").exists() {
        Some("no target/real-hosts/venv (pip install ansible: bash .ci/run install)".to_owned())
    } else {
        None
    };
    if let Some(msg) = missing {
        assert!(!require_tools(), "{msg} (TYKGEN_REQUIRE_TOOLS=1)");
        eprintln!("skipping: {msg}");
        return None;
    }
    Some(())
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines().any(|l| l.strip_prefix("Uid:").is_some_and(|ids| ids.split_whitespace().next() == Some("0")))
    })
}

/// Runs the harness on `profile` (`run.sh` arguments after it in `args`) and returns its report.
fn harness(profile: &str, mode: &str, hosts_only: Option<&str>, args: &[&str]) -> String {
    let tykgen = PathBuf::from(env!("CARGO_BIN_EXE_tykgen"));
    let mut cmd = Command::new("flock");
    // One harness at a time on this machine (fixed namespaces, guard route and address range).
    cmd.arg("/tmp/tykgen-real-hosts.lock").arg("bash").arg(repo_root().join("tests/real_hosts/run.sh"));
    cmd.arg(&tykgen).arg(profile).args(args).env("TYKGEN_HOSTS_MODE", mode);
    if let Some(only) = hosts_only {
        cmd.env("TYKGEN_HOSTS_ONLY", only);
    }
    let start = std::time::Instant::now();
    let out = run(&mut cmd, Duration::from_secs(45 * 60));
    let mut text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    text.push_str(&format!("real-hosts {profile}: {mode} mode, {} s in all\n", start.elapsed().as_secs()));
    eprintln!("{text}");
    // The figures for the CI log (.ci/run prints them): libtest shows no output of a passing test.
    let _ = std::fs::write(repo_root().join(format!("target/real-hosts/report-{profile}.txt")), &text);
    assert!(out.status.success(), "the real-host harness failed on {profile}:\n{text}");
    assert!(text.contains(&format!("real-hosts {profile}: PASSED")), "{text}");
    text
}

#[test]
fn production_data_tier_converges_stays_put_and_rolls_changes_without_losing_writes() {
    let Some(mode) = mode() else {
        eprintln!("skipping: TYKGEN_REAL_HOSTS=0");
        return;
    };
    if harness_ready().is_none() {
        return;
    }
    let text = harness("production", mode, None, &[]);
    let mut steps = vec![
        "run 3 (after SENTINEL FAILOVER): changed=0",
        "run 4: log_min_duration_statement = 500ms",
        "writer during run 4:",
    ];
    if mode == "full" {
        steps.extend(["run 2: changed=0", "writer during run 5:", "run 6: changed=0"]);
    }
    for step in steps {
        assert!(text.contains(step), "no `{step}` in the report:\n{text}");
    }
}

#[test]
fn redis_cluster_nodes_converge_stay_put_and_roll_changes_without_losing_writes() {
    if mode() != Some("full") {
        eprintln!("skipping: the Redis Cluster pass runs with TYKGEN_REAL_HOSTS=all (25 minutes more)");
        return;
    }
    if harness_ready().is_none() {
        return;
    }
    // The 6 Cluster nodes; the other Redis deployments of the profile at Debian's version.
    let text = harness(
        "redis-cluster",
        "full",
        Some("^redis-[0-9]"),
        &["--set", "cache_redis.version=\"7.0\"", "--set", "analytics_redis.version=\"7.0\""],
    );
    for step in ["run 2: changed=0", "run 3 (after CLUSTER FAILOVER): changed=0", "run 6: changed=0"] {
        assert!(text.contains(step), "no `{step}` in the report:\n{text}");
    }
}
