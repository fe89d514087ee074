//! The only code that writes generated files. A [`FileSet`] holds every rendered file in
//! memory; [`write`] applies it to an output directory atomically and idempotently, and
//! [`drift`] reports how the directory differs from it (for `--check` / `--diff`).
//!
//! `write` keeps a manifest, `<root>/.tykgen-manifest`, with one line per file it wrote:
//! `sha256  mode  path` (sorted, no timestamps). The manifest is how tykgen tells its own files
//! from the user's: a file on disk that is not in the manifest, or whose bytes no longer match
//! the manifest's hash, was written or edited by someone else and is never overwritten or
//! removed without `force`. All such conflicts are found before anything is written, so a
//! refused run leaves the directory byte-for-byte as it was.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use sha2::{Digest as _, Sha256};

/// Name of the manifest file inside the output root.
pub const MANIFEST: &str = ".tykgen-manifest";

/// Permissions of a generated file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileMode {
    /// 0644: ordinary files.
    Normal,
    /// 0600: private keys and anything holding a secret.
    Private,
    /// 0755: scripts.
    Executable,
}

impl FileMode {
    /// The Unix permission bits.
    pub fn bits(self) -> u32 {
        match self {
            FileMode::Normal => 0o644,
            FileMode::Private => 0o600,
            FileMode::Executable => 0o755,
        }
    }

    fn from_bits(bits: u32) -> Option<Self> {
        [FileMode::Normal, FileMode::Private, FileMode::Executable].into_iter().find(|m| m.bits() == bits)
    }
}

/// Rendered files keyed by relative, `/`-separated path, in sorted order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileSet {
    files: BTreeMap<String, (Vec<u8>, FileMode)>,
}

impl FileSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file. Fails on a duplicate path or a path that is not a plain relative path
    /// (absolute, `..`, `.`, empty segments, backslashes, control characters, or the manifest).
    pub fn add(&mut self, path: impl Into<String>, contents: impl Into<Vec<u8>>, mode: FileMode) -> anyhow::Result<()> {
        let path = path.into();
        check_path(&path)?;
        if self.files.contains_key(&path) {
            bail!("two generated files have the same path `{path}`");
        }
        self.files.insert(path, (contents.into(), mode));
        Ok(())
    }

    /// Moves every file of `other` into this set under `prefix/` (an empty prefix merges at
    /// the root). Fails, without adding anything, on a bad prefix or any duplicate path.
    pub fn merge_under(&mut self, prefix: &str, other: FileSet) -> anyhow::Result<()> {
        let prefix = prefix.trim_end_matches('/');
        if !prefix.is_empty() {
            check_path(prefix)?;
        }
        let joined: Vec<_> = other
            .files
            .into_iter()
            .map(|(path, file)| {
                let path = if prefix.is_empty() { path } else { format!("{prefix}/{path}") };
                (path, file)
            })
            .collect();
        if let Some((dup, _)) = joined.iter().find(|(p, _)| self.files.contains_key(p)) {
            bail!("two generated files have the same path `{dup}`");
        }
        for (path, _) in &joined {
            check_path(path)?;
        }
        self.files.extend(joined);
        Ok(())
    }

    /// Files in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8], FileMode)> {
        self.files.iter().map(|(p, (c, m))| (p.as_str(), c.as_slice(), *m))
    }

    /// The contents and mode of one file.
    pub fn get(&self, path: &str) -> Option<(&[u8], FileMode)> {
        self.files.get(path).map(|(c, m)| (c.as_slice(), *m))
    }

    /// Number of files.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Number of files.
    #[must_use]
    pub fn len(&self) -> usize {
        self.files.len()
    }
}

fn check_path(path: &str) -> anyhow::Result<()> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path.chars().any(char::is_control)
        || path.split('/').any(|seg| matches!(seg, "" | "." | ".."))
        || path == MANIFEST;
    if bad {
        bail!("`{}` is not a valid relative output path", path.escape_debug());
    }
    Ok(())
}

/// What [`write`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// Files created or replaced (or whose permissions were corrected).
    pub written: usize,
    /// Files already byte-for-byte up to date.
    pub unchanged: usize,
    /// Files from the previous run that are no longer generated, now deleted.
    pub removed: usize,
}

/// How one path differs between a [`FileSet`] and the disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drift {
    /// Relative, `/`-separated path.
    pub path: String,
    /// What differs.
    pub kind: DriftKind,
}

