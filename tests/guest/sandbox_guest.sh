#!/usr/bin/env bash
# sandbox_guest.sh SECCOMP_DENY LIB DEMO - in the 2-node guest (tests/guest/guest-run):
# numa-alloc with the NUMA policy calls refused by a seccomp filter, where placement
# really differs between nodes.
#
#   1. the demo under the filter (all five calls, EPERM): exit 4, one "numa-alloc:" line,
#      every node line "(intended, not verified)", statistics unbound/unverified;
#   2. what "intended" means: with only mbind/set_mempolicy refused (move_pages still
#      answers), a thread on node 0 writes numa_malloc(1, 16 MiB): the block is node 1's
#      by address (numa_ptr_node), its pages lie on node 0 (first-touch), the census finds
#      them misplaced, and node 1's local_pct_basis is "intended";
#   3. negative control, no filter: the same block's pages are on node 1, the statistics
#      bound/verified, basis "verified"; the demo exits 0.
# shellcheck disable=SC2317 # the helpers below are called through check
set -u
deny=$1 lib=$2 demo=$3
python=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/../check.sh"
# JSON statistics FILE, then a Python expression over `doc` that must hold.
holds() {
    "$python" -c 'import json, sys
doc = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2])
print(doc["placement"], {k: (v["local_pct_basis"], v.get("verified")) for k, v in doc.items() if k.startswith("node")})
sys.exit(0 if ok else 1)' "$1" "$2"
}

echo "=== the demo under the filter"
"$deny" -- env NUMA_ALLOC_POLICY=local NUMA_ALLOC_STATS="$tmp/demo.json" \
    "$demo" --threads=2 --seed=42 --total=64M >"$tmp/demo.out" 2>"$tmp/demo.err"
rc=$?
cat "$tmp/demo.out" "$tmp/demo.err"
check "exit 4" test $rc -eq 4
check "one warning line" test "$(grep -c '^numa-alloc:' "$tmp/demo.err")" -eq 1
check "two node lines, both '(intended, not verified)'" \
    test "$(grep -c '^Node [01]: .*(intended, not verified)$' "$tmp/demo.out")" -eq 2
check "statistics: unbound, unverified, both nodes intended" holds "$tmp/demo.json" \
    'doc["placement"]["binding"] == "unbound" and doc["placement"]["verification"] == "unverified" and doc["node0"]["local_pct_basis"] == doc["node1"]["local_pct_basis"] == "intended"'

# A thread on node 0 (cpu 0) writes a block numa-alloc gives from node 1.
prog='import ctypes, os
os.sched_setaffinity(0, {0})
lib = ctypes.CDLL(None)
lib.numa_malloc.restype = ctypes.c_void_p
lib.numa_malloc.argtypes = [ctypes.c_int, ctypes.c_size_t]
lib.numa_ptr_node.argtypes = [ctypes.c_void_p]
p = lib.numa_malloc(1, 16 << 20)
ctypes.memset(p, 1, 16 << 20)
print("numa_ptr_node", lib.numa_ptr_node(p))'

echo "=== mbind refused, move_pages answers: where a node-1 block written on node 0 lies"
"$deny" --calls=mbind,set_mempolicy -- env LD_PRELOAD="$lib" NUMA_ALLOC_STATS="$tmp/unbound.json" \
    "$python" -c "$prog" >"$tmp/unbound.out" 2>"$tmp/unbound.err"
rc=$?
cat "$tmp/unbound.out" "$tmp/unbound.err"
check "exit 0, the block is node 1's by address" grep -qx 'numa_ptr_node 1' "$tmp/unbound.out"
check "one warning line: mbind" grep -qx \
    'numa-alloc: mbind refused (EPERM): memory is not bound, placement is first-touch' "$tmp/unbound.err"
check "statistics: unbound but verified; node 1 intended, its pages found elsewhere" \
    holds "$tmp/unbound.json" \
    'doc["placement"] == {"binding": "unbound", "binding_error": "EPERM", "verification": "verified"} and doc["node1"]["local_pct_basis"] == "intended" and doc["node1"]["verified"]["misplaced"] >= 4000'

echo "=== no filter (negative control)"
env LD_PRELOAD="$lib" NUMA_ALLOC_STATS="$tmp/bound.json" \
    "$python" -c "$prog" >"$tmp/bound.out" 2>"$tmp/bound.err"
cat "$tmp/bound.out" "$tmp/bound.err"
check "exit 0, node 1's block" grep -qx 'numa_ptr_node 1' "$tmp/bound.out"
check "no warning" test "$(grep -c '^numa-alloc:' "$tmp/bound.err")" -eq 0
check "statistics: bound, verified; node 1's pages on node 1" holds "$tmp/bound.json" \
    'doc["placement"] == {"binding": "bound", "verification": "verified"} and doc["node1"]["local_pct_basis"] == "verified" and doc["node1"]["verified"]["misplaced"] == 0 and doc["node1"]["verified"]["on_node"] >= 4000'
NUMA_ALLOC_POLICY=local "$demo" --threads=2 --seed=42 --total=64M >"$tmp/demo.out" 2>&1
check "the demo: exit 0" test $? -eq 0
exit $fail
