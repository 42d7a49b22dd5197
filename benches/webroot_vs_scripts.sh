#!/usr/bin/env bash
# webroot_vs_scripts.sh — `cachegate publish-snapshot` and `cachegate fetch-webroot` against
# the seed scripts they replace (benches/seed/: `tar -czf` + `aws s3 cp`; `aws s3 cp` +
# `tar -xzf` + `chown -R`), on a generated tree shaped like Nextcloud 34.0.1's webroot, in
# one run, through one Ceph RGW.
#
# usage: benches/webroot_vs_scripts.sh            (as root, from anywhere in the repo)
#
# What it does (everything on 127.0.0.1, everything it starts is stopped on exit):
#   1. builds cachegate and cachegate-webroot-gen (release), puts awscli (the version
#      pinned in tests/python/requirements.txt) into target/test-venv if that exists, else
#      target/bench-venv; starts a throw-away RGW (tests/rgw/start-rgw.sh) on its own
#      ports, or uses the one in the environment (BENCH_USE_ENV=1);
#   2. generates the tree (benches/data/nextcloud-34.0.1-webroot-{files,dirs}.tsv.gz:
#      26,359 files, 2,946 directories, 475 MB, exact paths, sizes and modes; seeded
#      contents, text ~4-5.6:1 with gzip -6, images/fonts/media random);
#   3. measures, alternating the contenders (seed first in odd rounds, cachegate first in
#      even ones), BENCH_ROUNDS rounds of each case, medians in the table:
#        publish   seed publish-webroot.sh          vs publish-snapshot
#        cold      seed fetch-webroot.sh, empty dest vs fetch-webroot --owner, empty dest
#        same      (seed: its cold fetch, what it does at every pod start)
#                                                    vs fetch-webroot, dest holds the snapshot
#        changed   BENCH_CHANGE_PERCENT % of the files rewritten (seeded choice), both
#                  publish again (once, untimed in the table), then
#                  seed fetch of the new archive, empty dest vs fetch-webroot, dest holds
#                  the previous snapshot
#      The first round of each fetch is checked against the source (contents, modes,
#      mtimes, sizes, owner BENCH_OWNER).
#   4. prints one table (case, seed s, cachegate s, speedup, target, PASS/FAIL), the archive
#      sizes, and every run (wall, CPU of the contender, CPU of RGW, CPU of processes this
#      script did not start, peak RSS). Raw results: $BENCH_DIR/results.jsonl, logs of
#      every run (seed scripts traced with timestamps): $BENCH_DIR/logs/.
#
# Conditions, equal for both contenders. By default the disk is out of the picture, so
# that the figures measure the tools and not the state of a shared disk: the
# destinations (and the seed scripts' TMPDIR) are on a tmpfs (an emptyDir with
# `medium: Memory`), RGW keeps its objects in memory (memstore). The page cache is not
# dropped: the source tree is read once before the runs, so every publish reads it from
# memory. `sync` before every run, so no writeback of an earlier run lands in the next.
# With BENCH_DEST_FS=disk the destinations are on the work dir's file system, every
# fetch writes into a directory of its own and nothing is deleted during the
# measurements: after a mass delete ext4 spends seconds per 26k files looking for free
# inodes (find_inode_bit, recently_deleted), which would land on whichever contender
# comes next. BENCH_OSD_STORE=bluestore puts RGW's objects on disk (read with O_DIRECT).
#
# Exits non-zero when something failed (a run's exit status, a tree that differs from
# the source); missed targets are reported, not fatal.
#
# Environment (all optional):
#   BENCH_ROUNDS         rounds per case                              [3]
#   BENCH_CASES          any of publish,cold,same,changed (same and changed need cold)
#                                                                     [publish,cold,same,changed]
#   BENCH_DIR            work dir (tree, destinations, logs, results) [/tmp/cachegate-webroot-bench]
#   BENCH_RGW_DIR        RGW data dir                                 [/tmp/cachegate-webroot-bench-rgw]
#   BENCH_RGW_PORT       RGW port                                     [27580]
#   BENCH_MON_PORT       Ceph monitor port                            [13330]
#   BENCH_OSD_PORTS      Ceph OSD port range                          [17000-17099]
#   BENCH_USE_ENV=1      use the RGW of AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
#                        AWS_SECRET_ACCESS_KEY (CEPH_RGW_DIR, if set, names its pid files)
#   BENCH_OWNER          --owner of fetch-webroot, chown of the seed  [33:33 (www-data)]
#   BENCH_SEED           seed of the generated contents               [1]
#   BENCH_EVERY          generate only every Nth file (quick looks)   [1]
#   BENCH_CHANGE_PERCENT share of files changed in the `changed` case [1]
#   BENCH_PUBLISH_FLAGS  extra flags of publish-snapshot (e.g. "--level 6")
#   BENCH_FETCH_FLAGS    extra flags of fetch-webroot
#   BENCH_VERIFY         first (check round 1 of each fetch) | all | none       [first]
#   BENCH_DEST_FS        tmpfs (mounted on $BENCH_DIR/dest) | disk                  [tmpfs]
#   BENCH_TMPFS_SIZE     size of that tmpfs                                        [8g]
#   BENCH_OSD_STORE      memstore | bluestore (RGW's objects in memory or on disk)  [memstore]
#   BENCH_OSD_SIZE_MB    memstore capacity                                         [6144]
#   BENCH_SETTLE         with BENCH_DEST_FS=disk, seconds between the mass delete of an
#                        earlier run's work dir and the first measurement          [30]
#   BENCH_QUIET_WAIT     before each run, wait up to this many seconds for the machine to
#                        be idle (< 25% of a core busy besides RGW, < 10% of the time
#                        stalled on I/O); see "foreign CPU" and "I/O stall"          [0]
#   BENCH_NO_BUILD=1     use target/release as it is ($CARGO_TARGET_DIR/release if set)
#   BENCH_REV            how the header names the cachegate build  [git HEAD of the checkout]
#   BENCH_KEEP=1         leave RGW running and the trees in place (otherwise only logs and
#                        results stay in the work dir)
#   BENCH_PERF=1         afterwards, perf-record one more cachegate run of each case
#                        ($BENCH_DIR/perf-*.txt; not part of the table)
set -euo pipefail
# shellcheck source=benches/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${BENCH_ROUNDS:-3}
CASES=${BENCH_CASES:-publish,cold,same,changed}
WORK=${BENCH_DIR:-/tmp/cachegate-webroot-bench}
DEST=$WORK/dest   # every fetch's destination below it, and the seed scripts' TMPDIR
RGW_DIR=${BENCH_RGW_DIR:-/tmp/cachegate-webroot-bench-rgw}
RGW_PORT=${BENCH_RGW_PORT:-27580}
MON_PORT=${BENCH_MON_PORT:-13330}
OSD_PORTS=${BENCH_OSD_PORTS:-17000-17099}
OWNER=${BENCH_OWNER:-33:33}
SEED=${BENCH_SEED:-1}
EVERY=${BENCH_EVERY:-1}
CHANGE_PERCENT=${BENCH_CHANGE_PERCENT:-1}
VERIFY=${BENCH_VERIFY:-first}
DEST_FS=${BENCH_DEST_FS:-tmpfs}
OSD_STORE=${BENCH_OSD_STORE:-memstore}
SETTLE=${BENCH_SETTLE:-30}
QUIET_WAIT=${BENCH_QUIET_WAIT:-0}
read -r -a PUBLISH_FLAGS <<< "${BENCH_PUBLISH_FLAGS:-}"
read -r -a FETCH_FLAGS <<< "${BENCH_FETCH_FLAGS:-}"
BUCKET=webroot-bench
CG_PREFIX=cg
SEED_KEY=seed/webroot.tar.gz
SEED_KEY_CHANGED=seed/webroot-changed.tar.gz
# `tar -czf` of the real Nextcloud 34.0.1 webroot (the size the generated tree aims at)
REAL_TGZ_BYTES=157000000
MARKER=.directory   # fetch-webroot's marker file (crates/snapshot/src/marker.rs)
DATA=$ROOT/benches/data
LISTING=(--files "$DATA/nextcloud-34.0.1-webroot-files.tsv.gz" --dirs "$DATA/nextcloud-34.0.1-webroot-dirs.tsv.gz")

