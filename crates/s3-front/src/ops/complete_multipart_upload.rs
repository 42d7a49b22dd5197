use s3s::dto::{CompleteMultipartUploadInput, CompleteMultipartUploadOutput};
use s3s::{S3Request, S3Response, S3Result};
use s3s_aws::conv::{try_from_aws, try_into_aws};

use crate::Upstream;
use crate::gateway::Gateway;
use crate::upstream_error::{client_facing, from_sdk};

/// CompleteMultipartUpload, made whole for RGW 16.2.
///
/// RGW 16.2 may answer a successful completion with an empty `<ETag></ETag>`; passed
/// through `s3s-aws` that becomes a 500 although the object exists, which fails every
/// Nextcloud multipart and chunked upload. The ETag is then read back with a HEAD.
pub(crate) async fn complete_multipart_upload(
    _gateway: &Gateway,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let upstream = Upstream::of(&req)?;
    let input = req.input;
    let (bucket, key) = (input.bucket.clone(), input.key.clone());
    let sse =
        (input.sse_customer_algorithm.clone(), input.sse_customer_key.clone(), input.sse_customer_key_md5.clone());
    let mut output = upstream
        .client(&req.method)
        .complete_multipart_upload()
        .bucket(input.bucket)
        .key(input.key)
        .upload_id(input.upload_id)
        .set_multipart_upload(try_into_aws(input.multipart_upload)?)
        .set_checksum_crc32(input.checksum_crc32)
        .set_checksum_crc32_c(input.checksum_crc32c)
        .set_checksum_crc64_nvme(input.checksum_crc64nvme)
        .set_checksum_sha1(input.checksum_sha1)
        .set_checksum_sha256(input.checksum_sha256)
        .set_checksum_type(try_into_aws(input.checksum_type)?)
        .set_expected_bucket_owner(input.expected_bucket_owner)
        .set_if_match(try_into_aws(input.if_match)?)
        .set_if_none_match(try_into_aws(input.if_none_match)?)
        .set_mpu_object_size(input.mpu_object_size)
        .set_request_payer(try_into_aws(input.request_payer)?)
        .set_sse_customer_algorithm(input.sse_customer_algorithm)
        .set_sse_customer_key(input.sse_customer_key)
        .set_sse_customer_key_md5(input.sse_customer_key_md5)
        .send()
        .await
        .map_err(|e| client_facing(from_sdk(e), &upstream, None))?;

    if output.e_tag.as_deref().is_none_or(|etag| etag.trim_matches('"').is_empty()) {
        let head = upstream
            .client(&http::Method::HEAD)
            .head_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(output.version_id.clone())
            .set_sse_customer_algorithm(sse.0)
            .set_sse_customer_key(sse.1)
            .set_sse_customer_key_md5(sse.2)
            .send()
            .await
            .map_err(|e| client_facing(from_sdk(e), &upstream, None))?;
        output.e_tag = head.e_tag;
    }
    Ok(S3Response::new(try_from_aws(output)?))
}
