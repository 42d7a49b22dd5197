"""Fixtures of the cachegate end-to-end suite.

RGW is given by the environment (AWS_ENDPOINT_URL / AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY);
one cachegate process ($CACHEGATE_BIN) is started for the whole session in front of it, with
two tenants:
  alpha: buckets "alpha-*", two key pairs (key rotation)
  beta:  exactly one bucket, beta-<run id>
Test buckets are created on RGW directly with names unique to the run, and removed at the end.

CACHEGATE_TEST_CACHE turns the gateway's disk cache on (a fresh directory per run):
  off (default), revalidate, ttl (= ttl=30s, longer than the suite), ttl=DURATION, immutable.
Tests write on RGW directly only before their first read through the gateway, so every mode
must give the answers of the uncached gateway.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from processes import free_ports, log_tail, stop_process, wait_http
from s3util import Keys, Outcome, Target, assert_same_outcome

ALPHA_KEYS = Keys("ALPHAKEY000000000001", "alphasecret0000000000000000000000000001")
ALPHA_SECOND_KEYS = Keys("ALPHAKEY000000000002", "alphasecret0000000000000000000000000002")
BETA_KEYS = Keys("BETAKEY0000000000001", "betasecret00000000000000000000000000001")

READY_TIMEOUT = 30
RUN_ID = secrets.token_hex(4)

_RGW: Target | None = None  # set in pytest_configure
_CACHE_MODE: str | None = None  # cache.mode of the gateway, None = no cache; set in pytest_configure
_GATEWAY_KEY = pytest.StashKey["Gateway"]()
_LOG_OFFSET_KEY = pytest.StashKey[int]()  # size of the gateway log when a test started


def pytest_configure(config):
    """Take RGW's coordinates from the environment, then drop every AWS_* variable from this
    process so that no client aimed at the gateway (boto3 here, awscli or cachegate in
    subprocesses) can silently pick up RGW's endpoint or keys."""
    global _RGW, _CACHE_MODE
    _CACHE_MODE = _cache_mode(os.environ.get("CACHEGATE_TEST_CACHE", "off"))
    missing = [n for n in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
               if not os.environ.get(n)]
    if missing:
        raise pytest.UsageError(
            f"{', '.join(missing)} not set: point them at RGW "
            "(e.g. `set -a; . /tmp/cg-rgw/s3.env; set +a`)")
    _RGW = Target("rgw", os.environ["AWS_ENDPOINT_URL"].rstrip("/"),
                  Keys(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]))
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        del os.environ[name]
    # A developer's ~/.aws/config (checksum or retry settings...) must not change the requests.
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull


def _cache_mode(value: str) -> str | None:
    """cache.mode for a CACHEGATE_TEST_CACHE value, None for no cache."""
    value = value.strip()
    if value in ("", "off"):
        return None
    if value == "ttl":
        return "ttl=30s"
    if value in ("revalidate", "immutable") or re.fullmatch(r"ttl=\w+", value):
        return value
    raise pytest.UsageError(
        f"CACHEGATE_TEST_CACHE={value!r}: expected off, revalidate, ttl, ttl=DURATION or immutable")


def pytest_collection_modifyitems(config, items):
    """With the cache on, only the tests that go through the session's gateway run: the
    others (manifests, images, the pod-life scenario with its own gateway) do not depend on
    the cache mode."""
    if _CACHE_MODE is None:
        return
    deselected = [item for item in items if "gateway" not in item.fixturenames]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if "gateway" in item.fixturenames]


