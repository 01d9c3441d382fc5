#!/usr/bin/env bash
# cpuset.sh CHECK - run in the 2-node guest: put this shell in a cgroup whose
# cpuset allows only node 0, then check that node 1 is refused and avoided,
# and that a policy naming node 1 warns exactly once.
set -euo pipefail
check=$1
cg=/sys/fs/cgroup
mountpoint -q "$cg" || mount -t cgroup2 none "$cg"
echo +cpuset >"$cg/cgroup.subtree_control"
mkdir -p "$cg/only0"
echo 0 >"$cg/only0/cpuset.mems"
echo $$ >"$cg/only0/cgroup.procs"
grep Mems_allowed_list /proc/self/status

"$check" cpuset 1

out=$(NUMA_ALLOC_POLICY=bind NUMA_ALLOC_NODES=0,1 "$check" bind 0 2>&1)
echo "$out"
warnings=$(grep -c '^numa-alloc:' <<<"$out" || true)
if [[ $warnings -ne 1 ]] || ! grep -q 'NUMA_ALLOC_NODES: node(s) 1 not available' <<<"$out"; then
    echo "FAIL: want exactly one warning dropping node 1, got $warnings" >&2
    exit 1
fi
echo "cpuset: ok"