/// The kinds of [`Drift`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DriftKind {
    /// Generated but absent on disk.
    Missing,
    /// On disk with other bytes (or other permissions); a unified diff from disk to generated.
    Changed {
        /// `--- a/path` / `+++ b/path` unified diff, or a one-line note for binary or mode changes.
        unified_diff: String,
    },
    /// In the manifest of the previous run but no longer generated.
    Stale,
}

/// One line of the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    sha256: String,
    mode: FileMode,
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn render_manifest(set: &FileSet) -> String {
    set.iter().fold(String::new(), |mut s, (path, contents, mode)| {
        let _ = writeln!(s, "{}  {:04o}  {path}", sha256_hex(contents), mode.bits());
        s
    })
}

fn read_manifest(root: &Path) -> anyhow::Result<BTreeMap<String, Entry>> {
    let path = root.join(MANIFEST);
    let text = match fs_err::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(e.into()),
    };
    let mut entries = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let parsed = line.split_once("  ").and_then(|(hash, rest)| {
            let (mode, file) = rest.split_once("  ")?;
            let mode = FileMode::from_bits(u32::from_str_radix(mode, 8).ok()?)?;
            let ok = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
            (ok && check_path(file).is_ok())
                .then(|| (file.to_owned(), Entry { sha256: hash.to_ascii_lowercase(), mode }))
        });
        let (file, entry) =
            parsed.with_context(|| format!("{}:{}: not a tykgen manifest line: {line:?}", path.display(), i + 1))?;
        entries.insert(file, entry);
    }
    Ok(entries)
}

/// The bytes at `path`, or `None` if nothing is there. A directory where a file should be is
/// an error.
fn read_existing(path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    match fs_err::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
        Ok(meta) if meta.is_dir() => bail!("{} is a directory, expected a file", path.display()),
        Ok(_) => Ok(Some(fs_err::read(path)?)),
    }
}

#[cfg(unix)]
fn disk_mode(path: &Path) -> anyhow::Result<Option<u32>> {
    use std::os::unix::fs::PermissionsExt as _;
    Ok(Some(fs_err::metadata(path)?.permissions().mode() & 0o777))
}

#[cfg(not(unix))]
fn disk_mode(_: &Path) -> anyhow::Result<Option<u32>> {
    Ok(None)
}

#[cfg(unix)]
fn set_mode(file: &std::fs::File, path: &Path, mode: FileMode) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    file.set_permissions(std::fs::Permissions::from_mode(mode.bits()))
        .with_context(|| format!("setting permissions of {}", path.display()))
}

#[cfg(not(unix))]
fn set_mode(_: &std::fs::File, _: &Path, _: FileMode) -> anyhow::Result<()> {
    Ok(())
}

/// Corrects the permissions of an existing file without touching its contents or mtime.
#[cfg(unix)]
fn fix_mode(path: &Path, mode: FileMode) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode.bits()))?;
    Ok(())
}

#[cfg(not(unix))]
fn fix_mode(_: &Path, _: FileMode) -> anyhow::Result<()> {
    Ok(())
}

fn disk_path(root: &Path, rel: &str) -> PathBuf {
    rel.split('/').fold(root.to_path_buf(), |p, seg| p.join(seg))
}

