//! The upstream side of cachegate: an aws-sdk-s3 client configured for Ceph RGW,
//! and the background probe that tells whether that upstream is reachable.

mod client;
mod config;
mod endpoint;
mod error;
mod passthrough;
mod readiness;
mod request_metrics;
mod rgw_quirks;

pub use client::{build_client, client_config};
pub use config::UpstreamConfig;
pub use error::UpstreamError;
pub use passthrough::{Exchange, exchange};
pub use readiness::Readiness;
