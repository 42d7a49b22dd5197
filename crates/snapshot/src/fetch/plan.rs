//! What to change in the destination to make it the snapshot: pure, from the index, what
//! the destination holds, and what the marker says about it.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::fetch::dest_dir::{LocalKind, LocalStat};
use crate::fetch::dest_scan::LocalTree;
use crate::index::{Entry, EntryKind, Index};

/// What the marker tells about the destination's files.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Trust<'a> {
    /// It holds the snapshot being fetched: a file with the index's size and mtime is intact.
    Same,
    /// It holds this other snapshot: a file unchanged between the two, with the size and
    /// mtime the old index gives, is intact.
    Previous(&'a Index),
    /// Nothing is known: only a file's hash tells.
    Unknown,
}

/// Changes to make, by index entry number (removals by path).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Paths to remove (whole trees), none below another.
    pub remove: Vec<PathBuf>,
    /// Directories to create, parents first.
    pub mkdir: Vec<usize>,
    /// Files to download, in index order, which is tar offset order (the index's rules).
    pub write: Vec<usize>,
    /// Files of the right size whose content must be hashed before deciding.
    pub hash: Vec<usize>,
    /// Symlinks and hard links to create.
    pub link: Vec<usize>,
    /// Entries that stay but need their owner, mode or mtime set.
    pub metadata: Vec<usize>,
}

impl Plan {
    /// Whether the tree itself changes (so directory times must be set again).
    pub(crate) fn changes_tree(&self) -> bool {
        !(self.remove.is_empty() && self.mkdir.is_empty() && self.write.is_empty() && self.link.is_empty())
    }

    /// Whether the destination already is the snapshot.
    pub(crate) fn is_empty(&self) -> bool {
        !self.changes_tree() && self.hash.is_empty() && self.metadata.is_empty()
    }
}

/// Everything planning looks at.
pub(crate) struct PlanInput<'a> {
    /// The snapshot to reach.
    pub index: &'a Index,
    /// The destination as scanned.
    pub local: &'a LocalTree,
    /// What the marker says.
    pub trust: Trust<'a>,
    /// Hash every file of the right size, whatever the marker says.
    pub full: bool,
    /// Owner every entry must have, if one was asked for.
    pub owner: Option<(u32, u32)>,
    /// Files already hashed: whether their content matched.
    pub hashed: &'a HashMap<usize, bool>,
}

/// Plans the changes; files needing a hash are listed in [`Plan::hash`] until `hashed`
/// answers for them.
pub(crate) fn plan(input: &PlanInput<'_>) -> Plan {
    let mut plan = Plan::default();
    let mut removed: HashSet<PathBuf> = HashSet::new();
    let mut written: HashSet<&str> = HashSet::new();
    let old: HashMap<&str, &Entry> = match input.trust {
        Trust::Previous(old) => old.entries.iter().map(|e| (e.path.as_str(), e)).collect(),
        _ => HashMap::new(),
    };
    let local_of = |path: &str| input.local.get(path);
    for (n, entry) in input.index.entries.iter().enumerate() {
        let path = Path::new(&entry.path);
        let local = local_of(&entry.path);
        match entry.kind {
            EntryKind::Dir => match local {
                Some(l) if l.kind == LocalKind::Dir => {
                    if metadata_differs(l, entry, input.owner) {
                        plan.metadata.push(n);
                    }
                }
                Some(_) => {
                    removed.insert(path.to_owned());
                    plan.mkdir.push(n);
                }
                None => plan.mkdir.push(n),
            },
            EntryKind::File => match local {
                Some(l) if l.kind == LocalKind::File && l.size == entry.size => {
                    match content_known(input, n, entry, l, &old) {
                        Some(true) if metadata_differs(l, entry, input.owner) => plan.metadata.push(n),
                        Some(true) => {}
                        Some(false) => {
                            plan.write.push(n);
                            written.insert(&entry.path);
                        }
                        None => plan.hash.push(n),
                    }
                }
                _ => {
                    if local.is_some_and(|l| l.kind != LocalKind::File) {
                        removed.insert(path.to_owned());
                    }
                    plan.write.push(n);
                    written.insert(&entry.path);
                }
            },
            EntryKind::Symlink => {
                let same_link = local.filter(|l| {
                    l.kind == LocalKind::Symlink
                        && input.local.link_targets.get(OsStr::new(&entry.path)).is_some_and(|t| t == entry.target())
                });
                match same_link {
                    Some(l) => {
                        let owner_differs = input.owner.is_some_and(|(u, g)| (l.uid, l.gid) != (u, g));
                        if owner_differs || l.mtime != entry.mtime as i64 {
                            plan.metadata.push(n);
                        }
                    }
                    None => {
                        if local.is_some() {
                            removed.insert(path.to_owned());
                        }
                        plan.link.push(n);
                    }
                }
            }
            EntryKind::Hardlink => {
                let target = local_of(entry.target());
                let linked = match (local, target) {
                    (Some(l), Some(t)) => l.kind == LocalKind::File && (l.dev, l.ino) == (t.dev, t.ino),
                    _ => false,
                };
                if !linked || written.contains(entry.target()) {
                    if local.is_some() {
                        removed.insert(path.to_owned());
                    }
                    plan.link.push(n);
                }
            }
        }
    }
    let listed: HashSet<&OsStr> = input.index.entries.iter().map(|e| OsStr::new(&e.path)).collect();
    removed.extend(input.local.stats.keys().filter(|p| !listed.contains(p.as_os_str())).map(PathBuf::from));
    let mut remove: Vec<PathBuf> = removed.into_iter().collect();
    remove.sort();
    let mut outermost: Vec<PathBuf> = Vec::with_capacity(remove.len());
    for path in remove {
        if !outermost.last().is_some_and(|parent| path.starts_with(parent)) {
            outermost.push(path);
        }
    }
    plan.remove = outermost;
    plan
}

