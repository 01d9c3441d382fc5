#!/usr/bin/env bash
# bench/large_seeds.sh [BUILD] - the `large` workload's shape over many seeds (bench/large_seeds):
# the mean peak RSS in KiB of SEEDS runs (default 16), without and with numa_bench's stdio
# preamble, under glibc, jemalloc, mimalloc, tcmalloc, $OLD when set and numa-alloc. One seed
# says where its blocks fell; the mean says what the layout costs (docs/benchmarks.md, session 37).
#
#   bench/large_seeds.sh                                      # BUILD=build, SEEDS=16
#   OLD=/tmp/old/libnumapreload.so bench/large_seeds.sh       # and a column for an older build
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
seeds=${SEEDS:-16}
lib=${LIB:-$build/libnumapreload.so}
prog=$build/bench/large_seeds
for f in "$lib" "$prog"; do
    [[ -e $f ]] || { echo "large_seeds: $f missing: build $build first" >&2; exit 2; }
done

commands=("$prog 0" "$prog 1")
peers=(jemalloc:libjemalloc.so.2 mimalloc:libmimalloc.so.2 tcmalloc:libtcmalloc_minimal.so.4)

mean_peak() { # preload(or empty) command... -> mean peak KiB over the seeds
    local preload=$1
    shift
    for ((seed = 1; seed <= seeds; seed++)); do
        LD_PRELOAD=$preload "$@" "$seed"
    done | awk '{sum += $1} END {printf "%d\n", sum / NR}'
}

echo "Peak RSS in KiB, the mean of $seeds seeds (PREAMBLE 0: none, 1: numa_bench's stdio)"
# shellcheck source=bench/peer_table.sh
source "$root/bench/peer_table.sh"
peer_table 40 mean_peak
