//! The canonical request and the string to sign, as S3 defines them for SigV4.

use std::borrow::Cow;
use std::fmt::Write as _;

use hmac::digest::Update;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// S3's canonical URI encoding of a path: every byte but `A-Za-z0-9-_.~/` as `%XX`.
pub fn uri_encode_path(path: &str) -> Cow<'_, str> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/');
    if path.bytes().all(plain) {
        return Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len() + 8);
    for &b in path.as_bytes() {
        if plain(b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    Cow::Owned(out)
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

/// The SHA-256 of the canonical request of `parts`, hashed as it is written (no string
/// is built). Header values are trimmed and their inner runs of whitespace collapsed to
/// one space.
pub fn canonical_request_hash<'a, H>(parts: RequestParts<'a, H>) -> [u8; 32]
where
    H: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut out = Hashing(Sha256::new());
    let _ = write!(out, "{}\n{}\n{}\n", parts.method, parts.canonical_uri, parts.canonical_query);
    for (name, value) in parts.headers {
        let _ = write!(out, "{name}:");
        let mut words = value.split_ascii_whitespace();
        if let Some(first) = words.next() {
            let _ = out.write_str(first);
            for word in words {
                let _ = write!(out, " {word}");
            }
        }
        let _ = out.write_char('\n');
    }
    let _ = write!(out, "\n{}\n{}", parts.signed_headers, parts.payload_hash);
    out.0.finalize().into()
}

/// The HMAC of the string to sign of a request made at `amz_date` (`YYYYMMDDTHHMMSSZ`)
/// in `scope`, keyed with that scope's signing key and fed as the string is written;
/// `finalize` gives the signature, `verify_slice` compares one in constant time.
pub fn string_to_sign_mac(
    signing_key: &[u8; 32],
    amz_date: &str,
    scope: &Scope<'_>,
    canonical_request_hash: &[u8; 32],
) -> Hmac<Sha256> {
    let mut hex = [0u8; 64];
    hex::encode_to_slice(canonical_request_hash, &mut hex).expect("64 hex digits for 32 bytes");
    let mut mac = Hashing(Hmac::<Sha256>::new_from_slice(signing_key).expect("HMAC takes keys of any length"));
    let _ = write!(mac, "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n");
    Mac::update(&mut mac.0, &hex);
    mac.0
}

/// Feeds what is written to a hash.
struct Hashing<D>(D);

impl<D: Update> std::fmt::Write for Hashing<D> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.update(s.as_bytes());
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_paths_like_s3() {
        assert_eq!(uri_encode_path("/b/a key+é~x.y"), "/b/a%20key%2B%C3%A9~x.y");
    }

    #[test]
    fn hashes_the_canonical_request_with_normalized_values() {
        let parts = RequestParts {
            method: "GET",
            canonical_uri: "/",
            canonical_query: "",
            headers: [("a", "  x   y\t z "), ("b", "")],
            signed_headers: "a;b",
            payload_hash: "UNSIGNED-PAYLOAD",
        };
        let expected = Sha256::digest("GET\n/\n\na:x y z\nb:\n\na;b\nUNSIGNED-PAYLOAD");
        assert_eq!(canonical_request_hash(parts), <[u8; 32]>::from(expected));
    }
}
