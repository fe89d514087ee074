//! The only code that writes generated files. A [`FileSet`] holds one folder's rendered files in
//! memory; a [`Transaction`] applies the file sets of one profile folder (its README and one set
//! per target) as one transaction, staging each set as soon as it is rendered ([`write_all`]
//! when they are all at hand), and [`drift`] reports how the disk differs (for `--check`).
//!
//! Each set's folder keeps a manifest, `.tykgen-manifest`, one line per file it wrote:
//! `sha256  mode  path` (sorted, no timestamps). The manifest is how tykgen tells its own files
//! from the user's: a file on disk that is not in the manifest, or whose bytes no longer match
//! the manifest's hash, was written or edited by someone else and is never overwritten or
//! removed without `force`.
//!
//! Safety rules, all decided before anything is written:
//! - nothing follows a symbolic link below the profile folder ([`tree`] opens every component
//!   with `O_NOFOLLOW`); a link, FIFO or device where tykgen writes is a refusal naming it, and
//!   with `force` it is replaced, never followed;
//! - every refusal of every set is found before the commit; a refused render, or one that fails
//!   part-way (a template error in a later target), changes nothing: what it staged, and the
//!   folders it created, are removed;
//! - the new files are staged in `.tykgen-staging/`, then a journal (`.tykgen-journal`, written
//!   and renamed into place: the commit point) lists every step; the steps are idempotent, so
//!   after a crash the next render replays a committed journal (the new tree) or deletes an
//!   uncommitted stage (the old tree) before doing anything else;
//! - the profile folder is locked with `flock` on the folder itself (no lock file to leave
//!   behind): a second render into it waits, and `--check` takes a shared lock;
//! - user-owned files ([`FileSet::add_user`]: the files a README tells users to edit) are
//!   created once when absent and never rewritten, removed or listed in the manifest.

mod tree;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, bail};
use sha2::{Digest as _, Sha256};

use crate::fast_hash::FastMap;
use tree::{Found, Tree};

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

    pub(crate) fn from_bits(bits: u32) -> Option<Self> {
        [FileMode::Normal, FileMode::Private, FileMode::Executable].into_iter().find(|m| m.bits() == bits)
    }
}

/// The bytes of one file. Shared, not copied: a machine's configuration file is the same
/// bytes in the config, compose and Ansible sets, and a rendered template's text becomes a
/// file's bytes as it is (`compose.yaml` is megabytes at thousands of machines: a copy of it
/// would be the largest thing a render holds).
#[derive(Clone)]
pub struct Contents(Bytes);

#[derive(Clone)]
enum Bytes {
    /// Shared with whatever else holds them (the bundle's files).
    Shared(Arc<[u8]>),
    /// A rendered text's own buffer.
    Owned(Arc<Vec<u8>>),
}

impl std::ops::Deref for Contents {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            Bytes::Shared(bytes) => bytes,
            Bytes::Owned(bytes) => bytes,
        }
    }
}

impl PartialEq for Contents {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Contents {}

impl std::fmt::Debug for Contents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

/// What a file's bytes are made from.
pub trait IntoContents {
    /// The bytes, shared.
    fn into_contents(self) -> Contents;
}

impl IntoContents for Contents {
    fn into_contents(self) -> Contents {
        self
    }
}

impl IntoContents for Arc<str> {
    fn into_contents(self) -> Contents {
        Contents(Bytes::Shared(self.into()))
    }
}

impl IntoContents for String {
    fn into_contents(self) -> Contents {
        self.into_bytes().into_contents()
    }
}

impl IntoContents for Vec<u8> {
    fn into_contents(mut self) -> Contents {
        // A rendered text's buffer grew by doubling: its spare room goes back (in place).
        self.shrink_to_fit();
        Contents(Bytes::Owned(Arc::new(self)))
    }
}

impl IntoContents for &str {
    fn into_contents(self) -> Contents {
        self.as_bytes().into_contents()
    }
}

impl IntoContents for &[u8] {
    fn into_contents(self) -> Contents {
        Contents(Bytes::Shared(self.into()))
    }
}

/// Rendered files keyed by relative, `/`-separated path, in sorted order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileSet {
    files: BTreeMap<String, (Contents, FileMode)>,
    /// Create-once files that belong to the user (see [`FileSet::add_user`]).
    user: BTreeMap<String, (Contents, FileMode)>,
}

impl FileSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file. Fails on a duplicate path or a path that is not a plain relative path
    /// (absolute, `..`, `.`, empty segments, backslashes, control characters, or the manifest).
    pub fn add(&mut self, path: impl Into<String>, contents: impl IntoContents, mode: FileMode) -> anyhow::Result<()> {
        let path = path.into();
        check_path(&path)?;
        if self.files.contains_key(&path) || self.user.contains_key(&path) {
            bail!("two generated files have the same path `{path}`");
        }
        self.files.insert(path, (contents.into_contents(), mode));
        Ok(())
    }

    /// Adds a file that belongs to the user: one the README tells them to edit. It is written
    /// only when nothing is at its path, never rewritten or removed, and not in the manifest;
    /// `contents` is only its first version.
    pub fn add_user(
        &mut self,
        path: impl Into<String>,
        contents: impl IntoContents,
        mode: FileMode,
    ) -> anyhow::Result<()> {
        let path = path.into();
        check_path(&path)?;
        if self.files.contains_key(&path) || self.user.contains_key(&path) {
            bail!("two generated files have the same path `{path}`");
        }
        self.user.insert(path, (contents.into_contents(), mode));
        Ok(())
    }

    /// The user-owned files, in path order.
    pub fn user_files(&self) -> impl Iterator<Item = (&str, &[u8], FileMode)> {
        self.user.iter().map(|(p, (c, m))| (p.as_str(), &**c, *m))
    }

    /// Moves every file of `other` into this set under `prefix/` (an empty prefix merges at
    /// the root). Fails, without adding anything, on a bad prefix or any duplicate path.
    pub fn merge_under(&mut self, prefix: &str, other: FileSet) -> anyhow::Result<()> {
        let prefix = prefix.trim_end_matches('/');
        if !prefix.is_empty() {
            check_path(prefix)?;
        }
        let join = |files: BTreeMap<String, (Contents, FileMode)>| -> Vec<_> {
            files
                .into_iter()
                .map(|(path, file)| {
                    let path = if prefix.is_empty() { path } else { format!("{prefix}/{path}") };
                    (path, file)
                })
                .collect()
        };
        let joined = join(other.files);
        let user = join(other.user);
        let taken = |p: &String| self.files.contains_key(p) || self.user.contains_key(p);
        if let Some((dup, _)) = joined.iter().chain(&user).find(|(p, _)| taken(p)) {
            bail!("two generated files have the same path `{dup}`");
        }
        for (path, _) in joined.iter().chain(&user) {
            check_path(path)?;
        }
        self.files.extend(joined);
        self.user.extend(user);
        Ok(())
    }

    /// Files in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8], FileMode)> {
        self.files.iter().map(|(p, (c, m))| (p.as_str(), &**c, *m))
    }

    /// The contents and mode of one file.
    pub fn get(&self, path: &str) -> Option<(&[u8], FileMode)> {
        self.files.get(path).map(|(c, m)| (&**c, *m))
    }

    /// True when there are no files.
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
        || path.len() > 4096
        || path == MANIFEST
        || path.split('/').any(|seg| seg.starts_with(".tykgen-"));
    if bad {
        bail!("`{}` is not a valid relative output path", path.escape_debug());
    }
    Ok(())
}

/// What [`write_all`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// Files created or replaced (or whose permissions were corrected).
    pub written: usize,
    /// Files already byte-for-byte up to date.
    pub unchanged: usize,
    /// Files from the previous run that are no longer generated, now deleted.
    pub removed: usize,
}

/// What a render changes in a folder, for its summary: files it creates, changes (contents,
/// permissions, or something else in their place) and deletes. Manifests are not counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub created: usize,
    pub changed: usize,
    pub deleted: usize,
}

