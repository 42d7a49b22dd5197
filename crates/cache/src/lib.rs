//! The disk cache of cachegate.
//!
//! Objects are kept under `cache.dir`, one file per entry: the object's bytes followed by a
//! small metadata record, written under a temporary name and renamed into place once both
//! are in it, so an entry file always holds a whole object. An in-memory index bounded by
//! bytes evicts entries and deletes their files. Concurrent misses for one object share one
//! [`fill`](CacheStore::fill): readers stream from the growing file as bytes arrive.
//! Every 1 MiB block carries a CRC32C that is checked before its bytes are served.

mod block;
mod config;
mod error;
mod fill;
mod index;
mod key;
mod layout;
mod memory;
mod meta;
mod policy;
mod reader;
mod store;

pub use config::{CacheConfig, Consistency, SizeLimit};
pub use error::CacheError;
pub use fill::Fill;
pub use key::{CacheKey, EntryId};
pub use meta::{Entry, ObjectMeta};
pub use policy::{BucketCache, TenantCache};
pub use reader::read;
pub use reader::{ReadError, Source};
pub use store::{CacheStore, EntryRead, FillLease, Lookup};
