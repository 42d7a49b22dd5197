use std::ops::Range;

use s3s::S3Result;
use s3s::dto::Range as ByteRange;
use s3s::s3_error;

/// The bytes of an object of `size` that a GET's `range` asks for: all of them without one.
/// A range that names no byte is `InvalidRange` (416), as is a suffix of an empty object,
/// an empty span no `Content-Range` can name (RGW answers 416 too).
pub(crate) fn requested_span(range: Option<&ByteRange>, size: u64) -> S3Result<Range<u64>> {
    match range {
        Some(range) => match range.check(size)? {
            span if span.is_empty() => Err(s3_error!(InvalidRange)),
            span => Ok(span),
        },
        None => Ok(0..size),
    }
}

/// The `Content-Range` of `span` of an object of `size` bytes.
pub(crate) fn content_range(span: &Range<u64>, size: u64) -> String {
    format!("bytes {}-{}/{}", span.start, span.end.saturating_sub(1), size)
}
