use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use s3s::checksum::ChecksumHasher;
use s3s::crypto::{Checksum as _, Crc32, Crc32c, Crc64Nvme, Sha1, Sha256};
use s3s::dto::{Checksum, PutObjectInput, StreamingBlob, UploadPartInput};
use s3s::stream::{ByteStream, RemainingLength};
use s3s::{S3Error, S3ErrorCode, S3Request, StdError, TrailingHeaders};

/// An upload whose body comes from the client: PutObject and UploadPart.
pub(crate) trait ClientUpload {
    /// The body, to be wrapped before it is forwarded.
    fn body_mut(&mut self) -> &mut Option<StreamingBlob>;
    /// The `x-amz-checksum-*` values the client sent as headers.
    fn declared_checksums(&self) -> Checksum;
    /// Drops `aws-chunked` from `Content-Encoding`: it describes the client's framing,
    /// which s3s has already decoded, not the object.
    fn strip_chunked_encoding(&mut self) {}
}

/// Implements [`ClientUpload`] for an input type with `body` and `checksum_*` fields,
/// plus any further methods given.
macro_rules! client_upload {
    ($input:ty $(, $extra:item)*) => {
        impl ClientUpload for $input {
            fn body_mut(&mut self) -> &mut Option<StreamingBlob> {
                &mut self.body
            }

            fn declared_checksums(&self) -> Checksum {
                checksums([
                    &self.checksum_crc32,
                    &self.checksum_crc32c,
                    &self.checksum_crc64nvme,
                    &self.checksum_sha1,
                    &self.checksum_sha256,
                ])
            }

            $($extra)*
        }
    };
}

client_upload!(UploadPartInput);
client_upload!(
    PutObjectInput,
    fn strip_chunked_encoding(&mut self) {
        self.content_encoding = self.content_encoding.take().and_then(|encoding| {
            let rest: Vec<&str> =
                encoding.split(',').map(str::trim).filter(|e| !e.eq_ignore_ascii_case("aws-chunked")).collect();
            (!rest.is_empty()).then(|| rest.join(","))
        });
    }
);

/// A [`Checksum`] from the five `x-amz-checksum-*` values, in the order of [`ALGORITHMS`].
fn checksums([crc32, crc32c, crc64nvme, sha1, sha256]: [&Option<String>; 5]) -> Checksum {
    Checksum {
        checksum_crc32: crc32.clone(),
        checksum_crc32c: crc32c.clone(),
        checksum_crc64nvme: crc64nvme.clone(),
        checksum_sha1: sha1.clone(),
        checksum_sha256: sha256.clone(),
        ..Checksum::default()
    }
}

/// Verifies a client's upload body on its way upstream and remembers why it failed.
///
/// s3s checks payload hashes and chunk signatures as the body streams; the gateway adds
/// the `x-amz-checksum-*` the client declared (as header or trailer), which s3s only
/// parses. When a check fails, the last chunk is withheld, so the upstream receives
/// less than the announced length and stores nothing. The failure surfaces in the SDK as
/// a generic dispatch error, which [`BodyWatch::client_error`] turns back into the
/// client's 4xx.
#[derive(Debug, Clone, Default)]
pub(crate) struct BodyWatch {
    failure: Arc<OnceLock<String>>,
}

impl BodyWatch {
    /// Prepares `req` for forwarding: wraps its body in the verifying stream.
    pub(crate) fn attach<T: ClientUpload>(req: &mut S3Request<T>) -> Self {
        let watch = Self::default();
        let announced: Vec<String> = req
            .headers
            .get_all("x-amz-trailer")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|name| name.trim().to_ascii_lowercase())
            .filter(|name| name.starts_with("x-amz-checksum-"))
            .collect();
        let expected =
            Expected { declared: req.input.declared_checksums(), announced, trailers: req.trailing_headers.take() };
        req.input.strip_chunked_encoding();
        let body = req.input.body_mut();
        if let Some(inner) = body.take() {
            let hasher = expected.hasher();
            *body = Some(StreamingBlob::new(VerifiedBody {
                inner,
                held: None,
                hasher,
                expected,
                finished: false,
                failure: Arc::clone(&watch.failure),
            }));
        }
        watch
    }

    /// The client's error, if its body failed.
    pub(crate) fn client_error(&self) -> Option<S3Error> {
        self.failure.get().map(|reason| classify(reason))
    }
}

