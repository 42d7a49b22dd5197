"""The S3 calls Nextcloud 34 makes (aws-sdk-php, path-style), through the gateway as tenant
alpha. Where the answer is RGW's business, the gateway's answer is compared with RGW's own
answer to the same request (parity fixture)."""

import base64
import datetime
import functools
import hashlib
import os

import pytest

from s3util import MiB, Outcome, WireRecorder, assert_s3_error, exists, parallel, read

PART_SIZE = 5 * MiB  # S3's minimum size of every part but the last
DIGITS = b"0123456789"


def test_head_bucket(parity, alpha_bucket):
    _, via_gateway = parity(lambda s3: s3.head_bucket(Bucket=alpha_bucket))
    assert via_gateway.status == 200


def test_missing_bucket_inside_the_tenant_is_404(parity, run_id):
    _, via_gateway = parity(lambda s3: s3.list_objects_v2(Bucket=f"alpha-{run_id}-missing"))
    assert_s3_error(via_gateway, 404, "NoSuchBucket")


# -------------------------------------------------------------------------- objects


def test_put_object_with_nextcloud_options_and_metadata(alpha, rgw_s3, alpha_bucket, prefix):
    client = alpha.client()
    key = prefix + "urn:oid:4711"
    metadata = {
        # Nextcloud passes full header names as metadata keys, so the wire header is
        # x-amz-meta-x-amz-meta-original-path; its values are "base64:"-prefixed.
        "x-amz-meta-original-path": "base64:" + base64.b64encode("files/Ünï dir/a+b.txt".encode()).decode(),
        "original-content-length": "11",
    }
    wire = WireRecorder(client, "PutObject")

    client.put_object(Bucket=alpha_bucket, Key=key, Body=b"hello world", ACL="private",
                      StorageClass="STANDARD", ContentType="text/plain", Metadata=metadata)

    assert "x-amz-meta-x-amz-meta-original-path" in wire.last
    via_gateway = client.head_object(Bucket=alpha_bucket, Key=key)
    direct = rgw_s3.head_object(Bucket=alpha_bucket, Key=key)
    assert via_gateway["Metadata"] == direct["Metadata"] == metadata
    assert (via_gateway["ContentLength"], via_gateway["ContentType"]) == (11, "text/plain")
    assert via_gateway["ETag"] == direct["ETag"] == f'"{hashlib.md5(b"hello world").hexdigest()}"'


def test_zero_byte_object(alpha_s3, rgw_s3, alpha_bucket, prefix):
    key = prefix + "empty"

    alpha_s3.put_object(Bucket=alpha_bucket, Key=key, Body=b"")

    assert rgw_s3.head_object(Bucket=alpha_bucket, Key=key)["ContentLength"] == 0
    assert alpha_s3.head_object(Bucket=alpha_bucket, Key=key)["ContentLength"] == 0
    assert read(alpha_s3, alpha_bucket, key) == b""


@pytest.mark.parametrize("byte_range", [
    "bytes=0-", "bytes=3-", "bytes=2-5", "bytes=-4", "bytes=0-0", "bytes=5-100000", "bytes=20-",
])
@pytest.mark.parametrize("size", [0, 10], ids=["0-byte", "10-byte"])
def test_range_get_matches_rgw(parity, rgw_s3, alpha_bucket, prefix, size, byte_range):
    key = prefix + "object"
    rgw_s3.put_object(Bucket=alpha_bucket, Key=key, Body=DIGITS[:size])

    parity(lambda s3: s3.get_object(Bucket=alpha_bucket, Key=key, Range=byte_range),
           headers=("content-range", "accept-ranges", "etag"), compare_body=True)


def test_range_from_zero_returns_206_with_content_range(alpha_s3, rgw_s3, alpha_bucket, prefix):
    """Nextcloud reads whole files with "Range: bytes=0-"."""
    key = prefix + "object"
    rgw_s3.put_object(Bucket=alpha_bucket, Key=key, Body=DIGITS)

    outcome = Outcome.of(lambda: alpha_s3.get_object(Bucket=alpha_bucket, Key=key, Range="bytes=0-"))

    assert outcome.status == 206
    assert outcome.header("content-range") == "bytes 0-9/10"
    assert outcome.body == DIGITS


