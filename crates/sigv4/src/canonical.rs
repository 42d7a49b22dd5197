//! The canonical request and the string to sign, as S3 defines them for SigV4.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

/// S3's canonical URI encoding of a path: every byte but `A-Za-z0-9-_.~/` as `%XX`.
pub fn uri_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The parts of a request that its signature covers. `headers` are the signed headers
/// in the order of `signed_headers` (their lower-case names joined by `;`).
pub struct RequestParts<'a, H> {
    /// The HTTP method.
    pub method: &'a str,
    /// The path, already encoded by [`uri_encode_path`].
    pub canonical_uri: &'a str,
    /// The query, already canonical (encoded, sorted); empty when there is none.
    pub canonical_query: &'a str,
    /// `(lower-case name, value as sent)` of each signed header.
    pub headers: H,
    /// The signed header names joined by `;`.
    pub signed_headers: &'a str,
    /// The `x-amz-content-sha256` value.
    pub payload_hash: &'a str,
}

/// The canonical request of `parts`. Header values are trimmed and their inner runs of
/// whitespace collapsed to one space.
pub fn canonical_request<'a, H>(parts: RequestParts<'a, H>) -> String
where
    H: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut out = String::with_capacity(256);
    let _ = write!(out, "{}\n{}\n{}\n", parts.method, parts.canonical_uri, parts.canonical_query);
    for (name, value) in parts.headers {
        out.push_str(name);
        out.push(':');
        push_normalized(&mut out, value);
        out.push('\n');
    }
    let _ = write!(out, "\n{}\n{}", parts.signed_headers, parts.payload_hash);
    out
}

/// The string to sign of a request made at `amz_date` (`YYYYMMDDTHHMMSSZ`) in the scope
/// `day/region/service/aws4_request`.
pub fn string_to_sign(amz_date: &str, scope: &Scope<'_>, canonical_request: &str) -> String {
    let digest = hex::encode(Sha256::digest(canonical_request.as_bytes()));
    format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{digest}")
}

/// A credential scope: the day (`YYYYMMDD`), region and service a signing key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope<'a> {
    /// `YYYYMMDD`.
    pub day: &'a str,
    /// The region, e.g. `us-east-1`.
    pub region: &'a str,
    /// The service, `s3` here.
    pub service: &'a str,
}

impl std::fmt::Display for Scope<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}/aws4_request", self.day, self.region, self.service)
    }
}

fn push_normalized(out: &mut String, value: &str) {
    let mut words = value.split_ascii_whitespace();
    if let Some(first) = words.next() {
        out.push_str(first);
        for word in words {
            out.push(' ');
            out.push_str(word);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_paths_like_s3() {
        assert_eq!(uri_encode_path("/b/a key+é~x.y"), "/b/a%20key%2B%C3%A9~x.y");
    }

    #[test]
    fn normalizes_header_values() {
        let parts = RequestParts {
            method: "GET",
            canonical_uri: "/",
            canonical_query: "",
            headers: [("a", "  x   y\t z "), ("b", "")],
            signed_headers: "a;b",
            payload_hash: "UNSIGNED-PAYLOAD",
        };
        assert_eq!(canonical_request(parts), "GET\n/\n\na:x y z\nb:\n\na;b\nUNSIGNED-PAYLOAD");
    }
}
