//! Fresh cache hits of plain signed GETs and HEADs, answered beside s3s.
//!
//! Most of a small hit's CPU went to s3s turning the request into a typed `GetObject`
//! and the typed answer back into headers, and to deriving the SigV4 signing key anew
//! for every request. This path answers the commonest request there is, a GET or HEAD
//! of one object signed in its `Authorization` header, with no query and no header
//! that could change the answer, when the cache holds it fresh. It verifies the
//! signature itself ([`cachegate_sigv4`], the signing key cached per key and day) and
//! writes the answer's headers from the cached metadata.
//!
//! It never refuses anything: whatever it does not accept, for whatever reason (another
//! form, a wrong signature, a stale or missing entry, a condition, an unsatisfiable
//! range), goes to s3s unchanged, which stays the one that answers every error.

use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{self, HeaderName};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use s3s::Body;
use s3s::dto::Range;

use cachegate_cache::{Consistency, EntryId, ObjectMeta};
use cachegate_sigv4::canonical::uri_encode_path;
use cachegate_sigv4::{HeaderSigned, SignedRequest};

use crate::byte_span::{content_range, requested_span};
use crate::cache_status::CacheStatus;
use crate::cached_body::entry_body;
use crate::gateway::CacheSetup;
use crate::{RequestContext, TenantRegistry};

/// Request headers that leave the answer to a plain GET or HEAD unchanged, besides the
/// signature's own; a request with any other header goes to s3s.
const NEUTRAL_HEADERS: &[&str] = &[
    "accept",
    "accept-encoding",
    "amz-sdk-invocation-id",
    "amz-sdk-request",
    "aws-sdk-invocation-id",
    "aws-sdk-retry",
    "connection",
    "content-length",
    "host",
    "keep-alive",
    "user-agent",
    "x-amz-user-agent",
];

static GET_OBJECT: LazyLock<Arc<str>> = LazyLock::new(|| "GetObject".into());
static HEAD_OBJECT: LazyLock<Arc<str>> = LazyLock::new(|| "HeadObject".into());

/// Answers fresh hits of plain signed GETs and HEADs (see the module documentation).
#[derive(Clone)]
pub(crate) struct FastHits {
    pub(crate) registry: Arc<TenantRegistry>,
    pub(crate) cache: CacheSetup,
    pub(crate) max_clock_skew: Duration,
    /// Hosts that name no bucket when virtual-hosted-style requests are accepted; empty
    /// when every request is path-style.
    pub(crate) path_style_hosts: Vec<String>,
}

/// What the answer depends on, from a request of the accepted form.
struct PlainRequest<'a> {
    head: bool,
    range: Option<Range>,
    signed: HeaderSigned<'a>,
}

impl FastHits {
    /// The answer to a fresh hit, or `None` to let s3s answer the request.
    pub(crate) async fn answer(&self, parts: &Parts, context: &RequestContext) -> Option<http::Response<Body>> {
        let request = self.plain_request(parts)?;
        if !request.signed.is_timely(SystemTime::now(), self.max_clock_skew) {
            return None;
        }
        let path = urlencoding::decode(parts.uri.path()).ok()?;
        // names are not validated here: only an object whose request s3s accepted was ever
        // cached, and nothing else is found under them
        let (bucket, key) = path.strip_prefix('/')?.split_once('/')?;
        let auth = &request.signed.auth;
        let (signing_keys, tenant) = self.registry.key_pair(auth.access_key)?;
        // configuration only, so decided before the signature: in `revalidate` mode (the
        // default) every hit asks the upstream, and s3s verifies it
        let mode = tenant.cache.mode_for(bucket, self.cache.default_mode)?;
        if key.is_empty() || mode == Consistency::Revalidate || !tenant.may_use(bucket) {
            return None;
        }
        let signed_request = SignedRequest {
            method: parts.method.as_str(),
            canonical_uri: &uri_encode_path(&path),
            canonical_query: parts.uri.query().unwrap_or_default(),
            headers: &parts.headers,
        };
        if !request.signed.verify(&signing_keys.key(&auth.scope), &signed_request) {
            return None;
        }
        let entry = self.cache.store.entry(EntryId::of(&tenant.upstream.name, bucket, key, None))?;
        if !mode.trusts(&entry) {
            return None;
        }
        let meta = entry.object();
        let span = requested_span(request.range.as_ref(), meta.size).ok()?;
        let mut response = http::Response::new(Body::empty());
        *response.headers_mut() = entry.derived(|entry| object_headers(entry.object()))?.clone()?;
        if request.head {
            for (algorithm, value) in &meta.checksums {
                insert_prefixed(response.headers_mut(), "x-amz-checksum-", algorithm, value)?;
            }
        }
        if request.range.is_some() {
            let range = content_range(&span, meta.size);
            response.headers_mut().insert(header::CONTENT_RANGE, HeaderValue::from_str(&range).ok()?);
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        }
        let length = span.end - span.start;
        response.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        let operation = if request.head {
            &HEAD_OBJECT
        } else {
            *response.body_mut() = Body::from(entry_body(&self.cache.store, &entry, span).await?);
            &GET_OBJECT
        };
        context.authorize(&tenant.name, Arc::clone(operation));
        let body_bytes = (!request.head).then(|| i64::try_from(length).unwrap_or(i64::MAX));
        CacheStatus::Hit.mark(response.headers_mut(), body_bytes);
        Some(response)
    }

