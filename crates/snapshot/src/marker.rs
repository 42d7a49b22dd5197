use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::snapshot_id::SnapshotId;

/// Default marker file name inside the destination: one of the names Nextcloud's
/// integrity checker skips (`ExcludeFileByNameFilterIterator`), so it is never reported
/// as an extra file.
pub const DEFAULT_MARKER_NAME: &str = ".directory";

/// The marker `fetch-webroot` writes last: the destination holds exactly this snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Marker {
    /// The snapshot in the destination.
    pub cachegate_snapshot: SnapshotId,
    /// SHA-256 of its manifest.
    pub manifest_sha256: Digest,
    /// When the fetch completed, RFC 3339 in UTC.
    pub completed_at: String,
}

impl Marker {
    /// Parses a marker; anything else (a KDE `.directory` file, garbage) is no marker.
    pub fn from_json(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }

    /// The marker as JSON.
    pub fn to_json(&self) -> Vec<u8> {
        let mut json = serde_json::to_vec_pretty(self).expect("a marker always serializes");
        json.push(b'\n');
        json
    }
}