has_case() { [[ ,$CASES, == *,$1,* ]]; }

check_dirs "$WORK" "$RGW_DIR" "RGW, chown to $OWNER"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer"
[[ $VERIFY =~ ^(first|all|none)$ ]] || die "BENCH_VERIFY must be first, all or none"
[[ $DEST_FS =~ ^(tmpfs|disk)$ ]] || die "BENCH_DEST_FS must be tmpfs or disk"
[[ $OSD_STORE =~ ^(memstore|bluestore)$ ]] || die "BENCH_OSD_STORE must be memstore or bluestore"
for c in ${CASES//,/ }; do [[ $c =~ ^(publish|cold|same|changed)$ ]] || die "unknown case '$c' in BENCH_CASES"; done
if { has_case same || has_case changed; } && ! has_case cold; then
    die "the same and changed cases fetch into the destinations of the cold case: add cold to BENCH_CASES"
fi
command -v jq >/dev/null || die "jq is required (apt-get install jq)"

# ------------------------------------------------------------ build + tools ----
build_release cachegate cachegate-webroot-gen
REV=$(bench_rev)

AWSCLI_PIN=$(grep -E '^awscli==' "$ROOT/tests/python/requirements.txt" || echo awscli)
if [[ -x $ROOT/target/test-venv/bin/aws ]]; then
    VENV=$ROOT/target/test-venv
else
    VENV=$ROOT/target/bench-venv
    if [[ ! -x $VENV/bin/aws ]] || ! "$VENV/bin/pip" show -q awscli >/dev/null 2>&1 \
        || [[ $AWSCLI_PIN == awscli==* && $("$VENV/bin/aws" --version 2>&1) != aws-cli/${AWSCLI_PIN#awscli==}* ]]; then
        log "installing $AWSCLI_PIN into $VENV"
        python3 -m venv "$VENV" || die "python3 -m venv failed (apt-get install python3-venv)"
        "$VENV/bin/pip" install -q --disable-pip-version-check "$AWSCLI_PIN" >&2
    fi
fi
export PATH=$VENV/bin:$PATH

# ------------------------------------------------------------------ cleanup ----
cleanup() {
    local rc=$?
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then
        [[ ${BENCH_USE_ENV:-0} == 1 ]] || echo "left running: RGW ($ROOT/tests/rgw/stop-rgw.sh $RGW_DIR); work dir $WORK" >&2
        exit $rc
    fi
    [[ ${BENCH_USE_ENV:-0} == 1 ]] || stop_rgw "$RGW_DIR"
    # the trees (GBs, ~30k inodes each) go now rather than at the start of the next run;
    # logs and results stay
    if [[ -f $WORK/.cachegate-webroot-bench ]]; then
        if mountpoint -q "$DEST"; then umount "$DEST"; fi
        rm -rf "$WORK/src" "$DEST"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SETTLE_UNTIL=0   # no measurement before this $SECONDS (see settle)
if [[ -d $WORK ]]; then
    [[ -f $WORK/.cachegate-webroot-bench ]] || die "$WORK exists and was not made by this script"
    if mountpoint -q "$DEST"; then umount "$DEST"; fi
    log "removing the work dir of an earlier run"
    rm -rf "$WORK"
    # only runs that create files on the work dir's file system meet ext4's slow inode
    # allocation after the delete; on tmpfs they create none there
    if [[ $DEST_FS == disk ]]; then SETTLE_UNTIL=$((SECONDS + SETTLE)); fi
fi
mkdir -p "$WORK"/{bin,logs} "$DEST"
touch "$WORK/.cachegate-webroot-bench"
if [[ $DEST_FS == tmpfs ]]; then
    mount -t tmpfs -o "size=${BENCH_TMPFS_SIZE:-8g},mode=755" cachegate-webroot-bench "$DEST"
fi
mkdir "$DEST/tmp"
RESULTS=$WORK/results.jsonl
: > "$RESULTS"
# private copies: a rebuild of target/ during the run must not change what runs
cp "$TARGET_DIR/release/cachegate" "$TARGET_DIR/release/cachegate-webroot-gen" "$WORK/bin/"
CACHEGATE=$WORK/bin/cachegate
GEN=$WORK/bin/cachegate-webroot-gen
CG_VERSION=$("$CACHEGATE" --version 2>/dev/null || echo cachegate)

# --------------------------------------------------------------------- RGW ------
# the AWS CLI and cachegate read nothing but the variables below
: > "$WORK/aws-config"
export AWS_CONFIG_FILE=$WORK/aws-config AWS_SHARED_CREDENTIALS_FILE=$WORK/aws-config
if [[ ${BENCH_USE_ENV:-0} == 1 ]]; then
    [[ -n ${AWS_ENDPOINT_URL:-} && -n ${AWS_ACCESS_KEY_ID:-} && -n ${AWS_SECRET_ACCESS_KEY:-} ]] \
        || die "BENCH_USE_ENV=1 needs AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    RGW_DIR=${CEPH_RGW_DIR:-}
    log "using the RGW at $AWS_ENDPOINT_URL"
    aws s3 mb "s3://$BUCKET" >/dev/null 2>&1 || true
    aws s3 rm --quiet --recursive "s3://$BUCKET/" >&2 || die "cannot empty s3://$BUCKET at $AWS_ENDPOINT_URL"
else
    if [[ $OSD_STORE == memstore ]]; then export CEPH_OSD_SIZE_MB=${BENCH_OSD_SIZE_MB:-6144}; fi
    CEPH_RGW_BUCKETS=$BUCKET CEPH_OSD_STORE=$OSD_STORE start_rgw "$RGW_DIR" "$WORK/rgw.env"
    set -a
    # shellcheck disable=SC1091
    . "$WORK/rgw.env"
    set +a
fi
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} AWS_REGION=${AWS_REGION:-us-east-1}
# µs during which every runnable task waited for I/O (pressure stall information; 0 without PSI)
io_stall_us() { awk -F'total=' '/^full/ {print $2 + 0; exit}' /proc/pressure/io 2>/dev/null || echo 0; }
FAILED=0

# ---------------------------------------------------------------- the tree ------
SRC=$WORK/src
log "generating the tree in $SRC (seed $SEED, every ${EVERY}th file)"
"$GEN" generate --dest "$SRC" --seed "$SEED" --every "$EVERY" "${LISTING[@]}" 2> "$WORK/logs/generate.log" \
    || die "generation failed: $(cat "$WORK/logs/generate.log")"
sed 's/^/  /' "$WORK/logs/generate.log" >&2
read -r TREE_FILES TREE_BYTES < <(find "$SRC" -type f -printf '%s\n' | awk '{s += $1} END {print NR, s + 0}')
# every run reads the tree from the page cache (through a pipe: GNU tar writing to
# /dev/null skips reading the files)
read_into_page_cache() { tar -cf - -C "$SRC" . | cat > /dev/null; }
read_into_page_cache

# ------------------------------------------------------------- contenders ------
# Each sets CMD to the command line of one run. The seed scripts run traced with
# timestamps (PS4 is not taken from the environment of root, hence the `.`), which is what
# the "where the time goes" lines are made of.
# shellcheck disable=SC2016 # the trace prompt expands in the traced shell
seed_publish() { # KEY
    CMD=(env WEBROOT="$SRC" S3_BUCKET="$BUCKET" S3_KEY="$1" TMPDIR="$DEST/tmp"
         bash -c 'PS4="+\${EPOCHREALTIME} "; set -x; . "$0"' "$ROOT/benches/seed/publish-webroot.sh")
}
# shellcheck disable=SC2016
seed_fetch() { # KEY DEST
    CMD=(env WEBROOT="$2" S3_BUCKET="$BUCKET" S3_KEY="$1" OWNER="$OWNER" TMPDIR="$DEST/tmp"
         bash -c 'PS4="+\${EPOCHREALTIME} "; set -x; . "$0"' "$ROOT/benches/seed/fetch-webroot.sh")
}
cg_publish() {
    CMD=("$CACHEGATE" publish-snapshot --source "$SRC" --bucket "$BUCKET" --prefix "$CG_PREFIX" "${PUBLISH_FLAGS[@]}")
}
cg_fetch() { # DEST
    CMD=("$CACHEGATE" fetch-webroot --bucket "$BUCKET" --prefix "$CG_PREFIX" --dest "$1" --owner "$OWNER" "${FETCH_FLAGS[@]}")
}
untimed() { # LOG CONTENDER ARGS...: one run outside the measurements
    "${@:2}"
    "${CMD[@]}" > "$WORK/logs/$1" 2>&1 || die "$2 failed: $(grep -v '^+' "$WORK/logs/$1" | tail -n 3 | tr '\n' ' ')"
}

# settle: flush earlier writes, keep clear of ext4's slow inode allocation after a mass
# delete, and wait (up to BENCH_QUIET_WAIT s) until other processes leave the cores and the
# disk alone
settle() {
    sync
    local wait=$((SETTLE_UNTIL - SECONDS)) cpu io deadline=$((SECONDS + QUIET_WAIT))
    if (( wait > 0 )); then
        log "  waiting ${wait}s after the mass delete before measuring"
        sleep "$wait"
    fi
    while read -r cpu io < <(background_load) && (( (cpu > 25 || io > 10) && SECONDS < deadline )); do
        log "  machine busy without our load (${cpu}% of a core, I/O stalls ${io}% of the time): waiting"
    done
}
background_load() { # over 1 s: % of one core used by processes other than our RGW, % of time stalled on I/O
    local b0 b1 r0 r1 i0 i1
    b0=$(machine_busy_ticks); i0=$(io_stall_us)
    # shellcheck disable=SC2046
    r0=$(cpu_ticks $(rgw_pids "$RGW_DIR"))
    sleep 1
    b1=$(machine_busy_ticks); i1=$(io_stall_us)
    # shellcheck disable=SC2046
    r1=$(cpu_ticks $(rgw_pids "$RGW_DIR"))
    echo "$(( (b1 - b0 - r1 + r0) * 100 / TICK )) $(( (i1 - i0) / 10000 ))"
}

# timed CASE WHO ROUND CONTENDER ARGS...: one measured run -> a line of $RESULTS
timed() {
    local case=$1 who=$2 round=$3; shift 3
    "$@"
    local name=$case-$who-$round rc=0 t0 t1 rgw0 rgw1 busy0 busy1 irq0 irq1 io0 io1 wall user sys rss
    local logf=$WORK/logs/$name.log timef=$WORK/logs/$name.time
    settle
    # shellcheck disable=SC2046
    rgw0=$(cpu_ticks $(rgw_pids "$RGW_DIR")); busy0=$(machine_busy_ticks); irq0=$(irq_ticks); io0=$(io_stall_us); t0=$(now_ms)
    /usr/bin/time -f '%U %S %M' -o "$timef" "${CMD[@]}" > "$logf" 2>&1 || rc=$?
    t1=$(now_ms); busy1=$(machine_busy_ticks); irq1=$(irq_ticks); io1=$(io_stall_us)
    # shellcheck disable=SC2046
    rgw1=$(cpu_ticks $(rgw_pids "$RGW_DIR"))
    read -r user sys rss < <(tail -n 1 "$timef")
    wall=$((t1 - t0))
    jq -nc --arg case "$case" --arg who "$who" --argjson round "$round" --argjson rc "$rc" \
        --argjson wall_ms "$wall" --argjson user "$user" --argjson sys "$sys" --argjson rss_kib "$rss" \
        --argjson rgw $((rgw1 - rgw0)) --argjson busy $((busy1 - busy0)) --argjson irq $((irq1 - irq0)) \
        --argjson tick "$TICK" --argjson io_us $((io1 - io0)) --arg last "$(grep -v '^+' "$logf" | tail -n 1)" \
        '{case: $case, who: $who, round: $round, rc: $rc, wall_s: ($wall_ms / 1000), cpu_s: ($user + $sys),
          rgw_cpu_s: ($rgw / $tick), max_rss_mib: ($rss_kib / 1024 | round),
          foreign_cpu_s: ([0, ($busy - $rgw - $irq) / $tick - $user - $sys] | max), io_stall_s: ($io_us / 1e6),
          last_line: $last}' >> "$RESULTS"
    if [[ $rc != 0 ]]; then
        FAILED=1
        log "  $name: FAILED (exit $rc): $(grep -v '^+' "$logf" | tail -n 3 | tr '\n' ' ')"
    else
        log "  $name: $(awk -v w="$wall" -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f s (CPU %.2f s)", w / 1000, u + s}')"
    fi
    return 0
}

# verify CASE WHO ROUND DEST: DEST holds exactly the source tree, owned by OWNER
verify() {
    local case=$1 who=$2 round=$3 dest=$4 problems=""
    [[ $VERIFY == all || ($VERIFY == first && $round == 1) ]] || return 0
    local out=$WORK/logs/verify-$case-$who-$round.txt
    { diff -r --no-dereference -x "$MARKER" "$SRC" "$dest" || true; } > "$out" 2>&1
    [[ -s $out ]] && problems+="contents differ; "
    # (directory sizes are the file system's business)
    local listing=(-mindepth 1 ! -path "./$MARKER" \( -type d -printf '%p d %m %T@\n' -o -printf '%p %y %m %s %T@\n' \))
    (cd "$SRC" && find . "${listing[@]}" | sort) > "$out.src"
    (cd "$dest" && find . "${listing[@]}" | sort) > "$out.dest"
    diff "$out.src" "$out.dest" >> "$out" 2>&1 || problems+="types, modes, sizes or mtimes differ; "
    find "$dest" -mindepth 1 ! -path "$dest/$MARKER" \( ! -user "${OWNER%:*}" -o ! -group "${OWNER#*:}" \) -printf '%p %U:%G\n' \
        > "$out.owner"
    [[ -s $out.owner ]] && problems+="$(wc -l < "$out.owner") entries not owned by $OWNER; "
    jq -nc --arg case "$case" --arg who "$who" --argjson round "$round" --arg problems "$problems" \
        '{verify: $case, who: $who, round: $round, ok: ($problems == ""), problems: $problems}' >> "$RESULTS"
    if [[ -n $problems ]]; then
        FAILED=1
        log "  $case-$who-$round: destination WRONG: $problems(see $out)"
    else
        log "  $case-$who-$round: destination equals the source"
        rm -f "$out" "$out.src" "$out.dest" "$out.owner"
    fi
}

# a tree no later case needs: freed at once on tmpfs (RAM); kept on disk, where a mass
# delete would slow the file creation of the next runs
drop_tree() { if [[ $DEST_FS == tmpfs ]]; then rm -rf "$1"; fi; }

# odd rounds seed first, even rounds cachegate first
order() { if (( $1 % 2 )); then echo "seed cg"; else echo "cg seed"; fi; }
object_size() { aws s3api head-object --bucket "$BUCKET" --key "$1" --query ContentLength --output text; }
cg_current_id() { aws s3 cp --quiet "s3://$BUCKET/$CG_PREFIX/current" - | jq -r .current.id; }
cg_manifest() { aws s3 cp --quiet "s3://$BUCKET/$CG_PREFIX/snapshots/$1/manifest.json" -; }
record_sizes() { # LABEL: sizes of the seed archive and of cachegate's current snapshot
    local seed_bytes manifest key=$SEED_KEY
    [[ $1 == changed ]] && key=$SEED_KEY_CHANGED
    seed_bytes=$(object_size "$key")
    manifest=$(cg_manifest "$(cg_current_id)") || manifest="{}"
    jq -nc --arg which "$1" --argjson seed "$seed_bytes" --argjson m "$manifest" \
        '{sizes: $which, seed_bytes: $seed, cg_archive_bytes: $m.archive.size, cg_index_bytes: $m.index.size,
          cg_members: $m.member_count, cg_id: $m.id}' >> "$RESULTS"
}

# ------------------------------------------------------------------ cases ------
if has_case publish; then
    log "case publish: $ROUNDS rounds"
    for ((r = 1; r <= ROUNDS; r++)); do
        for who in $(order $r); do
            case $who in
                seed) timed publish seed $r seed_publish "$SEED_KEY" ;;
                cg) timed publish cg $r cg_publish ;;
            esac
        done
    done
