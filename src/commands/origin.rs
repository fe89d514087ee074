//! Where a rendered folder came from: `OUT/<profile>/tykgen-source.json` records the profile (a
//! built-in's name, or the file's path relative to the folder), its overlays and its `--set`s,
//! so that `tykgen render` and `tykgen lab-secrets` run from anywhere inside the folder, with no
//! argument, render and write exactly where the READMEs say.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

use crate::cli::ProfileArgs;
use crate::profile;

/// The file, in the profile's output folder.
pub(super) const FILE: &str = "tykgen-source.json";

/// How far up from the current folder `tykgen-source.json` is looked for.
const MAX_DEPTH: usize = 8;

/// The record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Origin {
    /// A built-in profile's name, or the profile file relative to the output folder.
    profile: String,
    /// True for a built-in profile.
    builtin: bool,
    /// Overlay files (`-f`), relative to the output folder.
    values: Vec<String>,
    /// `--set` arguments, in order.
    set: Vec<String>,
}

/// What the profile arguments resolve to.
pub(super) struct Resolved {
    /// The pipeline's input.
    pub(super) input: profile::Input,
    /// The rendered folder the input was read from (its parent is the output root).
    pub(super) folder: Option<PathBuf>,
}

impl Resolved {
    /// The output root: `-o`, else the parent of the rendered folder we are in, else `out`.
    pub(super) fn out(&self, given: Option<&Path>) -> PathBuf {
        match (given, &self.folder) {
            (Some(o), _) => o.to_path_buf(),
            (None, Some(folder)) => folder.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf),
            (None, None) => PathBuf::from("out"),
        }
    }
}

/// `path` relative to `base`, both made absolute lexically (no symbolic link is resolved).
fn relative(path: &Path, base: &Path) -> PathBuf {
    let (Ok(path), Ok(base)) = (std::path::absolute(path), std::path::absolute(base)) else {
        return path.to_path_buf();
    };
    fn norm(p: &Path) -> Vec<Component<'_>> {
        let mut out: Vec<Component<'_>> = Vec::new();
        for c in p.components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                    out.pop();
                }
                c => out.push(c),
            }
        }
        out
    }
    let (p, b) = (norm(&path), norm(&base));
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut rel = PathBuf::new();
    for _ in common..b.len() {
        rel.push("..");
    }
    for c in &p[common..] {
        rel.push(c.as_os_str());
    }
    rel
}

/// The `tykgen-source.json` text for `input` rendered into `folder`.
pub(super) fn record(input: &profile::Input, folder: &Path) -> anyhow::Result<String> {
    let name = input.profile.as_deref().unwrap_or(profile::DEFAULT_PROFILE);
    let builtin = profile::names_builtin(name);
    let rel = |p: &Path| relative(p, folder).to_string_lossy().into_owned();
    let origin = Origin {
        profile: if builtin { name.to_owned() } else { rel(Path::new(name)) },
        builtin,
        values: input.overlays.iter().map(|p| rel(p)).collect(),
        set: input.sets.clone(),
    };
    Ok(serde_json::to_string_pretty(&origin)? + "\n")
}

/// The rendered folder at or above `start`, with its record.
fn discover(start: &Path) -> anyhow::Result<Option<(PathBuf, Origin)>> {
    let mut dir = std::path::absolute(start).with_context(|| format!("reading the folder `{}`", start.display()))?;
    for _ in 0..MAX_DEPTH {
        let file = dir.join(FILE);
        if file.is_file() {
            let text = fs_err::read_to_string(&file)?;
            let origin: Origin = serde_json::from_str(&text).with_context(|| {
                format!("`{}` is not a record tykgen wrote; render the profile again", file.display())
            })?;
            return Ok(Some((dir, origin)));
        }
        if !dir.pop() {
            break;
        }
    }
    Ok(None)
}

fn from_origin(folder: PathBuf, origin: Origin, args: &ProfileArgs) -> Resolved {
    let path = |p: &str| {
        let joined = folder.join(p);
        // Relative to the current folder when possible, so messages show short paths.
        std::env::current_dir().map_or_else(|_| joined.clone(), |cwd| relative(&joined, &cwd))
    };
    let profile = if origin.builtin { origin.profile } else { path(&origin.profile).to_string_lossy().into_owned() };
    // What the command line adds comes after the record's; an earlier copy of the same overlay or
    // `--set` changes nothing (the later one is applied again over it), so it is dropped and
    // running the same command again records the same thing.
    let same_file = |a: &Path, b: &Path| std::path::absolute(a).ok() == std::path::absolute(b).ok();
    let mut overlays: Vec<PathBuf> = origin.values.iter().map(|v| path(v)).collect();
    overlays.retain(|o| !args.values.iter().any(|v| same_file(o, v)));
    overlays.extend(args.values.iter().cloned());
    let mut sets = origin.set;
    sets.retain(|s| !args.set.contains(s));
    sets.extend(args.set.iter().cloned());
    Resolved { input: profile::Input { profile: Some(profile), overlays, sets }, folder: Some(folder) }
}

/// Resolves the profile arguments: a profile named on the command line; else the profile of the
/// rendered folder the current folder is in; else the default built-in. A folder given as the
/// profile means the rendered folder at or above it.
pub(super) fn resolve(args: &ProfileArgs) -> anyhow::Result<Resolved> {
    let given = |name: &str| Resolved {
        input: profile::Input { profile: Some(name.to_owned()), overlays: args.values.clone(), sets: args.set.clone() },
        folder: None,
    };
    match args.profile.as_deref() {
        Some(name) if Path::new(name).is_dir() => match discover(Path::new(name))? {
            Some((folder, origin)) => Ok(from_origin(folder, origin, args)),
            None => bail!(
                "`{name}` is a folder, not a profile: give a profile file or a built-in name, or a folder that `tykgen render` wrote (it has a `{FILE}`)"
            ),
        },
        Some(name) => {
            if profile::names_builtin(name) && Path::new(name).is_file() {
                eprintln!(
                    "note: `{name}` is the built-in profile of that name; for the file in this folder, write `./{name}`"
                );
            }
            Ok(given(name))
        }
        None => match discover(Path::new("."))? {
            Some((folder, origin)) => Ok(from_origin(folder, origin, args)),
            None => Ok(given(profile::DEFAULT_PROFILE)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::relative;
    use std::path::Path;

    #[test]
    fn relative_paths_go_up_and_down() {
        assert_eq!(relative(Path::new("/a/b/my.yaml"), Path::new("/a/out/my")), Path::new("../../b/my.yaml"));
        assert_eq!(relative(Path::new("/a/out/my/x"), Path::new("/a/out/my")), Path::new("x"));
        assert_eq!(relative(Path::new("/a/./b/../c.yaml"), Path::new("/a")), Path::new("c.yaml"));
    }
}
