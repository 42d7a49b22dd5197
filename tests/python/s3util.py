"""Helpers shared by the cachegate end-to-end tests.

Three families of tools:
  * boto3 clients bound to an explicit endpoint and key pair (never the environment),
  * ``Outcome``: status / S3 error code / headers / body of one call, so that the same call
    made against RGW directly and through the gateway can be compared (parity),
  * raw HTTP requests signed with botocore's own signers, for the wire-level quirks that
    boto3 would never produce by itself (odd header case, aws-chunked bodies, bad hashes...).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import email.utils
import functools
import hashlib
import hmac
import http.client
import socket
import time
import types
import xml.etree.ElementTree as ET
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable
from unittest import mock
from urllib.parse import quote, urlsplit

import boto3
import botocore.auth
import requests
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials as BotoCredentials
from botocore.exceptions import ClientError

REGION = "us-east-1"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MiB = 1024 * 1024


@dataclass(frozen=True)
class Keys:
    access_key: str
    secret_key: str

    def botocore(self) -> BotoCredentials:
        return BotoCredentials(self.access_key, self.secret_key)


@dataclass(frozen=True)
class Target:
    """An S3 endpoint plus the key pair used to sign requests sent to it."""

    name: str  # shows up in assertion messages: "rgw", "gateway/alpha", ...
    endpoint: str  # http://host:port, no trailing slash
    keys: Keys

    def url(self, bucket: str = "", key: str = "", query: str = "") -> str:
        """Path-style URL; the key is percent-encoded the way the SDKs do it."""
        path = "/"
        if bucket:
            path += bucket
            if key:
                path += "/" + quote(key, safe="/~")
        return self.endpoint + path + (("?" + query) if query else "")

    def client(self, signature_version: str | None = None, **config):
        return make_client(self.endpoint, self.keys, signature_version, **config)

    def with_keys(self, keys: Keys, name: str | None = None) -> "Target":
        return Target(name or f"{self.name}[{keys.access_key}]", self.endpoint, keys)


@functools.cache
def _session() -> boto3.session.Session:
    # One session for the whole run: loading the S3 service model is the slow part of creating
    # a client, and the session caches it. Created on first use, after conftest has cleaned
    # the environment.
    return boto3.session.Session(region_name=REGION)


def make_client(endpoint: str, keys: Keys, signature_version: str | None = None, **config):
    """A path-style S3 client that does not retry, so every failure is seen as sent."""
    s3_config = {"addressing_style": "path", **config.pop("s3", {})}
    cfg = Config(
        region_name=REGION,
        signature_version=signature_version,
        s3=s3_config,
        retries={"max_attempts": 1, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
        **config,
    )
    client = _session().client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=keys.access_key,
        aws_secret_access_key=keys.secret_key,
        config=cfg,
    )
    client.meta.events.register("after-call.s3", _keep_error_body)
    return client


# Key under which the raw body of an error answer is kept in ClientError.response: botocore
# fills <RequestId> in from the x-amz-request-id header when the document has none, so only
# the raw body tells whether the error document itself is complete.
ERROR_BODY = "RawErrorBody"


def _keep_error_body(http_response, parsed, **_):
    if http_response.status_code >= 300:
        parsed[ERROR_BODY] = http_response.content


# ----------------------------------------------------------------------------- outcomes


@dataclass
class Outcome:
    """What a client observed: enough to compare RGW's answer with the gateway's."""

    status: int
    code: str | None  # S3 error code; None for successes (and for bodiless errors, e.g. HEAD)
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    message: str | None = None
    request_id: str | None = None  # <RequestId> of an error document
    parsed: dict = field(default_factory=dict)  # boto3's parsed response, on success

    @classmethod
    def of(cls, call: Callable[[], dict]) -> "Outcome":
        """Run one boto3 call; a ClientError is an outcome, not an exception."""
        try:
            response = call()
        except ClientError as err:
            meta = err.response.get("ResponseMetadata", {})
            body = err.response.get(ERROR_BODY, b"")
            code, message, request_id = parse_error(body)
            return cls(status=meta.get("HTTPStatusCode", 0), code=code,
                       headers=dict(meta.get("HTTPHeaders", {})), body=body,
                       message=message, request_id=request_id)
        meta = response["ResponseMetadata"]
        body = response["Body"].read() if "Body" in response else b""
        return cls(status=meta["HTTPStatusCode"], code=None, headers=dict(meta["HTTPHeaders"]),
                   body=body, parsed=response)

    @classmethod
    def of_http(cls, response: requests.Response) -> "Outcome":
        code, message, request_id = parse_error(response.content)
        return cls(
            status=response.status_code,
            code=code,
            headers={k.lower(): v for k, v in response.headers.items()},
            body=response.content,
            message=message,
            request_id=request_id,
        )

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def summary(self, headers: Iterable[str] = ()) -> str:
        shown = {h: self.header(h) for h in headers}
        text = f"{self.status} {self.code or ''} {self.message or ''}".strip()
        return f"{text} {shown}" if shown else text


def parse_error(body: bytes) -> tuple[str | None, str | None, str | None]:
    """(Code, Message, RequestId) of an S3 <Error> document, Nones if it is not one."""
    if not body or not body.lstrip().startswith(b"<"):
        return None, None, None
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None, None, None
    if strip_ns(root.tag) != "Error":
        return None, None, None
    fields = {strip_ns(child.tag): (child.text or "") for child in root}
    return fields.get("Code"), fields.get("Message"), fields.get("RequestId")


def strip_ns(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def assert_same_outcome(
    direct: Outcome,
    via_gateway: Outcome,
    headers: Iterable[str] = (),
    compare_body: bool = False,
) -> None:
    """The gateway must answer what RGW answers for the same request: same status and error
    code; for answers that are not error documents, also the same headers (those named) and,
    if asked, the same body. An error document is rendered per request (its request id, its
    length), so beyond its code there is nothing to compare."""
    headers = tuple(headers)
    context = (
        f"\n  RGW directly: {direct.summary(headers)}"
        f"\n  via gateway:  {via_gateway.summary(headers)}"
    )
    assert via_gateway.status == direct.status, "status differs" + context
    assert via_gateway.code == direct.code, "error code differs" + context
    if direct.code is not None:
        return
    for name in headers:
        assert via_gateway.header(name) == direct.header(name), f"header {name} differs" + context
    if compare_body:
        assert via_gateway.body == direct.body, "body differs" + context


def assert_s3_error(outcome: Outcome, status: int, code: str | None) -> None:
    """An S3 error as the spec wants it: status, XML code, and a request id in both places."""
    assert (outcome.status, outcome.code) == (status, code), \
        f"expected {status} {code or '(no body)'}, got {outcome.summary()}"
    header_id = outcome.header("x-amz-request-id")
    assert header_id, f"no x-amz-request-id header: {outcome.headers}"
    if code is not None:  # only error documents (not HEAD answers) carry <RequestId>
        assert outcome.request_id, f"empty <RequestId> in {outcome.body!r}"
        assert outcome.request_id == header_id


# ------------------------------------------------------------------------ raw signing


@contextlib.contextmanager
def clock_offset(delta: datetime.timedelta):
    """Make botocore's signers (SigV4 and SigV2, headers and presigned URLs) believe the time
    is now + delta."""
    real_now = botocore.auth.get_current_datetime
    seconds = delta.total_seconds()

    def shifted_now(*args, **kwargs):
        return real_now(*args, **kwargs) + delta

    def shifted_formatdate(timeval=None, *args, **kwargs):  # SigV2 Date header
        if timeval is None:  # "now"; an explicit time was derived from the shifted clock
            timeval = time.time() + seconds
        return email.utils.formatdate(timeval, *args, **kwargs)

    shifted_time = types.SimpleNamespace(time=lambda: time.time() + seconds)  # SigV2 Expires
    with mock.patch.object(botocore.auth, "get_current_datetime", shifted_now), \
            mock.patch.object(botocore.auth, "formatdate", shifted_formatdate), \
            mock.patch.object(botocore.auth, "time", shifted_time):
        yield


class _SigV4WithPayload(botocore.auth.S3SigV4Auth):
    """S3's SigV4 signer, but with the x-amz-content-sha256 value chosen by the caller."""

    def __init__(self, credentials, payload_hash: str | None):
        super().__init__(credentials, "s3", REGION)
        self._payload_hash = payload_hash

    def payload(self, request):
        return self._payload_hash or super().payload(request)


