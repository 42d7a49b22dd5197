use http::{Method, Request, Uri};
use s3s::Body;

/// A second form of a SigV2 request that botocore may have signed instead.
///
/// botocore (boto3, awscli with `signature_version = s3`) sends a path-style bucket
/// request as `/bucket?…` but signs the resource `/bucket/`, as AWS accepts; s3s (and
/// RGW 16.2) verify against the path as sent. When such a request fails its signature
/// check, it is verified once more with the path it was signed with. Only bodiless
/// bucket-level requests qualify, so nothing has been read from the client.
pub(crate) struct SlashVariant {
    method: Method,
    uri: Uri,
    version: http::Version,
    headers: http::HeaderMap,
}

impl SlashVariant {
    /// The variant of a request with these parts, when it may need one.
    pub(crate) fn of(parts: &http::request::Parts) -> Option<Self> {
        let sigv2 = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("AWS "));
        let bodiless = matches!(parts.method, Method::GET | Method::HEAD | Method::DELETE)
            && parts.headers.get(http::header::CONTENT_LENGTH).is_none_or(|v| v == "0");
        let path = parts.uri.path();
        let bucket_only = path.len() > 1 && !path[1..].contains('/');
        if !(sigv2 && bodiless && bucket_only) {
            return None;
        }
        let query = parts.uri.query().map_or(String::new(), |q| format!("?{q}"));
        let uri = format!("{path}/{query}").parse().ok()?;
        Some(Self { method: parts.method.clone(), uri, version: parts.version, headers: parts.headers.clone() })
    }

    /// Whether `response` is the signature failure this variant may cure.
    pub(crate) fn applies_to(response: &http::Response<Body>) -> bool {
        response.status() == http::StatusCode::FORBIDDEN
            && response
                .body()
                .bytes()
                .is_some_and(|xml| xml.windows(30).any(|w| w == b"<Code>SignatureDoesNotMatch</C"))
    }

    /// The request to verify instead, carrying `extensions`.
    pub(crate) fn into_request(self, extensions: http::Extensions) -> Request<Body> {
        let mut request = Request::new(Body::empty());
        *request.method_mut() = self.method;
        *request.uri_mut() = self.uri;
        *request.version_mut() = self.version;
        *request.headers_mut() = self.headers;
        *request.extensions_mut() = extensions;
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: Method, uri: &str, auth: &str) -> http::request::Parts {
        let request = Request::builder().method(method).uri(uri).header("authorization", auth).body(()).unwrap();
        request.into_parts().0
    }

    #[test]
    fn only_bodiless_sigv2_bucket_requests_qualify() {
        let variant = SlashVariant::of(&parts(Method::GET, "/bucket?prefix=a", "AWS k:s")).unwrap();
        assert_eq!(variant.uri, "/bucket/?prefix=a");
        assert!(SlashVariant::of(&parts(Method::GET, "/bucket/key", "AWS k:s")).is_none());
        assert!(SlashVariant::of(&parts(Method::PUT, "/bucket", "AWS k:s")).is_none());
        assert!(SlashVariant::of(&parts(Method::GET, "/bucket", "AWS4-HMAC-SHA256 Credential=x")).is_none());
        assert!(SlashVariant::of(&parts(Method::GET, "/", "AWS k:s")).is_none());
    }
}
