#!/usr/bin/env bash
# bench/hugepages.sh [BUILD] - the TLB-bound walk (bench/tlb_chase.c) under each allocator, with
# and without huge pages: glibc, jemalloc (default and MALLOC_CONF=thp:always), mimalloc (default
# and MIMALLOC_LARGE_OS_PAGES=1, which Debian's 2.0.9 reads; MIMALLOC_ALLOW_LARGE_OS_PAGES=1 is
# set too, for later versions), numa-alloc (NUMA_ALLOC_HUGEPAGES=never, thp and auto; with
# HUGETLB=SIZE also NUMA_ALLOC_HUGETLB=SIZE, hugetlbfs pages, from a pool the caller set aside:
# vm.nr_hugepages of SIZE / 2 MiB at least, the walk's heap being some 1.2 times BYTES).
#
#   bench/hugepages.sh                          # BUILD=build, REPS=3, BYTES=1g, BLOCK=64
#   REPS=2 BYTES=1g HOPS=16m bench/hugepages.sh build   # HOPS: default 4 per block
#   echo 640 >/proc/sys/vm/nr_hugepages; HUGETLB=1280m bench/hugepages.sh   # root for the pool
#
# peak RSS leaves hugetlbfs pages out (the kernel counts them apart: HugePages_* in meminfo).
#
# Runs are interleaved (rep 1 of every allocator, then rep 2, ...); prints a markdown table of the
# median ns per hop, its ratio to glibc's, the median peak RSS (VmHWM) and AnonHugePages (from
# /proc/self/smaps_rollup at the end of the walk).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
reps=${REPS:-3} bytes=${BYTES:-1g} block=${BLOCK:-64} hops=${HOPS:-0}
chase=$build/bench/tlb_chase lib=$build/libnumapreload.so
peers=${NUMA_BENCH_PEER_DIR:-/usr/lib/x86_64-linux-gnu}
for f in "$chase" "$lib"; do
    [[ -e $f ]] || { echo "hugepages: $f missing: build $build first" >&2; exit 2; }
done
jemalloc=$peers/libjemalloc.so.2 mimalloc=$peers/libmimalloc.so.2

# name|preload|environment (space-separated assignments)
configs=("glibc||")
[[ -e $jemalloc ]] && configs+=("jemalloc|$jemalloc|" "jemalloc thp:always|$jemalloc|MALLOC_CONF=thp:always")
[[ -e $mimalloc ]] && configs+=("mimalloc|$mimalloc|"
    "mimalloc large pages|$mimalloc|MIMALLOC_LARGE_OS_PAGES=1 MIMALLOC_ALLOW_LARGE_OS_PAGES=1")
configs+=("numa-alloc never|$lib|NUMA_ALLOC_HUGEPAGES=never" "numa-alloc thp|$lib|NUMA_ALLOC_HUGEPAGES=thp"
    "numa-alloc auto|$lib|NUMA_ALLOC_HUGEPAGES=auto")
[[ -n ${HUGETLB:-} ]] && configs+=("numa-alloc hugetlb $HUGETLB|$lib|NUMA_ALLOC_HUGETLB=$HUGETLB")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for ((rep = 1; rep <= reps; rep++)); do
    for i in "${!configs[@]}"; do
        IFS='|' read -r name preload envs <<<"${configs[$i]}"
        # shellcheck disable=SC2086 # envs is a list of assignments
        line=$(env ${preload:+LD_PRELOAD=$preload} $envs "$chase" --bytes="$bytes" --block="$block" \
            --hops="$hops" --seed="$rep")
        echo "rep $rep $name: $line" >&2
        echo "$line" >>"$tmp/$i"
    done
done

median() { sort -g | awk '{v[NR] = $1} END {print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
least() { sort -g | head -1; }
field() { sed -n "s/.*$1=\\([0-9.]*\\).*/\\1/p" "$2" | "${3:-median}"; }
base=$(field ns_per_hop "$tmp/0")
best_base=$(field ns_per_hop "$tmp/0" least)
# The best rep too: on a loaded machine the fastest run is the least disturbed one.
echo "| allocator | ns/hop (median) | vs glibc | ns/hop (best) | vs glibc | peak RSS MiB | AnonHugePages MiB |"
echo "|---|---|---|---|---|---|---|"
for i in "${!configs[@]}"; do
    IFS='|' read -r name _ _ <<<"${configs[$i]}"
    ns=$(field ns_per_hop "$tmp/$i")
    best=$(field ns_per_hop "$tmp/$i" least)
    awk -v n="$name" -v ns="$ns" -v b="$base" -v best="$best" -v bb="$best_base" \
        -v rss="$(field rss_peak_kib "$tmp/$i")" -v huge="$(field anon_huge_kib "$tmp/$i")" \
        'BEGIN {printf "| %s | %.1f | %.2f | %.1f | %.2f | %.0f | %.0f |\n", n, ns, ns / b, best, best / bb, rss / 1024, huge / 1024}'
done
