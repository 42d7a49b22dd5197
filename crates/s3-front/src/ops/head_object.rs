use s3s::dto::{ETagCondition, HeadObjectInput, HeadObjectOutput};
use s3s::{S3, S3Request, S3Response, S3Result};

use crate::cache_plan::{Plan, is_not_modified};
use crate::cache_status::CacheStatus;
use crate::conditions::Conditions;
use crate::gateway::Gateway;
use crate::object_meta::ObjectHeaders;
use crate::upstream::{Upstream, internal_request};
use crate::upstream_error::client_facing;

/// HeadObject answered from the cached metadata when there is an entry; revalidated
/// with a conditional HEAD as the consistency mode requires. A HEAD never fills.
pub(crate) async fn head_object(
    gateway: &Gateway,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let upstream = Upstream::of(&req)?;
    let cached = match gateway.plan(&req, &upstream) {
        Plan::NoCache => return forward(&upstream, req, None).await,
        Plan::Bypass => return forward(&upstream, req, Some(CacheStatus::Bypass)).await,
        Plan::Use(cached) => cached,
    };
    let Some(entry) = cached.setup.store.get(&cached.key) else {
        return forward(&upstream, req, Some(CacheStatus::Miss)).await;
    };
    let status = if cached.mode.trusts(&entry) {
        CacheStatus::Hit
    } else {
        let conditional = HeadObjectInput {
            bucket: req.input.bucket.clone(),
            key: req.input.key.clone(),
            version_id: req.input.version_id.clone(),
            if_none_match: ETagCondition::parse_http_header(entry.object().etag.as_bytes()).ok(),
            ..HeadObjectInput::default()
        };
        match Box::pin(upstream.proxy(&http::Method::HEAD).head_object(internal_request(conditional))).await {
            Err(e) => match client_facing(e, &upstream, None) {
                e if is_not_modified(&e) => {
                    entry.revalidated();
                    CacheStatus::Revalidated
                }
                e if cached.may_serve_stale(&entry, &e) => CacheStatus::Stale,
                e => {
                    cached.setup.store.invalidate(&cached.key);
                    return Err(e);
                }
            },
            Ok(_) => {
                // changed upstream: the entry is stale, and the client's conditions
                // must be answered by the new object
                cached.setup.store.invalidate(&cached.key);
                return forward(&upstream, req, Some(CacheStatus::Miss)).await;
            }
        }
    };
    Conditions::from(&req.input).check(entry.object())?;
    let mut response = S3Response::new(HeadObjectOutput::from_meta(entry.object()));
    status.mark(&mut response.headers, None);
    Ok(response)
}

async fn forward(
    upstream: &Upstream,
    req: S3Request<HeadObjectInput>,
    status: Option<CacheStatus>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let mut response =
        Box::pin(upstream.proxy(&req.method).head_object(req)).await.map_err(|e| client_facing(e, upstream, None))?;
    if let Some(status) = status {
        status.mark(&mut response.headers, None);
    }
    Ok(response)
}