impl Changes {
    /// The changes a drift lists.
    pub fn of<'a>(drift: impl IntoIterator<Item = &'a Drift>) -> Self {
        let mut c = Self::default();
        for d in drift {
            match d.kind {
                DriftKind::Missing => c.created += 1,
                DriftKind::Changed | DriftKind::Blocked(_) => c.changed += 1,
                DriftKind::Stale => c.deleted += 1,
                DriftKind::Manifest => {}
            }
        }
        c
    }

    /// Both together.
    #[must_use]
    pub fn plus(self, other: &Self) -> Self {
        Self {
            created: self.created + other.created,
            changed: self.changed + other.changed,
            deleted: self.deleted + other.deleted,
        }
    }
}

/// How one path differs between a [`FileSet`] and the disk: what a render would change there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drift {
    /// Relative, `/`-separated path (relative to the profile folder for [`drift_all`]).
    pub path: String,
    /// What differs.
    pub kind: DriftKind,
    /// The file on disk: bytes and permission bits (none when missing or not a file, and
    /// always none from [`drift_summary`]).
    pub old: Option<(Vec<u8>, u32)>,
    /// What a render writes there (none when it deletes the file): the set's own bytes, shared.
    pub new: Option<(Contents, u32)>,
}

/// The kinds of [`Drift`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DriftKind {
    /// Generated but absent on disk: a render creates it.
    Missing,
    /// On disk with other bytes or other permissions: a render rewrites it.
    Changed,
    /// Written by the previous run (per its manifest) but no longer generated: a render deletes it.
    Stale,
    /// Not a file where tykgen writes one (a folder, a link, a FIFO, a file where a folder goes):
    /// a render refuses it without `--force`; the note says what is there.
    Blocked(String),
    /// A set's manifest, which a render rewrites with its files (not counted as one of them).
    Manifest,
}

/// One line of the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    sha256: String,
    mode: FileMode,
}

/// The SHA-256 of `bytes` in lowercase hex (by table: `write!` per byte cost as much as
/// the hashing itself).
fn sha256_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    Sha256::digest(bytes)
        .iter()
        .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]])
        .map(char::from)
        .collect()
}

fn render_manifest(set: &FileSet) -> String {
    // Files of a set often share one allocation (every Gateway's `tyk.conf`): each is hashed
    // once. The set keeps every allocation alive, so an address stands for one content here.
    let mut hashes: FastMap<(*const u8, usize), String> = FastMap::default();
    set.iter().fold(String::new(), |mut s, (path, contents, mode)| {
        let hash = hashes.entry((contents.as_ptr(), contents.len())).or_insert_with(|| sha256_hex(contents));
        let _ = writeln!(s, "{hash}  {:04o}  {path}", mode.bits());
        s
    })
}

/// Names used inside a profile folder for the transaction (never generated paths: see
/// `check_path`).
const STAGING: &str = ".tykgen-staging";
const JOURNAL: &str = ".tykgen-journal";
const JOURNAL_TMP: &str = ".tykgen-journal.tmp";
const LINK_NOTE: &str = "tykgen never writes through a symbolic link";

/// The folder of `path` ("" for a path at the top).
fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// `dir/rel`, or `rel` for the profile folder itself.
fn join(dir: &str, rel: &str) -> String {
    if dir.is_empty() { rel.to_owned() } else { format!("{dir}/{rel}") }
}

/// The entries of the manifest of the set in `dir` (none where there is none). A manifest that
/// does not parse (a merge conflict, a truncated copy) is an error that says how to recover;
/// with `force` it is `None`: what it listed is unknown, so every file is then treated as the
/// user's and overwritten.
fn read_manifest(tree: &Tree, dir: &str, force: bool) -> anyhow::Result<Option<BTreeMap<String, Entry>>> {
    let rel = join(dir, MANIFEST);
    let text = match tree.lookup(&rel).with_context(|| format!("reading {}", tree.show(&rel)))? {
        Found::Missing => return Ok(Some(BTreeMap::new())),
        Found::File(bytes, _) => bytes,
        Found::Dir => bail!("{} is a folder, expected tykgen's manifest", tree.show(&rel)),
        // Not read through a link; planning reports what is in the way.
        Found::Special(_) | Found::Blocked(..) => return Ok(Some(BTreeMap::new())),
    };
    match parse_manifest(&text) {
        Ok(entries) => Ok(Some(entries)),
        Err(_) if force => Ok(None),
        Err((line, text)) => bail!(
            "{}:{line}: not a tykgen manifest line: {text:?}\n  help: the manifest lists the files tykgen \
             wrote; restore it (e.g. `git checkout -- {}`), or render with --force to overwrite every \
             generated file and write a new one",
            tree.show(&rel),
            rel
        ),
    }
}

fn parse_manifest(bytes: &[u8]) -> Result<BTreeMap<String, Entry>, (usize, String)> {
    let text = std::str::from_utf8(bytes).map_err(|_| (1, "<not UTF-8>".to_owned()))?;
    let mut entries = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let parsed = line.split_once("  ").and_then(|(hash, rest)| {
            let (mode, file) = rest.split_once("  ")?;
            let mode = FileMode::from_bits(u32::from_str_radix(mode, 8).ok()?)?;
            let ok = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
            (ok && check_path(file).is_ok())
                .then(|| (file.to_owned(), Entry { sha256: hash.to_ascii_lowercase(), mode }))
        });
        let (file, entry) = parsed.ok_or_else(|| (i + 1, line.chars().take(200).collect::<String>()))?;
        entries.insert(file, entry);
    }
    Ok(entries)
}

/// One step of a commit. Each is idempotent, so a journal can be replayed after a crash.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    /// Remove the non-folder entry at the path (a link itself, a stale file).
    Remove(String),
    /// Create the folder.
    Mkdir(String),
    /// Move staged file number `n` to the path.
    Put(usize, String),
    /// Move staged folder number `n` (a whole set's folder, staged when it did not exist) to
    /// the path.
    PutTree(usize, String),
    /// Remove the folder if it is empty.
    Prune(String),
}

impl Step {
    fn line(&self) -> String {
        match self {
            Step::Remove(p) => format!("remove {p}"),
            Step::Mkdir(p) => format!("mkdir {p}"),
            Step::Put(n, p) => format!("put {n} {p}"),
            Step::PutTree(n, p) => format!("puttree {n} {p}"),
            Step::Prune(p) => format!("prune {p}"),
        }
    }

    /// Parses a journal line; paths are checked again here, at use.
    fn parse(line: &str) -> Option<Step> {
        let (verb, rest) = line.split_once(' ')?;
        let ok = |p: &str| check_path(p).is_ok().then(|| p.to_owned());
        match verb {
            "remove" => ok(rest).map(Step::Remove),
            "mkdir" => ok(rest).map(Step::Mkdir),
            "prune" => ok(rest).map(Step::Prune),
            "puttree" => {
                let (n, p) = rest.split_once(' ')?;
                Some(Step::PutTree(n.parse().ok()?, ok(p)?))
            }
            "put" => {
                let (n, p) = rest.split_once(' ')?;
                // A generated path, or a set's manifest.
                let (dir, file) = p.rsplit_once('/').unwrap_or(("", p));
                let path_ok =
                    check_path(p).is_ok() || (file == MANIFEST && (dir.is_empty() || check_path(dir).is_ok()));
                path_ok.then(|| Some(Step::Put(n.parse().ok()?, p.to_owned()))).flatten()
            }
            _ => None,
        }
    }
}

/// A file of a staged folder: its path in the folder, contents and mode.
type StagedFile<'a> = (&'a str, Cow<'a, [u8]>, u32);

/// Everything a render will do, decided before anything is written.
#[derive(Default)]
struct Plan<'a> {
    steps: Vec<Step>,
    /// Staged contents, by number: the file sets' own bytes (never a copy), or a manifest.
    staged: Vec<(Cow<'a, [u8]>, u32)>,
    /// Staged folders, by number: `(path in the folder, contents, mode)` of each file.
    trees: Vec<Vec<StagedFile<'a>>>,
    conflicts: Vec<String>,
    /// Folders (existing) that steps change, to check they are writable.
    touched: BTreeSet<String>,
    made: BTreeSet<String>,
    removed: BTreeSet<String>,
    report: WriteReport,
    /// Of the files `report` counts as written, those that are new (the others change).
    created: usize,
    /// The set's manifest was unreadable and `--force` ignores it: what it listed is unknown,
    /// and so is what the render deletes.
    manifest_lost: bool,
}

