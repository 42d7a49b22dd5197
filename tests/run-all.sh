#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what is missing (Ceph RGW from
# Debian, Python test clients into a venv), starts a throw-away single-node RGW, then runs
# the Rust tests (unit and end-to-end with aws-sdk-s3) and the Python end-to-end tests
# (boto3, awscli) against gateways started from the release binary, the S3 ones once more
# per cache mode.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
log() { printf '[run-all %(%T)T] %s\n' -1 "$*" >&2; }

command -v cargo >/dev/null || { echo "run-all: cargo is required (rustup)" >&2; exit 1; }
if ! command -v make >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    log "installing make and python3-venv"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends make python3-venv >/dev/null
fi

# php-cli: the pod-life test serves a fetched webroot with `php -S`, and the deploy tests
# evaluate Nextcloud's config fragments.
if ! command -v php >/dev/null; then
    log "installing php-cli"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends php-cli >/dev/null
fi

VENV=${CACHEGATE_TEST_VENV:-$ROOT/target/test-venv}
if [[ ! -x $VENV/bin/pytest ]] || ! cmp -s tests/python/requirements.txt "$VENV/.requirements"; then
    log "python test clients into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r tests/python/requirements.txt
    cp tests/python/requirements.txt "$VENV/.requirements"
fi

# A port set of its own, so that a developer's `make run` RGW (7480) can stay up.
export CEPH_RGW_PORT=${CEPH_RGW_PORT:-17480} CEPH_MON_PORT=${CEPH_MON_PORT:-13310}
RGW_DIR=${CACHEGATE_TEST_RGW_DIR:-/tmp/cachegate-test-rgw}
log "starting Ceph RGW in $RGW_DIR (port $CEPH_RGW_PORT)"
set -a
eval "$(tests/rgw/start-rgw.sh "$RGW_DIR")"
set +a
trap 'tests/rgw/stop-rgw.sh "$RGW_DIR" >/dev/null 2>&1 || true' EXIT

log "building (release)"
cargo build --release --workspace --all-targets

log "Rust tests"
cargo test --release --workspace

log "Python tests"
export CACHEGATE_BIN=$ROOT/target/release/cachegate
"$VENV/bin/pytest" -q tests/python

# Every test that goes through the session's gateway (S3 behaviour, Nextcloud's flows) again
# with the disk cache on, once per consistency mode: each answer must be the uncached
# gateway's; conftest.py deselects the rest (docs/testing.md, "Cache modes").
failed_modes=()
for mode in revalidate ttl immutable; do
    log "Python S3 tests, cache mode $mode"
    CACHEGATE_TEST_CACHE=$mode "$VENV/bin/pytest" -q tests/python || failed_modes+=("$mode")
done
if (( ${#failed_modes[@]} )); then
    echo "run-all: Python S3 tests failed in cache mode(s): ${failed_modes[*]}" >&2
    exit 1
fi
