#!/usr/bin/env bash
# tests/placement/many_nodes.sh CHECK N [DEMO [LAUNCHER [COUNTERS_PROBE]]] - the many-node checks (issue 16)
# in a guest of N nodes (tests/guest/guest-run --topology=nodesN: 128 MiB each, 512 MiB on
# the CPU nodes 0 and 1 by --mem-mb, distance 12 + |i - j|). CHECK is placement_check. One
# boot, every check runs even when one fails; the status says whether any did.
#
# The nodes scale with N, so that 16 and 64 nodes (within the library's old 64-node cap)
# run the same checks as 128 (past it): bind to node N*100/128 (100 at 128 nodes),
# preferred to the last node, fill node N/2 (fallback nearest: its nearest are N/2-1 and
# N/2+1, both 13 away; ties go to the lower slot, policy/placement.c: N/2-1).
# At 16 nodes also the statistics' node list (stats-nodes: the text folds the unused nodes)
# and, given DEMO (numa_alloc_demo), its transcript against tests/demo/demo_oracle.py: the
# CPU nodes and node 12 (bind) have lines, the 13 others one folded line; given LAUNCHER
# (numa-alloc), `numa-alloc stat` of a live program folds the same way. Given
# COUNTERS_PROBE (tests/counters_probe), the node heaps are set up on first use: after
# the start and one block, one or two of the N (two if the thread moved between nodes);
# after a block on every node, one per node.
set -u
check=$1 n=$2 demo=${3:-} launcher=${4:-} probe=${5:-}
oracle=$(dirname "${BASH_SOURCE[0]}")/../demo/demo_oracle.py
bind=$((n * 100 / 128)) last=$((n - 1)) full=$((n / 2))
r=0
run() {
    echo "== $*"
    "$@" || r=1
}
run "$check" each-node
run env NUMA_ALLOC_POLICY=bind NUMA_ALLOC_NODES=$bind "$check" bind $bind
run env NUMA_ALLOC_POLICY=preferred NUMA_ALLOC_NODES=$last "$check" bind $last
run env NUMA_ALLOC_POLICY=interleave "$check" interleave-all
run "$check" local 300 # 300 objects a round (~30 MiB live): node 0 holds the kernel too
run env NUMA_ALLOC_FALLBACK=nearest "$check" nearest-fill $full $((full - 1))
if [[ -n $probe ]]; then
    echo "== $probe heaps"
    heaps=$("$probe" heaps) || r=1
    echo "$heaps"
    read -r _ rc1 first _ rc2 after _ served <<<"$(tr '\n' ' ' <<<"$heaps")"
    if [[ $rc1 != 0 || $rc2 != 0 ]] || ((first < 1 || first > 2 || served != n || after != n)); then
        echo "FAIL: heaps.ready: $first after the start (want 1 or 2), $after after using $served of $n nodes (want $n)"
        r=1
    fi
fi
if ((n == 16)); then
    run "$check" stats-nodes 5 6 7 12
    # The OpenMetrics file at exit: samples for the nodes used, none for the others.
    om=$(mktemp)
    NUMA_ALLOC_STATS=$om NUMA_ALLOC_STATS_FORMAT=openmetrics "$check" stats-nodes 12 >/dev/null || r=1
    echo "== openmetrics at exit: nodes $(grep -o 'node="[0-9]*"' "$om" | sort -u | tr '\n' ' ')"
    grep -q '^numa_alloc_allocations_total{node="12",' "$om" || r=1
    ! grep -q 'node="9"' "$om" || r=1
    rm -f "$om"
fi
if ((n == 16)) && [[ -n $launcher ]]; then
    dir=$(mktemp -d)
    "$launcher" --live -- "$check" hold 32 "$dir/ready" >/dev/null &
    pid=$!
    for ((i = 0; i < 300; i++)); do
        [[ -e $dir/ready ]] && break
        sleep 0.1
    done
    echo "== numa-alloc stat $pid"
    "$launcher" stat "$pid" >"$dir/stat" || r=1
    grep -E '^(Node|Nodes) ' "$dir/stat"
    # A line per node used so far (the file is as of the last publication: at most every
    # 250 ms, from a slow path) and one folded line: 16 nodes in all.
    used=$(grep -Ec '^Node [0-9]+: .* allocated, ' "$dir/stat")
    folded=$(sed -En 's/^Nodes .* \(([0-9]+) nodes\): nothing allocated$/\1/p' "$dir/stat")
    echo "numa-alloc stat: $used node line(s), ${folded:-no} folded"
    [[ -n $folded ]] && ((used + folded == n)) || r=1
    rm -f "$dir/ready"
    wait "$pid" || r=1
    rm -rf "$dir"
fi
if ((n == 16)) && [[ -n $demo ]]; then
    flags=(--threads=2 --policy=bind --node=12 --seed=42 --total=8M)
    echo "== numa_alloc_demo ${flags[*]}"
    tmp=$(mktemp -d) # (no /dev/fd in the guest: no <(...))
    "$demo" "${flags[@]}" >"$tmp/out" || r=1
    cat "$tmp/out"
    python3 -S "$oracle" "${flags[@]}" >"$tmp/expect" || r=1
    diff -u "$tmp/expect" "$tmp/out" || r=1
    grep -qx 'Nodes 2-11, 13-15 (13 nodes): nothing allocated' "$tmp/out" || r=1
    rm -rf "$tmp"
fi
exit $r
