/// Why the S3 front could not be assembled from its settings.
#[derive(Debug, thiserror::Error)]
pub enum FrontError {
    /// A bucket pattern is not a bucket name, a `prefix*` or `*`.
    #[error("bucket pattern '{0}' is invalid: use an exact bucket name, a prefix ending in '*', or '*'")]
    BucketPattern(String),
    /// Two tenants (or one tenant twice) claim the same access key.
    #[error("access key '{0}' is configured more than once")]
    DuplicateKey(String),
    /// A tenant has no key pair, or a key pair with an empty half.
    #[error("tenant '{0}' needs at least one key pair with a non-empty access key and secret key")]
    MissingKey(String),
    /// A virtual-host domain is not a valid domain name.
    #[error("virtual host domain '{0}' is invalid")]
    Domain(String),
}
