use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use http::StatusCode;
use s3s::{S3Error, S3ErrorCode};
use tracing::warn;

use crate::Upstream;
use crate::client_body::BodyWatch;

/// Turns the error of an upstream call into the error the client should see.
///
/// * the client's own body failed verification → that client error (4xx), never a 5xx;
/// * RGW could not be reached or timed out → 503 `ServiceUnavailable`, logged;
/// * RGW answered with an error → its code and status, unchanged (a bare 304 becomes
///   `NotModified`, since RGW sends no body with it).
pub(crate) fn client_facing(
    mut err: S3Error,
    upstream: &Upstream,
    body: Option<&BodyWatch>,
) -> S3Error {
    if let Some(client_error) = body.and_then(BodyWatch::client_error) {
        return client_error;
    }
    match err.status_code() {
        Some(StatusCode::NOT_MODIFIED) => S3Error::new(S3ErrorCode::NotModified),
        Some(status) => {
            if status.is_server_error() {
                metrics::counter!("cachegate_upstream_errors_total", "upstream" => upstream.name.clone(), "kind" => "5xx").increment(1);
            }
            err
        }
        None if is_unreachable(&err) => {
            metrics::counter!("cachegate_upstream_errors_total", "upstream" => upstream.name.clone(), "kind" => "unreachable").increment(1);
            warn!(upstream = %upstream.name, error = %chain(&err), "upstream unreachable");
            let mut unavailable = S3Error::with_message(
                S3ErrorCode::ServiceUnavailable,
                "The upstream object store is unreachable.",
            );
            unavailable.set_status_code(StatusCode::SERVICE_UNAVAILABLE);
            unavailable
        }
        None => {
            metrics::counter!("cachegate_upstream_errors_total", "upstream" => upstream.name.clone(), "kind" => "internal").increment(1);
            warn!(upstream = %upstream.name, error = %chain(&err), "upstream call failed");
            err.set_status_code(StatusCode::INTERNAL_SERVER_ERROR);
            err
        }
    }
}

/// Converts an error of a call the gateway made with the SDK itself, as `s3s-aws` does.
pub(crate) fn from_sdk<E>(sdk: SdkError<E, HttpResponse>) -> S3Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mut err = S3Error::new(S3ErrorCode::InternalError);
    if let SdkError::ServiceError(service) = &sdk {
        let meta = service.err().meta();
        if let Some(code) = meta
            .code()
            .and_then(|c| S3ErrorCode::from_bytes(c.as_bytes()))
        {
            err.set_code(code);
        }
        if let Some(message) = meta.message() {
            err.set_message(message.to_owned());
        }
        if let Ok(status) = StatusCode::from_u16(service.raw().status().as_u16()) {
            err.set_status_code(status);
        }
    }
    err.set_source(Box::new(sdk));
    err
}

/// Transport failures carry the SDK's error as source, whose text names the failure kind.
fn is_unreachable(err: &S3Error) -> bool {
    err.source().is_some_and(|source| {
        let kind = source.to_string();
        kind == "dispatch failure" || kind == "request has timed out"
    })
}

/// The error and its causes on one line.
fn chain(err: &S3Error) -> String {
    let mut text = format!(
        "{}: {}",
        err.code().as_str(),
        err.message().unwrap_or_default()
    );
    let mut source = err.source().map(|e| e as &dyn std::error::Error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
