use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;

/// Shapes PUT requests the way RGW 16.2 understands them.
///
/// * The SDK sends no `Content-Length` on a bodiless PUT (UploadPartCopy); RGW answers 411.
/// * The SDK quotes `If-Match`/`If-None-Match` ETags on PutObject; RGW 16.2 compares the
///   client's value unquoted, so a quoted ETag never matches.
#[derive(Debug)]
pub(crate) struct RgwQuirks;

impl Intercept for RgwQuirks {
    fn name(&self) -> &'static str {
        "RgwQuirks"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        if request.method() != "PUT" {
            return Ok(());
        }
        if request.body().content_length() == Some(0) && request.headers().get("content-length").is_none() {
            request.headers_mut().insert("content-length", "0");
        }
        for name in ["if-match", "if-none-match"] {
            let unquoted =
                request.headers().get(name).and_then(|v| v.strip_prefix('"')?.strip_suffix('"')).map(str::to_owned);
            if let Some(value) = unquoted {
                request.headers_mut().insert(name, value);
            }
        }
        Ok(())
    }
}
