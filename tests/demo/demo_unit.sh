#!/usr/bin/env bash
# demo_unit.sh DEMO CASE - checks of numa_alloc_demo on this (one-node) machine.
#
#   oracle [FLAGS...]         stdout of `DEMO --threads=2 --seed=42 --total=32M FLAGS...` (later
#                             flags win) equals what demo_oracle.py computes for the same flags
#                             from the documented request stream (README.md: why that is an
#                             oracle and a snapshot was not), exit 0
#   same-seed                 the same flags twice: identical stdout
#   seed-differs              seeds 42 and 7: different exact byte totals (--verbose)
#   bad-node                  --node=9: exit 1, stderr exactly "ERROR: node 9 not available"
#   bad-args                  bad flags: exit 1 and one "ERROR: ..." line naming the problem
#   alloc-failure             under `ulimit -v` the library's heap (1 GiB) runs out: exit 2
#   help                      --help: exit 0, usage on stdout, exit codes 3 and 4 documented
set -u
demo=$1 case=$2
shift 2
oracle=$(dirname "${BASH_SOURCE[0]}")/demo_oracle.py
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/../check.sh"
run() { # run demo with args; stdout -> $tmp/out, stderr -> $tmp/err, status -> $rc
    "$demo" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}
# shellcheck disable=SC2317 # called through check
differ() { ! cmp -s "$1" "$2"; }
show() {
    echo "--- stdout"; cat "$tmp/out"; echo "--- stderr"; cat "$tmp/err"; echo "--- exit $rc"
}
base=(--threads=2 --seed=42 --total=32M)

case $case in
oracle)
    # Only stdout is compared: it holds no timing and no pid (stderr's progress lines do).
    run "${base[@]}" "$@"
    show
    python3 "$oracle" "${base[@]}" "$@" >"$tmp/expect"
    orc=$?
    echo "--- the oracle's"; cat "$tmp/expect"
    check "the oracle computed an output" test "$orc" -eq 0 -a -s "$tmp/expect"
    check "exit 0" test "$rc" -eq 0
    check "stdout equals the oracle's" diff -u "$tmp/expect" "$tmp/out"
    ;;
same-seed)
    for policy in local interleave; do
        run "${base[@]}" --policy=$policy --verbose
        mv "$tmp/out" "$tmp/first"
        run "${base[@]}" --policy=$policy --verbose
        check "$policy: exit 0" test "$rc" -eq 0
        check "$policy: a report" grep -q '^total: bytes [1-9]' "$tmp/out"
        check "$policy: same seed, same output" diff -u "$tmp/first" "$tmp/out"
    done
    ;;
seed-differs)
    run "${base[@]}" --verbose
    grep '^total:' "$tmp/out" >"$tmp/a"
    run --threads=2 --seed=7 --total=32M --verbose
    grep '^total:' "$tmp/out" >"$tmp/b"
    cat "$tmp/a" "$tmp/b"
    check "both have a total line" test -s "$tmp/a" -a -s "$tmp/b"
    check "seeds 42 and 7 give different totals" differ "$tmp/a" "$tmp/b"
    ;;
bad-node)
    run --node=9
    show
    check "exit 1" test "$rc" -eq 1
    check "stderr is exactly 'ERROR: node 9 not available'" \
        test "$(cat "$tmp/err")" = "ERROR: node 9 not available"
    check "nothing on stdout" test ! -s "$tmp/out"
    run --node=9 --policy=bind
    check "bind: exit 1" test "$rc" -eq 1
    check "bind: same message" test "$(cat "$tmp/err")" = "ERROR: node 9 not available"
    ;;
bad-args)
    while IFS='|' read -r args expect; do
        # shellcheck disable=SC2086
        run $args
        check "$args: exit 1" test "$rc" -eq 1
        check "$args: stderr starts with 'ERROR: $expect'" \
            grep -qF "ERROR: $expect" "$tmp/err"
        check "$args: nothing on stdout" test ! -s "$tmp/out"
        [[ $rc -eq 1 ]] || show
    done <<'CASES'
--threads=0|--threads must be a number from 1 to 4096, not '0'
--threads=abc|--threads must be a number
--threads|--threads needs a value
--policy=bogus|invalid --policy=bogus (accepted: local, bind, preferred, interleave)
--bogus|unknown option '--bogus'
--seed=-1|--seed must be a non-negative integer
--total=12Q|--total must be a size
--total=0|--total must be a size
--node=x|--node must be a node number
--node=0 --policy=interleave|--node cannot be used with --policy=interleave
--verbose=1|--verbose takes no value
CASES
    ;;
alloc-failure)
    # The library reserves its heaps' address space at start: 1 TiB per node,
    # halved while that fails, down to 1 GiB. Under a 1.14 GiB address-space
    # limit it starts with a 1 GiB heap; 2 GiB cannot fit in it, so malloc
    # returns NULL (the process is alive) and the demo must exit 2.
    (
        ulimit -v 1200000
        "$demo" --threads=2 --seed=42 --total=2G >"$tmp/out" 2>"$tmp/err"
    )
    rc=$?
    show
    check "exit 2" test "$rc" -eq 2
    check "stderr: ERROR: allocation failed ... got NULL" \
        grep -q '^ERROR: allocation failed: thread [0-9]* (node 0) got NULL for [0-9]* bytes' \
        "$tmp/err"
    check "no report on stdout" test ! -s "$tmp/out"
    ;;
help)
    run --help
    check "exit 0" test "$rc" -eq 0
    check "usage on stdout" grep -q '^Usage: numa_alloc_demo' "$tmp/out"
    check "exit codes documented" grep -q '3 placement verification failure' "$tmp/out"
    check "exit 4 documented" grep -q '4 placement not verified' "$tmp/out"
    ;;
*)
    echo "unknown case $case" >&2
    exit 2
    ;;
esac
exit $fail
