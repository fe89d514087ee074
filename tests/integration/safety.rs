//! Rendering that cannot hurt the user (issue 11): one test per attack or accident. The output
//! tests run the real binary; the symlink tests compare the folder outside the output byte for
//! byte; the crash tests `kill -9` a real render at exact points (and at timed ones) and check
//! that the next plain render finishes the job and equals a clean render.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use crate::common::{tree_diff, tykgen};
use crate::tools::repo_root;

type Tree = BTreeMap<String, (Vec<u8>, u32)>;

/// Every entry below `dir` with its bytes and mode; a symbolic link as `-> target` (never followed).
fn tree(dir: &Path) -> Tree {
    fn walk(root: &Path, dir: &Path, out: &mut Tree) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for path in entries {
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.insert(rel, (format!("-> {}", target.display()).into_bytes(), 0));
            } else if meta.is_dir() {
                out.insert(format!("{rel}/"), (Vec::new(), mode));
                walk(root, &path, out);
            } else {
                out.insert(rel, (std::fs::read(&path).unwrap(), mode));
            }
        }
    }
    let mut out = Tree::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out
}

/// The user-owned files (created once, so they keep the first render's content).
const USER_FILES: [&str; 2] = ["ansible/inventory/addresses.yml", "ansible/inventory/group_vars/all/user.yml"];

/// `tree` without the user-owned files.
fn generated(dir: &Path) -> Tree {
    let mut t = tree(dir);
    t.retain(|k, _| !USER_FILES.contains(&k.as_str()));
    t
}

/// Panics with a readable difference unless the trees are equal.
fn same(got: &Tree, want: &Tree, what: &str) {
    if let Some(d) = tree_diff(got, want) {
        panic!("{what}:\n{d}");
    }
}

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("tykgen")
}

