use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use tokio::task::JoinSet;

use crate::error::Result;
use crate::store::SnapshotStore;

/// Parts uploading at once: with [`PART_SIZE`] this bounds the upload's memory.
const PARTS_IN_FLIGHT: usize = 4;
/// Size of every part but the last (S3 needs at least 5 MiB).
const PART_SIZE: usize = 8 << 20;

/// A multipart upload fed in order with bytes; parts go out as they fill, a few at a time.
pub(crate) struct MultipartUpload {
    store: SnapshotStore,
    key: String,
    upload_id: String,
    buffer: Vec<u8>,
    next_part: i32,
    in_flight: JoinSet<Result<CompletedPart>>,
    done: Vec<CompletedPart>,
}

impl MultipartUpload {
    /// Starts an upload of `key`.
    pub(crate) async fn start(store: &SnapshotStore, key: &str, content_type: &str) -> Result<Self> {
        let created = store
            .client
            .create_multipart_upload()
            .bucket(&store.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(|e| store.error("CreateMultipartUpload", key, &e))?;
        let upload_id = created.upload_id().unwrap_or_default().to_owned();
        Ok(Self {
            store: store.clone(),
            key: key.to_owned(),
            upload_id,
            buffer: Vec::with_capacity(PART_SIZE),
            next_part: 1,
            in_flight: JoinSet::new(),
            done: Vec::new(),
        })
    }

    /// Appends bytes; waits while [`PARTS_IN_FLIGHT`] parts are already uploading.
    pub(crate) async fn write(&mut self, mut bytes: &[u8]) -> Result<()> {
        while !bytes.is_empty() {
            let taken = bytes.len().min(PART_SIZE - self.buffer.len());
            self.buffer.extend_from_slice(&bytes[..taken]);
            bytes = &bytes[taken..];
            if self.buffer.len() == PART_SIZE {
                self.send_part().await?;
            }
        }
        Ok(())
    }

    /// Uploads what is left and completes the upload.
    pub(crate) async fn finish(mut self) -> Result<()> {
        if !self.buffer.is_empty() || self.next_part == 1 {
            self.send_part().await?;
        }
        while let Some(part) = self.in_flight.join_next().await {
            self.done.push(part.expect("part upload task")?);
        }
        self.done.sort_by_key(|p| p.part_number());
        let parts = CompletedMultipartUpload::builder().set_parts(Some(std::mem::take(&mut self.done))).build();
        let completed = self
            .store
            .client
            .complete_multipart_upload()
            .bucket(&self.store.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .multipart_upload(parts)
            .send()
            .await;
        if let Err(e) = completed {
            return Err(self.store.error("CompleteMultipartUpload", &self.key, &e));
        }
        Ok(())
    }

    /// Gives up the upload so that its parts do not linger (best effort).
    pub(crate) async fn abort(self) {
        let _ = self.store.abort_upload(&self.key, &self.upload_id).await;
    }

    async fn send_part(&mut self) -> Result<()> {
        while self.in_flight.len() >= PARTS_IN_FLIGHT {
            let part = self.in_flight.join_next().await.expect("parts in flight");
            self.done.push(part.expect("part upload task")?);
        }
        let body = Bytes::from(std::mem::replace(&mut self.buffer, Vec::with_capacity(PART_SIZE)));
        let (store, key, upload_id, number) =
            (self.store.clone(), self.key.clone(), self.upload_id.clone(), self.next_part);
        self.next_part += 1;
        self.in_flight.spawn(async move {
            let sent = store
                .client
                .upload_part()
                .bucket(&store.bucket)
                .key(&key)
                .upload_id(&upload_id)
                .part_number(number)
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|e| store.error("UploadPart", &key, &e))?;
            Ok(CompletedPart::builder().part_number(number).set_e_tag(sent.e_tag().map(Into::into)).build())
        });
        Ok(())
    }
}
