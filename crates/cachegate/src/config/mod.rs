//! The gateway's configuration: its shape and defaults ([`Config`]), how it is read
//! from file, environment and `_FILE` secrets ([`load`]), and its checks ([`validate`]).

mod env;
mod load;
mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use cachegate_cache::{CacheConfig, TenantCache};
use cachegate_upstream::UpstreamConfig;
use serde::{Deserialize, Serialize};

pub use load::{Source, load};
pub use validate::validate;

/// The reference configuration, with every key, its default and what it does.
pub const REFERENCE_TOML: &str = include_str!("reference.toml");

/// A development configuration for the bundled local RGW (`serve --dev`); its keys are public.
pub const DEV_TOML: &str = include_str!("dev.toml");

/// Everything `cachegate serve` is configured with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address of the S3 listener.
    pub listen: SocketAddr,
    /// Address of the operations listener (`/healthz`, `/readyz`, `/metrics`).
    pub admin_listen: SocketAddr,
    /// Largest accepted difference between a request's signing time and this clock.
    #[serde(with = "humantime_serde")]
    pub max_clock_skew: Duration,
    /// Forward unsigned requests, unsigned, to the top-level upstream, whose ACLs decide
    /// (public-read buckets); never cached. Off: they are refused with 403.
    pub anonymous_access: bool,
    /// Domains for virtual-hosted-style addressing (`bucket.domain`); empty = path-style only.
    pub virtual_host_domains: Vec<String>,
    /// How long in-flight requests may finish after SIGTERM.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// How often every upstream is probed for `/readyz`.
    #[serde(with = "humantime_serde")]
    pub readiness_interval: Duration,
    /// TLS on the S3 listener.
    pub tls: TlsConfig,
    /// Log output.
    pub log: LogConfig,
    /// The upstream every tenant uses unless it names its own.
    pub upstream: UpstreamConfig,
    /// The disk cache (off unless `cache.dir` is set).
    pub cache: CacheConfig,
    /// The plain-HTTP route to each tenant's current webroot snapshot.
    pub snapshot_http: SnapshotHttpConfig,
    /// The tenants: key pairs, buckets and optionally their own upstream.
    pub tenants: Vec<TenantConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: ([127, 0, 0, 1], 9000).into(),
            admin_listen: ([127, 0, 0, 1], 9001).into(),
            max_clock_skew: Duration::from_secs(15 * 60),
            anonymous_access: false,
            virtual_host_domains: Vec::new(),
            shutdown_grace: Duration::from_secs(30),
            readiness_interval: Duration::from_secs(5),
            tls: TlsConfig::default(),
            log: LogConfig::default(),
            upstream: UpstreamConfig::default(),
            cache: CacheConfig::default(),
            snapshot_http: SnapshotHttpConfig::default(),
            tenants: Vec::new(),
        }
    }
}

/// TLS on the S3 listener: on when both files are set; the files are re-read when they change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert_file: Option<PathBuf>,
    /// PEM private key.
    pub key_file: Option<PathBuf>,
}

/// `GET /snapshots/<tenant>/current.tar.gz` on the S3 listener, for init containers that
/// only have curl and tar: off while `token` is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SnapshotHttpConfig {
    /// The bearer token callers send (`Authorization: Bearer <token>`).
    pub token: String,
}

/// Where a tenant's webroot snapshots live (what `publish-snapshot` was given).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebrootConfig {
    /// The bucket.
    pub bucket: String,
    /// The key prefix inside it (empty = the bucket root).
    pub prefix: String,
}

/// Log output settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` for people, `json` for log pipelines.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `info,cachegate_s3=debug`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { format: LogFormat::Text, level: "info".to_owned() }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// One tenant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantConfig {
    /// Name in logs and metric labels.
    pub name: String,
    /// Bucket rules: exact names, prefixes ending in `*`, or `*` for all.
    pub buckets: Vec<String>,
    /// Client key pairs; more than one allows rotation without downtime.
    pub keys: Vec<KeyPair>,
    /// How this tenant, and each of its buckets, uses the cache.
    pub cache: TenantCache,
    /// The tenant's webroot snapshots, served by the `snapshot_http` route.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webroot: Option<WebrootConfig>,
    /// This tenant's own upstream: keys given here replace those of the top-level `upstream`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<figment::value::Dict>,
}

impl TenantConfig {
    /// The upstream this tenant uses: `global` with the tenant's own keys on top.
    pub fn upstream(&self, global: &UpstreamConfig) -> Result<UpstreamConfig, Box<figment::Error>> {
        let base = figment::Figment::from(figment::providers::Serialized::defaults(global));
        match &self.upstream {
            Some(own) => base.merge(figment::providers::Serialized::defaults(own)).extract().map_err(Box::new),
            None => Ok(global.clone()),
        }
    }
}

/// A client access key and its secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyPair {
    /// Access key id the client signs with.
    pub access_key: String,
    /// Secret key the client signs with.
    pub secret_key: String,
}
