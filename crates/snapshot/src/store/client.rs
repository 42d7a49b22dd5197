use std::path::PathBuf;
use std::time::Duration;

use aws_config::meta::region::RegionProviderChain;
use aws_sdk_s3::config::ProvideCredentials;
use aws_sdk_s3::config::{BehaviorVersion, Region};
use cachegate_upstream::{UpstreamConfig, build_client};

use crate::error::{Result, SnapshotError};

/// How to reach the bucket; what is not given comes from the usual AWS environment
/// variables and shared config/credentials files (`AWS_ENDPOINT_URL`, `AWS_REGION`,
/// `AWS_ACCESS_KEY_ID`, `AWS_PROFILE`, web identity, …).
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// S3 endpoint URL (RGW or a cachegate gateway).
    pub endpoint: Option<String>,
    /// Region to sign for.
    pub region: Option<String>,
    /// Access key (with `secret_key`); otherwise the AWS credential chain is used.
    pub access_key: Option<String>,
    /// Secret key.
    pub secret_key: Option<String>,
    /// Extra CA certificates (PEM) for an `https://` endpoint.
    pub ca_bundle: Option<PathBuf>,
    /// Address buckets as `bucket.endpoint` instead of `endpoint/bucket`.
    pub virtual_hosted: bool,
}

/// Builds the S3 client: cachegate's upstream client (RGW 16.2 quirks, checksums only where
/// required, retries with backoff, timeouts) with credentials from `options` or the AWS chain.
pub async fn connect(options: &S3Options) -> Result<aws_sdk_s3::Client> {
    let region = RegionProviderChain::first_try(options.region.clone().map(Region::new))
        .or_else(aws_config::environment::EnvironmentVariableRegionProvider::new())
        .or_else(aws_config::profile::ProfileFileRegionProvider::new())
        .or_else(Region::new("us-east-1"));
    let shared = aws_config::defaults(BehaviorVersion::latest()).region(region).load().await;
    let endpoint = options
        .endpoint
        .clone()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok())
        .or_else(|| shared.endpoint_url().map(str::to_owned))
        .ok_or_else(|| SnapshotError::Usage("no S3 endpoint: give --endpoint or set AWS_ENDPOINT_URL".into()))?;
    let explicit = match (&options.access_key, &options.secret_key) {
        (Some(access), Some(secret)) => Some((access.clone(), secret.clone())),
        (None, None) => None,
        _ => return Err(SnapshotError::Usage("--access-key and the secret key go together".into())),
    };
    // build_client signs with static keys; the chain's provider replaces the placeholder below
    let (access_key, secret_key) = explicit.clone().unwrap_or_else(|| ("from-credential-chain".into(), String::new()));
    let config = UpstreamConfig {
        endpoint,
        region: shared.region().map_or_else(|| "us-east-1".to_owned(), |r| r.to_string()),
        access_key,
        secret_key,
        path_style: !options.virtual_hosted,
        ca_bundle: options.ca_bundle.clone(),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(60),
        max_attempts: 3,
        pool_max_idle: 32,
    };
    let client = build_client(&config, true).map_err(|e| SnapshotError::Usage(e.to_string()))?;
    if explicit.is_some() {
        return Ok(client);
    }
    let provider = shared.credentials_provider().ok_or_else(|| {
        SnapshotError::Usage("no S3 credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile".into())
    })?;
    provider.provide_credentials().await.map_err(|e| {
        SnapshotError::Usage(format!(
            "no S3 credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, web identity): {e}"
        ))
    })?;
    Ok(aws_sdk_s3::Client::from_conf(client.config().to_builder().credentials_provider(provider).build()))
}
