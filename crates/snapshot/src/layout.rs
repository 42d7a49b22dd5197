use crate::snapshot_id::SnapshotId;

/// Object names under a bucket prefix:
/// `<prefix>/current` and `<prefix>/snapshots/<id>/{archive.tar.gz,index.json.gz,manifest.json}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    prefix: String,
}

impl Layout {
    /// The layout under `prefix` (leading and trailing `/` are ignored; empty is the bucket root).
    pub fn new(prefix: &str) -> Self {
        let trimmed = prefix.trim_matches('/');
        Self { prefix: if trimmed.is_empty() { String::new() } else { format!("{trimmed}/") } }
    }

    /// The `current` pointer.
    pub fn current(&self) -> String {
        format!("{}current", self.prefix)
    }

    /// The folder holding every snapshot, ending in `/`.
    pub fn snapshots(&self) -> String {
        format!("{}snapshots/", self.prefix)
    }

    /// The folder of snapshot `id`, ending in `/`.
    pub fn snapshot_dir(&self, id: &SnapshotId) -> String {
        format!("{}{id}/", self.snapshots())
    }

    /// The archive of snapshot `id`.
    pub fn archive(&self, id: &SnapshotId) -> String {
        format!("{}archive.tar.gz", self.snapshot_dir(id))
    }

    /// The index of snapshot `id`.
    pub fn index(&self, id: &SnapshotId) -> String {
        format!("{}index.json.gz", self.snapshot_dir(id))
    }

    /// The manifest of snapshot `id`.
    pub fn manifest(&self, id: &SnapshotId) -> String {
        format!("{}manifest.json", self.snapshot_dir(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_under_a_prefix_and_at_the_root() {
        let id: SnapshotId = "20261122T101500.123Z-3fa2c1".parse().unwrap();
        assert_eq!(Layout::new("/web/").current(), "web/current");
        assert_eq!(Layout::new("web").archive(&id), "web/snapshots/20261122T101500.123Z-3fa2c1/archive.tar.gz");
        assert_eq!(Layout::new("").manifest(&id), "snapshots/20261122T101500.123Z-3fa2c1/manifest.json");
        assert_eq!(Layout::new("").snapshots(), "snapshots/");
    }
}
