use std::sync::Arc;
use std::time::Duration;

use s3s::access::{S3Access, S3AccessContext};
use s3s::dto::{CopyObjectInput, CopySource, UploadPartCopyInput};
use s3s::path::S3Path;
use s3s::{S3Request, S3Result, s3_error};

use crate::clock_skew::check_sigv2_date;
use crate::{RequestContext, Tenant, TenantRegistry};

/// Authorizes a verified request against the tenant owning its access key and
/// attaches that tenant to the request for the operation handlers.
pub(crate) struct TenantAccess {
    pub(crate) registry: Arc<TenantRegistry>,
    /// Where unsigned requests go, when they are allowed at all.
    pub(crate) anonymous: Option<Arc<Tenant>>,
    pub(crate) max_clock_skew: Duration,
}

#[async_trait::async_trait]
impl S3Access for TenantAccess {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        check_sigv2_date(cx.headers(), self.max_clock_skew)?;
        check_presigned_lifetime(cx.uri())?;
        let tenant = match (cx.credentials(), &self.anonymous) {
            (Some(credentials), _) => {
                self.registry.tenant(&credentials.access_key).cloned().ok_or_else(|| s3_error!(InvalidAccessKeyId))?
            }
            (None, Some(anonymous)) => Arc::clone(anonymous),
            (None, None) => return Err(s3_error!(AccessDenied, "Anonymous access is not allowed")),
        };
        let operation: Arc<str> = cx.s3_op().name().into();
        if let Some(context) = cx.extensions_mut().get::<Arc<RequestContext>>() {
            context.authorize(&tenant.name, operation);
        }
        let bucket = match cx.s3_path() {
            S3Path::Root => None,
            S3Path::Bucket { bucket } | S3Path::Object { bucket, .. } => Some(bucket),
        };
        if let Some(bucket) = bucket {
            ensure_allowed(&tenant, bucket)?;
        }
        cx.extensions_mut().insert(tenant);
        Ok(())
    }

    async fn copy_object(&self, req: &mut S3Request<CopyObjectInput>) -> S3Result<()> {
        ensure_source_allowed(req, &req.input.copy_source)
    }

    async fn upload_part_copy(&self, req: &mut S3Request<UploadPartCopyInput>) -> S3Result<()> {
        ensure_source_allowed(req, &req.input.copy_source)
    }
}

/// AWS and RGW refuse presigned URLs valid for more than 7 days; s3s does not check it.
fn check_presigned_lifetime(uri: &http::Uri) -> S3Result<()> {
    const WEEK: u64 = 7 * 24 * 3600;
    let expires = uri.query().into_iter().flat_map(|q| q.split('&')).find_map(|p| p.strip_prefix("X-Amz-Expires="));
    match expires.map(str::parse::<u64>) {
        Some(Ok(seconds)) if seconds > WEEK => {
            Err(s3_error!(AccessDenied, "X-Amz-Expires must be less than a week (in seconds) that is 604800"))
        }
        _ => Ok(()),
    }
}

fn ensure_allowed(tenant: &Tenant, bucket: &str) -> S3Result<()> {
    if tenant.may_use(bucket) { Ok(()) } else { Err(s3_error!(AccessDenied, "Access Denied")) }
}

/// A copy reads its source bucket too, which must also belong to the tenant.
fn ensure_source_allowed<T>(req: &S3Request<T>, source: &CopySource) -> S3Result<()> {
    let tenant = req.extensions.get::<Arc<Tenant>>().ok_or_else(|| s3_error!(AccessDenied))?;
    match source {
        CopySource::Bucket { bucket, .. } => ensure_allowed(tenant, bucket),
        _ => Err(s3_error!(AccessDenied, "only bucket/key copy sources are supported")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presigned_urls_live_at_most_a_week() {
        let uri =
            |expires: &str| format!("/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires={expires}").parse().unwrap();
        assert!(check_presigned_lifetime(&uri("604800")).is_ok());
        assert!(check_presigned_lifetime(&uri("604801")).is_err());
        assert!(check_presigned_lifetime(&"/b/k".parse().unwrap()).is_ok());
    }
}
