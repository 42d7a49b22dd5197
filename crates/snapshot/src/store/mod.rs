//! Talking to the bucket: the S3 client, the snapshot objects, streaming multipart uploads.

mod client;
mod multipart;
mod retry;
mod snapshot_store;

pub use client::{S3Options, connect};
pub(crate) use multipart::MultipartUpload;
pub(crate) use snapshot_store::PutCondition;
pub use snapshot_store::SnapshotStore;