def sign_v4(
    method: str,
    url: str,
    keys: Keys,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    payload_hash: str | None = None,
) -> dict[str, str]:
    """Headers (including Authorization) of a SigV4-signed request.

    payload_hash defaults to the SHA-256 of body; pass UNSIGNED-PAYLOAD, a STREAMING-*
    marker or a deliberately wrong hash to sign something else.
    """
    request = AWSRequest(method=method, url=url, headers=dict(headers or {}), data=body)
    _SigV4WithPayload(keys.botocore(), payload_hash).add_auth(request)
    return dict(request.headers.items())


def sign_v2(method: str, url: str, keys: Keys, headers: dict[str, str] | None = None) -> dict[str, str]:
    """Headers of a SigV2 (``Authorization: AWS key:signature``) request."""
    request = AWSRequest(method=method, url=url, headers=dict(headers or {}))
    botocore.auth.HmacV1Auth(keys.botocore()).add_auth(request)
    return dict(request.headers.items())


def recase_headers(headers: dict[str, str], names: dict[str, str]) -> dict[str, str]:
    """Rename headers to another spelling (HTTP names are case-insensitive, signatures too)."""
    by_lower = {k.lower(): v for k, v in names.items()}
    return {by_lower.get(k.lower(), k): v for k, v in headers.items()}