impl<'a> Plan<'a> {
    /// Makes sure every folder above `path` is a real folder: missing ones are created, a link
    /// or file in the way is a conflict (with `force`, removed and replaced by a folder).
    fn folders_for(&mut self, tree: &Tree, path: &str) -> anyhow::Result<()> {
        let Some((dir, _)) = path.rsplit_once('/') else { return Ok(()) };
        let mut prefix = String::new();
        for seg in dir.split('/') {
            let parent = prefix.clone();
            prefix = join(&parent, seg);
            if self.made.contains(&prefix) {
                continue;
            }
            // Below a folder this render creates, nothing is there yet.
            let found = if self.made.contains(&parent) {
                Found::Missing
            } else {
                tree.lookup(&prefix).with_context(|| format!("reading {}", tree.show(&prefix)))?
            };
            match found {
                Found::Dir => continue,
                Found::Missing => {}
                Found::File(..) | Found::Special(_) if self.removed.contains(&prefix) => {}
                Found::File(..) => {
                    self.conflict(&prefix, "a file where tykgen needs a folder");
                    self.remove(&prefix);
                }
                Found::Special(what) => {
                    self.conflict(&prefix, &format!("{what} where tykgen needs a folder; {LINK_NOTE}"));
                    self.remove(&prefix);
                }
                // Reported for the component above already.
                Found::Blocked(..) => {}
            }
            self.touched.insert(parent);
            self.made.insert(prefix.clone());
            self.steps.push(Step::Mkdir(prefix.clone()));
        }
        Ok(())
    }

    fn remove(&mut self, path: &str) {
        if self.removed.insert(path.to_owned()) {
            self.touched.insert(parent(path).to_owned());
            self.steps.push(Step::Remove(path.to_owned()));
        }
    }

    fn put(&mut self, path: String, contents: impl Into<Cow<'a, [u8]>>, mode: u32) {
        if !path.ends_with(MANIFEST) {
            self.report.written += 1;
        }
        self.touched.insert(parent(&path).to_owned());
        self.staged.push((contents.into(), mode));
        self.steps.push(Step::Put(self.staged.len() - 1, path));
    }

    fn conflict(&mut self, path: &str, why: &str) {
        self.conflicts.push(format!("{path} ({why})"));
    }
}

/// Plans one set, in the folder `dir` of the profile folder.
fn plan_set<'a>(plan: &mut Plan<'a>, tree: &Tree, dir: &str, set: &'a FileSet, force: bool) -> anyhow::Result<()> {
    // A set whose folder does not exist yet is staged as that whole folder and moved into place
    // in one step (a first render of a target: one rename instead of one per file).
    if !dir.is_empty() && tree.lookup(dir).with_context(|| format!("reading {}", tree.show(dir)))? == Found::Missing {
        plan.folders_for(tree, dir)?;
        let mut files: Vec<StagedFile<'a>> = set
            .iter()
            .chain(set.user_files())
            .map(|(rel, contents, mode)| (rel, contents.into(), mode.bits()))
            .collect();
        plan.report.written += files.len();
        plan.created += files.len();
        files.push((MANIFEST, render_manifest(set).into_bytes().into(), FileMode::Normal.bits()));
        plan.touched.insert(parent(dir).to_owned());
        plan.made.insert(dir.to_owned());
        plan.trees.push(files);
        plan.steps.push(Step::PutTree(plan.trees.len() - 1, dir.to_owned()));
        return Ok(());
    }
    let previous = read_manifest(tree, dir, force)?.unwrap_or_else(|| {
        plan.manifest_lost = true;
        BTreeMap::new()
    });
    for (rel, contents, mode) in set.iter() {
        let path = join(dir, rel);
        plan.folders_for(tree, &path)?;
        // In a folder this render creates, nothing is there yet.
        let fresh = path.rsplit_once('/').is_some_and(|(parent, _)| plan.made.contains(parent));
        match if fresh { Found::Missing } else { tree.lookup(&path)? } {
            Found::Dir => bail!("{} is a folder where tykgen writes a file", tree.show(&path)),
            Found::Special(what) => {
                plan.conflict(&path, &format!("{what}; {LINK_NOTE}"));
                plan.put(path, contents, mode.bits());
            }
            Found::Missing => {
                plan.created += 1;
                plan.put(path, contents, mode.bits());
            }
            Found::Blocked(..) => plan.put(path, contents, mode.bits()),
            Found::File(old, disk_mode) if old == contents => {
                if disk_mode == mode.bits() {
                    plan.report.unchanged += 1;
                } else {
                    plan.put(path, contents, mode.bits());
                }
            }
            Found::File(old, _) => {
                match previous.get(rel) {
                    None => plan.conflict(&path, "not written by tykgen"),
                    Some(e) if e.sha256 != sha256_hex(&old) => {
                        plan.conflict(&path, "edited since tykgen wrote it");
                    }
                    Some(_) => {}
                }
                plan.put(path, contents, mode.bits());
            }
        }
    }
    // User-owned files: created when nothing is there, otherwise left alone, whatever it is.
    for (rel, contents, mode) in set.user_files() {
        let path = join(dir, rel);
        match tree.lookup(&path)? {
            Found::Missing | Found::Blocked(..) => {
                plan.folders_for(tree, &path)?;
                plan.created += 1;
                plan.put(path, contents, mode.bits());
            }
            _ => plan.report.unchanged += 1,
        }
    }
    // Files of the previous run that are no longer generated.
    let mut prune = BTreeSet::new();
    for (rel, entry) in &previous {
        if set.get(rel).is_some() || set.user.contains_key(rel) {
            continue;
        }
        let path = join(dir, rel);
        match tree.lookup(&path)? {
            Found::Missing | Found::Dir => continue,
            Found::File(old, _) => {
                if sha256_hex(&old) != entry.sha256 {
                    plan.conflict(&path, "no longer generated, but edited since tykgen wrote it");
                }
                plan.remove(&path);
            }
            Found::Special(what) => {
                plan.conflict(&path, &format!("no longer generated, and now {what}; {LINK_NOTE}"));
                plan.remove(&path);
            }
            Found::Blocked(at, what) => {
                if !plan.removed.contains(&at) && !plan.made.contains(&at) {
                    plan.conflict(&at, &format!("{what} where tykgen's folder was; {LINK_NOTE}"));
                    plan.remove(&at);
                }
                continue;
            }
        }
        plan.report.removed += 1;
        let mut d = path.as_str();
        while let Some((parent, _)) = d.rsplit_once('/') {
            if parent.len() <= dir.len() {
                break;
            }
            prune.insert(parent.to_owned());
            d = parent;
        }
    }
    // Deepest first, so a parent is tried after its children.
    let mut prune: Vec<String> = prune.into_iter().collect();
    prune.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
    plan.steps.extend(prune.into_iter().map(Step::Prune));

    let manifest = render_manifest(set);
    let manifest_path = join(dir, MANIFEST);
    match tree.lookup(&manifest_path)? {
        Found::File(old, m) if old == manifest.as_bytes() && m == FileMode::Normal.bits() => {}
        _ => {
            plan.folders_for(tree, &manifest_path)?;
            plan.put(manifest_path, manifest.into_bytes(), FileMode::Normal.bits());
        }
    }
    Ok(())
}

/// Test hook for the crash tests: `TYKGEN_TEST_STOP_AT=<point>` makes the process stop itself
/// (SIGSTOP) at `stage` (half the files staged), `commit` (stage complete, journal not yet
/// committed) or before commit step `<n>` (1-based), so a test can `kill -9` it at an exact
/// point. Not documented for users.
fn test_stop(at: &str) {
    if std::env::var("TYKGEN_TEST_STOP_AT").is_ok_and(|v| v == at) {
        let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::STOP);
    }
}

