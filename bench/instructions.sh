#!/usr/bin/env bash
# instructions.sh BUILD_DIR - instructions per malloc+free of a small block,
# counted by valgrind's callgrind (repeatable, unlike timings on a shared
# machine), for glibc, jemalloc, mimalloc, tcmalloc and numa-alloc.
#
# Caveat: valgrind does not implement rseq, so under it glibc registers no rseq
# area, numa-alloc's cpu word reads -1 and every malloc takes the route without
# rseq (alloc_slow: getcpu, the route, the same bin pop). The numa-alloc row
# prints what valgrind counts, then the pair as a run with rseq executes it:
# free and the loop as callgrind counts them per call (they take the same path
# either way) plus malloc's fast path as compiled (tools/fastpath.sh: the whole
# function, every instruction of which a cache hit can execute, so an upper
# bound on the hit path).
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
n=200000
LD_PRELOAD=$lib valgrind --tool=callgrind --callgrind-out-file="$out" "$loop" $n 32 >/dev/null 2>&1
self() { # function -> its own instructions per call of the loop
    callgrind_annotate "$out" 2>/dev/null |
        awk -v f="$1" -v n=$n '$0 ~ ":(__libc_)?" f " " || (f == "free" && $0 ~ ":cfree ") {
            gsub(",", "", $1); s += $1 # the __libc_ names and cfree are aliases of ours
        } END {print int(s / n + 0.5)}'
}
free_ops=$(self free)
loop_ops=$(self main)
rm -f "$out"
malloc_ops=$(bash "$(dirname "$0")/../tools/fastpath.sh" "$lib" | awk '$2 == "malloc:" {print $3}')
printf '%-12s %s under valgrind (malloc without rseq); with rseq: %s = free %s + loop %s + malloc %s\n' \
    numa-alloc "$total" "$((free_ops + loop_ops + malloc_ops))" "$free_ops" "$loop_ops" "$malloc_ops"
