#!/usr/bin/env bash
# hugetlb_guest.sh PROBE - in the 2-node guest (tests/guest/guest-run, Debian 12's kernel
# 6.1, as on CI): NUMA_ALLOC_HUGETLB with per-node pools
# (/sys/devices/system/node/nodeN/hugepages), where the node of a huge page can be wrong.
#
#   1. 16 pages (32 MiB) on each node, NUMA_ALLOC_HUGETLB=32m: a program on node 0 and
#      one on node 1 each get their node's pages (KernelPageSize 2048 kB, hugetlb_bytes
#      32 MiB on their node, no message), and give none back while they run;
#   2. pages on node 1 only, the program on node 0: the kernel serves node 0's range from
#      node 1 (the policy only prefers node 0); move_pages sees it, the pages go back to
#      the pool, one line says they came from another node, and the heap runs on normal
#      pages (hugetlb_bytes 0).
# shellcheck disable=SC2317 # the helpers below are called through check
set -u
probe=$1
tmp=$(mktemp -d)
# shellcheck source=tests/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/../check.sh"
pool() { echo "$2" >"/sys/devices/system/node/node$1/hugepages/hugepages-2048kB/nr_hugepages"; }
free_on() { cat "/sys/devices/system/node/node$1/hugepages/hugepages-2048kB/free_hugepages"; }
value() { sed -n "s/^$1 //p" "$tmp/out"; }
trap 'pool 0 0; pool 1 0; rm -rf "$tmp"' EXIT
check "the guest has 2 nodes" test "$(ls -d /sys/devices/system/node/node[0-9]* | wc -l)" -eq 2

pool 0 16
pool 1 16
check "16 huge pages on each node" test "$(free_on 0)/$(free_on 1)" = 16/16
for node in 0 1; do
    NUMA_ALLOC_HUGETLB=32m NUMA_ALLOC_PURGE_DELAY_MS=0 numactl -N "$node" "$probe" >"$tmp/out" 2>&1
    check "node $node: the program runs" grep -qx ok "$tmp/out"
    check "node $node: its heap is node $node's" test "$(value node)" = "$node"
    check "node $node: no message" test "$(grep -c numa-alloc: "$tmp/out")" -eq 0
    check "node $node: 2 MiB pages" test "$(value heap_page_kb)" = 2048
    check "node $node: hugetlb_bytes 32 MiB" test "$(value stats_hugetlb)" = 33554432
    check "node $node: 32 MiB after the churn" test "$(value stats_hugetlb_after)" = 33554432
    check "node $node: none given back while it ran" \
        test "$(value pool_free_before)" = "$(value pool_free_after)"
    check "node $node: calloc reads zero" test "$(value nonzero)" = 0
    check "node $node: a fork child writes to its heap" test "$(value fork_child_status)" = 0
    cat "$tmp/out"
done

pool 0 0
pool 1 32
check "32 huge pages on node 1, none on node 0" test "$(free_on 0)/$(free_on 1)" = 0/32
NUMA_ALLOC_HUGETLB=32m numactl -N 0 "$probe" >"$tmp/out" 2>&1
check "misplaced: the program runs" grep -qx ok "$tmp/out"
check "misplaced: one line says the pages came from another node" grep -q \
    "NUMA_ALLOC_HUGETLB: no hugetlbfs pages reserved on node 0 (32 MiB: the node has too few free 2 MiB pages: some came from another node); using normal pages" \
    "$tmp/out"
check "misplaced: normal pages" test "$(value heap_page_kb)" = 4
check "misplaced: hugetlb_bytes 0" test "$(value stats_hugetlb)" = 0
check "misplaced: node 1's pages back in the pool while it ran" test "$(value pool_free_before)" = 32
cat "$tmp/out"
exit "$fail"
