//! File-system access below an output folder that never follows a symbolic link.
//!
//! Every path is `/`-separated and relative to the folder, and every step opens the next folder
//! with `O_NOFOLLOW | O_DIRECTORY` relative to the one before (`openat`), so a symbolic link
//! anywhere below the folder is seen as what it is and never resolved. The folder itself is
//! opened once and locked with `flock`. A file staged into a new folder is created in one
//! `openat2` call that refuses every link on its path instead ([`Tree::create_below`]).
//!
//! Each folder is walked down to once and its descriptor kept (a render writes thousands of
//! files into a few hundred folders, and the walk per file was most of its system time). A kept
//! descriptor is the real folder that was opened, whatever happens to its name later, so it
//! never leads through a link; a folder tykgen removes is forgotten first. A `Tree` is shared by
//! the threads that stage a render's files.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{self, Read as _, Write as _};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use rustix::fs::{AtFlags, FileType, FlockOperation, Mode, OFlags};

/// What is at a path.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Found {
    /// Nothing (the path or one of its folders does not exist).
    Missing,
    /// A regular file: its bytes and permission bits.
    File(Vec<u8>, u32),
    /// A real folder.
    Dir,
    /// Something tykgen never opens (a symbolic link, FIFO, device or socket), at the path itself.
    Special(&'static str),
    /// A component above the path (the `/`-separated prefix given) is not a real folder.
    Blocked(String, &'static str),
}

/// The open, locked output folder.
pub(super) struct Tree {
    fd: OwnedFd,
    /// For messages.
    pub(super) path: PathBuf,
    /// Folders below `fd` opened before, by relative path (see the module docs).
    opened: Mutex<HashMap<String, Arc<OwnedFd>>>,
}

/// At most this many folder descriptors are kept; then they are all dropped and reopened on
/// demand (files come in path order, so the folders in use are few at any time). With the few
/// other descriptors a render holds this stays below 64, the size of a process's first descriptor
/// table: growing that table while other threads run makes the kernel wait for an RCU grace
/// period (`expand_fdtable` calls `synchronize_rcu`), 10 to 30 ms each time, which made a render
/// of 100 Gateways take 25 ms instead of 15.
const MAX_OPENED: usize = 32;

/// Why a walk down to a folder stopped.
enum Walk {
    /// It or a folder above it does not exist.
    Missing,
    /// A component (the `/`-separated prefix) is not a real folder, but this kind of entry.
    Blocked(String, &'static str),
}

fn kind_word(t: FileType) -> &'static str {
    match t {
        FileType::Symlink => "a symbolic link",
        FileType::RegularFile => "a file",
        FileType::Directory => "a folder",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice | FileType::BlockDevice => "a device",
        FileType::Unknown => "an unknown kind of file",
    }
}

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

fn stat_type(dir: impl AsFd, name: &str) -> io::Result<Option<(FileType, u32)>> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some((FileType::from_raw_mode(st.st_mode), st.st_mode & 0o7777))),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

impl Tree {
    fn new(fd: OwnedFd, path: PathBuf) -> Tree {
        Tree { fd, path, opened: Mutex::new(HashMap::new()) }
    }

    fn opened(&self) -> MutexGuard<'_, HashMap<String, Arc<OwnedFd>>> {
        self.opened.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens (creating if needed) the folder `name` inside `parent`. `parent` is the user's
    /// choice and resolved as usual; `name` is below it, so a symbolic link there is an error,
    /// or with `force` replaced by a real folder.
    pub(super) fn open(parent: &Path, name: &str, force: bool) -> anyhow::Result<Tree> {
        use anyhow::Context as _;
        fs_err::create_dir_all(parent)?;
        let pfd = rustix::fs::open(parent, dir_flags() & !OFlags::NOFOLLOW, Mode::empty())
            .with_context(|| format!("opening {}", parent.display()))?;
        let path = parent.join(name);
        if let Some((t, _)) = stat_type(&pfd, name)?
            && t != FileType::Directory
        {
            if !force {
                anyhow::bail!(
                    "{} is {} where tykgen needs a folder; tykgen never writes through one \
                     (remove it, or render with --force to replace it by a real folder)",
                    path.display(),
                    kind_word(t)
                );
            }
            rustix::fs::unlinkat(&pfd, name, AtFlags::empty())
                .with_context(|| format!("removing {}", path.display()))?;
        }
        match rustix::fs::mkdirat(&pfd, name, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(io::Error::from(e)).with_context(|| format!("creating {}", path.display())),
        }
        let fd = rustix::fs::openat(&pfd, name, dir_flags(), Mode::empty())
            .with_context(|| format!("opening {} (without following links)", path.display()))?;
        Ok(Tree::new(fd, path))
    }

