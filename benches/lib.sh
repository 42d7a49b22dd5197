# shellcheck shell=bash
# benches/lib.sh — what the benchmark scripts share: logging, the release build and how the
# header names it, the throw-away RGW, CPU accounting from /proc and the machine line of
# the table. Sourced by benches/*.sh, which set `set -euo pipefail` first.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BENCH_NAME=$(basename "$0" .sh)
# shellcheck disable=SC2034 # clock ticks per second of /proc/*/stat, for the scripts
TICK=$(getconf CLK_TCK)

now_ms() { local t=${EPOCHREALTIME//[^0-9]/}; echo $((10#$t / 1000)); }
T0=$(now_ms)
log() { local d=$(( $(now_ms) - T0 )); printf '[bench %4d.%01ds] %s\n' $((d / 1000)) $((d % 1000 / 100)) "$*" >&2; }
die() { echo "$BENCH_NAME: ERROR: $*" >&2; exit 1; }

# check_dirs WORK RGW_DIR WHY_ROOT: run as root, with a work dir of its own
check_dirs() {
    [[ $EUID -eq 0 ]] || die "must run as root ($3)"
    [[ $1 != / && $1 != "$2" ]] || die "BENCH_DIR must be its own directory"
}

# build_release BIN...: cargo build --release of the binaries (unless BENCH_NO_BUILD=1);
# dies when one is missing from $TARGET_DIR/release
build_release() {
    local bin args=()
    for bin in "$@"; do args+=(--bin "$bin"); done
    if [[ ${BENCH_NO_BUILD:-0} != 1 ]]; then
        log "building $* (release)"
        (cd "$ROOT" && cargo build --release "${args[@]}") >&2
    fi
    for bin in "$@"; do [[ -x $TARGET_DIR/release/$bin ]] || die "missing $TARGET_DIR/release/$bin"; done
}

# how the table's header names the cachegate build: BENCH_REV, else the checkout's HEAD and
# the paths of uncommitted changes that reach the binaries
bench_rev() {
    if [[ -n ${BENCH_REV:-} ]]; then echo "$BENCH_REV"; return; fi
    local rev dirty
    rev=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
    dirty=$(cd "$ROOT" && { git status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null || true; } | awk '{print $2}' | tr '\n' ' ')
    if [[ -n $dirty ]]; then echo "$rev + uncommitted changes in: $dirty"; else echo "$rev"; fi
}

# start_rgw DIR ENV_FILE [ACCESS_KEY SECRET_KEY]: a throw-away RGW (tests/rgw/start-rgw.sh)
# on RGW_PORT, MON_PORT and OSD_PORTS; its AWS_* settings go to ENV_FILE. Further CEPH_*
# settings (buckets, OSD store) come from the caller's environment.
start_rgw() {
    log "starting RGW on 127.0.0.1:$RGW_PORT (data $1)"
    CEPH_RGW_PORT=$RGW_PORT CEPH_MON_PORT=$MON_PORT CEPH_OSD_PORTS=$OSD_PORTS \
        "$ROOT/tests/rgw/start-rgw.sh" "$1" "${@:3}" > "$2"
}
stop_rgw() { # DIR: stops the RGW start_rgw started there, if any
    if [[ -n $1 && -f $1/.cachegate-rgw ]]; then "$ROOT/tests/rgw/stop-rgw.sh" "$1" >/dev/null 2>&1 || true; fi
}
rgw_pids() { # DIR [DAEMON...]: pids of the RGW in DIR (rgw, osd and mon unless named); none without DIR
    [[ -n $1 ]] || return 0
    local dir=$1 daemon daemons=("${@:2}")
    (( ${#daemons[@]} )) || daemons=(rgw osd mon)
    for daemon in "${daemons[@]}"; do
        if [[ -s $dir/run/$daemon.pid ]]; then tr -cd '0-9' < "$dir/run/$daemon.pid"; echo; fi
    done
}

cpu_ticks() { # utime+stime of the given pids and their threads, in clock ticks
    local p total=0 t
    for p in "$@"; do
        t=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}') || t=0
        total=$((total + ${t:-0}))
    done
    echo $total
}
machine_busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
irq_ticks() { awk '/^cpu / {print $7 + $8; exit}' /proc/stat; }

# "N cores, M GiB, CPU model" of the table's header
machine_summary() {
    echo "$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)," \
         "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)"
}
