use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use moka::notification::RemovalCause;
use moka::sync::Cache;

use crate::key::EntryId;
use crate::layout::Layout;
use crate::meta::Entry;

/// Entries are weighed in units of this many bytes (moka weighs in `u32`).
const WEIGHT_UNIT: u64 = 4096;

/// The in-memory index of complete entries, bounded by their bytes; an entry leaving
/// it (evicted, invalidated or replaced) takes its file with it.
pub(crate) struct Index {
    entries: Cache<EntryId, Arc<Entry>>,
    totals: Arc<Totals>,
}

#[derive(Default)]
struct Totals {
    bytes: AtomicU64,
    objects: AtomicU64,
}

impl Totals {
    fn publish(&self) {
        metrics::gauge!("cachegate_cache_bytes").set(self.bytes.load(Ordering::Relaxed) as f64);
        metrics::gauge!("cachegate_cache_objects").set(self.objects.load(Ordering::Relaxed) as f64);
    }
}

impl Index {
    pub(crate) fn new(capacity_bytes: u64) -> Self {
        let totals = Arc::new(Totals::default());
        let on_removal = Arc::clone(&totals);
        let entries = Cache::builder()
            .max_capacity(capacity_bytes / WEIGHT_UNIT)
            .weigher(|_, entry: &Arc<Entry>| weight(entry.object().size))
            .support_invalidation_closures()
            .eviction_listener(move |_, entry: Arc<Entry>, cause| {
                if cause == RemovalCause::Size {
                    metrics::counter!("cachegate_cache_evictions_total").increment(1);
                }
                on_removal.bytes.fetch_sub(entry.object().size, Ordering::Relaxed);
                on_removal.objects.fetch_sub(1, Ordering::Relaxed);
                on_removal.publish();
                Layout::remove(entry.path());
            })
            .build();
        Self { entries, totals }
    }

    pub(crate) fn get(&self, id: &EntryId) -> Option<Arc<Entry>> {
        self.entries.get(id)
    }

    pub(crate) fn insert(&self, id: EntryId, entry: Arc<Entry>) {
        self.totals.bytes.fetch_add(entry.object().size, Ordering::Relaxed);
        self.totals.objects.fetch_add(1, Ordering::Relaxed);
        self.totals.publish();
        self.entries.insert(id, entry);
    }

    pub(crate) fn remove(&self, id: &EntryId) {
        self.entries.invalidate(id);
    }

    /// Removes every entry for which `doomed` holds.
    pub(crate) fn remove_if(&self, doomed: impl Fn(&Entry) -> bool + Send + Sync + 'static) {
        // only fails when closures are not enabled on the builder, and they are
        let _ = self.entries.invalidate_entries_if(move |_, entry| doomed(entry));
    }

    /// Applies pending evictions now (moka otherwise batches them).
    pub(crate) fn settle(&self) {
        self.entries.run_pending_tasks();
    }

    /// Bytes and entries held.
    pub(crate) fn totals(&self) -> (u64, u64) {
        (self.totals.bytes.load(Ordering::Relaxed), self.totals.objects.load(Ordering::Relaxed))
    }
}

fn weight(size: u64) -> u32 {
    u32::try_from(size.div_ceil(WEIGHT_UNIT) + 1).unwrap_or(u32::MAX)
}
