#!/usr/bin/env bash
# test_device_scaling.sh BUILD_DIR - bench/device_scaling.sh, the device machine's prepared
# command (docs/benchmarks.md, round twenty-two), run here on two workloads at 2 threads so
# that it cannot rot between the sessions that are lent the machine: prepare copies a
# runnable set, run writes the tables of every thread count, a thread count cut by its time
# limit leaves its log and fails the run, and bad use exits 2.
set -euo pipefail
build=$(cd "${1:?usage: test_device_scaling.sh BUILD_DIR}" && pwd)
script=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/bench/device_scaling.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export DEVICE_DIR=$work/device BUILD=$build
fail() { echo "FAIL: $*" >&2; exit 1; }

"$script" prepare >/dev/null
for f in numa_bench libnumapreload.so peers/libjemalloc.so.2 peers/libmimalloc.so.2 \
    peers/libtcmalloc_minimal.so.4 fallback/libstdc++.so.6 commit; do
    [[ -s $DEVICE_DIR/$f ]] || fail "prepare did not copy $f"
done

OUT=$work/out THREADS=2 REPS=1 WORKLOADS="small-churn-Nt short-threads" "$script" run >"$work/run.log" ||
    fail "run: exit $? ($(cat "$work/run.log"))"
grep -q '^| small-churn-2t |' "$work/out/t2.md" || fail "no small-churn-2t row in t2.md"
grep -q '^| short-threads |' "$work/out/t2.md" || fail "no short-threads row in t2.md"
grep -q 'small-churn-2t' "$work/out/t2.tsv" || fail "no small-churn-2t in t2.tsv"
grep -q '^nproc ' "$work/out/machine.txt" || fail "machine.txt without nproc"

rc=0
OUT=$work/cut THREADS=2 REPS=1 PER_T_SECONDS=1 "$script" run >/dev/null 2>&1 || rc=$?
[[ $rc == 1 ]] || fail "a thread count cut by its limit: exit $rc, expected 1"
[[ -s $work/cut/t2.log && ! -e $work/cut/t2.md ]] || fail "a cut thread count should leave t2.log only"

rc=0
THREADS=x "$script" run >/dev/null 2>&1 || rc=$?
[[ $rc == 2 ]] || fail "a bad thread count: exit $rc, expected 2"
rc=0
"$script" >/dev/null 2>&1 || rc=$?
[[ $rc == 2 ]] || fail "no verb: exit $rc, expected 2"
echo "device_scaling.sh: prepare, run, a cut thread count and bad use behave"
