//! `publish-snapshot`: walk, pack, compress in parallel, stream into a multipart upload,
//! verify, then move `current`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use sha2::{Digest as _, Sha256};
use tracing::{info, warn};

use crate::catalog::prune;
use crate::current::move_current;
use crate::digest::Digest;
use crate::error::{Result, SnapshotError};
use crate::index::{INDEX_FORMAT, Index, Member, member_at};
use crate::limits::{Limits, MAX_DOCUMENT_LEN};
use crate::manifest::{ArchiveRef, IndexRef, MANIFEST_FORMAT, Manifest};
use crate::marker::DEFAULT_MARKER_NAME;
use crate::pack::compress::compress_member_into;
use crate::pack::excludes::{CONFIG_PHP, DEFAULT_EXCLUDES, Excludes};
use crate::pack::nextcloud_version::nextcloud_version;
use crate::pack::source_walk::{SourceEntry, walk_source};
use crate::pack::tar_pack::pack_tar;
use crate::pointer::SnapshotRef;
use crate::snapshot_id::{SnapshotId, rfc3339};
use crate::store::{MultipartUpload, PutCondition, SnapshotStore};

/// Uncompressed length of a gzip member: small enough that changing a few files means
/// fetching a small part of the archive, large enough to cost about 1% in size
/// (measured in `docs/snapshot-format.md`).
pub const DEFAULT_MEMBER_SIZE: usize = 256 << 10;

/// Smallest `member_size` publish accepts: smaller members cost more in size than they save.
const MIN_MEMBER_SIZE: usize = 4 << 10;

/// What to publish and how.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// The webroot.
    pub source: PathBuf,
    /// Glob patterns left out, besides the defaults.
    pub excludes: Vec<String>,
    /// Publish `config/config.php` too.
    pub include_config: bool,
    /// After publishing, keep the newest N snapshots (plus current and previous).
    pub keep: Option<usize>,
    /// gzip level, 0–9.
    pub level: u32,
    /// Uncompressed length of each gzip member, from 4 KiB to the largest member
    /// `fetch-webroot` accepts ([`Limits::max_member_len`]).
    pub member_size: usize,
}

/// What a publish did.
#[derive(Debug, Clone)]
pub struct PublishReport {
    /// The new snapshot, now current.
    pub snapshot: SnapshotRef,
    /// The snapshot that was current before.
    pub previous: Option<SnapshotRef>,
    /// Its manifest.
    pub manifest: Manifest,
    /// Snapshots deleted by retention.
    pub pruned: Vec<SnapshotId>,
    /// Wall time.
    pub elapsed: Duration,
}

/// Publishes `options.source` as a new snapshot and makes it current.
pub async fn publish(store: &SnapshotStore, options: &PublishOptions) -> Result<PublishReport> {
    let started = Instant::now();
    check_options(options)?;
    let mut patterns: Vec<String> = DEFAULT_EXCLUDES
        .iter()
        .filter(|p| !(options.include_config && **p == CONFIG_PHP))
        .map(|p| p.to_string())
        .collect();
    patterns.push(DEFAULT_MARKER_NAME.to_owned());
    patterns.extend(options.excludes.iter().cloned());
    if options.include_config {
        warn!("--include-config: config/config.php (instance secret, database password) goes into the snapshot");
    }
    let excludes = Excludes::new(&patterns)?;
    let source = options.source.clone();
    let walk_excludes = excludes.clone();
    let walked = tokio::task::spawn_blocking(move || walk_source(&source, &walk_excludes)).await??;
    let now = SystemTime::now();
    let id = SnapshotId::new(now);
    info!(%id, entries = walked.len(), "packing");

    let (index, archive) = upload_archive(store, &id, options, walked).await?;
    let totals = index.totals();
    let (index_gz, json_size) = index.to_gzip();
    let index_ref = IndexRef { size: index_gz.len() as u64, json_size, sha256: Digest::of(&index_gz) };
    store.put(&store.layout.index(&id), index_gz, "application/gzip", PutCondition::None).await?;
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        id: id.clone(),
        created_at: rfc3339(now),
        source_host: rustix::system::uname().nodename().to_string_lossy().into_owned(),
        nextcloud_version: nextcloud_version(&options.source),
        cachegate_version: env!("CARGO_PKG_VERSION").to_owned(),
        archive,
        index: index_ref,
        uncompressed_size: totals.uncompressed_size,
        file_bytes: totals.file_bytes,
        entry_count: totals.entry_count,
        member_count: totals.member_count,
        max_path_len: totals.max_path_len,
        excluded: excludes.patterns().to_vec(),
    };
    let manifest_json = manifest.to_json();
    let snapshot = SnapshotRef { id: id.clone(), manifest_sha256: Digest::of(&manifest_json) };
    store.put(&store.layout.manifest(&id), manifest_json, "application/json", PutCondition::None).await?;
    verify_uploaded(store, &manifest, &snapshot).await?;

    let previous = move_current(store, &snapshot).await?;
    info!(%id, previous = ?previous.as_ref().map(|p| &p.id), "current moved");
    let pruned = match options.keep {
        Some(keep) => prune(store, keep).await?,
        None => Vec::new(),
    };
    Ok(PublishReport { snapshot, previous, manifest, pruned, elapsed: started.elapsed() })
}

