//! File system operations confined to the destination: every path is resolved one
//! component at a time from the destination's descriptor with `O_NOFOLLOW`, so no
//! symlink (planted in the destination or created by a snapshot) is ever followed.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustix::fs::{AtFlags, Mode, OFlags, Timespec, Timestamps};
use rustix::process::{Gid, Uid};

/// The destination directory and a cache of descriptors of the directories in it.
pub(crate) struct DestDir {
    root: Arc<OwnedFd>,
    path: PathBuf,
    dirs: RwLock<HashMap<PathBuf, Arc<OwnedFd>>>,
    cache_cap: usize,
    /// The process's umask, or all bits when it cannot be read.
    umask: u32,
}

/// What `lstat` says about a path in the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LocalStat {
    /// File type.
    pub kind: LocalKind,
    /// Length.
    pub size: u64,
    /// Permission bits (with set-id and sticky bits).
    pub mode: u32,
    /// Modification time, seconds.
    pub mtime: i64,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
}

/// File types found in the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LocalKind {
    /// Regular file.
    File,
    /// Directory.
    Dir,
    /// Symbolic link.
    Symlink,
    /// Anything else (socket, FIFO, device).
    Other,
}

impl LocalStat {
    pub(crate) fn from_stat(stat: &rustix::fs::Stat) -> Self {
        let kind = match rustix::fs::FileType::from_raw_mode(stat.st_mode) {
            rustix::fs::FileType::RegularFile => LocalKind::File,
            rustix::fs::FileType::Directory => LocalKind::Dir,
            rustix::fs::FileType::Symlink => LocalKind::Symlink,
            _ => LocalKind::Other,
        };
        Self {
            kind,
            size: stat.st_size as u64,
            mode: stat.st_mode & 0o7777,
            mtime: stat.st_mtime,
            uid: stat.st_uid,
            gid: stat.st_gid,
            dev: stat.st_dev,
            ino: stat.st_ino,
        }
    }
}

/// Opening a directory of the destination: read-only, never through a symlink.
pub(crate) const DIR_FLAGS: OFlags =
    OFlags::RDONLY.union(OFlags::DIRECTORY).union(OFlags::NOFOLLOW).union(OFlags::CLOEXEC);

impl DestDir {
    /// Opens (creating it if needed) the destination `path`; the path itself is the
    /// operator's and may go through symlinks.
    pub(crate) fn open(path: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(path)?;
        let root = rustix::fs::open(path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        Ok(Self {
            root: Arc::new(root),
            path: path.to_owned(),
            dirs: RwLock::default(),
            cache_cap: dir_cache_cap(),
            umask: read_umask().unwrap_or(0o777),
        })
    }

    /// The destination's path, for messages.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The destination's own descriptor.
    pub(crate) fn root(&self) -> &OwnedFd {
        &self.root
    }

    /// A descriptor of directory `rel` (`""` is the destination).
    fn dir(&self, rel: &Path) -> io::Result<Arc<OwnedFd>> {
        if rel.as_os_str().is_empty() {
            return Ok(Arc::clone(&self.root));
        }
        if let Some(fd) = self.dirs.read().unwrap_or_else(|e| e.into_inner()).get(rel) {
            return Ok(Arc::clone(fd));
        }
        let (parent, name) = self.parent(rel)?;
        let fd = Arc::new(rustix::fs::openat(&*parent, name, DIR_FLAGS, Mode::empty())?);
        let mut dirs = self.dirs.write().unwrap_or_else(|e| e.into_inner());
        if dirs.len() < self.cache_cap {
            dirs.insert(rel.to_owned(), Arc::clone(&fd));
        }
        Ok(fd)
    }

    /// The directory holding `rel` and the last component of `rel`.
    fn parent<'p>(&self, rel: &'p Path) -> io::Result<(Arc<OwnedFd>, &'p OsStr)> {
        let name = rel.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
        Ok((self.dir(rel.parent().unwrap_or(Path::new("")))?, name))
    }