/// Maps a body failure to the S3 error a client expects.
fn classify(reason: &str) -> S3Error {
    let (code, status, message) = if reason.contains("Sha256Mismatch") {
        (
            "XAmzContentSHA256Mismatch",
            400,
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
    } else if reason.contains("SignatureMismatch") {
        ("SignatureDoesNotMatch", 403, "A chunk signature of the streamed body does not match.")
    } else if reason.contains(CHECKSUM_MISMATCH) {
        ("BadDigest", 400, "The x-amz-checksum you specified did not match the calculated checksum.")
    } else {
        ("IncompleteBody", 400, "The request body ended before its declared length or was malformed.")
    };
    let mut err = S3Error::with_message(S3ErrorCode::Custom(code.into()), message);
    err.set_status_code(http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_REQUEST));
    err
}

const CHECKSUM_MISMATCH: &str = "ChecksumMismatch";

/// The checksums a body must match: declared in headers, or announced by
/// `x-amz-trailer` and delivered in the trailers once the body is read.
struct Expected {
    declared: Checksum,
    announced: Vec<String>,
    trailers: Option<TrailingHeaders>,
}

/// One S3 checksum algorithm: its header name, its field of [`Checksum`], and how to
/// switch it on in a [`ChecksumHasher`].
struct Algorithm {
    name: &'static str,
    field: fn(&Checksum) -> &Option<String>,
    enable: fn(&mut ChecksumHasher),
}

const ALGORITHMS: [Algorithm; 5] = [
    Algorithm { name: "x-amz-checksum-crc32", field: |c| &c.checksum_crc32, enable: |h| h.crc32 = Some(Crc32::new()) },
    Algorithm {
        name: "x-amz-checksum-crc32c",
        field: |c| &c.checksum_crc32c,
        enable: |h| h.crc32c = Some(Crc32c::new()),
    },
    Algorithm {
        name: "x-amz-checksum-crc64nvme",
        field: |c| &c.checksum_crc64nvme,
        enable: |h| h.crc64nvme = Some(Crc64Nvme::new()),
    },
    Algorithm { name: "x-amz-checksum-sha1", field: |c| &c.checksum_sha1, enable: |h| h.sha1 = Some(Sha1::new()) },
    Algorithm {
        name: "x-amz-checksum-sha256",
        field: |c| &c.checksum_sha256,
        enable: |h| h.sha256 = Some(Sha256::new()),
    },
];

impl Expected {
    fn wants(&self, algorithm: &Algorithm) -> bool {
        (algorithm.field)(&self.declared).is_some() || self.announced.iter().any(|a| a == algorithm.name)
    }

    /// A hasher for the algorithms to verify, or `None` when there are none.
    fn hasher(&self) -> Option<ChecksumHasher> {
        let mut hasher = ChecksumHasher::default();
        let mut any = false;
        for algorithm in ALGORITHMS.iter().filter(|a| self.wants(a)) {
            (algorithm.enable)(&mut hasher);
            any = true;
        }
        any.then_some(hasher)
    }

    /// Compares what was computed with what the client declared or sent as trailers.
    fn verify(&self, computed: &Checksum) -> Result<(), String> {
        let trailers = self.trailers.as_ref().and_then(TrailingHeaders::take);
        for algorithm in ALGORITHMS.iter().filter(|a| self.wants(a)) {
            let (name, field) = (algorithm.name, algorithm.field);
            let trailer = trailers.as_ref().and_then(|t| t.get(name)).and_then(|v| v.to_str().ok());
            let Some(expected) = field(&self.declared).as_deref().or(trailer) else {
                return Err(format!("{CHECKSUM_MISMATCH}: trailer {name} was announced but not sent"));
            };
            if field(computed).as_deref() != Some(expected) {
                return Err(format!("{CHECKSUM_MISMATCH}: {name} is {expected}, the body has {:?}", field(computed)));
            }
        }
        Ok(())
    }
}

