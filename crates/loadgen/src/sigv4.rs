//! A small AWS Signature Version 4 signer for header-authenticated requests.
//!
//! Only what the load generator needs: the caller passes the canonical URI and query,
//! the headers to sign (lower-case names, trimmed values, sorted by name) and the
//! payload hash. The signing key is derived once per day and reused.

use std::fmt::Write as _;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// `x-amz-content-sha256` of a request whose body is not hashed.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Signs requests for one credential, region and service.
#[derive(Clone)]
pub struct Signer {
    access_key: String,
    secret_key: String,
    region: String,
    service: String,
    /// The day (`YYYYMMDD`) and signing key last derived.
    key_cache: Option<(String, [u8; 32])>,
}

impl Signer {
    /// A signer for `service` (`s3`) in `region`.
    pub fn new(access_key: &str, secret_key: &str, region: &str, service: &str) -> Self {
        Self {
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            key_cache: None,
        }
    }

    /// The signing key of `day` (`YYYYMMDD`), derived at most once per day.
    pub fn signing_key(&mut self, day: &str) -> [u8; 32] {
        if let Some((cached_day, key)) = &self.key_cache
            && cached_day == day
        {
            return *key;
        }
        let key = derive_signing_key(&self.secret_key, day, &self.region, &self.service);
        self.key_cache = Some((day.to_owned(), key));
        key
    }

    /// The `Authorization` header value of a request made at `amz_date`
    /// (`YYYYMMDDTHHMMSSZ`, also sent as `x-amz-date`). `headers` are the signed headers:
    /// lower-case names, trimmed values, sorted by name.
    pub fn authorization(
        &mut self,
        method: &str,
        canonical_uri: &str,
        canonical_query: &str,
        headers: &[(&str, &str)],
        payload_hash: &str,
        amz_date: &str,
    ) -> String {
        let day = &amz_date[..8];
        let mut canonical = String::with_capacity(256);
        let _ = write!(canonical, "{method}\n{canonical_uri}\n{canonical_query}\n");
        let mut signed_headers = String::with_capacity(64);
        for (name, value) in headers {
            let _ = writeln!(canonical, "{name}:{value}");
            if !signed_headers.is_empty() {
                signed_headers.push(';');
            }
            signed_headers.push_str(name);
        }
        let _ = write!(canonical, "\n{signed_headers}\n{payload_hash}");
        let scope = format!("{day}/{}/{}/aws4_request", self.region, self.service);
        let string_to_sign =
            format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical.as_bytes())));
        let signature = hex::encode(hmac_sha256(&self.signing_key(day), string_to_sign.as_bytes()));
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            self.access_key
        )
    }
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, day), region), service), "aws4_request")`.
pub fn derive_signing_key(secret_key: &str, day: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac_sha256(format!("AWS4{secret_key}").as_bytes(), day.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// S3's canonical URI encoding of a path: every byte but `A-Za-z0-9-_.~/` as `%XX`.
pub fn uri_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `YYYYMMDDTHHMMSSZ` of a Unix time.
pub fn amz_date(unix_seconds: u64) -> String {
    let t = i64::try_from(unix_seconds)
        .ok()
        .and_then(|secs| time::OffsetDateTime::from_unix_timestamp(secs).ok())
        .expect("a time before the year 10000");
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// The signing-key example of the AWS Signature Version 4 documentation.
    #[test]
    fn signing_key_matches_the_aws_example() {
        let key = derive_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam");
        assert_eq!(hex::encode(key), "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
    }

    /// "Example: GET Object" of the Amazon S3 SigV4 header-authentication documentation.
    #[test]
    fn get_object_matches_the_aws_s3_example() {
        let mut signer =
            Signer::new("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", "s3");
        let amz_date = "20130524T000000Z";
        let headers = [
            ("host", "examplebucket.s3.amazonaws.com"),
            ("range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", amz_date),
        ];
        let authorization = signer.authorization("GET", "/test.txt", "", &headers, EMPTY_SHA256, amz_date);
        assert_eq!(
            authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        // the cached key gives the same answer
        let again = signer.authorization("GET", "/test.txt", "", &headers, EMPTY_SHA256, amz_date);
        assert_eq!(again, authorization);
    }

    #[test]
    fn dates_and_paths() {
        assert_eq!(amz_date(1_369_353_600), "20130524T000000Z");
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(951_827_696), "20000229T123456Z");
        assert_eq!(amz_date(4_102_444_799), "20991231T235959Z");
        assert_eq!(uri_encode_path("/b/a key+é~x.y"), "/b/a%20key%2B%C3%A9~x.y");
    }
}
