//! The disk cache of cachegate.
//!
//! Objects are kept as a data file plus a small metadata record under `cache.dir`, both
//! written under temporary names and renamed into place (the record last, so a record
//! always describes a complete data file). An in-memory index bounded by bytes evicts
//! entries and deletes their files. Concurrent misses for one object share one
//! [`fill`](CacheStore::fill): readers stream from the growing file as bytes arrive.
//! Every 1 MiB block carries a CRC32C that is checked before its bytes are served.

mod block;
mod config;
mod error;
mod fill;
mod index;
mod key;
mod layout;
mod meta;
mod policy;
mod reader;
mod store;

pub use config::{CacheConfig, Consistency, SizeLimit};
pub use error::CacheError;
pub use fill::Fill;
pub use key::CacheKey;
pub use meta::{Entry, ObjectMeta};
pub use policy::{BucketCache, TenantCache};
pub use reader::read;
pub use reader::{ReadError, Source};
pub use store::{CacheStore, FillLease, Lookup};
