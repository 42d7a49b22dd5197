"""A stateless Nextcloud pod's life without Kubernetes, with the binary as built:

1. the gateway runs with deploy/'s own configuration (the rendered ConfigMap and the
   Deployment's environment, Secret files replaced by test files) in front of RGW;
2. a synthetic webroot (index.php, version.php, ...) is published through it with
   `publish-snapshot`, as the publish Job does;
3. `fetch-webroot`, called through its argv[0] symlink like the init container, unpacks it
   into a fresh directory with --owner;
4. the example image's entrypoint starts a real PHP web server (`php -S`) on it, and a
   PHP page is requested;
5. a second pod's fetch is answered from the gateway's cache.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from deploy_manifests import ROOT, config_maps_by_name, gateway_env, render
from processes import free_ports, stop_process, wait_http

OWNER = (33, 33) if os.geteuid() == 0 else (os.getuid(), os.getgid())
PHP_VERSION_STRING = "34.0.1"


@pytest.fixture(scope="module")
def tenant(rgw_s3, run_buckets, run_id) -> dict[str, str]:
    """The tenant's buckets, created on RGW by the operator, and the key pair Nextcloud uses."""
    values = {"DATA_BUCKET": f"pod-data-{run_id}", "WEBROOT_BUCKET": f"pod-webroot-{run_id}",
              "access_key": "PODLIFEKEY0000000001", "secret_key": "pod-life-secret-0000000000000000000001"}
    for bucket in (values["DATA_BUCKET"], values["WEBROOT_BUCKET"]):
        rgw_s3.create_bucket(Bucket=bucket)
    return values


@pytest.fixture(scope="module")
def deployed_gateway(tmp_path_factory, rgw, tenant):
    """cachegate started like the Deployment of deploy/base/tenant starts it."""
    binary = os.environ["CACHEGATE_BIN"]
    workdir = tmp_path_factory.mktemp("pod-gateway")
    objects = render("base/tenant")
    # copies: render() is cached, and other tests read the same objects
    config_maps = {name: dict(data) for name, data in config_maps_by_name(objects).items()}
    tenant_map = next(name for name in config_maps if name.startswith("tenant"))
    config_maps[tenant_map].update(DATA_BUCKET=tenant["DATA_BUCKET"], WEBROOT_BUCKET=tenant["WEBROOT_BUCKET"])
    secrets = {
        "CACHEGATE_ACCESS_KEY_FILE": tenant["access_key"],
        "CACHEGATE_SECRET_KEY_FILE": tenant["secret_key"],
        "CACHEGATE_UPSTREAM_ACCESS_KEY_FILE": rgw.keys.access_key,
        "CACHEGATE_UPSTREAM_SECRET_KEY_FILE": rgw.keys.secret_key,
    }
    container, env = gateway_env(objects, workdir, secrets.__getitem__, config_maps)
    assert set(secrets) == {name for name in env if name.endswith("_FILE")}
    port, admin_port = free_ports(2)
    env.update(  # what differs between a pod and this machine
        CACHEGATE_LISTEN=f"127.0.0.1:{port}",
        CACHEGATE_ADMIN_LISTEN=f"127.0.0.1:{admin_port}",
        CACHEGATE_UPSTREAM_ENDPOINT=rgw.endpoint,
        CACHEGATE_CACHE_DIR=str(workdir / "cache"),
    )
    log = workdir / "cachegate.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([binary, *container["args"]], env=env, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{admin_port}/readyz", process, log)
        yield {"endpoint": f"http://127.0.0.1:{port}", "admin": f"http://127.0.0.1:{admin_port}", "log": log}
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
def tools(tmp_path_factory) -> Path:
    """fetch-webroot and publish-snapshot as argv[0] symlinks, as in the image."""
    directory = tmp_path_factory.mktemp("bin")
    for name in ("fetch-webroot", "publish-snapshot"):
        (directory / name).symlink_to(os.environ["CACHEGATE_BIN"])
    return directory


def _client_env(tenant, tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": tenant["access_key"],
        "AWS_SECRET_ACCESS_KEY": tenant["secret_key"],
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def _synthetic_webroot(root: Path) -> dict[str, bytes]:
    """A tiny Nextcloud look-alike; returns the files a fetch must bring back."""
    files = {
        "version.php": (b"<?php\n$OC_Version = array(34, 0, 1, 2);\n"
                        b"$OC_VersionString = '" + PHP_VERSION_STRING.encode() + b"';\n"),
        "index.php": (b"<?php\nrequire __DIR__ . '/version.php';\nrequire __DIR__ . '/lib/greeting.php';\n"
                      b"header('Content-Type: text/plain');\n"
                      b"echo greeting(), ' ', $OC_VersionString, \"\\n\";\n"
                      b"echo 'owner ', fileowner(__FILE__), ':', filegroup(__FILE__), \"\\n\";\n"),
        "lib/greeting.php": b"<?php\nfunction greeting(): string { return 'hello from the fetched webroot'; }\n",
        "status.php": (b"<?php\nrequire __DIR__ . '/version.php';\nheader('Content-Type: application/json');\n"
                       b"echo json_encode(['installed' => true, 'versionstring' => $OC_VersionString]);\n"),
        "config/config.php": b"<?php\n$CONFIG = array (\n  'version' => '34.0.1.2',\n);\n",
        "core/js/app.js": b"".join(b"console.log(%d);\n" % i for i in range(60000)),
        "occ": b"#!/usr/bin/env php\n<?php\n",
    }
    for path, content in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)
    (root / "occ").chmod(0o755)
    (root / "data").mkdir()
    (root / "data" / "user-file.txt").write_text("never published")
    return files


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}:\n{done.stderr}"
    return done