/// Applies the file sets of one profile folder, `parent/name`, as one transaction: every set
/// `(dir, files)` goes to `parent/name/dir` ("" for the folder itself). See the module docs.
///
/// # Errors
/// As [`Transaction::stage`] and [`Transaction::commit`].
pub fn write_all(parent: &Path, name: &str, sets: &[(String, FileSet)], force: bool) -> anyhow::Result<WriteReport> {
    let tx = Transaction::open(parent, name, force)?;
    for (order, (dir, set)) in sets.iter().enumerate() {
        tx.stage(order, dir, set)?;
    }
    tx.commit()
}

/// A render into one profile folder, `parent/name`, applied as one transaction but built set by
/// set: [`Transaction::stage`] plans one set against the disk and stages its new files at once
/// (so the caller can drop the set's bytes while later sets still render), and
/// [`Transaction::commit`] refuses or commits every set together. The folder is locked from
/// [`Transaction::open`] to the end; a transaction dropped before its commit removes what it
/// staged. Sets may be staged from two threads at once.
pub struct Transaction {
    tree: Tree,
    force: bool,
    /// The numbers the next staged file and staged folder take (each set reserves its own).
    next_file: AtomicUsize,
    next_folder: AtomicUsize,
    /// Whether the stage folder exists: the first set that stages anything makes it.
    stage_made: Mutex<bool>,
    /// Set once a set is refused or fails to stage: the sets after it are planned (for the
    /// message), not staged.
    refused: AtomicBool,
    /// The first staging error, by set position: reported by the commit after every refusal
    /// (as when all sets were planned before anything was staged).
    stage_error: Mutex<Option<(usize, anyhow::Error)>>,
    /// The folders `open` created (the profile folder and any missing above it), outermost
    /// first: an uncommitted transaction removes them again.
    created: Vec<std::path::PathBuf>,
    /// What each staged set does, by its position among the sets.
    sets: Mutex<Vec<(usize, SetPlan)>>,
    committed: bool,
}

/// What one set's plan leaves once its files are staged.
struct SetPlan {
    steps: Vec<Step>,
    conflicts: Vec<String>,
    /// Existing folders the steps change that are not writable.
    locked: Vec<String>,
    report: WriteReport,
}

impl Transaction {
    /// Locks the profile folder (creating it if needed), and finishes or rolls back a render
    /// into it that was interrupted.
    ///
    /// # Errors
    /// A folder that cannot be opened or locked; an interrupted render that cannot be repaired.
    pub fn open(parent: &Path, name: &str, force: bool) -> anyhow::Result<Self> {
        let root = parent.join(name);
        let mut created: Vec<_> = root
            .ancestors()
            .filter(|a| !a.as_os_str().is_empty())
            .take_while(|a| std::fs::symlink_metadata(a).is_err())
            .map(Path::to_path_buf)
            .collect();
        created.reverse();
        // A render that waited for the lock may find the folder gone (the render holding it
        // failed and removed the folder it had made): it opens the new one.
        let mut tree = Tree::open(parent, name, force)?;
        tree.lock(true)?;
        for _ in 0..8 {
            if !tree.is_removed()? {
                break;
            }
            tree = Tree::open(parent, name, force)?;
            tree.lock(true)?;
        }
        recover(&tree)?;
        Ok(Self {
            tree,
            force,
            next_file: AtomicUsize::new(0),
            next_folder: AtomicUsize::new(0),
            stage_made: Mutex::new(false),
            refused: AtomicBool::new(false),
            stage_error: Mutex::new(None),
            created,
            sets: Mutex::new(Vec::new()),
            committed: false,
        })
    }

    /// Plans the set `files` for the folder `dir` ("" for the profile folder itself), `order`
    /// its position among the sets (the commit's steps, refusals and counts go in that order),
    /// and stages its new files, unless a set was refused (then nothing more is staged). Returns
    /// what the commit will change in `dir`, or `None` when that is unknown (a manifest that
    /// `--force` ignores).
    ///
    /// # Errors
    /// A path that is not plain; a folder where a file goes; any I/O error.
    pub fn stage(&self, order: usize, dir: &str, files: &FileSet) -> anyhow::Result<Option<Changes>> {
        if !dir.is_empty() {
            check_path(dir)?;
        }
        let mut plan = Plan::default();
        plan_set(&mut plan, &self.tree, dir, files, self.force)?;
        // Writable folders, checked now, so a permission problem is found before the commit.
        let locked: Vec<String> = plan
            .touched
            .iter()
            .filter(|d| !plan.made.contains(*d))
            .filter(|d| !self.tree.writable(d).unwrap_or(false))
            .cloned()
            .collect();
        if (!plan.conflicts.is_empty() && !self.force) || !locked.is_empty() {
            self.refused.store(true, Ordering::SeqCst);
        }
        let mut steps = std::mem::take(&mut plan.steps);
        if !(self.refused.load(Ordering::SeqCst) || plan.staged.is_empty() && plan.trees.is_empty()) {
            let first_file = self.next_file.fetch_add(plan.staged.len(), Ordering::SeqCst);
            let first_folder = self.next_folder.fetch_add(plan.trees.len(), Ordering::SeqCst);
            for step in &mut steps {
                match step {
                    Step::Put(n, _) => *n += first_file,
                    Step::PutTree(n, _) => *n += first_folder,
                    _ => {}
                }
            }
            let staged = self.make_stage().and_then(|()| stage(&self.tree, &plan, first_file, first_folder));
            if let Err(e) = staged {
                self.refused.store(true, Ordering::SeqCst);
                let e = anyhow::Error::from(e).context(format!("staging into {}", self.tree.show(STAGING)));
                let mut first = self.stage_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if first.as_ref().is_none_or(|(o, _)| order < *o) {
                    *first = Some((order, e));
                }
            }
        }
        let changes = (!plan.manifest_lost).then_some(Changes {
            created: plan.created,
            changed: plan.report.written - plan.created,
            deleted: plan.report.removed,
        });
        let set = SetPlan { steps, conflicts: plan.conflicts, locked, report: plan.report };
        self.sets.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((order, set));
        Ok(changes)
    }

    fn make_stage(&self) -> std::io::Result<()> {
        let mut made = self.stage_made.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !*made {
            self.tree.mkdir(STAGING)?;
            *made = true;
        }
        Ok(())
    }

    /// Commits every staged set: the journal, then its steps.
    ///
    /// # Errors
    /// Without `force`, before anything is changed: every file that would be overwritten or
    /// removed although tykgen did not write it or it was edited since, and every link, FIFO or
    /// device in the way, all in one message (what was staged is removed). A folder that is not
    /// writable. Any I/O error.
    pub fn commit(mut self) -> anyhow::Result<WriteReport> {
        let mut sets = std::mem::take(&mut *self.sets.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        sets.sort_by_key(|(order, _)| *order);
        let conflicts: Vec<&str> = sets.iter().flat_map(|(_, s)| s.conflicts.iter().map(String::as_str)).collect();
        if !conflicts.is_empty() && !self.force {
            bail!(
                "refusing to overwrite {} file(s) in {} (nothing was written; use --force to overwrite):\n  {}",
                conflicts.len(),
                self.tree.path.display(),
                conflicts.join("\n  ")
            );
        }
        let locked: BTreeSet<&String> = sets.iter().flat_map(|(_, s)| &s.locked).collect();
        if !locked.is_empty() {
            let locked: Vec<String> = locked.into_iter().map(|d| self.tree.show(d)).collect();
            bail!("cannot write into {} (nothing was written): permission denied", locked.join(", "));
        }
        if let Some((_, e)) = self.stage_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            return Err(e);
        }
        let mut report = WriteReport::default();
        for (_, s) in &sets {
            report.written += s.report.written;
            report.unchanged += s.report.unchanged;
            report.removed += s.report.removed;
        }
        let steps: Vec<Step> = sets.into_iter().flat_map(|(_, s)| s.steps).collect();
        if steps.is_empty() {
            // Up to date: nothing to commit, and the folder stays.
            self.committed = true;
            return Ok(report);
        }
        let tree = &self.tree;
        let stage_err =
            |e: std::io::Error| anyhow::Error::from(e).context(format!("staging into {}", tree.show(STAGING)));
        let journal: String = std::iter::once("tykgen-journal 1".to_owned())
            .chain(steps.iter().map(Step::line))
            .chain(std::iter::once("end".to_owned()))
            .map(|l| l + "\n")
            .collect();
        tree.create("", JOURNAL_TMP, journal.as_bytes(), 0o644).map_err(stage_err)?;
        tree.sync().map_err(stage_err)?;
        test_stop("commit");
        tree.rename("", JOURNAL_TMP, JOURNAL).map_err(stage_err)?;
        // Committed: from here an interrupted commit is finished by the next render, not undone.
        self.committed = true;
        tree.sync().map_err(stage_err)?;
        apply(tree, &steps).with_context(|| {
            format!("the render into {} stopped part-way; the next `tykgen render` finishes it", tree.path.display())
        })?;
        Ok(report)
    }
}