def pytest_report_header(config):
    return f"cachegate cache: {_CACHE_MODE or 'off'} (CACHEGATE_TEST_CACHE)"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach to every failing test what the gateway logged while it ran."""
    report = (yield).get_result()
    gateway = item.config.stash.get(_GATEWAY_KEY, None)
    if gateway is None:
        return
    if call.when == "setup":
        item.stash[_LOG_OFFSET_KEY] = gateway.log_size()
    if report.failed:
        report.sections.append(("cachegate log during the test",
                                gateway.log_tail(since=item.stash.get(_LOG_OFFSET_KEY, 0))))


# ------------------------------------------------------------------------------- RGW


@pytest.fixture(scope="session")
def rgw() -> Target:
    return _RGW


@pytest.fixture(scope="session")
def rgw_s3(rgw):
    """boto3 client talking to RGW directly: prepares data and checks what reached RGW."""
    return rgw.client()


def _remove_bucket(client, bucket: str) -> None:
    for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket):
        versions = page.get("Versions", []) + page.get("DeleteMarkers", [])
        if versions:
            client.delete_objects(Bucket=bucket, Delete={
                "Objects": [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions],
                "Quiet": True})
    client.delete_bucket(Bucket=bucket)


@pytest.fixture(scope="session")
def run_buckets(rgw_s3):
    """Every bucket of this run (name contains RUN_ID) is removed at the end, including those
    a test created through the gateway."""
    yield
    for bucket in rgw_s3.list_buckets()["Buckets"]:
        if RUN_ID in bucket["Name"]:
            _remove_bucket(rgw_s3, bucket["Name"])


def _bucket_on_rgw(rgw_s3, name: str) -> str:
    rgw_s3.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def alpha_bucket(rgw_s3, run_buckets) -> str:
    return _bucket_on_rgw(rgw_s3, f"alpha-{RUN_ID}")


@pytest.fixture(scope="session")
def beta_bucket(rgw_s3, run_buckets) -> str:
    return _bucket_on_rgw(rgw_s3, f"beta-{RUN_ID}")


@pytest.fixture(scope="session")
def beta_secret_key(rgw_s3, beta_bucket) -> str:
    """An object of beta that alpha must never reach."""
    key = "secret.txt"
    rgw_s3.put_object(Bucket=beta_bucket, Key=key, Body=b"beta's data")
    return key


@pytest.fixture(scope="session")
def run_id() -> str:
    """Part of every bucket name of this run."""
    return RUN_ID


@pytest.fixture
def prefix(request) -> str:
    """A key prefix private to the test (the buckets are shared by the whole session)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", request.node.name)[:80] + "/"


# --------------------------------------------------------------------------- gateway


@dataclass
class Gateway:
    endpoint: str
    admin: str
    log_path: Path
    process: subprocess.Popen

    def target(self, name: str, keys: Keys) -> Target:
        return Target(f"gateway/{name}", self.endpoint, keys)

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_tail(self, since: int = 0) -> str:
        return log_tail(self.log_path, since)


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _config_toml(port: int, admin_port: int, rgw: Target, beta_bucket: str, cache_dir: Path) -> str:
    def keys_block(keys: Keys) -> str:
        return (f"[[tenants.keys]]\naccess_key = {_toml_string(keys.access_key)}\n"
                f"secret_key = {_toml_string(keys.secret_key)}\n")

    return "\n".join([
        f'listen = "127.0.0.1:{port}"',
        f'admin_listen = "127.0.0.1:{admin_port}"',
        "",
        "[log]",
        'format = "json"',
        'level = "info"',
        "",
        "[upstream]",
        f"endpoint = {_toml_string(rgw.endpoint)}",
        'region = "us-east-1"',
        f"access_key = {_toml_string(rgw.keys.access_key)}",
        f"secret_key = {_toml_string(rgw.keys.secret_key)}",
        "path_style = true",
        "",
        "[[tenants]]",
        'name = "alpha"',
        'buckets = ["alpha-*"]',
        keys_block(ALPHA_KEYS),
        keys_block(ALPHA_SECOND_KEYS),
        "[[tenants]]",
        'name = "beta"',
        f"buckets = [{_toml_string(beta_bucket)}]",
        keys_block(BETA_KEYS),
        *([] if _CACHE_MODE is None else [
            "[cache]",
            f"dir = {_toml_string(str(cache_dir))}",
            'max_size = "2GiB"',
            f"mode = {_toml_string(_CACHE_MODE)}",
        ]),
    ])


