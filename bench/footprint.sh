#!/usr/bin/env bash
# bench/footprint.sh [BUILD] - start-up footprint: the peak RSS (ru_maxrss through wait4,
# bench/startup_run) of small commands under glibc, jemalloc, mimalloc, tcmalloc and
# numa-alloc (each by LD_PRELOAD in the child only), the median of RUNS runs.
#
#   bench/footprint.sh                 # BUILD=build, RUNS=5
#   RUNS=11 LIB=/tmp/old.so bench/footprint.sh build   # another libnumapreload.so
#   OLD=/tmp/old/libnumapreload.so bench/footprint.sh   # and a column for an older build
#   EXACT=1 bench/footprint.sh         # VmHWM at exit instead of ru_maxrss (startup_run --exact)
#   PEAK=1 bench/footprint.sh          # the peak counted page by page (startup_run --peak)
#
# Prints one row per command: the median peak RSS in KiB per allocator, and numa-alloc's
# excess over glibc in KiB. A peer whose library is missing prints "-". File-backed pages
# (libraries' text) count in RSS and the kernel maps them 64 KiB at a time around each
# fault, so a row moves by some 10-100 KiB from run to run with the page cache; the
# library's own dirty pages (tests/test_footprint.sh) do not. ru_maxrss also moves in steps
# of 128 KiB (the kernel's per-CPU RSS batches); EXACT=1 reads VmHWM from /proc instead,
# for the process started only (after its execs: the interpreter behind a shim), which is
# exact at exit but records the peaks only when a mapping goes; PEAK=1 reads the page
# tables' count (smaps_rollup) at every call that can lower it, and takes the largest.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
runs=${RUNS:-5}
lib=${LIB:-$build/libnumapreload.so}
run=$build/bench/startup_run
for f in "$lib" "$run"; do
    [[ -e $f ]] || { echo "footprint: $f missing: build $build first" >&2; exit 2; }
done

commands=("true" "python3 -c pass" "sh -c :" "git --version" "sqlite3 :memory: .q")
peers=(jemalloc:libjemalloc.so.2 mimalloc:libmimalloc.so.2 tcmalloc:libtcmalloc_minimal.so.4)

rss() { # preload(or empty) command... -> median peak RSS in KiB
    local preload=$1
    shift
    local args=("$runs")
    [[ -n $preload ]] && args+=("--preload=$preload")
    if [[ -n ${PEAK:-} ]]; then
        args+=(--peak)
    elif [[ -n ${EXACT:-} ]]; then
        args+=(--exact)
    fi
    "$run" "${args[@]}" -- "$@" 2>/dev/null | awk '{print $2}'
}

# shellcheck source=bench/peer_table.sh
source "$root/bench/peer_table.sh"
peer_table 22 rss
