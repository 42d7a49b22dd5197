#!/usr/bin/env bash
# cache_vs_nginx.sh — hot-object GET throughput of cachegate against Ceph RGW directly
# and against Debian's nginx with proxy_cache in front of the same RGW, in one go.
#
# usage: benches/cache_vs_nginx.sh            (as root, from anywhere in the repo)
#
# What it does (everything on 127.0.0.1, everything it starts is stopped on exit):
#   1. installs nginx and jq if missing (apt), builds cachegate and cachegate-loadgen
#      (release), starts a throw-away RGW with tests/rgw/start-rgw.sh on its own ports;
#   2. uploads 1024 objects of 4 KiB, 256 of 1 MiB and 8 of 64 MiB (x-amz-acl public-read,
#      so that nginx may fetch them anonymously);
#   3. starts nginx (proxy_cache, sendfile, upstream keep-alive; on a second port the same
#      proxy without its cache, for what one more hop costs a miss on this machine; on a
#      third, proxy_cache_bypass into a cache of its own: every GET a miss that fills) and
#      three cachegate processes, cache mode "immutable", JSON logs to files:
#        cg      log level warn; a second tenant there has the cache off (bypass row)
#        cg-info log level info (one access-log line per request)
#        cg-miss a cache too small to keep anything: every GET is a miss that fills
#      and, for 4 KiB, two fixed-answer servers (cachegate-floor, crates/floor) on the server
#      stack cachegate runs: hyper alone, and s3s (SigV4 checked) in front of a fixed answer,
#      the ceiling of a cache behind s3s;
#   4. warms every cache, then for each size runs cachegate-loadgen against each target in
#      turn (same keys, same concurrency, BENCH_DURATION each after BENCH_WARMUP), and
#      that whole turn BENCH_ROUNDS times, so that a slow or fast spell of the machine
#      falls on every target alike;
#   5. prints one table: for each target its median run (req/s, MiB/s, p50/p99, server CPU
#      per request), the medians of the per-round ratios cachegate/nginx and cachegate/RGW,
#      the targets met or missed, and cachegate's peak RSS (VmHWM).
#      Results, every run: $BENCH_DIR/results.jsonl.
#
# Exits non-zero only when something failed (a request error, a daemon that did not
# start); targets that are missed are reported, not fatal.
#
# Environment (all optional):
#   BENCH_DURATION   measured time per run                        [5s]
#   BENCH_ROUNDS     turns over all targets per size               [3]
#   BENCH_WARMUP     load before each measured window             [2s]
#   BENCH_SIZES      which sizes: any of 4k,1m,64m                 [4k,1m,64m]
#   BENCH_DIR        work dir (configs, logs, caches, results)    [/tmp/cachegate-bench]
#   BENCH_RGW_DIR    RGW data dir                                  [/tmp/cachegate-bench-rgw]
#   BENCH_RGW_PORT   RGW port                                      [27480]
#   BENCH_MON_PORT   Ceph monitor port                             [13320]
#   BENCH_OSD_PORTS  Ceph OSD port range                           [16900-16999]
#   BENCH_PORT_BASE  nginx on BASE+1..3, cachegates on BASE+10..15 (+16..19 baseline,
#                    +20..21 callgrind, +22..23 fixed-answer floors)                     [27480]
#   BENCH_REV        how the header names the cachegate build   [git HEAD of the checkout]
#   BENCH_NO_BUILD=1 use target/release as it is ($CARGO_TARGET_DIR/release if set)
#   BENCH_KEEP=1     leave RGW, nginx and cachegate running (prints how to stop them)
#   BENCH_PERF=1     afterwards, perf-record cachegate during one more 4 KiB and 64 MiB hit
#                    run, a 4 KiB hit run with the access log, a 4 KiB cache-off run and a
#                    4 KiB and a 1 MiB miss run
#                    ($BENCH_DIR/perf-SIZE-TARGET-*.txt; not part of the table)
#   BENCH_BASELINE   another cachegate binary (an earlier build) to measure in the same
#                    rounds: copies of cg-info and cg-miss run it (rows "baseline …"), and
#                    the targets line gives this build's ratios to it
#   BENCH_CALLGRIND=1 afterwards, count the instructions cachegate spends per 4 KiB hit, at
#                    log level warn and info, under valgrind's callgrind: repeatable where
#                    timings are not (SHA-256 runs without the CPU's SHA instructions there,
#                    so signature checks weigh more than on the real CPU)
#   BENCH_PIN=1      RGW (monitor, OSD, radosgw) on CPU 0, everything else (nginx, cachegates,
#                    load generator) on the other CPUs, as in production, where RGW runs on
#                    other nodes: a gateway's CPU then costs latency, not RGW's CPU time
#   BENCH_QUIET_WAIT seconds to wait for the machine to be idle before measuring    [0]
#   BENCH_RETRIES    runs measured again when foreign processes took > 15% of a core [2]
set -euo pipefail
# shellcheck source=benches/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=${BENCH_DURATION:-5s}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP=${BENCH_WARMUP:-2s}
SIZES=${BENCH_SIZES:-4k,1m,64m}
WORK=${BENCH_DIR:-/tmp/cachegate-bench}
RGW_DIR=${BENCH_RGW_DIR:-/tmp/cachegate-bench-rgw}
RGW_PORT=${BENCH_RGW_PORT:-27480}
MON_PORT=${BENCH_MON_PORT:-13320}
OSD_PORTS=${BENCH_OSD_PORTS:-16900-16999}
BASE=${BENCH_PORT_BASE:-27480}
NGINX_PORT=$((BASE + 1)); NGINX_PROXY_PORT=$((BASE + 2)); NGINX_FILL_PORT=$((BASE + 3))
BUCKET=cgbench
RGW_KEY=BENCHRGWACCESSKEY000
RGW_SECRET=benchrgwsecretkey00000000000000000000000
HIT_KEY=CGBENCHHITKEY0000001
HIT_SECRET=cgbench-hit-secret-000000000000000000001
BYPASS_KEY=CGBENCHBYPASSKEY0001
BYPASS_SECRET=cgbench-bypass-secret-00000000000000001
LOADGEN=$TARGET_DIR/release/cachegate-loadgen
CACHEGATE=$TARGET_DIR/release/cachegate
FLOOR=$TARGET_DIR/release/cachegate-floor
# name  bytes  keys  concurrency. The load generator gives each worker its own keys, so
# no two requests for one key are in flight at once (no coalescing in the caches), and
# enough keys that cg-miss has evicted a key before it is asked for again.
SIZE_TABLE=(
    "4k   4096     1024 32"
    "1m   1048576   256 16"
    "64m  67108864    8  4"
)

