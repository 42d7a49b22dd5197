use std::future::Future;
use std::sync::Mutex;

use aws_sdk_s3::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
};
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use http::{HeaderMap, HeaderName, HeaderValue, Uri};

tokio::task_local! {
    static EXCHANGE: Exchange;
}

/// What the typed S3 model cannot carry between a client and the upstream: headers and
/// query parameters it does not know (RGW's `x-rgw-*`, `x-amz-grant-write` on PutObject,
/// `allow-unordered`, `x-amz-tagging-count` on HEAD, …).
#[derive(Debug, Default)]
pub struct Exchange {
    operation: String,
    request_headers: Vec<(HeaderName, HeaderValue)>,
    request_query: Vec<(String, Option<String>)>,
    response_headers: Mutex<HeaderMap>,
}

impl Exchange {
    /// Whether the SDK call configured by `cfg` is the client's own operation.
    fn concerns(&self, cfg: &ConfigBag) -> bool {
        cfg.load::<Metadata>().is_some_and(|m| m.name() == self.operation)
    }

    /// Runs `call` in the scope of this exchange and returns, with its output, the
    /// upstream's extra response headers.
    pub async fn run<F: Future>(self, call: F) -> (F::Output, HeaderMap) {
        EXCHANGE
            .scope(self, async {
                let output = call.await;
                let headers = EXCHANGE.with(|e| {
                    std::mem::take(&mut *e.response_headers.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
                });
                (output, headers)
            })
            .await
    }
}

/// The exchange for one client request of `operation` (`GetObject`, …): its extra
/// `x-amz-*`/`x-rgw-*` headers and query parameters reach the upstream calls of that same
/// operation made under [`Exchange::run`] (not the gateway's own helper calls, such as
/// the HEAD after a CompleteMultipartUpload), and their extra response headers come back.
pub fn exchange(operation: &str, headers: &HeaderMap, uri: &Uri) -> Exchange {
    Exchange {
        operation: operation.to_owned(),
        request_headers: headers
            .iter()
            .filter(|(name, _)| forwards_request_header(name.as_str()))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect(),
        request_query: uri
            .query()
            .into_iter()
            .flat_map(|q| q.split('&'))
            .filter(|pair| !pair.is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
                None => (pair.to_owned(), None),
            })
            .filter(|(name, _)| forwards_query(name))
            .collect(),
        response_headers: Mutex::new(HeaderMap::new()),
    }
}

/// Client headers to pass on: extensions and `Origin` (for the bucket's CORS rules);
/// signing, framing and checksum headers belong to the client's own request and are
/// recomputed or verified by the gateway.
fn forwards_request_header(name: &str) -> bool {
    let extension = name.starts_with("x-amz-") || name.starts_with("x-rgw-") || name == "origin";
    let own = matches!(
        name,
        "x-amz-date"
            | "x-amz-content-sha256"
            | "x-amz-security-token"
            | "x-amz-decoded-content-length"
            | "x-amz-trailer"
            | "x-amz-user-agent"
    ) || name.starts_with("x-amz-checksum-")
        || name.starts_with("x-amz-sdk-");
    extension && !own
}

/// Query parameters to pass on: all but the presigned-URL signature and the client's
/// `response-*` overrides (applied by the gateway; a fill must store the object's own).
fn forwards_query(name: &str) -> bool {
    !(name.starts_with("X-Amz-")
        || name.starts_with("response-")
        || matches!(name, "AWSAccessKeyId" | "Signature" | "Expires" | "x-id"))
}

/// Upstream response headers to pass back: extensions and CORS headers the typed answer
/// lacks, except
/// the upstream's request ids (the client gets the gateway's) and what s3s already
/// encodes from the typed answer (user metadata, checksums).
fn returns_response_header(name: &str) -> bool {
    let typed = name.starts_with("x-amz-meta-") || name.starts_with("x-amz-checksum-");
    let extension = name.starts_with("x-amz-") || name.starts_with("x-rgw-") || name.starts_with("access-control-");
    extension && !typed && !matches!(name, "x-amz-request-id" | "x-amz-id-2")
}

/// The interceptor that applies the [`Exchange`] of the calling task, if any.
#[derive(Debug)]
pub(crate) struct Passthrough;

impl Intercept for Passthrough {
    fn name(&self) -> &'static str {
        "Passthrough"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let _ = EXCHANGE.try_with(|exchange| {
            if !exchange.concerns(cfg) {
                return;
            }
            for (name, value) in &exchange.request_headers {
                if !request.headers().contains_key(name.as_str()) {
                    request
                        .headers_mut()
                        .insert(name.as_str().to_owned(), value.to_str().unwrap_or_default().to_owned());
                }
            }
            let uri = request.uri().to_owned();
            let present: Vec<&str> = uri
                .split_once('?')
                .map(|(_, q)| q.split('&').map(|p| p.split('=').next().unwrap_or(p)).collect())
                .unwrap_or_default();
            let missing: Vec<String> = exchange
                .request_query
                .iter()
                .filter(|(name, _)| !present.contains(&name.as_str()))
                .map(|(name, value)| value.as_ref().map_or_else(|| name.clone(), |v| format!("{name}={v}")))
                .collect();
            if !missing.is_empty() {
                let separator = if uri.contains('?') { '&' } else { '?' };
                let _ = request.set_uri(format!("{uri}{separator}{}", missing.join("&")));
            }
        });
        Ok(())
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let _ = EXCHANGE.try_with(|exchange| {
            if !exchange.concerns(cfg) {
                return;
            }
            let mut back = exchange.response_headers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            for (name, value) in context.response().headers() {
                if returns_response_header(name)
                    && let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value))
                {
                    back.insert(name, value);
                }
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_extensions_but_not_signing_material() {
        assert!(forwards_request_header("x-amz-grant-write"));
        assert!(forwards_request_header("x-rgw-anything"));
        for own in ["x-amz-date", "x-amz-content-sha256", "x-amz-checksum-crc32", "authorization", "host"] {
            assert!(!forwards_request_header(own), "{own}");
        }
        assert!(forwards_query("allow-unordered"));
        assert!(!forwards_query("X-Amz-Signature"));
        assert!(!forwards_query("response-content-type"));
        assert!(forwards_request_header("origin"));
        assert!(returns_response_header("x-rgw-object-count"));
        assert!(returns_response_header("access-control-allow-origin"));
        assert!(!returns_response_header("x-amz-request-id"));
    }
}
