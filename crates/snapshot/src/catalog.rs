//! `cachegate snapshots list | show | rollback | prune`.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use tracing::info;

use crate::current::move_current;
use crate::digest::Digest;
use crate::error::{Result, SnapshotError};
use crate::limits::Limits;
use crate::manifest::Manifest;
use crate::pointer::SnapshotRef;
use crate::resolve::{read_index, read_manifest, read_pointer};
use crate::snapshot_id::SnapshotId;
use crate::store::SnapshotStore;

/// A snapshot without a manifest younger than this may still be publishing: prune keeps it.
const PUBLISH_GRACE: Duration = Duration::from_secs(3600);

/// One snapshot in the bucket.
#[derive(Debug, Clone)]
pub struct SnapshotSummary {
    /// Its id.
    pub id: SnapshotId,
    /// Its manifest; `None` while publishing, if a publish died, or if it is unreadable.
    pub manifest: Option<Manifest>,
    /// `current` names it.
    pub current: bool,
    /// `current` names it as the previous snapshot.
    pub previous: bool,
}

/// Every snapshot under the prefix, newest first.
pub async fn list(store: &SnapshotStore) -> Result<Vec<SnapshotSummary>> {
    let pointer = read_pointer(store).await?.map(|(p, _)| p);
    let is = |r: Option<&SnapshotRef>, id: &SnapshotId| r.is_some_and(|r| r.id == *id);
    let mut summaries = Vec::new();
    for id in snapshot_ids(store).await?.into_iter().rev() {
        let manifest = match read_manifest(store, &id, None, &Limits::default()).await {
            Ok((manifest, _)) => Some(manifest),
            Err(SnapshotError::Missing { .. } | SnapshotError::Invalid { .. }) => None,
            Err(other) => return Err(other),
        };
        summaries.push(SnapshotSummary {
            current: is(pointer.as_ref().map(|p| &p.current), &id),
            previous: is(pointer.as_ref().and_then(|p| p.previous.as_ref()), &id),
            manifest,
            id,
        });
    }
    Ok(summaries)
}

/// The manifest of snapshot `id` and its digest.
pub async fn show(store: &SnapshotStore, id: &SnapshotId) -> Result<(Manifest, Digest)> {
    read_manifest(store, id, None, &Limits::default()).await
}

/// Points `current` at the published snapshot `id`; returns the snapshot it named before.
pub async fn rollback(store: &SnapshotStore, id: &SnapshotId) -> Result<Option<SnapshotRef>> {
    let (manifest, digest) = read_manifest(store, id, None, &Limits::default()).await?;
    read_index(store, &manifest, &Limits::default()).await?;
    move_current(store, &SnapshotRef { id: id.clone(), manifest_sha256: digest }).await
}

/// Deletes every snapshot but the newest `keep`, the current and the previous one (and
/// any still publishing); aborts multipart uploads of publishes that died. Returns the
/// deleted snapshots.
pub async fn prune(store: &SnapshotStore, keep: usize) -> Result<Vec<SnapshotId>> {
    let pointer = read_pointer(store).await?.map(|(p, _)| p);
    let mut kept: BTreeSet<SnapshotId> = BTreeSet::new();
    if let Some(pointer) = &pointer {
        kept.insert(pointer.current.id.clone());
        kept.extend(pointer.previous.as_ref().map(|p| p.id.clone()));
    }
    let ids = snapshot_ids(store).await?;
    kept.extend(ids.iter().rev().take(keep).cloned());
    let mut deleted = Vec::new();
    for id in ids.into_iter().filter(|id| !kept.contains(id)) {
        let manifest_key = store.layout.manifest(&id);
        if is_recent(&id) && store.head(&manifest_key).await?.is_none() {
            continue;
        }
        // the manifest goes first: a half-deleted snapshot is never taken for a complete one
        store.delete(&manifest_key).await?;
        let (keys, _) = store.list(&store.layout.snapshot_dir(&id)).await?;
        for key in keys {
            store.delete(&key).await?;
        }
        info!(%id, "snapshot deleted");
        deleted.push(id);
    }
    abort_dead_uploads(store, &kept).await?;
    Ok(deleted)
}

/// Ids of the snapshot folders under the prefix, oldest first.
async fn snapshot_ids(store: &SnapshotStore) -> Result<Vec<SnapshotId>> {
    let root = store.layout.snapshots();
    let (_, prefixes) = store.list(&root).await?;
    let mut ids: Vec<SnapshotId> =
        prefixes.iter().filter_map(|p| p.strip_prefix(&root)?.strip_suffix('/')?.parse().ok()).collect();
    ids.sort();
    Ok(ids)
}

/// Whether snapshot `id` was created less than [`PUBLISH_GRACE`] ago (or in the future).
fn is_recent(id: &SnapshotId) -> bool {
    id.created().checked_add(PUBLISH_GRACE).is_none_or(|grace_end| grace_end > SystemTime::now())
}

/// Aborts multipart uploads left by publishes that died (older than the grace period).
async fn abort_dead_uploads(store: &SnapshotStore, kept: &BTreeSet<SnapshotId>) -> Result<()> {
    let root = store.layout.snapshots();
    let uploads = store
        .client
        .list_multipart_uploads()
        .bucket(&store.bucket)
        .prefix(&root)
        .send()
        .await
        .map_err(|e| store.error("ListMultipartUploads", &root, &e))?;
    for upload in uploads.uploads() {
        let (Some(key), Some(upload_id)) = (upload.key(), upload.upload_id()) else { continue };
        let id = key.strip_prefix(&root).and_then(|rest| rest.split('/').next()).and_then(|s| s.parse().ok());
        if let Some(id) = id.filter(|id: &SnapshotId| !kept.contains(id) && !is_recent(id)) {
            store.abort_upload(key, upload_id).await?;
            info!(%id, "aborted the upload of a publish that died");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_means_within_the_grace_period_or_in_the_future() {
        let now = SystemTime::now();
        let minute = Duration::from_secs(60);
        assert!(is_recent(&SnapshotId::new(now)));
        assert!(is_recent(&SnapshotId::new(now - PUBLISH_GRACE + minute)));
        assert!(is_recent(&SnapshotId::new(now + PUBLISH_GRACE)));
        assert!(!is_recent(&SnapshotId::new(now - PUBLISH_GRACE - minute)));
    }
}