/// `tykgen render lab -t all -o OUT ARGS...`: (success, stderr).
fn render(out: &Path, args: &[&str]) -> (bool, String) {
    let o = tykgen().args(["render", "lab", "-t", "all", "-o"]).arg(out).args(args).output().unwrap();
    (o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn render_ok(out: &Path, args: &[&str]) {
    let (ok, err) = render(out, args);
    assert!(ok, "render {args:?} failed:\n{err}");
}

/// The tree of a clean render of `lab` with `args` into a fresh folder.
fn clean(args: &[&str]) -> Tree {
    let tmp = tempfile::tempdir().unwrap();
    render_ok(tmp.path(), args);
    generated(&tmp.path().join("lab"))
}

fn victim(dir: &Path) -> PathBuf {
    let v = dir.join("victim");
    std::fs::create_dir_all(v.join("sub")).unwrap();
    std::fs::write(v.join("keep.txt"), "precious\n").unwrap();
    std::fs::write(v.join("tyk.conf"), "the victim's own tyk.conf\n").unwrap();
    std::fs::write(v.join("sub/x"), "x").unwrap();
    v
}

#[test]
fn a_link_to_a_folder_outside_is_refused_and_with_force_replaced_never_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    let v = victim(tmp.path());
    render_ok(&out, &[]);
    let gw = out.join("lab/config/gateway-1");
    std::fs::remove_dir_all(&gw).unwrap();
    std::os::unix::fs::symlink(&v, &gw).unwrap();
    let before = tree(&v);
    let inside = tree(&out);

    let (ok, err) = render(&out, &[]);
    assert!(!ok, "a render through a link must fail");
    assert!(err.contains("config/gateway-1 (a symbolic link"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(tree(&v), before, "the folder outside changed");
    assert_eq!(tree(&out), inside, "a refused render changed the output");

    render_ok(&out, &["--force"]);
    assert_eq!(tree(&v), before, "--force wrote through the link");
    assert!(std::fs::symlink_metadata(&gw).unwrap().is_dir(), "the link is now a real folder");
    same(&generated(&out.join("lab")), &clean(&[]), "--force gives a clean render");
}

#[test]
fn a_stale_manifest_entry_below_a_link_deletes_nothing_outside() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    let v = victim(tmp.path());
    render_ok(&out, &[]);
    std::os::unix::fs::symlink(&v, out.join("lab/config/gateway-9")).unwrap();
    let manifest = out.join("lab/config/.tykgen-manifest");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str(&format!("{}  0644  gateway-9/keep.txt\n", "0".repeat(64)));
    std::fs::write(&manifest, text).unwrap();
    let before = tree(&v);

    let (ok, err) = render(&out, &[]);
    assert!(!ok, "{err}");
    assert!(err.contains("config/gateway-9 (a symbolic link"), "{err}");
    assert_eq!(tree(&v), before);

    render_ok(&out, &["--force"]);
    assert_eq!(tree(&v), before, "--force deleted through the link");
    assert!(!out.join("lab/config/gateway-9").exists(), "the stale link itself is removed");
}

#[test]
fn an_edited_generated_file_refuses_every_target_and_user_owned_files_are_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    render_ok(&out, &[]);
    let hosts = out.join("lab/ansible/inventory/hosts.yml");
    let mut edited = std::fs::read_to_string(&hosts).unwrap();
    edited.push_str("# my edit\n");
    std::fs::write(&hosts, &edited).unwrap();
    let before = tree(&out);
    let (ok, err) = render(&out, &["--set", "gateway.nodes=2"]);
    assert!(!ok);
    assert!(err.contains("ansible/inventory/hosts.yml (edited since tykgen wrote it)"), "{err}");
    assert_eq!(tree(&out), before, "config/, compose/, terraform/ or the README changed although ansible/ was refused");

    // The files the README tells users to edit are theirs: kept across renders that change the topology.
    std::fs::write(&hosts, edited.trim_end_matches("# my edit\n")).unwrap();
    let addresses = out.join("lab/ansible/inventory/addresses.yml");
    let user_vars = out.join("lab/ansible/inventory/group_vars/all/user.yml");
    let mine = std::fs::read_to_string(&addresses).unwrap().replace("gateway-1.CHANGE-ME.invalid", "10.1.2.3");
    std::fs::write(&addresses, &mine).unwrap();
    std::fs::write(&user_vars, "---\ntykgen_firewall: true\n").unwrap();
    render_ok(&out, &["--set", "gateway.nodes=2"]);
    assert_eq!(std::fs::read_to_string(&addresses).unwrap(), mine);
    assert_eq!(std::fs::read_to_string(&user_vars).unwrap(), "---\ntykgen_firewall: true\n");
    assert!(std::fs::read_to_string(&hosts).unwrap().contains("gateway-2"));
    let manifest = std::fs::read_to_string(out.join("lab/ansible/.tykgen-manifest")).unwrap();
    assert!(!manifest.contains("addresses.yml") && !manifest.contains("user.yml"), "user files are not tykgen's");
    // --check does not call the user's edits drift.
    let o = tykgen()
        .args(["render", "lab", "-t", "all", "--check", "--set", "gateway.nodes=2", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn a_permission_error_part_way_changes_nothing() {
    let Ok(setpriv) = which("setpriv") else {
        eprintln!("skipped: setpriv (util-linux) not found");
        return;
    };
    if rustix::process::getuid().as_raw() != 0 {
        eprintln!("skipped: needs root to run the render as another user");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = tmp.path().join("o");
    render_ok(&out, &[]);
    let status = Command::new("chown").args(["-R", "65534:65534"]).arg(&out).status().unwrap();
    assert!(status.success());
    // terraform/ comes late in path order: a render that writes in order would have changed the rest.
    std::fs::set_permissions(out.join("lab/terraform"), std::fs::Permissions::from_mode(0o555)).unwrap();
    let before = tree(&out);
    let o = Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin())
        .args(["render", "lab", "-t", "all", "--set", "gateway.nodes=2", "-o"])
        .arg(&out)
        .current_dir(repo_root())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("permission denied") && err.contains("lab/terraform"), "{err}");
    assert_eq!(tree(&out), before, "part of the render was written");
}

fn which(name: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|p| p.is_file()))
        .ok_or(())
}

#[test]
fn concurrent_renders_into_one_folder_serialise() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    let spawn = |n: u32| {
        Command::new(bin())
            .args(["render", "lab", "-t", "all", "--set", &format!("gateway.nodes={n}"), "-o"])
            .arg(&out)
            .current_dir(repo_root())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (spawn(30), spawn(31));
    assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    let got = generated(&out.join("lab"));
    let (c30, c31) = (clean(&["--set", "gateway.nodes=30"]), clean(&["--set", "gateway.nodes=31"]));
    assert!(got == c30 || got == c31, "the result matches neither render:\n{:?}", tree_diff(&got, &c31));
    assert!(!tree(&out.join("lab")).keys().any(|k| k.contains(".tykgen-staging") || k.contains("journal")));
}

/// Waits (bounded) until `child` has stopped itself (the `TYKGEN_TEST_STOP_AT` hook).
fn wait_stopped(child: &Child) {
    let stat = format!("/proc/{}/stat", child.id());
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        let s = std::fs::read_to_string(&stat).unwrap_or_default();
        if s.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('T')) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the render did not reach its stop point");
}

