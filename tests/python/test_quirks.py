"""Wire-level oddities real clients produce, sent as raw HTTP signed with botocore's signers,
plus object keys that need percent-encoding."""

import os
from urllib.parse import urlsplit

import pytest

from s3util import (
    MiB,
    exists,
    get_until_close,
    put_and_verify,
    put_with_expect_continue,
    read,
    recase_headers,
    send,
    sign_v4,
    signed_request,
)

DIGITS = b"0123456789"


@pytest.fixture
def stored_object(rgw_s3, alpha_bucket, prefix) -> str:
    """Key of a small object put on RGW directly, for the tests that read it back."""
    key = prefix + "object"
    rgw_s3.put_object(Bucket=alpha_bucket, Key=key, Body=DIGITS)
    return key


def test_signed_empty_x_amz_user_agent(raw_parity, alpha_bucket, stored_object):
    """Some SDKs sign an X-Amz-User-Agent header whose value is empty."""
    _, via_gateway = raw_parity(
        lambda target: signed_request(target, "GET", alpha_bucket, stored_object,
                                      headers={"X-Amz-User-Agent": ""}),
        compare_body=True)
    assert via_gateway.status == 200


HEADER_SPELLINGS = {
    "lower": {"authorization": "authorization", "x-amz-date": "x-amz-date",
              "x-amz-content-sha256": "x-amz-content-sha256", "x-amz-meta-color": "x-amz-meta-color"},
    "mixed": {"x-amz-date": "X-AMZ-DATE", "x-amz-content-sha256": "X-Amz-Content-Sha256",
              "x-amz-meta-color": "X-Amz-Meta-COLOR"},
    "upper": {"authorization": "AUTHORIZATION", "x-amz-date": "X-AMZ-DATE",
              "x-amz-content-sha256": "X-AMZ-CONTENT-SHA256", "x-amz-meta-color": "X-AMZ-META-COLOR"},
}


@pytest.mark.parametrize("spelling", sorted(HEADER_SPELLINGS))
def test_header_name_case_does_not_matter(alpha, rgw_s3, alpha_bucket, prefix, spelling):
    key = prefix + "object"
    url = alpha.url(alpha_bucket, key)
    signed = sign_v4("PUT", url, alpha.keys, {"x-amz-meta-color": "blue"}, body=DIGITS)

    put = send("PUT", url, recase_headers(signed, HEADER_SPELLINGS[spelling]), DIGITS)

    assert put.status == 200, put.summary()
    stored = rgw_s3.head_object(Bucket=alpha_bucket, Key=key)
    assert stored["Metadata"] == {"color": "blue"}
    get = send("GET", url, recase_headers(sign_v4("GET", url, alpha.keys), HEADER_SPELLINGS[spelling]))
    assert (get.status, get.body) == (200, DIGITS)


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "127.0.0.1"],
                         ids=["ip-with-port", "name-with-port", "ip-without-port"])
def test_signed_host_header_is_verified_as_sent(alpha, alpha_bucket, stored_object, host):
    """The signature covers the Host header exactly as the client sent it."""
    url = alpha.url(alpha_bucket, stored_object)
    host_header = host.format(port=urlsplit(alpha.endpoint).port)

    outcome = send("GET", url, sign_v4("GET", url, alpha.keys, {"Host": host_header}))

    assert (outcome.status, outcome.body) == (200, DIGITS), outcome.summary()


def test_expect_100_continue_on_a_2mib_put(alpha, rgw_s3, alpha_bucket, prefix):
    key = prefix + "object"
    body = os.urandom(2 * MiB)
    url = alpha.url(alpha_bucket, key)

    interim, final = put_with_expect_continue(url, sign_v4("PUT", url, alpha.keys, body=body), body)

    assert interim.startswith(b"HTTP/1.1 100"), interim
    assert final.status == 200, final
    assert read(rgw_s3, alpha_bucket, key) == body


def test_connection_close_is_honoured(alpha, alpha_bucket, stored_object):
    url = alpha.url(alpha_bucket, stored_object)
    headers = {**sign_v4("GET", url, alpha.keys), "Connection": "close"}

    received, closed = get_until_close(url, headers)

    assert closed, f"connection still open after the response: {received[:300]!r}"
    assert received.startswith(b"HTTP/1.1 200"), received[:300]
    assert received.endswith(b"\r\n\r\n" + DIGITS)


# Keys that need percent-encoding on the wire: "urn:oid:12" travels as urn%3Aoid%3A12 (Nextcloud's
# object names), the rest as the SDK encodes them.
AWKWARD_KEYS = [
    "urn:oid:12",
    "with space/and+plus",
    "ünïcödé/漢字.txt",
    "100%done",
    "quote's & (paren)=eq;semi,comma",
    "double//slash",
    "trailing.dot.",
]


@pytest.mark.parametrize("signature_version", ["s3v4", "s3"], ids=["v4", "v2"])
@pytest.mark.parametrize("name", AWKWARD_KEYS)
def test_awkward_keys_round_trip(alpha, rgw_s3, alpha_bucket, prefix, name, signature_version):
    client = alpha.client(signature_version)
    key, copy_key = prefix + name, prefix + name + ".copy"

    put_and_verify(client, rgw_s3, alpha_bucket, key, name.encode())
    listed_on_rgw = rgw_s3.list_objects_v2(Bucket=alpha_bucket, Prefix=prefix)
    client.copy_object(Bucket=alpha_bucket, Key=copy_key, CopySource={"Bucket": alpha_bucket, "Key": key})
    client.delete_object(Bucket=alpha_bucket, Key=key)

    assert [item["Key"] for item in listed_on_rgw["Contents"]] == [key]  # the key arrived intact
    assert read(rgw_s3, alpha_bucket, copy_key) == name.encode()
    assert not exists(rgw_s3, alpha_bucket, key)


def test_prefix_listing_with_awkward_characters(parity, rgw_s3, alpha_bucket, prefix):
    for name in ("dir with space/a", "dir with space/b+c", "dir+plus/d", "dïr/e"):
        rgw_s3.put_object(Bucket=alpha_bucket, Key=prefix + name, Body=b"")

    for sub_prefix in ("dir with space/", "dir+plus/", "dïr/"):
        direct, via_gateway = parity(lambda s3: s3.list_objects_v2(
            Bucket=alpha_bucket, Prefix=prefix + sub_prefix, Delimiter="/"))
        assert via_gateway.parsed.get("Contents") == direct.parsed.get("Contents")
        assert via_gateway.parsed.get("Contents"), sub_prefix
