//! Verifying a header-signed request without a body.

use std::time::{Duration, SystemTime};

use hmac::Mac;
use http::HeaderMap;

use crate::authorization::HeaderAuth;
use crate::canonical::{RequestParts, canonical_request_hash, string_to_sign_mac};
use crate::amz_date::AmzDate;
use crate::{EMPTY_PAYLOAD_SHA256, UNSIGNED_PAYLOAD};

/// The most signed headers a request may have here (SDKs sign four to eight).
const MAX_SIGNED_HEADERS: usize = 32;

/// A request that claims a SigV4 header signature over no body: its `Authorization`,
/// `x-amz-date` and `x-amz-content-sha256`, each sent once and well formed, the date
/// within the credential's day, the payload hash that of an empty or unsigned body.
#[derive(Debug, Clone)]
pub struct HeaderSigned<'a> {
    /// The parsed `Authorization` header.
    pub auth: HeaderAuth<'a>,
    date: AmzDate<'a>,
    payload_hash: &'a str,
}

/// What [`HeaderSigned::verify`] checks the signature against, besides the headers.
pub struct SignedRequest<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The path, encoded by [`crate::canonical::uri_encode_path`].
    pub canonical_uri: &'a str,
    /// The canonical query; empty when there is none.
    pub canonical_query: &'a str,
    /// The request's headers.
    pub headers: &'a HeaderMap,
}

impl<'a> HeaderSigned<'a> {
    /// The signature claims of `headers`, or `None` when they are not of this form.
    pub fn parse(headers: &'a HeaderMap) -> Option<Self> {
        let auth = HeaderAuth::parse(single(headers, "authorization")?)?;
        let date = AmzDate::parse(single(headers, "x-amz-date")?)?;
        let payload_hash = single(headers, "x-amz-content-sha256")?;
        let signs_host = auth.signed_headers.split(';').any(|name| name == "host");
        let form = date.day() == auth.scope.day
            && signs_host
            && (payload_hash == UNSIGNED_PAYLOAD || payload_hash == EMPTY_PAYLOAD_SHA256);
        form.then_some(Self { auth, date, payload_hash })
    }

    /// Whether the request was signed within `max_skew` of `now`, either way.
    pub fn is_timely(&self, now: SystemTime, max_skew: Duration) -> bool {
        let skew = now.duration_since(self.date.time()).unwrap_or_else(|early| early.duration());
        skew <= max_skew
    }

    /// Whether the signature is that of `request` under `signing_key` (the key of this
    /// request's scope), compared in constant time.
    pub fn verify(&self, signing_key: &[u8; 32], request: &SignedRequest<'_>) -> bool {
        let mut signed = [("", ""); MAX_SIGNED_HEADERS];
        let mut count = 0;
        for name in self.auth.signed_headers.split(';') {
            let (Some(slot), Some(value)) = (signed.get_mut(count), single(request.headers, name)) else {
                return false;
            };
            *slot = (name, value);
            count += 1;
        }
        let canonical_hash = canonical_request_hash(RequestParts {
            method: request.method,
            canonical_uri: request.canonical_uri,
            canonical_query: request.canonical_query,
            headers: signed[..count].iter().copied(),
            signed_headers: self.auth.signed_headers,
            payload_hash: self.payload_hash,
        });
        let mut expected = [0u8; 32];
        if hex::decode_to_slice(self.auth.signature, &mut expected).is_err() {
            return false;
        }
        let mac = string_to_sign_mac(signing_key, self.date.as_str(), &self.auth.scope, &canonical_hash);
        mac.verify_slice(&expected).is_ok()
    }
}

/// The value of a header sent exactly once, as text.
fn single<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    values.next().is_none().then(|| value.to_str().ok())?
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::{SigningKeyCache, canonical::Scope};

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const SIGNATURE: &str = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
    /// 2013-05-24T00:00:00Z
    const SIGNED_AT: u64 = 1_369_353_600;

    /// "Example: GET Object" of the Amazon S3 SigV4 header-authentication documentation.
    fn example(signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature={signature}"
        );
        headers.insert("authorization", authorization.parse().unwrap());
        headers.insert("host", "examplebucket.s3.amazonaws.com".parse().unwrap());
        headers.insert("range", "bytes=0-9".parse().unwrap());
        headers.insert("x-amz-content-sha256", EMPTY_PAYLOAD_SHA256.parse().unwrap());
        headers.insert("x-amz-date", "20130524T000000Z".parse().unwrap());
        headers
    }

    fn verifies(headers: &HeaderMap, method: &str, path: &str) -> bool {
        let Some(signed) = HeaderSigned::parse(headers) else { return false };
        let key = SigningKeyCache::new(SECRET).key(&signed.auth.scope);
        let request = SignedRequest { method, canonical_uri: path, canonical_query: "", headers };
        signed.verify(&key, &request)
    }

    #[test]
    fn accepts_the_aws_example() {
        let headers = example(SIGNATURE);
        assert!(verifies(&headers, "GET", "/test.txt"));
        let signed = HeaderSigned::parse(&headers).unwrap();
        assert_eq!(signed.auth.scope, Scope { day: "20130524", region: "us-east-1", service: "s3" });
        let at = |seconds: u64| UNIX_EPOCH + Duration::from_secs(seconds);
        let limit = Duration::from_secs(900);
        assert!(signed.is_timely(at(SIGNED_AT + 900), limit));
        assert!(signed.is_timely(at(SIGNED_AT - 900), limit));
        assert!(!signed.is_timely(at(SIGNED_AT + 901), limit));
        assert!(!signed.is_timely(at(SIGNED_AT - 901), limit));
    }

    #[test]
    fn refuses_anything_the_signature_does_not_cover() {
        let wrong = format!("{}0", &SIGNATURE[..63]);
        assert!(!verifies(&example(&wrong), "GET", "/test.txt"));
        assert!(!verifies(&example(SIGNATURE), "HEAD", "/test.txt"));
        assert!(!verifies(&example(SIGNATURE), "GET", "/test.txt2"));
        let mut other_range = example(SIGNATURE);
        other_range.insert("range", "bytes=0-10".parse().unwrap());
        assert!(!verifies(&other_range, "GET", "/test.txt"));
        let mut twice = example(SIGNATURE);
        twice.append("range", "bytes=0-9".parse().unwrap());
        assert!(!verifies(&twice, "GET", "/test.txt"));
        let mut without_range = example(SIGNATURE);
        without_range.remove("range");
        assert!(!verifies(&without_range, "GET", "/test.txt"));
    }

    #[test]
    fn parses_only_its_own_form() {
        let mut other_day = example(SIGNATURE);
        other_day.insert("x-amz-date", "20130525T000000Z".parse().unwrap());
        assert!(HeaderSigned::parse(&other_day).is_none());
        let mut streaming = example(SIGNATURE);
        streaming.insert("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD".parse().unwrap());
        assert!(HeaderSigned::parse(&streaming).is_none());
        let mut no_date = example(SIGNATURE);
        no_date.remove("x-amz-date");
        assert!(HeaderSigned::parse(&no_date).is_none());
    }
}
