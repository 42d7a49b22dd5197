use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Result, SnapshotError};
use crate::snapshot_id::SnapshotId;

/// A snapshot named together with the digest of its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotRef {
    /// The snapshot.
    pub id: SnapshotId,
    /// SHA-256 of its `manifest.json`.
    pub manifest_sha256: Digest,
}

/// The `current` object: the snapshot fetchers take, and the one before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pointer {
    /// The current snapshot.
    pub current: SnapshotRef,
    /// The snapshot `current` named before (kept by retention, target of a quick rollback).
    pub previous: Option<SnapshotRef>,
    /// When the pointer was written, RFC 3339 in UTC.
    pub updated_at: String,
}

impl Pointer {
    /// Parses a pointer.
    pub fn from_json(json: &[u8]) -> Result<Self> {
        serde_json::from_slice(json).map_err(|e| SnapshotError::invalid("current pointer", e.to_string()))
    }

    /// The pointer as pretty JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a pointer always serializes")
    }
}
