use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Result, SnapshotError};
use crate::index::IndexTotals;
use crate::limits::Limits;
use crate::snapshot_id::SnapshotId;

/// Version of the manifest document this code writes and reads.
pub const MANIFEST_FORMAT: u32 = 1;

/// What a snapshot is: written after its archive and index, it names both by digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`MANIFEST_FORMAT`].
    pub format: u32,
    /// The snapshot's id (also the name of its folder).
    pub id: SnapshotId,
    /// When it was published, RFC 3339 in UTC.
    pub created_at: String,
    /// Host name of the machine that published it.
    pub source_host: String,
    /// Nextcloud's `$OC_VersionString` from the source's `version.php`, if there was one.
    pub nextcloud_version: Option<String>,
    /// Version of the cachegate that published it.
    pub cachegate_version: String,
    /// The archive object.
    pub archive: ArchiveRef,
    /// The index object.
    pub index: IndexRef,
    /// Length of the tar stream (the archive inflated).
    pub uncompressed_size: u64,
    /// Sum of the regular files' lengths.
    pub file_bytes: u64,
    /// Number of entries.
    pub entry_count: u64,
    /// Number of gzip members.
    pub member_count: u64,
    /// Longest path, in bytes.
    pub max_path_len: u64,
    /// Patterns of paths left out of the snapshot; `fetch-webroot` leaves them alone in the destination.
    pub excluded: Vec<String>,
}

/// Length and digest of the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveRef {
    /// Length in bytes.
    pub size: u64,
    /// SHA-256 of the whole archive.
    pub sha256: Digest,
}

/// Length, inflated length and digest of the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexRef {
    /// Length of the gzip object in bytes.
    pub size: u64,
    /// Length of its JSON.
    pub json_size: u64,
    /// SHA-256 of the gzip object.
    pub sha256: Digest,
}

impl Manifest {
    /// Parses a manifest and checks it against the hard `limits` and its own `id`.
    pub fn from_json(json: &[u8], id: &SnapshotId, limits: &Limits) -> Result<Self> {
        let what = || format!("manifest of {id}");
        let manifest: Self = serde_json::from_slice(json).map_err(|e| SnapshotError::invalid(what(), e.to_string()))?;
        if manifest.format != MANIFEST_FORMAT {
            return Err(SnapshotError::invalid(what(), format!("format {}", manifest.format)));
        }
        if manifest.id != *id {
            return Err(SnapshotError::invalid(what(), format!("it names snapshot {}", manifest.id)));
        }
        let checks = [
            ("tar stream length", manifest.uncompressed_size, limits.max_bytes),
            ("entry count", manifest.entry_count, limits.max_entries),
            ("path length", manifest.max_path_len, limits.max_path_len as u64),
            ("index length", manifest.index.json_size, limits.max_index_len),
            ("index object length", manifest.index.size, limits.max_index_len),
        ];
        for (what, value, limit) in checks {
            if value > limit {
                return Err(SnapshotError::Limit { what, value, limit });
            }
        }
        Ok(manifest)
    }

    /// The manifest as pretty JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a manifest always serializes")
    }

    /// Hard limits narrowed to what this manifest declares, for reading its index.
    pub(crate) fn declared_limits(&self, hard: &Limits) -> Limits {
        Limits {
            max_bytes: hard.max_bytes.min(self.uncompressed_size),
            max_entries: hard.max_entries.min(self.entry_count),
            max_path_len: hard.max_path_len.min(self.max_path_len as usize),
            ..*hard
        }
    }

    /// Fails unless the index's totals are the ones this manifest declares.
    pub(crate) fn check_totals(&self, totals: &IndexTotals) -> Result<()> {
        let declared = IndexTotals {
            archive_size: self.archive.size,
            uncompressed_size: self.uncompressed_size,
            file_bytes: self.file_bytes,
            entry_count: self.entry_count,
            member_count: self.member_count,
            max_path_len: self.max_path_len,
        };
        if declared == *totals {
            Ok(())
        } else {
            Err(SnapshotError::invalid(
                format!("index of {}", self.id),
                format!("its totals {totals:?} differ from the manifest's {declared:?}"),
            ))
        }
    }
}
