//! The S3 front of cachegate.
//!
//! Requests are verified by `s3s` (SigV2 and SigV4: header, presigned, aws-chunked
//! streaming), authorized against the tenant owning the access key, then forwarded to
//! that tenant's upstream through `s3s-aws`. [`FrontService`] is the hyper service that
//! wraps it all with request ids, access logs and metrics.

mod access;
mod byte_span;
mod cache_plan;
mod cache_status;
mod cached_body;
mod client_body;
mod clock_skew;
mod conditions;
mod context;
mod error;
mod error_body;
mod fast_hit;
mod front;
mod gateway;
mod metered_body;
mod object_meta;
mod ops;
mod registry;
mod request_metrics;
mod sigv2_bucket_slash;
mod tenant;
mod upstream;
mod upstream_error;
mod writes;

pub use context::RequestContext;
pub use error::FrontError;
pub use front::{FrontOptions, FrontService, RouteRequest};
pub use gateway::CacheSetup;
pub use metered_body::MeteredBody;
pub use registry::TenantRegistry;
pub use tenant::{BucketPattern, Tenant};
pub use upstream::Upstream;