    /// Creates directory `rel` (private until its metadata is applied); an existing
    /// directory is fine.
    pub(crate) fn mkdir(&self, rel: &Path) -> io::Result<()> {
        let (parent, name) = self.parent(rel)?;
        match rustix::fs::mkdirat(&*parent, name, Mode::from_raw_mode(0o700)) {
            Err(rustix::io::Errno::EXIST) => {
                let stat = rustix::fs::statat(&*parent, name, AtFlags::SYMLINK_NOFOLLOW)?;
                if LocalStat::from_stat(&stat).kind == LocalKind::Dir {
                    Ok(())
                } else {
                    Err(io::Error::new(io::ErrorKind::AlreadyExists, "not a directory"))
                }
            }
            other => Ok(other?),
        }
    }

    /// Whether a file created with permission bits `mode` gets all of them (the umask
    /// takes none away), so that they need not be set again.
    pub(crate) fn creates_with(&self, mode: u32) -> bool {
        mode & self.umask == 0
    }

    /// Replaces whatever is at `rel` with a new, empty regular file with permission bits
    /// `mode` (less the umask; [`PRIVATE`] until its contents are verified).
    pub(crate) fn create_file(&self, rel: &Path, mode: u32) -> io::Result<File> {
        let (parent, name) = self.parent(rel)?;
        let flags = OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let create = || rustix::fs::openat(&*parent, name, flags, Mode::from_raw_mode(mode));
        let fd = match create() {
            // a new inode, never the old one: its other hard links keep their content
            Err(rustix::io::Errno::EXIST) => {
                rustix::fs::unlinkat(&*parent, name, AtFlags::empty())?;
                create()?
            }
            other => other?,
        };
        Ok(File::from(fd))
    }

    /// Opens file or directory `rel` read-only (never through a symlink).
    pub(crate) fn open_file(&self, rel: &Path) -> io::Result<File> {
        let (parent, name) = self.parent(rel)?;
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
        Ok(File::from(rustix::fs::openat(&*parent, name, flags, Mode::empty())?))
    }

    /// Removes whatever is at `rel`; a directory with everything in it.
    pub(crate) fn remove(&self, rel: &Path) -> io::Result<()> {
        let (parent, name) = self.parent(rel)?;
        match rustix::fs::unlinkat(&*parent, name, AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(rustix::io::Errno::ISDIR) | Err(rustix::io::Errno::PERM) => {
                self.forget(rel);
                remove_tree(&parent, name)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Creates symlink `rel` pointing to `target`.
    pub(crate) fn symlink(&self, target: &str, rel: &Path) -> io::Result<()> {
        let (parent, name) = self.parent(rel)?;
        Ok(rustix::fs::symlinkat(target, &*parent, name)?)
    }

    /// Makes `rel` a further name of the regular file `target`.
    pub(crate) fn hard_link(&self, target: &Path, rel: &Path) -> io::Result<()> {
        let (target_parent, target_name) = self.parent(target)?;
        let (parent, name) = self.parent(rel)?;
        Ok(rustix::fs::linkat(&*target_parent, target_name, &*parent, name, AtFlags::empty())?)
    }

    /// Sets owner, permission bits (not on symlinks) and modification time of `rel`.
    pub(crate) fn set_metadata(
        &self,
        rel: &Path,
        symlink: bool,
        mode: u32,
        mtime: u64,
        owner: Option<(u32, u32)>,
    ) -> io::Result<()> {
        if !symlink {
            // a directory holding what was written is open already
            let cached = self.dirs.read().unwrap_or_else(|e| e.into_inner()).get(rel).cloned();
            return match cached {
                Some(dir) => set_file_metadata(&*dir, Some(mode), mtime, owner),
                None => set_file_metadata(&self.open_file(rel)?, Some(mode), mtime, owner),
            };
        }
        let (parent, name) = self.parent(rel)?;
        if let Some((uid, gid)) = owner {
            let (uid, gid) = (Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)));
            rustix::fs::chownat(&*parent, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)?;
        }
        Ok(rustix::fs::utimensat(&*parent, name, &times(mtime), AtFlags::SYMLINK_NOFOLLOW)?)
    }

    /// Drops cached descriptors of `rel` and the directories below it.
    fn forget(&self, rel: &Path) {
        self.dirs.write().unwrap_or_else(|e| e.into_inner()).retain(|path, _| !path.starts_with(rel));
    }
}

/// Permission bits of a file until its contents are verified.
pub(crate) const PRIVATE: u32 = 0o600;

/// Sets owner, permission bits (unless `None`: set at creation) and modification time
/// through an open file or directory.
pub(crate) fn set_file_metadata(
    fd: impl AsFd,
    mode: Option<u32>,
    mtime: u64,
    owner: Option<(u32, u32)>,
) -> io::Result<()> {
    if let Some((uid, gid)) = owner {
        rustix::fs::fchown(&fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))?;
    }
    if let Some(mode) = mode {
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))?;
    }
    rustix::fs::futimens(&fd, &times(mtime))?;
    Ok(())
}

