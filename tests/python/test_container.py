"""container/: the Dockerfiles linted with hadolint and every shell script of the repository
with shellcheck (both from PyPI wheels), and the properties the images promise checked in
the files. Images are not built here: no base image can be pulled in the test environment."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from deploy_manifests import ROOT, tool

CONTAINER = ROOT / "container"
DOCKERFILES = sorted(CONTAINER.glob("*/Dockerfile"))
SKIPPED_DIRS = {".git", "target", "node_modules"}


def shell_scripts() -> list[Path]:
    """Every *.sh file and every file starting with a shell #! line, build output left out."""
    found = []
    for directory, subdirs, names in os.walk(ROOT):
        subdirs[:] = [d for d in subdirs if d not in SKIPPED_DIRS]
        for name in names:
            path = Path(directory, name)
            if name.endswith(".sh") or _shell_shebang(path):
                found.append(path)
    return sorted(found)


def _shell_shebang(path: Path) -> bool:
    try:
        with open(path, "rb") as file:
            first = file.readline(200)
    except OSError:
        return False
    return re.match(rb"#!\s*(/usr)?/bin/(env\s+)?(ba|da)?sh\b", first) is not None


SCRIPTS = shell_scripts()


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def test_there_are_two_images():
    assert [p.parent.name for p in DOCKERFILES] == ["cachegate", "nextcloud"]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_hadolint(dockerfile):
    done = subprocess.run([tool("hadolint"), "--no-color", "--failure-threshold", "info", str(dockerfile)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_shell_script_is_found():
    found = {p.relative_to(ROOT).as_posix() for p in SCRIPTS}
    for script in ("container/nextcloud/entrypoint.sh", "benches/lib.sh", "tests/rgw/daemons.sh", ".ci/run",
                   "tests/run-all.sh"):
        assert script in found


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_shellcheck(script):
    """The shell comes from the #! line or a `# shellcheck shell=` directive; sourced files
    are followed from the repository root."""
    command = [tool("shellcheck"), "--severity=style", "--external-sources", str(script.relative_to(ROOT))]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_cachegate_image():
    steps = instructions(CONTAINER / "cachegate" / "Dockerfile")
    froms = [args for keyword, args in steps if keyword == "FROM"]
    rust_version = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["package"]["rust-version"]
    assert froms == [f"rust:{rust_version}-bookworm AS build", "${RUNTIME_BASE}"], \
        "multi-stage, the builder on the workspace's toolchain"
    args = dict(a.split("=", 1) for keyword, a in steps if keyword == "ARG" and "=" in a)
    assert args["RUNTIME_BASE"] == "gcr.io/distroless/cc-debian12:nonroot"
    assert "debian:bookworm-slim" in (CONTAINER / "cachegate" / "Dockerfile").read_text(), "the documented alternative"
    build = " ".join(a for keyword, a in steps if keyword == "RUN")
    assert "cargo build --release --locked -p cachegate" in build
    for name in ("fetch-webroot", "publish-snapshot"):
        assert f"ln -s cachegate /out/usr/local/bin/{name}" in build, f"argv[0] symlink {name}"
    assert ("COPY", "--from=build /out/ /") in steps, "the runtime stage only copies from the builder: no RUN, no shell"
    assert [keyword for keyword, _ in steps[steps.index(("FROM", "${RUNTIME_BASE}")):]].count("RUN") == 0
    assert ("USER", "65532:65532") in steps
    entrypoint = json.loads(next(a for keyword, a in steps if keyword == "ENTRYPOINT"))
    assert entrypoint == ["/usr/local/bin/cachegate"], "exec form"
    assert json.loads(next(a for keyword, a in steps if keyword == "CMD")) == ["serve"]
    labels = " ".join(a for keyword, a in steps if keyword == "LABEL")
    for label in ("title", "description", "licenses", "version", "revision", "source"):
        assert f"org.opencontainers.image.{label}=" in labels


def test_dockerignore_keeps_the_context_small():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".git", "target", "**/target"):
        assert entry in ignored


def test_nextcloud_image():
    dockerfile = CONTAINER / "nextcloud" / "Dockerfile"
    steps = instructions(dockerfile)
    assert [a for keyword, a in steps if keyword == "FROM"] == ["nextcloud:${NEXTCLOUD_VERSION}-apache"]
    assert ("USER", "33:33") in steps, "www-data, numeric for runAsNonRoot"
    assert ("EXPOSE", "8080") in steps
    entrypoint_instruction = next(a for keyword, a in steps if keyword == "ENTRYPOINT")
    assert json.loads(entrypoint_instruction) == ["/usr/local/bin/webroot-entrypoint"]
    assert json.loads(next(a for keyword, a in steps if keyword == "CMD")) == ["apache2-foreground"]
    entrypoint = (CONTAINER / "nextcloud" / "entrypoint.sh").read_text()
    code = "\n".join(line for line in entrypoint.splitlines() if not line.lstrip().startswith("#"))
    for fetching in ("aws ", "curl", "wget", "tar ", "chown", "rsync"):
        assert fetching not in code, f"the entrypoint only starts the server, yet it runs {fetching.strip()}"
    assert code.rstrip().endswith('exec "$@"')


def test_nextcloud_entrypoint_starts_only_on_a_filled_webroot(tmp_path):
    entrypoint = CONTAINER / "nextcloud" / "entrypoint.sh"
    env = {"PATH": "/usr/bin:/bin", "WEBROOT": str(tmp_path / "html"), "NEXTCLOUD_DATA_DIR": str(tmp_path / "data")}
    (tmp_path / "html").mkdir()
    empty = subprocess.run(["sh", str(entrypoint), "echo", "started"], env=env, capture_output=True, text=True)
    assert empty.returncode == 1 and "fetch-webroot" in empty.stderr and "started" not in empty.stdout
    (tmp_path / "html" / "version.php").write_text("<?php\n")
    filled = subprocess.run(["sh", str(entrypoint), "echo", "started"], env=env, capture_output=True, text=True)
    assert filled.returncode == 0 and filled.stdout == "started\n", filled.stderr
    assert (tmp_path / "data" / ".ocdata").exists()
