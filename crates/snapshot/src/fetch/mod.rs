//! `fetch-webroot`: bring a destination directory to exactly one snapshot, fetching only
//! what it lacks, and write the marker last.

mod apply;
mod dest_dir;
mod dest_scan;
mod extract;
mod file_hash;
mod local_hash;
mod marker_file;
mod plan;
mod progress;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tracing::{debug, info, warn};

use crate::digest::Digest;
use crate::error::{Result, SnapshotError};
use crate::index::Index;
use crate::limits::Limits;
use crate::manifest::Manifest;
use crate::marker::{DEFAULT_MARKER_NAME, Marker};
use crate::pack::excludes::Excludes;
use crate::pointer::SnapshotRef;
use crate::resolve::{read_index, read_manifest, read_pointer};
use crate::snapshot_id::{SnapshotId, rfc3339};
use crate::store::SnapshotStore;
use apply::apply;
use dest_dir::DestDir;
pub use extract::Transfer;
use local_hash::hash_local;
use plan::{PlanInput, Trust, plan};
use progress::Progress;

/// How much to check when the destination already holds the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VerifyMode {
    /// Type, size, mode, mtime and owner of every entry, and no extra entries; content is
    /// trusted when the marker names the snapshot and size and mtime match.
    #[default]
    Quick,
    /// Also the SHA-256 of every file.
    Full,
}

/// What to fetch where.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// The destination directory.
    pub dest: PathBuf,
    /// This snapshot instead of the current one.
    pub snapshot: Option<SnapshotId>,
    /// Owner and group of everything written.
    pub owner: Option<(u32, u32)>,
    /// Marker file (default `DEST/.directory`; relative paths are relative to DEST).
    pub marker: Option<PathBuf>,
    /// Checks on a destination that already holds the snapshot.
    pub verify: VerifyMode,
    /// GET requests in flight (0 counts as 1).
    pub concurrency: usize,
    /// Hard caps on what a snapshot may declare.
    pub limits: Limits,
    /// Flush the destination's file system before writing the marker.
    pub sync: bool,
    /// Print a progress line this often.
    pub progress: Option<Duration>,
}

/// How the destination was brought to the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchMode {
    /// It already held the snapshot: verified, nothing written.
    Verified,
    /// It held the snapshot, with differences that were repaired.
    Repaired,
    /// It held another snapshot: only changes were fetched.
    Updated,
    /// Nothing usable was known about it: every file was checked or fetched.
    Full,
}

/// What a fetch did.
#[derive(Debug, Clone)]
pub struct FetchReport {
    /// The snapshot the destination now holds.
    pub snapshot: SnapshotRef,
    /// Its manifest.
    pub manifest: Manifest,
    /// How it got there.
    pub mode: FetchMode,
    /// Files written.
    pub files_written: u64,
    /// Bytes of files written.
    pub bytes_written: u64,
    /// Downloads from the archive.
    pub fetched: Transfer,
    /// Paths removed (whole trees count once).
    pub removed: u64,
    /// Local files hashed to decide whether to keep them.
    pub hashed: u64,
    /// Wall time.
    pub elapsed: Duration,
}

/// Brings `options.dest` to the current snapshot (or `options.snapshot`). On failure the
/// marker is gone, whatever failed.
pub async fn fetch_webroot(store: &SnapshotStore, options: &FetchOptions) -> Result<FetchReport> {
    let marker_path = match &options.marker {
        Some(path) => options.dest.join(path),
        None => options.dest.join(DEFAULT_MARKER_NAME),
    };
    let fetched = fetch_into(store, options, &marker_path).await;
    if fetched.is_err() {
        let _ = marker_file::remove(&marker_path);
    }
    fetched
}