impl Drop for Transaction {
    /// An uncommitted transaction leaves nothing behind: its stage (and a journal not yet
    /// committed) is removed, and so are the folders it created, once empty. Should that fail,
    /// the next render rolls it back.
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        if *self.stage_made.lock().unwrap_or_else(std::sync::PoisonError::into_inner) {
            let _ = clear_stage(&self.tree);
            let _ = self.tree.remove(JOURNAL_TMP);
        }
        // Innermost first; `remove_dir` removes only an empty folder, never through a link.
        for folder in self.created.iter().rev() {
            let _ = std::fs::remove_dir(folder);
        }
    }
}

/// Below this many files a set is staged by the thread that rendered it alone: starting a second
/// one costs more than it saves (the render's other thread is busy meanwhile anyway).
const STAGE_ALONE_BELOW: usize = 256;

/// Writes one set's staged files and folders into the stage (which exists), its files numbered
/// from `first_file` and its folders from `first_folder`. A set of [`STAGE_ALONE_BELOW`] files
/// or more is written on two threads (the file system work of a large render is as large as its
/// rendering): each takes whole staged folders, or half of the loose files, the larger share first.
fn stage(tree: &Tree, plan: &Plan<'_>, first_file: usize, first_folder: usize) -> std::io::Result<()> {
    let total = plan.staged.len() + plan.trees.iter().map(Vec::len).sum::<usize>();
    let done = AtomicUsize::new(0);
    // The crash tests stop the process when half the files of a set are staged.
    let next = || {
        if done.fetch_add(1, Ordering::Relaxed) == total / 2 {
            test_stop("stage");
        }
    };
    let loose = |part: usize| -> std::io::Result<()> {
        for (n, (contents, mode)) in plan.staged.iter().enumerate().filter(|(n, _)| n % 2 == part) {
            next();
            tree.create(STAGING, &(first_file + n).to_string(), contents, *mode)?;
        }
        Ok(())
    };
    let folder = |k: usize| -> std::io::Result<()> {
        let root = format!("{STAGING}/t{}", first_folder + k);
        tree.mkdir(&root)?;
        let mut made = HashSet::new();
        for (rel, contents, mode) in &plan.trees[k] {
            if let Some((dir, _)) = rel.rsplit_once('/') {
                make_folders(tree, &root, &format!("{root}/{dir}"), &mut made)?;
            }
            next();
            tree.create_below(&root, rel, contents, *mode)?;
        }
        Ok(())
    };
    // Whole folders go to the emptier thread, largest first; the loose files are split evenly.
    let mut order: Vec<usize> = (0..plan.trees.len()).collect();
    order.sort_by_key(|&k| std::cmp::Reverse(plan.trees[k].len()));
    let mut shares: [(usize, Vec<usize>); 2] =
        [(plan.staged.len().div_ceil(2), Vec::new()), (plan.staged.len() / 2, Vec::new())];
    for k in order {
        let emptier = usize::from(shares[1].0 < shares[0].0);
        shares[emptier].0 += plan.trees[k].len();
        shares[emptier].1.push(k);
    }
    let work = |part: usize, folders: &[usize]| -> std::io::Result<()> {
        loose(part)?;
        folders.iter().try_for_each(|&k| folder(k))
    };
    if total < STAGE_ALONE_BELOW {
        return work(0, &shares[0].1).and_then(|()| work(1, &shares[1].1));
    }
    std::thread::scope(|s| {
        let other = crate::threads::spawn_beside(s, || work(1, &shares[1].1));
        let here = work(0, &shares[0].1);
        let other = other.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        here.and(other)
    })
}

/// Creates `dir` and the folders above it, up to `root` (which exists), that are not in `made`.
fn make_folders(tree: &Tree, root: &str, dir: &str, made: &mut HashSet<String>) -> std::io::Result<()> {
    if dir.len() <= root.len() || made.contains(dir) {
        return Ok(());
    }
    make_folders(tree, root, parent(dir), made)?;
    tree.mkdir(dir)?;
    made.insert(dir.to_owned());
    Ok(())
}

/// Replays a committed journal's steps, then removes the stage and the journal.
fn apply(tree: &Tree, steps: &[Step]) -> anyhow::Result<()> {
    for (i, step) in steps.iter().enumerate() {
        test_stop(&(i + 1).to_string());
        let done = match step {
            Step::Remove(p) => tree.remove(p),
            Step::Mkdir(p) => tree.mkdir(p),
            Step::Put(n, p) => tree.rename(STAGING, &n.to_string(), p).map(drop),
            Step::PutTree(n, p) => {
                let from = format!("t{n}");
                tree.forget(&format!("{STAGING}/{from}"));
                tree.rename(STAGING, &from, p).map(drop)
            }
            Step::Prune(p) => tree.prune(p),
        };
        done.with_context(|| format!("{} ({})", step.line(), tree.show("")))?;
    }
    clear_stage(tree)?;
    tree.remove(JOURNAL)?;
    tree.sync()?;
    Ok(())
}

fn clear_stage(tree: &Tree) -> anyhow::Result<()> {
    // Only plain names tykgen gave; `remove` never follows a link.
    for name in tree.list(STAGING)? {
        let number = |n: &str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
        if number(&name) {
            tree.remove(&format!("{STAGING}/{name}"))?;
        } else if name.strip_prefix('t').is_some_and(number) {
            tree.remove_all(&format!("{STAGING}/{name}"))?;
        }
    }
    tree.prune(STAGING)?;
    tree.remove(STAGING)?; // a link or file of that name
    Ok(())
}

/// Finishes (committed journal) or rolls back (stage only) a render that was interrupted.
fn recover(tree: &Tree) -> anyhow::Result<()> {
    match tree.lookup(JOURNAL)? {
        Found::File(bytes, _) => {
            let text = String::from_utf8_lossy(&bytes);
            let mut lines = text.lines();
            let steps: Option<Vec<Step>> = if lines.next() == Some("tykgen-journal 1") && text.ends_with("end\n") {
                lines.filter(|l| *l != "end").map(Step::parse).collect()
            } else {
                None
            };
            let Some(steps) = steps else {
                bail!(
                    "{} is not a journal tykgen can replay; remove it and {} and render again",
                    tree.show(JOURNAL),
                    tree.show(STAGING)
                );
            };
            apply(tree, &steps).context("finishing the interrupted render")?;
            eprintln!("finished a render into {} that had been interrupted", tree.path.display());
        }
        Found::Missing => {
            let staged = !matches!(tree.lookup(STAGING)?, Found::Missing);
            let tmp = !matches!(tree.lookup(JOURNAL_TMP)?, Found::Missing);
            if staged || tmp {
                clear_stage(tree)?;
                tree.remove(JOURNAL_TMP)?;
                eprintln!("rolled back a render into {} that had been interrupted", tree.path.display());
            }
        }
        _ => tree.remove(JOURNAL)?,
    }
    Ok(())
}

/// A profile folder opened for the files `tykgen lab-secrets` keeps beside a render (`.env`,
/// keys, certificates): locked exclusively like a render (so the two serialise), an interrupted
/// render finished or rolled back first, and every path opened without following a link.
pub struct SideFiles {
    tree: Tree,
}