else
    log "publishing once (untimed) for the fetch cases"
    untimed publish-seed-0.log seed_publish "$SEED_KEY"
    untimed publish-cg-0.log cg_publish
fi
record_sizes publish

if has_case cold; then
    log "case cold: $ROUNDS rounds"
    for ((r = 1; r <= ROUNDS; r++)); do
        for who in $(order $r); do
            dest=$DEST/cold-$who-$r
            mkdir "$dest"
            case $who in
                seed) timed cold seed $r seed_fetch "$SEED_KEY" "$dest" ;;
                cg) timed cold cg $r cg_fetch "$dest" ;;
            esac
            verify cold "$who" $r "$dest"
            if [[ $who == seed ]]; then drop_tree "$dest"; fi
        done
    done
fi

if has_case same; then
    log "case same: $ROUNDS rounds (the destination of the first cold fetch)"
    for ((r = 1; r <= ROUNDS; r++)); do
        timed same cg $r cg_fetch "$DEST/cold-cg-1"
        verify same cg $r "$DEST/cold-cg-1"
    done
fi

if has_case changed; then
    log "case changed: rewriting ${CHANGE_PERCENT}% of the files, publishing again"
    "$GEN" change --dest "$SRC" --seed "$SEED" --every "$EVERY" --percent "$CHANGE_PERCENT" --generation 1 \
        "${LISTING[@]}" 2>&1 >/dev/null | sed 's/^/  /' >&2
    read_into_page_cache
    # the publishes of the changed tree are timed too, but not part of the table
    timed publish-changed seed 1 seed_publish "$SEED_KEY_CHANGED"
    timed publish-changed cg 1 cg_publish
    record_sizes changed
    log "case changed: $ROUNDS rounds"
    for ((r = 1; r <= ROUNDS; r++)); do
        for who in $(order $r); do
            case $who in
                seed)
                    mkdir "$DEST/changed-seed-$r"
                    timed changed seed $r seed_fetch "$SEED_KEY_CHANGED" "$DEST/changed-seed-$r"
                    verify changed seed $r "$DEST/changed-seed-$r"
                    drop_tree "$DEST/changed-seed-$r" ;;
                cg)
                    # holds the snapshot before the change since its cold fetch
                    timed changed cg $r cg_fetch "$DEST/cold-cg-$r"
                    verify changed cg $r "$DEST/cold-cg-$r" ;;
            esac
        done
    done
