#!/usr/bin/env bash
# Builds and runs the libFuzzer target tests/fuzz/fuzz_malloc.c (docs/testing.md).
#   tools/fuzz.sh [SECONDS] [extra libFuzzer flags...]
# SECONDS: how long to fuzz (default 60). Builds with clang-14 in $FUZZ_BUILD_DIR
# (default build-fuzz), fuzzes a scratch copy of tests/fuzz/corpus (the checked-in
# seeds stay as they are; set FUZZ_CORPUS_DIR to keep a growing corpus of your
# own), first replays tests/fuzz/crashes-found, and writes any crash input to
# $FUZZ_ARTIFACTS (default $FUZZ_BUILD_DIR/artifacts). Exits non-zero on a crash.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

seconds=${1:-60}
shift || true
build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
artifacts=${FUZZ_ARTIFACTS:-$build_dir/artifacts}
cc=${FUZZ_CC:-$(command -v clang-14 || command -v clang || true)}
if [[ -z $cc ]]; then
    echo "fuzz.sh: clang not found (tools/packages.txt: clang-14, libclang-rt-14-dev)" >&2
    exit 1
fi

cmake -S tests/fuzz -B "$build_dir" -DCMAKE_C_COMPILER="$cc" >/dev/null
cmake --build "$build_dir" -j "${JOBS:-2}" --target fuzz_malloc

corpus=${FUZZ_CORPUS_DIR:-}
scratch=
if [[ -z $corpus ]]; then
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/numa-alloc-fuzz.XXXXXX")
    trap 'rm -rf "$scratch"' EXIT
    corpus=$scratch
fi
mkdir -p "$corpus" "$artifacts"
cp tests/fuzz/corpus/* "$corpus"/

# The inputs found before must pass on this build (their bugs are fixed).
for input in tests/fuzz/crashes-found/finding-*; do
    if ! "$build_dir/fuzz_malloc" "$input" >/dev/null 2>&1; then
        echo "fuzz.sh: $input fails again:" >&2
        "$build_dir/fuzz_malloc" "$input" >&2 || true
        exit 1
    fi
done

# -rss_limit_mb: the model caps live memory near 256 MiB; twice that plus the
# allocator's retained memory stays far below 1 GiB (the runs peak at 40 to 110 MiB),
# so more is memory the allocator made resident on its own (docs/testing.md). -max_len: programs of up to
# a few hundred operations (the seeds alone would keep inputs under 100 bytes).
#
# A sixth of the time with the default options, a third with every segment advised
# for transparent huge pages (NUMA_ALLOC_HUGEPAGES=thp: the 2 MiB purge path of
# core/hugepages.c, which the default reaches only past 64 MiB of a heap), a
# sixth under `ulimit -v 3000000` (the slots reserved as the heaps grow, and
# refused at the limit: core/segment.c, map_more), a
# sixth under NUMA_ALLOC_POLICY=interleave (objects in turn over the heaps, huge
# objects spread page by page: their resize and free in core/huge.c; a timeout
# there found every resize of a spread object moving it), a sixth with the
# allocation-site profile at a tiny rate (NUMA_ALLOC_PROF: nearly
# every block sampled, so small blocks promoted to page runs, their realloc and
# free, and the profile's tables; the profile is written to the artifacts).
fuzz_run() { # LABEL SECONDS CORPUS [ENV=VALUE...]
    local label=$1 time=$2 dir=$3 log=$artifacts/fuzz-$1.log status
    shift 3
    echo "fuzz.sh: $label: ${time} s${*:+ with $*}"
    set +e
    env "$@" "$build_dir/fuzz_malloc" -max_total_time="$time" -rss_limit_mb=1024 -timeout=30 \
        -max_len=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" "${flags[@]}" \
        "$dir" >"$log" 2>&1
    status=$?
    set -e
    # The progress lines (one per new input) say little in a CI log; the rest is kept.
    grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)' "$log" || true
    if ((status != 0)); then
        echo "fuzz.sh: $label FAILED (exit $status); the input is in $artifacts/ (crash-*, oom-*, timeout-*)" >&2
    fi
    return "$status"
}
flags=("$@")
thp_seconds=$((seconds / 3))
interleave_seconds=$((seconds / 6))
prof_seconds=$((seconds / 6))
limited_seconds=$((seconds / 6))
fuzz_run default $((seconds - thp_seconds - interleave_seconds - prof_seconds - limited_seconds)) \
    "$corpus" || exit
if ((limited_seconds > 0)); then
    # Under an address-space limit the slots are reserved as the heaps grow (map_more) and
    # a refusal there is the heap running out: the model's big requests meet it.
    (ulimit -v 3000000 && fuzz_run limited "$limited_seconds" "$corpus") || exit
fi
if ((thp_seconds > 0)); then
    fuzz_run hugepages-thp "$thp_seconds" "$corpus" NUMA_ALLOC_HUGEPAGES=thp || exit
fi
if ((interleave_seconds > 0)); then
    fuzz_run interleave "$interleave_seconds" "$corpus" NUMA_ALLOC_POLICY=interleave || exit
fi
# The profile run starts from the seeds alone unless a corpus is kept (FUZZ_CORPUS_DIR):
# libFuzzer first runs every input of its corpus, whatever -max_total_time says, and
# the one the runs before grew (500-700 inputs, most blocks sampled and made page runs)
# took 40 to 100 s of a 10 s run.
prof_corpus=$corpus
if [[ -n $scratch ]]; then
    prof_corpus=$scratch/profile
    mkdir -p "$prof_corpus"
    cp tests/fuzz/corpus/* "$prof_corpus"/
fi
if ((prof_seconds > 0)); then
    fuzz_run profile "$prof_seconds" "$prof_corpus" NUMA_ALLOC_PROF="$artifacts/fuzz.prof" \
        NUMA_ALLOC_PROF_RATE=256 || exit
fi
