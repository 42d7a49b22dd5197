use std::sync::Arc;
use std::time::Duration;

use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};

use cachegate_cache::{CacheKey, CacheStore, Consistency};
use cachegate_upstream::exchange;

use crate::RequestContext;
use crate::client_body::BodyWatch;
use crate::ops;
use crate::upstream::Upstream;
use crate::upstream_error::client_facing;
use crate::writes::{Writes, Written};

/// The disk cache as the gateway uses it.
#[derive(Clone)]
pub struct CacheSetup {
    /// The store.
    pub store: Arc<CacheStore>,
    /// The consistency mode of tenants and buckets that name none.
    pub default_mode: Consistency,
    /// How old an entry may be served when the upstream fails.
    pub max_stale: Duration,
}

/// The S3 implementation behind s3s: by the time an operation runs here the request is
/// verified and authorized, and its tenant is attached (see [`crate::access`]).
///
/// Operations the gateway shapes itself live in [`crate::ops`] (GET and HEAD go through
/// the cache there); uploads are verified on their way ([`BodyWatch`]); every other
/// operation is forwarded unchanged to the tenant's upstream through `s3s-aws`. Writes
/// make the cache forget what they change, before and after they are forwarded.
#[derive(Clone)]
pub(crate) struct Gateway {
    pub(crate) cache: Option<CacheSetup>,
}

impl Gateway {
    fn forget(&self, upstream: &Upstream, written: Option<&Written>) {
        let (Some(cache), Some(written)) = (&self.cache, written) else { return };
        match written {
            Written::Objects { bucket, keys } => {
                for (key, version_id) in keys {
                    let key = CacheKey {
                        upstream: upstream.name.clone(),
                        bucket: bucket.clone(),
                        key: key.clone(),
                        version_id: version_id.clone(),
                    };
                    cache.store.invalidate(&key);
                }
            }
            Written::Bucket(bucket) => cache.store.invalidate_bucket(&upstream.name, bucket),
        }
    }
}

/// The S3 operation name of `req`, as recorded by [`crate::access`].
fn operation_name<T>(req: &S3Request<T>) -> &str {
    req.extensions.get::<Arc<RequestContext>>().map_or("-", |c| c.operation())
}

/// `Some(what the write changes)` for operations marked `[writes]`, else `None`.
macro_rules! written {
    (writes $input:expr) => {
        Some(Writes::written($input))
    };
    ($input:expr) => {
        None::<Written>
    };
}

/// How each kind of operation runs: `own` ones in [`crate::ops`], `streamed` ones with
/// their client body verified, `forwarded` ones unchanged. Each is a boxed future, made
/// before it is wrapped: every layer of `async` around a future holds it twice, which
/// made a cache hit move a 17 KiB future instead of its 4 KiB.
macro_rules! run {
    (own, $gateway:expr, $upstream:ident, $req:ident, $op:ident) => {
        Box::pin(ops::$op($gateway, $req))
    };
    (streamed, $gateway:expr, $upstream:ident, $req:ident, $op:ident) => {
        Box::pin(async {
            let mut $req = $req;
            let watch = BodyWatch::attach(&mut $req);
            let result = $upstream.proxy(&$req.method).$op($req).await;
            result.map_err(|e| client_facing(e, &$upstream, Some(&watch)))
        })
    };
    (forwarded, $gateway:expr, $upstream:ident, $req:ident, $op:ident) => {
        Box::pin(async {
            let result = $upstream.proxy(&$req.method).$op($req).await;
            result.map_err(|e| client_facing(e, &$upstream, None))
        })
    };
}

/// Implements [`S3`] for [`Gateway`] from lists of `operation: Input => Output`, grouped
/// by how they run (see `run!`); `[writes]` marks operations that change objects. Headers
/// and query parameters the typed model drops pass through ([`exchange`]).
macro_rules! s3_operations {
    ($($kind:ident { $($op:ident: $in:ident => $out:ident $([$writes:ident])?,)* })*) => {
        #[async_trait::async_trait]
        impl S3 for Gateway {
            $($(
                async fn $op(&self, req: S3Request<$in>) -> S3Result<S3Response<$out>> {
                    let upstream = Upstream::of(&req)?;
                    let written = written!($($writes)? &req.input);
                    let exchange = exchange(operation_name(&req), &req.headers, &req.uri);
                    self.forget(&upstream, written.as_ref());
                    let (result, extra_headers) = exchange.run(run!($kind, self, upstream, req, $op)).await;
                    self.forget(&upstream, written.as_ref());
                    result.map(|mut response| {
                        response.headers.extend(extra_headers);
                        response
                    })
                }
            )*)*
        }
    };
}

