#!/usr/bin/env bash
# run-stress-ng.sh <libnumapreload.so> - stress-ng's malloc stressor with
# --verify (it checks the contents of its allocations): 2 worker processes
# with 2 threads each, malloc/calloc/realloc/posix_memalign/aligned_alloc/
# memalign/free, a fixed number of operations. Both runs must complete all
# operations without a failure, and report the same results.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
na_setup stress-ng "$@"
na_need stress-ng

workload() {
    # --malloc-ops: total bogo operations (~5 s); --malloc-touch: touch every
    # page; --timeout only against a hang: both runs must do all operations.
    na_prog_watched stress-ng --malloc 2 --malloc-pthreads 2 --malloc-ops 100000 \
        --malloc-touch --verify --timeout 150s --metrics-brief --yaml stress.yaml \
        >log.txt 2>&1 || {
        cat log.txt >&2
        return 1
    }
    cat log.txt >&2
    # The results: operations done, and that the run completed without failures.
    grep -E 'successful run completed' log.txt | sed -E 's/.*(successful run completed).*/\1/'
    grep -E '^ *- stressor: malloc' -A3 stress.yaml | grep -E 'stressor|bogo-ops:' | sed 's/^ *//'
    if grep -Ei 'fail|error|corrupt' log.txt; then
        echo "stress-ng reported a failure" >&2
        return 1
    fi
}

na_run_both workload
na_compare
na_prove_loaded
na_pass
