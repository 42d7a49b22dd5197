#!/usr/bin/env bash
# start-rgw.sh — bring up a throw-away single-node Ceph cluster (1 mon, 1 OSD,
# 1 radosgw) on 127.0.0.1, without systemd, everything under one data directory.
#
# usage: start-rgw.sh [DATA_DIR [ACCESS_KEY SECRET_KEY]]
#        DATA_DIR defaults to $CEPH_RGW_DIR or /tmp/cachegate-rgw
#
# Environment (all optional):
#   CEPH_RGW_PORT        S3 (beast) port on 127.0.0.1             [7480]
#   CEPH_MON_PORT        monitor msgr2 port on 127.0.0.1          [13300]
#   CEPH_OSD_PORTS       OSD bind port range MIN-MAX               [16800-16899]
#   CEPH_RGW_ACCESS_KEY  S3 access key of the test user           [TESTACCESSKEY0000000]
#   CEPH_RGW_SECRET_KEY  S3 secret key of the test user           [testsecretkey000000000000000000000000000]
#   CEPH_RGW_UID         radosgw user id                          [tester]
#   CEPH_RGW_BUCKETS     comma-separated buckets to create         []
#   CEPH_OSD_STORE       bluestore (sparse file DATA_DIR/osd/block, bounded RAM, ~4.5 s start)
#                        | memstore (all data in OSD RAM, ~2x the stored bytes, ~2.5 s start) [bluestore]
#   CEPH_OSD_SIZE_MB     OSD capacity: bluestore sparse file size / memstore RAM cap [10240 / 4096]
#   CEPH_RGW_DEBUG       debug_rgw level (1 = one log line per request) [0]
#   CEPH_START_TIMEOUT   seconds to wait for each daemon           [60]
#   CEPH_NO_INSTALL=1    never call apt-get (fail if binaries are missing)
#
# On success prints shell-sourceable KEY=VALUE lines on stdout (also saved to
# DATA_DIR/s3.env); progress goes to stderr. Re-running while the cluster is up
# is a no-op that prints the same lines (and (re)adds the requested key/buckets).
# Stop with stop-rgw.sh DATA_DIR.
set -euo pipefail

DATA_DIR=${1:-${CEPH_RGW_DIR:-/tmp/cachegate-rgw}}
RGW_PORT=${CEPH_RGW_PORT:-7480}
MON_PORT=${CEPH_MON_PORT:-13300}
OSD_PORTS=${CEPH_OSD_PORTS:-16800-16899}
ACCESS_KEY=${2:-${CEPH_RGW_ACCESS_KEY:-TESTACCESSKEY0000000}}
SECRET_KEY=${3:-${CEPH_RGW_SECRET_KEY:-testsecretkey000000000000000000000000000}}
RGW_UID=${CEPH_RGW_UID:-tester}
BUCKETS=${CEPH_RGW_BUCKETS:-}
OSD_STORE=${CEPH_OSD_STORE:-bluestore}
if [[ $OSD_STORE == memstore ]]; then OSD_SIZE_MB=${CEPH_OSD_SIZE_MB:-4096}; else OSD_SIZE_MB=${CEPH_OSD_SIZE_MB:-10240}; fi
RGW_DEBUG=${CEPH_RGW_DEBUG:-0}
TIMEOUT=${CEPH_START_TIMEOUT:-60}
ENDPOINT="http://127.0.0.1:${RGW_PORT}"

unset CEPH_ARGS CEPH_CONF || true   # never let the caller's ceph settings leak in