/// The process's umask, as `/proc/self/status` tells it (reading it any other way sets it).
fn read_umask() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|line| line.strip_prefix("Umask:"))?;
    u32::from_str_radix(line.trim(), 8).ok()
}

fn times(mtime: u64) -> Timestamps {
    let mtime = Timespec { tv_sec: mtime as i64, tv_nsec: 0 };
    Timestamps { last_access: mtime, last_modification: mtime }
}

/// Removes directory `name` in `parent` with everything in it, never following a symlink.
fn remove_tree(parent: &OwnedFd, name: &OsStr) -> io::Result<()> {
    let dir = rustix::fs::openat(parent, name, DIR_FLAGS, Mode::empty())?;
    let mut names = Vec::new();
    for item in rustix::fs::Dir::read_from(&dir)? {
        let item = item?;
        let child = item.file_name().to_bytes();
        if child != b"." && child != b".." {
            names.push((OsString::from_vec(child.to_vec()), item.file_type()));
        }
    }
    for (child, file_type) in names {
        match rustix::fs::unlinkat(&dir, &child, AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => {}
            Err(rustix::io::Errno::ISDIR) | Err(rustix::io::Errno::PERM)
                if file_type == rustix::fs::FileType::Directory || file_type == rustix::fs::FileType::Unknown =>
            {
                remove_tree(&dir, &child)?
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR)?)
}

/// How many directory descriptors to keep open: raises the soft open-files limit to the
/// hard one and leaves room for files and sockets.
fn dir_cache_cap() -> usize {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if let Some(hard) = limit.maximum {
        let _ = setrlimit(Resource::Nofile, Rlimit { current: Some(hard), maximum: Some(hard) });
    }
    let soft = getrlimit(Resource::Nofile).current.unwrap_or(1 << 20);
    (soft as usize).saturating_sub(512).min(1 << 20)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn never_follows_symlinks_in_the_destination() {
        let outside = tempfile::tempdir().unwrap();
        let dest = tempfile::tempdir().unwrap();
        symlink(outside.path(), dest.path().join("evil")).unwrap();
        let dir = DestDir::open(dest.path()).unwrap();
        assert!(dir.create_file(Path::new("evil/x"), PRIVATE).is_err());
        assert!(dir.mkdir(Path::new("evil/y")).is_err());
        assert!(dir.mkdir(Path::new("evil")).is_err());
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
        dir.remove(Path::new("evil")).unwrap();
        assert!(outside.path().exists());
    }

    #[test]
    fn creates_and_removes_trees() {
        let dest = tempfile::tempdir().unwrap();
        let dir = DestDir::open(dest.path()).unwrap();
        dir.mkdir(Path::new("a")).unwrap();
        dir.mkdir(Path::new("a/b")).unwrap();
        dir.mkdir(Path::new("a/b")).unwrap();
        std::io::Write::write_all(&mut dir.create_file(Path::new("a/b/f"), PRIVATE).unwrap(), b"x").unwrap();
        dir.symlink("../b", Path::new("a/b/l")).unwrap();
        assert_eq!(std::fs::read(dest.path().join("a/b/f")).unwrap(), b"x");
        assert_eq!(std::fs::read_link(dest.path().join("a/b/l")).unwrap(), PathBuf::from("../b"));
        dir.remove(Path::new("a")).unwrap();
        assert!(!dest.path().join("a").exists());
        // a recreated directory is opened anew, not through the removed one's cached descriptor
        dir.mkdir(Path::new("a")).unwrap();
        dir.mkdir(Path::new("a/b")).unwrap();
        assert!(dest.path().join("a/b").is_dir());
    }
}