fn copy_tree(from: &Path, to: &Path) {
    let status = Command::new("cp").arg("-a").arg(from).arg(to).status().unwrap();
    assert!(status.success());
}

#[test]
fn kill_9_at_every_stage_then_a_plain_render_finishes() {
    // A re-render (each file staged and moved on its own), then a first render into an empty
    // folder (each target's folder staged whole and moved in one step).
    for first in [false, true] {
        kill_9_at_every_stage(first);
    }
}

fn kill_9_at_every_stage(first: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    if first {
        std::fs::create_dir(&base).unwrap();
    } else {
        render_ok(&base, &[]);
    }
    let new_args = ["--set", "gateway.nodes=3", "--set", "pump.nodes=0"];
    let want = clean(&new_args);
    let spawn_stop = |out: &Path, at: &str| {
        let child = Command::new(bin())
            .args(["render", "lab", "-t", "all", "-o"])
            .arg(out)
            .args(new_args)
            .env("TYKGEN_TEST_STOP_AT", at)
            .current_dir(repo_root())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        wait_stopped(&child);
        child
    };
    // How many commit steps: the journal of a render stopped just before its commit.
    let probe = tmp.path().join("probe");
    copy_tree(&base, &probe);
    let mut child = spawn_stop(&probe, "commit");
    let journal = std::fs::read_to_string(probe.join("lab/.tykgen-journal.tmp")).unwrap();
    let steps = journal.lines().count() - 2;
    child.kill().unwrap();
    child.wait().unwrap();
    if first {
        assert_eq!(journal.lines().filter(|l| l.starts_with("puttree ")).count(), 4, "{journal}");
        assert!(steps >= 4, "{journal}");
    } else {
        assert!(steps > 10, "{steps}");
    }

    for at in ["stage".to_owned(), "commit".to_owned(), "1".into(), (steps / 2).to_string(), steps.to_string()] {
        let what = format!("{} killed at {at}", if first { "first render" } else { "re-render" });
        let out = tmp.path().join(format!("o-{at}"));
        copy_tree(&base, &out);
        let mut child = spawn_stop(&out, &at);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let left = generated(&out.join("lab"));
        assert!(left != want, "{what}: the render had finished");
        // Old tree or the new one, once the next plain render has run; no --force, nothing left over.
        let (ok, err) = render(&out, &new_args);
        assert!(ok, "{what}: the next render failed:\n{err}");
        assert!(err.contains("had been interrupted"), "{what}: {err}");
        same(&generated(&out.join("lab")), &want, &what);
        assert!(!tree(&out.join("lab")).keys().any(|k| k.contains(".tykgen-staging")), "{what}: a stage is left");
        if !first {
            for f in USER_FILES {
                assert_eq!(
                    std::fs::read(out.join("lab").join(f)).unwrap(),
                    std::fs::read(base.join("lab").join(f)).unwrap()
                );
            }
        }
    }
}

