use http::{HeaderMap, HeaderValue};

use crate::request_metrics::record_cache_outcome;

/// How a GET or HEAD was answered with respect to the cache, sent as `x-cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum CacheStatus {
    /// From disk, trusted without asking the upstream.
    Hit,
    /// From the upstream (and filled into the cache when it may be).
    Miss,
    /// From disk after the upstream confirmed it unchanged (304).
    Revalidated,
    /// From disk because the upstream failed, within `cache.max_stale`.
    Stale,
    /// Not cacheable (SSE-C, a part number, a version-less rule, no fill slot).
    Bypass,
}

impl CacheStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "HIT",
            Self::Miss => "MISS",
            Self::Revalidated => "REVALIDATED",
            Self::Stale => "STALE",
            Self::Bypass => "BYPASS",
        }
    }

    /// Adds the `x-cache` header and counts the outcome and the `body_bytes` it answers with.
    pub(crate) fn mark(self, headers: &mut HeaderMap, body_bytes: Option<i64>) {
        headers.insert("x-cache", HeaderValue::from_static(self.as_str()));
        let bytes = body_bytes.and_then(|b| u64::try_from(b).ok()).unwrap_or(0);
        record_cache_outcome(self, bytes);
    }
}
