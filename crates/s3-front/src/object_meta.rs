use s3s::dto::{ETag, GetObjectOutput, HeadObjectOutput, StorageClass, Timestamp};

use cachegate_cache::ObjectMeta;

/// The conversions between the cache's [`ObjectMeta`] and an s3s object answer.
pub(crate) trait ObjectHeaders: Sized {
    /// The metadata to cache, or `None` when the answer must not be cached
    /// (customer-encrypted, a delete marker, or lacking ETag or length).
    fn to_meta(&self) -> Option<ObjectMeta>;
    /// An answer for the whole object described by `meta`, without a body.
    fn from_meta(meta: &ObjectMeta) -> Self;
}

/// Implements [`ObjectHeaders`] for an output type with the usual object header fields.
macro_rules! object_headers {
    ($output:ty) => {
        impl ObjectHeaders for $output {
            fn to_meta(&self) -> Option<ObjectMeta> {
                if self.sse_customer_algorithm.is_some() || self.delete_marker == Some(true) {
                    return None;
                }
                let checksums = [
                    ("crc32", &self.checksum_crc32),
                    ("crc32c", &self.checksum_crc32c),
                    ("crc64nvme", &self.checksum_crc64nvme),
                    ("sha1", &self.checksum_sha1),
                    ("sha256", &self.checksum_sha256),
                ];
                Some(ObjectMeta {
                    size: u64::try_from(self.content_length?).ok()?,
                    etag: quoted(self.e_tag.as_ref()?),
                    last_modified: self.last_modified.as_ref().map(unix_seconds),
                    content_type: self.content_type.clone(),
                    content_encoding: self.content_encoding.clone(),
                    content_disposition: self.content_disposition.clone(),
                    content_language: self.content_language.clone(),
                    cache_control: self.cache_control.clone(),
                    expires: self.expires.as_ref().map(unix_seconds),
                    metadata: self.metadata.iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    checksums: checksums
                        .into_iter()
                        .filter_map(|(name, value)| Some((name.to_owned(), value.clone()?)))
                        .collect(),
                    version_id: self.version_id.clone(),
                    storage_class: self.storage_class.as_ref().map(|c| c.as_str().to_owned()),
                })
            }

            fn from_meta(meta: &ObjectMeta) -> Self {
                let checksum = |name: &str| meta.checksums.get(name).cloned();
                Self {
                    accept_ranges: Some("bytes".to_owned()),
                    content_length: i64::try_from(meta.size).ok(),
                    e_tag: ETag::parse_http_header(meta.etag.as_bytes()).ok(),
                    last_modified: meta.last_modified.and_then(timestamp),
                    content_type: meta.content_type.clone(),
                    content_encoding: meta.content_encoding.clone(),
                    content_disposition: meta.content_disposition.clone(),
                    content_language: meta.content_language.clone(),
                    cache_control: meta.cache_control.clone(),
                    expires: meta.expires.and_then(timestamp),
                    metadata: (!meta.metadata.is_empty()).then(|| meta.metadata.clone().into_iter().collect()),
                    checksum_crc32: checksum("crc32"),
                    checksum_crc32c: checksum("crc32c"),
                    checksum_crc64nvme: checksum("crc64nvme"),
                    checksum_sha1: checksum("sha1"),
                    checksum_sha256: checksum("sha256"),
                    version_id: meta.version_id.clone(),
                    storage_class: meta.storage_class.clone().map(StorageClass::from),
                    ..Self::default()
                }
            }
        }
    };
}

object_headers!(GetObjectOutput);
object_headers!(HeadObjectOutput);

/// The ETag as sent in headers, with its quotes.
pub(crate) fn quoted(etag: &ETag) -> String {
    etag.to_http_header().ok().and_then(|v| v.to_str().ok().map(str::to_owned)).unwrap_or_default()
}

pub(crate) fn unix_seconds(time: &Timestamp) -> i64 {
    time::OffsetDateTime::from(time.clone()).unix_timestamp()
}

fn timestamp(seconds: i64) -> Option<Timestamp> {
    time::OffsetDateTime::from_unix_timestamp(seconds).ok().map(Timestamp::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_object_headers() {
        let meta = ObjectMeta {
            size: 11,
            etag: "\"abc\"".into(),
            last_modified: Some(1_700_000_000),
            content_type: Some("text/plain".into()),
            cache_control: Some("max-age=60".into()),
            metadata: [("x-amz-meta-original-path".to_owned(), "base64:Lw==".to_owned())].into(),
            checksums: [("crc32".to_owned(), "DUoRhQ==".to_owned())].into(),
            ..ObjectMeta::default()
        };
        assert_eq!(GetObjectOutput::from_meta(&meta).to_meta(), Some(meta.clone()));
        assert_eq!(HeadObjectOutput::from_meta(&meta).to_meta(), Some(meta));
    }

    #[test]
    fn customer_encrypted_answers_are_not_cached() {
        let mut output =
            GetObjectOutput::from_meta(&ObjectMeta { size: 1, etag: "\"e\"".into(), ..ObjectMeta::default() });
        output.sse_customer_algorithm = Some("AES256".into());
        assert!(output.to_meta().is_none());
    }
}
