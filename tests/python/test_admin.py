"""The admin listener: health, readiness, Prometheus metrics."""

import re

import requests


def test_healthz_answers_200(gateway):
    assert requests.get(f"{gateway.admin}/healthz", timeout=5).status_code == 200


def test_readyz_answers_200_when_rgw_is_up(gateway):
    assert requests.get(f"{gateway.admin}/readyz", timeout=5).status_code == 200


def test_metrics_count_requests_per_tenant(gateway, alpha_s3, alpha_bucket):
    alpha_s3.head_bucket(Bucket=alpha_bucket)  # at least one request of alpha is counted

    response = requests.get(f"{gateway.admin}/metrics", timeout=5)

    assert response.status_code == 200
    samples = [line for line in response.text.splitlines()
               if line.startswith("cachegate_requests_total{")]
    assert samples, f"no cachegate_requests_total samples in:\n{response.text[:2000]}"
    alpha_samples = [line for line in samples if 'tenant="alpha"' in line]
    assert alpha_samples, "no sample for tenant alpha:\n" + "\n".join(samples)
    for label in ("operation", "status"):
        assert re.search(rf'\b{label}="[^"]*"', alpha_samples[0]), alpha_samples[0]