async fn fetch_into(store: &SnapshotStore, options: &FetchOptions, marker_path: &Path) -> Result<FetchReport> {
    let started = Instant::now();
    let (target, expected) = resolve_target(store, options.snapshot.as_ref()).await?;
    let (manifest, digest) = read_manifest(store, &target, expected.as_ref(), &options.limits).await?;
    let snapshot = SnapshotRef { id: target, manifest_sha256: digest };
    let excludes = Excludes::new(&manifest.excluded)
        .map_err(|e| SnapshotError::invalid(format!("manifest of {}", snapshot.id), e.to_string()))?;
    let dest_path = options.dest.clone();
    let dest = Arc::new(DestDir::open(&dest_path).map_err(|e| SnapshotError::io("open", &dest_path, e))?);
    let marker_rel = marker_path.strip_prefix(&dest_path).ok().map(Path::to_owned);
    let marker = marker_file::read(marker_path);

    // the scan of the destination runs while the indexes download
    let scan_dest = Arc::clone(&dest);
    let skip_marker = marker_rel.clone();
    let scan = tokio::task::spawn_blocking(move || {
        let skip =
            |path: &Path| skip_marker.as_deref() == Some(path) || path.to_str().is_some_and(|p| excludes.matches(p));
        dest_scan::scan_dest(&scan_dest, &skip).map_err(|e| SnapshotError::io("scan", scan_dest.path(), e))
    });
    let old_index = async {
        match &marker {
            Some(m) if m.cachegate_snapshot != snapshot.id => previous_index(store, m, &options.limits).await,
            _ => None,
        }
    };
    let (index, old_index) = tokio::join!(read_index(store, &manifest, &options.limits), old_index);
    let index = Arc::new(index?);
    debug!(elapsed = ?started.elapsed(), entries = index.entries.len(), "index read");
    if let Some(rel) = &marker_rel
        && let Some(entry) = index.entries.iter().find(|e| Path::new(&e.path) == rel)
    {
        return Err(SnapshotError::refused(&entry.path, "the snapshot holds the marker's path"));
    }
    let trust = match (&marker, &old_index) {
        (Some(m), _) if m.cachegate_snapshot == snapshot.id && m.manifest_sha256 == snapshot.manifest_sha256 => {
            Trust::Same
        }
        (_, Some(old)) => Trust::Previous(old),
        _ => Trust::Unknown,
    };
    debug!(?trust, "destination state");
    let local = scan.await??;
    let make_plan = |hashed: &HashMap<usize, bool>| {
        plan(&PlanInput {
            index: &index,
            local: &local,
            trust,
            full: options.verify == VerifyMode::Full,
            owner: options.owner,
            hashed,
        })
    };
    debug!(elapsed = ?started.elapsed(), found = local.stats.len(), "destination scanned");
    let mut changes = make_plan(&HashMap::new());
    let hashed_count = changes.hash.len() as u64;
    if !changes.hash.is_empty() {
        let hashed = hash_local(&dest, &index, &changes.hash).await?;
        changes = make_plan(&hashed);
    }
    debug!(elapsed = ?started.elapsed(), "planned");
    let root = rustix::fs::fstat(dest.root()).map_err(|e| SnapshotError::io("stat", &dest_path, e.into()))?;
    let root_owned = options.owner.is_none_or(|owner| (root.st_uid, root.st_gid) == owner);
    let complete = changes.is_empty() && root_owned;
    let mode = match trust {
        Trust::Same if complete => FetchMode::Verified,
        Trust::Same => FetchMode::Repaired,
        Trust::Previous(_) => FetchMode::Updated,
        Trust::Unknown => FetchMode::Full,
    };
    let mut report = FetchReport {
        snapshot: snapshot.clone(),
        manifest: manifest.clone(),
        mode,
        files_written: 0,
        bytes_written: 0,
        fetched: Transfer::default(),
        removed: changes.remove.len() as u64,
        hashed: hashed_count,
        elapsed: Duration::ZERO,
    };
    if mode == FetchMode::Verified {
        report.elapsed = started.elapsed();
        return Ok(report);
    }

    // from here on the destination changes: no marker until it is complete again
    marker_file::remove(marker_path)?;
    let progress = Progress::new();
    let printer = options.progress.map(|every| progress.print_every(every));
    let archive = store.layout.archive(&snapshot.id);
    let applied = apply(store, &archive, options, &dest, &index, &changes, &progress).await;
    if let Some(printer) = printer {
        printer.abort();
    }
    report.fetched = applied?;
    (_, report.files_written, report.bytes_written) = progress.totals();
    if options.sync {
        let root = Arc::clone(&dest);
        tokio::task::spawn_blocking(move || rustix::fs::syncfs(root.root()))
            .await?
            .map_err(|e| SnapshotError::io("sync", &dest_path, e.into()))?;
    }
    let marker = Marker {
        cachegate_snapshot: snapshot.id.clone(),
        manifest_sha256: snapshot.manifest_sha256,
        completed_at: rfc3339(SystemTime::now()),
    };
    marker_file::write(marker_path, &marker)?;
    report.elapsed = started.elapsed();
    info!(id = %snapshot.id, ?mode, "destination complete");
    Ok(report)
}

/// The snapshot to fetch and the manifest digest a pointer promises for it.
async fn resolve_target(store: &SnapshotStore, wanted: Option<&SnapshotId>) -> Result<(SnapshotId, Option<Digest>)> {
    let pointer = read_pointer(store).await?.map(|(p, _)| p);
    match (wanted, pointer) {
        (None, Some(pointer)) => Ok((pointer.current.id, Some(pointer.current.manifest_sha256))),
        (None, None) => Err(store.missing(store.layout.current(), "no snapshot was published under this prefix")),
        (Some(id), pointer) => {
            let known = pointer
                .into_iter()
                .flat_map(|p| std::iter::once(p.current).chain(p.previous))
                .find(|r| r.id == *id)
                .map(|r| r.manifest_sha256);
            if known.is_none() {
                warn!(%id, "neither current nor previous: the manifest is trusted as read (the index and files are still verified)");
            }
            Ok((id.clone(), known))
        }
    }
}

/// The index of the snapshot the marker names, if it can still be read and verified.
async fn previous_index(store: &SnapshotStore, marker: &Marker, limits: &Limits) -> Option<Index> {
    let id = &marker.cachegate_snapshot;
    let read = async {
        let (manifest, _) = read_manifest(store, id, Some(&marker.manifest_sha256), limits).await?;
        read_index(store, &manifest, limits).await
    };
    match read.await {
        Ok(index) => Some(index),
        Err(error) => {
            info!(%id, %error, "the destination's previous snapshot cannot be read: checking its files by hash");
            None
        }
    }
}
