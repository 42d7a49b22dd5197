use std::ops::Range;
use std::sync::Arc;

use futures::future::BoxFuture;
use s3s::dto::{ChecksumMode, ETagCondition, GetObjectInput, GetObjectOutput};
use s3s::{S3, S3Request, S3Response, S3Result};

use cachegate_cache::{Entry, Fill, FillLease, Lookup, ObjectMeta};

use crate::byte_span::{content_range, requested_span};
use crate::cache_plan::{Cached, Plan, is_not_modified};
use crate::cache_status::CacheStatus;
use crate::cached_body::{Resume, entry_body, fill_body, slice_body};
use crate::conditions::Conditions;
use crate::gateway::Gateway;
use crate::object_meta::ObjectHeaders;
use crate::upstream::{Upstream, internal_request};
use crate::upstream_error::client_facing;

/// GetObject through the disk cache.
///
/// A hit is served from disk (blocks verified); a miss fetches the whole object once,
/// however many readers wait for it, and every reader streams from the growing file. A
/// range that the fill has not reached yet is fetched on its own so it is answered at
/// once. Conditions and ranges are evaluated against the cached metadata.
///
/// Everything but the fresh hit runs in a boxed future: a future is as large as its
/// largest branch (the SDK's are large), and every request, hits included, moves it.
pub(crate) async fn get_object(
    gateway: &Gateway,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let upstream = Upstream::of(&req)?;
    let cached = match gateway.plan(&req, &upstream) {
        Plan::NoCache => return forward(&upstream, req, None).await,
        Plan::Bypass => return forward(&upstream, req, Some(CacheStatus::Bypass)).await,
        Plan::Use(cached) => cached,
    };
    match cached.setup.store.begin(&cached.key) {
        Lookup::Hit(entry) if cached.mode.trusts(&entry) => {
            serve_entry(&cached, entry, &upstream, req, CacheStatus::Hit).await
        }
        Lookup::Hit(entry) => Box::pin(revalidate(&cached, entry, &upstream, req)).await,
        Lookup::Join(fill) => Box::pin(join(fill, &upstream, req)).await,
        Lookup::Lead(lease) => Box::pin(lead(lease, &upstream, req)).await,
        Lookup::Bypass => forward(&upstream, req, Some(CacheStatus::Bypass)).await,
    }
}

/// Reads from the fill another request leads, once it has the object's metadata.
async fn join(
    fill: Arc<Fill>,
    upstream: &Arc<Upstream>,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    match fill.ready().await.cloned() {
        Some(meta) => serve_fill(fill, &meta, upstream, req).await,
        None => forward(upstream, req, Some(CacheStatus::Miss)).await,
    }
}

/// Fetches the whole object for the fill this request leads.
async fn lead(
    lease: FillLease,
    upstream: &Arc<Upstream>,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let whole = whole_object(&req.input);
    match upstream.proxy(&http::Method::GET).get_object(internal_request(whole)).await {
        Ok(fetched) => fill_from(Some(lease), fetched.output, upstream, req).await,
        Err(e) => Err(client_facing(e, upstream, None)),
    }
}

/// Asks the upstream whether `entry` is still current, with `If-None-Match`.
async fn revalidate(
    cached: &Cached<'_>,
    entry: Arc<Entry>,
    upstream: &Arc<Upstream>,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let mut conditional = whole_object(&req.input);
    conditional.if_none_match = ETagCondition::parse_http_header(entry.object().etag.as_bytes()).ok();
    match upstream.proxy(&http::Method::GET).get_object(internal_request(conditional)).await {
        Err(e) => match client_facing(e, upstream, None) {
            e if is_not_modified(&e) => {
                entry.revalidated();
                serve_entry(cached, entry, upstream, req, CacheStatus::Revalidated).await
            }
            e if cached.may_serve_stale(&entry, &e) => {
                serve_entry(cached, entry, upstream, req, CacheStatus::Stale).await
            }
            e => {
                cached.setup.store.invalidate(&cached.key);
                Err(e)
            }
        },
        Ok(changed) => {
            cached.setup.store.invalidate(&cached.key);
            let lease = match cached.setup.store.begin(&cached.key) {
                Lookup::Lead(lease) => Some(lease),
                _ => None,
            };
            fill_from(lease, changed.output, upstream, req).await
        }
    }
}

/// Answers from a whole-object `output` just fetched, filling the cache with it when
/// holding the `lease` and the object may be cached.
async fn fill_from(
    lease: Option<FillLease>,
    mut output: GetObjectOutput,
    upstream: &Arc<Upstream>,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let (Some(meta), Some(body)) = (output.to_meta(), output.body.take()) else {
        return forward(upstream, req, Some(CacheStatus::Bypass)).await;
    };
    let body = match lease {
        Some(lease) => match lease.start(meta.clone(), body) {
            Ok(fill) => return serve_fill(fill, &meta, upstream, req).await,
            Err(body) => body,
        },
        None => body,
    };
    let (mut answer, span) = answer(&meta, &req.input)?;
    answer.body = Some(slice_body(body, span));
    Ok(respond(answer, CacheStatus::Miss))
}

