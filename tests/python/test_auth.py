"""Signature verification at the gateway: the auth forms that must work, how bad requests are
refused, and that a refused request never reaches RGW (nothing gets stored)."""

import datetime
import hashlib
import os

import pytest
import requests

from s3util import (
    MiB,
    Keys,
    Outcome,
    assert_s3_error,
    clock_offset,
    crc32_base64,
    exists,
    force_checksum_trailer,
    put_and_verify,
    read,
    signed_request,
    streaming_signed_put,
    unsigned_trailer_put,
)

UNKNOWN_KEYS = Keys("UNKNOWNKEY0000000000", "unknownsecret000000000000000000000000000")


def _bad_keys(kind: str, genuine: Keys) -> Keys:
    if kind == "unknown-access-key":
        return UNKNOWN_KEYS
    return Keys(genuine.access_key, genuine.secret_key[::-1])  # "wrong-secret"


# ------------------------------------------------------------------- refused requests


@pytest.mark.parametrize("signature", ["v4", "v2"])
@pytest.mark.parametrize("kind, code", [
    ("unknown-access-key", "InvalidAccessKeyId"),
    ("wrong-secret", "SignatureDoesNotMatch"),
])
def test_bad_credentials_are_refused_before_reaching_rgw(
        alpha, rgw_s3, alpha_bucket, prefix, signature, kind, code):
    intruder = alpha.with_keys(_bad_keys(kind, alpha.keys))
    key = prefix + "object"

    outcome = signed_request(intruder, "PUT", alpha_bucket, key, body=b"must not be stored",
                             signature=signature)

    assert_s3_error(outcome, 403, code)
    assert not exists(rgw_s3, alpha_bucket, key)


def test_unknown_access_key_is_refused_on_list_buckets(alpha):
    outcome = signed_request(alpha.with_keys(UNKNOWN_KEYS), "GET", "")
    assert_s3_error(outcome, 403, "InvalidAccessKeyId")


def test_anonymous_request_gets_no_upstream_credentials(alpha, rgw_s3, alpha_bucket, prefix):
    key = prefix + "object"
    rgw_s3.put_object(Bucket=alpha_bucket, Key=key, Body=b"private")

    read_attempt = Outcome.of_http(requests.get(alpha.url(alpha_bucket, key), timeout=10))
    write_attempt = Outcome.of_http(
        requests.put(alpha.url(alpha_bucket, prefix + "written"), data=b"x", timeout=10))

    assert_s3_error(read_attempt, 403, "AccessDenied")
    assert_s3_error(write_attempt, 403, "AccessDenied")
    assert not exists(rgw_s3, alpha_bucket, prefix + "written")


@pytest.mark.parametrize("size", [100, 3 * MiB], ids=["small", "3MiB"])
def test_payload_hash_mismatch_is_refused_and_nothing_stored(alpha, rgw_s3, alpha_bucket, prefix, size):
    key = prefix + "object"
    body = os.urandom(size)

    outcome = signed_request(alpha, "PUT", alpha_bucket, key, body=body,
                             payload_hash=hashlib.sha256(b"some other body").hexdigest())

    assert_s3_error(outcome, 400, "XAmzContentSHA256Mismatch")
    assert not exists(rgw_s3, alpha_bucket, key)


@pytest.mark.parametrize("signature", ["v4", "v2"])
@pytest.mark.parametrize("minutes", [-20, 20])
def test_clock_skew_beyond_15_minutes_is_refused(alpha, alpha_bucket, minutes, signature):
    with clock_offset(datetime.timedelta(minutes=minutes)):
        outcome = signed_request(alpha, "GET", alpha_bucket, signature=signature)
    assert_s3_error(outcome, 403, "RequestTimeTooSkewed")


def test_clock_skew_within_15_minutes_is_tolerated(alpha, alpha_bucket):
    with clock_offset(datetime.timedelta(minutes=-10)):
        outcome = signed_request(alpha, "GET", alpha_bucket)
    assert outcome.status == 200, outcome.summary()


# -------------------------------------------------------------- header-signed requests