fi

# ---------------------------------------------------------------- profiles ------
if [[ ${BENCH_PERF:-0} == 1 ]]; then
    command -v perf >/dev/null || die "BENCH_PERF=1 needs perf (apt-get install linux-perf)"
    perf_run() { # NAME CONTENDER ARGS...
        settle
        log "perf: $1"
        "${@:2}"
        perf record -q -F 499 -g -o "$WORK/perf-$1.data" -- "${CMD[@]}" > "$WORK/logs/perf-$1.log" 2>&1 || true
        perf report -i "$WORK/perf-$1.data" --no-children -g none --percent-limit 1 --stdio --sort comm,dso,symbol \
            > "$WORK/perf-$1.txt" 2>/dev/null || true
    }
    has_case publish && perf_run publish cg_publish
    mkdir "$DEST/perf-cold"
    has_case cold && perf_run cold cg_fetch "$DEST/perf-cold"
    has_case same && perf_run same cg_fetch "$DEST/perf-cold"
fi

# ------------------------------------------------------------------ table -------
echo
echo "$CG_VERSION $REV ($(date -u +%F)); $(radosgw --version 2>/dev/null | awk '{print "ceph " $3}'); $(aws --version 2>&1 | cut -d' ' -f1-2); $(tar --version | head -n 1); gzip $(gzip --version | awk 'NR == 1 {print $2}')"
echo "machine: $(machine_summary), kernel $(uname -r); source tree on $(df -T "$WORK" | awk 'NR == 2 {print $2}')," \
     "destinations on $(df -T "$DEST" | awk 'NR == 2 {print $2}'), RGW OSD $OSD_STORE"
