use std::sync::Arc;
use std::time::{Duration, Instant};

use http::HeaderValue;
use s3s::config::{S3Config, StaticConfigProvider};
use s3s::dto::{GetObjectInput, GetObjectOutput};
use s3s::host::MultiDomain;
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{Body, HttpError, S3, S3Response, S3Result};
use tracing::Instrument;

use crate::access::TenantAccess;
use crate::error_body::stamp_request_id;
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
}

impl FrontService {
    /// Builds the service for the tenants in `registry`, with the disk cache if any.
    pub fn new(
        registry: Arc<TenantRegistry>,
        options: &FrontOptions,
        cache: Option<CacheSetup>,
    ) -> Result<Self, FrontError> {
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
        Ok(Self { s3: Arc::new(builder.build()), gateway, registry })
    }

    /// GetObject of `bucket`/`key` on behalf of the tenant called `tenant`, through the
    /// cache like a client's own, for routes that authenticate their callers themselves.
    /// `None` when there is no such tenant or the bucket is not one of its own.
    pub async fn get_object_as(
        &self,
        tenant: &str,
        input: GetObjectInput,
    ) -> Option<S3Result<S3Response<GetObjectOutput>>> {
        let tenant = self.registry.tenant_named(tenant)?;
        if !tenant.may_use(&input.bucket) {
            return None;
        }
        let context = Arc::new(RequestContext::new());
        context.authorize(&tenant.name, "GetObject");
        let mut request = internal_request(input);
        request.extensions.insert(context);
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
        let record = AccessRecord {
            context: Arc::clone(&context),
            method: parts.method.clone(),
            // never the query: presigned URLs carry their signature there
            path: parts.uri.path().to_owned(),
            status: 0,
            bytes_in: declared_body_length(&parts.headers),
            started: Instant::now(),
            bytes_out: 0,
            complete: false,
        };
        let span = tracing::info_span!("request", id = %context.id);
        let slash_variant = SlashVariant::of(&parts);
        let extensions = slash_variant.as_ref().map(|_| parts.extensions.clone());
        let request = http::Request::from_parts(parts, Body::from(body));
        let mut response = self.s3.call(request).instrument(span.clone()).await?;
        if let (Some(variant), Some(extensions)) = (slash_variant, extensions)
            && SlashVariant::applies_to(&response)
        {
            response = self.s3.call(variant.into_request(extensions)).instrument(span).await?;
        }
        stamp_request_id(&mut response, &context.id);
        if let Ok(id) = HeaderValue::from_str(&context.id) {
            response.headers_mut().insert("x-amz-request-id", id);
        }
        let mut record = record;
        record.status = response.status().as_u16();
        Ok(response.map(|body| MeteredBody::new(body, record)))
    }
}

/// Payload bytes the client announced (aws-chunked bodies declare the decoded length).
fn declared_body_length(headers: &http::HeaderMap) -> u64 {
    ["x-amz-decoded-content-length", "content-length"]
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok()?.parse().ok())
        .unwrap_or(0)
}
