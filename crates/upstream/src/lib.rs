//! The upstream side of cachegate: an aws-sdk-s3 client configured for Ceph RGW,
//! and the background probe that tells whether that upstream is reachable.

mod client;
mod config;
mod empty_put_length;
mod error;
mod readiness;
mod request_metrics;

pub use client::build_client;
pub use config::UpstreamConfig;
pub use error::UpstreamError;
pub use readiness::Readiness;