#[test]
fn kill_9_at_timed_points_of_a_large_render() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["--set", "gateway.nodes=300"];
    let want = clean(&args);
    for delay in [100, 400, 900] {
        let out = tmp.path().join(format!("o-{delay}"));
        render_ok(&out, &[]);
        let mut child = Command::new(bin())
            .args(["render", "lab", "-t", "all", "-o"])
            .arg(&out)
            .args(args)
            .current_dir(repo_root())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap();
        child.wait().unwrap();
        render_ok(&out, &args);
        same(&generated(&out.join("lab")), &want, &format!("after a kill at {delay} ms"));
    }
}

#[test]
fn a_corrupt_manifest_says_how_to_recover_and_force_rebuilds_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    render_ok(&out, &[]);
    let manifest = out.join("lab/compose/.tykgen-manifest");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, format!("<<<<<<< HEAD\n{text}=======\n>>>>>>> other\n")).unwrap();
    let (ok, err) = render(&out, &[]);
    assert!(!ok);
    assert!(err.contains("compose/.tykgen-manifest:1: not a tykgen manifest line"), "{err}");
    assert!(err.contains("--force"), "{err}");
    render_ok(&out, &["--force"]);
    same(&generated(&out.join("lab")), &clean(&[]), "after --force");
}

/// `tykgen check lab --set ARGS...`: (success, stdout+stderr).
fn check(args: &[&str]) -> (bool, String) {
    let mut cmd = tykgen();
    cmd.args(["check", "lab"]);
    for a in args {
        cmd.args(["--set", a]);
    }
    let o = cmd.output().unwrap();
    (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

#[test]
fn an_alias_bomb_is_an_error_not_gigabytes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut text =
        String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    for (prev, name) in ["a", "b", "c", "d", "e", "f"].iter().zip(["b", "c", "d", "e", "f", "g"]) {
        text.push_str(&format!("{name}: &{name} [{}]\n", vec![format!("*{prev}"); 10].join(",")));
    }
    let path = tmp.path().join("bomb.yaml");
    std::fs::write(&path, &text).unwrap();
    let o = tykgen().arg("check").arg(&path).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!o.status.success());
    assert!(out.contains("more than 100000 values"), "{out}");
    assert!(out.contains("bomb.yaml:5:"), "located: {out}");
}

#[test]
fn a_256_by_8_cluster_is_refused_by_its_size() {
    let (ok, out) =
        check(&["redis.mode=cluster", "redis.shards=256", "redis.replicas_per_shard=8", "gateway.nodes=5000"]);
    assert!(!ok);
    assert!(out.contains("Redis Cluster of 2304 nodes"), "{out}");
    // Links are linear in machines: no link cap, and this one error is the whole report.
    assert!(!out.contains("links"), "{out}");
    assert!(out.contains("--> --set:"), "located: {out}");
}

#[test]
fn check_of_a_device_reads_a_bounded_amount() {
    let o = tykgen().args(["check", "/dev/zero"]).timeout(Duration::from_secs(20)).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("larger than 1024 KiB"));
}

#[test]
fn integers_outside_64_bits_are_errors() {
    for n in ["18446744073709551615", "-9223372036854775809", "0x1ffffffffffffffff"] {
        let (ok, out) = check(&[&format!("extra_config.gateway.n={n}")]);
        assert!(!ok, "{n}");
        assert!(out.contains("outside the 64-bit range"), "{n}: {out}");
    }
}