impl SideFiles {
    /// Opens and locks `parent/name` (created if missing).
    ///
    /// # Errors
    /// `name` is a link or not a folder, the lock or the recovery fails.
    pub fn open(parent: &Path, name: &str) -> anyhow::Result<SideFiles> {
        let tree = Tree::open(parent, name, false)?;
        tree.lock(true)?;
        recover(&tree)?;
        Ok(SideFiles { tree })
    }

    /// The display path of `rel`.
    #[must_use]
    pub fn show(&self, rel: &str) -> String {
        self.tree.show(rel)
    }

    /// The bytes of the regular file `rel`, `None` when it is missing.
    ///
    /// # Errors
    /// `rel` or a folder above it is a link, FIFO, device or other non-regular file (named), or I/O.
    pub fn read(&self, rel: &str) -> anyhow::Result<Option<Vec<u8>>> {
        check_path(rel)?;
        match self.tree.lookup(rel)? {
            Found::Missing => Ok(None),
            Found::File(bytes, _) => Ok(Some(bytes)),
            Found::Dir => bail!("{} is a folder where tykgen needs a file", self.show(rel)),
            Found::Special(what) => bail!("{} is {what} where tykgen needs a file; {LINK_NOTE}", self.show(rel)),
            Found::Blocked(at, what) => {
                bail!("{} is {what} where tykgen needs a folder; {LINK_NOTE}", self.show(&at))
            }
        }
    }

    /// Creates the new file `rel` (and its missing folders) with `contents` and `mode`.
    ///
    /// # Errors
    /// Something is already at `rel`, a link or file stands where a folder is needed, or I/O.
    pub fn create_new(&self, rel: &str, contents: &[u8], mode: u32) -> anyhow::Result<()> {
        if self.read(rel)?.is_some() {
            bail!("{} exists (never overwritten)", self.show(rel));
        }
        let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        self.mkdirs(dir)?;
        self.tree.create(dir, name, contents, mode).with_context(|| format!("creating {}", self.show(rel)))
    }

    /// Replaces the file `rel` by `contents` (mode `mode`) atomically: a new file renamed over it.
    ///
    /// # Errors
    /// As [`SideFiles::create_new`].
    pub fn replace(&self, rel: &str, contents: &[u8], mode: u32) -> anyhow::Result<()> {
        self.read(rel)?;
        let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        self.mkdirs(dir)?;
        let tmp = format!(".{name}.tykgen-tmp");
        let done = self.tree.create(dir, &tmp, contents, mode).and_then(|()| self.tree.rename(dir, &tmp, rel));
        if done.is_err() {
            let _ = self.tree.remove(&join(dir, &tmp));
        }
        done.map(drop).with_context(|| format!("writing {}", self.show(rel)))
    }

    /// Fails, naming it, unless `rel` can be written: every folder above it is a real folder or
    /// missing, and `rel` is missing (or, with `replace`, a regular file).
    ///
    /// # Errors
    /// A link, FIFO, device or file in the way, or an existing file without `replace`.
    pub fn check_writable(&self, rel: &str, replace: bool) -> anyhow::Result<()> {
        if self.read(rel)?.is_some() && !replace {
            bail!("{} exists (never overwritten)", self.show(rel));
        }
        let mut prefix = String::new();
        for seg in rel.rsplit_once('/').map_or("", |(d, _)| d).split('/').filter(|s| !s.is_empty()) {
            prefix = join(&prefix, seg);
            match self.tree.lookup(&prefix)? {
                Found::Dir | Found::Missing => {}
                Found::File(..) => bail!("{} is a file where tykgen needs a folder", self.show(&prefix)),
                Found::Special(what) | Found::Blocked(_, what) => {
                    bail!("{} is {what} where tykgen needs a folder; {LINK_NOTE}", self.show(&prefix))
                }
            }
        }
        Ok(())
    }

    /// Creates the folder `dir` and every missing folder above it, never through a link.
    fn mkdirs(&self, dir: &str) -> anyhow::Result<()> {
        if dir.is_empty() {
            return Ok(());
        }
        let mut prefix = String::new();
        for seg in dir.split('/') {
            prefix = join(&prefix, seg);
            match self.tree.lookup(&prefix)? {
                Found::Dir => {}
                Found::Missing => {
                    self.tree.mkdir(&prefix).with_context(|| format!("creating {}", self.show(&prefix)))?
                }
                Found::File(..) => bail!("{} is a file where tykgen needs a folder", self.show(&prefix)),
                Found::Special(what) | Found::Blocked(_, what) => {
                    bail!("{} is {what} where tykgen needs a folder; {LINK_NOTE}", self.show(&prefix))
                }
            }
        }
        Ok(())
    }
}

/// Compatibility: applies one set to `root` as its own profile folder.
///
/// # Errors
/// As [`write_all`].
pub fn write(root: &Path, set: &FileSet, force: bool) -> anyhow::Result<WriteReport> {
    let (parent, name) = split_root(root)?;
    write_all(&parent, &name, &[(String::new(), set.clone())], force)
}

fn split_root(root: &Path) -> anyhow::Result<(std::path::PathBuf, String)> {
    let name = root.file_name().and_then(|n| n.to_str()).context("the output folder needs a name")?;
    let parent = root.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Ok((parent.to_path_buf(), name.to_owned()))
}

/// True if the bytes are not text we can diff line by line.
fn is_binary(bytes: &[u8]) -> bool {
    bytes.contains(&0) || std::str::from_utf8(bytes).is_err()
}

/// The drift as one patch: git-style unified diffs with `a/` and `b/` paths relative to the
/// folder the drift was computed for, `/dev/null` for created and deleted files, and mode lines,
/// so that `patch -p1` (GNU patch) or `git apply`, run in that folder, turns the tree on disk into
/// the rendered one. Manifests come last, after the files people read; what a patch cannot express
/// (binary contents, something other than a file in the way) is a line that `patch` skips.
#[must_use]
pub fn patch(drift: &[Drift]) -> String {
    let mut out = String::new();
    let (manifests, files): (Vec<&Drift>, Vec<&Drift>) =
        drift.iter().partition(|d| matches!(d.kind, DriftKind::Manifest));
    for d in files.into_iter().chain(manifests) {
        if let DriftKind::Blocked(note) = &d.kind {
            let _ = writeln!(out, "tykgen: {}: {note}", d.path);
            continue;
        }
        let old = d.old.as_ref().map(|(b, m)| (&b[..], *m));
        file_patch(&mut out, &d.path, old, d.new.as_ref().map(|(b, m)| (&b[..], *m)));
    }
    out
}

/// One file's part of [`patch`].
fn file_patch(out: &mut String, path: &str, old: Option<(&[u8], u32)>, new: Option<(&[u8], u32)>) {
    let git_mode = |m: u32| format!("100{:03o}", m & 0o777);
    let _ = writeln!(out, "diff --git a/{path} b/{path}");
    match (old, new) {
        (None, Some((_, m))) => {
            let _ = writeln!(out, "new file mode {}", git_mode(m));
        }
        (Some((_, m)), None) => {
            let _ = writeln!(out, "deleted file mode {}", git_mode(m));
        }
        (Some((_, a)), Some((_, b))) if a != b => {
            let _ = writeln!(out, "old mode {}\nnew mode {}", git_mode(a), git_mode(b));
        }
        _ => {}
    }
    let old_bytes = old.map_or(&[][..], |(b, _)| b);
    let new_bytes = new.map_or(&[][..], |(b, _)| b);
    if old_bytes == new_bytes {
        return;
    }
    let from = if old.is_some() { format!("a/{path}") } else { "/dev/null".to_owned() };
    let to = if new.is_some() { format!("b/{path}") } else { "/dev/null".to_owned() };
    if is_binary(old_bytes) || is_binary(new_bytes) {
        let _ = writeln!(out, "Binary files {from} and {to} differ");
        return;
    }
    let (old_text, new_text) = (String::from_utf8_lossy(old_bytes), String::from_utf8_lossy(new_bytes));
    let diff = similar::TextDiff::from_lines(old_text.as_ref(), new_text.as_ref());
    out.push_str(&diff.unified_diff().context_radius(3).header(&from, &to).to_string());
}