/// Whether file `entry` (number `n`) in the destination has the snapshot's content:
/// from a hash already taken, or from the marker; `None` when only hashing can tell.
fn content_known(
    input: &PlanInput<'_>,
    n: usize,
    entry: &Entry,
    local: &LocalStat,
    old: &HashMap<&str, &Entry>,
) -> Option<bool> {
    if let Some(matched) = input.hashed.get(&n) {
        return Some(*matched);
    }
    if input.full {
        return None;
    }
    match input.trust {
        Trust::Same => (local.mtime == entry.mtime as i64).then_some(true),
        // the file is as the old snapshot left it: its content is the old one
        Trust::Previous(_) => old
            .get(entry.path.as_str())
            .filter(|was| was.kind == EntryKind::File && was.size == local.size && was.mtime as i64 == local.mtime)
            .map(|was| was.sha256 == entry.sha256),
        Trust::Unknown => None,
    }
}

fn metadata_differs(local: &LocalStat, entry: &Entry, owner: Option<(u32, u32)>) -> bool {
    local.mode != entry.permissions()
        || local.mtime != entry.mtime as i64
        || owner.is_some_and(|(uid, gid)| (local.uid, local.gid) != (uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::tests::sample;

    fn stat(kind: LocalKind, size: u64, mode: u32, ino: u64) -> LocalStat {
        LocalStat { kind, size, mode, mtime: 1_700_000_000, uid: 0, gid: 0, dev: 1, ino }
    }

    /// The destination exactly as `sample()` describes it.
    fn intact() -> LocalTree {
        let mut local = LocalTree::default();
        local.stats.insert("d".into(), stat(LocalKind::Dir, 0, 0o755, 1));
        local.stats.insert("d/a.php".into(), stat(LocalKind::File, 5000, 0o644, 2));
        local.stats.insert("d/l".into(), stat(LocalKind::Symlink, 5, 0o777, 3));
        local.link_targets.insert("d/l".into(), "a.php".into());
        local.stats.insert("h".into(), stat(LocalKind::File, 5000, 0o644, 2));
        local.stats.insert("e".into(), stat(LocalKind::File, 0, 0o644, 4));
        local
    }

    fn run(local: &LocalTree, trust: Trust<'_>, full: bool, hashed: &HashMap<usize, bool>) -> Plan {
        let index = sample();
        plan(&PlanInput { index: &index, local, trust, full, owner: None, hashed })
    }

    #[test]
    fn same_snapshot_intact_needs_nothing() {
        assert!(run(&intact(), Trust::Same, false, &HashMap::new()).is_empty());
    }

    #[test]
    fn full_verify_hashes_then_trusts_matches() {
        let plan = run(&intact(), Trust::Same, true, &HashMap::new());
        assert_eq!(plan.hash, [1, 4]);
        let hashed = HashMap::from([(1, true), (4, false)]);
        let plan = run(&intact(), Trust::Same, true, &hashed);
        assert_eq!((plan.hash.len(), plan.write.as_slice()), (0, &[4][..]));
    }

    #[test]
    fn empty_destination_gets_everything() {
        let plan = run(&LocalTree::default(), Trust::Unknown, false, &HashMap::new());
        assert_eq!((plan.mkdir, plan.write, plan.link), (vec![0], vec![1, 4], vec![2, 3]));
        assert!(plan.remove.is_empty());
    }

    #[test]
    fn changes_extras_and_type_changes() {
        let mut local = intact();
        local.stats.get_mut(OsStr::new("d/a.php")).unwrap().mtime += 1; // same size, touched: hash
        local.stats.insert("d/extra".into(), stat(LocalKind::Dir, 0, 0o755, 9));
        local.stats.insert("d/extra/x".into(), stat(LocalKind::File, 1, 0o644, 10));
        local.stats.insert("e".into(), stat(LocalKind::Dir, 0, 0o755, 11)); // a dir where a file belongs
        local.link_targets.insert("d/l".into(), "elsewhere".into());
        local.stats.get_mut(OsStr::new("d")).unwrap().mode = 0o700;
        let plan = run(&local, Trust::Same, false, &HashMap::new());
        assert_eq!(plan.hash, [1]);
        assert_eq!(plan.remove, [PathBuf::from("d/extra"), "d/l".into(), "e".into()]);
        assert_eq!(
            (plan.write.as_slice(), plan.link.as_slice(), plan.metadata.as_slice()),
            (&[4][..], &[2][..], &[0][..])
        );
        // the hash says a.php changed: it is written, and its hard link made again
        let plan = run(&local, Trust::Same, false, &HashMap::from([(1, false)]));
        assert_eq!((plan.write.as_slice(), plan.link.as_slice()), (&[1, 4][..], &[2, 3][..]));
    }

    #[test]
    fn previous_snapshot_trusts_unchanged_files_only() {
        let mut old = sample();
        let local = intact();
        assert!(run(&local, Trust::Previous(&old), false, &HashMap::new()).is_empty());
        old.entries[1].sha256 = Some(crate::digest::Digest::of(b"old content"));
        let plan = run(&local, Trust::Previous(&old), false, &HashMap::new());
        assert_eq!((plan.hash.len(), plan.write.as_slice(), plan.link.as_slice()), (0, &[1][..], &[3][..]));
        old.entries[1].mtime -= 1; // not as the old snapshot left it: only a hash tells
        assert_eq!(run(&local, Trust::Previous(&old), false, &HashMap::new()).hash, [1]);
    }
}
