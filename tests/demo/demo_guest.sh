#!/usr/bin/env bash
# demo_guest.sh DEMO CASE... - numa_alloc_demo on a multi-node guest (tests/guest/guest-run).
# Runs in the guest; several cases per boot. Exit 0 when every check holds.
#
#   local       2node: --policy=local, 2 threads (one per node): exit 0, stdout equals what
#               demo_oracle.py computes (each thread's bytes on its node, 100% local)
#   interleave  2node: --policy=interleave: each node holds 35-65% of the bytes, exit 0
#   bind        2node: --policy=bind --node=1: every byte on node 1, exit 0, stdout equals
#               the oracle's (thread 0's bytes, on node 0's CPU, are node 1's remote share)
#   misplace    2node: pages moved by `migratepages PID 0 1` while the demo waits
#               (--pause-before-verify): exit 3 and "ERROR: N pages misplaced"
#   exhaust     smallnode: --policy=bind --node=1 --total=400M, NUMA_ALLOC_FALLBACK=none:
#               node 1 (192 MiB) runs out, malloc returns NULL, the demo exits 2
set -u
demo=$1
shift
oracle=$(dirname "${BASH_SOURCE[0]}")/demo_oracle.py
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/../check.sh"
run() {
    "$demo" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    echo "\$ numa_alloc_demo $*"
    cat "$tmp/out" "$tmp/err"
    echo "exit $rc"
}
# same_as_oracle FLAGS...: the last run's stdout is what demo_oracle.py computes for FLAGS
# (README.md); the oracle reads the guest's topology from sysfs as the demo does.
# shellcheck disable=SC2317 # called through check
same_as_oracle() {
    python3 "$oracle" "$@" >"$tmp/expect" && diff -u "$tmp/expect" "$tmp/out"
}
# Fills pct[N] ("% local") and bytes[N] from the output.
parse() {
    pct=() bytes=() total=0
    local line
    while IFS= read -r line; do
        if [[ $line =~ ^Node\ ([0-9]+):\ [0-9]+\.[0-9]\ GB\ allocated,\ ([0-9]+)\.([0-9])%\ local$ ]]; then
            pct[BASH_REMATCH[1]]=$((BASH_REMATCH[2] * 10 + BASH_REMATCH[3])) # tenths
        elif [[ $line =~ ^node\ ([0-9]+):\ bytes\ ([0-9]+), ]]; then
            bytes[BASH_REMATCH[1]]=${BASH_REMATCH[2]}
            total=$((total + BASH_REMATCH[2]))
        fi
    done <"$tmp/out"
}

for case in "$@"; do
    echo "=== $case"
    case $case in
    local)
        run --threads=2 --policy=local --seed=42 --total=24M --verbose
        parse
        check "exit 0" test "$rc" -eq 0
        check "two Node lines" test "${#pct[@]}" -eq 2
        check "node 0 >= 99% local" test "${pct[0]:-0}" -ge 990
        check "node 1 >= 99% local" test "${pct[1]:-0}" -ge 990
        check "both nodes hold bytes" test "${bytes[0]:-0}" -gt 0 -a "${bytes[1]:-0}" -gt 0
        check "Remote allocations: 0.x%" grep -q '^Remote allocations: 0\.[0-9]%$' "$tmp/out"
        check "stdout equals the oracle's" \
            same_as_oracle --threads=2 --policy=local --seed=42 --total=24M --verbose
        ;;
    interleave)
        run --threads=2 --policy=interleave --seed=42 --total=24M --verbose
        parse
        check "exit 0" test "$rc" -eq 0
        for node in 0 1; do
            share=$((${bytes[$node]:-0} * 100 / (total > 0 ? total : 1)))
            check "node $node holds $share% of the bytes (35-65%)" \
                test "$share" -ge 35 -a "$share" -le 65
        done
        ;;
    bind)
        run --threads=2 --policy=bind --node=1 --seed=42 --total=8M --verbose
        parse
        check "exit 0" test "$rc" -eq 0
        check "node 0 holds no byte" test "${bytes[0]:-1}" -eq 0
        check "node 1 holds every byte" test "${bytes[1]:-0}" -gt 0
        check "stdout equals the oracle's" \
            same_as_oracle --threads=2 --policy=bind --node=1 --seed=42 --total=8M --verbose
        ;;
    misplace)
        "$demo" --threads=2 --policy=local --seed=42 --total=8M --pause-before-verify \
            >"$tmp/out" 2>"$tmp/err" &
        pid=$!
        for _ in $(seq 300); do
            [[ $(<"$tmp/err") == *"paused before verification"* ]] && break
            sleep 0.1
        done
        check "the demo paused" grep -q 'paused before verification' "$tmp/err"
        migratepages "$pid" 0 1
        check "migratepages $pid 0 1" test $? -eq 0
        kill -USR1 "$pid"
        wait "$pid"
        rc=$?
        cat "$tmp/out" "$tmp/err"
        echo "exit $rc"
        check "exit 3" test "$rc" -eq 3
        check "ERROR: N pages misplaced" grep -q '^ERROR: [1-9][0-9]* pages misplaced' "$tmp/err"
        ;;
    exhaust)
        NUMA_ALLOC_FALLBACK=none run --threads=2 --policy=bind --node=1 --seed=42 --total=400M
        check "exit 2" test "$rc" -eq 2
        check "ERROR: allocation failed ... got NULL" \
            grep -q '^ERROR: allocation failed: thread [0-9]* (node [0-9]*) got NULL' "$tmp/err"
        ;;
    *)
        echo "unknown case $case"
        fail=1
        ;;
    esac
done
exit $fail