/// Refuses a gzip level that does not exist and a member size fetchers would refuse.
fn check_options(options: &PublishOptions) -> Result<()> {
    if options.level > 9 {
        return Err(SnapshotError::Usage(format!("--level {} is not a gzip level (0-9)", options.level)));
    }
    let max_member_len = Limits::default().max_member_len;
    let member_size = options.member_size as u64;
    if !(MIN_MEMBER_SIZE as u64..=max_member_len).contains(&member_size) {
        return Err(SnapshotError::Usage(format!(
            "--member-size must be between {}KiB and {}MiB",
            MIN_MEMBER_SIZE >> 10,
            max_member_len >> 20
        )));
    }
    Ok(())
}

/// Packs, compresses and uploads the archive; returns the validated index and the
/// archive's length and digest. Memory stays bounded: a few chunks wait for compression,
/// a few parts upload at once.
async fn upload_archive(
    store: &SnapshotStore,
    id: &SnapshotId,
    options: &PublishOptions,
    walked: Vec<SourceEntry>,
) -> Result<(Index, ArchiveRef)> {
    let workers = std::thread::available_parallelism().map_or(2, usize::from);
    let (chunks_tx, mut chunks_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(workers * 2);
    let (root, member_size, level) = (options.source.clone(), options.member_size, options.level);
    let packer = tokio::task::spawn_blocking(move || {
        pack_tar(&root, &walked, member_size, |chunk| {
            chunks_tx.blocking_send(chunk).map_err(|_| std::io::Error::other("the upload stopped"))
        })
    });
    // compression runs on rayon's pool (one thread per core), a few chunks ahead, in order;
    // uploaded members' buffers go back to the compressors
    let spent: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let recycled = Arc::clone(&spent);
    let mut compressed = futures::stream::poll_fn(move |cx| chunks_rx.poll_recv(cx))
        .map(move |chunk| {
            let (done, member) = tokio::sync::oneshot::channel();
            let recycled = Arc::clone(&recycled);
            rayon::spawn(move || {
                let buffer = recycled.lock().expect("buffer pool").pop().unwrap_or_default();
                let _ = done.send(compress_member_into(&chunk, level, buffer));
            });
            member
        })
        .buffered(workers + 1);

    let key = store.layout.archive(id);
    let mut upload = MultipartUpload::start(store, &key, "application/gzip").await?;
    let mut hasher = Sha256::new();
    let mut members = Vec::new();
    let (mut offset, mut uoffset) = (0, 0);
    let streamed: Result<()> = async {
        while let Some(member) = compressed.next().await {
            let member = member.map_err(|_| SnapshotError::Internal("a compression worker stopped".into()))?;
            hasher.update(&member.gz);
            upload.write(&member.gz).await?;
            let size = member.gz.len() as u64;
            members.push(Member { offset, size, uoffset, usize: member.usize, sha256: member.sha256 });
            spent.lock().expect("buffer pool").push(member.gz);
            offset += size;
            uoffset += member.usize;
        }
        Ok(())
    }
    .await;
    drop(compressed);
    let packed = packer.await?;
    let index = match (streamed, packed) {
        (Err(e), _) | (Ok(()), Err(e)) => {
            upload.abort().await;
            return Err(e);
        }
        (Ok(()), Ok(mut entries)) => {
            for entry in &mut entries {
                if let Some(offset) = entry.offset {
                    entry.member = Some(member_at(&members, offset) as u32);
                }
            }
            Index { format: INDEX_FORMAT, members, entries }
        }
    };
    // what fetch-webroot would refuse is refused here, before it becomes current
    if let Err(e) = index.validate(&Limits::default()) {
        upload.abort().await;
        return Err(e);
    }
    upload.finish().await?;
    Ok((index, ArchiveRef { size: offset, sha256: Digest::from_hasher(hasher) }))
}

/// Reads back what a fetcher will rely on before `current` names it.
async fn verify_uploaded(store: &SnapshotStore, manifest: &Manifest, snapshot: &SnapshotRef) -> Result<()> {
    let id = &manifest.id;
    for (key, expected) in
        [(store.layout.archive(id), manifest.archive.size), (store.layout.index(id), manifest.index.size)]
    {
        let found = store.head(&key).await?;
        if found != Some(expected) {
            return Err(store.s3_error(
                "HeadObject",
                &key,
                format!("expected {expected} bytes after upload, found {found:?}"),
            ));
        }
    }
    let key = store.layout.manifest(id);
    let fetched = store
        .get(&key, MAX_DOCUMENT_LEN)
        .await?
        .ok_or_else(|| store.missing(key.clone(), "the manifest just uploaded"))?;
    snapshot.manifest_sha256.check(&fetched.bytes, || format!("manifest of {id} read back"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(level: u32, member_size: usize) -> PublishOptions {
        PublishOptions {
            source: PathBuf::from("/nonexistent"),
            excludes: Vec::new(),
            include_config: false,
            keep: None,
            level,
            member_size,
        }
    }

    #[test]
    fn refuses_levels_and_member_sizes_fetchers_would_not_take() {
        let max = Limits::default().max_member_len as usize;
        for member_size in [MIN_MEMBER_SIZE, DEFAULT_MEMBER_SIZE, max] {
            check_options(&options(5, member_size)).unwrap();
        }
        for member_size in [0, MIN_MEMBER_SIZE - 1, max + 1, usize::MAX] {
            let message = check_options(&options(5, member_size)).unwrap_err().to_string();
            assert_eq!(message, "--member-size must be between 4KiB and 64MiB");
        }
        assert!(check_options(&options(10, DEFAULT_MEMBER_SIZE)).unwrap_err().to_string().contains("--level 10"));
    }
}