jq -rs --argjson files "$TREE_FILES" --argjson bytes "$TREE_BYTES" --argjson real "$REAL_TGZ_BYTES" '
  (.[] | select(.sizes == "publish")) as $s
  | "tree: \($files) files, \($bytes / 1e6 * 10 | round / 10) MB; seed tar -czf: \($s.seed_bytes / 1e6 * 10 | round / 10) MB" +
    " (\($bytes / $s.seed_bytes * 100 | round / 100):1; the real webroot: \($real / 1e6 | round) MB, this is \($s.seed_bytes / $real * 100 | round / 100)×)"' "$RESULTS"
echo "$ROUNDS rounds per case, contenders alternating; medians. Speedup = seed s / cachegate s."
echo
jq -rs --arg pct "$CHANGE_PERCENT" '
  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def r2: if . == null then "-" else (. * 100 | round / 100 | tostring) end;
  def med($case; $who; $what): [.[] | select(.case == $case and .who == $who and .rc == 0) | .[$what]] | median;
  . as $all
  | [ ["publish", "publish", "publish", 3, "seed: tar -czf + aws s3 cp"],
      ["fetch cold", "cold", "cold", 3, "seed: aws s3 cp + tar -xzf + chown -R, empty dest"],
      ["fetch same snapshot", "cold", "same", 20, "seed: its cold fetch (it has no other mode)"],
      ["fetch \($pct)% changed", "changed", "changed", null, "seed: cold fetch of the new archive"] ] as $rows
  | (["case", "seed s", "cachegate s", "speedup", "target", "result", "seed CPU s", "cachegate CPU s", "note"] | @tsv),
    ($rows[] | . as [$name, $seedcase, $cgcase, $target, $note]
      | ($all | med($seedcase; "seed"; "wall_s")) as $s
      | ($all | med($cgcase; "cg"; "wall_s")) as $c
      | select($s != null or $c != null)
      | (if $s != null and $c != null and $c > 0 then $s / $c else null end) as $x
      | [$name, ($s | r2), ($c | r2), (if $x == null then "-" else "\($x | r2)×" end),
         (if $target == null then "-" else "≥ \($target)×" end),
         (if $x == null or $target == null then "-" elif $x >= $target then "PASS" else "FAIL" end),
         ($all | med($seedcase; "seed"; "cpu_s") | r2), ($all | med($cgcase; "cg"; "cpu_s") | r2), $note] | @tsv)
