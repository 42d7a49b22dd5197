use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;

/// Sends `Content-Length: 0` on a bodiless PUT.
///
/// The SDK leaves the header out for operations without a body such as UploadPartCopy,
/// and RGW 16.2 refuses a PUT without a length with 411 `MissingContentLength`.
#[derive(Debug)]
pub(crate) struct EmptyPutLength;

impl Intercept for EmptyPutLength {
    fn name(&self) -> &'static str {
        "EmptyPutLength"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let bodiless = request.body().content_length() == Some(0);
        if request.method() == "PUT" && bodiless && request.headers().get("content-length").is_none() {
            request.headers_mut().insert("content-length", "0");
        }
        Ok(())
    }
}