check_dirs "$WORK" "$RGW_DIR" "RGW, apt-get"

# ------------------------------------------------------------ install + build ----
need=()
command -v nginx >/dev/null || need+=(nginx)
command -v jq >/dev/null || need+=(jq)
command -v curl >/dev/null || need+=(curl)
if (( ${#need[@]} )); then
    log "installing ${need[*]} (apt)"
    POLICY=/usr/sbin/policy-rc.d; OWN_POLICY=0
    # keep the package's maintainer scripts from starting a system nginx on port 80
    if [[ ! -e $POLICY ]]; then printf '#!/bin/sh\nexit 101\n' > $POLICY; chmod +x $POLICY; OWN_POLICY=1; fi
    rc=0
    ( export DEBIAN_FRONTEND=noninteractive
      apt-get -o DPkg::Lock::Timeout=600 update -qq &&
      apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null ) >&2 || rc=$?
    [[ $OWN_POLICY == 1 ]] && rm -f $POLICY
    [[ $rc == 0 ]] || die "apt-get install ${need[*]} failed"
fi
build_release cachegate cachegate-loadgen cachegate-floor
REV=$(bench_rev)

# ------------------------------------------------------------------ cleanup ----
PIDS=()          # cachegate processes we started
NGINX_CONF=$WORK/nginx/nginx.conf
cleanup() {
    local rc=$? p
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then
        echo "left running: pids ${PIDS[*]:-} (cachegates, fixed-answer servers); nginx: nginx -p $WORK/nginx -c $NGINX_CONF -s quit;" \
             "RGW: $ROOT/tests/rgw/stop-rgw.sh $RGW_DIR" >&2
        exit $rc
    fi
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    if [[ -s $WORK/nginx/nginx.pid ]]; then nginx -p "$WORK/nginx" -c "$NGINX_CONF" -s stop 2>/dev/null || true; fi
    for p in "${PIDS[@]}"; do
        for _ in {1..50}; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
    done
    stop_rgw "$RGW_DIR"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# a fresh work dir (caches included) every run
if [[ -d $WORK ]]; then
    [[ -f $WORK/.cachegate-bench ]] || die "$WORK exists and was not made by this script"
    if [[ -s $WORK/nginx/nginx.pid ]] && kill -0 "$(cat "$WORK/nginx/nginx.pid")" 2>/dev/null; then
        die "an nginx of an earlier run is still up (pid $(cat "$WORK/nginx/nginx.pid")); stop it first"
    fi
    rm -rf "$WORK"
fi
mkdir -p "$WORK"/{nginx/cache,nginx/fill-cache,nginx/tmp,logs}
touch "$WORK/.cachegate-bench"
RESULTS=$WORK/results.jsonl
: > "$RESULTS"
# private copies: a rebuild of target/ during the run must not change what runs (or what perf resolves)
mkdir -p "$WORK/bin"
cp "$CACHEGATE" "$LOADGEN" "$FLOOR" "$WORK/bin/"
CACHEGATE=$WORK/bin/cachegate
LOADGEN=$WORK/bin/cachegate-loadgen
FLOOR=$WORK/bin/cachegate-floor

# --------------------------------------------------------------------- RGW ------
CEPH_RGW_BUCKETS=$BUCKET start_rgw "$RGW_DIR" "$WORK/rgw.env" "$RGW_KEY" "$RGW_SECRET"
RGW=http://127.0.0.1:$RGW_PORT
PINNING=""
MACHINE=$(machine_summary)   # before pinning, which makes nproc count the script's CPUs only
NCPU=$(nproc)
if [[ ${BENCH_PIN:-0} == 1 ]]; then
    (( $(nproc) >= 2 )) || die "BENCH_PIN=1 needs at least two CPUs"
    for p in $(rgw_pids "$RGW_DIR"); do taskset -a -cp 0 "$p" >/dev/null; done
    REST_CPUS=1; (( $(nproc) > 2 )) && REST_CPUS=1-$(( $(nproc) - 1 ))
    # what this script starts from now on inherits its CPUs
    taskset -cp "$REST_CPUS" $$ >/dev/null
    PINNING="; RGW pinned to CPU 0, the rest to CPU $REST_CPUS"
    log "pinned: RGW to CPU 0, the rest to CPU $REST_CPUS"
fi

size_row() { local n; for n in "${SIZE_TABLE[@]}"; do read -r -a f <<< "$n"; [[ ${f[0]} == "$1" ]] && { echo "$n"; return; }; done; die "unknown size '$1' in BENCH_SIZES"; }
IFS=',' read -r -a SIZE_NAMES <<< "$SIZES"

log "uploading objects (public-read)"
for name in "${SIZE_NAMES[@]}"; do
    read -r _ bytes nkeys _ <<< "$(size_row "$name")"
    "$LOADGEN" --endpoint "$RGW" --access-key "$RGW_KEY" --secret-key "$RGW_SECRET" --bucket "$BUCKET" \
        --prefix "obj-$name-" --count "$nkeys" --put-bytes "$bytes" --header "x-amz-acl: public-read" \
        --once --concurrency 4 --duration 300s > "$WORK/logs/put-$name.json" \
        || die "uploading the $name objects failed: $(cat "$WORK/logs/put-$name.json")"
done
code=$(curl -s -o /dev/null -w '%{http_code}' "$RGW/$BUCKET/obj-${SIZE_NAMES[0]}-0")
[[ $code == 200 ]] || die "anonymous GET of a public-read object on RGW: HTTP $code"

# ------------------------------------------------------------------- nginx ------
cat > "$NGINX_CONF" <<EOF
# generated by benches/cache_vs_nginx.sh
user root;
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    proxy_cache_path $WORK/nginx/cache levels=1:2 keys_zone=bench:16m max_size=4g inactive=1h use_temp_path=off;
    proxy_cache_path $WORK/nginx/fill-cache levels=1:2 keys_zone=fill:16m max_size=4g inactive=1h use_temp_path=off;
    upstream rgw {
        server 127.0.0.1:$RGW_PORT;
        keepalive 32;
    }
    # every server below: keep-alive to RGW, and (where a cache is on) cache what RGW answers
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host 127.0.0.1:$RGW_PORT;
    proxy_cache_valid 200 206 1h;
    proxy_ignore_headers Cache-Control Expires Set-Cookie;
    add_header X-Cache-Status \$upstream_cache_status;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            proxy_pass http://rgw;
            proxy_cache bench;
            proxy_cache_lock on;
        }
    }
    server {
        listen 127.0.0.1:$NGINX_PROXY_PORT;
        location / {
            proxy_pass http://rgw;
        }
    }
    # never answers from its cache but stores every response in it (a temporary file
    # renamed over the previous copy): nginx's cost of a miss that fills
    server {
        listen 127.0.0.1:$NGINX_FILL_PORT;
        location / {
            proxy_pass http://rgw;
            proxy_cache fill;
            proxy_cache_bypass 1;
        }
    }
}
EOF
log "starting nginx on 127.0.0.1:$NGINX_PORT ($(nginx -v 2>&1 | sed 's/.*: //'))"
nginx -p "$WORK/nginx" -c "$NGINX_CONF" -t >/dev/null 2>"$WORK/logs/nginx-t.log" || die "nginx config: $(cat "$WORK/logs/nginx-t.log")"
nginx -p "$WORK/nginx" -c "$NGINX_CONF"
for _ in {1..50}; do [[ -s $WORK/nginx/nginx.pid ]] && break; sleep 0.1; done
NGINX_MASTER=$(cat "$WORK/nginx/nginx.pid")
nginx_pids() { echo "$NGINX_MASTER"; pgrep -P "$NGINX_MASTER" || true; }

# --------------------------------------------------------------- cachegate ------
# await_answer NAME PID URL SECONDS [STATUS]: until URL answers (with STATUS, when given);
# dies, with the end of $WORK/logs/NAME.log, if PID exits or SECONDS pass first
await_answer() {
    local name=$1 pid=$2 url=$3 seconds=$4 want=${5:-} code deadline=$((SECONDS + $4))
    while code=$(curl -s -o /dev/null -w '%{http_code}' "$url"); [[ $code == 000 || ( -n $want && $code != "$want" ) ]]; do
        kill -0 "$pid" 2>/dev/null || die "$name exited: $(tail -3 "$WORK/logs/$name.log")"
        (( SECONDS < deadline )) || die "$name not ready within $seconds s: $(tail -3 "$WORK/logs/$name.log")"
        sleep 0.1
    done
}
# start_cachegate NAME PORT LEVEL MAX_SIZE EXTRA_TOML
start_cachegate() { # NAME PORT LEVEL MAX_SIZE EXTRA_TOML [BINARY]
    local name=$1 port=$2 level=$3 max_size=$4 extra=$5 binary=${6:-$CACHEGATE} conf=$WORK/$1.toml
    cat > "$conf" <<EOF
listen = "127.0.0.1:$port"
admin_listen = "127.0.0.1:$((port + 1))"
[log]
format = "json"
level = "$level"
[upstream]
endpoint = "$RGW"
access_key = "$RGW_KEY"
secret_key = "$RGW_SECRET"
[cache]
dir = "$WORK/$name-cache"
max_size = "$max_size"
mode = "immutable"
[[tenants]]
name = "bench"
buckets = ["$BUCKET"]
[[tenants.keys]]
access_key = "$HIT_KEY"
secret_key = "$HIT_SECRET"
$extra
EOF
    "$binary" serve --config "$conf" --check-config >/dev/null || die "$name: bad config $conf"
    "$binary" serve --config "$conf" 2>"$WORK/logs/$name.log" </dev/null &
    PIDS+=($!)
    await_answer "$name" "${PIDS[-1]}" "http://127.0.0.1:$((port + 1))/readyz" 30 200
}
CG_PORT=$((BASE + 10)); CG_INFO_PORT=$((BASE + 12)); CG_MISS_PORT=$((BASE + 14))
start_cachegate cg "$CG_PORT" warn 4GiB "[[tenants]]
name = \"bypass\"
buckets = [\"$BUCKET\"]
[tenants.cache]
enabled = false
[[tenants.keys]]
access_key = \"$BYPASS_KEY\"
secret_key = \"$BYPASS_SECRET\""
start_cachegate cg-info "$CG_INFO_PORT" info 4GiB ""
# smaller than any object: every entry is evicted as it is stored, so every GET fills
start_cachegate cg-miss "$CG_MISS_PORT" warn 4KiB ""
PID_cg=${PIDS[0]} PID_cg_info=${PIDS[1]} PID_cg_miss=${PIDS[2]}
BASELINE=${BENCH_BASELINE:-}; BASE_INFO_PORT=$((BASE + 16)); BASE_MISS_PORT=$((BASE + 18)); BASE_TARGETS=()
if [[ -n $BASELINE ]]; then
    [[ -x $BASELINE ]] || die "BENCH_BASELINE: $BASELINE is not an executable"
    start_cachegate base-info "$BASE_INFO_PORT" info 4GiB "" "$BASELINE"
    start_cachegate base-miss "$BASE_MISS_PORT" warn 4KiB "" "$BASELINE"
    PID_base_info=${PIDS[3]} PID_base_miss=${PIDS[4]} BASE_TARGETS=(base-info base-miss)
    log "baseline pids: base-info=$PID_base_info base-miss=$PID_base_miss ($BASELINE)"
fi
log "cachegate pids: cg=$PID_cg cg-info=$PID_cg_info cg-miss=$PID_cg_miss ($("$CACHEGATE" --version 2>/dev/null || echo cachegate))"

# the same GET answered with a fixed 4 KiB object: by hyper alone, and by s3s (signature
# checked, typed GetObject), on the server stack of `cachegate serve`
start_floor() { # NAME PORT THROUGH
    "$FLOOR" --listen "127.0.0.1:$2" --through "$3" --access-key "$HIT_KEY" --secret-key "$HIT_SECRET" \
        2>"$WORK/logs/$1.log" </dev/null &
    PIDS+=($!)
    await_answer "$1" "${PIDS[-1]}" "http://127.0.0.1:$2/" 30
}
FLOOR_HYPER_PORT=$((BASE + 22)); FLOOR_S3S_PORT=$((BASE + 23)); FLOORS=()
if [[ " ${SIZE_NAMES[*]} " == *" 4k "* ]]; then   # they answer 4 KiB only
    start_floor floor-hyper "$FLOOR_HYPER_PORT" hyper; PID_floor_hyper=${PIDS[-1]}
    start_floor floor-s3s "$FLOOR_S3S_PORT" s3s; PID_floor_s3s=${PIDS[-1]}
    FLOORS=(floor-hyper floor-s3s)
fi

# ------------------------------------------------------------------- runs --------
# endpoint, signing and pids (for CPU accounting) of each target
target_args() {
    local hit="--access-key $HIT_KEY --secret-key $HIT_SECRET"
    case $1 in
        rgw)       echo "--endpoint $RGW --access-key $RGW_KEY --secret-key $RGW_SECRET" ;;
        rgw-anon)  echo "--endpoint $RGW --unsigned" ;;
        nginx)     echo "--endpoint http://127.0.0.1:$NGINX_PORT --unsigned" ;;
        nginx-proxy) echo "--endpoint http://127.0.0.1:$NGINX_PROXY_PORT --unsigned" ;;
        nginx-fill) echo "--endpoint http://127.0.0.1:$NGINX_FILL_PORT --unsigned" ;;
        cg)        echo "--endpoint http://127.0.0.1:$CG_PORT $hit" ;;
        cg-info)   echo "--endpoint http://127.0.0.1:$CG_INFO_PORT $hit" ;;
        cg-bypass) echo "--endpoint http://127.0.0.1:$CG_PORT --access-key $BYPASS_KEY --secret-key $BYPASS_SECRET" ;;
        cg-miss)   echo "--endpoint http://127.0.0.1:$CG_MISS_PORT $hit" ;;
        base-info) echo "--endpoint http://127.0.0.1:$BASE_INFO_PORT $hit" ;;
        base-miss) echo "--endpoint http://127.0.0.1:$BASE_MISS_PORT $hit" ;;
        floor-hyper) echo "--endpoint http://127.0.0.1:$FLOOR_HYPER_PORT $hit" ;;
        floor-s3s) echo "--endpoint http://127.0.0.1:$FLOOR_S3S_PORT $hit" ;;
    esac
}
target_pids() {
    case $1 in
        rgw|rgw-anon) rgw_pids "$RGW_DIR" rgw osd ;;
        nginx|nginx-proxy|nginx-fill) nginx_pids ;;
        cg|cg-bypass) echo "$PID_cg" ;;
        cg-info) echo "$PID_cg_info" ;;
        cg-miss) echo "$PID_cg_miss" ;;
        base-info) echo "$PID_base_info" ;;
        base-miss) echo "$PID_base_miss" ;;
        floor-hyper) echo "$PID_floor_hyper" ;;
        floor-s3s) echo "$PID_floor_s3s" ;;
    esac
}
target_port() {
    case $1 in
        cg|cg-bypass) echo "$CG_PORT" ;;
        cg-info) echo "$CG_INFO_PORT" ;;
        cg-miss) echo "$CG_MISS_PORT" ;;
        base-info) echo "$BASE_INFO_PORT" ;;
        base-miss) echo "$BASE_MISS_PORT" ;;
    esac
}
# every process this script started but the load generator
bench_pids() { rgw_pids "$RGW_DIR"; nginx_pids; printf '%s\n' "${PIDS[@]}"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
metric_sum() { # sum of a Prometheus counter (all label sets matching a grep pattern) of one cachegate
    curl -s "http://127.0.0.1:$(($1 + 1))/metrics" | { grep -E "^$2" || true; } | awk '{s += $NF} END {printf "%d", s}'
}
FAILED=0

# how busy the machine is without our load (RGW idling included), over 2 s, in % of one core
background_busy() {
    local b0 b1
    b0=$(machine_busy_ticks); sleep 2; b1=$(machine_busy_ticks)
    echo $(( (b1 - b0) * 100 / (2 * TICK) ))
}
wait_quiet() { # up to $1 seconds until the machine idles (< 25% of a core busy) -> BACKGROUND
    local deadline=$((SECONDS + $1))
    BACKGROUND=$(background_busy)
    while (( BACKGROUND > 25 && SECONDS < deadline )); do
        log "machine busy at ${BACKGROUND}% of a core without our load: waiting for it to calm down"
        BACKGROUND=$(background_busy)
    done
    (( BACKGROUND <= 25 )) || log "warning: ${BACKGROUND}% of a core busy without our load: figures will be skewed (see 'foreign CPU')"
}
wait_quiet "${BENCH_QUIET_WAIT:-0}"

# measure SIZE TARGET NKEYS BYTES CONCURRENCY [extra loadgen args]: one run -> LAST_OUT, LAST_RC
measure() {
    local size=$1 target=$2 nkeys=$3 bytes=$4 conc=$5; shift 5
    local pids before after busy0 busy1 irq0 irq1 ours0 ours1 t0 t1 out rc=0 port="" up0=0 up1=0 hit0=0 hit1=0
    # shellcheck disable=SC2207
    pids=($(target_pids "$target"))
    port=$(target_port "$target")
    if [[ -n $port ]]; then
        up0=$(metric_sum "$port" 'cachegate_upstream_requests_total.*operation="GetObject"')
        hit0=$(metric_sum "$port" 'cachegate_cache_requests_total.*result="HIT"')
    fi
    # shellcheck disable=SC2046
    ours0=$(cpu_ticks $(bench_pids)); irq0=$(irq_ticks)
    before=$(cpu_ticks "${pids[@]}"); busy0=$(machine_busy_ticks); t0=$(now_ms)
    # shellcheck disable=SC2046
    out=$("$LOADGEN" $(target_args "$target") --bucket "$BUCKET" --prefix "obj-${size%-*}-" --count "$nkeys" --expect-bytes "$bytes" \
          --concurrency "$conc" --duration "$DURATION" --warmup "$WARMUP" --label "$size/$target" "$@") || rc=$?
    after=$(cpu_ticks "${pids[@]}"); busy1=$(machine_busy_ticks); t1=$(now_ms)
    # shellcheck disable=SC2046
    ours1=$(cpu_ticks $(bench_pids)); irq1=$(irq_ticks)
    if [[ -n $port ]]; then
        up1=$(metric_sum "$port" 'cachegate_upstream_requests_total.*operation="GetObject"')
        hit1=$(metric_sum "$port" 'cachegate_cache_requests_total.*result="HIT"')
    fi
    [[ -n $out ]] || die "loadgen against $target printed nothing (rc $rc)"
    # upstream_gets and cache_hits cover the warm-up too: compare them with all_requests
    out=$(jq -c --argjson ticks $((after - before)) --argjson tick "$TICK" --arg size "$size" --arg target "$target" \
          --argjson up $((up1 - up0)) --argjson hits $((hit1 - hit0)) --arg cg "${port:+1}" \
          --argjson busy $((busy1 - busy0)) --argjson wall_ms $((t1 - t0)) \
          --argjson ours $((ours1 - ours0)) --argjson irq $((irq1 - irq0)) --argjson ncpu "$NCPU" \
          '. + {size: $size, target: $target, server_cpu_s: ($ticks / $tick), wall_s: ($wall_ms / 1000),
                machine_busy_s: ($busy / $tick), bench_cpu_s: ($ours / $tick), irq_cpu_s: ($irq / $tick),
                idle_cpu_s: ([0, $ncpu * $wall_ms / 1000 - $busy / $tick] | max),
                foreign_cpu_s: ([0, (($busy - $ours - $irq) / $tick) - (.loadgen_cpu_s // 0)] | max)}
           + (if $cg == "1" then {upstream_gets: $up, cache_hits: $hits} else {} end)' <<< "$out")
    LAST_OUT=$out LAST_RC=$rc
}

# run_load SIZE TARGET NKEYS BYTES CONCURRENCY [extra loadgen args]: measure, again (up to
# BENCH_RETRIES times, after the machine calmed down) while foreign processes took more than
# 15% of a core, and record the last attempt
run_load() {
    local attempt foreign target=$2
    for ((attempt = 0; ; attempt++)); do
        measure "$@"
        foreign=$(jq -r '(.foreign_cpu_s * 100 / .wall_s) | round' <<< "$LAST_OUT")
        (( foreign > 15 && attempt < ${BENCH_RETRIES:-2} && LAST_RC == 0 )) || break
        log "  $target: foreign processes took ${foreign}% of a core: measuring again"
        wait_quiet 60
    done
    LAST_OUT=$(jq -c --argjson n "$attempt" --argjson round "$ROUND" '. + {retries: $n, round: $round}' <<< "$LAST_OUT")
    echo "$LAST_OUT" >> "$RESULTS"
    if [[ $LAST_RC != 0 ]]; then
        FAILED=1
        log "  $ROUND/$target: ERRORS: $(jq -r '"\(.errors) errors, \(.requests) ok; first: \(.first_error)"' <<< "$LAST_OUT")"
    else
        log "  $ROUND/$target: $(jq -r '"\(.req_per_s) req/s, \(.mib_per_s) MiB/s, p50 \(.p50_ms) ms, p99 \(.p99_ms) ms, foreign CPU \(.foreign_cpu_s * 100 / .wall_s | round)%"' <<< "$LAST_OUT")"
    fi
}

warm() { # TARGET SIZE NKEYS BYTES: every key once
    # shellcheck disable=SC2046
    "$LOADGEN" $(target_args "$1") --bucket "$BUCKET" --prefix "obj-$2-" --count "$3" --expect-bytes "$4" \
        --concurrency 4 --once --duration 300s > "$WORK/logs/warm.json" \
        || die "warming $1 failed: $(cat "$WORK/logs/warm.json")"
}

for name in "${SIZE_NAMES[@]}"; do
    read -r _ bytes nkeys conc <<< "$(size_row "$name")"
    log "size $name: $nkeys keys of $bytes bytes, concurrency $conc"
    for t in nginx cg cg-info "${BASE_TARGETS[@]:0:1}"; do warm "$t" "$name" "$nkeys" "$bytes"; done
    sleep 0.5   # let the last fills commit
    for t in nginx cg cg-info "${BASE_TARGETS[@]:0:1}"; do warm "$t" "$name" "$nkeys" "$bytes"; done
    status=$(curl -s -o /dev/null -D - "http://127.0.0.1:$NGINX_PORT/$BUCKET/obj-$name-0" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-cache-status" {print $2}')
    [[ $status == HIT ]] || log "  warning: nginx answers X-Cache-Status '$status' after warming"
    floors=(); [[ $name == 4k ]] && floors=("${FLOORS[@]}")
    for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
        for t in rgw rgw-anon nginx nginx-proxy nginx-fill cg cg-info cg-bypass cg-miss "${BASE_TARGETS[@]}" "${floors[@]}"; do
            run_load "$name" "$t" "$nkeys" "$bytes" "$conc"
        done
    done
done

HWM_CG=$(hwm_kib "$PID_cg"); HWM_INFO=$(hwm_kib "$PID_cg_info"); HWM_MISS=$(hwm_kib "$PID_cg_miss")
jq -nc --argjson cg "$HWM_CG" --argjson info "$HWM_INFO" --argjson miss "$HWM_MISS" \
    '{check: "rss", cg_vmhwm_kib: $cg, cg_info_vmhwm_kib: $info, cg_miss_vmhwm_kib: $miss}' >> "$RESULTS"

# ------------------------------------------------------------------ table -------
# jq helpers over all runs: the run with the median req/s of each size and target (in the
# order they ran), and the median over rounds of a target's req/s divided by another's
# req/s in the same round
# shellcheck disable=SC2016  # jq's variables, not the shell's
MEDIANS='
  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
                                     else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def median_rows(runs):
    reduce runs[] as $r ([]; if any(.[]; .size == $r.size and .target == $r.target) then . else . + [$r] end)
    | map(. as $first | [runs[] | select(.size == $first.size and .target == $first.target)]
          | sort_by(.req_per_s) | .[(length - 1) / 2 | floor]);
  def ratio(runs; $size; $target; $base):
    [runs[] | select(.size == $size and .target == $target) | . as $run
      | (runs[] | select(.size == $size and .target == $base and .round == $run.round) | .req_per_s) as $b
      | select($b > 0) | $run.req_per_s / $b] | median // 0;
'
echo
echo "cachegate $REV ($(date -u +%F)); nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'); $(radosgw --version 2>/dev/null | awk '{print "ceph " $3}')"
echo "cachegate benchmark: $MACHINE; $ROUNDS rounds of $DURATION per target after $WARMUP warm-up$PINNING;" \
     "loadgen: 1 thread, 1 keep-alive connection per worker; background before the runs: ${BACKGROUND}% of a core"
echo "srv CPU: CPU time of the serving process(es) per request, warm-up included (cachegate; nginx master+workers;"
echo "radosgw+ceph-osd)."
echo "loadgen CPU: share of one core used by the load generator during the run; foreign CPU: by processes this"
echo "script did not start (machine busy time - RGW, nginx, cachegates, loadgen, irq/softirq): should be ~0%."
echo "idle CPU: time no process used, in % of one core ($NCPU cores: $((NCPU * 100))% = all idle)."
echo "upstream GETs/req, cache hits/req: cachegate's own counters over the run (warm-up included)."
echo "Each row is the target's run with the median req/s; ×nginx and ×RGW are the medians of the ratios"
echo "within each round; ×nginx compares like with like: hits with nginx proxy_cache, cache off with nginx"
echo "without its cache, misses with nginx miss+fill."
jq -rs "$MEDIANS"'
  def r2(x): x * 100 | round / 100;
  def name: {"rgw": "RGW direct", "rgw-anon": "RGW direct, unsigned", "nginx": "nginx proxy_cache", "nginx-proxy": "nginx, no cache", "nginx-fill": "nginx miss+fill",
             "cg": "cachegate hit, log warn",
             "cg-info": "cachegate hit, log info", "cg-bypass": "cachegate cache off", "cg-miss": "cachegate miss+fill",
             "base-info": "baseline hit, log info", "base-miss": "baseline miss+fill",
             "floor-hyper": "fixed answer: hyper", "floor-s3s": "fixed answer: s3s+hyper"}[.];
  [.[] | select(.target)] as $all
  | ["size", "target", "conc", "req/s", "MiB/s", "p50 ms", "p99 ms", "×nginx", "×RGW",
     "srv CPU µs/req", "upstream GETs/req", "cache hits/req", "loadgen CPU", "foreign CPU", "idle CPU"],
    (median_rows($all)[]
      | [ .size, (.target | name), .concurrency, .req_per_s, .mib_per_s, .p50_ms, .p99_ms,
          ({"cg": "nginx", "cg-info": "nginx", "base-info": "nginx", "cg-bypass": "nginx-proxy",
            "cg-miss": "nginx-fill", "base-miss": "nginx-fill",
            "floor-hyper": "nginx", "floor-s3s": "nginx"}[.target] as $like
           | if $like then "\(r2(ratio($all; .size; .target; $like)))×" else "" end),
          (if .target != "rgw" then "\(r2(ratio($all; .size; .target; "rgw")))×" else "" end),
          # the CPU time covers the warm-up too, as all_requests does
          (if .all_requests > 0 then (.server_cpu_s * 1e6 / .all_requests | round) else "-" end),
          (if .upstream_gets != null and .all_requests > 0 then r2(.upstream_gets / .all_requests) else "" end),
          (if .cache_hits != null and .all_requests > 0 then r2(.cache_hits / .all_requests) else "" end),
          (if .loadgen_cpu_s != null then "\(.loadgen_cpu_s * 100 / .wall_s | round)%" else "-" end),
          "\(.foreign_cpu_s * 100 / .wall_s | round)%",
          "\(.idle_cpu_s * 100 / .wall_s | round)%" ])
  | @tsv' "$RESULTS" | column -t -s $'\t'

echo
echo "targets (req/s ratios; at a fixed object size the MiB/s ratios are the same):"
jq -rs "$MEDIANS"'
  def r2(x): x * 100 | round / 100;
  def verdict(ok): if ok then "met" else "MISSED" end;
  [.[] | select(.target)] as $all
  | (.[] | select(.check == "rss")) as $rss
  | ($all | map(.size) | unique) as $sizes
  | ($sizes[] as $s
      | ratio($all; $s; "cg"; "nginx") as $h
      | ratio($all; $s; "cg-info"; "nginx") as $i
      | ratio($all; $s; "cg-miss"; "rgw") as $m
      | ratio($all; $s; "cg-bypass"; "rgw") as $b
      | ratio($all; $s; "nginx-proxy"; "rgw") as $n
      | ratio($all; $s; "nginx-fill"; "rgw") as $f
      | "  \($s): hit ≥ 1.0× nginx: \(verdict($h >= 1)) (\(r2($h))×; with info logs \(r2($i))×);"
        + " miss ≥ 0.9× RGW: \(verdict($m >= 0.9)) (\(r2($m))×; cache off \(r2($b))×; nginx without its cache \(r2($n))×; nginx miss+fill \(r2($f))×)"
        + (if any($all[]; .target == "base-info") then
             "\n      against the baseline build: hit with info logs \(r2(ratio($all; $s; "cg-info"; "base-info")))×,"
             + " miss \(r2(ratio($all; $s; "cg-miss"; "base-miss")))×" else "" end)
        + (if any($all[]; .size == $s and .target == "floor-s3s") then
             "\n      fixed answer (no cache work) ×nginx: s3s+hyper \(r2(ratio($all; $s; "floor-s3s"; "nginx")))×,"
             + " hyper alone \(r2(ratio($all; $s; "floor-hyper"; "nginx")))×;"
             + " cachegate hit ×s3s+hyper: \(r2(ratio($all; $s; "cg"; "floor-s3s")))×" else "" end)),
    "  peak RSS (VmHWM) < 150 MiB: \(verdict(([$rss.cg_vmhwm_kib, $rss.cg_info_vmhwm_kib, $rss.cg_miss_vmhwm_kib] | max) < 150 * 1024))"
    + " (cg \($rss.cg_vmhwm_kib / 1024 | round) MiB, cg-info \($rss.cg_info_vmhwm_kib / 1024 | round) MiB,"
    + " cg-miss \($rss.cg_miss_vmhwm_kib / 1024 | round) MiB)"
' "$RESULTS"
echo "raw results: $RESULTS"

# ---------------------------------------------------------------- profile -------
# perf_run SIZE TARGET: one more run of a cachegate TARGET (cg: hits with log warn, cg-info:
# hits with the access log, cg-bypass: cache off, cg-miss: misses) under perf (DWARF call
# graphs); the reports are written beside the results, the run is not part of the table
perf_run() {
    local size=$1 target=$2 bytes nkeys conc name=$1-$2 data
    data=$WORK/perf-$name.data
    read -r _ bytes nkeys conc <<< "$(size_row "$size")"
    log "perf: recording cachegate during one more $size $target run"
    perf record --no-buildid-cache -F 499 --call-graph dwarf,16384 -p "$(target_pids "$target")" -o "$data" \
        -- sleep "$(( ${DURATION%s} + ${WARMUP%s} ))" >/dev/null 2>"$WORK/logs/perf-$name.log" &
    local perf_pid=$!
    sleep 0.3
    measure "$size-perf" "$target" "$nkeys" "$bytes" "$conc"
    echo "$LAST_OUT" > "$WORK/perf-$name-run.json"
    wait "$perf_pid" || true
    # self time by symbol, and time including callees (what a call costs with everything under it)
    perf report -i "$data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null \
        | grep -v '^#' | grep -v '^$' | head -80 > "$WORK/perf-$name-self.txt" || true
    perf report -i "$data" --children --sort symbol --stdio -g none 2>/dev/null \
        | grep -v '^#' | grep -v '^$' | head -400 > "$WORK/perf-$name-children.txt" || true
    echo "perf profile of a $size $target run: $WORK/perf-$name-{self,children}.txt (data $data)"
}
if [[ ${BENCH_PERF:-0} == 1 ]]; then
    if ! command -v perf >/dev/null; then
        log "perf not installed (apt-get install linux-perf): no profile"
    else
        for name in "${SIZE_NAMES[@]}"; do
            [[ $name == 1m ]] || perf_run "$name" cg
        done
        if [[ " ${SIZE_NAMES[*]} " == *" 4k "* ]]; then
            perf_run 4k cg-info
            perf_run 4k cg-bypass
            perf_run 4k cg-miss
        fi
        if [[ " ${SIZE_NAMES[*]} " == *" 1m "* ]]; then
            perf_run 1m cg-miss
        fi
    fi
fi

# ------------------------------------------------------------- instructions ----
# callgrind_hits TARGET: a copy of cachegate TARGET (cg or cg-info) under callgrind on a port
# of its own; its counters are zeroed once its cache and memory tier hold 64 keys, then they
# count 50 rounds of GETs of those keys (8 workers): instructions per hit, whatever else
# the machine does
callgrind_hits() { # TARGET [BINARY]
    local target=$1 binary=${2:-$CACHEGATE} port=$((BASE + 20)) conf=$WORK/callgrind-$1.toml out=$WORK/callgrind-$1.out pid total
    sed -e "s/^listen = .*/listen = \"127.0.0.1:$port\"/" -e "s/^admin_listen = .*/admin_listen = \"127.0.0.1:$((port + 1))\"/" \
        -e "s|^dir = .*|dir = \"$WORK/callgrind-cache\"|" "$WORK/$target.toml" > "$conf"
    rm -rf "$WORK/callgrind-cache" "$out" "$out".*
    valgrind --tool=callgrind --callgrind-out-file="$out" "$binary" serve --config "$conf" \
        >/dev/null 2>"$WORK/logs/callgrind-$target.log" </dev/null &
    pid=$!
    PIDS+=("$pid")
    await_answer "callgrind-$target" "$pid" "http://127.0.0.1:$((port + 1))/readyz" 120 200
    local keys=64 rounds=50 round
    local once=("$LOADGEN" --endpoint "http://127.0.0.1:$port" --access-key "$HIT_KEY" --secret-key "$HIT_SECRET"
                --bucket "$BUCKET" --prefix obj-4k- --count "$keys" --expect-bytes 4096 --concurrency 8 --once)
    # the first round fills the cache, the second the memory tier
    for _ in 1 2; do "${once[@]}" >/dev/null || die "callgrind $target: warm-up failed"; done
    callgrind_control -z "$pid" >/dev/null 2>&1
    for ((round = 0; round < rounds; round++)); do "${once[@]}" >/dev/null || die "callgrind $target: a request failed"; done
    callgrind_control -d "$pid" >/dev/null 2>&1
    sleep 1
    kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    total=$(callgrind_annotate "$out".1 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
    [[ -n $total ]] || die "callgrind $target: no totals in $out.1"
    jq -nc --arg target "$target" --argjson total "$total" --argjson requests $((keys * rounds)) \
        '{check: "callgrind", target: $target, $requests, instructions_per_request: ($total / $requests | round)}' | tee -a "$RESULTS"
}
if [[ ${BENCH_CALLGRIND:-0} == 1 ]]; then
    if [[ " ${SIZE_NAMES[*]} " != *" 4k "* ]]; then
        log "callgrind counts 4 KiB hits: add 4k to BENCH_SIZES"
    elif ! command -v valgrind >/dev/null; then
        log "valgrind not installed (apt-get install valgrind): no instruction counts"
    else
        log "callgrind: instructions per 4 KiB hit"
        callgrind_hits cg
        callgrind_hits cg-info
        if [[ -n $BASELINE ]]; then callgrind_hits base-info "$BASELINE"; fi
    fi
fi

if [[ $FAILED != 0 ]]; then
    echo "cache_vs_nginx: some requests failed (see 'first_error' in $RESULTS)" >&2
    exit 1
fi