/// Compares the file sets of the profile folder `parent/name` with the disk, in path order
/// (paths relative to the profile folder), as a render would change it: generated files that are
/// missing or different, files of the previous run (per each manifest) that are no longer
/// generated, user-owned files that are missing, and each set's manifest when it would change.
/// Reads only, under a shared lock, never through a link.
///
/// # Errors
/// An unreadable folder, a corrupt manifest, or an interrupted render not yet finished.
pub fn drift_all(parent: &Path, name: &str, sets: &[(String, FileSet)]) -> anyhow::Result<Vec<Drift>> {
    drift_sets(parent, name, sets, true)
}

/// [`drift_all`] without the bytes on disk (every `old` is none): the paths and kinds, for a
/// summary, without holding a copy of every file that changed.
///
/// # Errors
/// As [`drift_all`].
pub fn drift_summary(parent: &Path, name: &str, sets: &[(String, FileSet)]) -> anyhow::Result<Vec<Drift>> {
    drift_sets(parent, name, sets, false)
}

/// [`drift_all`], keeping the bytes on disk when `keep_old`.
fn drift_sets(parent: &Path, name: &str, sets: &[(String, FileSet)], keep_old: bool) -> anyhow::Result<Vec<Drift>> {
    let tree = Tree::open_existing(parent, name)?;
    if let Some(tree) = &tree {
        tree.lock(false)?;
        if !matches!(tree.lookup(JOURNAL)?, Found::Missing) {
            bail!("a render into {} was interrupted; run `tykgen render` to finish it", tree.path.display());
        }
    }
    drift_in(tree.as_ref(), sets.iter().map(|(dir, set)| (dir.as_str(), set)), keep_old)
}

