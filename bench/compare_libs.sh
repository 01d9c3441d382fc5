#!/usr/bin/env bash
# bench/compare_libs.sh REPS "WORKLOAD ..." NAME=LIB [NAME=LIB ...] - several builds of the
# library (a prototype, a constant changed) on a few of numa_bench's workloads, side by side:
# each run is `LD_PRELOAD=LIB numa_bench --run=WORKLOAD`, interleaved (rep by rep, workload by
# workload, library by library) so that a noisy minute hits every library alike.
#
#   bench/compare_libs.sh 5 "bulk-free-1t numa-shaped-2t" \
#       main=build/libnumapreload.so proto=/tmp/proto/build/libnumapreload.so
#
# Prints one row per workload and library: the median ns/op with its range, the median peak
# RSS (ru_maxrss, KiB) with its range, and the median's ratio to the first library's. A run
# that prints no RESULT line stops the script (a crash is not a data point). numa_bench --all
# compares numa-alloc with glibc, jemalloc, mimalloc and tcmalloc (and one --before library);
# this is for the numa-alloc libraries of one experiment (docs/benchmarks.md, round
# twenty-one). BUILD (default build) is where bench/numa_bench is.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench=${BUILD:-$root/build}/bench/numa_bench
if (($# < 3)) || ! [[ $1 =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: bench/compare_libs.sh REPS \"WORKLOAD ...\" NAME=LIB [NAME=LIB ...]" >&2
    exit 2
fi
reps=$1
read -r -a workloads <<<"$2"
shift 2
[[ -x $bench ]] || { echo "compare_libs: $bench missing: build first" >&2; exit 2; }
names=() libs=()
for pair in "$@"; do
    [[ $pair == *=* ]] || { echo "compare_libs: $pair: expected NAME=LIB" >&2; exit 2; }
    lib=${pair#*=}
    [[ -e $lib ]] || { echo "compare_libs: $lib: no such library" >&2; exit 2; }
    names+=("${pair%%=*}")
    libs+=("$(readlink -f "$lib")")
done

raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
for ((r = 0; r < reps; r++)); do
    for w in "${workloads[@]}"; do
        for i in "${!libs[@]}"; do
            line=$(LD_PRELOAD=${libs[i]} "$bench" --run="$w" 2>&1 | grep '^RESULT ' || true)
            if [[ -z $line || $line != *"malloc_from=${libs[i]}"* ]]; then
                echo "compare_libs: $w under ${libs[i]}: no result with the library in place" >&2
                exit 1
            fi
            ns=${line#*ns_per_op=} rss=${line#*maxrss_kib=}
            echo "$w ${names[i]} ${ns%% *} ${rss%% *}" >>"$raw"
        done
    done
done

python3 - "$raw" "${names[@]}" <<'EOF'
import statistics, sys
raw, names = sys.argv[1], sys.argv[2:]
runs = {}
for line in open(raw):
    w, n, ns, rss = line.split()
    runs.setdefault(w, {}).setdefault(n, []).append((float(ns), int(rss)))
print(f"{'workload':20} {'library':12} {'ns/op':>9} {'range':>17} {'RSS KiB':>8} {'range':>15} {'ratio':>6}")
for w, by_name in runs.items():
    base = statistics.median(t for t, _ in by_name[names[0]])
    for n in names:
        t = [x for x, _ in by_name[n]]
        r = [y for _, y in by_name[n]]
        med = statistics.median(t)
        print(f"{w:20} {n:12} {med:9.2f} {min(t):8.2f}-{max(t):<8.2f} "
              f"{statistics.median(r):8.0f} {min(r):7d}-{max(r):<7d} {med / base:6.2f}")
EOF