def send(method: str, url: str, headers: dict[str, str], body: bytes = b"") -> Outcome:
    response = requests.request(method, url, headers=headers, data=body, timeout=60)
    return Outcome.of_http(response)


def signed_request(target: Target, method: str, bucket: str, key: str = "", query: str = "",
                   body: bytes = b"", headers: dict[str, str] | None = None,
                   payload_hash: str | None = None, signature: str = "v4") -> Outcome:
    """Send one request signed with SigV4 (default) or SigV2 (signature="v2")."""
    url = target.url(bucket, key, query)
    if signature == "v2":
        signed = sign_v2(method, url, target.keys, headers)
    else:
        signed = sign_v4(method, url, target.keys, headers, body, payload_hash)
    return send(method, url, signed, body)


def exists(client, bucket: str, key: str) -> bool:
    """Whether the object is there (use with a client talking to RGW directly)."""
    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError as err:
        if err.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
            return False
        raise
    return True


def read(client, bucket: str, key: str) -> bytes:
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


def put_and_verify(client, rgw_client, bucket: str, key: str, data: bytes, **put_args) -> dict:
    """PutObject through client, then check that RGW holds exactly data and that client reads
    it back. Returns the headers botocore sent, for asserting the request form."""
    wire = WireRecorder(client, "PutObject")
    client.put_object(Bucket=bucket, Key=key, Body=data, **put_args)
    stored = read(rgw_client, bucket, key)
    assert len(stored) == len(data) and stored == data, \
        f"RGW holds {len(stored)} bytes that differ from the {len(data)} sent"
    assert read(client, bucket, key) == data
    return wire.last


# ----------------------------------------------------------------- aws-chunked bodies


