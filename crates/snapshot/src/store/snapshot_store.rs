use std::ops::Range;

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use crate::error::{Result, SnapshotError};
use crate::layout::Layout;
use crate::store::retry::{Attempt, with_retries};

/// The snapshots under one prefix of one bucket.
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    pub(crate) client: aws_sdk_s3::Client,
    pub(crate) bucket: String,
    pub(crate) layout: Layout,
}

/// A small object read whole, with its ETag.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub bytes: Bytes,
    pub etag: Option<String>,
}

/// A precondition on a PUT.
#[derive(Debug, Clone)]
pub(crate) enum PutCondition {
    /// Write unconditionally.
    None,
    /// Only if the object still has this ETag.
    IfMatch(String),
    /// Only if the object does not exist yet.
    IfAbsent,
}

impl SnapshotStore {
    /// The snapshots under `prefix` in `bucket`.
    pub fn new(client: aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Self {
        Self { client, bucket: bucket.to_owned(), layout: Layout::new(prefix) }
    }

    pub(crate) fn error<E>(
        &self,
        operation: &'static str,
        key: &str,
        error: &SdkError<E, HttpResponse>,
    ) -> SnapshotError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let message = match (error.as_service_error().and_then(|e| e.code()), status(error)) {
            (Some(code), Some(status)) => format!("{code} (HTTP {status})"),
            (None, Some(status)) => format!("HTTP {status}"),
            _ => DisplayErrorContext(error).to_string(),
        };
        self.s3_error(operation, key, message)
    }

    /// An [`SnapshotError::S3`] for `operation` on `key` in this bucket.
    pub(crate) fn s3_error(&self, operation: &'static str, key: &str, message: String) -> SnapshotError {
        SnapshotError::S3 { operation, bucket: self.bucket.clone(), key: key.to_owned(), message }
    }

    /// A [`SnapshotError::Missing`] for `key` in this bucket, which holds `what`.
    pub(crate) fn missing(&self, key: String, what: impl Into<String>) -> SnapshotError {
        SnapshotError::Missing { bucket: self.bucket.clone(), key, what: what.into() }
    }

    fn attempt_error<E, T>(&self, operation: &'static str, key: &str, error: SdkError<E, HttpResponse>) -> Attempt<T>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let failure = self.error(operation, key, &error);
        if is_transient(&error) { Attempt::Transient(failure) } else { Attempt::Failed(failure) }
    }

    /// Reads a whole object of at most `max_len` bytes; `None` if it does not exist.
    pub(crate) async fn get(&self, key: &str, max_len: u64) -> Result<Option<Fetched>> {
        with_retries(key, || async {
            let output = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
                Ok(output) => output,
                Err(e) if status(&e) == Some(404) => return Attempt::Done(None),
                Err(e) => return self.attempt_error("GetObject", key, e),
            };
            let len = output.content_length().unwrap_or(0).max(0) as u64;
            if len > max_len {
                return Attempt::Failed(SnapshotError::Limit { what: "object length", value: len, limit: max_len });
            }
            let etag = output.e_tag().map(str::to_owned);
            match output.body.collect().await {
                Ok(body) => Attempt::Done(Some(Fetched { bytes: body.into_bytes(), etag })),
                Err(e) => Attempt::Transient(self.body_error("GetObject", key, &e)),
            }
        })
        .await
    }

    /// Reads bytes `range` of an object, retrying transient failures; the answer must be
    /// exactly that long.
    pub(crate) async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        if range.is_empty() {
            return Ok(Bytes::new());
        }
        let header = format!("bytes={}-{}", range.start, range.end - 1);
        with_retries(key, || async {
            let output = match self.client.get_object().bucket(&self.bucket).key(key).range(&header).send().await {
                Ok(output) => output,
                Err(e) => return self.attempt_error("GetObject", key, e),
            };
            match output.body.collect().await.map(|body| body.into_bytes()) {
                Ok(bytes) if bytes.len() as u64 == range.end - range.start => Attempt::Done(bytes),
                Ok(bytes) => Attempt::Transient(self.s3_error(
                    "GetObject",
                    key,
                    format!("{header} answered {} bytes", bytes.len()),
                )),
                Err(e) => Attempt::Transient(self.body_error("GetObject", key, &e)),
            }
        })
        .await
    }

    /// Writes a small object under `condition`; `false` when the precondition failed.
    pub(crate) async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        condition: PutCondition,
    ) -> Result<bool> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body));
        let request = match condition {
            PutCondition::None => request,
            PutCondition::IfMatch(etag) => request.if_match(etag),
            PutCondition::IfAbsent => request.if_none_match("*"),
        };
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) if status(&e) == Some(412) => Ok(false),
            Err(e) => Err(self.error("PutObject", key, &e)),
        }
    }

    /// The length of an object; `None` if it does not exist.
    pub(crate) async fn head(&self, key: &str) -> Result<Option<u64>> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(output) => Ok(Some(output.content_length().unwrap_or(0).max(0) as u64)),
            Err(e) if status(&e) == Some(404) => Ok(None),
            Err(e) => Err(self.error("HeadObject", key, &e)),
        }
    }

    /// Aborts multipart upload `upload_id` of `key`, so that its parts do not linger.
    pub(crate) async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<()> {
        match self.client.abort_multipart_upload().bucket(&self.bucket).key(key).upload_id(upload_id).send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.error("AbortMultipartUpload", key, &e)),
        }
    }

    /// Deletes an object (a missing one is not an error).
    pub(crate) async fn delete(&self, key: &str) -> Result<()> {
        match self.client.delete_object().bucket(&self.bucket).key(key).send().await {
            Ok(_) => Ok(()),
            Err(e) if status(&e) == Some(404) => Ok(()),
            Err(e) => Err(self.error("DeleteObject", key, &e)),
        }
    }

    /// Keys and common prefixes directly under `prefix` (split at `/`).
    pub(crate) async fn list(&self, prefix: &str) -> Result<(Vec<String>, Vec<String>)> {
        let (mut keys, mut prefixes) = (Vec::new(), Vec::new());
        let mut pages =
            self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).delimiter("/").into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.error("ListObjectsV2", prefix, &e))?;
            keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
            prefixes.extend(page.common_prefixes().iter().filter_map(|p| p.prefix().map(str::to_owned)));
        }
        Ok((keys, prefixes))
    }

    fn body_error(&self, operation: &'static str, key: &str, error: &dyn std::error::Error) -> SnapshotError {
        self.s3_error(operation, key, format!("reading the body: {}", DisplayErrorContext(error)))
    }
}

type HttpResponse = aws_sdk_s3::config::http::HttpResponse;

fn status<E>(error: &SdkError<E, HttpResponse>) -> Option<u16> {
    error.raw_response().map(|r| r.status().as_u16())
}

/// Failures another attempt may cure: no answer, a cut connection, 5xx, throttling.
fn is_transient<E>(error: &SdkError<E, HttpResponse>) -> bool {
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        _ => status(error).is_some_and(|s| s >= 500 || s == 429 || s == 408),
    }
}
