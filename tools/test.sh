#!/usr/bin/env bash
# Runs every numa-alloc check, in order:
#   1. tools/install-deps.sh                              (a quick no-op when all is installed)
#   2. cmake -S . -B build -DCMAKE_BUILD_TYPE=Release     (configure)
#   3. cmake --build build -j 2                           (build library, tests, benchmarks)
#   4. ctest --test-dir build --output-on-failure [ARGS]  (all tests; ARGS go to ctest, e.g. -L unit)
#   5. the debug build: cmake -B build-debug -DNUMA_ALLOC_DEBUG=ON -DNUMA_ALLOC_SANITIZE=undefined
#      (assertions, heap check, UBSan), built, then ctest -L unit and -L programs on it,
#      and the guest tests that rebuild the placement tables (4 nodes, tiers, cpuset changes)
#   6. tools/fuzz.sh 60                                   (libFuzzer, 60 s, on a debug build)
#   7. tools/lint.sh                                      (cppcheck + clang-format)
# Each step runs even when an earlier one (other than deps) failed, so one run
# reports everything. Exits non-zero when any step fails. Environment: JOBS (build
# jobs, default 2), BUILD_DIR (default build), DEBUG_BUILD_DIR (default build-debug),
# FUZZ_SECONDS (default 60; 0 skips the fuzzer, and the summary says SKIP).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1

jobs=${JOBS:-2}
build_dir=${BUILD_DIR:-build}
debug_dir=${DEBUG_BUILD_DIR:-build-debug}
fuzz_seconds=${FUZZ_SECONDS:-60}
ctest_args=("$@")

steps=()
results=()
durations=()
failed=0

record() { # name result
    steps+=("$1")
    results+=("$2")
    [[ $2 == FAIL ]] && failed=1
    return 0
}

banner() {
    printf '\n==== test.sh: %s ====\n' "$*"
}

run_step() { # name command...
    local name=$1 began=$SECONDS
    shift
    banner "$name: $*"
    if "$@"; then
        durations[${#steps[@]}]="$((SECONDS - began)) s"
        record "$name" PASS
    else
        echo "test.sh: step '$name' FAILED (exit $?)" >&2
        durations[${#steps[@]}]="$((SECONDS - began)) s"
        record "$name" FAIL
        return 1
    fi
}

summary() {
    banner "summary"
    local i
    for i in "${!steps[@]}"; do
        printf '  %-10s %-14s %s\n' "${results[$i]}" "${steps[$i]}" "${durations[$i]:-}"
    done
    if ((failed)); then
        echo "test.sh: FAILED"
    else
        echo "test.sh: all checks passed"
    fi
}

start=$SECONDS
deps_ok=0
if run_step deps "$root/tools/install-deps.sh"; then
    deps_ok=1
    if run_step configure cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release; then
        if run_step build cmake --build "$build_dir" -j "$jobs"; then
            # --no-tests=error: a run that finds no tests (none registered, or a -L/-R
            # filter that matches nothing) is a failure, not a silent pass.
            run_step tests ctest --test-dir "$build_dir" --output-on-failure --no-tests=error \
                "${ctest_args[@]}"
        else
            record tests SKIP
        fi
    else
        record build SKIP
        record tests SKIP
    fi
else
    record configure SKIP
    record build SKIP
    record tests SKIP
fi
# The debug build: every invariant asserted, UBSan fatal; the unit and program
# suites on it, and the three guest tests whose topologies and cpuset changes
# exercise the placement tables' assertions (policy/placement.c), which one node
# cannot (the other guest tests and the benchmarks test placement and speed,
# which the Release build covers).
if ((deps_ok)) &&
    run_step debug-configure cmake -S . -B "$debug_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DNUMA_ALLOC_DEBUG=ON -DNUMA_ALLOC_SANITIZE=undefined; then
    if run_step debug-build cmake --build "$debug_dir" -j "$jobs"; then
        run_step debug-unit ctest --test-dir "$debug_dir" --output-on-failure --no-tests=error \
            -j "$jobs" -L unit
        run_step debug-programs ctest --test-dir "$debug_dir" --output-on-failure \
            --no-tests=error -j "$jobs" -L programs
        run_step debug-guest ctest --test-dir "$debug_dir" --output-on-failure \
            --no-tests=error -j "$jobs" -L guest \
            -R '^(placement_four_nodes_distance|placement_tier_fallback|placement_cpuset_change)$'
    else
        record debug-unit SKIP
        record debug-programs SKIP
        record debug-guest SKIP
    fi
else
    ((deps_ok)) || record debug-configure SKIP
    record debug-build SKIP
    record debug-unit SKIP
    record debug-programs SKIP
    record debug-guest SKIP
fi
# The fuzzer builds its own copy of the allocator (clang, debug, UBSan).
if ((deps_ok)) && ((fuzz_seconds > 0)); then
    run_step fuzz "$root/tools/fuzz.sh" "$fuzz_seconds"
else
    record fuzz SKIP
fi
# Lint needs no build, only the tools: it runs even when configure, build or tests failed.
if ((deps_ok)); then
    run_step lint "$root/tools/lint.sh"
else
    record lint SKIP
fi

summary
echo "test.sh: took $((SECONDS - start)) s"
exit "$failed"
