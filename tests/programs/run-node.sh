#!/usr/bin/env bash
# run-node.sh <libnumapreload.so> - Node.js (Debian's nodejs) with 4 worker
# threads and the main thread, each through Buffers, zlib, OpenSSL, libuv's
# file requests and V8's own heap (node_work.js). V8 runs its threads (the
# workers, the platform's pool, the garbage collector's) beside the program's:
# the results must be the same with and without LD_PRELOAD.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
na_setup node "$@"
NODE=$(command -v node || command -v nodejs || true)
[[ -n $NODE ]] || na_fail "'node' is not installed (run tools/install-deps.sh; see tools/packages.txt)"

workload() {
    na_prog_watched "$NODE" "$NA_DIR/node_work.js" "$PWD"
}

na_run_both workload
na_compare
[[ $(grep -c '^thread ' "$NA_WORK/preload/stdout") == 5 ]] || na_fail "not every thread printed its result"
na_prove_loaded
na_pass
