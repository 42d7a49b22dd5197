use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Result, SnapshotError};
use crate::fetch::FetchOptions;
use crate::fetch::dest_dir::DestDir;
use crate::fetch::extract::{Extraction, Transfer};
use crate::fetch::plan::Plan;
use crate::fetch::progress::Progress;
use crate::index::{EntryKind, Index};
use crate::store::SnapshotStore;

/// Makes the planned changes: removals, directories, files, links, then metadata.
pub(crate) async fn apply(
    store: &SnapshotStore,
    archive: &str,
    options: &FetchOptions,
    dest: &Arc<DestDir>,
    index: &Arc<Index>,
    changes: &Plan,
    progress: &Arc<Progress>,
) -> Result<Transfer> {
    let io = |action, path: &str, e| SnapshotError::io(action, dest.path().join(path), e);
    for path in &changes.remove {
        dest.remove(path).map_err(|e| SnapshotError::io("remove", dest.path().join(path), e))?;
    }
    for &n in &changes.mkdir {
        let path = &index.entries[n].path;
        dest.mkdir(Path::new(path)).map_err(|e| io("create directory", path, e))?;
    }
    let extraction = Arc::new(Extraction {
        index: Arc::clone(index),
        dest: Arc::clone(dest),
        owner: options.owner,
        progress: Arc::clone(progress),
    });
    let transfer = extraction.write_files(store, archive, &changes.write, options.concurrency).await?;
    for &n in &changes.link {
        let entry = &index.entries[n];
        let path = Path::new(&entry.path);
        if entry.kind == EntryKind::Hardlink {
            dest.hard_link(Path::new(entry.target()), path).map_err(|e| io("link", &entry.path, e))?;
        } else {
            dest.symlink(entry.target(), path).map_err(|e| io("create symlink", &entry.path, e))?;
            dest.set_metadata(path, true, 0, entry.mtime, options.owner)
                .map_err(|e| io("set metadata of", &entry.path, e))?;
        }
    }
    for n in metadata_to_set(index, changes) {
        let entry = &index.entries[n];
        let symlink = entry.kind == EntryKind::Symlink;
        dest.set_metadata(Path::new(&entry.path), symlink, entry.permissions(), entry.mtime, options.owner)
            .map_err(|e| io("set metadata of", &entry.path, e))?;
    }
    if let Some((uid, gid)) = options.owner {
        rustix::fs::fchown(
            dest.root(),
            Some(rustix::process::Uid::from_raw(uid)),
            Some(rustix::process::Gid::from_raw(gid)),
        )
        .map_err(|e| SnapshotError::io("change owner of", dest.path(), e.into()))?;
    }
    Ok(transfer)
}

/// The entries whose owner, mode and time are set last: those the plan lists, the
/// directories it creates, and the directories where it adds or removes names (which moves
/// their mtime); each once, children before parents, so that no parent's mode has taken
/// away the search permission reaching a child yet.
fn metadata_to_set(index: &Index, changes: &Plan) -> Vec<usize> {
    let mut set: BTreeSet<usize> = changes.metadata.iter().chain(&changes.mkdir).copied().collect();
    if changes.changes_tree() {
        let dirs: HashMap<&str, usize> = index
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.kind == EntryKind::Dir)
            .map(|(n, e)| (e.path.as_str(), n))
            .collect();
        let added =
            changes.mkdir.iter().chain(&changes.write).chain(&changes.link).map(|&n| Path::new(&index.entries[n].path));
        let parents = added.chain(changes.remove.iter().map(PathBuf::as_path)).filter_map(|p| p.parent()?.to_str());
        set.extend(parents.filter_map(|parent| dirs.get(parent)));
    }
    // the index lists every directory before what it holds
    set.into_iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::tests::sample;

    #[test]
    fn sets_metadata_where_the_tree_changed_children_first() {
        let mut index = sample();
        let mut sub = index.entries[0].clone();
        sub.path = "d/s".into();
        index.entries.insert(1, sub); // 0 d, 1 d/s, 2 d/a.php, 3 d/l, 4 h, 5 e
        let only_metadata = Plan { metadata: vec![5, 1], ..Plan::default() };
        assert_eq!(metadata_to_set(&index, &only_metadata), [5, 1]);
        let written = Plan { write: vec![2], metadata: vec![0], ..Plan::default() };
        assert_eq!(metadata_to_set(&index, &written), [0]);
        let created = Plan { mkdir: vec![1], ..Plan::default() };
        assert_eq!(metadata_to_set(&index, &created), [1, 0]);
        let removed = Plan { remove: vec!["d/s/x".into(), "gone".into()], link: vec![4], ..Plan::default() };
        assert_eq!(metadata_to_set(&index, &removed), [1]);
    }
}
