//! Fuzz target: the whole in-memory pipeline (load, validate, check, topology, configuration,
//! every target) on one profile text, optionally followed by `--set` lines after a line `---set`.
//! Errors are fine; a panic, a hang (libFuzzer `-timeout`) or runaway memory (`-rss_limit_mb`)
//! is a bug. Nothing is written but the input file in a private temporary folder.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tykgen::profile::Input;
use tykgen::targets::Target;

fn scratch() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary folder")).path()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (profile, sets) = text.split_once("\n---set\n").unwrap_or((text, ""));
    let path = scratch().join("profile.yaml");
    std::fs::write(&path, profile).expect("the scratch file is writable");
    let input = Input {
        profile: Some(path.display().to_string()),
        overlays: Vec::new(),
        sets: sets.lines().filter(|l| !l.is_empty()).take(8).map(str::to_owned).collect(),
    };
    let _ = tykgen::render_profile(&input, Target::All, None);
});