def test_unsatisfiable_range_is_416(alpha_s3, rgw_s3, alpha_bucket, prefix):
    key = prefix + "object"
    rgw_s3.put_object(Bucket=alpha_bucket, Key=key, Body=DIGITS)

    outcome = Outcome.of(lambda: alpha_s3.get_object(Bucket=alpha_bucket, Key=key, Range="bytes=10-"))

    assert_s3_error(outcome, 416, "InvalidRange")


@pytest.mark.parametrize("condition, expected_status", [
    ("if-none-match-same", 304),
    ("if-none-match-other", 200),
    ("if-match-same", 200),
    ("if-match-other", 412),
    ("if-modified-since-later", 304),
    ("if-unmodified-since-earlier", 412),
])
def test_conditional_get(parity, rgw_s3, alpha_bucket, prefix, condition, expected_status):
    key = prefix + "object"
    rgw_s3.put_object(Bucket=alpha_bucket, Key=key, Body=DIGITS)
    head = rgw_s3.head_object(Bucket=alpha_bucket, Key=key)
    hour = datetime.timedelta(hours=1)
    conditions = {
        "if-none-match-same": {"IfNoneMatch": head["ETag"]},
        "if-none-match-other": {"IfNoneMatch": '"0123456789abcdef0123456789abcdef"'},
        "if-match-same": {"IfMatch": head["ETag"]},
        "if-match-other": {"IfMatch": '"0123456789abcdef0123456789abcdef"'},
        "if-modified-since-later": {"IfModifiedSince": head["LastModified"] + hour},
        "if-unmodified-since-earlier": {"IfUnmodifiedSince": head["LastModified"] - hour},
    }

    _, via_gateway = parity(lambda s3: s3.get_object(Bucket=alpha_bucket, Key=key, **conditions[condition]),
                            headers=("etag",), compare_body=True)

    assert via_gateway.status == expected_status


CONTENT_HEADERS = ("content-type", "content-encoding", "content-disposition", "content-language",
                   "cache-control", "expires", "etag", "last-modified", "content-length")


def test_content_headers_round_trip(alpha_s3, parity, alpha_bucket, prefix):
    key = prefix + "report.pdf"
    alpha_s3.put_object(
        Bucket=alpha_bucket, Key=key, Body=b"%PDF-1.7 pretend",
        ContentType="application/pdf", ContentEncoding="gzip",
        ContentDisposition='attachment; filename="report.pdf"', ContentLanguage="de-DE",
        CacheControl="max-age=3600, private",
        Expires=datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc))

    for operation in ("get_object", "head_object"):
        _, via_gateway = parity(lambda s3: getattr(s3, operation)(Bucket=alpha_bucket, Key=key),
                                headers=CONTENT_HEADERS, compare_body=True)
        sent = via_gateway.parsed
        assert (sent["ContentType"], sent["ContentEncoding"], sent["ContentLanguage"]) == \
               ("application/pdf", "gzip", "de-DE")
        assert sent["ContentDisposition"] == 'attachment; filename="report.pdf"'
        assert sent["CacheControl"] == "max-age=3600, private"
        assert via_gateway.header("expires") == "Tue, 01 Jan 2030 00:00:00 GMT"


def test_overwrite_keeps_the_previous_version_by_copy(alpha_s3, rgw_s3, alpha_bucket, prefix):
    """Nextcloud's overwrite: HEAD twice, copy the current object to a version key, PUT anew."""
    key = prefix + "urn:oid:42"
    version_key = prefix + "versions/urn:oid:42.v1"
    alpha_s3.put_object(Bucket=alpha_bucket, Key=key, Body=b"first")

    first_head = alpha_s3.head_object(Bucket=alpha_bucket, Key=key)
    second_head = alpha_s3.head_object(Bucket=alpha_bucket, Key=key)
    copied = alpha_s3.copy_object(Bucket=alpha_bucket, Key=version_key,
                                  CopySource={"Bucket": alpha_bucket, "Key": key})
    alpha_s3.put_object(Bucket=alpha_bucket, Key=key, Body=b"second")

    # RGW 16.2 leaves the ETag of CopyObjectResult unquoted
    assert first_head["ETag"] == second_head["ETag"] == _quoted(copied["CopyObjectResult"]["ETag"])
    assert read(rgw_s3, alpha_bucket, key) == b"second"
    assert read(rgw_s3, alpha_bucket, version_key) == b"first"


def _quoted(etag: str) -> str:
    return '"' + etag.strip('"') + '"'


