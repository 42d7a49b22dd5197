use std::sync::Arc;

use http::Method;
use s3s::{S3Request, S3Result, s3_error};
use s3s_aws::Proxy;

use crate::Tenant;

/// One upstream S3 endpoint, reached through two clients sharing its connection pool
/// settings: one that retries transient failures, one that never does.
pub struct Upstream {
    /// Display name (the endpoint URL) for logs and metrics.
    pub name: String,
    retrying: (Proxy, aws_sdk_s3::Client),
    single_shot: (Proxy, aws_sdk_s3::Client),
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Upstream {
    /// Wraps a retrying and a single-shot client of the same endpoint.
    pub fn new(name: String, retrying: aws_sdk_s3::Client, single_shot: aws_sdk_s3::Client) -> Self {
        Self {
            name,
            retrying: (Proxy::from(retrying.clone()), retrying),
            single_shot: (Proxy::from(single_shot.clone()), single_shot),
        }
    }

    /// The upstream of the tenant that [`crate::access`] attached to `req`.
    pub(crate) fn of<T>(req: &S3Request<T>) -> S3Result<Arc<Self>> {
        req.extensions
            .get::<Arc<Tenant>>()
            .map(|t| Arc::clone(&t.upstream))
            .ok_or_else(|| s3_error!(AccessDenied, "request has no tenant"))
    }

    /// The proxy for a request: POST operations (multipart create/complete, batch
    /// delete, restore) are not safely repeatable, so they are sent once.
    pub(crate) fn proxy(&self, method: &Method) -> &Proxy {
        &self.pair(method).0
    }

    /// The SDK client for a request the gateway builds itself, chosen as for [`Self::proxy`].
    pub(crate) fn client(&self, method: &Method) -> &aws_sdk_s3::Client {
        &self.pair(method).1
    }

    /// A retrying client for background health probes.
    pub fn probe_client(&self) -> aws_sdk_s3::Client {
        self.retrying.1.clone()
    }

    fn pair(&self, method: &Method) -> &(Proxy, aws_sdk_s3::Client) {
        if method == Method::POST { &self.single_shot } else { &self.retrying }
    }
}

/// A request the gateway sends on its own behalf: s3s-aws's proxy reads only the input.
pub(crate) fn internal_request<T>(input: T) -> S3Request<T> {
    S3Request {
        input,
        method: Method::GET,
        uri: http::Uri::default(),
        headers: http::HeaderMap::new(),
        extensions: http::Extensions::new(),
        credentials: None,
        region: None,
        service: None,
        trailing_headers: None,
    }
}