def test_botocore_default_put_over_http_signs_the_whole_payload(alpha, rgw_s3, alpha_bucket, prefix):
    """What boto3 sends by default (request_checksum_calculation="when_supported") over plain
    http: SigV4 with the payload's SHA-256 and the CRC32 checksum as a header. No aws-chunked
    body: botocore only moves the checksum to a trailer over https."""
    client = alpha.client(request_checksum_calculation="when_supported")
    data = os.urandom(300_000)

    sent = put_and_verify(client, rgw_s3, alpha_bucket, prefix + "object", data)

    assert sent["authorization"].startswith("AWS4-HMAC-SHA256 ")
    assert sent["x-amz-content-sha256"] == hashlib.sha256(data).hexdigest()
    assert sent["x-amz-checksum-crc32"] == crc32_base64(data)
    assert "content-encoding" not in sent


def test_unsigned_payload(alpha, rgw_s3, alpha_bucket, prefix):
    client = alpha.client(s3={"payload_signing_enabled": False})

    sent = put_and_verify(client, rgw_s3, alpha_bucket, prefix + "object", os.urandom(50_000))

    assert sent["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"


def test_sigv2_header_auth(alpha, rgw_s3, alpha_bucket, prefix):
    client = alpha.client("s3")
    key = prefix + "object"

    sent = put_and_verify(client, rgw_s3, alpha_bucket, key, b"signed with SigV2")

    assert sent["authorization"].startswith(f"AWS {alpha.keys.access_key}:")
    client.delete_object(Bucket=alpha_bucket, Key=key)
    assert not exists(rgw_s3, alpha_bucket, key)


@pytest.mark.parametrize("operation", ["list_objects", "list_objects_v2"])
def test_sigv2_bucket_listing(alpha, rgw_s3, alpha_bucket, prefix, operation):
    """botocore signs a path-style bucket request with the resource "/bucket/" (trailing
    slash), as AWS accepts; RGW 16.2 itself refuses that, the gateway's verifier must not."""
    key = prefix + "object"
    rgw_s3.put_object(Bucket=alpha_bucket, Key=key, Body=b"x")

    listed = getattr(alpha.client("s3"), operation)(Bucket=alpha_bucket, Prefix=prefix)

    assert [o["Key"] for o in listed["Contents"]] == [key]


# ------------------------------------------------------------------------ presigned URLs

PRESIGN_MARKERS = {"s3v4": "X-Amz-Credential=", "s3": "AWSAccessKeyId="}


@pytest.mark.parametrize("signature_version", ["s3v4", "s3"], ids=["v4", "v2"])
def test_presigned_put_and_get(alpha, rgw_s3, alpha_bucket, prefix, signature_version):
    client = alpha.client(signature_version)
    params = {"Bucket": alpha_bucket, "Key": prefix + "object"}
    data = os.urandom(10_000)

    put_url = client.generate_presigned_url("put_object", Params=params, ExpiresIn=300)
    get_url = client.generate_presigned_url("get_object", Params=params, ExpiresIn=300)

    assert PRESIGN_MARKERS[signature_version] in put_url
    put = requests.put(put_url, data=data, timeout=10)
    assert put.status_code == 200, put.text
    assert read(rgw_s3, alpha_bucket, params["Key"]) == data
    got = requests.get(get_url, timeout=10)
    assert (got.status_code, got.content) == (200, data)


@pytest.mark.parametrize("signature_version", ["s3v4", "s3"], ids=["v4", "v2"])
def test_expired_presigned_url_is_refused(alpha, rgw_s3, alpha_bucket, prefix, signature_version):
    params = {"Bucket": alpha_bucket, "Key": prefix + "object"}
    rgw_s3.put_object(Body=b"not for late visitors", **params)
    with clock_offset(datetime.timedelta(minutes=-5)):
        url = alpha.client(signature_version).generate_presigned_url(
            "get_object", Params=params, ExpiresIn=60)

    outcome = Outcome.of_http(requests.get(url, timeout=10))

    # The spec: 403 AccessDenied "Request has expired"; only the status is pinned down.
    assert outcome.status == 403, outcome.summary()
    assert outcome.header("x-amz-request-id")


def test_presigned_url_with_altered_signature_is_refused(alpha, alpha_bucket, prefix):
    url = alpha.client("s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": alpha_bucket, "Key": prefix + "object"}, ExpiresIn=60)
    last = url[-1]
    altered = url[:-1] + ("0" if last != "0" else "1")

    assert_s3_error(Outcome.of_http(requests.get(altered, timeout=10)), 403, "SignatureDoesNotMatch")


