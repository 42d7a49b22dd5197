"""Tenant isolation: a tenant reaches only the buckets of its patterns, whatever the operation,
and a refused request leaves RGW untouched. All buckets belong to the same RGW user, so every
one of these refusals is the gateway's doing."""

import pytest

from s3util import Outcome, assert_s3_error, exists, put_and_verify, read


def test_list_buckets_shows_only_the_tenants_buckets(alpha_s3, beta_s3, alpha_bucket, beta_bucket):
    alpha_sees = {b["Name"] for b in alpha_s3.list_buckets()["Buckets"]}
    beta_sees = {b["Name"] for b in beta_s3.list_buckets()["Buckets"]}

    assert alpha_bucket in alpha_sees
    assert all(name.startswith("alpha-") for name in alpha_sees), alpha_sees
    assert beta_sees == {beta_bucket}


def test_both_keys_of_a_tenant_work(alpha, alpha_second_key, rgw_s3, alpha_bucket, prefix):
    """Key rotation: the old and the new key pair are valid at the same time."""
    for target in (alpha, alpha_second_key):
        put_and_verify(target.client(), rgw_s3, alpha_bucket, prefix + target.keys.access_key,
                       target.keys.access_key.encode())


# Every operation alpha might try on beta's bucket; each must be refused with AccessDenied.
FOREIGN_BUCKET_CALLS = {
    "GetObject": lambda s3, bucket, key: s3.get_object(Bucket=bucket, Key=key),
    "HeadObject": lambda s3, bucket, key: s3.head_object(Bucket=bucket, Key=key),
    "PutObject": lambda s3, bucket, key: s3.put_object(Bucket=bucket, Key="alpha-was-here", Body=b"x"),
    "DeleteObject": lambda s3, bucket, key: s3.delete_object(Bucket=bucket, Key=key),
    "DeleteObjects": lambda s3, bucket, key: s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": key}]}),
    "ListObjectsV2": lambda s3, bucket, key: s3.list_objects_v2(Bucket=bucket),
    "ListObjects": lambda s3, bucket, key: s3.list_objects(Bucket=bucket),
    "ListObjectVersions": lambda s3, bucket, key: s3.list_object_versions(Bucket=bucket),
    "HeadBucket": lambda s3, bucket, key: s3.head_bucket(Bucket=bucket),
    "GetObjectAcl": lambda s3, bucket, key: s3.get_object_acl(Bucket=bucket, Key=key),
    "PutObjectTagging": lambda s3, bucket, key: s3.put_object_tagging(
        Bucket=bucket, Key=key, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}),
    "CreateMultipartUpload": lambda s3, bucket, key: s3.create_multipart_upload(
        Bucket=bucket, Key="alpha-was-here"),
    "ListMultipartUploads": lambda s3, bucket, key: s3.list_multipart_uploads(Bucket=bucket),
    "DeleteBucket": lambda s3, bucket, key: s3.delete_bucket(Bucket=bucket),
}
BODILESS = {"HeadObject", "HeadBucket"}  # HEAD answers carry no error document


@pytest.mark.parametrize("operation", sorted(FOREIGN_BUCKET_CALLS))
def test_alpha_cannot_use_betas_bucket(alpha_s3, rgw_s3, beta_bucket, beta_secret_key, operation):
    outcome = Outcome.of(lambda: FOREIGN_BUCKET_CALLS[operation](alpha_s3, beta_bucket, beta_secret_key))

    assert_s3_error(outcome, 403, None if operation in BODILESS else "AccessDenied")
    # beta's bucket is exactly as it was
    assert read(rgw_s3, beta_bucket, beta_secret_key) == b"beta's data"
    assert not exists(rgw_s3, beta_bucket, "alpha-was-here")
    assert not rgw_s3.list_multipart_uploads(Bucket=beta_bucket).get("Uploads")


def test_beta_cannot_use_alphas_bucket(beta_s3, rgw_s3, alpha_bucket, prefix):
    rgw_s3.put_object(Bucket=alpha_bucket, Key=prefix + "object", Body=b"alpha's")

    read_attempt = Outcome.of(lambda: beta_s3.get_object(Bucket=alpha_bucket, Key=prefix + "object"))
    list_attempt = Outcome.of(lambda: beta_s3.list_objects_v2(Bucket=alpha_bucket))

    assert_s3_error(read_attempt, 403, "AccessDenied")
    assert_s3_error(list_attempt, 403, "AccessDenied")


def test_bucket_merely_starting_like_a_pattern_is_refused(alpha_s3, run_id):
    """"alpha-*" must not match "alphabet-...": the gateway refuses it (403), it does not ask
    RGW (which would say 404 NoSuchBucket)."""
    outcome = Outcome.of(lambda: alpha_s3.list_objects_v2(Bucket=f"alphabet-{run_id}"))
    assert_s3_error(outcome, 403, "AccessDenied")


# CopySource spellings clients use: boto3 dict (url-encoded "bucket/key"), with a leading slash.
COPY_SOURCE_FORMS = {
    "dict": lambda bucket, key: {"Bucket": bucket, "Key": key},
    "leading-slash": lambda bucket, key: f"/{bucket}/{key}",
}


@pytest.mark.parametrize("form", sorted(COPY_SOURCE_FORMS))
def test_copy_from_another_tenants_bucket_is_refused(
        alpha_s3, rgw_s3, alpha_bucket, beta_bucket, beta_secret_key, prefix, form):
    target_key = prefix + "stolen"
    source = COPY_SOURCE_FORMS[form](beta_bucket, beta_secret_key)

    outcome = Outcome.of(lambda: alpha_s3.copy_object(
        Bucket=alpha_bucket, Key=target_key, CopySource=source))

    assert_s3_error(outcome, 403, "AccessDenied")
    assert not exists(rgw_s3, alpha_bucket, target_key)


def test_upload_part_copy_from_another_tenants_bucket_is_refused(
        alpha_s3, rgw_s3, alpha_bucket, beta_bucket, beta_secret_key, prefix):
    key = prefix + "stolen"
    upload_id = alpha_s3.create_multipart_upload(Bucket=alpha_bucket, Key=key)["UploadId"]
    try:
        outcome = Outcome.of(lambda: alpha_s3.upload_part_copy(
            Bucket=alpha_bucket, Key=key, UploadId=upload_id, PartNumber=1,
            CopySource={"Bucket": beta_bucket, "Key": beta_secret_key}))

        assert_s3_error(outcome, 403, "AccessDenied")
        assert not rgw_s3.list_parts(Bucket=alpha_bucket, Key=key, UploadId=upload_id).get("Parts")
    finally:
        alpha_s3.abort_multipart_upload(Bucket=alpha_bucket, Key=key, UploadId=upload_id)


def test_create_bucket_outside_the_tenants_patterns_is_refused(alpha_s3, rgw_s3, run_id):
    name = f"beta-{run_id}-by-alpha"

    outcome = Outcome.of(lambda: alpha_s3.create_bucket(Bucket=name))

    assert_s3_error(outcome, 403, "AccessDenied")
    assert name not in {b["Name"] for b in rgw_s3.list_buckets()["Buckets"]}