/// The client body as forwarded: verified, with its last chunk held back until the
/// checksums are known to match.
struct VerifiedBody {
    inner: StreamingBlob,
    held: Option<Bytes>,
    hasher: Option<ChecksumHasher>,
    expected: Expected,
    finished: bool,
    failure: Arc<OnceLock<String>>,
}

impl VerifiedBody {
    fn fail(&self, reason: String) -> Poll<Option<Result<Bytes, StdError>>> {
        let _ = self.failure.set(reason.clone());
        Poll::Ready(Some(Err(reason.into())))
    }
}

impl Stream for VerifiedBody {
    type Item = Result<Bytes, StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.finished {
                return Poll::Ready(this.held.take().map(Ok));
            }
            match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(err))) => return this.fail(err.to_string()),
                Poll::Ready(Some(Ok(bytes))) => {
                    let Some(hasher) = &mut this.hasher else {
                        return Poll::Ready(Some(Ok(bytes)));
                    };
                    hasher.update(&bytes);
                    if let Some(previous) = this.held.replace(bytes) {
                        return Poll::Ready(Some(Ok(previous)));
                    }
                }
                Poll::Ready(None) => {
                    this.finished = true;
                    if let Some(hasher) = this.hasher.take()
                        && let Err(reason) = this.expected.verify(&hasher.finalize())
                    {
                        this.held = None;
                        return this.fail(reason);
                    }
                }
            }
        }
    }
}

impl ByteStream for VerifiedBody {
    fn remaining_length(&self) -> RemainingLength {
        let held = self.held.as_ref().map_or(0, Bytes::len);
        let inner = self.inner.remaining_length();
        match inner.exact() {
            Some(n) => RemainingLength::new_exact(n + held),
            None => RemainingLength::unknown(),
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;

    fn request(body: &'static [u8], crc32: Option<&str>) -> S3Request<PutObjectInput> {
        let mut input = PutObjectInput::builder().bucket("b".into()).key("k".into()).build().unwrap();
        input.body = Some(StreamingBlob::wrap(futures::stream::iter(
            body.chunks(3).map(|c| Ok::<_, std::io::Error>(Bytes::from_static(c))),
        )));
        input.checksum_crc32 = crc32.map(str::to_owned);
        input.content_encoding = Some("aws-chunked,gzip".into());
        let mut req = crate::upstream::internal_request(input);
        req.method = http::Method::PUT;
        req
    }

    async fn drain(req: &mut S3Request<PutObjectInput>) -> (Vec<u8>, bool) {
        let mut body = req.input.body.take().unwrap();
        let (mut bytes, mut failed) = (Vec::new(), false);
        while let Some(item) = body.next().await {
            match item {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(_) => failed = true,
            }
        }
        (bytes, failed)
    }

    #[tokio::test]
    async fn matching_checksum_passes_every_byte() {
        // CRC32 of "hello world" is 0x0d4a1185
        let mut req = request(b"hello world", Some("DUoRhQ=="));
        let watch = BodyWatch::attach(&mut req);
        assert_eq!(req.input.content_encoding.as_deref(), Some("gzip"));
        assert_eq!(drain(&mut req).await, (b"hello world".to_vec(), false));
        assert!(watch.client_error().is_none());
    }

    #[tokio::test]
    async fn mismatching_checksum_withholds_the_last_chunk() {
        let mut req = request(b"hello world", Some("AAAAAA=="));
        let watch = BodyWatch::attach(&mut req);
        let (bytes, failed) = drain(&mut req).await;
        assert!(failed);
        assert!(bytes.len() < 11, "the whole body went out: {bytes:?}");
        assert_eq!(watch.client_error().unwrap().code().as_str(), "BadDigest");
    }

    #[test]
    fn classifies_s3s_body_errors() {
        assert_eq!(classify("UploadStreamError: Sha256Mismatch").code().as_str(), "XAmzContentSHA256Mismatch");
        assert_eq!(
            classify("AwsChunkedStreamError: SignatureMismatch").status_code(),
            Some(http::StatusCode::FORBIDDEN)
        );
        assert_eq!(classify("connection reset").code().as_str(), "IncompleteBody");
    }
}
