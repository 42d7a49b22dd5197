//! `GET /snapshots/<tenant>/current.tar.gz`: a tenant's current webroot snapshot as one
//! plain HTTP download, for init containers that only have curl and tar. The archive is
//! read through the gateway's cache like any GetObject of that tenant, so pods starting
//! together read it from the upstream once.

use std::collections::HashMap;

use futures::TryStreamExt;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use s3s::dto::{GetObjectInput, GetObjectOutput, Range};
use s3s::{Body, S3Response, S3Result};
use subtle::ConstantTimeEq;
use tracing::warn;

use cachegate_s3::{FrontService, MeteredBody, RouteRequest};
use cachegate_snapshot::{Layout, MAX_DOCUMENT_LEN, Pointer};

use crate::config::Config;

/// The route, when `snapshot_http.token` is set.
#[derive(Clone)]
pub struct SnapshotRoute {
    token: String,
    /// Bucket and layout of each tenant's snapshots, by tenant name.
    webroots: HashMap<String, (String, Layout)>,
    front: FrontService,
}

impl SnapshotRoute {
    /// The route configured in `config`, or `None` when it is off.
    pub fn new(config: &Config, front: FrontService) -> Option<Self> {
        if config.snapshot_http.token.is_empty() {
            return None;
        }
        let webroots = config
            .tenants
            .iter()
            .filter_map(|t| t.webroot.as_ref().map(|w| (t.name.clone(), (w.bucket.clone(), Layout::new(&w.prefix)))))
            .collect();
        Some(Self { token: config.snapshot_http.token.clone(), webroots, front })
    }

    /// Whether `request` is for this route: a bearer-authorized GET of its path.
    /// Anything else (a signed S3 request for a bucket named `snapshots`, say) is S3's.
    pub fn claims<B>(&self, request: &Request<B>) -> bool {
        request.method() == Method::GET && tenant_of(request.uri().path()).is_some() && bearer(request).is_some()
    }

    /// Answers a request this route [claims](Self::claims), logged and counted like an S3
    /// request.
    pub async fn answer<B>(&self, request: Request<B>) -> Response<MeteredBody> {
        let route = self.front.route_request(&request);
        let tenant = tenant_of(request.uri().path()).unwrap_or_default();
        let authorized = bearer(&request).is_some_and(|t| bool::from(t.as_bytes().ct_eq(self.token.as_bytes())));
        let response = if authorized {
            self.download(&route, tenant, &request).await
        } else {
            let mut denied = plain(StatusCode::UNAUTHORIZED, "invalid bearer token");
            denied.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            denied
        };
        route.respond(response)
    }

    async fn download<B>(&self, route: &RouteRequest, tenant: &str, request: &Request<B>) -> Response<Body> {
        let Some((bucket, layout)) = self.webroots.get(tenant) else {
            return plain(StatusCode::NOT_FOUND, "no webroot snapshots for this tenant");
        };
        let range = match request.headers().get(header::RANGE).map(|v| Range::parse(v.to_str().unwrap_or(""))) {
            Some(Ok(range)) => Some(range),
            Some(Err(_)) => return plain(StatusCode::RANGE_NOT_SATISFIABLE, "unsupported Range"),
            None => None,
        };
        let pointer = match self.get(route, tenant, bucket, layout.current(), None).await {
            Ok(Some(response)) => read_pointer(response.output).await,
            Ok(None) => return plain(StatusCode::NOT_FOUND, "no webroot snapshots for this tenant"),
            Err(e) => return upstream_failure(tenant, &e),
        };
        let pointer = match pointer {
            Ok(pointer) => pointer,
            Err(why) => {
                warn!(tenant, %why, "snapshot route: unreadable current pointer");
                return plain(StatusCode::BAD_GATEWAY, "the current snapshot pointer is unreadable");
            }
        };
        let id = pointer.current.id;
        match self.get(route, tenant, bucket, layout.archive(&id), range).await {
            Ok(Some(response)) => archive_response(response, id.as_str()),
            Ok(None) => plain(StatusCode::NOT_FOUND, "the current snapshot's archive is missing"),
            Err(e) => upstream_failure(tenant, &e),
        }
    }

