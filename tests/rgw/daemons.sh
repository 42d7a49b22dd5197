# shellcheck shell=bash
# Shared by start-rgw.sh and stop-rgw.sh: which processes are the daemons of one data
# dir. Needs RUN (DATA_DIR/run) and CONF (DATA_DIR/ceph.conf) set by the caller.

# pid recorded in run/NAME.pid, alive, and really a ceph daemon of THIS data dir?
our_pid() {
    local f=$RUN/$1.pid pid
    [[ -s $f ]] || return 1
    pid=$(tr -cd '0-9' < "$f"); [[ -n $pid ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$CONF" || return 1
    echo "$pid"
}

# PID fully gone (or a zombie)? /proc/PID/cmdline empties before the process has
# closed its sockets, so wait on the process state, not on our_pid alone.
gone() { local st; st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 0; [[ -z $st || $st == Z ]]; }
