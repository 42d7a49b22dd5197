use std::any::Any;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{OnceLock, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::CacheKey;

/// What the gateway needs to answer a GET or HEAD without the upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// Object size in bytes.
    pub size: u64,
    /// The upstream's ETag, with its quotes.
    pub etag: String,
    /// Last-Modified, in seconds since the Unix epoch.
    pub last_modified: Option<i64>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Content-Encoding`.
    pub content_encoding: Option<String>,
    /// `Content-Disposition`.
    pub content_disposition: Option<String>,
    /// `Content-Language`.
    pub content_language: Option<String>,
    /// `Cache-Control`.
    pub cache_control: Option<String>,
    /// `Expires`, in seconds since the Unix epoch.
    pub expires: Option<i64>,
    /// User metadata (`x-amz-meta-*` without the prefix).
    pub metadata: BTreeMap<String, String>,
    /// `x-amz-checksum-*` values by algorithm name (`crc32`, `sha256`, …).
    pub checksums: BTreeMap<String, String>,
    /// The version the upstream served.
    pub version_id: Option<String>,
    /// The storage class the upstream reported.
    pub storage_class: Option<String>,
}

/// The record that follows an object's bytes in its entry file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EntryRecord {
    pub(crate) format: u32,
    pub(crate) key: CacheKey,
    pub(crate) object: ObjectMeta,
    pub(crate) stored_at_ms: u64,
    pub(crate) block_size: u64,
    pub(crate) block_crcs: Vec<u32>,
}

/// Version of [`EntryRecord`]'s layout; records of another version are discarded on start.
pub(crate) const RECORD_FORMAT: u32 = 2;

/// A complete cache entry.
#[derive(Debug)]
pub struct Entry {
    pub(crate) record: EntryRecord,
    /// The entry's file.
    path: PathBuf,
    /// Unique among the entries of this process: an entry replacing another never shares its
    /// memory-tier slot.
    pub(crate) serial: u64,
    /// When the upstream last confirmed this entry (stored or revalidated), in ms since the epoch.
    validated_ms: AtomicU64,
    /// See [`Entry::derived`].
    derived: OnceLock<Box<dyn Any + Send + Sync>>,
    /// The whole object while the memory tier holds it; read by every hit, on every
    /// connection thread.
    bytes: RwLock<Option<Bytes>>,
    /// Hits served from memory, for the memory tier's sampling.
    memory_hits: AtomicU32,
}

impl Entry {
    pub(crate) fn new(record: EntryRecord, path: PathBuf) -> Self {
        static NEXT_SERIAL: AtomicU64 = AtomicU64::new(0);
        let validated_ms = AtomicU64::new(record.stored_at_ms);
        let serial = NEXT_SERIAL.fetch_add(1, Ordering::Relaxed);
        Self {
            record,
            path,
            serial,
            validated_ms,
            derived: OnceLock::new(),
            bytes: RwLock::new(None),
            memory_hits: AtomicU32::new(0),
        }
    }

    /// The cached object's metadata.
    pub fn object(&self) -> &ObjectMeta {
        &self.record.object
    }

    /// The key it was stored under.
    pub fn key(&self) -> &CacheKey {
        &self.record.key
    }

    /// Time since the upstream last confirmed this entry.
    pub fn age(&self) -> Duration {
        let validated = UNIX_EPOCH + Duration::from_millis(self.validated_ms.load(Ordering::Relaxed));
        SystemTime::now().duration_since(validated).unwrap_or_default()
    }

    /// What the store's user derives from this entry (the gateway: the headers of its
    /// answers), derived by the first caller and kept as long as the entry. `None` when
    /// an earlier caller derived another type.
    pub fn derived<T: Any + Send + Sync>(&self, derive: impl FnOnce(&Self) -> T) -> Option<&T> {
        self.derived.get_or_init(|| Box::new(derive(self))).downcast_ref()
    }

    /// Records that the upstream just confirmed this entry (a 304 to a revalidation).
    pub fn revalidated(&self) {
        self.validated_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// The whole object when the memory tier holds it, and how many hits it served before.
    pub(crate) fn bytes_in_memory(&self) -> Option<(Bytes, u32)> {
        let bytes = self.bytes.read().unwrap_or_else(PoisonError::into_inner).clone()?;
        Some((bytes, self.memory_hits.fetch_add(1, Ordering::Relaxed)))
    }

    pub(crate) fn keep_bytes(&self, bytes: Bytes) {
        *self.bytes.write().unwrap_or_else(PoisonError::into_inner) = Some(bytes);
    }

    pub(crate) fn forget_bytes(&self) {
        self.bytes.write().unwrap_or_else(PoisonError::into_inner).take();
    }

    /// The file holding the object's bytes (from offset 0) and then its record.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
