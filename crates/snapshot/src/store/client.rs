use std::path::PathBuf;

use aws_config::meta::region::RegionProviderChain;
use aws_sdk_s3::config::ProvideCredentials;
use aws_sdk_s3::config::{BehaviorVersion, Region};
use cachegate_upstream::{UpstreamConfig, UpstreamError, build_client, client_config};

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
        .region()
        .await
        .unwrap_or_else(|| Region::new("us-east-1"));
    let shared = aws_config::defaults(BehaviorVersion::latest()).region(region.clone()).load().await;
    let endpoint = options
        .endpoint
        .clone()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok())
        .or_else(|| shared.endpoint_url().map(str::to_owned))
        .ok_or_else(|| SnapshotError::Usage("no S3 endpoint: give --endpoint or set AWS_ENDPOINT_URL".into()))?;
    let config = UpstreamConfig {
        endpoint,
        region: region.to_string(),
        path_style: !options.virtual_hosted,
        ca_bundle: options.ca_bundle.clone(),
        pool_max_idle: 32,
        ..UpstreamConfig::default()
    };
    let usage = |e: UpstreamError| SnapshotError::Usage(e.to_string());
    match (&options.access_key, &options.secret_key) {
        (Some(access_key), Some(secret_key)) => {
            let config = UpstreamConfig { access_key: access_key.clone(), secret_key: secret_key.clone(), ..config };
            build_client(&config, true).map_err(usage)
        }
        (None, None) => {
            let provider = shared.credentials_provider().ok_or_else(|| {
                SnapshotError::Usage(
                    "no S3 credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile".into(),
                )
            })?;
            // resolved once up front only to fail with one clear line; the client resolves
            // (and refreshes) them through its own identity cache
            provider.provide_credentials().await.map_err(|e| {
                SnapshotError::Usage(format!(
                    "no S3 credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, web identity): {e}"
                ))
            })?;
            let sdk_config = client_config(&config, true).map_err(usage)?.credentials_provider(provider).build();
            Ok(aws_sdk_s3::Client::from_conf(sdk_config))
        }
        _ => Err(SnapshotError::Usage("--access-key and the secret key go together".into())),
    }
}
