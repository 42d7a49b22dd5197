use std::path::Path;
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
    let dirs_too = changes.changes_tree();
    let metadata =
        changes.metadata.iter().copied().chain(
            index.entries.iter().enumerate().filter(|(_, e)| dirs_too && e.kind == EntryKind::Dir).map(|(n, _)| n),
        );
    for n in metadata {
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
