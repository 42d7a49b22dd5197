//! The memory tier: whole small objects, already read and checked, kept with their
//! entries and bounded by their bytes.

use std::sync::{Arc, Weak};

use bytes::Bytes;
use moka::notification::RemovalCause;
use moka::sync::Cache;

use crate::meta::Entry;

/// A hit tells the tier of it once in this many hits of an entry: the tier's recency and
/// frequency are sampled rather than counted on every hit, which would cost a second
/// cache lookup per hit besides the index's.
const RECENCY_SAMPLE: u32 = 8;

/// Which entries hold their bytes in memory, by [`Entry::serial`] (an entry replacing
/// another never inherits its bytes); evicting one drops its bytes.
pub(crate) struct MemoryTier {
    members: Cache<u64, Weak<Entry>>,
}

impl MemoryTier {
    /// A tier holding up to `capacity` bytes.
    pub(crate) fn new(capacity: u64) -> Self {
        let members = Cache::builder()
            .max_capacity(capacity)
            .weigher(|_, entry: &Weak<Entry>| {
                let size = entry.upgrade().map_or(0, |e| e.object().size);
                u32::try_from(size).unwrap_or(u32::MAX)
            })
            .eviction_listener(|_, entry: Weak<Entry>, cause| {
                // a second insert of the same entry (two first reads at once) replaces it
                if cause != RemovalCause::Replaced
                    && let Some(entry) = entry.upgrade()
                {
                    entry.forget_bytes();
                }
            })
            .build();
        Self { members }
    }

    /// The bytes of `entry`, when the tier holds them.
    pub(crate) fn get(&self, entry: &Entry) -> Option<Bytes> {
        let (bytes, hits) = entry.bytes_in_memory()?;
        if hits % RECENCY_SAMPLE == 0 {
            let _ = self.members.get(&entry.serial);
        }
        Some(bytes)
    }

    /// Keeps the whole object's `bytes` with `entry`, as long as the tier admits it.
    pub(crate) fn insert(&self, entry: &Arc<Entry>, bytes: Bytes) {
        entry.keep_bytes(bytes);
        self.members.insert(entry.serial, Arc::downgrade(entry));
    }

    /// Applies pending evictions now (moka otherwise batches them).
    #[cfg(test)]
    pub(crate) fn settle(&self) {
        self.members.run_pending_tasks();
    }

    /// Drops the bytes of `entry` (found corrupt).
    pub(crate) fn remove(&self, entry: &Entry) {
        entry.forget_bytes();
        self.members.invalidate(&entry.serial);
    }
}