/// [`drift_sets`] in a folder already open and locked (`None`: a folder that does not exist).
fn drift_in<'s>(
    tree: Option<&Tree>,
    sets: impl IntoIterator<Item = (&'s str, &'s FileSet)>,
    keep_old: bool,
) -> anyhow::Result<Vec<Drift>> {
    let mut out = Vec::new();
    for (dir, set) in sets {
        // Below a folder that does not exist, every file is missing: nothing to look up.
        let tree = match tree {
            Some(t)
                if !dir.is_empty()
                    && t.lookup(dir).with_context(|| format!("reading {}", t.show(dir)))? == Found::Missing =>
            {
                None
            }
            tree => tree,
        };
        let lookup = |path: &str| -> anyhow::Result<Found> {
            match tree {
                Some(tree) => tree.lookup(path).with_context(|| format!("reading {}", tree.show(path))),
                None => Ok(Found::Missing),
            }
        };
        let previous = match tree {
            Some(tree) => read_manifest(tree, dir, false)?.unwrap_or_default(),
            None => BTreeMap::new(),
        };
        let generated = set.files.iter().map(|(rel, (c, m))| (rel, c, m, false));
        let user = set.user.iter().map(|(rel, (c, m))| (rel, c, m, true));
        for (rel, contents, mode, user) in generated.chain(user) {
            let path = join(dir, rel);
            let drift = |kind, old: Option<(Vec<u8>, u32)>| Drift {
                path: path.clone(),
                kind,
                old: old.filter(|_| keep_old),
                new: Some((contents.clone(), mode.bits())),
            };
            let found = match lookup(&path)? {
                Found::Missing => Some(drift(DriftKind::Missing, None)),
                // A user-owned file is created once; whatever is there stays.
                _ if user => None,
                Found::File(old, m) if *old != **contents || m != mode.bits() => {
                    Some(drift(DriftKind::Changed, Some((old, m))))
                }
                Found::File(..) => None,
                Found::Dir => Some(drift(DriftKind::Blocked("a folder, not a file".into()), None)),
                Found::Special(what) => Some(drift(DriftKind::Blocked(what.to_string()), None)),
                Found::Blocked(at, what) => {
                    Some(drift(DriftKind::Blocked(format!("{at} is {what}, not a folder")), None))
                }
            };
            out.extend(found);
        }
        for rel in previous.keys().filter(|rel| set.get(rel).is_none() && !set.user.contains_key(*rel)) {
            let path = join(dir, rel);
            let kind = match lookup(&path)? {
                Found::File(old, m) => Some((DriftKind::Stale, Some((old, m)).filter(|_| keep_old))),
                Found::Missing | Found::Dir | Found::Blocked(..) => None,
                Found::Special(what) => Some((DriftKind::Blocked(format!("no longer generated, and {what}")), None)),
            };
            if let Some((kind, old)) = kind {
                out.push(Drift { path, kind, old, new: None });
            }
        }
        let path = join(dir, MANIFEST);
        let manifest = render_manifest(set).into_bytes();
        let old = match lookup(&path)? {
            Found::File(bytes, m) => Some((bytes, m)),
            _ => None,
        };
        if old.as_ref().is_none_or(|(b, m)| *b != manifest || *m != FileMode::Normal.bits()) {
            let old = old.filter(|_| keep_old);
            out.push(Drift {
                path,
                kind: DriftKind::Manifest,
                old,
                new: Some((manifest.into_contents(), FileMode::Normal.bits())),
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// [`drift_all`] for one set that is its own folder.
///
/// # Errors
/// As [`drift_all`].
pub fn drift(root: &Path, set: &FileSet) -> anyhow::Result<Vec<Drift>> {
    let (parent, name) = split_root(root)?;
    drift_all(&parent, &name, &[(String::new(), set.clone())])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt as _;
    use std::path::PathBuf;
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
        assert_eq!(d[0].kind, DriftKind::Changed);
        assert_eq!(patch(&d), "diff --git a/keys/server.key b/keys/server.key\nold mode 100644\nnew mode 100600\n");
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
                (MANIFEST, &DriftKind::Manifest),
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

    /// More folders than the tree keeps descriptors for, half of them pruned by the next render
    /// while new ones are made: every file lands where it belongs, nothing stale is left.
    #[test]
    fn many_folders_are_written_and_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let files = |names: &[String]| {
            let mut s = FileSet::new();
            for n in names {
                s.add(n.as_str(), n.as_bytes(), FileMode::Normal).unwrap();
            }
            s
        };
        let first: Vec<String> = (0..700).map(|i| format!("d{i:03}/sub/f")).collect();
        write(root, &files(&first), false).unwrap();
        let second: Vec<String> =
            first[350..].iter().cloned().chain((0..300).map(|i| format!("e{i:03}/x/y"))).collect();
        let r = write(root, &files(&second), false).unwrap();
        assert_eq!(r, WriteReport { written: 300, unchanged: 350, removed: 350 });
        let on_disk: Vec<String> = snapshot(root)
            .into_iter()
            .map(|(p, bytes)| {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                assert!(rel == MANIFEST || bytes == rel.as_bytes(), "{rel}");
                rel
            })
            .filter(|rel| rel != MANIFEST)
            .collect();
        let mut expected = second.clone();
        expected.sort();
        let mut on_disk = on_disk;
        on_disk.sort();
        assert_eq!(on_disk, expected);
        assert!((0..350).all(|i| !root.join(format!("d{i:03}")).exists()), "pruned");
    }

    #[test]
    fn a_set_whose_folder_is_new_is_staged_whole_with_its_modes() {
        let dir = tempfile::tempdir().unwrap();
        let (parent, name) = (dir.path(), "p");
        let mut nested = base();
        nested.add_user("user/owned.yml", "first\n", FileMode::Normal).unwrap();
        let top = set(&[("README.md", "top\n", FileMode::Normal)]);
        let sets = vec![(String::new(), top), ("t/one".to_owned(), nested.clone()), ("two".to_owned(), base())];
        let r = write_all(parent, name, &sets, false).unwrap();
        assert_eq!(r, WriteReport { written: 1 + 5 + 4, unchanged: 0, removed: 0 });
        let root = parent.join(name);
        for (folder, set) in &sets[1..] {
            for (rel, bytes, mode) in set.iter().chain(set.user_files()) {
                let path = root.join(folder).join(rel);
                assert_eq!(fs::read(&path).unwrap(), bytes, "{}", path.display());
                assert_eq!(
                    fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                    mode.bits(),
                    "{}",
                    path.display()
                );
            }
            assert_eq!(fs::read_to_string(root.join(folder).join(MANIFEST)).unwrap(), render_manifest(set));
        }
        let left: Vec<_> = fs::read_dir(&root).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(left.iter().all(|n| !n.to_string_lossy().starts_with(".tykgen-j")), "{left:?}");
        assert!(!root.join(STAGING).exists());
        // The next render finds every file in place.
        let again = write_all(parent, name, &sets, false).unwrap();
        assert_eq!(again, WriteReport { written: 0, unchanged: 1 + 5 + 4, removed: 0 });
        // The journal's new step reads back, and a path that leaves the folder does not.
        let step = Step::PutTree(3, "t/one".to_owned());
        assert_eq!(Step::parse(&step.line()), Some(step));
        for bad in ["puttree 3 ../x", "puttree x t", "puttree 3 /t", "puttree 3"] {
            assert_eq!(Step::parse(bad), None, "{bad}");
        }
    }

    /// Sets staged from two threads, in any order, commit the same tree as one set after another.
    #[test]
    fn sets_staged_from_two_threads_in_any_order_commit_the_same_tree() {
        let dir = tempfile::tempdir().unwrap();
        let sets = |v: &str| {
            vec![
                (String::new(), set(&[("README.md", v, FileMode::Normal)])),
                ("one".to_owned(), base()),
                ("two".to_owned(), set(&[("x/y.txt", v, FileMode::Private)])),
            ]
        };
        let (parent, name) = (dir.path(), "p");
        for v in ["first\n", "second\n"] {
            let sets = sets(v);
            let tx = Transaction::open(parent, name, false).unwrap();
            std::thread::scope(|s| {
                // The last set first, from another thread, while this one stages the others.
                let other = s.spawn(|| tx.stage(2, &sets[2].0, &sets[2].1));
                tx.stage(1, &sets[1].0, &sets[1].1).unwrap();
                tx.stage(0, &sets[0].0, &sets[0].1).unwrap();
                other.join().unwrap().unwrap();
            });
            tx.commit().unwrap();
            let sequential = tempfile::tempdir().unwrap();
            write_all(sequential.path(), name, &sets, false).unwrap();
            write_all(sequential.path(), name, &sets, false).unwrap();
            let relative = |root: &Path| -> BTreeMap<PathBuf, Vec<u8>> {
                snapshot(root).into_iter().map(|(p, b)| (p.strip_prefix(root).unwrap().to_path_buf(), b)).collect()
            };
            assert_eq!(relative(&parent.join(name)), relative(&sequential.path().join(name)), "{v}");
        }
        assert!(!parent.join(name).join(STAGING).exists());
    }

    /// A transaction that never commits (a later target failed to render) leaves the folder as
    /// it was, whatever it had staged; so does a refusal found in a set after one was staged.
    #[test]
    fn an_uncommitted_or_refused_transaction_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let (parent, name) = (dir.path(), "p");
        write_all(parent, name, &[("one".to_owned(), base())], false).unwrap();
        let root = parent.join(name);
        let before = snapshot(&root);
        let changed = set(&[("a.txt", "changed\n", FileMode::Normal)]);
        {
            let tx = Transaction::open(parent, name, false).unwrap();
            tx.stage(0, "one", &changed).unwrap();
            tx.stage(1, "new", &base()).unwrap();
            assert!(root.join(STAGING).exists());
        }
        assert_eq!(snapshot(&root), before);
        assert!(!root.join(STAGING).exists());
        // Nor are the folders it made for itself left behind.
        {
            let tx = Transaction::open(&parent.join("new/out"), name, false).unwrap();
            tx.stage(0, "one", &base()).unwrap();
        }
        assert!(!parent.join("new").exists());
        // An edit in the second set is found after the first set was staged.
        fs::write(root.join("one/a.txt"), "edited by hand\n").unwrap();
        let before = snapshot(&root);
        let tx = Transaction::open(parent, name, false).unwrap();
        tx.stage(0, "new", &base()).unwrap();
        tx.stage(1, "one", &changed).unwrap();
        let err = tx.commit().unwrap_err().to_string();
        assert!(err.contains("one/a.txt (edited since tykgen wrote it)"), "{err}");
        assert_eq!(snapshot(&root), before);
        assert!(!root.join(STAGING).exists() && !root.join("new").exists());
        // Refusals are listed in set order, whatever order the sets were staged in.
        fs::write(root.join("one/run.sh"), "edited too\n").unwrap();
        let tx = Transaction::open(parent, name, false).unwrap();
        let other = set(&[("run.sh", "new\n", FileMode::Executable)]);
        tx.stage(1, "one", &other).unwrap();
        tx.stage(0, "one", &changed).unwrap();
        let err = tx.commit().unwrap_err().to_string();
        let (a, run) = (err.find("one/a.txt").unwrap(), err.find("one/run.sh").unwrap());
        assert!(a < run, "{err}");
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
            fs::set_permissions(dir.path().join("a.txt"), fs::Permissions::from_mode(0o644)).unwrap();
        }
        let r = write(dir.path(), &s, false).unwrap();
        assert_eq!(r, WriteReport { written: 0, unchanged: 1, removed: 0 });
        assert!(fs::read_to_string(dir.path().join(MANIFEST)).unwrap().ends_with("  a.txt\n"));
    }

    #[test]
    fn drift_is_one_patch_with_dev_null_for_created_and_deleted_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let v1 = set(&[
            ("bin.dat", "\0\x01", FileMode::Normal),
            ("old.txt", "a\nb", FileMode::Normal),
            ("t.txt", "1\n2\n3\n4\n5\n6\n7\n8\n9\n", FileMode::Normal),
        ]);
        write(root, &v1, false).unwrap();
        let v2 = set(&[
            ("bin.dat", "\0\x02", FileMode::Normal),
            ("new/run.sh", "#!/bin/sh\n", FileMode::Executable),
            ("t.txt", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n", FileMode::Normal),
        ]);
        let d = drift(root, &v2).unwrap();
        let kinds: Vec<_> = d.iter().map(|d| (d.path.as_str(), &d.kind)).collect();
        assert_eq!(
            kinds,
            [
                (MANIFEST, &DriftKind::Manifest),
                ("bin.dat", &DriftKind::Changed),
                ("new/run.sh", &DriftKind::Missing),
                ("old.txt", &DriftKind::Stale),
                ("t.txt", &DriftKind::Changed),
            ]
        );
        let text = patch(&d);
        let (files, manifest) = text.split_at(text.find("diff --git a/.tykgen-manifest").unwrap());
        assert_eq!(
            files,
            "diff --git a/bin.dat b/bin.dat\nBinary files a/bin.dat and b/bin.dat differ\n\
             diff --git a/new/run.sh b/new/run.sh\nnew file mode 100755\n--- /dev/null\n+++ b/new/run.sh\n\
             @@ -0,0 +1 @@\n+#!/bin/sh\n\
             diff --git a/old.txt b/old.txt\ndeleted file mode 100644\n--- a/old.txt\n+++ /dev/null\n\
             @@ -1,2 +0,0 @@\n-a\n-b\n\\ No newline at end of file\n\
             diff --git a/t.txt b/t.txt\n--- a/t.txt\n+++ b/t.txt\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
        );
        assert!(manifest.contains(&format!("+{}  0755  new/run.sh\n", sha256_hex(b"#!/bin/sh\n"))), "{manifest}");
        write(root, &v2, false).unwrap();
        assert!(drift(root, &v2).unwrap().is_empty());
    }

    #[test]
    fn corrupt_manifest_is_an_error_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(MANIFEST), "garbage\n").unwrap();
        let err = format!("{:#}", write(dir.path(), &base(), false).unwrap_err());
        assert!(err.contains(".tykgen-manifest:1:"), "{err}");
    }
}
