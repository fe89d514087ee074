//! Error messages for bad profiles, snapshotted (`snapshots/integration__errors__*.snap`), and
//! the rule that a failed render leaves an existing output folder byte-for-byte untouched.
//!
//! Every case exits 1 with stderr starting with `error`; a clap usage error exits 2. The
//! fixtures are `tests/fixtures/<case>/profile.yaml`, named by a path relative to the repository
//! root so the messages are stable; any temporary path is replaced by `[TMP]`.

use std::path::Path;

use crate::common::{fixture, render_all, tree, tree_diff, tykgen};

/// Runs `tykgen render <args> -o <tmp>` and returns stderr, after checking exit code 1, that
/// stderr starts with `error`, that stdout is empty and that nothing was written.
fn render_fails(args: &[&str]) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let out = tykgen().arg("render").args(args).arg("-o").arg(tmp.path()).output().unwrap();
    let stderr = String::from_utf8(out.stderr).expect("utf-8 stderr");
    assert_eq!(out.status.code(), Some(1), "tykgen render {args:?} should exit 1; stderr:\n{stderr}");
    assert!(stderr.starts_with("error"), "stderr should start with `error`:\n{stderr}");
    assert!(out.stdout.is_empty(), "stdout should be empty: {}", String::from_utf8_lossy(&out.stdout));
    assert!(tree(tmp.path()).is_empty(), "a failed render wrote files: {:?}", tree(tmp.path()).keys());
    assert!(!stderr.contains('\x1b'), "NO_COLOR=1 but stderr has escape codes:\n{stderr}");
    normalise(&stderr, tmp.path())
}

fn normalise(text: &str, tmp: &Path) -> String {
    let text = text.replace(&tmp.display().to_string(), "[TMP]");
    match std::env::temp_dir().to_str() {
        Some(t) if !t.is_empty() && t != "/" => text.replace(t, "[TMP]"),
        _ => text,
    }
}

#[test]
fn unknown_key_suggests_the_closest() {
    let stderr = render_fails(&[&fixture("unknown_key")]);
    assert!(stderr.contains("tests/fixtures/unknown_key/profile.yaml:6:1"), "{stderr}");
    assert!(stderr.contains("did you mean `gateway`?"), "{stderr}");
    insta::assert_snapshot!(stderr);
}

#[test]
fn yaml_syntax_error_has_line_and_column() {
    let stderr = render_fails(&[&fixture("yaml_syntax")]);
    assert!(stderr.contains("tests/fixtures/yaml_syntax/profile.yaml:"), "{stderr}");
    insta::assert_snapshot!(stderr);
}

#[test]
fn wrong_type_says_what_was_expected() {
    let stderr = render_fails(&[&fixture("wrong_type")]);
    assert!(stderr.contains("tests/fixtures/wrong_type/profile.yaml:7:10"), "{stderr}");
    assert!(stderr.contains("whole number"), "{stderr}");
    insta::assert_snapshot!(stderr);
}

#[test]
fn two_problems_are_reported_in_one_run() {
    let stderr = render_fails(&[&fixture("two_problems")]);
    assert_eq!(stderr.lines().filter(|l| l.starts_with("error")).count(), 2, "{stderr}");
    assert!(stderr.contains("profile.yaml:8:3"), "{stderr}");
    assert!(stderr.contains("profile.yaml:11:16"), "{stderr}");
    insta::assert_snapshot!(stderr);
}

#[test]
fn tls_settings_conflict_with_an_old_tyk_version() {
    let stderr = render_fails(&[&fixture("tls_version_conflict")]);
    assert!(stderr.contains("5.3"), "{stderr}");
    insta::assert_snapshot!(stderr);
}

#[test]
fn missing_file_is_named() {
    let stderr = render_fails(&["tests/fixtures/no-such-case/profile.yaml"]);
    assert!(stderr.contains("tests/fixtures/no-such-case/profile.yaml"), "{stderr}");
    insta::assert_snapshot!(stderr);
}

#[test]
fn missing_overlay_is_named() {
    let stderr = render_fails(&[&fixture("good"), "-f", "tests/fixtures/no-such-case/overlay.yaml"]);
    assert!(stderr.contains("tests/fixtures/no-such-case/overlay.yaml"), "{stderr}");
    insta::assert_snapshot!(stderr);
}

#[test]
fn unknown_builtin_profile_suggests_the_closest() {
    let stderr = render_fails(&["producton"]);
    assert!(stderr.contains("`production`"), "{stderr}");
    insta::assert_snapshot!(stderr);
}

#[test]
fn set_with_a_wrong_type() {
    let stderr = render_fails(&[&fixture("good"), "--set", "gateway.nodes=1.5"]);
    assert!(stderr.contains("--set:1:15"), "{stderr}");
    insta::assert_snapshot!(stderr);
}

#[test]
fn set_without_a_value() {
    let stderr = render_fails(&[&fixture("good"), "--set", "gateway.nodes"]);
    insta::assert_snapshot!(stderr);
}

#[test]
fn set_of_an_unknown_key() {
    let stderr = render_fails(&[&fixture("good"), "--set", "gateway.nodse=3"]);
    assert!(stderr.contains("did you mean `nodes`?"), "{stderr}");
    insta::assert_snapshot!(stderr);
}

#[test]
fn usage_error_exits_2() {
    let out = tykgen().args(["render", "--no-such-flag"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error"));
    let out = tykgen().args(["render", "-t", "no-such-target"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let out = tykgen().args(["render", "--check", "--diff"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let out = tykgen().arg("no-such-command").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A render that fails (here: a structural error in a profile with the same `name`) must leave the
/// folder a previous good render wrote byte-for-byte and mode-for-mode as it was.
#[test]
fn a_bad_profile_leaves_existing_output_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    render_all(&fixture("good"), tmp.path(), &[]);
    let before = tree(tmp.path());
    assert!(before.keys().any(|k| k.starts_with("fixture/")), "the good render wrote nothing: {:?}", before.keys());

    for (profile, extra) in [
        (fixture("broken_same_name"), vec![]),
        (fixture("good"), vec!["--set", "redis.mode=cluster", "--set", "redis.shards=2"]),
        (fixture("good"), vec!["--set", "gateway.nodes=two"]),
    ] {
        let out = tykgen().args(["render", &profile, "-t", "all", "-o"]).arg(tmp.path()).args(&extra).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{profile} {extra:?}: {}", String::from_utf8_lossy(&out.stderr));
        if let Some(diff) = tree_diff(&before, &tree(tmp.path())) {
            panic!("a failed render of {profile} {extra:?} changed the output folder:\n{diff}");
        }
    }
}
