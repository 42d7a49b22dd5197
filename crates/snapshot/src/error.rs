use std::path::PathBuf;

/// Everything that can go wrong while publishing, fetching or managing snapshots; each
/// variant renders as one line that says what failed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// An option given on the command line is unusable.
    #[error("{0}")]
    Usage(String),
    /// An S3 request failed (after retries, for transient failures).
    #[error("{operation} s3://{bucket}/{key}: {message}")]
    S3 {
        /// The S3 operation, e.g. `GetObject`.
        operation: &'static str,
        /// The bucket.
        bucket: String,
        /// The key (or prefix).
        key: String,
        /// What the client or the server said.
        message: String,
    },
    /// An object the snapshot chain needs is missing.
    #[error("missing s3://{bucket}/{key}: {what}")]
    Missing {
        /// The bucket.
        bucket: String,
        /// The key that was not found.
        key: String,
        /// What the object is.
        what: String,
    },
    /// Downloaded bytes do not have the digest the trust chain promises.
    #[error("digest mismatch for {what}: expected sha256 {expected}, got {actual}")]
    Digest {
        /// What was checked (`manifest of …`, `member 12`, `file a/b.php`).
        what: String,
        /// The digest the parent object promised.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },
    /// A pointer, manifest or index is malformed or breaks the format's rules.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which document.
        what: String,
        /// The rule it breaks.
        reason: String,
    },
    /// An entry of a snapshot is refused because it could escape or harm the destination.
    #[error("refused entry '{path}': {reason}")]
    Refused {
        /// The entry's path as the index spells it.
        path: String,
        /// Why it is refused.
        reason: String,
    },
    /// A snapshot exceeds a limit.
    #[error("{what} {value} exceeds the limit {limit}")]
    Limit {
        /// What is counted.
        what: &'static str,
        /// The snapshot's value.
        value: u64,
        /// The allowed maximum.
        limit: u64,
    },
    /// A transfer got no complete answer in time, after retries.
    #[error("{what}: no complete answer within {seconds} s")]
    Timeout {
        /// What was being transferred.
        what: String,
        /// The time allowed per attempt.
        seconds: u64,
    },
    /// A worker task of this process failed (a bug).
    #[error("internal error: {0}")]
    Internal(String),
    /// A file system operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done (`create`, `read`, `write`, …).
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// Result of this crate's operations.
pub type Result<T, E = SnapshotError> = std::result::Result<T, E>;

impl SnapshotError {
    /// An [`SnapshotError::Invalid`] for document `what`.
    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid { what: what.into(), reason: reason.into() }
    }

    /// An [`SnapshotError::Refused`] for entry `path`.
    pub(crate) fn refused(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Refused { path: path.into(), reason: reason.into() }
    }

    /// An [`SnapshotError::Io`] for `action` on `path`.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { action, path: path.into(), source }
    }
}

impl From<tokio::task::JoinError> for SnapshotError {
    fn from(error: tokio::task::JoinError) -> Self {
        SnapshotError::Internal(format!("a worker task failed: {error}"))
    }
}