now_ms() { local t=${EPOCHREALTIME//[^0-9]/}; echo $((10#$t / 1000)); }
T0=$(now_ms)
log()  { local d=$(( $(now_ms) - T0 )); printf '[rgw %3d.%01ds] %s\n' $((d / 1000)) $((d % 1000 / 100)) "$*" >&2; }
die()  { echo "start-rgw: ERROR: $*" >&2; exit 1; }

case "$OSD_STORE" in memstore|bluestore) ;; *) die "CEPH_OSD_STORE must be memstore or bluestore, not '$OSD_STORE'";; esac
case "$OSD_PORTS" in *-*) OSD_PORT_MIN=${OSD_PORTS%-*}; OSD_PORT_MAX=${OSD_PORTS#*-};; *) die "CEPH_OSD_PORTS must be MIN-MAX";; esac
[[ $EUID -eq 0 ]] || die "must run as root (ceph daemons and apt-get)"
[[ $DATA_DIR != *[[:space:]]* ]] || die "DATA_DIR must not contain whitespace: '$DATA_DIR'"

# ---------------------------------------------------------------- install ----
REQUIRED_BINS=(ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool curl flock ss timeout)
missing_bins() { local b; for b in "${REQUIRED_BINS[@]}"; do command -v "$b" >/dev/null 2>&1 || echo "$b"; done; }
if [[ -n "$(missing_bins)" ]]; then
    [[ "${CEPH_NO_INSTALL:-0}" == 1 ]] && die "missing binaries: $(missing_bins | tr '\n' ' ') (CEPH_NO_INSTALL=1)"
    log "installing Debian packages (missing: $(missing_bins | tr '\n' ' '))"
    # keep package maintainer scripts from trying to start services
    POLICY=/usr/sbin/policy-rc.d; OWN_POLICY=0
    if [[ ! -e $POLICY ]]; then printf '#!/bin/sh\nexit 101\n' > $POLICY; chmod +x $POLICY; OWN_POLICY=1; fi
    [[ $OWN_POLICY == 1 ]] && trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    rc=0
    (
        export DEBIAN_FRONTEND=noninteractive
        apt-get -o DPkg::Lock::Timeout=600 update -qq &&
        apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
            ceph-mon ceph-osd radosgw ceph-common curl util-linux iproute2 coreutils >/dev/null
    ) >&2 || rc=$?
    [[ $OWN_POLICY == 1 ]] && { rm -f $POLICY; trap - EXIT; }
    [[ $rc == 0 ]] || die "apt-get install of ceph packages failed (rc=$rc)"
    [[ -z "$(missing_bins)" ]] || die "still missing after install: $(missing_bins | tr '\n' ' ')"
    log "packages installed: $(ceph --version 2>/dev/null)"
fi

# ------------------------------------------------------------- layout --------
mkdir -p "$DATA_DIR"
DATA_DIR=$(cd "$DATA_DIR" && pwd -P)
MARKER=$DATA_DIR/.cachegate-rgw
# never wipe a directory this script did not create
if [[ ! -f $MARKER ]] && [[ -n "$(find "$DATA_DIR" -mindepth 1 -maxdepth 1 ! -name .lock -print -quit)" ]]; then
    die "$DATA_DIR is not empty and was not made by start-rgw.sh; pass an empty or new directory"
fi
touch "$MARKER"
CONF=$DATA_DIR/ceph.conf
RUN=$DATA_DIR/run
C=(-c "$CONF")
ENV_FILE=$DATA_DIR/s3.env
# shellcheck source=tests/rgw/daemons.sh
source "$(dirname "${BASH_SOURCE[0]}")/daemons.sh"
# one start/stop at a time per data dir
exec 9>"$DATA_DIR/.lock"
flock -w 120 9 || die "another start/stop holds $DATA_DIR/.lock"

# any live process started with THIS conf file and the daemon's binary (covers the
# moment between fork and pid-file write); used only to detect liveness, never to kill
daemon_alive() {
    our_pid "$1" >/dev/null && return 0
    local bin p cmd
    case $1 in mon) bin=ceph-mon;; osd) bin=ceph-osd;; rgw) bin=radosgw;; esac
    for p in /proc/[0-9]*; do
        cmd=$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null) || continue
        [[ $cmd == "$bin -c $CONF "* || $cmd == "/usr/bin/$bin -c $CONF "* ]] && return 0
    done
    return 1
}
# signal the recorded daemons (rgw, osd, mon order) and wait for them to go
kill_recorded() {
    local n p i
    for n in rgw osd mon; do
        p=$(our_pid $n) || continue
        kill -"$1" "$p" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do gone "$p" && break; sleep 0.2; done
        if ! gone "$p" && [[ $(our_pid $n || true) == "$p" ]]; then
            kill -KILL "$p" 2>/dev/null || true
            for ((i = 0; i < 25; i++)); do gone "$p" && break; sleep 0.2; done
        fi
    done
}
http_code() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$ENDPOINT/" 2>/dev/null || true; }

