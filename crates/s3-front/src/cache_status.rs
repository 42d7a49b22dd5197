use http::{HeaderMap, HeaderValue};

/// How a GET or HEAD was answered with respect to the cache, sent as `x-cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    fn as_str(self) -> &'static str {
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
        metrics::counter!("cachegate_cache_requests_total", "result" => self.as_str()).increment(1);
        let source = match self {
            Self::Hit | Self::Revalidated | Self::Stale => "cache",
            Self::Miss | Self::Bypass => "upstream",
        };
        let bytes = body_bytes.and_then(|b| u64::try_from(b).ok()).unwrap_or(0);
        metrics::counter!("cachegate_cache_served_bytes_total", "source" => source).increment(bytes);
    }
}