    /// GetObject as `tenant`; `Ok(None)` when the object does not exist.
    async fn get(
        &self,
        route: &RouteRequest,
        tenant: &str,
        bucket: &str,
        key: String,
        range: Option<Range>,
    ) -> S3Result<Option<S3Response<GetObjectOutput>>> {
        let input = GetObjectInput { bucket: bucket.to_owned(), key, range, ..GetObjectInput::default() };
        match self.front.get_object_as(route, tenant, input).await {
            None => Ok(None),
            Some(Err(e)) if e.status_code() == Some(StatusCode::NOT_FOUND) => Ok(None),
            Some(result) => result.map(Some),
        }
    }
}

/// The tenant named by `/snapshots/<tenant>/current.tar.gz`.
fn tenant_of(path: &str) -> Option<&str> {
    let tenant = path.strip_prefix("/snapshots/")?.strip_suffix("/current.tar.gz")?;
    (!tenant.is_empty() && !tenant.contains('/')).then_some(tenant)
}

fn bearer<B>(request: &Request<B>) -> Option<&str> {
    request.headers().get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")
}

/// The pointer in `output`, refused beyond the size any real pointer has.
async fn read_pointer(mut output: GetObjectOutput) -> Result<Pointer, String> {
    let too_large = |len: u64| format!("{len} bytes, more than {MAX_DOCUMENT_LEN}");
    if let Some(len) = output.content_length.and_then(|n| u64::try_from(n).ok()).filter(|n| *n > MAX_DOCUMENT_LEN) {
        return Err(too_large(len));
    }
    let mut body = output.body.take().ok_or("no body")?;
    let mut json = Vec::new();
    while let Some(chunk) = body.try_next().await.map_err(|e| e.to_string())? {
        json.extend_from_slice(&chunk);
        if json.len() as u64 > MAX_DOCUMENT_LEN {
            return Err(too_large(json.len() as u64));
        }
    }
    Pointer::from_json(&json).map_err(|e| e.to_string())
}

fn archive_response(response: S3Response<GetObjectOutput>, id: &str) -> Response<Body> {
    let S3Response { mut output, headers, .. } = response;
    let status = if output.content_range.is_some() { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
    let mut answer = Response::new(output.body.take().map_or_else(Body::empty, Body::from));
    *answer.status_mut() = status;
    let fields = [
        (header::CONTENT_TYPE, Some("application/gzip".to_owned())),
        (header::CONTENT_LENGTH, output.content_length.map(|n| n.to_string())),
        (header::CONTENT_RANGE, output.content_range),
        (header::ETAG, output.e_tag.map(|e| e.value().to_owned()).map(|e| format!("\"{e}\""))),
        (header::ACCEPT_RANGES, Some("bytes".to_owned())),
    ];
    for (name, value) in fields {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            answer.headers_mut().insert(name, value);
        }
    }
    if let Some(status) = headers.get("x-cache") {
        answer.headers_mut().insert("x-cache", status.clone());
    }
    if let Ok(id) = HeaderValue::from_str(id) {
        answer.headers_mut().insert("x-cachegate-snapshot", id);
    }
    answer
}

fn upstream_failure(tenant: &str, error: &s3s::S3Error) -> Response<Body> {
    warn!(tenant, error = %error, "snapshot route: upstream failed");
    plain(StatusCode::SERVICE_UNAVAILABLE, "the object store did not answer")
}

fn plain(status: StatusCode, message: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(format!("{message}\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_route_path_names_a_tenant() {
        assert_eq!(tenant_of("/snapshots/acme/current.tar.gz"), Some("acme"));
        for path in ["/snapshots//current.tar.gz", "/snapshots/a/b/current.tar.gz", "/snapshots/acme/x.tar.gz", "/b/k"]
        {
            assert_eq!(tenant_of(path), None, "{path}");
        }
    }

    #[test]
    fn signed_s3_requests_are_not_claimed() {
        let request = |auth: &str| {
            Request::builder().uri("/snapshots/acme/current.tar.gz").header("authorization", auth).body(()).unwrap()
        };
        assert!(bearer(&request("Bearer t0ken")).is_some());
        assert!(bearer(&request("AWS4-HMAC-SHA256 Credential=AK/20261122/us-east-1/s3/aws4_request")).is_none());
    }
}