    /// `parts` when it is a GET or HEAD of the accepted form, signature unchecked.
    fn plain_request<'a>(&self, parts: &'a Parts) -> Option<PlainRequest<'a>> {
        let head = match parts.method {
            Method::GET => false,
            Method::HEAD => true,
            _ => return None,
        };
        // the AWS SDKs name the operation in the query of a GET (`x-id=GetObject`)
        if parts.uri.query().is_some_and(|q| head || q != "x-id=GetObject") {
            return None;
        }
        let mut range = None;
        for (name, value) in &parts.headers {
            match name.as_str() {
                "range" if !head && range.is_none() => range = Some(Range::parse(value.to_str().ok()?).ok()?),
                "content-length" if value != "0" => return None,
                "authorization" | "x-amz-date" | "x-amz-content-sha256" => {}
                name if NEUTRAL_HEADERS.contains(&name) => {}
                _ => return None,
            }
        }
        if !self.path_style_hosts.is_empty() {
            let host = parts.headers.get(header::HOST)?.to_str().ok()?;
            if !self.path_style_hosts.iter().any(|h| h == host) {
                return None;
            }
        }
        let signed = HeaderSigned::parse(&parts.headers)?;
        // s3s refuses other services (NotImplemented); `sts` asks for no object
        (signed.auth.scope.service == "s3").then_some(PlainRequest { head, range, signed })
    }
}

/// The headers of an answer about the object `meta` describes, as s3s writes them from
/// the output `ops/get_object.rs` makes, without its length or range. (A HEAD adds the
/// whole object's checksums, as `ops/head_object.rs` does; a GET names them only when
/// asked, which a request that comes here never does.) `None` when one would need an
/// encoding s3s applies (RFC 2047 for non-ASCII user metadata). Derived once per entry.
fn object_headers(meta: &ObjectMeta) -> Option<HeaderMap> {
    let mut headers = HeaderMap::with_capacity(8 + meta.metadata.len());
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::ETAG, HeaderValue::from_str(&meta.etag).ok()?);
    let text = [
        (header::CACHE_CONTROL, &meta.cache_control),
        (header::CONTENT_DISPOSITION, &meta.content_disposition),
        (header::CONTENT_ENCODING, &meta.content_encoding),
        (header::CONTENT_LANGUAGE, &meta.content_language),
        (header::CONTENT_TYPE, &meta.content_type),
        (HeaderName::from_static("x-amz-storage-class"), &meta.storage_class),
        (HeaderName::from_static("x-amz-version-id"), &meta.version_id),
    ];
    for (name, value) in text {
        if let Some(value) = value {
            headers.insert(name, HeaderValue::from_str(value).ok()?);
        }
    }
    for (name, seconds) in [(header::EXPIRES, meta.expires), (header::LAST_MODIFIED, meta.last_modified)] {
        if let Some(seconds) = seconds {
            let time = UNIX_EPOCH.checked_add(Duration::from_secs(u64::try_from(seconds).ok()?))?;
            headers.insert(name, HeaderValue::from_str(&httpdate::fmt_http_date(time)).ok()?);
        }
    }
    for (name, value) in &meta.metadata {
        if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return None;
        }
        insert_prefixed(&mut headers, "x-amz-meta-", name, value)?;
    }
    Some(headers)
}

fn insert_prefixed(headers: &mut HeaderMap, prefix: &str, name: &str, value: &str) -> Option<()> {
    let name = HeaderName::from_bytes(format!("{prefix}{name}").as_bytes()).ok()?;
    headers.insert(name, HeaderValue::from_str(value).ok()?);
    Some(())
}

#[cfg(test)]
mod tests;
