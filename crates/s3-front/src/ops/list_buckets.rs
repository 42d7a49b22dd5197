use std::sync::Arc;

use s3s::dto::{ListBucketsInput, ListBucketsOutput};
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};

use crate::Tenant;
use crate::gateway::Gateway;
use crate::upstream_error::client_facing;

/// ListBuckets through the tenant's upstream, showing only the tenant's buckets
/// (tenants usually share one upstream identity that owns every bucket).
pub(crate) async fn list_buckets(
    _gateway: &Gateway,
    req: S3Request<ListBucketsInput>,
) -> S3Result<S3Response<ListBucketsOutput>> {
    let tenant = Arc::clone(req.extensions.get::<Arc<Tenant>>().ok_or_else(|| s3_error!(AccessDenied))?);
    let upstream = &tenant.upstream;
    let mut response =
        upstream.proxy(&req.method).list_buckets(req).await.map_err(|e| client_facing(e, upstream, None))?;
    if let Some(buckets) = response.output.buckets.as_mut() {
        buckets.retain(|b| b.name.as_deref().is_some_and(|name| tenant.may_use(name)));
    }
    Ok(response)
}