s3_operations! {
    own {
        complete_multipart_upload: CompleteMultipartUploadInput => CompleteMultipartUploadOutput [writes],
        get_object: GetObjectInput => GetObjectOutput,
        head_object: HeadObjectInput => HeadObjectOutput,
        list_buckets: ListBucketsInput => ListBucketsOutput,
    }
    streamed {
        put_object: PutObjectInput => PutObjectOutput [writes],
        upload_part: UploadPartInput => UploadPartOutput,
    }
    forwarded {
        abort_multipart_upload: AbortMultipartUploadInput => AbortMultipartUploadOutput,
        copy_object: CopyObjectInput => CopyObjectOutput [writes],
        create_bucket: CreateBucketInput => CreateBucketOutput,
        create_bucket_metadata_table_configuration: CreateBucketMetadataTableConfigurationInput => CreateBucketMetadataTableConfigurationOutput,
        create_multipart_upload: CreateMultipartUploadInput => CreateMultipartUploadOutput,
        create_session: CreateSessionInput => CreateSessionOutput,
        delete_bucket: DeleteBucketInput => DeleteBucketOutput [writes],
        delete_bucket_analytics_configuration: DeleteBucketAnalyticsConfigurationInput => DeleteBucketAnalyticsConfigurationOutput,
        delete_bucket_cors: DeleteBucketCorsInput => DeleteBucketCorsOutput,
        delete_bucket_encryption: DeleteBucketEncryptionInput => DeleteBucketEncryptionOutput,
        delete_bucket_intelligent_tiering_configuration: DeleteBucketIntelligentTieringConfigurationInput => DeleteBucketIntelligentTieringConfigurationOutput,
        delete_bucket_inventory_configuration: DeleteBucketInventoryConfigurationInput => DeleteBucketInventoryConfigurationOutput,
        delete_bucket_lifecycle: DeleteBucketLifecycleInput => DeleteBucketLifecycleOutput,
        delete_bucket_metadata_table_configuration: DeleteBucketMetadataTableConfigurationInput => DeleteBucketMetadataTableConfigurationOutput,
        delete_bucket_metrics_configuration: DeleteBucketMetricsConfigurationInput => DeleteBucketMetricsConfigurationOutput,
        delete_bucket_ownership_controls: DeleteBucketOwnershipControlsInput => DeleteBucketOwnershipControlsOutput,
        delete_bucket_policy: DeleteBucketPolicyInput => DeleteBucketPolicyOutput,
        delete_bucket_replication: DeleteBucketReplicationInput => DeleteBucketReplicationOutput,
        delete_bucket_tagging: DeleteBucketTaggingInput => DeleteBucketTaggingOutput,
        delete_bucket_website: DeleteBucketWebsiteInput => DeleteBucketWebsiteOutput,
        delete_object: DeleteObjectInput => DeleteObjectOutput [writes],
        delete_object_tagging: DeleteObjectTaggingInput => DeleteObjectTaggingOutput,
        delete_objects: DeleteObjectsInput => DeleteObjectsOutput [writes],
        delete_public_access_block: DeletePublicAccessBlockInput => DeletePublicAccessBlockOutput,
        get_bucket_accelerate_configuration: GetBucketAccelerateConfigurationInput => GetBucketAccelerateConfigurationOutput,
        get_bucket_acl: GetBucketAclInput => GetBucketAclOutput,
        get_bucket_analytics_configuration: GetBucketAnalyticsConfigurationInput => GetBucketAnalyticsConfigurationOutput,
        get_bucket_cors: GetBucketCorsInput => GetBucketCorsOutput,
        get_bucket_encryption: GetBucketEncryptionInput => GetBucketEncryptionOutput,
        get_bucket_intelligent_tiering_configuration: GetBucketIntelligentTieringConfigurationInput => GetBucketIntelligentTieringConfigurationOutput,
        get_bucket_inventory_configuration: GetBucketInventoryConfigurationInput => GetBucketInventoryConfigurationOutput,
        get_bucket_lifecycle_configuration: GetBucketLifecycleConfigurationInput => GetBucketLifecycleConfigurationOutput,
        get_bucket_location: GetBucketLocationInput => GetBucketLocationOutput,
        get_bucket_logging: GetBucketLoggingInput => GetBucketLoggingOutput,
        get_bucket_metadata_table_configuration: GetBucketMetadataTableConfigurationInput => GetBucketMetadataTableConfigurationOutput,
        get_bucket_metrics_configuration: GetBucketMetricsConfigurationInput => GetBucketMetricsConfigurationOutput,
        get_bucket_notification_configuration: GetBucketNotificationConfigurationInput => GetBucketNotificationConfigurationOutput,
        get_bucket_ownership_controls: GetBucketOwnershipControlsInput => GetBucketOwnershipControlsOutput,
        get_bucket_policy: GetBucketPolicyInput => GetBucketPolicyOutput,
        get_bucket_policy_status: GetBucketPolicyStatusInput => GetBucketPolicyStatusOutput,
        get_bucket_replication: GetBucketReplicationInput => GetBucketReplicationOutput,
        get_bucket_request_payment: GetBucketRequestPaymentInput => GetBucketRequestPaymentOutput,
        get_bucket_tagging: GetBucketTaggingInput => GetBucketTaggingOutput,
        get_bucket_versioning: GetBucketVersioningInput => GetBucketVersioningOutput,
        get_bucket_website: GetBucketWebsiteInput => GetBucketWebsiteOutput,
        get_object_acl: GetObjectAclInput => GetObjectAclOutput,
        get_object_attributes: GetObjectAttributesInput => GetObjectAttributesOutput,
        get_object_legal_hold: GetObjectLegalHoldInput => GetObjectLegalHoldOutput,
        get_object_lock_configuration: GetObjectLockConfigurationInput => GetObjectLockConfigurationOutput,
        get_object_retention: GetObjectRetentionInput => GetObjectRetentionOutput,
        get_object_tagging: GetObjectTaggingInput => GetObjectTaggingOutput,
        get_object_torrent: GetObjectTorrentInput => GetObjectTorrentOutput,
        get_public_access_block: GetPublicAccessBlockInput => GetPublicAccessBlockOutput,
        head_bucket: HeadBucketInput => HeadBucketOutput,
        list_bucket_analytics_configurations: ListBucketAnalyticsConfigurationsInput => ListBucketAnalyticsConfigurationsOutput,
        list_bucket_intelligent_tiering_configurations: ListBucketIntelligentTieringConfigurationsInput => ListBucketIntelligentTieringConfigurationsOutput,
        list_bucket_inventory_configurations: ListBucketInventoryConfigurationsInput => ListBucketInventoryConfigurationsOutput,
        list_bucket_metrics_configurations: ListBucketMetricsConfigurationsInput => ListBucketMetricsConfigurationsOutput,
        list_directory_buckets: ListDirectoryBucketsInput => ListDirectoryBucketsOutput,
        list_multipart_uploads: ListMultipartUploadsInput => ListMultipartUploadsOutput,
        list_object_versions: ListObjectVersionsInput => ListObjectVersionsOutput,
        list_objects: ListObjectsInput => ListObjectsOutput,
        list_objects_v2: ListObjectsV2Input => ListObjectsV2Output,
        list_parts: ListPartsInput => ListPartsOutput,
        put_bucket_accelerate_configuration: PutBucketAccelerateConfigurationInput => PutBucketAccelerateConfigurationOutput,
        put_bucket_acl: PutBucketAclInput => PutBucketAclOutput,
        put_bucket_analytics_configuration: PutBucketAnalyticsConfigurationInput => PutBucketAnalyticsConfigurationOutput,
        put_bucket_cors: PutBucketCorsInput => PutBucketCorsOutput,
        put_bucket_encryption: PutBucketEncryptionInput => PutBucketEncryptionOutput,
        put_bucket_intelligent_tiering_configuration: PutBucketIntelligentTieringConfigurationInput => PutBucketIntelligentTieringConfigurationOutput,
        put_bucket_inventory_configuration: PutBucketInventoryConfigurationInput => PutBucketInventoryConfigurationOutput,
        put_bucket_lifecycle_configuration: PutBucketLifecycleConfigurationInput => PutBucketLifecycleConfigurationOutput,
        put_bucket_logging: PutBucketLoggingInput => PutBucketLoggingOutput,
        put_bucket_metrics_configuration: PutBucketMetricsConfigurationInput => PutBucketMetricsConfigurationOutput,
        put_bucket_notification_configuration: PutBucketNotificationConfigurationInput => PutBucketNotificationConfigurationOutput,
        put_bucket_ownership_controls: PutBucketOwnershipControlsInput => PutBucketOwnershipControlsOutput,
        put_bucket_policy: PutBucketPolicyInput => PutBucketPolicyOutput,
        put_bucket_replication: PutBucketReplicationInput => PutBucketReplicationOutput,
        put_bucket_request_payment: PutBucketRequestPaymentInput => PutBucketRequestPaymentOutput,
        put_bucket_tagging: PutBucketTaggingInput => PutBucketTaggingOutput,
        put_bucket_versioning: PutBucketVersioningInput => PutBucketVersioningOutput,
        put_bucket_website: PutBucketWebsiteInput => PutBucketWebsiteOutput,
        put_object_acl: PutObjectAclInput => PutObjectAclOutput,
        put_object_legal_hold: PutObjectLegalHoldInput => PutObjectLegalHoldOutput,
        put_object_lock_configuration: PutObjectLockConfigurationInput => PutObjectLockConfigurationOutput,
        put_object_retention: PutObjectRetentionInput => PutObjectRetentionOutput,
        put_object_tagging: PutObjectTaggingInput => PutObjectTaggingOutput,
        put_public_access_block: PutPublicAccessBlockInput => PutPublicAccessBlockOutput,
        restore_object: RestoreObjectInput => RestoreObjectOutput,
        select_object_content: SelectObjectContentInput => SelectObjectContentOutput,
        upload_part_copy: UploadPartCopyInput => UploadPartCopyOutput,
        write_get_object_response: WriteGetObjectResponseInput => WriteGetObjectResponseOutput,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_get_objects_future_is_small_to_move() {
        let gateway = Gateway { cache: None };
        let req = crate::upstream::internal_request(GetObjectInput::default());
        // every request, hits included, builds and moves this future (17 KiB when the
        // operation's own future sat inline in it)
        let future = gateway.get_object(req);
        assert!(std::mem::size_of_val(&*future) <= 4096, "{} bytes", std::mem::size_of_val(&*future));
    }
}