def _signing_key(secret: str, date: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _chunks(data: bytes, chunk_size: int) -> list[bytes]:
    """The payload chunks of an aws-chunked body, always ending with the empty chunk."""
    return [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]


def streaming_signed_put(target: Target, bucket: str, key: str, data: bytes,
                         chunk_size: int = 64 * 1024, corrupt_chunk: int | None = None) -> Outcome:
    """PUT with STREAMING-AWS4-HMAC-SHA256-PAYLOAD: every chunk carries a chained signature.

    corrupt_chunk flips one byte of that chunk's data after signing it, which a verifier must
    notice (the signature no longer matches the data).
    """
    url = target.url(bucket, key)
    headers = sign_v4("PUT", url, target.keys, {
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": str(len(data)),
    }, payload_hash="STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    timestamp = headers["X-Amz-Date"]
    scope = f"{timestamp[:8]}/{REGION}/s3/aws4_request"
    signing_key = _signing_key(target.keys.secret_key, timestamp[:8])
    previous = headers["Authorization"].rsplit("Signature=", 1)[1]

    body = bytearray()
    for index, chunk in enumerate(_chunks(data, chunk_size)):
        string_to_sign = "\n".join([
            "AWS4-HMAC-SHA256-PAYLOAD", timestamp, scope, previous,
            EMPTY_SHA256, hashlib.sha256(chunk).hexdigest(),
        ])
        previous = hmac.new(signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        if index == corrupt_chunk and chunk:
            chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
        body += f"{len(chunk):x};chunk-signature={previous}\r\n".encode() + chunk + b"\r\n"
    return send("PUT", url, headers, bytes(body))


def crc32_base64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def unsigned_trailer_put(target: Target, bucket: str, key: str, data: bytes,
                         chunk_size: int = 64 * 1024, trailer_crc32: str | None = None) -> Outcome:
    """PUT with STREAMING-UNSIGNED-PAYLOAD-TRAILER framed with a Content-Length, as the
    Java/Go/PHP SDKs send it (botocore instead uses Transfer-Encoding: chunked)."""
    url = target.url(bucket, key)
    headers = sign_v4("PUT", url, target.keys, {
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": str(len(data)),
        "X-Amz-Trailer": "x-amz-checksum-crc32",
        "X-Amz-Sdk-Checksum-Algorithm": "CRC32",
    }, payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    body = bytearray()
    for chunk in _chunks(data, chunk_size):
        body += f"{len(chunk):x}\r\n".encode() + chunk
        if chunk:
            body += b"\r\n"
    body += f"x-amz-checksum-crc32:{trailer_crc32 or crc32_base64(data)}\r\n\r\n".encode()
    return send("PUT", url, headers, bytes(body))


# -------------------------------------------------------------------- botocore wiring


class WireRecorder:
    """Records the headers botocore actually puts on the wire for an operation,
    so a test can check the request form it meant to exercise is the one sent."""

    def __init__(self, client, operation: str):
        self.sent: list[dict[str, str]] = []
        client.meta.events.register(f"before-send.s3.{operation}", self._record)

    def _record(self, request, **_):
        self.sent.append({k.lower(): _text(v) for k, v in request.headers.items()})

    @property
    def last(self) -> dict[str, str]:
        assert self.sent, "no request was sent"
        return self.sent[-1]


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def force_checksum_trailer(client, operation: str = "PutObject") -> None:
    """Make botocore send its flexible checksum as an aws-chunked trailer
    (STREAMING-UNSIGNED-PAYLOAD-TRAILER). botocore only does that by itself over https;
    over http it puts the checksum in a header and signs the whole payload instead."""

    def move_checksum_to_trailer(params, **_):
        algorithm = params["context"].get("checksum", {}).get("request_algorithm")
        if isinstance(algorithm, dict):
            algorithm["in"] = "trailer"

    client.meta.events.register(f"before-call.s3.{operation}", move_checksum_to_trailer)


# -------------------------------------------------------------------- socket level


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def _read_response(sock: socket.socket, method: str) -> RawResponse:
    response = http.client.HTTPResponse(sock, method=method)
    response.begin()  # skips any interim 100 Continue
    body = response.read()
    return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, body)


def _request_head(method: str, url: str, headers: dict[str, str]) -> bytes:
    parts = urlsplit(url)
    target = parts.path + (("?" + parts.query) if parts.query else "")
    if not any(k.lower() == "host" for k in headers):
        headers = {"Host": parts.netloc, **headers}  # what the signer signed (botocore adds it)
    lines = [f"{method} {target} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _connect(url: str, timeout: float) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=timeout)


def put_with_expect_continue(url: str, headers: dict[str, str], body: bytes,
                             timeout: float = 10) -> tuple[bytes, RawResponse]:
    """Send the headers with ``Expect: 100-continue``, wait for the interim answer, only then
    send the body. Returns (interim status line, final response)."""
    headers = {**headers, "Expect": "100-continue", "Content-Length": str(len(body))}
    with _connect(url, timeout) as sock:
        sock.sendall(_request_head("PUT", url, headers))
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):
            byte = sock.recv(1)  # byte by byte: nothing after the interim answer may be eaten
            if not byte:
                break
            interim += byte
        status_line = interim.split(b"\r\n", 1)[0]
        if b" 100 " not in status_line + b" ":
            # a final answer instead of 100 Continue: hand it back as it is
            return status_line, RawResponse(0, {}, interim)
        sock.sendall(body)
        return status_line, _read_response(sock, "PUT")


def get_until_close(url: str, headers: dict[str, str], timeout: float = 10) -> tuple[bytes, bool]:
    """Send a request and read until the server closes the connection.
    Returns (everything received, whether the server closed before the timeout)."""
    received = bytearray()
    with _connect(url, timeout) as sock:
        sock.sendall(_request_head("GET", url, headers))
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except socket.timeout:
            return bytes(received), False
    return bytes(received), True


def parallel(calls: Iterable[Callable[[], object]]) -> list:
    """Run calls concurrently (boto3 clients are thread-safe); results in call order."""
    calls = list(calls)
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
        return [future.result() for future in futures]