def test_missing_key(parity, alpha_bucket, prefix):
    key = prefix + "missing"
    _, got = parity(lambda s3: s3.get_object(Bucket=alpha_bucket, Key=key))
    _, headed = parity(lambda s3: s3.head_object(Bucket=alpha_bucket, Key=key))
    assert_s3_error(got, 404, "NoSuchKey")
    assert_s3_error(headed, 404, None)


def test_delete_object(alpha_s3, rgw_s3, parity, alpha_bucket, prefix):
    key = prefix + "object"
    rgw_s3.put_object(Bucket=alpha_bucket, Key=key, Body=b"x")

    deleted = Outcome.of(lambda: alpha_s3.delete_object(Bucket=alpha_bucket, Key=key))

    assert deleted.status == 204
    assert not exists(rgw_s3, alpha_bucket, key)
    parity(lambda s3: s3.delete_object(Bucket=alpha_bucket, Key=key))  # deleting again: same answer


@pytest.mark.parametrize("quiet", [True, False], ids=["quiet", "verbose"])
def test_delete_objects(alpha_s3, rgw_s3, alpha_bucket, prefix, quiet):
    keys = [prefix + name for name in ("a", "b", "c d+é")]
    for key in keys:
        rgw_s3.put_object(Bucket=alpha_bucket, Key=key, Body=b"x")
    never_existed = prefix + "never-existed"

    result = alpha_s3.delete_objects(Bucket=alpha_bucket, Delete={
        "Objects": [{"Key": key} for key in keys + [never_existed]], "Quiet": quiet})

    reported = sorted(d["Key"] for d in result.get("Deleted", []))
    assert reported == ([] if quiet else sorted(keys + [never_existed]))
    assert not result.get("Errors")
    assert not any(exists(rgw_s3, alpha_bucket, key) for key in keys)


def test_sse_c_answers_like_rgw(parity, rgw_s3, alpha_bucket, prefix):
    """RGW 16.2 refuses SSE-C over plain http; whatever it answers, the gateway answers too."""
    customer_key = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": os.urandom(32)}
    rgw_s3.put_object(Bucket=alpha_bucket, Key=prefix + "plain", Body=b"plain")

    parity(lambda s3: s3.put_object(Bucket=alpha_bucket, Key=prefix + "encrypted", Body=b"secret",
                                    **customer_key))
    parity(lambda s3: s3.get_object(Bucket=alpha_bucket, Key=prefix + "plain", **customer_key),
           compare_body=True)


# --------------------------------------------------------------------- ACL and tags


def test_object_acl(alpha_s3, rgw_s3, alpha_bucket, prefix):
    key = prefix + "object"
    rgw_s3.put_object(Bucket=alpha_bucket, Key=key, Body=b"x")

    put = alpha_s3.put_object_acl(Bucket=alpha_bucket, Key=key, ACL="private")

    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    via_gateway = alpha_s3.get_object_acl(Bucket=alpha_bucket, Key=key)
    direct = rgw_s3.get_object_acl(Bucket=alpha_bucket, Key=key)
    assert (via_gateway["Owner"], via_gateway["Grants"]) == (direct["Owner"], direct["Grants"])


def test_object_tagging(alpha_s3, rgw_s3, alpha_bucket, prefix):
    key = prefix + "object"
    rgw_s3.put_object(Bucket=alpha_bucket, Key=key, Body=b"x")
    tags = [{"Key": "project", "Value": "cachegate"}, {"Key": "stage", "Value": "e2e test"}]

    def tag_set(client):
        return sorted(client.get_object_tagging(Bucket=alpha_bucket, Key=key)["TagSet"],
                      key=lambda tag: tag["Key"])

    alpha_s3.put_object_tagging(Bucket=alpha_bucket, Key=key, Tagging={"TagSet": tags})
    assert tag_set(alpha_s3) == tag_set(rgw_s3) == tags

    deleted = alpha_s3.delete_object_tagging(Bucket=alpha_bucket, Key=key)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert tag_set(alpha_s3) == tag_set(rgw_s3) == []


# ------------------------------------------------------------------------- listings


@pytest.fixture
def listed_keys(rgw_s3, alpha_bucket, prefix) -> list[str]:
    """Six objects under the test's prefix, in S3 listing order (UTF-8 byte order)."""
    keys = [prefix + name for name in ("a", "b", "c/1", "c/2", "d", "e ü+")]
    parallel(functools.partial(rgw_s3.put_object, Bucket=alpha_bucket, Key=key, Body=b"")
             for key in keys)
    return sorted(keys)


def _keys(listing: dict) -> list[str]:
    return [item["Key"] for item in listing.get("Contents", [])]