#[test]
fn extra_config_cannot_carry_secrets_or_replace_modelled_keys() {
    let (ok, out) = check(&["extra_config.gateway={secret: s3cr3t, storage: 5}"]);
    assert!(!ok);
    assert!(out.contains("would write a secret into a rendered file"), "{out}");
    assert!(out.contains("`storage` is set by tykgen from the profile: use `redis` instead"), "{out}");
    let (ok, out) = check(&["extra_config.dashboard.mongo_url=mongodb://u:p@db:27017/tyk"]);
    assert!(!ok && out.contains("credentials in a connection string"), "{out}");
    // A key tykgen does not model is what extra_config is for; override is the explicit escape hatch.
    let (ok, out) = check(&["extra_config.gateway.some_new_option=1"]);
    assert!(ok, "{out}");
    let (ok, out) = check(&["extra_config.override.gateway.log_level=debug"]);
    assert!(ok && out.contains("warning[TYK-SEC-EXTRA-OVERRIDE]"), "{out}");
    let (ok, out) = check(&["extra_config.override.gateway.node_secret=x"]);
    assert!(!ok && out.contains("would write a secret"), "{out}");
}

#[test]
fn addresses_and_the_compose_subnet_are_validated_by_check() {
    for (set, want) in [
        ("machines.gateway-1.address=1.2.3.4:80", "has a port"),
        ("machines.gateway-1.address=999.999.999.999", "not a valid IPv4 address"),
        ("machines.gateway-1.address='[fd00::1]:80'", "must be an IP address or a DNS name"),
        ("machines.gateway-1.address=-bad-.example", "must be an IP address or a DNS name"),
        ("targets.compose.subnet=8.8.8.0/24", "not a private range"),
        ("targets.compose.subnet=10.0.0.0/33", "has a /33 prefix"),
    ] {
        let (ok, out) = check(&[set]);
        assert!(!ok, "{set}: {out}");
        assert!(out.contains(want), "{set}: {out}");
        assert!(out.contains("--> --set:1:"), "{set}: not located: {out}");
    }
    for ok_set in ["machines.gateway-1.address=10.0.0.5", "machines.gateway-1.address=gw1.example.internal"] {
        let (ok, out) = check(&[ok_set]);
        assert!(ok, "{ok_set}: {out}");
    }
}