def test_presigned_url_for_another_key_is_refused(rgw_s3, alpha, alpha_bucket, prefix):
    rgw_s3.put_object(Bucket=alpha_bucket, Key=prefix + "other", Body=b"other")
    url = alpha.client("s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": alpha_bucket, "Key": prefix + "object"}, ExpiresIn=60)

    redirected = url.replace(prefix + "object", prefix + "other", 1)

    assert_s3_error(Outcome.of_http(requests.get(redirected, timeout=10)), 403, "SignatureDoesNotMatch")


# ------------------------------------------------------------------ aws-chunked uploads


def test_streaming_unsigned_trailer_from_botocore(alpha, rgw_s3, alpha_bucket, prefix):
    """STREAMING-UNSIGNED-PAYLOAD-TRAILER as botocore sends it (Transfer-Encoding: chunked,
    1 MiB aws-chunks, CRC32 trailer). RGW 16.2 itself refuses this form (MissingContentLength),
    so the gateway has to decode the body before forwarding it."""
    client = alpha.client()
    force_checksum_trailer(client)
    data = os.urandom(2 * MiB + 12345)
    key = prefix + "object"

    sent = put_and_verify(client, rgw_s3, alpha_bucket, key, data)

    assert sent["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert sent["content-encoding"] == "aws-chunked"
    assert sent["transfer-encoding"] == "chunked"
    assert sent["x-amz-trailer"] == "x-amz-checksum-crc32"
    # aws-chunked is a transfer detail: it must not become the object's Content-Encoding
    assert "aws-chunked" not in rgw_s3.head_object(Bucket=alpha_bucket, Key=key).get("ContentEncoding", "")


def test_streaming_unsigned_trailer_with_content_length(alpha, rgw_s3, alpha_bucket, prefix):
    """The same body framed with a Content-Length, as the Java/Go/PHP SDKs send it."""
    data = os.urandom(200_000)
    key = prefix + "object"

    outcome = unsigned_trailer_put(alpha, alpha_bucket, key, data)

    assert outcome.status == 200, outcome.summary()
    assert read(rgw_s3, alpha_bucket, key) == data


def test_streaming_trailer_with_wrong_checksum_is_refused(alpha, rgw_s3, alpha_bucket, prefix):
    key = prefix + "object"

    outcome = unsigned_trailer_put(alpha, alpha_bucket, key, os.urandom(200_000),
                                   trailer_crc32=crc32_base64(b"something else"))

    assert outcome.status == 400, outcome.summary()
    assert not exists(rgw_s3, alpha_bucket, key)


def test_streaming_signed_chunks(alpha, rgw_s3, alpha_bucket, prefix):
    """STREAMING-AWS4-HMAC-SHA256-PAYLOAD: each chunk signed, chained to the seed signature."""
    data = os.urandom(200_000)
    key = prefix + "object"

    outcome = streaming_signed_put(alpha, alpha_bucket, key, data)

    assert outcome.status == 200, outcome.summary()
    assert read(rgw_s3, alpha_bucket, key) == data
    # RGW 16.2, addressed directly, keeps "aws-chunked" as the object's Content-Encoding; AWS
    # does not, and a client reading it back would try to decode it.
    assert "aws-chunked" not in rgw_s3.head_object(Bucket=alpha_bucket, Key=key).get("ContentEncoding", "")


def test_streaming_chunk_with_bad_signature_is_refused(alpha, rgw_s3, alpha_bucket, prefix):
    key = prefix + "object"

    outcome = streaming_signed_put(alpha, alpha_bucket, key, os.urandom(200_000), corrupt_chunk=1)

    assert_s3_error(outcome, 403, "SignatureDoesNotMatch")
    assert not exists(rgw_s3, alpha_bucket, key)
