#!/usr/bin/env bash
# stop-rgw.sh — stop the cluster started by start-rgw.sh and remove its data dir.
#
# usage: stop-rgw.sh [DATA_DIR]   (default: $CEPH_RGW_DIR or /tmp/cachegate-rgw)
#        CEPH_RGW_KEEP_DATA=1 stop-rgw.sh ...   -> stop daemons, keep the directory (logs)
#
# Only the PIDs recorded in DATA_DIR/run/{rgw,osd,mon}.pid are signalled, and only
# if /proc/PID/cmdline still names DATA_DIR/ceph.conf (protects against PID reuse).
set -euo pipefail

DATA_DIR=${1:-${CEPH_RGW_DIR:-/tmp/cachegate-rgw}}
if [[ ! -d $DATA_DIR ]]; then
    echo "stop-rgw: $DATA_DIR does not exist, nothing to do" >&2
    exit 0
fi
DATA_DIR=$(cd "$DATA_DIR" && pwd -P)
CONF=$DATA_DIR/ceph.conf
RUN=$DATA_DIR/run

if [[ ! -f $DATA_DIR/.cachegate-rgw ]]; then
    echo "stop-rgw: $DATA_DIR has no .cachegate-rgw marker (not made by start-rgw.sh); refusing to touch it" >&2
    exit 1
fi

# shellcheck source=tests/rgw/daemons.sh
source "$(dirname "${BASH_SOURCE[0]}")/daemons.sh"
exec 9>"$DATA_DIR/.lock"
flock -w 120 9 || { echo "stop-rgw: another start/stop holds $DATA_DIR/.lock" >&2; exit 1; }


rc=0
for n in rgw osd mon; do          # reverse start order
    if pid=$(our_pid $n); then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do gone "$pid" && break; sleep 0.1; done
        if ! gone "$pid" && [[ $(our_pid $n || true) == "$pid" ]]; then
            echo "stop-rgw: $n (pid $pid) ignored SIGTERM for 10s, sending SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
            for ((i = 0; i < 50; i++)); do gone "$pid" && break; sleep 0.1; done
            gone "$pid" || { echo "stop-rgw: $n (pid $pid) still alive" >&2; rc=1; }
        fi
        echo "stop-rgw: stopped $n (pid $pid)" >&2
    fi
done

if [[ $rc == 0 && "${CEPH_RGW_KEEP_DATA:-0}" != 1 ]]; then
    rm -rf -- "$DATA_DIR"
    echo "stop-rgw: removed $DATA_DIR" >&2
fi
exit $rc
