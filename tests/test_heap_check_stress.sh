#!/usr/bin/env bash
# test_heap_check_stress.sh LIBRARY CHECKER NUMA_BENCH - the multi-thread workloads of
# numa_bench at 4 threads on a debug build of the library, with CHECKER
# (heap_check_stress.c) preloaded after it: the whole-heap check every 2 ms
# while the threads allocate and free each other's blocks. A violated
# invariant aborts the run. Round ten's refill bug (an empty slab left on a
# partial list when blocks were handed back during a refill) aborted 5 of 15
# such runs; no other test had seen it (docs/testing.md).
set -u
lib=${1:?usage: test_heap_check_stress.sh LIBRARY CHECKER NUMA_BENCH}
checker=${2:?}
bench=${3:?}
runs=${STRESS_RUNS:-2}
fail=0
for workload in larson-2t larson-server-2t shared-pool-2t producer-consumer; do
    for ((run = 1; run <= runs; run++)); do
        out=$(LD_PRELOAD="$lib:$checker" "$bench" --run="$workload" --threads=4 2>&1)
        status=$?
        if ((status != 0)); then
            echo "FAIL: $workload at 4 threads, run $run, under the heap check: status $status" >&2
            printf '%s\n' "$out" | tail -5 >&2
            fail=1
        else
            echo "$workload at 4 threads, run $run: passed under the heap check"
        fi
    done
done
exit $fail