print_env() {
    cat > "$ENV_FILE" <<EOF
CEPH_RGW_ENDPOINT=$ENDPOINT
AWS_ENDPOINT_URL=$ENDPOINT
AWS_ACCESS_KEY_ID=$ACCESS_KEY
AWS_SECRET_ACCESS_KEY=$SECRET_KEY
AWS_DEFAULT_REGION=us-east-1
AWS_REGION=us-east-1
CEPH_RGW_DIR=$DATA_DIR
CEPH_CONF=$CONF
EOF
    cat "$ENV_FILE"
}

ensure_user_and_buckets() {
    if radosgw-admin "${C[@]}" user info --uid "$RGW_UID" >/dev/null 2>&1; then
        radosgw-admin "${C[@]}" key create --uid "$RGW_UID" --key-type s3 \
            --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" >/dev/null 2>"$DATA_DIR/log/admin.err" \
            || { echo "radosgw-admin key create failed: $(tail -3 "$DATA_DIR/log/admin.err")"; return 1; }
    else
        radosgw-admin "${C[@]}" user create --uid "$RGW_UID" --display-name "$RGW_UID" \
            --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" >/dev/null 2>"$DATA_DIR/log/admin.err" \
            || { echo "radosgw-admin user create failed: $(tail -3 "$DATA_DIR/log/admin.err")"; return 1; }
    fi
    # wait until RGW accepts the key (an authenticated ListBuckets -> 200)
    local code deadline=$((SECONDS + TIMEOUT))
    while :; do
        code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" --aws-sigv4 "aws:amz:us-east-1:s3" \
               --user "$ACCESS_KEY:$SECRET_KEY" "$ENDPOINT/" || true)
        [[ $code == 200 ]] && break
        (( SECONDS < deadline )) || { echo "RGW does not accept the key within ${TIMEOUT}s (ListBuckets HTTP $code)"; return 1; }
        sleep 0.2
    done
    local b
    IFS=',' read -r -a blist <<< "$BUCKETS"
    for b in "${blist[@]}"; do
        [[ -n $b ]] || continue
        code=$(curl -s -o "$DATA_DIR/log/mkbucket.out" -m 10 -w '%{http_code}' -X PUT -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
               --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ACCESS_KEY:$SECRET_KEY" "$ENDPOINT/$b" || true)
        [[ $code == 200 ]] || grep -q BucketAlreadyOwnedByYou "$DATA_DIR/log/mkbucket.out" 2>/dev/null \
            || { echo "creating bucket '$b' failed (HTTP $code: $(grep -o '<Code>[^<]*' "$DATA_DIR/log/mkbucket.out" 2>/dev/null | cut -c7-))"; return 1; }
    done
}

# ------------------------------------------------------ already running? -----
if [[ -f $CONF ]]; then
    if our_pid mon >/dev/null && our_pid osd >/dev/null && our_pid rgw >/dev/null && [[ $(http_code) == 200 ]] \
       && grep -q "endpoint=127.0.0.1:$RGW_PORT " "$CONF" && grep -q "^osd objectstore = $OSD_STORE\$" "$CONF"; then
        log "cluster in $DATA_DIR already running"
        msg=$(ensure_user_and_buckets) || die "$msg"
        print_env
        exit 0
    fi
    log "stale or different cluster in $DATA_DIR: killing its recorded daemons and starting from scratch"
    kill_recorded KILL
fi
# wipe everything except the lock file and the marker
find "$DATA_DIR" -mindepth 1 -maxdepth 1 ! -name .lock ! -name .cachegate-rgw -exec rm -rf {} +

# ports must be free (we bind to 127.0.0.1 only)
port_busy() { ss -Hltn "( sport = :$1 )" 2>/dev/null | grep -q .; }
port_busy "$RGW_PORT" && die "port 127.0.0.1:$RGW_PORT (CEPH_RGW_PORT) is already in use: $(ss -Hltnp "( sport = :$RGW_PORT )" | head -1)"
if port_busy "$MON_PORT"; then
    [[ -n ${CEPH_MON_PORT:-} ]] && die "port 127.0.0.1:$MON_PORT (CEPH_MON_PORT) is already in use: $(ss -Hltnp "( sport = :$MON_PORT )" | head -1)"
    # the monitor port is internal (only ceph.conf needs it): take the next free one
    for ((p = MON_PORT + 1; p < MON_PORT + 100; p++)); do port_busy $p || break; done
    port_busy $p && die "no free monitor port in $MON_PORT-$p"
    MON_PORT=$p
fi

mkdir -p "$DATA_DIR"/{mon,osd,rgw,log,crash} "$RUN"
avail_mb=$(df -Pm "$DATA_DIR" | awk 'NR==2 {print $4}')
if [[ $OSD_STORE == bluestore ]] && (( avail_mb < 2048 )); then
    die "only ${avail_mb} MiB free under $DATA_DIR; bluestore needs at least 2 GiB (set CEPH_OSD_STORE=memstore?)"
fi
if [[ $OSD_STORE == bluestore ]] && (( avail_mb < OSD_SIZE_MB )); then
    log "warning: ${avail_mb} MiB free on disk but the sparse OSD file may grow to ${OSD_SIZE_MB} MiB"
fi
FSID=$(cat /proc/sys/kernel/random/uuid)
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)

