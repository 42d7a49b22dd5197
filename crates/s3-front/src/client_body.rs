use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use s3s::dto::StreamingBlob;
use s3s::stream::{ByteStream, RemainingLength};
use s3s::{S3Error, S3ErrorCode, StdError};

/// Remembers why a client's request body failed while the upstream client was reading it.
///
/// s3s verifies payload hashes and chunk signatures as the body streams; a failure
/// surfaces in the upstream SDK as a generic dispatch error, which this watch turns
/// back into the client's fault (4xx) instead of an upstream one (5xx).
#[derive(Debug, Clone, Default)]
pub(crate) struct BodyWatch {
    failure: Arc<OnceLock<String>>,
}

impl BodyWatch {
    /// Wraps `body` so that its first error is recorded here.
    pub(crate) fn wrap(&self, body: StreamingBlob) -> StreamingBlob {
        StreamingBlob::new(WatchedBody {
            inner: body,
            failure: Arc::clone(&self.failure),
        })
    }

    /// The client's error, if its body failed.
    pub(crate) fn client_error(&self) -> Option<S3Error> {
        self.failure.get().map(|reason| classify(reason))
    }
}

/// Maps s3s's body verification errors to the S3 error a client expects.
fn classify(reason: &str) -> S3Error {
    let (code, message) = if reason.contains("Sha256Mismatch") {
        (
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
    } else if reason.contains("SignatureMismatch") {
        (
            "SignatureDoesNotMatch",
            "A chunk signature of the streamed body does not match.",
        )
    } else {
        (
            "IncompleteBody",
            "The request body ended before its declared length or was malformed.",
        )
    };
    let mut err = S3Error::with_message(S3ErrorCode::Custom(code.into()), message);
    let status = if code == "SignatureDoesNotMatch" {
        http::StatusCode::FORBIDDEN
    } else {
        http::StatusCode::BAD_REQUEST
    };
    err.set_status_code(status);
    err
}

struct WatchedBody {
    inner: StreamingBlob,
    failure: Arc<OnceLock<String>>,
}

impl Stream for WatchedBody {
    type Item = Result<Bytes, StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Err(err))) = &polled {
            let _ = self.failure.set(err.to_string());
        }
        polled
    }
}

impl ByteStream for WatchedBody {
    fn remaining_length(&self) -> RemainingLength {
        self.inner.remaining_length()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_s3s_body_errors() {
        assert_eq!(
            classify("UploadStreamError: Sha256Mismatch")
                .code()
                .as_str(),
            "XAmzContentSHA256Mismatch"
        );
        assert_eq!(
            classify("AwsChunkedStreamError: SignatureMismatch").status_code(),
            Some(http::StatusCode::FORBIDDEN)
        );
        assert_eq!(
            classify("connection reset").code().as_str(),
            "IncompleteBody"
        );
    }

    #[tokio::test]
    async fn records_the_first_error() {
        use futures::StreamExt;
        let failing = futures::stream::iter(vec![
            Ok(Bytes::from_static(b"abc")),
            Err(std::io::Error::other("UploadStreamError: Sha256Mismatch")),
        ]);
        let watch = BodyWatch::default();
        let mut body = watch.wrap(StreamingBlob::wrap(failing));
        while body.next().await.is_some() {}
        assert_eq!(
            watch.client_error().unwrap().status_code(),
            Some(http::StatusCode::BAD_REQUEST)
        );
    }
}