/// Serves a complete entry, or the upstream's copy if its first block is corrupt.
async fn serve_entry(
    cached: &Cached<'_>,
    entry: Arc<Entry>,
    upstream: &Arc<Upstream>,
    req: S3Request<GetObjectInput>,
    status: CacheStatus,
) -> S3Result<S3Response<GetObjectOutput>> {
    let (mut answer, span) = answer(entry.object(), &req.input)?;
    match entry_body(&cached.setup.store, &entry, span).await {
        Some(body) => {
            answer.body = Some(body);
            Ok(respond(answer, status))
        }
        None => forward(upstream, req, Some(CacheStatus::Miss)).await,
    }
}

/// How far beyond what a fill has written a range may start and still wait for the fill
/// rather than make an upstream GET of its own. Parallel ranged readers of one object (16
/// init containers fetching a webroot archive, 8 ranges each) ask just ahead of the fill,
/// which arrives at upstream speed in tens of milliseconds; a reader seeking far into a large
/// object (`bytes=N-`) does not wait for N bytes to arrive.
const FILL_WAIT_AHEAD: u64 = 16 << 20;

/// Serves from a fill in progress, or on its own when the range starts well beyond what the
/// fill has written.
async fn serve_fill(
    fill: Arc<Fill>,
    meta: &ObjectMeta,
    upstream: &Arc<Upstream>,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let (mut answer, span) = answer(meta, &req.input)?;
    if span.start >= fill.written().saturating_add(FILL_WAIT_AHEAD) {
        return forward(upstream, req, Some(CacheStatus::Miss)).await;
    }
    let resume = Resume { upstream: Arc::clone(upstream), input: whole_object(&req.input), etag: meta.etag.clone() };
    answer.body = Some(fill_body(fill, span, resume));
    Ok(respond(answer, CacheStatus::Miss))
}

/// The answer to `input` from `meta`, without a body, and the byte range to send.
fn answer(meta: &ObjectMeta, input: &GetObjectInput) -> S3Result<(GetObjectOutput, Range<u64>)> {
    Conditions::from(input).check(meta)?;
    let span = requested_span(input.range.as_ref(), meta.size)?;
    let mut answer = GetObjectOutput::from_meta(meta);
    answer.content_length = i64::try_from(span.end - span.start).ok();
    if input.range.is_some() {
        answer.content_range = Some(content_range(&span, meta.size));
    }
    // whole-object checksums describe neither a range nor a request that did not ask
    if input.range.is_some() || input.checksum_mode.as_ref().is_none_or(|m| m.as_str() != ChecksumMode::ENABLED) {
        answer.checksum_crc32 = None;
        answer.checksum_crc32c = None;
        answer.checksum_crc64nvme = None;
        answer.checksum_sha1 = None;
        answer.checksum_sha256 = None;
    }
    Ok((answer, span))
}

fn respond(answer: GetObjectOutput, status: CacheStatus) -> S3Response<GetObjectOutput> {
    let body_bytes = answer.content_length;
    let mut response = S3Response::new(answer);
    status.mark(&mut response.headers, body_bytes);
    response
}

/// The request for the whole current object: no range, no conditions.
fn whole_object(input: &GetObjectInput) -> GetObjectInput {
    GetObjectInput {
        bucket: input.bucket.clone(),
        key: input.key.clone(),
        version_id: input.version_id.clone(),
        expected_bucket_owner: input.expected_bucket_owner.clone(),
        request_payer: input.request_payer.clone(),
        ..GetObjectInput::default()
    }
}

/// The client's own request, straight to the upstream (boxed, like every cold path).
fn forward(
    upstream: &Upstream,
    req: S3Request<GetObjectInput>,
    status: Option<CacheStatus>,
) -> BoxFuture<'_, S3Result<S3Response<GetObjectOutput>>> {
    Box::pin(async move {
        let mut response =
            upstream.proxy(&req.method).get_object(req).await.map_err(|e| client_facing(e, upstream, None))?;
        if let Some(status) = status {
            status.mark(&mut response.headers, response.output.content_length);
        }
        Ok(response)
    })
}

#[cfg(test)]
mod tests {
    use s3s::S3ErrorCode;
    use s3s::dto::Range as ByteRange;

    use super::*;

    fn ranged(range: ByteRange, size: u64) -> S3Result<(GetObjectOutput, Range<u64>)> {
        let input = GetObjectInput { range: Some(range), ..GetObjectInput::default() };
        answer(&ObjectMeta { size, ..ObjectMeta::default() }, &input)
    }

    #[test]
    fn ranges_name_the_bytes_sent_and_refuse_empty_spans() {
        let (output, span) = ranged(ByteRange::Suffix { length: 4 }, 10).unwrap();
        assert_eq!((span, output.content_range.as_deref()), (6..10, Some("bytes 6-9/10")));
        let (output, span) = ranged(ByteRange::Int { first: 2, last: None }, 10).unwrap();
        assert_eq!((span, output.content_length), (2..10, Some(8)));
        for range in [ByteRange::Suffix { length: 4 }, ByteRange::Int { first: 0, last: None }] {
            let refused = ranged(range, 0).unwrap_err();
            assert_eq!(refused.code(), &S3ErrorCode::InvalidRange);
        }
    }
}