    /// True once the folder has been removed (by a render that failed and removed the folder it
    /// had created, while this one waited for its lock).
    pub(super) fn is_removed(&self) -> io::Result<bool> {
        Ok(rustix::fs::fstat(&self.fd)?.st_nlink == 0)
    }

    /// Opens an existing folder for reading only; `None` if it does not exist.
    pub(super) fn open_existing(parent: &Path, name: &str) -> anyhow::Result<Option<Tree>> {
        use anyhow::Context as _;
        let pfd = match rustix::fs::open(parent, dir_flags() & !OFlags::NOFOLLOW, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            Err(e) => return Err(io::Error::from(e)).with_context(|| format!("opening {}", parent.display())),
        };
        let path = parent.join(name);
        match stat_type(&pfd, name)? {
            None => Ok(None),
            Some((FileType::Directory, _)) => {
                let fd = rustix::fs::openat(&pfd, name, dir_flags(), Mode::empty())
                    .with_context(|| format!("opening {}", path.display()))?;
                Ok(Some(Tree::new(fd, path)))
            }
            Some((t, _)) => anyhow::bail!("{} is {}, not a folder tykgen wrote", path.display(), kind_word(t)),
        }
    }

    /// Takes the folder's lock: exclusive to write, shared to read. Waits, after saying so, while
    /// another tykgen holds it.
    pub(super) fn lock(&self, exclusive: bool) -> anyhow::Result<()> {
        let (try_op, wait_op) = if exclusive {
            (FlockOperation::NonBlockingLockExclusive, FlockOperation::LockExclusive)
        } else {
            (FlockOperation::NonBlockingLockShared, FlockOperation::LockShared)
        };
        match rustix::fs::flock(&self.fd, try_op) {
            Ok(()) => Ok(()),
            Err(rustix::io::Errno::WOULDBLOCK) => {
                eprintln!("waiting for another tykgen that is rendering into {} ...", self.path.display());
                rustix::fs::flock(&self.fd, wait_op).map_err(io::Error::from)?;
                Ok(())
            }
            Err(e) => {
                Err(anyhow::Error::from(io::Error::from(e)).context(format!("locking {} (flock)", self.path.display())))
            }
        }
    }

    /// The display path of `rel`.
    pub(super) fn show(&self, rel: &str) -> String {
        self.path.join(rel).display().to_string()
    }

    /// Opens the folder `rel` ("" for the root), never following links. `Ok(None)` when it or
    /// a folder above it is missing; an error when any of them is not a real folder.
    pub(super) fn dir(&self, rel: &str) -> io::Result<Option<Arc<OwnedFd>>> {
        match self.walk(rel)? {
            Ok(fd) => Ok(Some(fd)),
            Err(Walk::Missing) => Ok(None),
            Err(Walk::Blocked(..)) => Err(io::Error::other(format!("{} is not a real folder", self.show(rel)))),
        }
    }

