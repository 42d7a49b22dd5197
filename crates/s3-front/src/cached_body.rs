use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use s3s::dto::{ETagCondition, GetObjectInput, StreamingBlob};
use s3s::stream::{ByteStream, RemainingLength};
use s3s::{Body, S3, StdError};
use sync_wrapper::SyncStream;

use cachegate_cache::{CacheStore, Entry, EntryRead, Fill, ReadError, Source, read};

use crate::upstream::{Upstream, internal_request};

/// The body of an answer from a complete entry, or `None` when its first block is
/// corrupt (the entry is purged and the caller serves from the upstream). A block found
/// corrupt later also purges the entry and ends the response early: a corrupt byte is
/// never sent.
pub(crate) async fn entry_body(store: &Arc<CacheStore>, entry: &Arc<Entry>, span: Range<u64>) -> Option<StreamingBlob> {
    let len = span.end - span.start;
    let mut blocks = match store.read_entry(entry, span) {
        EntryRead::Memory(bytes) => return Some(StreamingBlob::from(Body::from(bytes))),
        EntryRead::Blocks(blocks) => blocks,
    };
    let first = if len == 0 {
        None
    } else {
        match blocks.next().await {
            Some(Ok(bytes)) => Some(bytes),
            Some(Err(_)) | None => {
                store.purge(entry);
                return None;
            }
        }
    };
    let (store, entry) = (Arc::clone(store), Arc::clone(entry));
    let rest = blocks.map(move |item| {
        item.map_err(|e| {
            if matches!(e, ReadError::Corrupt { .. }) {
                store.purge(&entry);
            }
            StdError::from(e)
        })
    });
    Some(sized(futures::stream::iter(first.map(Ok)).chain(rest).boxed(), len))
}

/// The body of an answer from a fill in progress. If the fill fails, the rest is
/// fetched from the upstream with `If-Match`, so the reader still gets every byte.
pub(crate) fn fill_body(fill: Arc<Fill>, span: Range<u64>, resume: Resume) -> StreamingBlob {
    let len = span.end - span.start;
    let phase = Phase::Cache { blocks: read(Source::Fill(fill), span.clone()).boxed(), next: span.start };
    let stream = futures::stream::unfold((phase, resume, span.end), |(phase, resume, end)| async move {
        match phase {
            Phase::Cache { mut blocks, next } => match blocks.next().await {
                Some(Ok(bytes)) => {
                    let next = next + bytes.len() as u64;
                    Some((Ok(bytes), (Phase::Cache { blocks, next }, resume, end)))
                }
                Some(Err(ReadError::FillFailed(_))) => match resume.fetch(next..end).await {
                    Ok(body) => Some((Ok(Bytes::new()), (Phase::Upstream(body), resume, end))),
                    Err(e) => Some((Err(e), (Phase::Done, resume, end))),
                },
                Some(Err(e)) => Some((Err(StdError::from(e)), (Phase::Done, resume, end))),
                None => None,
            },
            Phase::Upstream(mut body) => body.next().await.map(|item| (item, (Phase::Upstream(body), resume, end))),
            Phase::Done => None,
        }
    });
    sized(stream.boxed(), len)
}

/// `span` of a whole-object body that is not cached.
pub(crate) fn slice_body(body: StreamingBlob, span: Range<u64>) -> StreamingBlob {
    let len = span.end - span.start;
    let stream = futures::stream::unfold((body, span.start, len), |(mut body, mut skip, mut left)| async move {
        while left > 0 {
            let mut bytes = match body.next().await? {
                Ok(bytes) => bytes,
                Err(e) => return Some((Err(e), (body, skip, 0))),
            };
            let drop = usize::try_from(skip.min(bytes.len() as u64)).unwrap_or(usize::MAX);
            skip -= drop as u64;
            let _ = bytes.split_to(drop);
            bytes.truncate(usize::try_from(left.min(bytes.len() as u64)).unwrap_or(usize::MAX));
            if !bytes.is_empty() {
                left -= bytes.len() as u64;
                return Some((Ok(bytes), (body, skip, left)));
            }
        }
        None
    });
    sized(stream.boxed(), len)
}

enum Phase {
    Cache { blocks: BoxStream<'static, Result<Bytes, ReadError>>, next: u64 },
    Upstream(StreamingBlob),
    Done,
}

/// How to fetch the rest of an object whose fill failed.
pub(crate) struct Resume {
    pub(crate) upstream: Arc<Upstream>,
    pub(crate) input: GetObjectInput,
    pub(crate) etag: String,
}

impl Resume {
    async fn fetch(&self, span: Range<u64>) -> Result<StreamingBlob, StdError> {
        let mut input = self.input.clone();
        input.range = Some(s3s::dto::Range::Int { first: span.start, last: Some(span.end - 1) });
        input.if_match = Some(ETagCondition::parse_http_header(self.etag.as_bytes())?);
        let response = self.upstream.proxy(&http::Method::GET).get_object(internal_request(input)).await?;
        response.output.body.ok_or_else(|| "upstream answered without a body".into())
    }
}

/// A body of known length, so that s3s and hyper announce its `Content-Length`.
fn sized(stream: BoxStream<'static, Result<Bytes, StdError>>, len: u64) -> StreamingBlob {
    StreamingBlob::new(Sized { inner: SyncStream::new(stream), remaining: len })
}

struct Sized {
    inner: SyncStream<BoxStream<'static, Result<Bytes, StdError>>>,
    remaining: u64,
}

impl Stream for Sized {
    type Item = Result<Bytes, StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(bytes))) = &polled {
            self.remaining = self.remaining.saturating_sub(bytes.len() as u64);
        }
        polled
    }
}

impl ByteStream for Sized {
    fn remaining_length(&self) -> RemainingLength {
        RemainingLength::new_exact(usize::try_from(self.remaining).unwrap_or(usize::MAX))
    }
}
