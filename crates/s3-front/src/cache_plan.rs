use std::sync::Arc;

use s3s::dto::{GetObjectInput, HeadObjectInput};
use s3s::{S3Error, S3ErrorCode, S3Request};

use cachegate_cache::{CacheKey, Consistency, Entry};

use crate::Tenant;
use crate::gateway::{CacheSetup, Gateway};
use crate::upstream::Upstream;

/// Whether and how one GET or HEAD uses the cache.
pub(crate) enum Plan<'a> {
    /// The gateway runs without a cache.
    NoCache,
    /// Not cacheable: customer-encrypted, a part number, or caching is off for the bucket.
    Bypass,
    /// Through the cache.
    Use(Cached<'a>),
}

/// A request that goes through the cache.
pub(crate) struct Cached<'a> {
    pub(crate) setup: &'a CacheSetup,
    pub(crate) mode: Consistency,
    pub(crate) key: CacheKey,
}

/// The request fields that decide the plan.
pub(crate) struct ObjectRequest<'a> {
    bucket: &'a str,
    key: &'a str,
    version_id: Option<&'a str>,
    cacheable: bool,
}

impl<'a> From<&'a GetObjectInput> for ObjectRequest<'a> {
    fn from(input: &'a GetObjectInput) -> Self {
        Self {
            bucket: &input.bucket,
            key: &input.key,
            version_id: input.version_id.as_deref(),
            cacheable: input.sse_customer_algorithm.is_none() && input.part_number.is_none(),
        }
    }
}

impl<'a> From<&'a HeadObjectInput> for ObjectRequest<'a> {
    fn from(input: &'a HeadObjectInput) -> Self {
        Self {
            bucket: &input.bucket,
            key: &input.key,
            version_id: input.version_id.as_deref(),
            cacheable: input.sse_customer_algorithm.is_none() && input.part_number.is_none() && input.range.is_none(),
        }
    }
}

impl Gateway {
    /// The plan for `req`, an authorized GET or HEAD of the tenant attached to it.
    pub(crate) fn plan<'r, T>(&self, req: &'r S3Request<T>, upstream: &Upstream) -> Plan<'_>
    where
        ObjectRequest<'r>: From<&'r T>,
    {
        let Some(setup) = &self.cache else { return Plan::NoCache };
        let object = ObjectRequest::from(&req.input);
        let mode =
            req.extensions.get::<Arc<Tenant>>().and_then(|t| t.cache.mode_for(object.bucket, setup.default_mode));
        match mode {
            Some(mode) if object.cacheable => Plan::Use(Cached {
                setup,
                mode,
                key: CacheKey {
                    upstream: upstream.name.clone(),
                    bucket: object.bucket.to_owned(),
                    key: object.key.to_owned(),
                    version_id: object.version_id.map(str::to_owned),
                },
            }),
            _ => Plan::Bypass,
        }
    }
}

impl Cached<'_> {
    /// Whether `entry` may still be served after the upstream failed with `err`.
    pub(crate) fn may_serve_stale(&self, entry: &Entry, err: &S3Error) -> bool {
        let upstream_failed = err.status_code().is_some_and(|s| s.is_server_error());
        upstream_failed && entry.age() <= self.setup.max_stale
    }
}

/// Whether a revalidation answer says "unchanged".
pub(crate) fn is_not_modified(err: &S3Error) -> bool {
    *err.code() == S3ErrorCode::NotModified
}