/// `tykgen lab-secrets lab -o OUT`: (success, stderr).
fn lab_secrets(out: &Path) -> (bool, String) {
    let o = tykgen().args(["lab-secrets", "lab", "-o"]).arg(out).output().unwrap();
    (o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn lab_secrets_never_write_through_a_link() {
    // Each place lab-secrets writes, replaced by a link to a folder (or file) outside.
    for (at, kind) in [("compose", "dir"), ("compose/signing", "dir"), ("compose/.env", "file")] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("o");
        let v = victim(tmp.path());
        render_ok(&out, &[]);
        let link = out.join("lab").join(at);
        if link.is_dir() {
            std::fs::remove_dir_all(&link).unwrap();
        }
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        let target = if kind == "dir" { v.clone() } else { v.join("keep.txt") };
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let before = tree(&v);
        let inside = tree(&out);
        let (ok, err) = lab_secrets(&out);
        assert!(!ok, "{at}: lab-secrets through a link must fail");
        assert!(err.contains(&format!("{at} is a symbolic link")), "{at}: {err}");
        same(&tree(&v), &before, &format!("{at}: the folder outside changed"));
        same(&tree(&out), &inside, &format!("{at}: a refused lab-secrets changed the output"));
    }
}

#[test]
fn lab_secrets_wait_for_a_render_holding_the_lock() {
    let Ok(flock) = which("flock") else {
        eprintln!("skipped: no flock(1)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    render_ok(&out, &[]);
    // flock(1) takes the same flock(2) lock a render holds on the profile folder.
    let mut holder = Command::new(flock).arg("-x").arg(out.join("lab")).args(["sleep", "3"]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let start = Instant::now();
    let (ok, err) = lab_secrets(&out);
    assert!(ok, "{err}");
    assert!(err.contains("waiting for another tykgen"), "lab-secrets did not wait: {err}");
    assert!(start.elapsed() >= Duration::from_secs(2), "lab-secrets ran while the lock was held");
    assert!(holder.wait().unwrap().success());
    assert!(out.join("lab/compose/.env").is_file());
}

/// Writes `DIR/templates/ansible/README.md.tera`: an override of the Ansible project's README
/// that fails to render.
fn failing_ansible_readme(dir: &Path) {
    let templates = dir.join("templates/ansible");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(templates.join("README.md.tera"), "{{ no_such_value.here }}\n").unwrap();
}

/// Each set is staged as soon as it is rendered: a template that fails in the last target, after
/// the README and `config` were staged, still leaves nothing (no folder it created, no stage),
/// and a folder from an earlier render exactly as it was.
#[test]
fn a_template_failing_after_other_sets_were_staged_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    failing_ansible_readme(tmp.path());
    let failing = |out: &Path| {
        let o = tykgen()
            .args(["render", "lab", "-t", "all", "--templates"])
            .arg(tmp.path().join("templates"))
            .arg("-o")
            .arg(out)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!o.status.success() && err.contains("ansible/README.md.tera"), "{err}");
    };
    let fresh = tmp.path().join("fresh/out");
    failing(&fresh);
    assert!(!tmp.path().join("fresh").exists(), "{:?}", tree(&tmp.path().join("fresh")).keys().collect::<Vec<_>>());

    let out = tmp.path().join("out");
    render_ok(&out, &["--set", "gateway.nodes=3"]);
    let before = tree(&out);
    failing(&out);
    same(&tree(&out), &before, "after a failed render");
}

/// With --force, a link where the profile folder goes is replaced by a real folder, but only by
/// a render that succeeds: one whose template fails leaves the link (and what it points to).
#[test]
fn a_failed_forced_render_keeps_the_link_at_the_profile_folder() {
    let tmp = tempfile::tempdir().unwrap();
    failing_ansible_readme(tmp.path());
    let (out, elsewhere) = (tmp.path().join("out"), tmp.path().join("elsewhere"));
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("mine.txt"), "keep\n").unwrap();
    std::os::unix::fs::symlink(&elsewhere, out.join("lab")).unwrap();
    let before = (tree(&out), tree(&elsewhere));
    let o = tykgen()
        .args(["render", "lab", "-t", "all", "--force", "--templates"])
        .arg(tmp.path().join("templates"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success() && err.contains("ansible/README.md.tera"), "{err}");
    same(&tree(&out), &before.0, "the link");
    same(&tree(&elsewhere), &before.1, "what it points to");
    // Without the failing template, --force replaces the link by a real folder.
    let (ok, err) = render(&out, &["--force"]);
    assert!(ok, "{err}");
    assert!(std::fs::symlink_metadata(out.join("lab")).unwrap().is_dir());
    same(&tree(&elsewhere), &before.1, "what it pointed to");
}

/// A large render holds few descriptors at once: it works under a limit of 64 open files, the
/// size of a process's first descriptor table (growing that table while other threads run makes
/// the kernel wait for an RCU grace period, which once cost a 100-Gateway render 10 ms), the
/// first time and over its own earlier output.
#[test]
fn a_large_render_fits_in_64_descriptors() {
    let tmp = tempfile::tempdir().unwrap();
    for pass in ["first", "second"] {
        let o = Command::new("sh")
            .args(["-c", "ulimit -n 64 && exec \"$0\" \"$@\"", env!("CARGO_BIN_EXE_tykgen")])
            .args(["render", "production", "-q", "--set", "gateway.nodes=300", "-o"])
            .arg(tmp.path())
            .current_dir(repo_root())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(o.status.success(), "{pass} render: {}", String::from_utf8_lossy(&o.stderr));
    }
    assert!(tmp.path().join("production/config/gateway-300/tyk.conf").is_file());
}