def test_list_objects_v2_pages_with_continuation_token(alpha_s3, alpha_bucket, prefix, listed_keys):
    seen, pages, token = [], 0, {}
    while True:
        page = alpha_s3.list_objects_v2(Bucket=alpha_bucket, Prefix=prefix, MaxKeys=2, **token)
        seen += _keys(page)
        pages += 1
        if not page["IsTruncated"]:
            break
        token = {"ContinuationToken": page["NextContinuationToken"]}

    assert seen == listed_keys
    assert pages == 3


def test_list_objects_v2_with_delimiter(parity, alpha_bucket, prefix, listed_keys):
    direct, via_gateway = parity(
        lambda s3: s3.list_objects_v2(Bucket=alpha_bucket, Prefix=prefix, Delimiter="/"))

    assert _keys(via_gateway.parsed) == _keys(direct.parsed) == [k for k in listed_keys if "/c/" not in k]
    assert via_gateway.parsed["CommonPrefixes"] == [{"Prefix": prefix + "c/"}]


def test_list_objects_v1_with_marker(alpha_s3, alpha_bucket, prefix, listed_keys):
    page = alpha_s3.list_objects(Bucket=alpha_bucket, Prefix=prefix, Marker=listed_keys[1], MaxKeys=2)

    assert _keys(page) == listed_keys[2:4]
    assert page["IsTruncated"]


def test_list_object_versions(parity, alpha_bucket, prefix, listed_keys):
    direct, via_gateway = parity(lambda s3: s3.list_object_versions(Bucket=alpha_bucket, Prefix=prefix))

    def versions(listing):
        return [(v["Key"], v["VersionId"], v["IsLatest"], v["ETag"]) for v in listing["Versions"]]

    assert versions(via_gateway.parsed) == versions(direct.parsed)
    assert [key for key, *_ in versions(via_gateway.parsed)] == listed_keys


# ------------------------------------------------------------------------ multipart


def _upload_parts(s3, bucket: str, key: str, upload_id: str, parts: list[bytes]) -> list[dict]:
    """UploadPart of all parts concurrently (as Nextcloud does); returns Complete's part list."""
    uploaded = parallel(
        functools.partial(s3.upload_part, Bucket=bucket, Key=key, UploadId=upload_id,
                          PartNumber=number, Body=body)
        for number, body in enumerate(parts, start=1))
    return [{"PartNumber": number, "ETag": part["ETag"]} for number, part in enumerate(uploaded, start=1)]


def _complete(s3, bucket: str, key: str, upload_id: str, parts: list[dict]) -> dict:
    return s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                        MultipartUpload={"Parts": parts})


def _assert_same_object_seen(alpha_s3, rgw_s3, bucket: str, key: str, data: bytes, etag: str) -> None:
    via_gateway = alpha_s3.head_object(Bucket=bucket, Key=key)
    direct = rgw_s3.head_object(Bucket=bucket, Key=key)
    assert via_gateway["ContentLength"] == direct["ContentLength"] == len(data)
    assert via_gateway["ETag"] == direct["ETag"] == etag
    assert hashlib.sha256(read(rgw_s3, bucket, key)).digest() == hashlib.sha256(data).digest()


def test_multipart_upload(alpha_s3, rgw_s3, alpha_bucket, prefix):
    key = prefix + "urn:oid:big"
    parts = [os.urandom(PART_SIZE) for _ in range(3)]
    upload_id = alpha_s3.create_multipart_upload(Bucket=alpha_bucket, Key=key)["UploadId"]

    completed_parts = _upload_parts(alpha_s3, alpha_bucket, key, upload_id, parts)
    first_page = alpha_s3.list_parts(Bucket=alpha_bucket, Key=key, UploadId=upload_id, MaxParts=2)
    second_page = alpha_s3.list_parts(Bucket=alpha_bucket, Key=key, UploadId=upload_id,
                                      PartNumberMarker=first_page["NextPartNumberMarker"])
    result = _complete(alpha_s3, alpha_bucket, key, upload_id, completed_parts)

    assert first_page["IsTruncated"] and not second_page["IsTruncated"]
    listed = [(p["PartNumber"], p["ETag"], p["Size"]) for p in first_page["Parts"] + second_page["Parts"]]
    assert listed == [(p["PartNumber"], p["ETag"], PART_SIZE) for p in completed_parts]
    # RGW 16.2 answers <ETag></ETag> here; clients need the ETag, the gateway supplies it
    assert result["ETag"].strip('"'), result
    _assert_same_object_seen(alpha_s3, rgw_s3, alpha_bucket, key, b"".join(parts), result["ETag"])


