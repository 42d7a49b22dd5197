//! The `Authorization` header of a SigV4 header-signed request.

use crate::canonical::Scope;

/// `AWS4-HMAC-SHA256 Credential=AK/day/region/service/aws4_request, SignedHeaders=a;b, Signature=hex`,
/// parsed strictly: anything else is `None`, and left to a verifier that knows more forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderAuth<'a> {
    /// The access key.
    pub access_key: &'a str,
    /// The credential scope.
    pub scope: Scope<'a>,
    /// The signed header names joined by `;`: lower-case, sorted, each once.
    pub signed_headers: &'a str,
    /// The signature, 64 lower-case hex digits.
    pub signature: &'a str,
}

impl<'a> HeaderAuth<'a> {
    /// Parses an `Authorization` value.
    pub fn parse(value: &'a str) -> Option<Self> {
        let rest = value.strip_prefix("AWS4-HMAC-SHA256 Credential=")?;
        let (credential, rest) = rest.split_once(", SignedHeaders=")?;
        let (signed_headers, signature) = rest.split_once(", Signature=")?;
        let mut scope = credential.split('/');
        let (access_key, day, region, service) = (scope.next()?, scope.next()?, scope.next()?, scope.next()?);
        if scope.next()? != "aws4_request" || scope.next().is_some() {
            return None;
        }
        let well_formed = !access_key.is_empty()
            && day.len() == 8
            && day.bytes().all(|b| b.is_ascii_digit())
            && !region.is_empty()
            && !service.is_empty()
            && signature.len() == 64
            && signature.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            && names_are_canonical(signed_headers);
        well_formed.then_some(Self { access_key, scope: Scope { day, region, service }, signed_headers, signature })
    }
}

/// Lower-case header names, strictly ascending (so each once), none empty.
fn names_are_canonical(signed_headers: &str) -> bool {
    let mut previous = "";
    signed_headers.split(';').all(|name| {
        let ok = !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && name > previous;
        previous = name;
        ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNATURE: &str = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";

    fn header(signed_headers: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request, SignedHeaders={signed_headers}, Signature={SIGNATURE}"
        )
    }

    #[test]
    fn parses_what_sdks_send() {
        let value = header("host;range;x-amz-date");
        let auth = HeaderAuth::parse(&value).unwrap();
        assert_eq!(auth.access_key, "AKID");
        assert_eq!(auth.scope, Scope { day: "20130524", region: "us-east-1", service: "s3" });
        assert_eq!(auth.signed_headers, "host;range;x-amz-date");
        assert_eq!(auth.signature, SIGNATURE);
    }

    #[test]
    fn refuses_other_forms() {
        for signed_headers in ["range;host", "host;host", "host;;range", "Host", ""] {
            assert!(HeaderAuth::parse(&header(signed_headers)).is_none(), "{signed_headers}");
        }
        let cases = [
            format!(
                "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request,SignedHeaders=host, Signature={SIGNATURE}"
            ),
            format!(
                "AWS4-HMAC-SHA256 Credential=AKID/2013052/us-east-1/s3/aws4_request, SignedHeaders=host, Signature={SIGNATURE}"
            ),
            format!(
                "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws5_request, SignedHeaders=host, Signature={SIGNATURE}"
            ),
            format!(
                "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request/x, SignedHeaders=host, Signature={SIGNATURE}"
            ),
            format!(
                "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature={}",
                SIGNATURE.to_uppercase()
            ),
            "AWS AKID:c2ln".to_owned(),
        ];
        for value in cases {
            assert!(HeaderAuth::parse(&value).is_none(), "{value}");
        }
    }
}
