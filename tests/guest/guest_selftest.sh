#!/usr/bin/env bash
# tests/guest/guest_selftest.sh - runs IN the guest (through guest-run): checks
# that the guest has the topology guest-run promises and that the kernel places
# pages where mbind() says, independent of the allocator. Several checks per
# boot; one PASS/FAIL line each; exits 1 if any failed.
#
#   guest-run --topology=T -- guest_selftest.sh T PATH/TO/probe_placement
set -uo pipefail

topology=${1:?usage: guest_selftest.sh TOPOLOGY PROBE}
probe=${2:?usage: guest_selftest.sh TOPOLOGY PROBE}
here=${BASH_SOURCE[0]%/*}
topo=$here/check_topology.sh

failed=0
run() { # description expected-status command...
    local what=$1 want=$2
    shift 2
    echo "==== $what: $*"
    "$@"
    local rc=$?
    if ((rc == want)); then
        echo "PASS: $what (exit status $rc)"
    else
        echo "FAIL: $what: exit status $rc, expected $want"
        failed=1
    fi
}

# The guest itself.
run "in the guest" 0 test "${NUMA_ALLOC_GUEST:-}" = 1
run "topology name" 0 test "${NUMA_ALLOC_GUEST_TOPOLOGY:-}" = "$topology"
read -r balancing </proc/sys/kernel/numa_balancing
run "automatic NUMA balancing off" 0 test "$balancing" = 0

case $topology in
2node)
    run "topology" 0 "$topo" --nodes=2 --cpus='0:0 1:1' --mem-mb='0:1024 1:1024' \
        --distances='10 21;21 10'
    run "topology check can fail (3 nodes expected)" 1 "$topo" --nodes=3
    run "placement on every node" 0 "$probe" --min-nodes=2
    run "probe can fail (node 1 memory, node 0 expected)" 1 "$probe" --node=1 --expect-node=0
    run "probe can fail (node 0 memory, node 1 expected)" 1 "$probe" --node=0 --expect-node=1
    # The filesystem the command sees.
    run "host root is read-only" 1 touch "/numa-alloc-guest-ro-test.$$"
    run "/tmp is writable" 0 sh -c 'echo x >/tmp/numa-alloc-guest-test && rm /tmp/numa-alloc-guest-test'
    run "/dev/shm is writable" 0 sh -c 'echo x >/dev/shm/t && rm /dev/shm/t'
    read -r cpus </sys/devices/system/cpu/online
    run "CPUs 0-1 online" 0 test "$cpus" = 0-1
    ;;
4node)
    run "topology" 0 "$topo" --nodes=4 --cpus='0:0 1:1 2:2 3:3' \
        --mem-mb='0:512 1:512 2:512 3:512' \
        --distances='10 12 32 32;12 10 32 32;32 32 10 12;32 32 12 10'
    run "placement on every node" 0 "$probe" --min-nodes=4
    run "probe can fail (node 3 memory, node 2 expected)" 1 "$probe" --node=3 --expect-node=2
    ;;
cpuless)
    run "topology" 0 "$topo" --nodes=3 --cpus='0:0 1:1 2:' --mem-mb='0:1024 1:1024 2:512' \
        --distances='10 21 24;21 10 28;24 28 10'
    cpulist=x
    read -r cpulist </sys/devices/system/node/node2/cpulist
    run "node 2 has no CPU (sysfs)" 0 test -z "$cpulist"
    run "placement on every node, the CPU-less one included" 0 "$probe" --min-nodes=3
    run "probe can fail (node 2 memory, node 0 expected)" 1 "$probe" --node=2 --expect-node=0
    # A CPU-less node present at boot is DRAM like the others: one tier.
    run "memory tiers: one for all nodes" 0 "$topo" --tiers=0-2
    ;;
cxl)
    run "topology" 0 "$topo" --nodes=3 --cpus='0:0 1:1 2:' --mem-mb='0:1024 1:1024 2:512' \
        --distances='10 21 17;21 10 17;17 17 10'
    # The point of this topology: node 2 (dax memory onlined by kmem) in a tier of
    # its own, slower than the DRAM tier of nodes 0 and 1.
    run "memory tiers: node 2 slower than nodes 0-1" 0 "$topo" --tiers='0-1;2'
    run "tier check can fail (one tier expected)" 1 "$topo" --tiers=0-2
    cpulist=x
    read -r cpulist </sys/devices/system/node/node2/cpulist
    run "node 2 has no CPU (sysfs)" 0 test -z "$cpulist"
    run "placement on every node, the slow one included" 0 "$probe" --min-nodes=3
    run "probe can fail (node 2 memory, node 0 expected)" 1 "$probe" --node=2 --expect-node=0
    run "numactl --membind=2 runs a program" 0 numactl --membind=2 -- /bin/true
    ;;
smallnode)
    # The small node must be 192 MiB, not more: allow 10% for the kernel's own use.
    run "topology" 0 "$topo" --nodes=2 --cpus='0:0 1:1' --mem-mb='0:1024 1:192' \
        --distances='10 21;21 10' --slack=10
    run "placement on every node" 0 "$probe" --min-nodes=2
    ;;
*)
    echo "guest_selftest: unknown topology $topology" >&2
    exit 2
    ;;
esac

if ((failed)); then
    echo "guest_selftest $topology: FAILED"
    exit 1
fi
echo "guest_selftest $topology: all checks passed"
