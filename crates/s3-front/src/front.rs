use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use s3s::config::{S3Config, StaticConfigProvider};
use s3s::dto::{GetObjectInput, GetObjectOutput};
use s3s::host::MultiDomain;
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{Body, HttpError, S3, S3Response, S3Result};
use tracing::Instrument;

use crate::access::TenantAccess;
use crate::error_body::stamp_request_id;
use crate::fast_hit::FastHits;
use crate::gateway::{CacheSetup, Gateway};
use crate::metered_body::{AccessRecord, MeteredBody};
use crate::registry::TenantAuth;
use crate::sigv2_bucket_slash::SlashVariant;
use crate::upstream::internal_request;
use crate::{FrontError, RequestContext, TenantRegistry};

/// Settings of the S3 front that are not per tenant.
#[derive(Debug, Clone)]
pub struct FrontOptions {
    /// Largest difference between a request's signing time and the gateway's clock.
    pub max_clock_skew: Duration,
    /// Domains under which virtual-hosted-style requests (`bucket.domain`) are accepted;
    /// empty means path-style only.
    pub virtual_host_domains: Vec<String>,
    /// The tenant unsigned requests belong to, forwarded unsigned so that the upstream's
    /// own ACLs decide (public-read buckets); `None` refuses them.
    pub anonymous: Option<Arc<crate::Tenant>>,
}

/// The client-facing hyper service: s3s (verification, protocol) around [`Gateway`],
/// plus request ids, access logs and metrics.
#[derive(Clone)]
pub struct FrontService {
    s3: Arc<S3Service>,
    gateway: Gateway,
    registry: Arc<TenantRegistry>,
    fast_hits: Option<Arc<FastHits>>,
}

impl FrontService {
    /// Builds the service for the tenants in `registry`, with the disk cache if any.
    pub fn new(
        registry: Arc<TenantRegistry>,
        options: &FrontOptions,
        cache: Option<CacheSetup>,
    ) -> Result<Self, FrontError> {
        let fast_hits = cache.clone().map(|cache| {
            Arc::new(FastHits {
                registry: Arc::clone(&registry),
                cache,
                max_clock_skew: options.max_clock_skew,
                path_style_hosts: options.virtual_host_domains.clone(),
            })
        });
        let gateway = Gateway { cache };
        let mut builder = S3ServiceBuilder::new(gateway.clone());
        builder.set_auth(TenantAuth(Arc::clone(&registry)));
        builder.set_access(TenantAccess {
            registry: Arc::clone(&registry),
            anonymous: options.anonymous.clone(),
            max_clock_skew: options.max_clock_skew,
        });
        if !options.virtual_host_domains.is_empty() {
            let domains = options.virtual_host_domains.iter().map(String::as_str);
            let host = MultiDomain::new(domains).map_err(|e| FrontError::Domain(e.to_string()))?;
            builder.set_host(host);
        }
        let mut config = S3Config::default();
        config.presigned_url_max_skew_time_secs = u32::try_from(options.max_clock_skew.as_secs()).unwrap_or(u32::MAX);
        builder.set_config(Arc::new(StaticConfigProvider::new(Arc::new(config))));
        Ok(Self { s3: Arc::new(builder.build()), gateway, registry, fast_hits })
    }

    /// The same service with every request answered by s3s, for comparing the fast hit
    /// path's answers with s3s's.
    #[cfg(test)]
    pub(crate) fn without_fast_hits(mut self) -> Self {
        self.fast_hits = None;
        self
    }

    /// Starts a request that a route of its own answers (authenticated its own way, not
    /// S3): it gets a request id, an access-log line and the request metrics like any other.
    pub fn route_request<B>(&self, request: &http::Request<B>) -> RouteRequest {
        let context = Arc::new(RequestContext::new());
        RouteRequest { record: AccessRecord::start(context, request.method(), request.uri(), request.headers()) }
    }

    /// GetObject on behalf of the tenant called `tenant`, through the cache like a client's
    /// own, for a route that authenticated its caller itself. `None` when there is no such
    /// tenant or the bucket is not one of its own.
    pub async fn get_object_as(
        &self,
        route: &RouteRequest,
        tenant: &str,
        input: GetObjectInput,
    ) -> Option<S3Result<S3Response<GetObjectOutput>>> {
        let tenant = self.registry.tenant_named(tenant)?;
        if !tenant.may_use(&input.bucket) {
            return None;
        }
        let context = &route.record.context;
        context.authorize(&tenant.name, "GetObject".into());
        let mut request = internal_request(input);
        request.extensions.insert(Arc::clone(context));
        request.extensions.insert(Arc::clone(tenant));
        Some(self.gateway.get_object(request).await)
    }

    /// Handles one client request.
    pub async fn handle<B>(&self, request: http::Request<B>) -> Result<http::Response<MeteredBody>, HttpError>
    where
        Body: From<B>,
    {
        let context = Arc::new(RequestContext::new());
        let (mut parts, body) = request.into_parts();
        parts.extensions.insert(Arc::clone(&context));
        let record = AccessRecord::start(Arc::clone(&context), &parts.method, &parts.uri, &parts.headers);
        let span = tracing::info_span!("request", id = context.id.as_str());
        if let Some(fast_hits) = &self.fast_hits
            && let Some(response) = fast_hits.answer(&parts, &context).instrument(span.clone()).await
        {
            return Ok(metered(response, record));
        }
        let slash_variant = SlashVariant::of(&parts);
        let extensions = slash_variant.as_ref().map(|_| parts.extensions.clone());
        let request = http::Request::from_parts(parts, Body::from(body));
        let mut response = self.s3.call(request).instrument(span.clone()).await?;
        if let (Some(variant), Some(extensions)) = (slash_variant, extensions)
            && SlashVariant::applies_to(&response)
        {
            response = self.s3.call(variant.into_request(extensions)).instrument(span).await?;
        }
        Ok(metered(response, record))
    }
}

/// A request answered by a route outside S3 (see [`FrontService::route_request`]).
pub struct RouteRequest {
    record: AccessRecord,
}

impl RouteRequest {
    /// The route's response, stamped with the request id and metered as it is sent.
    pub fn respond(self, response: http::Response<Body>) -> http::Response<MeteredBody> {
        metered(response, self.record)
    }
}

/// `response` with the request id in its headers (and XML error body), its body counted
/// and logged by `record` when it ends.
fn metered(mut response: http::Response<Body>, mut record: AccessRecord) -> http::Response<MeteredBody> {
    let id = &record.context.id;
    stamp_request_id(&mut response, id);
    if let Ok(id) = HeaderValue::from_str(id) {
        response.headers_mut().insert("x-amz-request-id", id);
    }
    record.status = response.status().as_u16();
    response.map(|body| MeteredBody::new(body, record))
}
