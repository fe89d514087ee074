//! Loading a profile: built-in or file, overlays, `--set`, then a strict typed parse.
//!
//! This is the only stage that reads input files. Every problem is collected and reported at once
//! with its location; a profile that loads is fully typed, with defaults filled in.

mod merge;
mod schema;
mod typecheck;
mod types;
pub mod yaml;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use include_dir::{Dir, include_dir};

pub use typecheck::Spans;
pub use types::*;

use crate::diagnostic::{Diagnostic, Diagnostics, Loc, Source, did_you_mean};

/// The built-in profiles, embedded in the binary.
static BUILTIN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/profiles");

/// Where a profile comes from and what is layered on it.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// A path or the name of a built-in profile (`production` when absent).
    pub profile: Option<String>,
    /// Overlay files, applied in order.
    pub overlays: Vec<PathBuf>,
    /// `key.path=value` settings, applied last, in order.
    pub sets: Vec<String>,
}

/// A loaded, typed profile and where each of its keys was written.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The profile, defaults filled in.
    pub profile: Profile,
    /// Location of every key path that was written.
    pub spans: Spans,
    /// The location of the whole base profile (for problems with no better place).
    pub root: Loc,
}

impl Loaded {
    /// The location of `path` (e.g. `redis.replicas`), or of its closest written parent.
    #[must_use]
    pub fn loc(&self, path: &str) -> Loc {
        let mut p = path;
        loop {
            if let Some(loc) = self.spans.get(p) {
                return loc.clone();
            }
            match p.rfind('.') {
                Some(i) => p = &p[..i],
                None => return self.root.clone(),
            }
        }
    }

    /// True when `path` was written in a source (rather than defaulted).
    #[must_use]
    pub fn is_set(&self, path: &str) -> bool {
        self.spans.contains_key(path)
    }
}

/// The default built-in profile.
pub const DEFAULT_PROFILE: &str = "production";

/// Names and descriptions of the built-in profiles, sorted by name.
#[must_use]
pub fn builtins() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = BUILTIN
        .files()
        .filter_map(|f| {
            let name = f.path().file_stem()?.to_str()?.to_owned();
            let text = f.contents_utf8()?;
            let description = text
                .lines()
                .find_map(|l| l.strip_prefix("description:"))
                .map(|d| d.trim().trim_matches('"').to_owned())
                .unwrap_or_default();
            Some((name, description))
        })
        .collect();
    out.sort();
    out
}

/// The text of a built-in profile.
#[must_use]
pub fn builtin_text(name: &str) -> Option<&'static str> {
    BUILTIN.get_file(format!("{name}.yaml")).and_then(|f| f.contents_utf8())
}

