#!/usr/bin/env bash
# bench/data_limit.sh [BUILD] - commit charge: the lowest `ulimit -d` (RLIMIT_DATA, KiB)
# under which each command still exits 0, for glibc, jemalloc, mimalloc, tcmalloc and
# numa-alloc (each by LD_PRELOAD), found by bisection to STEP KiB (default 16).
#
#   bench/data_limit.sh                        # BUILD=build
#   OLD=/tmp/old/libnumapreload.so bench/data_limit.sh   # and a column for an older build
#
# RLIMIT_DATA counts private writable mappings (Linux 4.7 and later): what
# vm.overcommit_memory=2 charges against the commit limit, less the stack. So the
# number is the commit charge a command needs at its peak, the libraries' own
# writable segments included (numa-alloc's .bss, docs/architecture.md *Footprint*).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
lib=${LIB:-$build/libnumapreload.so}
step=${STEP:-16}
[[ -e $lib ]] || { echo "data_limit: $lib missing: build $build first" >&2; exit 2; }

commands=("true" "python3 -c pass" "sh -c :" "git --version" "sqlite3 :memory: .q"
          "python3 -c x=[str(i)for(i)in(range(200000))]")
peers=(jemalloc:libjemalloc.so.2 mimalloc:libmimalloc.so.2 tcmalloc:libtcmalloc_minimal.so.4)

passes() { # kib preload command... -> exit status of the command under the limit
    local kib=$1 preload=$2
    shift 2
    (ulimit -d "$kib" && LD_PRELOAD=$preload exec "$@") >/dev/null 2>&1 </dev/null
}

lowest() { # preload command... -> the lowest passing limit in KiB ("-" if none below 1 GiB)
    local lo=0 hi=1048576 mid
    passes "$hi" "$@" || { echo -; return; }
    while ((hi - lo > step)); do
        mid=$(((lo + hi) / 2))
        if passes "$mid" "$@"; then hi=$mid; else lo=$mid; fi
    done
    echo "$hi"
}

# shellcheck source=bench/peer_table.sh
source "$root/bench/peer_table.sh"
peer_table 44 lowest