def _fetch(tools: Path, gateway, tenant, dest: Path, tmp_path: Path) -> None:
    """The init container's command line of deploy/base/nextcloud/deployment.yaml."""
    _run([str(tools / "fetch-webroot"), "--endpoint", gateway["endpoint"], "--bucket", tenant["WEBROOT_BUCKET"],
          "--prefix", "nextcloud", "--dest", str(dest), "--owner", f"{OWNER[0]}:{OWNER[1]}"],
         _client_env(tenant, tmp_path))


def _metric(gateway, sample: str) -> float:
    """The value of one sample (name and labels as exposed) on /metrics, 0 when absent."""
    metrics = requests.get(f"{gateway['admin']}/metrics", timeout=5).text
    match = re.search(rf"^{re.escape(sample)} (\S+)$", metrics, re.M)
    return float(match.group(1)) if match else 0.0


def _archive_sizes(rgw_s3, bucket: str) -> list[int]:
    listing = rgw_s3.list_objects_v2(Bucket=bucket, Prefix="nextcloud/snapshots/")
    return [o["Size"] for o in listing.get("Contents", []) if o["Key"].endswith("/archive.tar.gz")]


def test_pod_life(deployed_gateway, tools, tenant, rgw_s3, tmp_path):
    source = tmp_path / "canary-webroot"
    source.mkdir()
    files = _synthetic_webroot(source)

    # the publish Job's last step
    env = _client_env(tenant, tmp_path) | {"AWS_ENDPOINT_URL": deployed_gateway["endpoint"]}
    _run([str(tools / "publish-snapshot"), "--source", str(source), "--bucket", tenant["WEBROOT_BUCKET"],
          "--prefix", "nextcloud", "--include-config"], env)

    # the init container, into a fresh emptyDir
    webroot = tmp_path / "pod-1" / "html"
    webroot.mkdir(parents=True)
    _fetch(tools, deployed_gateway, tenant, webroot, tmp_path)
    for path, content in files.items():
        fetched = webroot / path
        assert fetched.read_bytes() == content, path
        assert (fetched.stat().st_uid, fetched.stat().st_gid) == OWNER, path
        assert fetched.stat().st_mode & 0o777 == (source / path).stat().st_mode & 0o777, path
    assert not (webroot / "data").exists(), "data/ is never published"

    # the web container: the example image's entrypoint, then a real PHP server
    (port,) = free_ports(1)
    log = tmp_path / "php.log"
    server_env = {"PATH": os.environ["PATH"], "WEBROOT": str(webroot),
                  "NEXTCLOUD_DATA_DIR": str(tmp_path / "pod-1" / "data")}
    with open(log, "wb") as out:
        server = subprocess.Popen(["sh", str(ROOT / "container/nextcloud/entrypoint.sh"),
                                   shutil.which("php"), "-S", f"127.0.0.1:{port}", "-t", str(webroot)],
                                  env=server_env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        status = wait_http(f"http://127.0.0.1:{port}/status.php", server, log)
        assert status.json() == {"installed": True, "versionstring": PHP_VERSION_STRING}
        page = requests.get(f"http://127.0.0.1:{port}/index.php", timeout=5)
        assert page.status_code == 200
        assert page.text == f"hello from the fetched webroot {PHP_VERSION_STRING}\nowner {OWNER[0]}:{OWNER[1]}\n"
    finally:
        stop_process(server)
    assert (tmp_path / "pod-1" / "data" / ".ocdata").exists()

    # a second pod starting: the whole archive comes from the gateway's cache
    (archive_size,) = _archive_sizes(rgw_s3, tenant["WEBROOT_BUCKET"])
    # the fill that the first fetch started completes on its own, after its answers
    deadline = time.monotonic() + 30
    while _metric(deployed_gateway, "cachegate_cache_bytes") < archive_size and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _metric(deployed_gateway, "cachegate_cache_bytes") >= archive_size, "the archive is not cached"
    from_cache = 'cachegate_cache_served_bytes_total{source="cache"}'
    served_before = _metric(deployed_gateway, from_cache)
    second = tmp_path / "pod-2" / "html"
    second.mkdir(parents=True)
    _fetch(tools, deployed_gateway, tenant, second, tmp_path)
    assert (second / "index.php").read_bytes() == files["index.php"]
    served = _metric(deployed_gateway, from_cache) - served_before
    assert served >= archive_size, f"the second fetch got {served} bytes from the cache, the archive has {archive_size}"
