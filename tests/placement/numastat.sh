#!/usr/bin/env bash
# numastat.sh CHECK NODE - in the guest: a process under NUMA_ALLOC_POLICY=bind to
# NODE holds 64 MiB of malloc'd memory; numastat -p (numactl's tool, independent
# of numa-alloc) must put at least 80% of the process's memory on NODE.
set -euo pipefail
check=$1 node=$2
ready=$(mktemp -u /tmp/hold.XXXXXX)
NUMA_ALLOC_POLICY=bind NUMA_ALLOC_NODES=$node "$check" hold 64 "$ready" &
pid=$!
for _ in $(seq 600); do
    [[ -e $ready ]] && break
    sleep 0.1
done
out=$(numastat -p "$pid")
rm -f "$ready"
wait "$pid"
echo "$out"
# The "Total" row: one column per node, then the total (MB).
read -r -a total <<<"$(grep '^Total' <<<"$out")"
on_node=${total[$((node + 1))]} all=${total[-1]}
awk -v n="$on_node" -v t="$all" -v node="$node" 'BEGIN {
    share = n / t
    printf "numastat: %.1f of %.1f MB on node %d (%.1f%%)\n", n, t, node, 100 * share
    exit !(share >= 0.8)
}'
