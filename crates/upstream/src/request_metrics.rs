use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

/// Counts every request sent upstream (each attempt), by operation:
/// `cachegate_upstream_requests_total{upstream, operation}` shows what the cache saves.
#[derive(Debug)]
pub(crate) struct RequestMetrics {
    pub(crate) upstream: String,
}

impl Intercept for RequestMetrics {
    fn name(&self) -> &'static str {
        "RequestMetrics"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg.load::<Metadata>().map_or_else(|| "unknown".to_owned(), |m| m.name().to_owned());
        metrics::counter!("cachegate_upstream_requests_total", "upstream" => self.upstream.clone(), "operation" => operation)
            .increment(1);
        Ok(())
    }
}
