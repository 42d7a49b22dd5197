use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use tracing::warn;

use crate::error::{Result, SnapshotError};
use crate::pack::excludes::Excludes;

/// One thing found under the source directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceEntry {
    /// Path relative to the source, `/`-separated.
    pub path: String,
    /// What it is.
    pub kind: SourceKind,
    /// Permission bits (set-id and sticky bits dropped).
    pub mode: u32,
    /// Modification time, seconds since the epoch (0 for earlier times).
    pub mtime: u64,
    /// Length of a regular file.
    pub size: u64,
    /// Owner, for the tar header.
    pub uid: u32,
    /// Group, for the tar header.
    pub gid: u32,
}

/// The kinds of entries a snapshot holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link with its target.
    Symlink(String),
    /// A further name of the regular file at the given path, seen earlier in the walk.
    Hardlink(String),
}

/// Walks `root` depth-first, each directory's names in byte order, leaving out what
/// `excludes` matches; a directory comes before what it holds. Sockets, FIFOs and device
/// files are skipped with a warning; a name that is not UTF-8 is an error.
pub fn walk_source(root: &Path, excludes: &Excludes) -> Result<Vec<SourceEntry>> {
    let meta = std::fs::metadata(root).map_err(|e| SnapshotError::io("read", root, e))?;
    if !meta.is_dir() {
        return Err(SnapshotError::Usage(format!("--source {} is not a directory", root.display())));
    }
    let mut walk = Walk { excludes, entries: Vec::new(), inodes: HashMap::new() };
    walk.dir(root, "")?;
    Ok(walk.entries)
}

/// The error for a name or link target at `path` that a snapshot cannot hold: the index is
/// JSON, its paths UTF-8.
fn not_utf8(path: &Path, what: &str) -> SnapshotError {
    let reason = std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{what} is not UTF-8"));
    SnapshotError::io("publish", path, reason)
}

struct Walk<'a> {
    excludes: &'a Excludes,
    entries: Vec<SourceEntry>,
    /// (device, inode) of regular files with more than one name → first path seen.
    inodes: HashMap<(u64, u64), String>,
}

impl Walk<'_> {
    fn dir(&mut self, dir: &Path, relative: &str) -> Result<()> {
        let reader = std::fs::read_dir(dir).map_err(|e| SnapshotError::io("read directory", dir, e))?;
        let mut names = Vec::new();
        for item in reader {
            let item = item.map_err(|e| SnapshotError::io("read directory", dir, e))?;
            let name = item.file_name().into_string().map_err(|raw| not_utf8(&dir.join(raw), "file name"))?;
            names.push(name);
        }
        names.sort_unstable();
        for name in names {
            let path = if relative.is_empty() { name.clone() } else { format!("{relative}/{name}") };
            if self.excludes.matches(&path) {
                continue;
            }
            let full: PathBuf = dir.join(&name);
            let meta = std::fs::symlink_metadata(&full).map_err(|e| SnapshotError::io("stat", &full, e))?;
            let kind = match meta.file_type() {
                t if t.is_dir() => SourceKind::Dir,
                t if t.is_symlink() => {
                    let target = std::fs::read_link(&full).map_err(|e| SnapshotError::io("read link", &full, e))?;
                    let target =
                        target.into_os_string().into_string().map_err(|_| not_utf8(&full, "symlink target"))?;
                    SourceKind::Symlink(target)
                }
                t if t.is_file() => self.file_kind(&path, &meta),
                _ => {
                    warn!(path = %full.display(), "skipping a socket, FIFO or device file: snapshots hold none");
                    continue;
                }
            };
            self.push(path.clone(), kind.clone(), &full, &meta);
            if kind == SourceKind::Dir {
                self.dir(&full, &path)?;
            }
        }
        Ok(())
    }

    fn file_kind(&mut self, path: &str, meta: &Metadata) -> SourceKind {
        if meta.nlink() > 1 {
            if let Some(first) = self.inodes.get(&(meta.dev(), meta.ino())) {
                return SourceKind::Hardlink(first.clone());
            }
            self.inodes.insert((meta.dev(), meta.ino()), path.to_owned());
        }
        SourceKind::File
    }

    fn push(&mut self, path: String, kind: SourceKind, full: &Path, meta: &Metadata) {
        let special = meta.mode() & 0o7000;
        if special != 0 && !matches!(kind, SourceKind::Symlink(_)) {
            warn!(path = %full.display(), mode = format!("{:o}", meta.mode() & 0o7777), "dropping set-id and sticky bits");
        }
        let size = if kind == SourceKind::File { meta.len() } else { 0 };
        self.entries.push(SourceEntry {
            path,
            kind,
            mode: meta.mode() & 0o777,
            mtime: u64::try_from(meta.mtime()).unwrap_or(0),
            size,
            uid: meta.uid(),
            gid: meta.gid(),
        });
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{PermissionsExt, symlink};

    use super::*;

    #[test]
    fn walks_in_order_with_links_and_excludes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for d in ["b", "a", "data", "config"] {
            std::fs::create_dir(root.join(d)).unwrap();
        }
        std::fs::write(root.join("a/x.php"), b"<?php").unwrap();
        std::fs::write(root.join("data/secret"), b"s").unwrap();
        std::fs::write(root.join("config/config.php"), b"pw").unwrap();
        std::fs::write(root.join("config/other.php"), b"o").unwrap();
        std::fs::hard_link(root.join("a/x.php"), root.join("b/y.php")).unwrap();
        symlink("../a/x.php", root.join("b/z")).unwrap();
        std::fs::set_permissions(root.join("a/x.php"), std::fs::Permissions::from_mode(0o4755)).unwrap();

        let excludes = Excludes::new(crate::pack::excludes::DEFAULT_EXCLUDES).unwrap();
        let entries = walk_source(root, &excludes).unwrap();
        let listed: Vec<(&str, &SourceKind)> = entries.iter().map(|e| (e.path.as_str(), &e.kind)).collect();
        assert_eq!(
            listed,
            [
                ("a", &SourceKind::Dir),
                ("a/x.php", &SourceKind::File),
                ("b", &SourceKind::Dir),
                ("b/y.php", &SourceKind::Hardlink("a/x.php".into())),
                ("b/z", &SourceKind::Symlink("../a/x.php".into())),
                ("config", &SourceKind::Dir),
                ("config/other.php", &SourceKind::File),
            ]
        );
        assert_eq!((entries[1].mode, entries[1].size), (0o755, 5));
    }

    #[test]
    fn names_and_link_targets_must_be_utf8() {
        use std::os::unix::ffi::OsStrExt;
        let latin1 = std::ffi::OsStr::from_bytes(b"caf\xe9");
        let excludes = Excludes::new::<&str>(&[]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(latin1), b"").unwrap();
        let error = walk_source(dir.path(), &excludes).unwrap_err().to_string();
        assert!(error.ends_with("file name is not UTF-8"), "{error}");

        let dir = tempfile::tempdir().unwrap();
        symlink(latin1, dir.path().join("l")).unwrap();
        let error = walk_source(dir.path(), &excludes).unwrap_err().to_string();
        assert!(error.ends_with("symlink target is not UTF-8"), "{error}");
    }
}
