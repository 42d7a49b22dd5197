use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;

use crate::error::{Result, SnapshotError};
use crate::fetch::dest_dir::DestDir;
use crate::fetch::file_hash::hash_file;
use crate::index::Index;

/// Hashes the local files `files` (index entry numbers) on every core; true where the
/// content is the snapshot's.
pub(crate) async fn hash_local(
    dest: &Arc<DestDir>,
    index: &Arc<Index>,
    files: &[usize],
) -> Result<HashMap<usize, bool>> {
    let (dest, index, files) = (Arc::clone(dest), Arc::clone(index), files.to_vec());
    let (done, hashed) = tokio::sync::oneshot::channel();
    rayon::spawn(move || {
        let matches = |n: usize| {
            let entry = &index.entries[n];
            dest.open_file(Path::new(&entry.path))
                .and_then(|file| hash_file(&file, entry.size))
                .is_ok_and(|digest| Some(digest) == entry.sha256)
        };
        let _ = done.send(files.into_par_iter().map(|n| (n, matches(n))).collect());
    });
    hashed.await.map_err(|_| SnapshotError::Internal("a hashing worker stopped".into()))
}
