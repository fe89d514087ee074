//! Rendering is deterministic: the same profile gives the same bytes and modes, and the committed
//! `out/` folder is what a fresh render gives (`render --check`).

use crate::common::{builtins, render_all, tree, tree_diff, tykgen};
use crate::tools::repo_root;

#[test]
fn every_builtin_renders_to_identical_bytes_twice() {
    let names = builtins();
    assert!(!names.is_empty());
    for name in &names {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        render_all(name, a.path(), &[]);
        render_all(name, b.path(), &[]);
        let first = tree(a.path());
        assert!(!first.is_empty(), "{name}: nothing rendered");
        if let Some(diff) = tree_diff(&first, &tree(b.path())) {
            panic!("{name}: two renders differ:\n{diff}");
        }
        // A third render over the first is a no-op: nothing changes on disk.
        render_all(name, a.path(), &[]);
        if let Some(diff) = tree_diff(&first, &tree(a.path())) {
            panic!("{name}: re-rendering into the same folder changed it:\n{diff}");
        }
    }
}

#[test]
fn check_passes_right_after_a_render_and_fails_after_an_edit() {
    let tmp = tempfile::tempdir().unwrap();
    render_all("lab", tmp.path(), &[]);
    tykgen().args(["render", "lab", "-t", "all", "--check", "-o"]).arg(tmp.path()).assert().success();

    let conf = tmp.path().join("lab/config/gateway-1/tyk.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(&conf, text.replacen("\"listen_port\"", "\"listen_port_edited\"", 1)).unwrap();
    let before = tree(tmp.path());
    let out = tykgen().args(["render", "lab", "-t", "all", "--check", "-o"]).arg(tmp.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "--check should fail on an edited file");
    assert!(String::from_utf8_lossy(&out.stdout).contains("listen_port_edited"), "--check should print a diff");
    assert_eq!(tree_diff(&before, &tree(tmp.path())), None, "--check wrote files");
}

/// `render --check` on the committed `out/`, for every built-in whose folder is committed.
#[test]
fn committed_out_is_up_to_date() {
    let out = repo_root().join("out");
    for name in builtins() {
        if !out.join(&name).is_dir() {
            eprintln!("skipping: out/{name} is not committed yet");
            continue;
        }
        let result = tykgen().args(["render", &name, "-t", "all", "--check", "-o", "out"]).output().unwrap();
        assert!(
            result.status.success(),
            "out/{name} is stale; run `tykgen render {name} -t all`:\n{}{}",
            String::from_utf8_lossy(&result.stdout),
            String::from_utf8_lossy(&result.stderr)
        );
    }
}