/// Writes `contents` to `path` atomically: a temporary file in the same directory, with its
/// permissions set first, renamed over the target.
fn write_atomic(path: &Path, contents: &[u8], mode: FileMode) -> anyhow::Result<()> {
    // INVARIANT: every path here is `root` joined with at least one segment.
    let dir = path.parent().expect("output paths have a parent");
    fs_err::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(contents).with_context(|| format!("writing {}", path.display()))?;
    set_mode(tmp.as_file(), path, mode)?;
    tmp.persist(path).map_err(|e| e.error).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

/// Removes now-empty directories from `dir` up to, but not including, `root`.
fn prune_empty_dirs(root: &Path, mut dir: &Path) -> anyhow::Result<()> {
    while dir != root && dir.starts_with(root) {
        if fs_err::read_dir(dir)?.next().is_some() {
            break;
        }
        fs_err::remove_dir(dir)?;
        match dir.parent() {
            Some(parent) => dir = parent,
            None => break,
        }
    }
    Ok(())
}

enum Action {
    Unchanged,
    FixMode,
    Write,
}

/// Applies `set` to `root` (created if needed); see the module docs for the rules.
///
/// Without `force`, fails before writing anything if a file to be replaced or removed was not
/// written by tykgen or was edited since; the error lists every such path.
pub fn write(root: &Path, set: &FileSet, force: bool) -> anyhow::Result<WriteReport> {
    let previous = read_manifest(root)?;
    let mut plan = Vec::with_capacity(set.len());
    let mut conflicts = Vec::new();

    for (rel, contents, mode) in set.iter() {
        let path = disk_path(root, rel);
        let action = match read_existing(&path)? {
            None => Action::Write,
            Some(old) if old == contents => {
                if disk_mode(&path)?.is_some_and(|m| m != mode.bits()) {
                    Action::FixMode
                } else {
                    Action::Unchanged
                }
            }
            Some(old) => {
                match previous.get(rel) {
                    None => conflicts.push(format!("{rel} (not written by tykgen)")),
                    Some(e) if e.sha256 != sha256_hex(&old) => {
                        conflicts.push(format!("{rel} (edited since tykgen wrote it)"));
                    }
                    Some(_) => {}
                }
                Action::Write
            }
        };
        plan.push((path, contents, mode, action));
    }

    let mut stale = Vec::new();
    for (rel, entry) in &previous {
        if set.get(rel).is_some() {
            continue;
        }
        let path = disk_path(root, rel);
        if let Some(old) = read_existing(&path)? {
            if sha256_hex(&old) != entry.sha256 {
                conflicts.push(format!("{rel} (no longer generated, but edited since tykgen wrote it)"));
            }
            stale.push(path);
        }
    }

    if !conflicts.is_empty() && !force {
        bail!(
            "refusing to overwrite {} file(s) in {} (use --force to overwrite):\n  {}",
            conflicts.len(),
            root.display(),
            conflicts.join("\n  ")
        );
    }

    fs_err::create_dir_all(root)?;
    let mut report = WriteReport::default();
    for (path, contents, mode, action) in plan {
        match action {
            Action::Unchanged => report.unchanged += 1,
            Action::FixMode => {
                fix_mode(&path, mode)?;
                report.written += 1;
            }
            Action::Write => {
                write_atomic(&path, contents, mode)?;
                report.written += 1;
            }
        }
    }
    for path in stale {
        fs_err::remove_file(&path)?;
        report.removed += 1;
        if let Some(dir) = path.parent() {
            prune_empty_dirs(root, dir)?;
        }
    }

    let manifest = render_manifest(set);
    let manifest_path = root.join(MANIFEST);
    if read_existing(&manifest_path)?.as_deref() != Some(manifest.as_bytes()) {
        write_atomic(&manifest_path, manifest.as_bytes(), FileMode::Normal)?;
    }
    Ok(report)
}

/// True if the bytes are not text we can diff line by line.
fn is_binary(bytes: &[u8]) -> bool {
    bytes.contains(&0) || std::str::from_utf8(bytes).is_err()
}

fn unified_diff(rel: &str, old: &[u8], new: &[u8]) -> String {
    match (std::str::from_utf8(old), std::str::from_utf8(new)) {
        (Ok(old), Ok(new)) if !is_binary(old.as_bytes()) && !is_binary(new.as_bytes()) => {
            similar::TextDiff::from_lines(old, new)
                .unified_diff()
                .context_radius(3)
                .header(&format!("a/{rel}"), &format!("b/{rel}"))
                .to_string()
        }
        _ => format!("binary files a/{rel} and b/{rel} differ\n"),
    }
}

/// Compares `set` with what is under `root`, in path order: generated files that are missing or
/// different, and files of the previous run (per the manifest) that are no longer generated.
/// The manifest's own contents are ignored.
pub fn drift(root: &Path, set: &FileSet) -> anyhow::Result<Vec<Drift>> {
    let previous = read_manifest(root)?;
    let mut out = Vec::new();
    for (rel, contents, mode) in set.iter() {
        let path = disk_path(root, rel);
        let kind = match read_existing(&path)? {
            None => Some(DriftKind::Missing),
            Some(old) if old != contents => {
                Some(DriftKind::Changed { unified_diff: unified_diff(rel, &old, contents) })
            }
            Some(_) => match disk_mode(&path)? {
                Some(m) if m != mode.bits() => Some(DriftKind::Changed {
                    unified_diff: format!("mode of {rel} changed: {m:04o} -> {:04o}\n", mode.bits()),
                }),
                _ => None,
            },
        };
        if let Some(kind) = kind {
            out.push(Drift { path: rel.to_owned(), kind });
        }
    }
    for rel in previous.keys().filter(|rel| set.get(rel).is_none()) {
        out.push(Drift { path: rel.clone(), kind: DriftKind::Stale });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::time::{Duration, SystemTime};

    fn set(files: &[(&str, &str, FileMode)]) -> FileSet {
        let mut s = FileSet::new();
        for (p, c, m) in files {
            s.add(*p, *c, *m).unwrap();
        }
        s
    }

    fn base() -> FileSet {
        set(&[
            ("a.txt", "one\n", FileMode::Normal),
            ("dir/sub/b.txt", "two\n", FileMode::Normal),
            ("keys/server.key", "secret\n", FileMode::Private),
            ("run.sh", "#!/bin/sh\n", FileMode::Executable),
        ])
    }

    /// Every file under `root` with its bytes, for byte-for-byte comparisons.
    fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.insert(p.clone(), fs::read(&p).unwrap());
                }
            }
        }
        out
    }

    #[test]
    fn add_rejects_bad_and_duplicate_paths() {
        let mut s = FileSet::new();
        for bad in ["", "/etc/x", "../x", "a/../b", "a//b", "./a", "a\\b", "a\nb", MANIFEST, "a/"] {
            assert!(s.add(bad, "x", FileMode::Normal).is_err(), "{bad:?}");
        }
        s.add("a/b", "x", FileMode::Normal).unwrap();
        let err = s.add("a/b", "y", FileMode::Normal).unwrap_err();
        assert!(err.to_string().contains("a/b"));
        assert_eq!(s.get("a/b"), Some((&b"x"[..], FileMode::Normal)));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn merge_under_prefixes_and_rejects_duplicates() {
        let mut all = set(&[("compose/x", "0", FileMode::Normal)]);
        all.merge_under("terraform", set(&[("main.tf", "1", FileMode::Normal)])).unwrap();
        let paths: Vec<_> = all.iter().map(|(p, _, _)| p.to_owned()).collect();
        assert_eq!(paths, ["compose/x", "terraform/main.tf"]);
        let before = all.clone();
        let err =
            all.merge_under("compose", set(&[("y", "", FileMode::Normal), ("x", "", FileMode::Normal)])).unwrap_err();
        assert!(err.to_string().contains("compose/x"), "{err}");
        assert_eq!(all, before, "nothing merged on error");
        assert!(all.merge_under("../up", FileSet::new()).is_err());
    }

    #[test]
    fn first_write_then_unchanged_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("out");
        let r = write(&root, &base(), false).unwrap();
        assert_eq!(r, WriteReport { written: 4, unchanged: 0, removed: 0 });
        assert_eq!(fs::read_to_string(root.join("dir/sub/b.txt")).unwrap(), "two\n");

        let manifest = fs::read_to_string(root.join(MANIFEST)).unwrap();
        let lines: Vec<_> = manifest.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], format!("{}  0644  a.txt", sha256_hex(b"one\n")));
        assert!(lines[2].ends_with("  0600  keys/server.key"));
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

        // Backdate everything, rewrite, and check nothing was touched.
        let old = SystemTime::now() - Duration::from_secs(3600);
        for p in snapshot(&root).keys() {
            fs::File::options().write(true).open(p).unwrap().set_modified(old).unwrap();
        }
        let r = write(&root, &base(), false).unwrap();
        assert_eq!(r, WriteReport { written: 0, unchanged: 4, removed: 0 });
        for p in snapshot(&root).keys() {
            assert_eq!(fs::metadata(p).unwrap().modified().unwrap(), old, "{}", p.display());
        }
        assert!(drift(&root, &base()).unwrap().is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn modes_are_applied_and_repaired() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, &base(), false).unwrap();
        let mode = |p: &str| fs::metadata(root.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("a.txt"), 0o644);
        assert_eq!(mode("keys/server.key"), 0o600);
        assert_eq!(mode("run.sh"), 0o755);

        fs::set_permissions(root.join("keys/server.key"), fs::Permissions::from_mode(0o644)).unwrap();
        let d = drift(root, &base()).unwrap();
        assert_eq!(d.len(), 1);
        assert!(matches!(&d[0].kind, DriftKind::Changed { unified_diff } if unified_diff.contains("0644 -> 0600")));
        let r = write(root, &base(), false).unwrap();
        assert_eq!(r, WriteReport { written: 1, unchanged: 3, removed: 0 });
        assert_eq!(mode("keys/server.key"), 0o600);
    }

    #[test]
    fn stale_files_are_removed_and_dirs_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, &base(), false).unwrap();
        fs::write(root.join("dir/user-notes.txt"), "mine").unwrap();
        let smaller = set(&[("a.txt", "one\n", FileMode::Normal)]);

        let d = drift(root, &smaller).unwrap();
        let kinds: Vec<_> = d.iter().map(|d| (d.path.as_str(), &d.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("dir/sub/b.txt", &DriftKind::Stale),
                ("keys/server.key", &DriftKind::Stale),
                ("run.sh", &DriftKind::Stale),
            ]
        );

        let r = write(root, &smaller, false).unwrap();
        assert_eq!(r, WriteReport { written: 0, unchanged: 1, removed: 3 });
        assert!(!root.join("dir/sub").exists(), "empty dir pruned");
        assert!(!root.join("keys").exists(), "empty dir pruned");
        assert!(root.join("dir/user-notes.txt").exists(), "user file kept");
        assert_eq!(
            fs::read_to_string(root.join(MANIFEST)).unwrap(),
            format!("{}  0644  a.txt\n", sha256_hex(b"one\n"))
        );
        assert!(drift(root, &smaller).unwrap().is_empty());
    }

    #[test]
    fn refuses_user_files_and_user_edits_without_writing_anything() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, &base(), false).unwrap();
        fs::write(root.join("a.txt"), "edited by hand\n").unwrap();
        fs::write(root.join("new.txt"), "the user's own\n").unwrap();
        fs::write(root.join("run.sh"), "edited stale\n").unwrap();
        let before = snapshot(root);

        let mut next = set(&[
            ("a.txt", "one v2\n", FileMode::Normal),
            ("new.txt", "generated\n", FileMode::Normal),
            ("dir/sub/b.txt", "two v2\n", FileMode::Normal),
            ("fresh/c.txt", "three\n", FileMode::Normal),
        ]);
        next.add("keys/server.key", "secret\n", FileMode::Private).unwrap();
        let err = write(root, &next, false).unwrap_err().to_string();
        for p in ["a.txt (edited", "new.txt (not written", "run.sh (no longer"] {
            assert!(err.contains(p), "{p} missing in {err}");
        }
        assert!(err.contains("3 file(s)"), "{err}");
        assert!(!err.contains("dir/sub/b.txt"), "{err}");
        assert_eq!(snapshot(root), before, "disk untouched after refusal");

        let r = write(root, &next, true).unwrap();
        assert_eq!(r, WriteReport { written: 4, unchanged: 1, removed: 1 });
        assert_eq!(fs::read_to_string(root.join("a.txt")).unwrap(), "one v2\n");
        assert_eq!(fs::read_to_string(root.join("new.txt")).unwrap(), "generated\n");
        assert!(!root.join("run.sh").exists());
        assert!(drift(root, &next).unwrap().is_empty());
    }

    #[test]
    fn identical_user_file_is_adopted() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.txt"), "one\n").unwrap();
        let s = set(&[("a.txt", "one\n", FileMode::Normal)]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(dir.path().join("a.txt"), fs::Permissions::from_mode(0o644)).unwrap();
        }
        let r = write(dir.path(), &s, false).unwrap();
        assert_eq!(r, WriteReport { written: 0, unchanged: 1, removed: 0 });
        assert!(fs::read_to_string(dir.path().join(MANIFEST)).unwrap().ends_with("  a.txt\n"));
    }

    #[test]
    fn drift_reports_missing_changed_and_binary() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let v1 =
            set(&[("bin.dat", "\0\x01", FileMode::Normal), ("t.txt", "1\n2\n3\n4\n5\n6\n7\n8\n9\n", FileMode::Normal)]);
        write(root, &v1, false).unwrap();
        let v2 = set(&[
            ("bin.dat", "\0\x02", FileMode::Normal),
            ("gone.txt", "x\n", FileMode::Normal),
            ("t.txt", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n", FileMode::Normal),
        ]);
        let d = drift(root, &v2).unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].path, "bin.dat");
        assert_eq!(
            d[0].kind,
            DriftKind::Changed { unified_diff: "binary files a/bin.dat and b/bin.dat differ\n".into() }
        );
        assert_eq!(d[1], Drift { path: "gone.txt".into(), kind: DriftKind::Missing });
        assert_eq!(
            d[2].kind,
            DriftKind::Changed {
                unified_diff: "--- a/t.txt\n+++ b/t.txt\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n".into()
            }
        );
    }

    #[test]
    fn corrupt_manifest_is_an_error_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(MANIFEST), "garbage\n").unwrap();
        let err = format!("{:#}", write(dir.path(), &base(), false).unwrap_err());
        assert!(err.contains(".tykgen-manifest:1:"), "{err}");
    }
}
