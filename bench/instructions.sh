#!/usr/bin/env bash
# instructions.sh BUILD_DIR - instructions per malloc+free of a small block,
# counted by valgrind's callgrind (repeatable, unlike timings on a shared
# machine), for glibc, jemalloc, mimalloc, tcmalloc and numa-alloc.
#
# Caveat: valgrind does not implement rseq, so under it glibc's sched_getcpu()
# and numa-alloc's current-node lookup fall back to the getcpu vDSO path; the
# numa-alloc row is printed with and without those functions' instructions
# (counted from callgrind's per-function totals).
set -euo pipefail
build=${1:-build}
loop=$build/bench/pair_loop
lib=$build/libnumapreload.so
arch=/usr/lib/x86_64-linux-gnu
count() { # preload n -> total instructions
    LD_PRELOAD=$1 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$loop" "$2" 32 2>&1 |
        awk '/Collected/ {print $4}'
}
per_op() { # preload
    local a b
    a=$(count "$1" 100000)
    b=$(count "$1" 200000)
    echo $(((b - a) / 100000))
}
printf '%-12s %s\n' allocator "instructions per malloc(32)+free"
printf '%-12s %s\n' glibc "$(per_op "")"
for name in jemalloc:libjemalloc.so.2 mimalloc:libmimalloc.so.2 tcmalloc:libtcmalloc_minimal.so.4; do
    so=$arch/${name#*:}
    [[ -e $so ]] && printf '%-12s %s\n' "${name%%:*}" "$(per_op "$so")"
done
total=$(per_op "$lib")
out=$(mktemp)
LD_PRELOAD=$lib valgrind --tool=callgrind --callgrind-out-file="$out" "$loop" 200000 32 >/dev/null 2>&1
cpu=$(callgrind_annotate "$out" 2>/dev/null | awk '/sched_getcpu|current_cpu_slow/ {gsub(",", "", $1); s += $1} END {print s + 0}')
rm -f "$out"
printf '%-12s %s (%s without the getcpu fallback that valgrind forces; rseq is one load)\n' \
    numa-alloc "$total" "$((total - cpu / 200000))"
