use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What identifies a cached object: upstream, bucket, key and version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CacheKey {
    /// The upstream endpoint, so that tenants on different stores never share entries.
    pub upstream: String,
    /// The bucket.
    pub bucket: String,
    /// The object key.
    pub key: String,
    /// The requested version, when the client asked for one.
    pub version_id: Option<String>,
}

impl CacheKey {
    /// A fixed-size id derived from every field, used for the index and file names.
    pub fn id(&self) -> EntryId {
        EntryId::of(&self.upstream, &self.bucket, &self.key, self.version_id.as_deref())
    }
}

/// The id of a cache entry: the first 128 bits of a SHA-256 of its [`CacheKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EntryId([u8; 16]);

impl EntryId {
    /// The id of the [`CacheKey`] with these fields, without building one.
    pub fn of(upstream: &str, bucket: &str, key: &str, version_id: Option<&str>) -> Self {
        let mut hasher = Sha256::new();
        for part in [upstream, bucket, key] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        if let Some(version) = version_id {
            hasher.update(version.as_bytes());
        }
        let digest = hasher.finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        Self(id)
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(bucket: &str, key: &str) -> CacheKey {
        CacheKey { upstream: "u".into(), bucket: bucket.into(), key: key.into(), version_id: None }
    }

    #[test]
    fn ids_separate_fields_unambiguously() {
        assert_ne!(key("ab", "c").id(), key("a", "bc").id());
        assert_eq!(key("a", "b").id(), key("a", "b").id());
        assert_eq!(key("a", "b").id().to_string().len(), 32);
    }
}
