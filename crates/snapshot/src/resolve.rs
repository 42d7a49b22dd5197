//! Following the trust chain: `current` → manifest digest → index digest.

use crate::digest::Digest;
use crate::error::Result;
use crate::index::Index;
use crate::limits::{Limits, MAX_DOCUMENT_LEN};
use crate::manifest::Manifest;
use crate::pointer::Pointer;
use crate::snapshot_id::SnapshotId;
use crate::store::SnapshotStore;

/// The `current` pointer and its ETag; `None` if nothing was published yet.
pub(crate) async fn read_pointer(store: &SnapshotStore) -> Result<Option<(Pointer, Option<String>)>> {
    let key = store.layout.current();
    let Some(fetched) = store.get(&key, MAX_DOCUMENT_LEN).await? else {
        return Ok(None);
    };
    Ok(Some((Pointer::from_json(&fetched.bytes)?, fetched.etag)))
}

/// Reads the manifest of `id`, checks it against `expected` (the digest the pointer
/// promises, when the snapshot was reached through one) and the hard `limits`.
pub(crate) async fn read_manifest(
    store: &SnapshotStore,
    id: &SnapshotId,
    expected: Option<&Digest>,
    limits: &Limits,
) -> Result<(Manifest, Digest)> {
    let key = store.layout.manifest(id);
    let Some(fetched) = store.get(&key, MAX_DOCUMENT_LEN).await? else {
        return Err(
            store.missing(key, format!("snapshot {id} has no manifest (unknown, deleted, or still being published)"))
        );
    };
    let digest = Digest::of(&fetched.bytes);
    if let Some(expected) = expected {
        expected.expect(digest, || format!("manifest of {id}"))?;
    }
    Ok((Manifest::from_json(&fetched.bytes, id, limits)?, digest))
}

/// Reads the index `manifest` names, checks its digest, its rules and its totals.
pub(crate) async fn read_index(store: &SnapshotStore, manifest: &Manifest, limits: &Limits) -> Result<Index> {
    let key = store.layout.index(&manifest.id);
    let bytes = store.get_range(&key, 0..manifest.index.size).await?;
    manifest.index.sha256.check(&bytes, || format!("index of {}", manifest.id))?;
    let declared = manifest.declared_limits(limits);
    let json_len = manifest.index.json_size;
    let index = tokio::task::spawn_blocking(move || Index::from_gzip(&bytes, json_len, &declared)).await??;
    manifest.check_totals(&index.totals())?;
    Ok(index)
}
