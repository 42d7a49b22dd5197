"""awscli smoke test through the gateway: `aws s3 cp` up and down (multipart above 8 MiB),
`aws s3 ls`, `aws s3 rm`, with the tenant's keys in the environment."""

import hashlib
import os
import subprocess
import sys

import pytest

from s3util import REGION, MiB, exists


@pytest.fixture
def aws(alpha, tmp_path):
    """Run `aws --endpoint-url GATEWAY ARGS...` as tenant alpha; returns its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=alpha.keys.access_key,
        AWS_SECRET_ACCESS_KEY=alpha.keys.secret_key,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        HOME=str(tmp_path),
    )

    def run(*args: str) -> str:
        command = [sys.executable, "-m", "awscli", "--endpoint-url", alpha.endpoint, *args]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr}"
        return done.stdout

    return run


def test_awscli_cp_ls_rm(aws, rgw_s3, alpha_bucket, prefix, tmp_path):
    source = tmp_path / "upload.bin"
    source.write_bytes(os.urandom(20 * MiB))
    downloaded = tmp_path / "download.bin"
    key = prefix + "upload.bin"
    url = f"s3://{alpha_bucket}/{key}"

    aws("s3", "cp", str(source), url)
    stored = rgw_s3.head_object(Bucket=alpha_bucket, Key=key)
    listing = aws("s3", "ls", f"s3://{alpha_bucket}/{prefix}")
    aws("s3", "cp", url, str(downloaded))
    aws("s3", "rm", url)

    assert stored["ContentLength"] == 20 * MiB
    assert stored["ETag"].strip('"').endswith("-3"), "expected a 3-part multipart upload"
    assert "upload.bin" in listing and str(20 * MiB) in listing, listing
    assert hashlib.sha256(downloaded.read_bytes()).digest() == hashlib.sha256(source.read_bytes()).digest()
    assert not exists(rgw_s3, alpha_bucket, key)