def test_chunked_upload_v2(alpha_s3, rgw_s3, alpha_bucket, prefix):
    """Nextcloud's chunked upload v2: a 0-byte placeholder at the target key, a multipart
    upload of the same key, ListParts before assembling, then Complete."""
    key = prefix + "urn:oid:chunked"
    parts = [os.urandom(PART_SIZE), os.urandom(1234)]
    alpha_s3.put_object(Bucket=alpha_bucket, Key=key, Body=b"")
    upload_id = alpha_s3.create_multipart_upload(Bucket=alpha_bucket, Key=key)["UploadId"]

    completed_parts = _upload_parts(alpha_s3, alpha_bucket, key, upload_id, parts)
    listed = alpha_s3.list_parts(Bucket=alpha_bucket, Key=key, UploadId=upload_id)["Parts"]
    placeholder_size = rgw_s3.head_object(Bucket=alpha_bucket, Key=key)["ContentLength"]
    result = _complete(alpha_s3, alpha_bucket, key, upload_id, completed_parts)

    assert [p["Size"] for p in listed] == [len(p) for p in parts]
    assert placeholder_size == 0  # until Complete, the placeholder stays
    _assert_same_object_seen(alpha_s3, rgw_s3, alpha_bucket, key, b"".join(parts), result["ETag"])


def test_upload_part_copy(alpha_s3, rgw_s3, alpha_bucket, prefix):
    source_key, key = prefix + "source", prefix + "assembled"
    source = os.urandom(PART_SIZE + 1000)
    rgw_s3.put_object(Bucket=alpha_bucket, Key=source_key, Body=source)
    upload_id = alpha_s3.create_multipart_upload(Bucket=alpha_bucket, Key=key)["UploadId"]
    ranges = [f"bytes=0-{PART_SIZE - 1}", f"bytes={PART_SIZE}-{len(source) - 1}"]

    parts = []
    for number, byte_range in enumerate(ranges, start=1):
        copied = alpha_s3.upload_part_copy(
            Bucket=alpha_bucket, Key=key, UploadId=upload_id, PartNumber=number,
            CopySource={"Bucket": alpha_bucket, "Key": source_key}, CopySourceRange=byte_range)
        parts.append({"PartNumber": number, "ETag": copied["CopyPartResult"]["ETag"]})
    result = _complete(alpha_s3, alpha_bucket, key, upload_id, parts)

    _assert_same_object_seen(alpha_s3, rgw_s3, alpha_bucket, key, source, result["ETag"])


def test_abort_and_list_multipart_uploads(alpha_s3, parity, alpha_bucket, prefix):
    key = prefix + "aborted"
    upload_id = alpha_s3.create_multipart_upload(Bucket=alpha_bucket, Key=key)["UploadId"]

    def uploads():
        listing = alpha_s3.list_multipart_uploads(Bucket=alpha_bucket, Prefix=prefix)
        return [(u["Key"], u["UploadId"]) for u in listing.get("Uploads", [])]

    assert uploads() == [(key, upload_id)]
    aborted = alpha_s3.abort_multipart_upload(Bucket=alpha_bucket, Key=key, UploadId=upload_id)
    assert aborted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert uploads() == []
    # RGW 16.2 says NoSuchKey here where AWS says NoSuchUpload; parity pins the code
    _, listed = parity(lambda s3: s3.list_parts(Bucket=alpha_bucket, Key=key, UploadId=upload_id))
    assert listed.status == 404


# -------------------------------------------------------------------------- buckets


def test_create_and_delete_bucket_inside_the_tenant(alpha_s3, rgw_s3, run_id):
    name = f"alpha-{run_id}-created"

    alpha_s3.create_bucket(Bucket=name)
    assert rgw_s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    alpha_s3.put_object(Bucket=name, Key="object", Body=b"x")

    not_empty = Outcome.of(lambda: alpha_s3.delete_bucket(Bucket=name))
    assert_s3_error(not_empty, 409, "BucketNotEmpty")
    alpha_s3.delete_object(Bucket=name, Key="object")
    deleted = Outcome.of(lambda: alpha_s3.delete_bucket(Bucket=name))
    assert deleted.status == 204
    assert name not in {b["Name"] for b in rgw_s3.list_buckets()["Buckets"]}
