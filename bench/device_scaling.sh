#!/usr/bin/env bash
# bench/device_scaling.sh prepare|run - issue 17's thread scaling (4, 8 and 16 threads) on
# the 16-core device machine, as one prepared command that fits its lease (15 minutes of
# device time in all, the machine's start included; 10 minutes a command).
#
#   bench/device_scaling.sh prepare      # here, after a Release build in build/
#   device run: command "bench/device_scaling.sh run", carry ["build/device"], timeout_s 560
#
# prepare copies what the run needs into build/device (ignored by git, carried to the
# device; DEVICE_DIR puts it elsewhere, BUILD names the build to take from): numa_bench, the
# library, the peers from this machine's Debian packages (libjemalloc.so.2,
# libmimalloc.so.2, libtcmalloc_minimal.so.4: the device has no Debian packages;
# numa_bench's children check that malloc resolves to each of them) and, in
# build/device/fallback, the C++ runtime two of the peers link, used only where the
# device lacks one (ldd finds it missing). run executes, for each T of THREADS (default
# "16 8 4", the most wanted first),
#
#   numa_bench --all --reps=REPS --threads=T --lib=... --workloads=<the multi-thread ones>
#
# under `timeout` (PER_T_SECONDS, default 165), and writes tT.md (the tables) and tT.tsv
# (the medians) into $OUT (default build/device/out), with machine.txt (nproc, lscpu, the
# kernel, the libraries' identities). A T cut by its timeout leaves a tT.log and no
# tables; the others still run. REPS defaults to 3, WORKLOADS to the ten workloads that
# take a thread count (T replacing the N of their -Nt names). Exit 0 when every T wrote
# its tables, 1 otherwise, 2 on bad use.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dev=${DEVICE_DIR:-$root/build/device}
peers=(libjemalloc.so.2 libmimalloc.so.2 libtcmalloc_minimal.so.4)
default_workloads="small-churn-Nt producer-consumer larson-Nt cache-scratch-Nt short-threads \
numa-shaped-Nt ring-Nt larson-server-Nt shared-pool-Nt false-sharing-Nt"

prepare() {
    local build=${BUILD:-$root/build} arch=/usr/lib/x86_64-linux-gnu
    [[ -x $build/bench/numa_bench && -e $build/libnumapreload.so ]] ||
        { echo "device_scaling: $build has no numa_bench or library: build first" >&2; exit 2; }
    rm -rf "$dev"
    mkdir -p "$dev/peers" "$dev/fallback"
    cp "$build/bench/numa_bench" "$dev/"
    cp -L "$build/libnumapreload.so" "$dev/libnumapreload.so"
    for p in "${peers[@]}"; do
        [[ -e $arch/$p ]] || { echo "device_scaling: $arch/$p missing (tools/install-deps.sh)" >&2; exit 2; }
        cp -L "$arch/$p" "$dev/peers/$p"
    done
    cp -L "$arch/libstdc++.so.6" "$arch/libgcc_s.so.1" "$dev/fallback/"
    (cd "$root" && git rev-parse HEAD 2>/dev/null || echo unknown) >"$dev/commit"
    du -sh "$dev"
}

run() {
    local out=${OUT:-$dev/out} reps=${REPS:-3} limit=${PER_T_SECONDS:-165}
    local threads=${THREADS:-16 8 4} workloads=${WORKLOADS:-$default_workloads}
    [[ -x $dev/numa_bench ]] || { echo "device_scaling: $dev/numa_bench missing: prepare first" >&2; exit 2; }
    [[ $reps =~ ^[1-9][0-9]*$ && $limit =~ ^[1-9][0-9]*$ ]] ||
        { echo "device_scaling: REPS and PER_T_SECONDS must be positive integers" >&2; exit 2; }
    mkdir -p "$out"
    # The peers' C++ runtime: the device's own where it has one, else the copy.
    if ldd "$dev"/peers/* | grep -q 'not found'; then
        export LD_LIBRARY_PATH=$dev/fallback${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    fi
    {
        echo "commit $(cat "$dev/commit")"
        echo "nproc $(nproc)"
        uname -a
        lscpu 2>/dev/null | grep -E '^(Model name|CPU\(s\)|Thread|Core|Socket|NUMA)' || true
        sha256sum "$dev/libnumapreload.so" "$dev"/peers/*
        echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
    } >"$out/machine.txt"
    local status=0 t list names
    for t in $threads; do
        [[ $t =~ ^[1-9][0-9]*$ ]] || { echo "device_scaling: bad thread count $t" >&2; exit 2; }
        read -r -d "" -a names <<<"${workloads//-Nt/-${t}t}" || true # every line
        list=$(IFS=,; echo "${names[*]}")
        echo "== $t threads: $list (limit ${limit}s)"
        if NUMA_BENCH_PEER_DIR=$dev/peers timeout "$limit" "$dev/numa_bench" --all --reps="$reps" \
            --threads="$t" --lib="$dev/libnumapreload.so" --workloads="$list" \
            --out="$out/t$t.md" --data="$out/t$t.tsv" >"$out/t$t.log" 2>&1; then
            rm -f "$out/t$t.log"
            grep -h '^Geometric mean of the time' "$out/t$t.md" || true
        else
            echo "device_scaling: $t threads did not finish (see t$t.log)" >&2
            rm -f "$out/t$t.md" "$out/t$t.tsv"
            status=1
        fi
    done
    return $status
}

case ${1:-} in
prepare) prepare ;;
run) run ;;
*)
    echo "usage: bench/device_scaling.sh prepare|run" >&2
    exit 2
    ;;
esac