' "$RESULTS" | column -t -s $'\t'
echo
jq -rs '
  def mb: if . == null then "-" else "\(. / 1e6 * 100 | round / 100) MB" end;
  .[] | select(.sizes) |
  "archive (\(.sizes)): seed \(.seed_bytes | mb); cachegate \(.cg_archive_bytes | mb)" +
  (if .cg_archive_bytes then " (+ index \(.cg_index_bytes | mb), \(.cg_members) members) = \(.cg_archive_bytes / .seed_bytes * 1000 | round / 1000)× the seed: " +
     (if .cg_archive_bytes <= 1.05 * .seed_bytes then "PASS" else "FAIL" end) + " (target ≤ 1.05×)" else "" end)' "$RESULTS"
echo
echo "every run (CPU: user+sys of the contender and its children; RGW: radosgw+ceph-osd+ceph-mon;"
echo "foreign: CPU of processes this script did not start, should be ~0; I/O stall: time during which every"
echo "runnable task of the machine waited for the disk (/proc/pressure/io \"full\"), should be ~0):"
jq -rs '
  def r2: . * 100 | round / 100;
  (["case", "contender", "round", "wall s", "CPU s", "RGW CPU s", "foreign CPU s", "I/O stall s", "peak RSS MiB", "exit", "last output line"] | @tsv),
  (.[] | select(.wall_s) | [.case, (if .who == "cg" then "cachegate" else "seed" end), .round, (.wall_s | r2), (.cpu_s | r2),
    (.rgw_cpu_s | r2), (.foreign_cpu_s | r2), (.io_stall_s | r2), .max_rss_mib, .rc, (.last_line | .[0:90])] | @tsv)' "$RESULTS" | column -t -s $'\t'
echo
echo "seed scripts, where the time goes (medians of the traced steps, s):"
for f in "$WORK"/logs/*-seed-*.log; do
    [[ -e $f ]] || continue
    # trace lines: "+…+<epoch> <command> …"; a step lasts until the next trace line
    awk -v run="$(basename "$f" .log)" '
        /^\++[0-9]+\.[0-9]+ / { t = $1; sub(/^\++/, "", t); if (cmd != "") d[cmd] += t - t0
                               cmd = ($2 ~ /^(tar|aws|chown)$/) ? $2 : ""; t0 = t }
        END { sub(/-seed-[0-9]+$/, "", run); for (c in d) printf "{\"case\": \"%s\", \"step\": \"%s\", \"s\": %.3f}\n", run, c, d[c] }' "$f"
done | jq -rs '
  def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  group_by(.case)[] | "  \(.[0].case):" + ([group_by(.step)[] | " \(.[0].step) \([.[].s] | median * 100 | round / 100)"] | join(","))'
if [[ ${BENCH_PERF:-0} == 1 ]]; then echo; echo "profiles: $WORK/perf-*.txt"; fi
if (( FAILED )); then echo; echo "SOME RUNS FAILED (see above and $WORK/logs)"; exit 1; fi
