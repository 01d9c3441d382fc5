#!/usr/bin/env bash
# bench/threads_footprint.sh [BUILD] - what a thread costs under glibc, jemalloc, mimalloc,
# tcmalloc and numa-alloc: bench/many_threads (THREADS threads live at once, each holding 1 or
# 8 blocks of 16 B..2 KiB, 64 KiB stacks), the resident set's growth in KiB while all hold
# theirs, and (`after`) 3 s after they exited while the program went on; the median of RUNS
# runs.
#
#   bench/threads_footprint.sh                         # BUILD=build, RUNS=5, THREADS=2000
#   OLD=/tmp/old/libnumapreload.so bench/threads_footprint.sh   # and a column for an older build
#
# Prints one row per block count: the KiB added per allocator and numa-alloc's excess over
# glibc's; divide by THREADS for a thread's cost (docs/benchmarks.md, session 36).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
runs=${RUNS:-5}
threads=${THREADS:-2000}
lib=${LIB:-$build/libnumapreload.so}
prog=$build/bench/many_threads
for f in "$lib" "$prog"; do
    [[ -e $f ]] || { echo "threads_footprint: $f missing: build $build first" >&2; exit 2; }
done

commands=("$prog $threads 1" "$prog $threads 8" "$prog $threads 8 after")
peers=(jemalloc:libjemalloc.so.2 mimalloc:libmimalloc.so.2 tcmalloc:libtcmalloc_minimal.so.4)

added() { # preload(or empty) command... -> median KiB added
    local preload=$1
    shift
    for ((r = 0; r < runs; r++)); do
        LD_PRELOAD=$preload "$@" | awk '{print $6}'
    done | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}

echo "KiB resident added by $threads threads (median of $runs)"
# shellcheck source=bench/peer_table.sh
source "$root/bench/peer_table.sh"
peer_table 40 added
