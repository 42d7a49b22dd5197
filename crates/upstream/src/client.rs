use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};

use crate::endpoint::FixedEndpoint;
use crate::passthrough::Passthrough;
use crate::request_metrics::RequestMetrics;
use crate::rgw_quirks::RgwQuirks;
use crate::{UpstreamConfig, UpstreamError};

/// Builds an S3 client for `config`; `retrying` selects whether transient failures are retried.
pub fn build_client(config: &UpstreamConfig, retrying: bool) -> Result<aws_sdk_s3::Client, UpstreamError> {
    let sdk_config = client_config(config, retrying)?;
    // without keys the client sends unsigned (anonymous) requests
    let sdk_config = if config.access_key.is_empty() {
        sdk_config.allow_no_auth()
    } else {
        sdk_config.credentials_provider(Credentials::new(
            &config.access_key,
            &config.secret_key,
            None,
            None,
            "cachegate-config",
        ))
    }
    .build();
    Ok(aws_sdk_s3::Client::from_conf(sdk_config))
}

/// The configuration [`build_client`] gives its client, without credentials: for callers
/// that bring their own provider (such as the AWS credential chain).
///
/// RGW 16.2 rejects the SDK's default aws-chunked uploads with trailing checksums, so
/// checksums are only computed where the operation requires them.
pub fn client_config(config: &UpstreamConfig, retrying: bool) -> Result<aws_sdk_s3::config::Builder, UpstreamError> {
    let endpoint = config.endpoint.trim_end_matches('/');
    let Some((_, authority_and_path)) =
        endpoint.split_once("://").filter(|(scheme, _)| matches!(*scheme, "http" | "https"))
    else {
        return Err(UpstreamError::BadEndpoint(config.endpoint.clone()));
    };
    // the S3 endpoint rules append the bucket to the endpoint's path as it is: a path
    // prefix needs its trailing slash, or `/s3` and `bucket` make `/s3bucket`
    let sdk_endpoint = if authority_and_path.contains('/') { format!("{endpoint}/") } else { endpoint.to_owned() };
    let mut trust = TrustStore::default();
    if let Some(path) = &config.ca_bundle {
        let pem = std::fs::read(path).map_err(|source| UpstreamError::CaBundle { path: path.clone(), source })?;
        trust = trust.with_pem_certificate(pem);
    }
    let tls_context =
        TlsContext::builder().with_trust_store(trust).build().map_err(|e| UpstreamError::Tls(e.to_string()))?;
    let http_client = aws_smithy_http_client::Builder::new()
        .pool_max_idle_per_host(config.pool_max_idle)
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(tls_context)
        .build_https();
    let attempts = if retrying { config.max_attempts.max(1) } else { 1 };
    Ok(aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        // still needed: the URL reaches the resolver through each request's params, and the fallback builds on it
        .endpoint_url(&sdk_endpoint)
        .endpoint_resolver(FixedEndpoint::new(&sdk_endpoint, &config.region, config.path_style))
        .region(Region::new(config.region.clone()))
        .force_path_style(config.path_style)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .timeout_config(
            TimeoutConfig::builder().connect_timeout(config.connect_timeout).read_timeout(config.read_timeout).build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(attempts))
        .http_client(http_client)
        .interceptor(RgwQuirks)
        .interceptor(Passthrough)
        .interceptor(RequestMetrics { upstream: endpoint.to_owned() }))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::{Arc, Mutex};

    use aws_sdk_s3::config::endpoint::Params;
    use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
    use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
    use aws_sdk_s3::error::BoxError;
    use aws_smithy_runtime_api::client::endpoint::EndpointResolverParams;

    use super::*;

    /// Keeps the endpoint params and URI of the request it stops before it is sent.
    #[derive(Debug, Clone, Default)]
    struct StopBeforeSending(Arc<Mutex<Option<(Params, String)>>>);

    impl Intercept for StopBeforeSending {
        fn name(&self) -> &'static str {
            "StopBeforeSending"
        }

        fn read_before_transmit(
            &self,
            context: &BeforeTransmitInterceptorContextRef<'_>,
            _runtime: &RuntimeComponents,
            cfg: &mut ConfigBag,
        ) -> Result<(), BoxError> {
            let params = cfg.load::<EndpointResolverParams>().and_then(|p| p.get::<Params>()).cloned();
            *self.0.lock().unwrap() = params.map(|params| (params, context.request().uri().to_owned()));
            Err("stopped by the test".into())
        }
    }

    /// The endpoint params and URI of a GetObject of `bucket/a/key` by a client of
    /// `config`, stopped before it leaves.
    pub(crate) async fn unsent_get_object(config: &UpstreamConfig) -> (Params, String) {
        let stop = StopBeforeSending::default();
        let sdk_config = client_config(config, false).unwrap().allow_no_auth().interceptor(stop.clone()).build();
        let client = aws_sdk_s3::Client::from_conf(sdk_config);
        assert!(client.get_object().bucket("bucket").key("a/key").send().await.is_err());
        stop.0.lock().unwrap().take().expect("request stopped before sending")
    }

    #[tokio::test]
    async fn an_endpoint_path_prefix_stays_a_path_segment() {
        for (endpoint, expected) in [
            ("http://rgw:7480", "http://rgw:7480/bucket/a/key?x-id=GetObject"),
            ("http://rgw:7480/", "http://rgw:7480/bucket/a/key?x-id=GetObject"),
            ("http://rgw:7480/s3", "http://rgw:7480/s3/bucket/a/key?x-id=GetObject"),
            ("http://rgw:7480/s3/", "http://rgw:7480/s3/bucket/a/key?x-id=GetObject"),
        ] {
            let config = UpstreamConfig { endpoint: endpoint.into(), ..UpstreamConfig::default() };
            let (_, uri) = unsent_get_object(&config).await;
            assert_eq!(uri, expected, "{endpoint}");
        }
    }

    #[test]
    fn rejects_endpoint_without_scheme() {
        let config = UpstreamConfig { endpoint: "rgw:7480".into(), ..UpstreamConfig::default() };
        assert!(matches!(build_client(&config, true), Err(UpstreamError::BadEndpoint(_))));
    }

    #[test]
    fn reports_missing_ca_bundle() {
        let config = UpstreamConfig {
            endpoint: "https://rgw".into(),
            ca_bundle: Some("/nonexistent/ca.pem".into()),
            ..UpstreamConfig::default()
        };
        assert!(matches!(build_client(&config, true), Err(UpstreamError::CaBundle { .. })));
    }
}
