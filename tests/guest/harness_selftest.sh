#!/usr/bin/env bash
# tests/guest/harness_selftest.sh - runs on the HOST: checks guest-run itself.
#
#   harness_selftest.sh status    `-- true` exits 0, `-- false` exits 1; stdout, stderr,
#                                 the exit status (42) and the working directory come back
#   harness_selftest.sh timeout   a command that hangs is killed at --timeout: exit 124,
#                                 a clear message, in time
#   harness_selftest.sh signal    guest-run killed by SIGTERM stops QEMU and removes its
#                                 temp dir
#   harness_selftest.sh boot-hang a guest that never starts the command (QEMU held
#                                 stopped with -S) is booted once more, then exits 124
# Every case also checks that no QEMU process and no temp dir is left behind.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
guest_run=$here/guest-run
case=${1:?usage: harness_selftest.sh status|timeout|signal|boot-hang}

# guest-run's temp dirs go to a private TMPDIR, so that leftovers (and the QEMU
# processes, whose command lines name them) are easy to find.
priv=$(mktemp -d "${TMPDIR:-/tmp}/guest-harness-test.XXXXXX")
out=$priv/out
err=$priv/err
trap 'rm -rf "$priv"' EXIT

failed=0
pass() { echo "PASS: $*"; }
fail() {
    echo "FAIL: $*"
    failed=1
}
show() {
    echo "---- stdout:"
    cat "$out"
    echo "---- stderr:"
    cat "$err"
    echo "----"
}
# gr ARGS...: runs guest-run with TMPDIR=$priv/t; sets rc and secs.
gr() {
    mkdir -p "$priv/t"
    local t0=$SECONDS
    TMPDIR=$priv/t "$guest_run" "$@" >"$out" 2>"$err"
    rc=$?
    secs=$((SECONDS - t0))
    echo "guest-run $*: exit $rc after ${secs}s"
}
no_leftovers() {
    local left
    left=$(find "$priv/t" -mindepth 1 -maxdepth 1 2>/dev/null)
    if [[ -z $left ]]; then
        pass "no temp dir left"
    else
        fail "temp dirs left behind: $left"
    fi
    # pgrep only looks; nothing is killed here.
    if pgrep -f -- "$priv/t/" >/dev/null; then
        fail "QEMU still running: $(pgrep -a -f -- "$priv/t/")"
    else
        pass "no QEMU process left"
    fi
}

case $case in
status)
    gr --timeout=240 -- true
    ((rc == 0)) && pass "'true' exits 0" || {
        fail "'true' exited $rc"
        show
    }
    gr --timeout=240 -- false
    ((rc == 1)) && pass "'false' exits 1" || {
        fail "'false' exited $rc"
        show
    }
    cwd=$(pwd -P)
    gr --timeout=240 -- 'echo "to stdout"; echo "to stderr" >&2; echo "cwd=$(pwd)"; exit 42'
    ((rc == 42)) && pass "'exit 42' exits 42" || fail "'exit 42' exited $rc"
    grep -qx 'to stdout' "$out" && pass "stdout comes back" || fail "stdout lost"
    grep -qx 'to stderr' "$err" && pass "stderr comes back" || fail "stderr lost"
    grep -q 'to stderr' "$out" && fail "stderr mixed into stdout"
    grep -qx "cwd=$cwd" "$out" && pass "same working directory ($cwd)" || fail "wrong working directory"
    ((failed)) && show
    no_leftovers
    ;;
timeout)
    gr --timeout=30 -- 'echo started; sleep 1000'
    ((rc == 124)) && pass "a hanging command: exit 124" || fail "a hanging command exited $rc, not 124"
    grep -q 'TIMEOUT' "$err" && pass "timeout message" || fail "no TIMEOUT message"
    grep -qx 'started' "$out" && pass "output before the hang comes back" || fail "output before the hang lost"
    ((secs <= 30 + 10)) && pass "stopped in time (${secs}s for --timeout=30)" ||
        fail "took ${secs}s for --timeout=30"
    ((failed)) && show
    no_leftovers
    ;;
boot-hang)
    NUMA_ALLOC_GUEST_QEMU_ARGS=-S gr --timeout=8 -- 'echo never'
    ((rc == 124)) && pass "a guest that never boots: exit 124" || fail "a hung boot exited $rc, not 124"
    grep -q 'booting it once more' "$err" && pass "the hung boot is tried once more" ||
        fail "no second boot after a hung one"
    ((secs >= 15 && secs <= 16 + 10)) && pass "two boots of --timeout=8 (${secs}s)" ||
        fail "took ${secs}s for two boots of --timeout=8"
    ((failed)) && show
    no_leftovers
    ;;
signal)
    mkdir -p "$priv/t"
    TMPDIR=$priv/t "$guest_run" --timeout=300 -- 'sleep 1000' >"$out" 2>"$err" &
    pid=$!
    # Wait until QEMU runs, then stop guest-run as ctest or a user would.
    for _ in $(seq 1 100); do
        pgrep -f -- "$priv/t/" >/dev/null && break
        sleep 0.2
    done
    pgrep -f -- "$priv/t/" >/dev/null && pass "QEMU started" || fail "QEMU never started"
    sleep 2
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    ((rc == 143)) && pass "SIGTERM: guest-run exits 143" || fail "SIGTERM: guest-run exited $rc"
    sleep 1
    ((failed)) && show
    no_leftovers
    ;;
*)
    echo "usage: harness_selftest.sh status|timeout|signal" >&2
    exit 2
    ;;
esac

if ((failed)); then
    echo "harness_selftest $case: FAILED"
    exit 1
fi
echo "harness_selftest $case: all checks passed"
