use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use s3s::{Body, StdError};
use tracing::info;

use crate::RequestContext;
use crate::request_metrics::record_request;

/// A response body that counts what it sends and, when the response ends or the client
/// goes away, writes the request's access-log line and metrics.
pub struct MeteredBody {
    inner: Body,
    record: AccessRecord,
}

/// What the access log says about one request.
pub(crate) struct AccessRecord {
    pub(crate) context: Arc<RequestContext>,
    pub(crate) method: http::Method,
    pub(crate) path: String,
    pub(crate) status: u16,
    pub(crate) bytes_in: u64,
    pub(crate) started: Instant,
    pub(crate) bytes_out: u64,
    pub(crate) complete: bool,
}

impl AccessRecord {
    /// The record of a request for `uri` with `method` and `headers`, started now.
    pub(crate) fn start(
        context: Arc<RequestContext>,
        method: &http::Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
    ) -> Self {
        Self {
            context,
            method: method.clone(),
            // never the query: presigned URLs carry their signature there
            path: uri.path().to_owned(),
            status: 0,
            bytes_in: declared_body_length(headers),
            started: Instant::now(),
            bytes_out: 0,
            complete: false,
        }
    }
}

/// Payload bytes the client announced (aws-chunked bodies declare the decoded length).
fn declared_body_length(headers: &http::HeaderMap) -> u64 {
    ["x-amz-decoded-content-length", "content-length"]
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok()?.parse().ok())
        .unwrap_or(0)
}

impl MeteredBody {
    pub(crate) fn new(inner: Body, mut record: AccessRecord) -> Self {
        record.complete = inner.is_end_stream();
        Self { inner, record }
    }
}

impl HttpBody for MeteredBody {
    type Data = Bytes;
    type Error = StdError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, StdError>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.record.bytes_out += data.len() as u64;
                }
                // hyper stops polling once the body says it has ended
                this.record.complete = this.inner.is_end_stream();
            }
            Poll::Ready(None) => this.record.complete = true,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for AccessRecord {
    fn drop(&mut self) {
        let seconds = self.started.elapsed().as_secs_f64();
        info!(
            target: "cachegate::access",
            // as `&str`, not `%` (Display): the JSON formatter writes a string in one piece,
            // a Display value a fragment at a time through an escaping adapter
            request_id = self.context.id.as_str(),
            method = self.method.as_str(),
            path = self.path.as_str(),
            operation = self.context.operation(),
            tenant = self.context.tenant(),
            status = self.status,
            bytes_in = self.bytes_in,
            bytes_out = self.bytes_out,
            complete = self.complete,
            duration_ms = (seconds * 1000.0).round() as u64,
            "request"
        );
        let (tenant, operation) = self.context.labels();
        record_request(tenant, operation, self.status, seconds, self.bytes_in, self.bytes_out);
    }
}
