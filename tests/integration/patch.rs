//! `render --diff` is one patch for the whole profile folder: GNU `patch -p1`, run in the old
//! folder, turns it into what the render writes (byte for byte, permissions included), and the
//! render's summary counts the same created, changed and deleted files. `--check` names the exact
//! command that updates the folder, and that command does.

use std::path::Path;
use std::process::Command as Process;
use std::time::Duration;

use crate::common::{tree, tree_diff, tykgen};
use crate::tools::{command, run, tool};

/// Copies the folder `from` to `to` (files, folders, permissions).
fn copy_tree(from: &Path, to: &Path) {
    let out = run(Process::new("cp").arg("-a").arg(from).arg(to), Duration::from_secs(60));
    assert!(out.status.success(), "cp -a: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_diff_is_a_patch_that_turns_the_old_folder_into_the_new_one() {
    let Some(patch) = tool("patch", "apt-get install patch (.ci/run)") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let old = tmp.path().join("old");
    let o = |dir: &Path| dir.join("out").to_string_lossy().into_owned();
    tykgen().args(["render", "production", "-q", "-o", &o(&old)]).assert().success();
    let folder = old.join("out/production");
    // By hand: an edited file and a deleted one.
    let readme = folder.join("compose/README.md");
    let text = std::fs::read_to_string(&readme).unwrap();
    std::fs::write(&readme, text.replacen("## Reach it", "## Reach it (edited)", 1)).unwrap();
    std::fs::remove_file(folder.join("config/gateway-1/tyk.conf")).unwrap();

    // The change: a Gateway more (new files, changed ones) and no database replica (deleted ones).
    let change = ["--set", "gateway.nodes=3", "--set", "database.replicas=0"];
    let diff = tykgen().args(["render", "production", "-o", &o(&old), "--diff"]).args(change).output().unwrap();
    assert!(diff.status.success(), "{}", String::from_utf8_lossy(&diff.stderr));
    let text = String::from_utf8(diff.stdout).unwrap();
    for part in [
        "--- /dev/null\n+++ b/config/gateway-3/tyk.conf\n",
        "--- a/config/postgres-2/postgresql.conf\n+++ /dev/null\n",
        "--- /dev/null\n+++ b/config/gateway-1/tyk.conf\n",
        "--- a/compose/README.md\n+++ b/compose/README.md\n",
        "-## Reach it (edited)\n",
    ] {
        assert!(text.contains(part), "the patch has no {part:?}");
    }
    assert!(!text.lines().any(|l| l.starts_with("missing: ") || l.starts_with("stale (")), "old notes in the patch");

    // The patch, applied by GNU patch to a copy of the old folder ...
    let patched = tmp.path().join("patched");
    copy_tree(&old, &patched);
    let the_diff = tmp.path().join("the.diff");
    std::fs::write(&the_diff, &text).unwrap();
    let out = run(
        command(&patch)
            .current_dir(patched.join("out/production"))
            .args(["-p1", "--batch", "--forward", "--no-backup-if-mismatch", "-i"])
            .arg(&the_diff),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "patch -p1 failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // ... equals the render into another copy (--force: the edited file is overwritten).
    let rendered = tmp.path().join("rendered");
    copy_tree(&old, &rendered);
    let said = tykgen().args(["render", "production", "--force", "-o", &o(&rendered)]).args(change).output().unwrap();
    assert!(said.status.success(), "{}", String::from_utf8_lossy(&said.stderr));
    if let Some(d) = tree_diff(&tree(&patched), &tree(&rendered)) {
        panic!("the patched folder differs from the rendered one:\n{d}");
    }
    // The summary counts what the patch does (manifests aside).
    let (mut created, mut changed, mut deleted) = (0, 0, 0);
    for part in text.split("diff --git a/").skip(1) {
        let path = part.split(' ').next().unwrap();
        if path.ends_with(".tykgen-manifest") {
            continue;
        }
        match part.lines().nth(1).unwrap_or("") {
            l if l.starts_with("new file mode") => created += 1,
            l if l.starts_with("deleted file mode") => deleted += 1,
            _ => changed += 1,
        }
    }
    let stderr = String::from_utf8_lossy(&said.stderr);
    let summary = format!("{created} created, {changed} changed, {deleted} deleted");
    let said = stderr.lines().find(|l| l.starts_with("rendered production into")).unwrap_or_default();
    assert!(said.contains(&summary), "expected `{summary}` in:\n{stderr}");
    assert!(deleted > 0 && created > 1 && changed > 1, "{summary}");

    // Compared with a render into an empty folder, only the files that are the user's differ
    // (created once by the first render, never rewritten).
    let fresh = tmp.path().join("fresh");
    tykgen().args(["render", "production", "-q", "-o", &o(&fresh)]).args(change).assert().success();
    let d = tree_diff(&tree(&patched), &tree(&fresh)).unwrap_or_default();
    assert!(d.lines().all(|l| l.ends_with("ansible/inventory/addresses.yml")), "{d}");

    // Nothing left to do.
    tykgen().args(["render", "production", "-o", &o(&patched), "--check"]).args(change).assert().success();
}

#[test]
fn check_names_the_command_that_updates_the_folder() {
    let tmp = tempfile::tempdir().unwrap();
    tykgen().current_dir(tmp.path()).args(["init", "--from", "lab", "my.yaml"]).assert().success();
    tykgen().current_dir(tmp.path()).args(["render", "my.yaml", "-q"]).assert().success();
    let inside = tmp.path().join("out/my/compose");
    for (dir, args) in [
        (tmp.path(), &["render", "my.yaml", "-f", "more.yaml", "--set", "gateway.nodes=2", "-t", "compose"][..]),
        (inside.as_path(), &["render", "--set", "pump.nodes=0"][..]),
    ] {
        std::fs::write(tmp.path().join("more.yaml"), "description: \"more\"\n").unwrap();
        let out = tykgen().current_dir(dir).args(args).arg("--check").output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let command = stderr
            .split("update it with `")
            .nth(1)
            .and_then(|r| r.split('`').next())
            .unwrap_or_else(|| panic!("{stderr}"));
        assert_eq!(command, format!("tykgen {}", args.join(" ")), "{stderr}");
        // The command, run where --check ran, brings the folder up to date.
        let bin = Path::new(env!("CARGO_BIN_EXE_tykgen")).parent().unwrap().to_path_buf();
        let path =
            std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())))
                .unwrap();
        let ran = run(
            Process::new("bash").current_dir(dir).env("PATH", path).args(["-c", command]),
            Duration::from_secs(120),
        );
        assert!(ran.status.success(), "{command}: {}", String::from_utf8_lossy(&ran.stderr));
        tykgen().current_dir(dir).args(args).arg("--check").assert().success();
    }
}