ASOK="$RUN/\$name.asok"
if (( ${#RUN} + 25 > 107 )); then ASOK=""; log "data dir path too long for unix sockets: admin sockets disabled"; fi

cat > "$CONF" <<EOF
# generated by start-rgw.sh — single-node throw-away cluster, loopback only
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MON_PORT
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false
ms bind port min = $OSD_PORT_MIN
ms bind port max = $OSD_PORT_MAX
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = $DATA_DIR/keyring
run dir = $RUN
log file = $DATA_DIR/log/\$name.log
mon cluster log file = $DATA_DIR/log/cluster.\$channel.log
crash dir = $DATA_DIR/crash
log to stderr = false
err to stderr = true
# one replica is all there is
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
mon data avail warn = 1
mon data avail crit = 1
# commit map changes quickly (default 1 s per osdmap epoch makes RGW start ~10 s)
paxos propose interval = 0.01
paxos min wait = 0.001
mon osd report timeout = 900
osd pool default flag hashpspool = true

[mon]
pid file = $RUN/mon.pid
admin socket = $ASOK
mon data = $DATA_DIR/mon/\$id

[osd]
pid file = $RUN/osd.pid
admin socket = $ASOK
osd data = $DATA_DIR/osd/\$id
osd journal = $DATA_DIR/osd/\$id/journal
osd objectstore = $OSD_STORE
memstore device bytes = $((OSD_SIZE_MB * 1024 * 1024))
bluestore block path = $DATA_DIR/osd/block
bluestore block create = true
bluestore block size = $((OSD_SIZE_MB * 1024 * 1024))
bluestore fsck on mount = false
bluestore fsck on mkfs = false
bdev enable discard = false
# the aio thread polls with this timeout; every bdev close (several at OSD start) waits for it
bdev aio poll ms = 20
osd memory target = 1073741824
osd crush update on start = true
osd heartbeat grace = 60

[client.rgw.gw]
pid file = $RUN/rgw.pid
admin socket = $ASOK
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw data = $DATA_DIR/rgw
# virtual-hosted style works for Host: BUCKET.localhost[:port]; any other Host is path-style
rgw dns name = localhost
debug rgw = $RGW_DEBUG/5
# deleted/overwritten object tails are garbage-collected after 2 h by default
rgw gc obj min wait = 60
rgw gc processor period = 60
rgw enable usage log = false
EOF

KEYRING=$DATA_DIR/keyring
{
    ceph-authtool --create-keyring "$KEYRING" --gen-key -n mon. --cap mon 'allow *'
    ceph-authtool "$KEYRING" --gen-key -n client.admin \
        --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *'
    ceph-authtool "$KEYRING" --gen-key -n osd.0 \
        --cap mon 'allow profile osd' --cap mgr 'allow profile osd' --cap osd 'allow *'
    ceph-authtool "$KEYRING" --gen-key -n client.rgw.gw \
        --cap mon 'allow rw' --cap osd 'allow rwx' --cap mgr 'allow rw'
    monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" \
        --enable-all-features --set-min-mon-release pacific "$DATA_DIR/monmap"
} >"$DATA_DIR/log/setup.log" 2>&1 || die "keyring/monmap creation failed: $(tail -5 "$DATA_DIR/log/setup.log")"

fail_with_log() { # name logfile message
    echo "start-rgw: ERROR: $3" >&2
    if [[ -f $2 ]]; then echo "---- last lines of $2 ----" >&2; tail -n 25 "$2" >&2; fi
    kill_recorded TERM
    echo "(daemons stopped; logs kept in $DATA_DIR/log; stop-rgw.sh $DATA_DIR removes it)" >&2
    exit 1
}
cephq() { timeout 20 ceph "${C[@]}" --connect-timeout 10 "$@"; }
# wait_for NAME LOGFILE WHAT CMD...: poll CMD until it succeeds; fail if the daemon dies or TIMEOUT passes
wait_for() {
    local name=$1 logf=$2 what=$3 deadline=$((SECONDS + TIMEOUT)); shift 3
    while :; do
        daemon_alive "$name" || fail_with_log "$name" "$logf" "$name exited during start-up"
        "$@" && return 0
        (( SECONDS < deadline )) || fail_with_log "$name" "$logf" "$what within ${TIMEOUT}s"
        sleep 0.2
    done
}
mon_ready() { cephq mon stat >/dev/null 2>&1; }
osd_up()    { [[ $(cephq osd dump --format json 2>/dev/null | grep -o '"up":1' | head -1) == '"up":1' ]]; }
rgw_http()  { [[ $(http_code) == 200 ]]; }

# ------------------------------------------------------------------ mon ------
log "mon: mkfs + start (127.0.0.1:$MON_PORT)"
ceph-mon "${C[@]}" --mkfs -i a --monmap "$DATA_DIR/monmap" --keyring "$KEYRING" >>"$DATA_DIR/log/setup.log" 2>&1 \
    || fail_with_log mon "$DATA_DIR/log/setup.log" "ceph-mon --mkfs failed"
ceph-mon "${C[@]}" -i a >>"$DATA_DIR/log/setup.log" 2>&1 9>&- </dev/null \
    || fail_with_log mon "$DATA_DIR/log/mon.a.log" "ceph-mon failed to start"
wait_for mon "$DATA_DIR/log/mon.a.log" "monitor did not answer" mon_ready

# ------------------------------------------------------------------ osd ------
log "osd: create + mkfs ($OSD_STORE, ${OSD_SIZE_MB} MiB) + start"
OSD_ID=$(cephq osd new "$OSD_UUID" 0 2>>"$DATA_DIR/log/setup.log") || fail_with_log osd "$DATA_DIR/log/setup.log" "'ceph osd new' failed"
[[ $OSD_ID == 0 ]] || fail_with_log osd "$DATA_DIR/log/setup.log" "unexpected osd id '$OSD_ID'"
mkdir -p "$DATA_DIR/osd/0"
ceph-osd "${C[@]}" -i 0 --mkfs --osd-uuid "$OSD_UUID" >>"$DATA_DIR/log/setup.log" 2>&1 \
    || fail_with_log osd "$DATA_DIR/log/osd.0.log" "ceph-osd --mkfs failed"
ceph-osd "${C[@]}" -i 0 >>"$DATA_DIR/log/setup.log" 2>&1 9>&- </dev/null \
    || fail_with_log osd "$DATA_DIR/log/osd.0.log" "ceph-osd failed to start"
wait_for osd "$DATA_DIR/log/osd.0.log" "osd.0 did not come up" osd_up

# ------------------------------------------------------------------ rgw ------
log "rgw: start beast on $ENDPOINT"
radosgw "${C[@]}" -n client.rgw.gw >>"$DATA_DIR/log/setup.log" 2>&1 9>&- </dev/null \
    || fail_with_log rgw "$DATA_DIR/log/client.rgw.gw.log" "radosgw failed to start"
wait_for rgw "$DATA_DIR/log/client.rgw.gw.log" "radosgw did not answer HTTP on $ENDPOINT" rgw_http

log "rgw: user '$RGW_UID'${BUCKETS:+ and buckets $BUCKETS}"
msg=$(ensure_user_and_buckets) || fail_with_log rgw "$DATA_DIR/log/client.rgw.gw.log" "$msg"
log "ready: $ENDPOINT (pids mon=$(our_pid mon) osd=$(our_pid osd) rgw=$(our_pid rgw))"
print_env
