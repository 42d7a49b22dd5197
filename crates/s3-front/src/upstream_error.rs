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
pub(crate) fn client_facing(mut err: S3Error, upstream: &Upstream, body: Option<&BodyWatch>) -> S3Error {
    if let Some(client_error) = body.and_then(BodyWatch::client_error) {
        return client_error;
    }
    let count = |kind: &'static str| {
        metrics::counter!("cachegate_upstream_errors_total", "upstream" => upstream.name.clone(), "kind" => kind)
            .increment(1);
    };
    // s3s-aws keeps the SDK error as source; its text names the failure kind
    match err.source().map(ToString::to_string).as_deref() {
        Some("service error") => {
            let status = err.status_code().unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if status == StatusCode::NOT_MODIFIED {
                return S3Error::new(S3ErrorCode::NotModified);
            }
            if status.is_success() {
                // the upstream answered, but not in a form the S3 model can read
                count("internal");
                warn!(upstream = %upstream.name, error = %chain(&err), "upstream answer not understood");
                let mut unreadable =
                    S3Error::with_message(S3ErrorCode::InternalError, "The upstream answer could not be read.");
                unreadable.set_status_code(StatusCode::BAD_GATEWAY);
                return unreadable;
            }
            if status.is_server_error() {
                count("5xx");
            }
            err
        }
        Some("dispatch failure" | "request has timed out") => {
            count("unreachable");
            warn!(upstream = %upstream.name, error = %chain(&err), "upstream unreachable");
            let mut unavailable =
                S3Error::with_message(S3ErrorCode::ServiceUnavailable, "The upstream object store is unreachable.");
            unavailable.set_status_code(StatusCode::SERVICE_UNAVAILABLE);
            unavailable
        }
        _ => {
            count("internal");
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
        if let Some(code) = meta.code().and_then(|c| S3ErrorCode::from_bytes(c.as_bytes())) {
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

/// The error and its causes on one line.
fn chain(err: &S3Error) -> String {
    let mut text = format!("{}: {}", err.code().as_str(), err.message().unwrap_or_default());
    let mut source = err.source().map(|e| e as &dyn std::error::Error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
