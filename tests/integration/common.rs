//! Helpers shared by the integration-test modules: running the binary, the built-in profiles,
//! fixtures, and reading a rendered output folder back.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

use crate::tools::repo_root;

/// The `tykgen` binary, run from the repository root with colours off.
pub(crate) fn tykgen() -> Command {
    let mut cmd = Command::cargo_bin("tykgen").expect("the tykgen binary is built");
    cmd.current_dir(repo_root()).env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE");
    cmd
}

/// `tests/fixtures/<case>/profile.yaml`, relative to the repository root (so messages show a stable path).
pub(crate) fn fixture(case: &str) -> String {
    let rel = format!("tests/fixtures/{case}/profile.yaml");
    assert!(repo_root().join(&rel).is_file(), "fixture {rel} is missing");
    rel
}

/// The names of the built-in profiles, as `tykgen profiles` lists them.
pub(crate) fn builtins() -> Vec<String> {
    let out = tykgen().arg("profiles").output().expect("tykgen profiles runs");
    assert!(out.status.success(), "tykgen profiles failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// Renders `profile` with `-t all` (plus `extra` arguments) into `out`; panics unless it succeeds.
pub(crate) fn render_all(profile: &str, out: &Path, extra: &[&str]) {
    let output = tykgen()
        .args(["render", profile, "-t", "all", "-o"])
        .arg(out)
        .args(extra)
        .output()
        .expect("tykgen render runs");
    assert!(
        output.status.success(),
        "tykgen render {profile} -t all failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Every file under `dir` (recursively) by `/`-separated relative path, with its bytes and mode bits.
/// Directories are listed too (with empty contents), so an added or removed folder is seen.
pub(crate) fn tree(dir: &Path) -> BTreeMap<String, (Vec<u8>, u32)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (Vec<u8>, u32)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).expect("readable dir").map(|e| e.unwrap().path()).collect();
        entries.sort();
        for path in entries {
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            let mode = meta.permissions().mode() & 0o7777;
            if meta.is_dir() {
                out.insert(format!("{rel}/"), (Vec::new(), mode));
                walk(root, &path, out);
            } else {
                out.insert(rel, (std::fs::read(&path).unwrap(), mode));
            }
        }
    }
    let mut out = BTreeMap::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out
}

/// Every file under `dir` (recursively), for tests that open files by kind.
pub(crate) fn files(dir: &Path) -> Vec<PathBuf> {
    tree(dir).into_keys().filter(|k| !k.ends_with('/')).map(|k| dir.join(k)).collect()
}

/// The files of `dir` whose name is `name`.
pub(crate) fn files_named(dir: &Path, name: &str) -> Vec<PathBuf> {
    files(dir).into_iter().filter(|p| p.file_name().is_some_and(|n| n == name)).collect()
}

/// Parses a JSON file, naming it on failure.
pub(crate) fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// A description of how two trees differ, or `None` when equal (bytes and modes).
pub(crate) fn tree_diff(a: &BTreeMap<String, (Vec<u8>, u32)>, b: &BTreeMap<String, (Vec<u8>, u32)>) -> Option<String> {
    let mut text = String::new();
    for (k, (bytes, mode)) in a {
        match b.get(k) {
            None => text.push_str(&format!("only in the first: {k}\n")),
            Some((b2, _)) if b2 != bytes => text.push_str(&format!("bytes differ: {k}\n")),
            Some((_, m2)) if m2 != mode => text.push_str(&format!("mode differs: {k} {mode:o} vs {m2:o}\n")),
            Some(_) => {}
        }
    }
    for k in b.keys().filter(|k| !a.contains_key(*k)) {
        text.push_str(&format!("only in the second: {k}\n"));
    }
    (!text.is_empty()).then_some(text)
}