    /// The folder `rel`, from the kept descriptors or by opening each component below the
    /// deepest kept folder above it.
    fn walk(&self, rel: &str) -> io::Result<Result<Arc<OwnedFd>, Walk>> {
        let kept = self.opened().get(rel).cloned();
        if let Some(fd) = kept {
            return Ok(Ok(fd));
        }
        let (parent, name) = match rel.rsplit_once('/') {
            Some((parent, name)) => (parent, name),
            None if rel.is_empty() => {
                let root = Arc::new(rustix::fs::openat(&self.fd, ".", dir_flags(), Mode::empty())?);
                self.keep(rel, &root);
                return Ok(Ok(root));
            }
            None => ("", rel),
        };
        let parent_fd = match self.walk(parent)? {
            Ok(fd) => fd,
            stop @ Err(_) => return Ok(stop),
        };
        match rustix::fs::openat(&*parent_fd, name, dir_flags(), Mode::empty()) {
            Ok(fd) => {
                let fd = Arc::new(fd);
                self.keep(rel, &fd);
                Ok(Ok(fd))
            }
            Err(rustix::io::Errno::NOENT) => Ok(Err(Walk::Missing)),
            Err(rustix::io::Errno::NOTDIR | rustix::io::Errno::LOOP) => match stat_type(&*parent_fd, name)? {
                Some((t, _)) if t != FileType::Directory => Ok(Err(Walk::Blocked(rel.to_owned(), kind_word(t)))),
                // Replaced while we looked: report what the open saw.
                _ => Err(io::Error::other(format!("{} is not a real folder", self.show(rel)))),
            },
            Err(e) => Err(e.into()),
        }
    }

    fn keep(&self, rel: &str, fd: &Arc<OwnedFd>) {
        let mut opened = self.opened();
        if opened.len() >= MAX_OPENED {
            opened.clear();
        }
        opened.insert(rel.to_owned(), Arc::clone(fd));
    }

    /// Forgets the kept descriptors of `rel` and every folder below it (before removing it).
    pub(super) fn forget(&self, rel: &str) {
        self.opened().retain(|k, _| {
            !(k == rel || (k.len() > rel.len() && k.starts_with(rel) && k.as_bytes()[rel.len()] == b'/'))
        });
    }

    /// What is at `rel`, looking at every component without following links. Regular files
    /// are read; FIFOs and devices are never opened.
    pub(super) fn lookup(&self, rel: &str) -> io::Result<Found> {
        let (dir, name) = split(rel);
        let cur = match self.walk(dir)? {
            Ok(fd) => fd,
            Err(Walk::Missing) => return Ok(Found::Missing),
            Err(Walk::Blocked(prefix, kind)) => return Ok(Found::Blocked(prefix, kind)),
        };
        match stat_type(&*cur, name)? {
            None => Ok(Found::Missing),
            Some((FileType::Directory, _)) => Ok(Found::Dir),
            Some((FileType::RegularFile, mode)) => {
                let fd = rustix::fs::openat(
                    &*cur,
                    name,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
                    Mode::empty(),
                )?;
                let mut bytes = Vec::new();
                std::fs::File::from(fd).read_to_end(&mut bytes)?;
                Ok(Found::File(bytes, mode & 0o777))
            }
            Some((t, _)) => Ok(Found::Special(kind_word(t))),
        }
    }

    /// True when this process may create and remove entries in the existing folder `rel`.
    pub(super) fn writable(&self, rel: &str) -> io::Result<bool> {
        let Some(fd) = self.dir(rel)? else { return Ok(true) };
        Ok(rustix::fs::accessat(
            &*fd,
            ".",
            rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK,
            AtFlags::empty(),
        )
        .is_ok())
    }

    /// Removes the non-folder entry at `rel` (a link itself, never its target). Missing or a
    /// real folder: nothing to do (so replaying a journal is safe).
    pub(super) fn remove(&self, rel: &str) -> io::Result<()> {
        let (dir, name) = split(rel);
        let Some(fd) = self.dir_or_none(dir)? else { return Ok(()) };
        match stat_type(&*fd, name)? {
            None | Some((FileType::Directory, _)) => Ok(()),
            Some(_) => rustix::fs::unlinkat(&*fd, name, AtFlags::empty()).map_err(Into::into),
        }
    }

