use std::path::PathBuf;

/// Why an upstream client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The endpoint is not an http(s) URL.
    #[error("upstream endpoint '{0}' must start with http:// or https://")]
    BadEndpoint(String),
    /// The CA bundle could not be read.
    #[error("cannot read upstream CA bundle {path}: {source}")]
    CaBundle {
        /// The configured bundle path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TLS settings were refused by the HTTP client.
    #[error("upstream TLS settings: {0}")]
    Tls(String),
}
