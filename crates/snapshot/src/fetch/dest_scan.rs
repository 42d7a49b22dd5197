use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::sync::Mutex;

use rustix::fs::{AtFlags, Mode};
use tracing::info;

use crate::fetch::dest_dir::{DIR_FLAGS, DestDir, LocalKind, LocalStat};

/// Everything found in the destination, by path relative to it (`/`-separated bytes).
#[derive(Debug, Default)]
pub(crate) struct LocalTree {
    /// `lstat` of each path.
    pub stats: HashMap<OsString, LocalStat>,
    /// Target of each symlink.
    pub link_targets: HashMap<OsString, OsString>,
}

impl LocalTree {
    /// What is at `path`, if anything.
    pub(crate) fn get(&self, path: &str) -> Option<&LocalStat> {
        self.stats.get(OsStr::new(path))
    }
}

/// Lists the destination (`lstat` of everything, directories in parallel), leaving out
/// the paths `skip` names (the marker, the snapshot's excluded patterns) and mount points
/// (anything on another device than the destination, such as a file mounted into it).
pub(crate) fn scan_dest(dest: &DestDir, skip: &(dyn Fn(&Path) -> bool + Sync)) -> io::Result<LocalTree> {
    let root_dev = rustix::fs::fstat(dest.root())?.st_dev;
    let found: Mutex<Vec<Found>> = Mutex::new(Vec::new());
    let failure: Mutex<Option<io::Error>> = Mutex::new(None);
    let scan = Scan { root_dev, skip, found: &found, failure: &failure };
    let root = rustix::fs::openat(dest.root(), ".", DIR_FLAGS, Mode::empty())?;
    rayon::scope(|scope| scan.dir(scope, root, OsString::new()));
    if let Some(error) = failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(error);
    }
    let mut tree = LocalTree::default();
    for (path, stat, target) in found.into_inner().unwrap_or_else(|e| e.into_inner()) {
        if let Some(target) = target {
            tree.link_targets.insert(path.clone(), target);
        }
        tree.stats.insert(path, stat);
    }
    Ok(tree)
}

/// A path, its `lstat`, and a symlink's target.
type Found = (OsString, LocalStat, Option<OsString>);
/// An open subdirectory still to list, and its path.
type Subdir = (OwnedFd, OsString);

struct Scan<'a> {
    root_dev: u64,
    skip: &'a (dyn Fn(&Path) -> bool + Sync),
    found: &'a Mutex<Vec<Found>>,
    failure: &'a Mutex<Option<io::Error>>,
}

impl<'a> Scan<'a> {
    /// Lists directory `dir` (at `rel`) and hands each subdirectory to another task.
    fn dir<'s>(&'s self, scope: &rayon::Scope<'s>, dir: OwnedFd, rel: OsString) {
        match self.list(&dir, &rel) {
            Ok((found, subdirs)) => {
                self.found.lock().unwrap_or_else(|e| e.into_inner()).extend(found);
                for (fd, path) in subdirs {
                    scope.spawn(move |scope| self.dir(scope, fd, path));
                }
            }
            Err(error) => {
                self.failure.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(error);
            }
        }
    }

    fn list(&self, dir: &OwnedFd, rel: &OsStr) -> io::Result<(Vec<Found>, Vec<Subdir>)> {
        let (mut found, mut subdirs) = (Vec::new(), Vec::new());
        for item in rustix::fs::Dir::read_from(dir)? {
            let item = item?;
            let name = item.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let path = if rel.is_empty() {
                OsString::from_vec(name.to_vec())
            } else {
                OsString::from_vec([rel.as_bytes(), b"/", name].concat())
            };
            if (self.skip)(Path::new(&path)) {
                continue;
            }
            let name = OsStr::from_bytes(name);
            let stat = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(stat) => LocalStat::from_stat(&stat),
                Err(rustix::io::Errno::NOENT) => continue,
                Err(e) => return Err(e.into()),
            };
            if stat.dev != self.root_dev {
                // a volume or a file mounted into the destination: never ours to change
                info!(path = %Path::new(&path).display(), "leaving a mount point in the destination alone");
                continue;
            }
            let mut target = None;
            match stat.kind {
                LocalKind::Dir => {
                    subdirs.push((rustix::fs::openat(dir, name, DIR_FLAGS, Mode::empty())?, path.clone()))
                }
                LocalKind::Symlink => {
                    target = Some(OsString::from_vec(rustix::fs::readlinkat(dir, name, Vec::new())?.into_bytes()));
                }
                LocalKind::File | LocalKind::Other => {}
            }
            found.push((path, stat, target));
        }
        Ok((found, subdirs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_everything_but_what_is_skipped() {
        let dest = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dest.path().join("a/b")).unwrap();
        std::fs::create_dir_all(dest.path().join("data/x")).unwrap();
        std::fs::write(dest.path().join("a/b/f"), b"xy").unwrap();
        std::fs::write(dest.path().join(".directory"), b"{}").unwrap();
        std::os::unix::fs::symlink("b", dest.path().join("a/l")).unwrap();
        let dir = DestDir::open(dest.path()).unwrap();
        let tree = scan_dest(&dir, &|p| p == Path::new(".directory") || p == Path::new("data")).unwrap();
        let mut paths: Vec<_> = tree.stats.keys().map(|p| p.to_str().unwrap()).collect();
        paths.sort();
        assert_eq!(paths, ["a", "a/b", "a/b/f", "a/l"]);
        assert_eq!(tree.get("a/b/f").unwrap().size, 2);
        assert_eq!(tree.link_targets[OsStr::new("a/l")], "b");
    }
}