@pytest.fixture(scope="session")
def gateway(request, tmp_path_factory, rgw, beta_bucket) -> Gateway:
    binary = os.environ.get("CACHEGATE_BIN")
    if not binary or not (shutil.which(binary) or os.access(binary, os.X_OK)):
        pytest.fail(f"CACHEGATE_BIN must name the cachegate binary (got {binary!r})", pytrace=False)
    workdir = tmp_path_factory.mktemp("cachegate")
    port, admin_port = free_ports(2)
    config = workdir / "cachegate.toml"
    config.write_text(_config_toml(port, admin_port, rgw, beta_bucket, workdir / "cache"))
    log_path = workdir / "cachegate.log"
    # The config file alone decides: CACHEGATE_* variables would override its keys (and
    # CACHEGATE_ACCESS_KEY would add a tenant), AWS_* ones could leak RGW's keys.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CACHEGATE_"))}
    with open(log_path, "wb") as log:
        process = subprocess.Popen([binary, "serve", "--config", str(config)],
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   env=env)
    gateway = Gateway(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{admin_port}", log_path, process)
    request.config.stash[_GATEWAY_KEY] = gateway
    try:
        wait_http(f"{gateway.admin}/readyz", process, log_path, READY_TIMEOUT)
        _check_cache_mode(gateway.target("beta", BETA_KEYS).client(), beta_bucket)
        yield gateway
    finally:
        stop_process(process)
        del request.config.stash[_GATEWAY_KEY]


def _check_cache_mode(client, bucket: str) -> None:
    """A run asked to cache must really cache: a GET after the first one is answered from disk
    (HIT, or REVALIDATED under revalidate) once the first one's fill is stored, which runs on
    after the answer; uncached, no answer says it came from the cache."""
    key = f"cache-probe-{RUN_ID}"
    client.put_object(Bucket=bucket, Key=key, Body=b"cache probe")

    def x_cache() -> str | None:
        return client.get_object(Bucket=bucket, Key=key)["ResponseMetadata"]["HTTPHeaders"].get("x-cache")

    try:
        statuses = [x_cache(), x_cache()]
        deadline = time.monotonic() + 5
        while _CACHE_MODE is not None and statuses[-1] == "MISS" and time.monotonic() < deadline:
            time.sleep(0.05)
            statuses.append(x_cache())
    finally:
        client.delete_object(Bucket=bucket, Key=key)
    if _CACHE_MODE is None:
        assert not {"HIT", "REVALIDATED"} & set(statuses), f"no cache configured, yet x-cache {statuses}"
    else:
        # a short ttl may have run out before the next GET
        expected = {"revalidate": {"REVALIDATED"}, "immutable": {"HIT"}}.get(_CACHE_MODE, {"HIT", "REVALIDATED"})
        assert statuses[0] == "MISS" and statuses[-1] in expected, \
            f"cache mode {_CACHE_MODE}: x-cache of successive GETs {statuses}"


@pytest.fixture(scope="session")
def alpha(gateway) -> Target:
    return gateway.target("alpha", ALPHA_KEYS)


@pytest.fixture(scope="session")
def alpha_second_key(gateway) -> Target:
    return gateway.target("alpha#2", ALPHA_SECOND_KEYS)


@pytest.fixture(scope="session")
def beta(gateway) -> Target:
    return gateway.target("beta", BETA_KEYS)


@pytest.fixture(scope="session")
def alpha_s3(alpha):
    """boto3 client of tenant alpha, through the gateway, default settings (SigV4 header)."""
    return alpha.client()


@pytest.fixture(scope="session")
def beta_s3(beta):
    return beta.client()


# ---------------------------------------------------------------------------- parity


@pytest.fixture
def parity(rgw_s3, alpha_s3):
    """check(call, headers=(), compare_body=False): run call(client) against RGW directly and
    through the gateway as alpha, assert both answers agree; returns (direct, via_gateway)."""

    def check(call, headers=(), compare_body=False) -> tuple[Outcome, Outcome]:
        direct = Outcome.of(lambda: call(rgw_s3))
        via_gateway = Outcome.of(lambda: call(alpha_s3))
        assert_same_outcome(direct, via_gateway, headers, compare_body)
        return direct, via_gateway

    return check


@pytest.fixture
def raw_parity(rgw, alpha):
    """Same as parity, for raw HTTP: call(target) -> Outcome, with target RGW or gateway/alpha."""

    def check(call, headers=(), compare_body=False) -> tuple[Outcome, Outcome]:
        direct, via_gateway = call(rgw), call(alpha)
        assert_same_outcome(direct, via_gateway, headers, compare_body)
        return direct, via_gateway

    return check
