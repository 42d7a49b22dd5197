use std::path::PathBuf;

/// Why the cache could not be opened or configured.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The cache directory cannot be created or read.
    #[error("cache.dir {path}: {source}")]
    Dir {
        /// The configured directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A size is neither a byte count (`10GiB`) nor a percentage (`80%`).
    #[error("'{0}' is not a size such as 10GiB, 512MiB or 80%")]
    Size(String),
    /// A consistency mode is not `revalidate`, `ttl=DURATION` or `immutable`.
    #[error("'{0}' is not a cache mode: use revalidate, ttl=30s or immutable")]
    Mode(String),
    /// An include or exclude pattern is not a valid glob.
    #[error("key pattern '{pattern}': {reason}")]
    Pattern {
        /// The pattern as configured.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
}
