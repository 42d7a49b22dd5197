"""Rendering deploy/ with kustomize and walking the rendered objects (for test_deploy.py
and test_pod_life.py)."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
GATEWAY_TOML = DEPLOY / "base" / "gateway" / "cachegate.toml"

# Every directory with a kustomization: bases, components are rendered through overlays.
OVERLAYS = sorted(p.parent.relative_to(DEPLOY).as_posix() for p in (DEPLOY / "overlays").glob("*/kustomization.yaml"))
RENDERED = ["base/gateway", "base/nextcloud", "base/tenant", "monitoring", *OVERLAYS]

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
_BINARY_UNITS = {"": 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
                 "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def tool(name: str) -> str:
    """A binary installed into the test venv (kubectl, hadolint, shellcheck), else PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: install tests/python/requirements.txt (tests/run-all.sh does)")
    return found


@functools.cache
def render(directory: str) -> tuple[dict, ...]:
    """The objects `kubectl kustomize deploy/<directory>` prints."""
    result = subprocess.run([tool("kubectl"), "kustomize", str(DEPLOY / directory)],
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise AssertionError(f"kustomize {directory} failed:\n{result.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def find(objects, kind: str, name: str | None = None) -> list[dict]:
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(objects, kind: str, name: str) -> dict:
    found = find(objects, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


@dataclass
class Container:
    """One container of a workload, with the pod it runs in."""
    workload: dict
    pod: dict
    spec: dict
    init: bool

    @property
    def label(self) -> str:
        kind = "init container" if self.init else "container"
        return f"{self.workload['kind']}/{self.workload['metadata']['name']} {kind} {self.spec['name']}"


def pod_spec(workload: dict) -> dict:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def containers(objects) -> list[Container]:
    """Every container and init container of every workload."""
    found = []
    for workload in objects:
        if workload["kind"] not in WORKLOAD_KINDS:
            continue
        pod = pod_spec(workload)
        found += [Container(workload, pod, c, True) for c in pod.get("initContainers", [])]
        found += [Container(workload, pod, c, False) for c in pod["containers"]]
    return found


def quantity_bytes(text: str) -> int:
    """Kubernetes quantities (13Gi) and cachegate sizes (8GiB) in bytes."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]i(?:B)?)?", str(text).strip())
    assert match, f"not a binary size: {text!r}"
    return int(float(match.group(1)) * _BINARY_UNITS[match.group(2) or ""])


def gateway_config(objects) -> dict:
    """The cachegate.toml of the rendered cachegate-config ConfigMap."""
    return tomllib.loads(config_map_data(objects, "cachegate-config")["cachegate.toml"])


def config_map_data(objects, prefix: str) -> dict:
    """The data of ConfigMap `prefix` (kustomize adds a content hash to generated names)."""
    found = [o for o in objects
             if o["kind"] == "ConfigMap" and re.fullmatch(rf"{prefix}(-[a-z0-9]+)?", o["metadata"]["name"])]
    assert len(found) == 1, f"one ConfigMap {prefix} expected"
    return found[0]["data"]


def container_env(container: dict, config_maps: dict[str, dict]) -> dict[str, str]:
    """The container's environment as the kubelet builds it: ConfigMap keys resolved,
    $(VAR) references expanded; Secret keys become '<secret:name/key>'."""
    env: dict[str, str] = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                                       lambda m: env.get(m.group(1), m.group(0)), item["value"])
        elif "configMapKeyRef" in item["valueFrom"]:
            ref = item["valueFrom"]["configMapKeyRef"]
            env[item["name"]] = config_maps[ref["name"]][ref["key"]]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = f"<secret:{ref['name']}/{ref['key']}>"
    return env


def config_maps_by_name(objects) -> dict[str, dict]:
    return {o["metadata"]["name"]: o.get("data", {}) for o in objects if o["kind"] == "ConfigMap"}


def gateway_env(objects, workdir: Path, secret: Callable[[str], str],
                config_maps: dict[str, dict] | None = None) -> tuple[dict, dict[str, str]]:
    """The gateway container of the rendered Deployment cachegate and the environment to run it
    with here: its env resolved from config_maps (default: the rendered ones), the rendered
    cachegate.toml written into workdir (CACHEGATE_CONFIG), each Secret file (*_FILE) written
    into workdir holding secret(variable name), and this process's PATH."""
    (container,) = pod_spec(one(objects, "Deployment", "cachegate"))["containers"]
    env = container_env(container, config_maps or config_maps_by_name(objects))
    (workdir / "cachegate.toml").write_text(config_map_data(objects, "cachegate-config")["cachegate.toml"])
    env["CACHEGATE_CONFIG"] = str(workdir / "cachegate.toml")
    for name in [n for n in env if n.endswith("_FILE")]:
        (workdir / name).write_text(secret(name) + "\n")  # as a Secret volume may hold it
        env[name] = str(workdir / name)
    env["PATH"] = os.environ["PATH"]
    return container, env
