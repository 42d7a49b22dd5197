//! A 1 GiB PUT and GET stream through the gateway without growing its memory.

mod common;

use std::pin::Pin;
use std::task::{Context, Poll};

use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::body::SdkBody;
use bytes::Bytes;
use common::{ALPHA, Gateway, fresh_bucket};
use http_body::{Frame, SizeHint};

const SIZE: u64 = 1 << 30;
const CHUNK: usize = 1 << 20;
/// Growth allowed while 1 GiB passes through: far below the size of what streams, and
/// room for mimalloc, which keeps freed pages per thread for reuse (12-25 MiB measured).
const RSS_BUDGET: u64 = 48 << 20;

/// The byte at `offset` of the test object: a pattern that catches shifted or repeated data.
fn byte_at(offset: u64) -> u8 {
    (offset.wrapping_mul(2_654_435_761) >> 13) as u8
}

/// A generated body of `SIZE` bytes, so that the test itself holds no more than a chunk.
struct PatternBody {
    offset: u64,
}

impl http_body::Body for PatternBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.offset >= SIZE {
            return Poll::Ready(None);
        }
        let len = CHUNK.min(usize::try_from(SIZE - self.offset).unwrap());
        let chunk: Vec<u8> = (0..len as u64).map(|i| byte_at(self.offset + i)).collect();
        self.offset += len as u64;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(SIZE - self.offset)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gib_put_and_get_stream_in_bounded_memory() {
    let gateway = Gateway::start();
    let bucket = fresh_bucket("alpha").await;
    let s3 = gateway.client(ALPHA);
    s3.put_object().bucket(&bucket).key("warmup").body(ByteStream::from(vec![1u8; CHUNK])).send().await.unwrap();
    let baseline = gateway.rss();

    let body = ByteStream::new(SdkBody::from_body_1_x(PatternBody { offset: 0 }));
    s3.put_object().bucket(&bucket).key("big").content_length(SIZE as i64).body(body).send().await.unwrap();
    let after_put = gateway.rss();

    let mut got = s3.get_object().bucket(&bucket).key("big").send().await.unwrap().body;
    let mut offset = 0u64;
    let mut peak = after_put;
    while let Some(chunk) = got.try_next().await.unwrap() {
        assert!(chunk.iter().enumerate().all(|(i, b)| *b == byte_at(offset + i as u64)), "wrong bytes near {offset}");
        offset += chunk.len() as u64;
        if offset % (64 << 20) < chunk.len() as u64 {
            peak = peak.max(gateway.rss());
        }
    }
    assert_eq!(offset, SIZE);
    let growth = after_put.max(peak).saturating_sub(baseline);
    eprintln!(
        "gateway RSS: baseline {} MiB, after PUT {} MiB, peak during GET {} MiB",
        baseline >> 20,
        after_put >> 20,
        peak >> 20
    );
    assert!(growth < RSS_BUDGET, "RSS grew by {} MiB", growth >> 20);
}
