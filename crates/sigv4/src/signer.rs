//! Signing requests in their `Authorization` header.

use hmac::Mac;

use crate::SigningKeyCache;
use crate::canonical::{RequestParts, Scope, canonical_request_hash, string_to_sign_mac};

/// Signs requests for one credential, region and service.
pub struct Signer {
    access_key: String,
    region: String,
    service: String,
    keys: SigningKeyCache,
}

impl Signer {
    /// A signer for `service` (`s3`) in `region`.
    pub fn new(access_key: &str, secret_key: &str, region: &str, service: &str) -> Self {
        Self {
            access_key: access_key.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            keys: SigningKeyCache::new(secret_key),
        }
    }

    /// The `Authorization` header value of a request made at `amz_date`
    /// (`YYYYMMDDTHHMMSSZ`, also sent as `x-amz-date`). `headers` are the signed headers:
    /// lower-case names, sorted by name.
    pub fn authorization(
        &self,
        method: &str,
        canonical_uri: &str,
        canonical_query: &str,
        headers: &[(&str, &str)],
        payload_hash: &str,
        amz_date: &str,
    ) -> String {
        let scope = Scope { day: &amz_date[..8], region: &self.region, service: &self.service };
        let signed_headers = headers.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(";");
        let canonical_hash = canonical_request_hash(RequestParts {
            method,
            canonical_uri,
            canonical_query,
            headers: headers.iter().copied(),
            signed_headers: &signed_headers,
            payload_hash,
        });
        let mac = string_to_sign_mac(&self.keys.key(&scope), amz_date, &scope, &canonical_hash);
        let signature = hex::encode(mac.finalize().into_bytes());
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            self.access_key
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EMPTY_PAYLOAD_SHA256;

    /// "Example: GET Object" of the Amazon S3 SigV4 header-authentication documentation.
    #[test]
    fn get_object_matches_the_aws_s3_example() {
        let signer = Signer::new("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", "s3");
        let amz_date = "20130524T000000Z";
        let headers = [
            ("host", "examplebucket.s3.amazonaws.com"),
            ("range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_PAYLOAD_SHA256),
            ("x-amz-date", amz_date),
        ];
        let authorization = signer.authorization("GET", "/test.txt", "", &headers, EMPTY_PAYLOAD_SHA256, amz_date);
        assert_eq!(
            authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        // the cached key gives the same answer
        let again = signer.authorization("GET", "/test.txt", "", &headers, EMPTY_PAYLOAD_SHA256, amz_date);
        assert_eq!(again, authorization);
    }
}
