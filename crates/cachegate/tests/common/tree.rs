//! Directory trees: walking them, describing them for comparison, and extracting archives
//! into them with plain tar.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `root` and every path below it, never following symlinks.
pub fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.to_path_buf()];
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for item in std::fs::read_dir(&dir).unwrap() {
            let path = item.unwrap().path();
            if std::fs::symlink_metadata(&path).unwrap().is_dir() {
                pending.push(path.clone());
            }
            out.push(path);
        }
    }
    out
}

/// What a tree holds at one path, as compared between source and destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir { mode: u32, mtime: i64 },
    File { mode: u32, mtime: i64, content: Vec<u8> },
    Symlink { target: PathBuf, mtime: i64 },
}

/// Every path under `root` (but `skip`) with what is there; hard links listed as groups.
pub fn snapshot_of(root: &Path, skip: &[&str]) -> (BTreeMap<String, Node>, Vec<Vec<String>>) {
    let mut nodes = BTreeMap::new();
    let mut inodes: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for path in walk(root).into_iter().skip(1) {
        let rel = path.strip_prefix(root).unwrap().to_str().unwrap().to_owned();
        if skip.iter().any(|s| Path::new(&rel).starts_with(s)) {
            continue;
        }
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let node = if meta.file_type().is_symlink() {
            Node::Symlink { target: std::fs::read_link(&path).unwrap(), mtime: meta.mtime() }
        } else if meta.is_dir() {
            Node::Dir { mode: meta.mode() & 0o7777, mtime: meta.mtime() }
        } else {
            if meta.nlink() > 1 {
                inodes.entry(meta.ino()).or_default().push(rel.clone());
            }
            Node::File { mode: meta.mode() & 0o7777, mtime: meta.mtime(), content: std::fs::read(&path).unwrap() }
        };
        nodes.insert(rel, node);
    }
    let mut links: Vec<Vec<String>> = inodes
        .into_values()
        .map(|mut v| {
            v.sort();
            v
        })
        .collect();
    links.sort();
    (nodes, links)
}

/// Extracts the tar.gz `archive` into the existing directory `dest` with plain `tar -xzf`.
pub fn untar(archive: &[u8], dest: &Path) {
    let mut tar = Command::new("tar").args(["-xzf", "-", "-C"]).arg(dest).stdin(Stdio::piped()).spawn().unwrap();
    tar.stdin.take().unwrap().write_all(archive).unwrap();
    assert!(tar.wait().unwrap().success(), "plain tar extracts the archive");
}