    /// Creates the folder `rel`; its parent exists (the plan creates parents first).
    pub(super) fn mkdir(&self, rel: &str) -> io::Result<()> {
        let (dir, name) = split(rel);
        let fd = self.dir(dir)?.ok_or_else(|| io::Error::other(format!("{} is missing", self.show(dir))))?;
        match rustix::fs::mkdirat(&*fd, name, Mode::from_raw_mode(0o755)) {
            Ok(()) => Ok(()),
            Err(rustix::io::Errno::EXIST) if stat_type(&*fd, name)?.is_some_and(|(t, _)| t == FileType::Directory) => {
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the folder `rel` if it is empty.
    pub(super) fn prune(&self, rel: &str) -> io::Result<()> {
        let (dir, name) = split(rel);
        let Some(fd) = self.dir_or_none(dir)? else { return Ok(()) };
        if !stat_type(&*fd, name)?.is_some_and(|(t, _)| t == FileType::Directory) {
            return Ok(());
        }
        self.forget(rel);
        match rustix::fs::unlinkat(&*fd, name, AtFlags::REMOVEDIR) {
            Ok(()) | Err(rustix::io::Errno::NOTEMPTY | rustix::io::Errno::EXIST | rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes a new file `name` in the folder `dir` (which must exist), with `mode`, and
    /// flushes it. Replaces a file of that name.
    pub(super) fn create(&self, dir: &str, name: &str, contents: &[u8], mode: u32) -> io::Result<()> {
        let fd = self.dir(dir)?.ok_or_else(|| io::Error::other(format!("{} is missing", self.show(dir))))?;
        // Created with its mode when the umask keeps every bit of it (one call fewer per file),
        // else private and then given its mode.
        let exact = umask().is_some_and(|mask| mode & mask == 0);
        let open = || {
            rustix::fs::openat(
                &*fd,
                name,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(if exact { mode } else { 0o600 }),
            )
        };
        let file = match open() {
            Err(rustix::io::Errno::EXIST) => {
                rustix::fs::unlinkat(&*fd, name, AtFlags::empty())?;
                open()?
            }
            file => file?,
        };
        if !exact {
            rustix::fs::fchmod(&file, Mode::from_raw_mode(mode))?;
        }
        let mut file = std::fs::File::from(file);
        file.write_all(contents)?;
        Ok(())
    }

    /// Like [`Tree::create`] for the file `rel` below the folder `base` (both `/`-separated; the
    /// folders of `rel` exist), without opening the folders of `rel`: one `openat2` relative to
    /// `base` that meets no symbolic link on the way (`RESOLVE_NO_SYMLINKS`) and stays below `base`
    /// (`RESOLVE_BENEATH`). Staging a new folder per machine, the opening and closing of each
    /// folder was a third of the calls. Where that call is missing (Linux before 5.6, or a filter
    /// refuses it) or fails, and for a mode the umask would change, through [`Tree::create`].
    pub(super) fn create_below(&self, base: &str, rel: &str, contents: &[u8], mode: u32) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        if umask().is_some_and(|mask| mode & mask == 0)
            && let Some(fd) = self.dir(base)?
        {
            use rustix::fs::ResolveFlags;
            let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
            if let Ok(file) = rustix::fs::openat2(&*fd, rel, flags, Mode::from_raw_mode(mode), resolve) {
                return std::fs::File::from(file).write_all(contents);
            }
        }
        let path = if base.is_empty() { rel.to_owned() } else { format!("{base}/{rel}") };
        let (dir, name) = split(&path);
        self.create(dir, name, contents, mode)
    }

    /// Removes the folder `rel` and everything in it, never following a link (a link in it is
    /// removed, not what it points to). Missing: nothing to do.
    pub(super) fn remove_all(&self, rel: &str) -> io::Result<()> {
        let (dir, name) = split(rel);
        let Some(fd) = self.dir_or_none(dir)? else { return Ok(()) };
        match stat_type(&*fd, name)? {
            None => return Ok(()),
            Some((FileType::Directory, _)) => {}
            Some(_) => return rustix::fs::unlinkat(&*fd, name, AtFlags::empty()).map_err(Into::into),
        }
        for entry in self.list(rel)? {
            self.remove_all(&format!("{rel}/{entry}"))?;
        }
        self.forget(rel);
        match rustix::fs::unlinkat(&*fd, name, AtFlags::REMOVEDIR) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Moves `from` (a file or folder of the folder `from_dir`) to `to`, replacing whatever
    /// non-folder entry is there (a link is replaced, not followed); a folder goes only where
    /// nothing (or an empty folder) is. `Ok(false)` when `from` is gone: an earlier run already
    /// moved it.
    pub(super) fn rename(&self, from_dir: &str, from: &str, to: &str) -> io::Result<bool> {
        let Some(src) = self.dir_or_none(from_dir)? else { return Ok(false) };
        let (dir, name) = split(to);
        let dst = self.dir(dir)?.ok_or_else(|| io::Error::other(format!("{} is missing", self.show(dir))))?;
        match rustix::fs::renameat(&*src, from, &*dst, name) {
            Ok(()) => Ok(true),
            Err(rustix::io::Errno::NOENT) if stat_type(&*src, from)?.is_none() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The names in the folder `rel`.
    pub(super) fn list(&self, rel: &str) -> io::Result<Vec<String>> {
        let Some(fd) = self.dir_or_none(rel)? else { return Ok(Vec::new()) };
        // Its own descriptor: reading moves the position of the one it reads.
        let fd = rustix::fs::openat(&*fd, ".", dir_flags(), Mode::empty())?;
        let mut out = Vec::new();
        for entry in rustix::fs::Dir::read_from(&fd)? {
            let entry = entry?;
            let name = OsStr::from_bytes(entry.file_name().to_bytes()).to_string_lossy().into_owned();
            if name != "." && name != ".." {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Flushes everything written on this file system (before the journal is committed).
    pub(super) fn sync(&self) -> io::Result<()> {
        rustix::fs::syncfs(&self.fd).map_err(Into::into)
    }

    fn dir_or_none(&self, rel: &str) -> io::Result<Option<Arc<OwnedFd>>> {
        match self.dir(rel) {
            Ok(fd) => Ok(fd),
            // A link or file where a folder was: nothing of tykgen's is below it.
            Err(e) if e.kind() == io::ErrorKind::Other => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The process's umask, read once (from `/proc`: setting it to read it would race with the
/// other threads' files). `None` where it cannot be read: every file is then given its mode.
fn umask() -> Option<u32> {
    static UMASK: OnceLock<Option<u32>> = OnceLock::new();
    *UMASK.get_or_init(|| {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
        u32::from_str_radix(line.trim(), 8).ok()
    })
}

/// `("a/b", "c")` for `"a/b/c"`, `("", "c")` for `"c"`.
fn split(rel: &str) -> (&str, &str) {
    rel.rsplit_once('/').unwrap_or(("", rel))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{PermissionsExt as _, symlink};

    use super::*;

    #[test]
    fn create_below_writes_the_file_and_never_follows_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let tree = Tree::open(dir.path(), "out", false).unwrap();
        tree.mkdir("stage").unwrap();
        tree.mkdir("stage/a").unwrap();
        tree.create_below("stage", "a/f", b"bytes", 0o644).unwrap();
        let written = dir.path().join("out/stage/a/f");
        assert_eq!(std::fs::read(&written).unwrap(), b"bytes");
        assert_eq!(std::fs::metadata(&written).unwrap().permissions().mode() & 0o777, 0o644);
        // A link where a folder of the path should be: refused, nothing written where it points.
        symlink(&outside, dir.path().join("out/stage/link")).unwrap();
        tree.create_below("stage", "link/f", b"bytes", 0o644).unwrap_err();
        assert!(!outside.join("f").exists(), "written through the link");
        // A link in place of the file: replaced by the file, not written through.
        symlink(outside.join("target"), dir.path().join("out/stage/a/g")).unwrap();
        tree.create_below("stage", "a/g", b"new", 0o644).unwrap();
        assert!(!outside.join("target").exists(), "written through the link");
        assert_eq!(std::fs::read(dir.path().join("out/stage/a/g")).unwrap(), b"new");
    }
}
