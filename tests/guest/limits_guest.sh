#!/usr/bin/env bash
# limits_guest.sh LIB PROBE - in the 2-node guest (tests/guest/guest-run): under
# `ulimit -v 300000` the two slots are laid out and reserved as their heaps grow (with
# a kernel that took MAP_FIXED_NOREPLACE as a hint they would be half of what the limit
# leaves, split between the nodes: 64 MiB each); a 100 MB block must be served, by
# numa-alloc (issue 10: "a 100 MB allocation under 300 MB"), and python3 -c pass must
# run, as under glibc. A limit the program lowers itself after the start leaves it as
# much (limits_probe lower, lower-busy), and one it removes again leaves no hole of the
# heaps' for the kernel to map into (raise-fill). mlockall under a finite RLIMIT_MEMLOCK,
# by a user without CAP_IPC_LOCK, passes where it passes under glibc (the heaps' reservation
# counted against the limit), and says so in one line where it cannot. Under
# vm.overcommit_memory=2 a freed block's charge goes back (limits_probe freed-space).
# shellcheck disable=SC2317 # the helpers below are called through check
set -u
lib=$1 probe=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/../check.sh"
active() { /usr/bin/python3 -c 'import json,sys; sys.exit(not json.load(open(sys.argv[1]))["active"])' "$tmp/stats.json"; }
nodes=$(ls -d /sys/devices/system/node/node[0-9]* | wc -l)
check "the guest has 2 nodes" test "$nodes" -eq 2
(ulimit -v 300000 && NUMA_ALLOC_STATS=$tmp/stats.json LD_PRELOAD=$lib exec "$probe" fill 100) >"$tmp/out" 2>&1
check "a 100 MB block under ulimit -v 300000 on 2 nodes" grep -qx "filled 100 MB" "$tmp/out"
check "... served by numa-alloc" active
(ulimit -v 300000 && NUMA_ALLOC_STATS=$tmp/stats.json LD_PRELOAD=$lib exec /usr/bin/python3 -c pass) >"$tmp/out" 2>&1
check "python3 -c pass under ulimit -v 300000 on 2 nodes" test $? -eq 0
check "... on numa-alloc" active
# The limit lowered from inside, after the start (core/alloc.c, give_back_region), from
# each node: on node 0 the last slot (node 1's) was never set up and is set up after;
# on node 1 it is the one that grows. Then from threads on both nodes at once.
for node in 0 1; do
    NUMA_ALLOC_STATS=$tmp/stats.json LD_PRELOAD=$lib numactl -N $node "$probe" lower 1024 setrlimit >"$tmp/out" 2>&1
    check "lowered to 1 GiB after the start, on node $node: a thread, a mapping, huge blocks" test $? -eq 0
    check "... on numa-alloc" active
    NUMA_ALLOC_STATS=$tmp/stats.json LD_PRELOAD=$lib numactl -N $node "$probe" lower-busy 4096 >"$tmp/out" 2>&1
    check "lowered to 4 GiB while 4 threads allocate, started on node $node" test $? -eq 0
    LD_PRELOAD=$lib numactl -N $node "$probe" raise-fill 2048 >"$tmp/out" 2>&1
    check "lowered, removed, the address space filled, on node $node: aligned blocks right" test $? -eq 0
done
# vm.overcommit_memory=2 (CommitLimit some 985 MiB here): a 600 MiB block written and
# freed, then 600 MiB mapped and written by the program itself. glibc unmapped the
# block; numa-alloc's purge decommitted its run (core/purge.c, purge_run_pages), so its
# charge went back too. Kept charged (MADV_DONTNEED only), the mapping was refused.
if echo 2 >/proc/sys/vm/overcommit_memory; then
    "$probe" freed-space 600 charged >"$tmp/out" 2>&1
    check "mode 2: 600 MiB freed, then mapped, glibc's malloc" test $? -eq 0
    NUMA_ALLOC_STATS=$tmp/stats.json LD_PRELOAD=$lib "$probe" freed-space 600 charged >"$tmp/out" 2>&1
    rc=$?
    check "mode 2: 600 MiB freed, then mapped, numa-alloc ($(tail -n1 "$tmp/out"))" test $rc -eq 0
    check "... on numa-alloc" active
    echo 0 >/proc/sys/vm/overcommit_memory
else
    check "vm.overcommit_memory set to 2 in the guest" false
fi
# mlockall under RLIMIT_MEMLOCK (interpose/rlimit.c), as nobody: the probe and the library
# copied where that user can read them, the statistics written where it can write.
mkdir "$tmp/user" && cp -L "$lib" "$tmp/user/lib.so" && cp "$probe" "$tmp/user/probe"
chmod 755 "$tmp" && chmod 1777 "$tmp/user"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
for how in current future; do
    (ulimit -l 262144 && as_nobody "$tmp/user/probe" lock $how) >"$tmp/out" 2>&1
    check "mlockall($how) under RLIMIT_MEMLOCK of 256 MiB, glibc's malloc" test $? -eq 0
    (ulimit -l 262144 && NUMA_ALLOC_STATS=$tmp/user/stats.json LD_PRELOAD=$tmp/user/lib.so \
        as_nobody "$tmp/user/probe" lock $how) >"$tmp/out" 2>&1
    check "mlockall($how) under RLIMIT_MEMLOCK of 256 MiB, numa-alloc" test $? -eq 0
    cp "$tmp/user/stats.json" "$tmp/stats.json"
    check "... on numa-alloc" active
done
(ulimit -l 1024 && LD_PRELOAD=$tmp/user/lib.so as_nobody "$tmp/user/probe" lock current) >"$tmp/out" 2>&1
check "mlockall under 1 MiB fails" test $? -ne 0
check "... with one line of numa-alloc's" \
    grep -q "^numa-alloc: mlockall refused under RLIMIT_MEMLOCK of 1024 KiB (ulimit -l): the process maps" "$tmp/out"
cat "$tmp/out"
exit "$fail"