/// Loads, merges and type-checks a profile.
///
/// # Errors
/// Every problem found, each with its location.
pub fn load(input: &Input) -> Result<Loaded, Diagnostics> {
    let mut errors = Vec::new();
    let name = input.profile.as_deref().unwrap_or(DEFAULT_PROFILE);
    let base = read_profile(name).and_then(|s| yaml::parse(&s));
    let overlays: Vec<_> =
        input.overlays.iter().map(|p| read_file(p, "overlay").and_then(|s| yaml::parse(&s))).collect();
    let sets: Vec<_> = input.sets.iter().map(|s| merge::set_overlay(s)).collect();

    let mut root = match base {
        Ok(n) => Some(n),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    for overlay in overlays.into_iter().chain(sets) {
        match (overlay, root.as_mut()) {
            (Ok(o), Some(r)) => merge::merge(r, o),
            (Ok(_), None) => {}
            (Err(e), _) => errors.push(e),
        }
    }
    let Some(root) = root.filter(|_| errors.is_empty()) else {
        return Err(Diagnostics(errors));
    };
    if !matches!(root.value, yaml::Value::Map(_)) {
        return Err(Diagnostics(vec![Diagnostic::error(
            format!("a profile must be a mapping of keys, found {}", root.describe()),
            Some(root.loc.clone()),
        )]));
    }
    let checked = typecheck::check(&root, &schema::PROFILE_SCHEMA).map_err(Diagnostics)?;
    let profile: Profile = serde_json::from_value(checked.json).map_err(|e| {
        Diagnostics(vec![Diagnostic::error(format!("the profile does not fit its types: {e}"), Some(root.loc.clone()))])
    })?;
    let mut loaded = Loaded { profile, spans: checked.spans, root: root.loc };
    crate::versions::resolve(&mut loaded).map_err(Diagnostics)?;
    Ok(loaded)
}

/// Reads a built-in profile by name, or a profile file by path.
/// True when the profile argument `name` means a built-in profile rather than a file: a built-in's
/// name that is not also the path of an existing `.yaml`/`.yml` file or of a path with a `/`.
#[must_use]
pub fn names_builtin(name: &str) -> bool {
    builtin_text(name).is_some() && !(looks_like_path(name) && Path::new(name).exists())
}

fn looks_like_path(name: &str) -> bool {
    name.contains('/') || name.ends_with(".yaml") || name.ends_with(".yml")
}

/// The most a profile read from standard input may hold.
const STDIN_LIMIT: u64 = 8 << 20;

fn read_profile(name: &str) -> Result<Arc<Source>, Diagnostic> {
    if name == "-" {
        use std::io::Read as _;
        let mut text = String::new();
        let read = std::io::stdin().lock().take(STDIN_LIMIT + 1).read_to_string(&mut text);
        return match read {
            Ok(n) if n as u64 > STDIN_LIMIT => Err(Diagnostic::error(
                format!("the profile on standard input is larger than {} MiB", STDIN_LIMIT >> 20),
                None,
            )),
            Ok(_) => Ok(Arc::new(Source { name: "<stdin>".to_owned(), text })),
            Err(e) => Err(Diagnostic::error(format!("cannot read the profile from standard input: {e}"), None)),
        };
    }
    let looks_like_path = looks_like_path(name);
    if !looks_like_path || !Path::new(name).exists() {
        if let Some(text) = builtin_text(name) {
            return Ok(Arc::new(Source { name: format!("<built-in>/profiles/{name}.yaml"), text: text.to_owned() }));
        }
        if !looks_like_path {
            let names = builtins();
            let help = did_you_mean(name, names.iter().map(|(n, _)| n.as_str())).map_or_else(
                || {
                    format!(
                        "built-in profiles: {}",
                        names.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
                    )
                },
                |n| format!("did you mean the built-in profile `{n}`?"),
            );
            return Err(Diagnostic::error(format!("no built-in profile `{name}` and no file of that name"), None)
                .with_help(help));
        }
    }
    read_file(Path::new(name), "profile")
}

/// Largest profile or overlay file tykgen reads (the largest built-in profile is a few KiB).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Reads a profile or overlay, at most [`MAX_FILE_BYTES`] (also from a pipe or a device, so
/// `tykgen check /dev/zero` stops at the limit).
fn read_file(path: &Path, what: &str) -> Result<Arc<Source>, Diagnostic> {
    use std::io::Read as _;
    let fail =
        |e: &dyn std::fmt::Display| Diagnostic::error(format!("cannot read {what} `{}`: {e}", path.display()), None);
    let file = std::fs::File::open(path).map_err(|e| fail(&e))?;
    if file.metadata().map_err(|e| fail(&e))?.is_dir() {
        return Err(fail(&"it is a folder"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| fail(&e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(fail(&format_args!(
            "it is larger than {} KiB, tykgen's limit for a profile",
            MAX_FILE_BYTES / 1024
        )));
    }
    let text = String::from_utf8(bytes).map_err(|e| fail(&format_args!("it is not UTF-8 text ({e})")))?;
    Ok(Arc::new(Source { name: path.display().to_string(), text }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Loaded, Diagnostics> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yaml");
        std::fs::write(&path, text).unwrap();
        load(&Input { profile: Some(path.display().to_string()), ..Input::default() })
    }

    const MINIMAL: &str = "name: t\ntyk: {version: \"5.8.2\", pump_version: \"1.12.0\"}\nredis: {version: \"7.2\"}\n";

    #[test]
    fn minimal_profile_gets_defaults() {
        let loaded = load_text(MINIMAL).unwrap();
        assert_eq!(loaded.profile.gateway.nodes, 2);
        assert_eq!(loaded.profile.domain, "tyk.internal");
        assert_eq!(loaded.profile.redis.version.as_str(), "7.2");
        assert_eq!(loaded.loc("redis.version").line, 3);
    }

    #[test]
    fn reports_every_problem_with_location() {
        let err = load_text(&format!("{MINIMAL}gatway: {{}}\npump: {{nodes: two}}\n")).unwrap_err();
        assert_eq!(err.0.len(), 2, "{err}");
        let text = err.to_string();
        assert!(text.contains("unknown key `gatway` in the top level"), "{text}");
        assert!(text.contains("did you mean `gateway`?"), "{text}");
        assert!(text.contains("`pump.nodes` must be a whole number, found the string \"two\""), "{text}");
    }

    #[test]
    fn bare_numbers_are_accepted_as_versions() {
        let loaded = load_text("name: t\ntyk: {version: 5.8.2, pump_version: 1.12}\nredis: {version: 7.10}\n").unwrap();
        assert_eq!(loaded.profile.redis.version.as_str(), "7.10");
        assert_eq!(loaded.profile.tyk.pump().as_str(), "1.12.2", "the line 1.12, resolved");
    }

    #[test]
    fn enum_values_suggest_the_closest() {
        let err = load_text(&MINIMAL.replace("redis: {", "redis: {mode: sentinal, ")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("must be one of `standalone`, `sentinel`, `cluster`"), "{text}");
        assert!(text.contains("did you mean `sentinel`?"), "{text}");
    }

    #[test]
    fn overlays_and_sets_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("p.yaml");
        let over = dir.path().join("o.yaml");
        std::fs::write(&base, MINIMAL).unwrap();
        std::fs::write(&over, "gateway: {nodes: 4}\nredis: {mode: sentinel}\n").unwrap();
        let loaded = load(&Input {
            profile: Some(base.display().to_string()),
            overlays: vec![over],
            sets: vec!["gateway.nodes=5".into()],
        })
        .unwrap();
        assert_eq!(loaded.profile.gateway.nodes, 5);
        assert_eq!(loaded.profile.redis.mode, RedisMode::Sentinel);
        assert_eq!(loaded.profile.redis.version.as_str(), "7.2");
    }

    #[test]
    fn set_is_type_checked() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("p.yaml");
        std::fs::write(&base, MINIMAL).unwrap();
        let err = load(&Input {
            profile: Some(base.display().to_string()),
            sets: vec!["gateway.nodes=1.5".into()],
            ..Input::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("--set:1:15"), "{err}");
    }
}
