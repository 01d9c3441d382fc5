#!/usr/bin/env bash
# cpuset_change.sh CHECK [POLICY] - run in the 2-node guest: start an allocating
# process in a cgroup whose cpuset allows nodes 0-1, take node 1 out of
# cpuset.mems while it runs, then put it back (as container orchestrators
# resize a running container). `CHECK cpuset-change 1 DIR POLICY` checks each
# phase (POLICY: local, bind:B or interleave, as NUMA_ALLOC_POLICY says);
# it says when it is ready for the next rewrite by creating DIR/ready and
# DIR/shrunk.
set -euo pipefail
check=$1
policy=${2:-local}
cg=/sys/fs/cgroup
mountpoint -q "$cg" || mount -t cgroup2 none "$cg"
echo +cpuset >"$cg/cgroup.subtree_control"
rmdir "$cg/changing" 2>/dev/null || true # left by an earlier run in this boot
mkdir -p "$cg/changing"
echo 0-1 >"$cg/changing/cpuset.mems"
dir=$(mktemp -d /tmp/cpuset-change.XXXXXX)
pid=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    [[ -z $pid ]] || kill "$pid" 2>/dev/null || true
    echo $$ >"$cg/cgroup.procs" 2>/dev/null || true
    rmdir "$cg/changing" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
echo $$ >"$cg/changing/cgroup.procs"

# Waits (bounded, never timed) for a file the check creates; fails if the check exited.
wait_for() {
    for _ in $(seq 3000); do
        [[ -e $1 ]] && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

"$check" cpuset-change 1 "$dir" "$policy" &
pid=$!
status=0
if wait_for "$dir/ready"; then
    echo 0 >"$cg/changing/cpuset.mems"
    echo "cpuset.mems: $(cat "$cg/changing/cpuset.mems.effective")"
    if wait_for "$dir/shrunk"; then
        echo 0-1 >"$cg/changing/cpuset.mems"
        echo "cpuset.mems: $(cat "$cg/changing/cpuset.mems.effective")"
    fi
fi
wait "$pid" || status=$?
pid=
exit "$status"
