use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where and how cachegate talks to the object store behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Base URL of the S3 endpoint, e.g. `http://rgw.ceph.svc:7480`.
    pub endpoint: String,
    /// Region used to sign upstream requests (RGW accepts any; `us-east-1` is customary).
    pub region: String,
    /// Access key of the gateway's own upstream identity.
    pub access_key: String,
    /// Secret key of the gateway's own upstream identity.
    pub secret_key: String,
    /// Address buckets as `endpoint/bucket` (true, RGW's safe default) or as `bucket.endpoint`.
    pub path_style: bool,
    /// PEM bundle of extra CA certificates trusted for an `https://` endpoint.
    pub ca_bundle: Option<PathBuf>,
    /// Time allowed to open a TCP (and TLS) connection.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Time allowed between sending a request and the first byte of its answer.
    #[serde(with = "humantime_serde")]
    pub read_timeout: Duration,
    /// Attempts per idempotent request (1 = no retry); streamed bodies are never retried.
    pub max_attempts: u32,
    /// Idle pooled connections kept per upstream host.
    pub pool_max_idle: usize,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            endpoint: "http://127.0.0.1:7480".to_owned(),
            region: "us-east-1".to_owned(),
            access_key: String::new(),
            secret_key: String::new(),
            path_style: true,
            ca_bundle: None,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(60),
            max_attempts: 3,
            pool_max_idle: 64,
        }
    }
}
