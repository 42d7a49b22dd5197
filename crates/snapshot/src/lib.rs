//! Webroot snapshots: the format (a tar.gz cut into independent gzip members, an index
//! and a manifest, see `docs/snapshot-format.md`), `publish-snapshot`, `fetch-webroot`
//! and the management of the snapshots kept in a bucket.

mod catalog;
mod current;
mod digest;
mod entry_path;
mod error;
mod fetch;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
mod index;
mod layout;
mod limits;
mod link_check;
mod manifest;
mod marker;
mod pack;
mod pointer;
mod publish;
mod resolve;
mod snapshot_id;
mod store;

pub use catalog::{SnapshotSummary, list, prune, rollback, show};
pub use digest::Digest;
pub use error::{Result, SnapshotError};
pub use fetch::{FetchMode, FetchOptions, FetchReport, Transfer, VerifyMode, fetch_webroot};
pub use index::{Entry, EntryKind, INDEX_FORMAT, Index, IndexTotals, Member};
pub use layout::Layout;
pub use limits::{Limits, MAX_DOCUMENT_LEN};
pub use manifest::{ArchiveRef, IndexRef, MANIFEST_FORMAT, Manifest};
pub use marker::{DEFAULT_MARKER_NAME, Marker};
pub use pack::compress::{CompressedMember, compress_member};
pub use pointer::{Pointer, SnapshotRef};
pub use publish::{DEFAULT_MEMBER_SIZE, PublishOptions, PublishReport, publish};
pub use snapshot_id::SnapshotId;
pub use store::{S3Options, SnapshotStore, connect};
